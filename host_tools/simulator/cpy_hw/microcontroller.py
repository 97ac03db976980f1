# Stands for CircuitPython's `microcontroller` module: Pin, ResetReason,
# cpu.reset_reason (UNKNOWN here: the simulator can't tell, as MicroPython's
# unix port can't), and reset(), which ends the process with the code the
# simulator restarts on.
import os
import sys

RESET_EXIT = 97  # host_tools/simulator/token.py power-cycles a process ending so


class Pin:
    """A microcontroller pin; `number` is the GPIO the bus's pin op names."""

    def __init__(self, number):
        self.number = number

    def __repr__(self):
        return "board.GP%d" % self.number

    def __eq__(self, other):
        return isinstance(other, Pin) and other.number == self.number

    def __hash__(self):
        return hash(self.number)


class _Pins:
    pass


class ResetReason:
    pass


for _name in ("POWER_ON", "BROWNOUT", "SOFTWARE", "DEEP_SLEEP_ALARM", "RESET_PIN", "WATCHDOG",
              "UNKNOWN", "RESCUE_DEBUG"):
    setattr(ResetReason, _name, "microcontroller.ResetReason." + _name)


class Processor:
    def __init__(self):
        self.reset_reason = ResetReason.UNKNOWN


cpu = Processor()
pin = _Pins()
for _n in range(30):
    setattr(pin, "GPIO%d" % _n, Pin(_n))


def reset():
    """A hard reset: nothing after this line runs, as on the chip."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    os._exit(RESET_EXIT)
