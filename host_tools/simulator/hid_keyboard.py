"""The host end of the token's USB keyboard, for the simulator and the tests.

`HidKeyboardSink` is the USB boot keyboard as a host sees it: it takes 8-byte
input reports (modifier byte, reserved byte, six key slots) and holds the LED
output report the host sets, updated as a real host does when Num Lock or
Caps Lock is pressed. `decode()` turns the reports back into the text a host
with a given keyboard layout would receive.

The layout tables here are written from the host's side (which character a
key position gives, as printed on that country's keyboard and as Linux xkb
and Windows map it), on purpose apart from firmware/keyboard/keymap.py: a wrong cell
in the firmware's table shows up as wrong text, it is not mirrored.
"""
import threading
import time

SHIFT_BITS = 0x22  # left and right Shift in the modifier byte
LED_NUM_LOCK = 0x01
LED_CAPS_LOCK = 0x02
USAGE_ENTER = 0x28
USAGE_KP_ENTER = 0x58
USAGE_CAPS_LOCK = 0x39
USAGE_NUM_LOCK = 0x53
ERROR_ROLLOVER = 0x01

# Key positions by the US keycap they carry (the HID usage names).
_US_LETTER_ROWS = ("qwertyuiop", "asdfghjkl;", "zxcvbnm,")
_US_USAGE = {ch: 0x04 + i for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz")}
_US_USAGE.update({";": 0x33, ",": 0x36})
_DIGIT_ROW = list(range(0x1E, 0x28))  # the keys US calls 1 2 3 4 5 6 7 8 9 0

# Per layout: what the top row gives (unshifted, shifted), then the three
# letter rows, character by character over the US positions above.
LAYOUTS = {
    "us": ("1234567890", "!@#$%^&*()",
           ("qwertyuiop", "asdfghjkl;", "zxcvbnm,")),
    "uk": ("1234567890", '!"£$%^&*()',
           ("qwertyuiop", "asdfghjkl;", "zxcvbnm,")),
    "de": ("1234567890", '!"§$%&/()=',
           ("qwertzuiop", "asdfghjklö", "yxcvbnm,")),
    "fr": ("&é\"'(-è_çà", "1234567890",
           ("azertyuiop", "qsdfghjklm", "wxcvbn,;")),
    "be": ("&é\"'(§è!çà", "1234567890",
           ("azertyuiop", "qsdfghjklm", "wxcvbn,;")),
    "ch": ("1234567890", '+"*ç%&/()=',
           ("qwertzuiop", "asdfghjklö", "yxcvbnm,")),
    "es": ("1234567890", '!"·$%&/()=',
           ("qwertyuiop", "asdfghjklñ", "zxcvbnm,")),
    "it": ("1234567890", '!"£$%&/()=',
           ("qwertyuiop", "asdfghjklò", "zxcvbnm,")),
    "nordic": ("1234567890", '!"#¤%&/()=',
               ("qwertyuiop", "asdfghjklö", "zxcvbnm,")),
}
# Layouts whose top row is not digits unshifted: what Caps Lock does to it
# differs between hosts (Windows' French layout gives the digits), so text
# typed there with Caps Lock on is marked as unknowable.
_CAPS_VARIES_ON_TOP_ROW = ("fr", "be")

# The keypad: digits with Num Lock on, else the navigation keys printed under.
_KEYPAD = {0x59: ("1", "{End}"), 0x5A: ("2", "{Down}"), 0x5B: ("3", "{PgDn}"),
           0x5C: ("4", "{Left}"), 0x5D: ("5", "{KP5}"), 0x5E: ("6", "{Right}"),
           0x5F: ("7", "{Home}"), 0x60: ("8", "{Up}"), 0x61: ("9", "{PgUp}"),
           0x62: ("0", "{Ins}")}


def _tables(layout):
    """usage -> (unshifted, shifted) for the layout's digit row and letters."""
    try:
        plain, shifted, rows = LAYOUTS[layout]
    except KeyError:
        raise ValueError("unknown host layout %r (one of %s)" % (layout, ", ".join(LAYOUTS)))
    keys = {}
    for usage, a, b in zip(_DIGIT_ROW, plain, shifted):
        keys[usage] = (a, b, True)  # True: a top-row key
    for us_row, row in zip(_US_LETTER_ROWS, rows):
        assert len(us_row) == len(row), layout
        for us_ch, ch in zip(us_row, row):
            up = ch.upper() if ch.isalpha() else "{Shift+%s}" % ch
            keys[_US_USAGE[us_ch]] = (ch, up, False)
    return keys


def presses(prev, report):
    """The keys that go down in `report` (not held in `prev`)."""
    before = set(prev[2:8]) if prev else set()
    return [u for u in report[2:8] if u and u not in before]


def decode(reports, layout, leds=0):
    """The text a host with keyboard layout `layout` receives from these
    input reports, its lock LEDs starting as `leds`. Enter is "\\n"; a key
    that gives no character shows as {Name}."""
    keys = _tables(layout)
    num = bool(leds & LED_NUM_LOCK)
    caps = bool(leds & LED_CAPS_LOCK)
    out = []
    prev = None
    for r in reports:
        r = bytes(r)
        if len(r) != 8:
            raise ValueError("a boot keyboard report is 8 bytes, not %d" % len(r))
        mods = r[0]
        if ERROR_ROLLOVER in r[2:8]:
            out.append("{Rollover}")
            prev = r
            continue
        for u in presses(prev, r):
            if mods & ~SHIFT_BITS:
                out.append("{Mod%02x+%02x}" % (mods, u))
                continue
            shift = bool(mods & SHIFT_BITS)
            if u == USAGE_NUM_LOCK:
                num = not num
            elif u == USAGE_CAPS_LOCK:
                caps = not caps
            elif u in (USAGE_ENTER, USAGE_KP_ENTER):
                out.append("\n")
            elif u in _KEYPAD:
                digit, nav = _KEYPAD[u]
                if num and not shift:
                    out.append(digit)
                elif not num and not shift:
                    out.append(nav)
                else:  # Shift on the keypad: hosts disagree
                    out.append("{Shift+KP%s}" % digit)
            elif u in keys:
                plain, shifted, top_row = keys[u]
                if caps and top_row and layout in _CAPS_VARIES_ON_TOP_ROW:
                    out.append("{Caps+%s}" % (shifted if shift else plain))
                elif caps and plain.isalpha():
                    out.append(plain if shift else shifted)  # Caps Lock inverts Shift
                else:
                    out.append(shifted if shift else plain)
            else:
                out.append("{%02x}" % u)
        prev = r
    return "".join(out)


class HidKeyboardSink:
    """A USB host's view of the token's boot keyboard. receive(report) takes
    an input report, False when the endpoint is full (refuse > 0: that many
    reports are refused first, as a host that is slow to poll). `leds` is
    the LED output report the host last set; host_sets_leds=False is a host
    that never sends one for the lock keys."""

    def __init__(self, leds=0, host_sets_leds=True):
        self.lock = threading.Lock()
        self.leds = leds
        self.host_sets_leds = host_sets_leds
        self.reports = []
        self.times = []  # time.monotonic() of each report taken (make bench's typing speed)
        self.start_leds = leds  # the LEDs when the first report since clear() came
        self.refuse = 0
        self.refused = 0
        self.led_queries = 0

    def receive(self, report):
        report = bytes(report)
        if len(report) != 8:
            raise ValueError("a boot keyboard report is 8 bytes, not %d" % len(report))
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return False
            if not self.reports:
                self.start_leds = self.leds
            prev = self.reports[-1] if self.reports else None
            self.reports.append(report)
            self.times.append(time.monotonic())
            if self.host_sets_leds:
                for u in presses(prev, report):
                    if u == USAGE_NUM_LOCK:
                        self.leds ^= LED_NUM_LOCK
                    elif u == USAGE_CAPS_LOCK:
                        self.leds ^= LED_CAPS_LOCK
            return True

    def get_leds(self):
        with self.lock:
            self.led_queries += 1
            return self.leds

    def set_leds(self, leds):
        """The host's lock state changed (another keyboard, or set by a test)."""
        with self.lock:
            self.leds = leds
            if not self.reports:
                self.start_leds = leds

    def clear(self):
        with self.lock:
            self.reports = []
            self.times = []
            self.start_leds = self.leds

    def text(self, layout="us"):
        with self.lock:
            reports = list(self.reports)
            leds = self.start_leds
        return decode(reports, layout, leds)

    def keys_up(self):
        """True when no key is held (the last report is all up)."""
        with self.lock:
            return not self.reports or self.reports[-1] == bytes(8)
