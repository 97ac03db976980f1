# Seeed Studio XIAO ESP32-C3
# Wiring: OLED and DS3231 share the I2C bus (3V3, GND, SDA D4 / GPIO6, SCL D5 / GPIO7);
# the button connects D1 / GPIO3 to GND (internal pull-up).
NAME = "xiao_esp32c3"
DESCRIPTION = "Seeed Studio XIAO ESP32-C3"
I2C_ID = 0
SDA = 6
SCL = 7
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = 3
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30  # screen off after this long without a press
DATA_DIR = "/data"
# USB device controller on the chip: the token can also be a keyboard (typing codes).
NATIVE_USB = False
# Header labels for the wiring picture (host_tools/wiring.py, docs/wiring/);
# the firmware does not use them.
LABEL_SDA = "D4 / GPIO6"
LABEL_SCL = "D5 / GPIO7"
LABEL_BUTTON = "D1 / GPIO3"
LABEL_3V3 = "3V3"
LABEL_GND = "GND"
