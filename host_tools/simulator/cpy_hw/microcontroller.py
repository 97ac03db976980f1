# Stands for CircuitPython's `microcontroller` module: Pin, ResetReason,
# cpu.reset_reason (UNKNOWN here: the simulator can't tell, as MicroPython's
# unix port can't), cpu.uid (from $TOKEN_SIM_UID), reset(), which ends the
# process with the code the simulator restarts on, and nvm (a ByteArray in
# the file $TOKEN_SIM_NVM, which cpy_launch.environment() sets; without it
# there is no nvm, as on a port that has none).
import os
import sys


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
        # The chip's unique id: the simulator keeps one per data dir, beside
        # the drive ($TOKEN_SIM_UID, hex), so a wipe leaves it as a chip's.
        uid = os.getenv("TOKEN_SIM_UID")
        self.uid = bytearray.fromhex(uid) if uid else None


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
    import _simwire  # on the simulated board's path (cpy_launch.py)
    os._exit(_simwire.wirecodes.RESET_EXIT)  # the simulator starts the process again


NVM_SIZE = 4096  # RP2040: one flash sector of its own, outside CIRCUITPY


def _flash_notice():
    import _simwire  # on the simulated board's path (cpy_launch.py)
    _simwire.flash_notice()


class ByteArray:
    """microcontroller.nvm: `size` bytes of flash, blank 0xFF. Reads index
    and slice (an int, a bytearray); a write (nvm[i] = v, or nvm[a:b] = data
    of exactly b - a bytes, step 1) erases the sector and programs it again,
    so once it has completed the old contents are gone from the chip. Each
    write is announced first (notice(): the simulator may cut power there,
    and then it never lands) and reaches the file whole (a new file renamed
    over it), as the sector is seen after the write or not at all."""

    def __init__(self, path, notice=_flash_notice, size=NVM_SIZE):
        self._path = os.path.abspath(path)
        self._notice = notice
        self._size = size
        self._mem = None

    def _load(self):
        if self._mem is None:
            mem = bytearray(b"\xff" * self._size)
            try:
                with open(self._path, "rb") as f:
                    got = f.read(self._size)
                mem[:len(got)] = got
            except FileNotFoundError:
                pass
            self._mem = mem
        return self._mem

    def __len__(self):
        return self._size

    def _span(self, key):
        start, stop, step = key.indices(self._size)
        if step != 1:
            raise NotImplementedError("only slices with step=1 (aka None) are supported")
        return start, max(start, stop)

    def __getitem__(self, key):
        mem = self._load()
        if isinstance(key, slice):
            start, stop = self._span(key)
            return bytearray(mem[start:stop])
        return mem[self._index(key)]

    def _index(self, key):
        i = key.__index__()
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError("index out of range")
        return i

    def __setitem__(self, key, value):
        mem = self._load()
        if isinstance(key, slice):
            start, stop = self._span(key)
            data = bytes(memoryview(value).cast("B"))
            if len(data) != stop - start:
                raise ValueError("Slice and value different lengths.")
        else:
            start = self._index(key)
            if not 0 <= value <= 255:
                raise ValueError("Array values should be single bytes.")
            data = bytes((value,))
            stop = start + 1
        self._notice()  # a power cut here: nothing of this write lands
        new = bytearray(mem)
        new[start:stop] = data
        tmp = self._path + ".new"
        with open(tmp, "wb") as f:
            f.write(new)
        os.replace(tmp, self._path)
        self._mem = new

    def __delitem__(self, key):
        raise TypeError("'ByteArray' object doesn't support item deletion")


if os.getenv("TOKEN_SIM_NVM"):
    nvm = ByteArray(os.getenv("TOKEN_SIM_NVM"))
