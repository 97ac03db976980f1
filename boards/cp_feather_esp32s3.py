# Adafruit Feather ESP32-S3 (4 MB flash, 2 MB PSRAM) with CircuitPython
# Wiring: OLED and DS3231 on SDA (GPIO3) and SCL (GPIO4), or on the STEMMA QT
# connector (the same bus, its supply switched by I2C_POWER, GPIO7), 3V and
# GND; the button connects D5 (GPIO5) to GND (internal pull-up).
RUNTIME = "circuitpython"
NAME = "cp_feather_esp32s3"
DESCRIPTION = "Adafruit Feather ESP32-S3, CircuitPython"
SDA = "SDA"
SCL = "SCL"
I2C_POWER = "I2C_POWER"  # driven high before the bus starts
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64
DISPLAY_ADDR = 0x3C
RTC_ADDR = 0x68
BUTTON_PIN = "D5"
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30
DATA_DIR = "/data"
LABEL_SDA = "SDA (GPIO3)"
LABEL_SCL = "SCL (GPIO4)"
LABEL_BUTTON = "D5 (GPIO5)"
LABEL_3V3 = "3V"
LABEL_GND = "GND"
