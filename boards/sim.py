# The simulated board (MicroPython unix port): data only, like the real
# boards' files. The firmware is given host_tools/simulator/mp_hw/simboard.py,
# which takes these values and replaces the hardware below the hal with
# the simulator's device models (an I2C bus, the button, the keyboard over a
# socket; flash as a littlefs image in a file). The simulator
# (host_tools/simulator) sets the TOKEN_SIM_* values.
import os

NAME = "sim"
DESCRIPTION = "Simulated token (MicroPython unix port)"
_size = (os.getenv("TOKEN_SIM_DISPLAY") or "128x64").split("x")
DISPLAY_WIDTH = int(_size[0])
DISPLAY_HEIGHT = int(_size[1])
DISPLAY_ADDR = 0x3C
RTC_ADDR = 0x68
I2C_FREQ = 400_000
BUTTON_PIN = 15
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = int(os.getenv("TOKEN_SIM_IDLE_S") or "60")
CAPACITY = int(os.getenv("TOKEN_SIM_CAPACITY") or "1000")
DATA_DIR = "/flash/data"
FLASH_BLOCK = 4096
FLASH_BLOCKS = int(os.getenv("TOKEN_SIM_FLASH_BLOCKS") or "352")  # 1.4 MB, as on a Pico
CHECK_REFRESH_ALLOC = os.getenv("TOKEN_SIM_CHECK_ALLOC") == "1"
HAS_KEYBOARD = os.getenv("TOKEN_SIM_KEYBOARD") != "0"  # "0": a board without native USB

# Factory reset at power-up (firmware/bootmodes/factory.py): tests shorten the waits.
RESET_HOLD_S = int(os.getenv("TOKEN_SIM_RESET_HOLD_S") or "10")
RESET_CONFIRM_S = int(os.getenv("TOKEN_SIM_RESET_CONFIRM_S") or "10")
