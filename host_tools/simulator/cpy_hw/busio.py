# Stands for CircuitPython's `busio` module: I2C only, with its real
# signature, each transaction sent to the simulator's bus server.
import sys

import _simwire

_MAX = sys.maxsize
_ENODEV = 19  # what CircuitPython raises when no device acks


def _readable_length(view):
    if not len(view):
        raise ValueError("Buffer must be at least length 1")  # as CircuitPython's
    return view


class I2C:
    def __init__(self, scl, sda, *, frequency=100000, timeout=255):
        if scl == sda:
            raise ValueError("SCL and SDA are the same pin")
        self.scl = scl
        self.sda = sda
        self.frequency = frequency
        self.timeout = timeout
        self._locked = False
        self._deinited = False
        _simwire._connect()

    # -- life cycle -------------------------------------------------------
    def deinit(self):
        self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    # -- the lock every transaction needs ------------------------------------
    def try_lock(self):
        self._check()
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def _check(self):
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used.")

    def _check_lock(self):
        self._check()
        if not self._locked:
            raise RuntimeError("Function requires lock")

    # -- transactions -----------------------------------------------------
    def probe(self, address):
        self._check_lock()
        return _simwire.transact(_simwire.OP_WRITE, address)

    def scan(self):
        self._check_lock()
        return [a for a in range(0x08, 0x78) if _simwire.transact(_simwire.OP_WRITE, a)]

    def writeto(self, address, buffer, *, start=0, end=_MAX):
        self._check_lock()
        data = memoryview(buffer).cast("B")[start:end]
        if not _simwire.transact(_simwire.OP_WRITE, address, data):
            raise OSError(_ENODEV, "No device at 0x%02x" % address)

    def readfrom_into(self, address, buffer, *, start=0, end=_MAX):
        self._check_lock()
        view = _readable_length(memoryview(buffer).cast("B")[start:end])
        if not _simwire.transact(_simwire.OP_READ, address, nread=len(view), into=view):
            raise OSError(_ENODEV, "No device at 0x%02x" % address)

    def writeto_then_readfrom(self, address, out_buffer, in_buffer, *, out_start=0,
                              out_end=_MAX, in_start=0, in_end=_MAX):
        self._check_lock()
        out = memoryview(out_buffer).cast("B")[out_start:out_end]
        view = _readable_length(memoryview(in_buffer).cast("B")[in_start:in_end])
        if len(out) == 1:
            # A register read: one bus message, repeated start, as on the wire.
            ok = _simwire.transact(_simwire.OP_READ_MEM, address, out, len(view), view)
        else:
            ok = (_simwire.transact(_simwire.OP_WRITE, address, out)
                  and _simwire.transact(_simwire.OP_READ, address, nread=len(view), into=view))
        if not ok:
            raise OSError(_ENODEV, "No device at 0x%02x" % address)


class SPI:
    """Named for the drivers' annotations; the token has no SPI parts."""

    def __init__(self, clock, MOSI=None, MISO=None, half_duplex=False):
        raise NotImplementedError("the simulated board has no SPI devices")
