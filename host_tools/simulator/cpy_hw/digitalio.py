# Stands for CircuitPython's `digitalio` module: inputs read the pin over the
# simulator's bus (only the button is wired there); outputs keep their level.
import _simwire


class Direction:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class DriveMode:
    PUSH_PULL = "PUSH_PULL"
    OPEN_DRAIN = "OPEN_DRAIN"


class DigitalInOut:
    def __init__(self, pin):
        self.pin = pin
        self._direction = Direction.INPUT
        self.pull = None
        self.drive_mode = DriveMode.PUSH_PULL
        self._out = False
        self._deinited = False

    def deinit(self):
        self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        self._direction = Direction.OUTPUT
        self.drive_mode = drive_mode
        self.pull = None
        self._out = bool(value)

    def switch_to_input(self, pull=None):
        self._direction = Direction.INPUT
        self.pull = pull

    @property
    def direction(self):
        return self._direction

    @direction.setter
    def direction(self, value):
        if value == Direction.OUTPUT:
            self.switch_to_output()
        else:
            self.switch_to_input()

    @property
    def value(self):
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used.")
        if self._direction == Direction.OUTPUT:
            return self._out
        return _simwire.read_pin(self.pin.number)

    @value.setter
    def value(self, v):
        if self._direction != Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")
        self._out = bool(v)
