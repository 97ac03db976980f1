# Adafruit QT Py RP2040 with CircuitPython
# Wiring: OLED and DS3231 on the SDA (GPIO24) and SCL (GPIO25) pads, 3V and
# GND; the button connects A3 (GPIO26) to GND (internal pull-up). The BOOT
# button (board.BUTTON) is no use here: held at plug-in it starts the UF2
# bootloader. The STEMMA QT connector is a second bus (SDA1/SCL1): modules
# on it need SDA = "SDA1", SCL = "SCL1".
RUNTIME = "circuitpython"
NAME = "cp_qtpy_rp2040"
DESCRIPTION = "Adafruit QT Py RP2040, CircuitPython"
SDA = "SDA"
SCL = "SCL"
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = "A3"
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30
DATA_DIR = "/data"
LABEL_SDA = "SDA (GPIO24)"
LABEL_SCL = "SCL (GPIO25)"
LABEL_BUTTON = "A3 (GPIO26)"
LABEL_3V3 = "3V"
LABEL_GND = "GND"
