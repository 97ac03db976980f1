# Espressif ESP32-S3-DevKitC-1
# Wiring: OLED and DS3231 share the I2C bus (3V3, GND, SDA GPIO8, SCL GPIO9);
# the button connects GPIO4 to GND (internal pull-up).
NAME = "esp32s3_devkitc"
DESCRIPTION = "Espressif ESP32-S3-DevKitC-1"
I2C_ID = 0
SDA = 8
SCL = 9
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = 4
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30  # screen off after this long without a press
DATA_DIR = "/data"
# USB device controller on the chip: the token can also be a keyboard (typing codes).
NATIVE_USB = True
# Header labels for the wiring picture (host_tools/wiring.py, docs/wiring/);
# the firmware does not use them.
LABEL_SDA = "GPIO8"
LABEL_SCL = "GPIO9"
LABEL_BUTTON = "GPIO4"
LABEL_3V3 = "3V3"
LABEL_GND = "GND"
