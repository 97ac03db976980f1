# Raspberry Pi Pico 2 (RP2350)
# Wiring: OLED and DS3231 share the I2C bus (3V3, GND, SDA GP4 (pin 6), SCL GP5 (pin 7));
# the button connects GP15 (pin 20) to GND (internal pull-up).
NAME = "rpi_pico2"
DESCRIPTION = "Raspberry Pi Pico 2 (RP2350)"
I2C_ID = 0
SDA = 4
SCL = 5
I2C_FREQ = 400_000
DISPLAY_WIDTH = 128
DISPLAY_HEIGHT = 64  # 32 for the 0.91" modules
DISPLAY_ADDR = 0x3C  # some modules are strapped to 0x3D
RTC_ADDR = 0x68
BUTTON_PIN = 15
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = 30  # screen off after this long without a press
DATA_DIR = "/data"
# USB device controller on the chip: the token can also be a keyboard (typing codes).
NATIVE_USB = True
# Header labels for the wiring picture (host_tools/wiring.py, docs/wiring/);
# the firmware does not use them.
LABEL_SDA = "GP4 (pin 6)"
LABEL_SCL = "GP5 (pin 7)"
LABEL_BUTTON = "GP15 (pin 20)"
LABEL_3V3 = "3V3(OUT) (pin 36)"
LABEL_GND = "GND (pin 38)"
