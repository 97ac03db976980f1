"""The token without hardware: the unmodified firmware on the MicroPython unix
port, with register-level SSD1306/DS3231 models, a littlefs flash image and
a pseudo-terminal as its USB serial port. See token.py for the API."""
from host_tools.simulator.token import SimulatedToken, SimulatorError

__all__ = ["SimulatedToken", "SimulatorError"]
