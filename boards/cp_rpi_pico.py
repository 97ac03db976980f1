# Raspberry Pi Pico (RP2040) with CircuitPython
# Wiring as for MicroPython (boards/rpi_pico.py): OLED and DS3231 share the
# I2C bus (3V3, GND, SDA GP4 (pin 6), SCL GP5 (pin 7)); the button connects
# GP15 (pin 20) to GND (internal pull-up). Pins are `board.*` names.
RUNTIME = "circuitpython"
NAME = "cp_rpi_pico"
DESCRIPTION = "Raspberry Pi Pico (RP2040), CircuitPython"
SDA = "GP4"
SCL = "GP5"
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = "GP15"
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30  # screen off after this long without a press
DATA_DIR = "/data"  # on the CIRCUITPY drive, which boot.py hides from the host
# Header labels for the wiring picture (host_tools/wiring.py).
LABEL_SDA = "GP4 (pin 6)"
LABEL_SCL = "GP5 (pin 7)"
LABEL_BUTTON = "GP15 (pin 20)"
LABEL_3V3 = "3V3(OUT) (pin 36)"
LABEL_GND = "GND (pin 38)"
