# The simulated board for the CircuitPython runtime: the same firmware under
# CPython (host_tools/simulator/cpy_launch.py), with CPython stand-ins for
# CircuitPython's platform modules (host_tools/simulator/cpy_hw) sending I2C
# and button reads to the simulator's device models. Data only, like the
# real boards' files; the simulator sets the TOKEN_SIM_* values.
import os

RUNTIME = "circuitpython"
SIMULATED = True  # no header to wire: host_tools/wiring.py draws no picture
NAME = "cp_sim"
DESCRIPTION = "Simulated token (CircuitPython runtime under CPython)"
_size = (os.getenv("TOKEN_SIM_DISPLAY") or "128x64").split("x")
DISPLAY_WIDTH = int(_size[0])
DISPLAY_HEIGHT = int(_size[1])
DISPLAY_ADDR = 0x3C
RTC_ADDR = 0x68
I2C_FREQ = 400_000
SDA = "SDA"  # cpy_hw/board.py: a Pico's GP4/GP5
SCL = "SCL"
BUTTON_PIN = "BUTTON"  # the pin the host's button drives
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = int(os.getenv("TOKEN_SIM_IDLE_S") or "60")
CAPACITY = int(os.getenv("TOKEN_SIM_CAPACITY") or "1000")
# A host directory stands for the CIRCUITPY drive's data folder.
DATA_DIR = os.path.abspath(os.getenv("TOKEN_SIM_DATA") or "data")
FONT_FILE = os.getenv("TOKEN_SIM_FONT") or "font8x8.bin"
CHECK_REFRESH_ALLOC = os.getenv("TOKEN_SIM_CHECK_ALLOC") == "1"
RESET_HOLD_S = int(os.getenv("TOKEN_SIM_RESET_HOLD_S") or "10")
RESET_CONFIRM_S = int(os.getenv("TOKEN_SIM_RESET_CONFIRM_S") or "10")
