# Which key to press for each character a code can hold, per host keyboard
# layout. A USB keyboard sends key positions (HID usage ids named after the US
# keycaps), not characters: the host's layout turns them into characters. So
# to type "2" for a French host, the token presses Shift and the key a US
# keyboard calls "2" (AZERTY's top row is digits only with Shift).
#
#   layout_index("fr")   -> 3 (an index into LAYOUTS), -1 for an unknown name
#   key(layout, ord(ch)) -> modifier << 8 | usage, 0 when ch cannot be typed
#   keypad(ord(ch))      -> keypad usage for a digit, 0 otherwise
#
# Covered: digits and the capital letters A-Z (Steam codes use 23456789 and
# BCDFGHJKMNPQRTVWXY). Most cells are the US position; each layout lists only
# where it differs, so the tables are a few dozen bytes. Small ints only: no
# allocation per lookup.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

LAYOUTS = ("us", "uk", "de", "fr", "be", "ch", "es", "it", "nordic")
KEYPAD = "keypad"  # the layout setting that types digits on the numeric keypad

SHIFT = const(0x02)  # left Shift in the modifier byte
ENTER = const(0x28)
CAPS_LOCK = const(0x39)
NUM_LOCK = const(0x53)
LED_NUM_LOCK = const(0x01)  # bits of the host's LED output report
LED_CAPS_LOCK = const(0x02)

_KP_1 = const(0x59)  # keypad 1..9 are 0x59..0x61, keypad 0 is 0x62
_KP_0 = const(0x62)
_ROW_1 = const(0x1E)  # top row 1..9 are 0x1e..0x26, 0 is 0x27
_ROW_0 = const(0x27)
_LETTER_A = const(0x04)  # letters a..z are 0x04..0x1d on the US positions
_SHIFTED_DIGITS = const(1)

# Per layout: a flags byte, then (letter, usage) pairs for the letters that
# are not on their US position. AZERTY (fr, be): A and Q swap, Z and W swap,
# M sits where US has ";" (0x33); its top row gives digits only with Shift.
# QWERTZ (de, ch): Y and Z swap. uk, es, it, nordic: letters and top-row
# digits where US has them (they differ in punctuation only).
_AZERTY = b"\x01A\x14Q\x04Z\x1aW\x1dM\x33"
_QWERTZ = b"\x00Y\x1dZ\x1c"
_QWERTY = b"\x00"
_SPECS = (_QWERTY, _QWERTY, _QWERTZ, _AZERTY, _AZERTY, _QWERTZ, _QWERTY, _QWERTY, _QWERTY)


def layout_index(name):
    for i in range(len(LAYOUTS)):
        if LAYOUTS[i] == name:
            return i
    return -1


def key(layout, c):
    """The key for character code c on host layout `layout` (an index):
    modifier << 8 | usage, or 0 when the character is not covered."""
    spec = _SPECS[layout]
    if 0x30 <= c <= 0x39:  # '0'..'9'
        u = _ROW_0 if c == 0x30 else _ROW_1 + c - 0x31
        if spec[0] & _SHIFTED_DIGITS:
            return SHIFT << 8 | u
        return u
    if 0x41 <= c <= 0x5A:  # 'A'..'Z': capitals take Shift on every layout
        for i in range(1, len(spec), 2):
            if spec[i] == c:
                return SHIFT << 8 | spec[i + 1]
        return SHIFT << 8 | (_LETTER_A + c - 0x41)
    return 0


def keypad(c):
    """The numeric keypad's key for digit code c (the same on every layout,
    digits only while the host's Num Lock is on), or 0."""
    if c == 0x30:
        return _KP_0
    if 0x31 <= c <= 0x39:
        return _KP_1 + c - 0x31
    return 0
