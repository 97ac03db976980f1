# PIN entry with one button. Pure logic; the screen draws what it says.
#
# Each position shows a choice: 0, or _ (done) once PIN_MIN digits are in.
# Hold the button: at the long-press time the choice is held, and from then
# on it counts up every STEP_MS while the button stays down:
#     0 1 2 ... 9 0 ...          (from _ :  _ 0 1 ... 9 _ ...)
# Let go: the choice shown is taken. A digit is accepted (shown as * from
# then on) and the next position starts; _ checks the PIN.
# A short press undoes the last accepted digit (a correction).
# So a digit is one hold, and the PIN is never longer than PIN_MAX nor
# checked shorter than PIN_MIN: the choices never offer it.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from rules import PIN_MAX, PIN_MIN

BLANK = const(-1)
# How long each choice stays up while held: long enough to let go on the
# one wanted after seeing it (a person reacts in about 0.25 s).
STEP_MS = const(400)

# What letting go did.
NOTHING = const(0)
ACCEPTED = const(1)
SUBMIT = const(2)


def taking(c):
    """What the screen says while a hold would take choice `c` on letting go."""
    return "let go: unlock" if c == BLANK else "let go: take %d" % c


class PinPad:
    def __init__(self):
        self._digits = bytearray(PIN_MAX)
        self.n = 0
        self.current = 0
        self.held = False  # a hold has the choice: letting go takes it

    def clear(self):
        for i in range(PIN_MAX):
            self._digits[i] = 0
        self.n = 0
        self.held = False
        self._first()

    def _first(self):
        self.current = BLANK if self.n >= PIN_MIN else 0

    def hold(self):
        """The button was held for the long-press time."""
        self.held = True

    def step(self):
        """Held on for another STEP_MS: the next choice. True if it changed."""
        if not self.held:
            return False
        c = self.current
        if c == BLANK:
            c = BLANK if self.n >= PIN_MAX else 0
        elif c == 9:
            c = BLANK if self.n >= PIN_MIN else 0
        else:
            c += 1
        changed = c != self.current
        self.current = c
        return changed

    def release(self):
        """Let go after a hold: take the choice (ACCEPTED or SUBMIT)."""
        if not self.held:
            return NOTHING
        self.held = False
        c = self.current
        if c == BLANK:
            return SUBMIT  # (offered only from PIN_MIN digits on)
        self._digits[self.n] = 0x30 + c
        self.n += 1
        self._first()
        return ACCEPTED

    def undo(self):
        """A short press: drop the last accepted digit. True if there was one."""
        self.held = False
        if not self.n:
            return False
        self.n -= 1
        self._digits[self.n] = 0
        self._first()
        return True

    def pin(self):
        """The digits entered, as text (then clear() them)."""
        return bytes(self._digits[:self.n]).decode()

    def shown(self, width):
        """The entry line: accepted digits masked, the current choice last,
        cut from the left to `width` characters."""
        c = self.current
        s = "*" * self.n + ("_" if c == BLANK else chr(0x30 + c))
        if len(s) > width:
            s = "~" + s[len(s) - width + 1:]
        return s

    def guide(self):
        """The line above the hint (when no note takes it)."""
        return "press: undo" if self.n else "%d-%d digits" % (PIN_MIN, PIN_MAX)

    def hint(self):
        """The last line: what holding, or letting go now, does."""
        if self.held:
            return taking(self.current)
        return "hold: unlock" if self.current == BLANK else "hold: count up"
