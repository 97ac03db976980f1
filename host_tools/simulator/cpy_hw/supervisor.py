# Stands for CircuitPython's `supervisor` module: ticks_ms() wrapping at
# 2**29 from the same start as CircuitPython's (0x1FFF0000: the first wrap comes
# about 65 s after power-on, so every long run crosses it), and `runtime`.
import os
import time

_PERIOD = 1 << 29
# As shared-bindings/supervisor ticks_ms(); a test may start elsewhere.
_START = int(os.getenv("TOKEN_SIM_TICKS_START") or 0x1FFF0000)
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
