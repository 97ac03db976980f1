# Stands for circuitpython_typing.device_drivers: annotation names only.
from typing import Any

I2CDeviceDriver = Any
