# Adafruit Feather RP2040 with CircuitPython
# Wiring: OLED and DS3231 on SDA (GPIO2) and SCL (GPIO3), or on the STEMMA QT
# connector (the same bus), 3V and GND; the button connects D5 (GPIO7) to
# GND (internal pull-up).
RUNTIME = "circuitpython"
NAME = "cp_feather_rp2040"
DESCRIPTION = "Adafruit Feather RP2040, CircuitPython"
SDA = "SDA"
SCL = "SCL"
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" FeatherWing-style modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = "D5"
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30
DATA_DIR = "/data"
LABEL_SDA = "SDA (GPIO2)"
LABEL_SCL = "SCL (GPIO3)"
LABEL_BUTTON = "D5 (GPIO7)"
LABEL_3V3 = "3V"
LABEL_GND = "GND"
