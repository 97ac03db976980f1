# The key area: the token's whole lock state (PIN salt and verifier, the
# wrapped data key, the table of bucket keys, the retry counter, the flags)
# in one page of PAGE bytes, kept in two flash pages that are erased in place
# (keypages.py). keystore.py says what the bytes mean; this module only keeps
# them safe across power cuts and makes sure an old state leaves the chip:
#
#   commit   the new state is programmed into the blank page, then the page
#            with the old state is erased. So one copy of the state exists,
#            except between those two steps.
#   load     both pages are read; a page counts when its magic and check
#            hold, and of two the higher sequence number wins. An older
#            valid page (a commit cut short after the program) is erased
#            now, which finishes that commit; a page that is neither valid
#            nor blank (cut mid-program or mid-erase) is erased too.
#
# Power cut during the program of the new page: its check fails, the old
# state stands. After the program, before or during the erase of the old:
# the new one wins at the next load, which erases the old. No order of
# events leaves neither.
#
# Page: 0 b"TKKA"  4 format  8 sequence u32 (big-endian)  ...
#       PAGE-4 check: sha256(bytes before it)[:4]
from digests import sha256

from keypages import ERASED, PAGE

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAGIC = b"TKKA"
FORMAT = const(1)
_SEQ = const(8)
_CHECK = const(4092)  # PAGE - 4
_BLANK = const(0)
_VALID = const(1)
_OTHER = const(2)


def _check(buf):
    return sha256(memoryview(buf)[:_CHECK]).digest()[:4]


def _seq(buf):
    return buf[_SEQ] << 24 | buf[_SEQ + 1] << 16 | buf[_SEQ + 2] << 8 | buf[_SEQ + 3]


def _state(buf):
    if buf[:4] == MAGIC and buf[4] == FORMAT and buf[_CHECK:] == _check(buf):
        return _VALID
    n = len(ERASED)
    for i in range(0, PAGE, n):  # blank is all 0xFF; piece by piece, no 4 KB allocation
        if buf[i:i + n] != ERASED:
            return _OTHER
    return _BLANK


class KeyArea:
    def __init__(self, pages):
        self.pages = pages
        self.buf = bytearray(PAGE)  # the current state's bytes
        self.seq = 0
        self._at = -1  # which page holds the current state
        self._blank = [False, False]

    def load(self):
        """True when a state was found (it is in self.buf)."""
        other = bytearray(PAGE)
        states = []
        for i in (0, 1):
            b = self.buf if i == 0 else other
            self.pages[i].read_into(b)
            states.append(_state(b))
        self._at = -1
        if states[0] == _VALID and (states[1] != _VALID or _seq(self.buf) > _seq(other)):
            self._at = 0
        elif states[1] == _VALID:
            self._at = 1
            self.buf[:] = other
        for i in (0, 1):
            self._blank[i] = states[i] == _BLANK
            if i != self._at and not self._blank[i]:
                self._wipe(i)  # an older state, or a cut-short write
        for i in range(PAGE):
            other[i] = 0  # (it may have held an older state)
        if self._at < 0:
            for i in range(PAGE):
                self.buf[i] = 0  # (no state: the caller makes one from scratch)
            return False
        self.seq = _seq(self.buf)
        return True

    def _wipe(self, i):
        self.pages[i].erase()
        self._blank[i] = True

    def commit(self):
        """Make self.buf (its magic, format, sequence and check filled in
        here) the state on flash, and erase the one before it."""
        b = self.buf
        b[:4] = MAGIC
        b[4] = FORMAT
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        s = self.seq
        b[_SEQ] = s >> 24
        b[_SEQ + 1] = (s >> 16) & 0xFF
        b[_SEQ + 2] = (s >> 8) & 0xFF
        b[_SEQ + 3] = s & 0xFF
        b[_CHECK:] = _check(b)
        old = self._at
        new = 1 if old == 0 else 0
        if not self._blank[new]:
            self._wipe(new)
        self._blank[new] = False
        self.pages[new].program(b)
        self._at = new
        if old >= 0:
            self._wipe(old)

    def destroy(self):
        """Both pages erased: every key is gone (the factory reset)."""
        for i in (0, 1):
            self._wipe(i)
        self._at = -1
        for i in range(PAGE):
            self.buf[i] = 0
