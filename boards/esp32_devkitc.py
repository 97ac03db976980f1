# Espressif ESP32-DevKitC (ESP32-WROOM-32)
# Wiring: OLED and DS3231 share the I2C bus (3V3, GND, SDA GPIO21, SCL GPIO22);
# the button connects GPIO27 to GND (internal pull-up).
NAME = "esp32_devkitc"
DESCRIPTION = "Espressif ESP32-DevKitC (ESP32-WROOM-32)"
I2C_ID = 0
SDA = 21
SCL = 22
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = 27
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30  # screen off after this long without a press
DATA_DIR = "/data"
# USB device controller on the chip: the token can also be a keyboard (typing codes).
NATIVE_USB = False
# Header labels for the wiring picture (host_tools/wiring.py, docs/wiring/);
# the firmware does not use them.
LABEL_SDA = "GPIO21"
LABEL_SCL = "GPIO22"
LABEL_BUTTON = "GPIO27"
LABEL_3V3 = "3V3"
LABEL_GND = "GND"
