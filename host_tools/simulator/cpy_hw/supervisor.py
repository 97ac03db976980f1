# Stands for CircuitPython's `supervisor` module: ticks_ms() wrapping at
# 2**29 and starting a minute before the wrap, as CircuitPython's does (so
# every run crosses the wrap), and the `runtime` object.
import time

_PERIOD = 1 << 29
_START = _PERIOD - 60_000
_t0 = time.monotonic_ns() // 1_000_000


def ticks_ms():
    return (_START + time.monotonic_ns() // 1_000_000 - _t0) % _PERIOD


class _Runtime:
    serial_connected = True
    usb_connected = True
    autoreload = True

    @property
    def serial_bytes_available(self):
        return 0


runtime = _Runtime()


def reload():
    import microcontroller
    microcontroller.reset()
