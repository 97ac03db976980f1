# PIN entry with one button. Pure logic; the app draws what it says.
#
# Each position cycles on a short press:  _ 0 1 2 3 4 5 6 7 8 9 <  (then _)
# A long press acts on what is shown:
#     a digit  accept it (shown as * from then on) and go to the next position
#     <        delete the last accepted digit (a correction)
#     _        done: check the PIN (4-16 digits)
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

BLANK = const(-1)
DELETE = const(10)
MAX_DIGITS = const(16)
MIN_DIGITS = const(4)

# What a long press did.
ACCEPTED = const(1)
DELETED = const(2)
SUBMIT = const(3)
TOO_SHORT = const(4)
FULL = const(5)
NOTHING = const(0)


class PinPad:
    def __init__(self):
        self._digits = bytearray(MAX_DIGITS)
        self.n = 0
        self.current = BLANK

    def clear(self):
        for i in range(MAX_DIGITS):
            self._digits[i] = 0
        self.n = 0
        self.current = BLANK

    def short(self):
        self.current = self.current + 1 if self.current < DELETE else BLANK

    def long(self):
        c = self.current
        if c == DELETE:
            if not self.n:
                self.current = BLANK
                return NOTHING
            self.n -= 1
            self._digits[self.n] = 0
            self.current = BLANK
            return DELETED
        if c == BLANK:
            return SUBMIT if self.n >= MIN_DIGITS else TOO_SHORT
        if self.n >= MAX_DIGITS:
            return FULL
        self._digits[self.n] = 0x30 + c
        self.n += 1
        self.current = BLANK
        return ACCEPTED

    def pin(self):
        """The digits entered, as text (then clear() them)."""
        return bytes(self._digits[:self.n]).decode()

    def shown(self, width):
        """The entry line: accepted digits masked, the current choice last,
        cut from the left to `width` characters."""
        c = self.current
        last = "_" if c == BLANK else ("<" if c == DELETE else chr(0x30 + c))
        s = "*" * self.n + last
        if len(s) > width:
            s = "~" + s[len(s) - width + 1:]
        return s

    def hint(self):
        c = self.current
        if c == DELETE:
            return "hold: delete" if self.n else "hold: -"
        if c == BLANK:
            return "hold: unlock" if self.n >= MIN_DIGITS else "press: 0-9"
        return "hold: accept %d" % c
