# Screen layout rules, as pure functions: what text goes where and how wide
# the countdown bar is. Runs on MicroPython and CPython; the drawing itself
# is in ui.py.

GLYPH = 8  # framebuf's built-in font: 8x8 cells


def ascii_safe(text):
    """The OLED font has printable ASCII only: anything else becomes '?'."""
    out = []
    for ch in text:
        o = ord(ch)
        out.append(ch if 32 <= o <= 126 else "?")
    return "".join(out)


def fit(text, cols):
    """Truncate to `cols` characters, marking the cut with '~'."""
    text = ascii_safe(text)
    if len(text) <= cols:
        return text
    if cols <= 1:
        return text[:cols]
    return text[:cols - 1] + "~"


def group_code(code):
    """Digits in groups for reading aloud: 123 456, 123 4567, 1234 5678.
    Steam's five letters stay together."""
    n = len(code)
    if n < 6 or not code.isdigit():
        return code
    cut = 4 if n == 8 else 3
    return code[:cut] + " " + code[cut:]


def position(index, total):
    return "%d/%d" % (index + 1, total)


def header(issuer, name, index, total, cols):
    """Left text and right-aligned position for the top line. Without an
    issuer the name moves up (the second line then stays empty)."""
    pos = position(index, total)
    room = cols - len(pos) - 1
    left = issuer if issuer else name
    return fit(left, room), pos


def big_pitch(nchars, width, scale=2):
    """Advance between 2x glyph cells: 16 px, squeezed to 14 px when the
    code would not fit (the font's glyphs have blank edge columns)."""
    pitch = GLYPH * scale
    if nchars * pitch > width:
        pitch = width // nchars
    return pitch


def bar_width(remaining, period, width):
    """Countdown bar in pixels: full at the start of a period, empty at its end."""
    if period <= 0 or remaining <= 0:
        return 0
    if remaining >= period:
        return width
    return (remaining * width) // period


def fit_label(text, cols):
    """A label "Issuer:name" in `cols` characters: too long, the issuer is
    cut first ("Amazon~:dave", down to 4 of its characters), then the name
    at its end; the part after the issuer is what tells accounts apart."""
    text = ascii_safe(text)
    if len(text) <= cols:
        return text
    i = text.find(":")
    if i <= 0:
        return fit(text, cols)
    name = text[i:]
    keep = cols - len(name) - 1
    if keep >= min(i, 4):
        return text[:keep] + "~" + name
    keep = min(i, 4)
    return text[:keep] + "~" + fit(name, cols - keep - 1)


def menu_line(mark, text, count, cols, label=False):
    """One line of the jump menu: a mark (the cursor's '>' or ' '), the
    text (label: an account's label, or where a range starts, fit_label),
    and a count at the right (None: none)."""
    right = "" if count is None else " %d" % count
    room = cols - len(mark) - len(right)
    text = fit_label(text, room) if label else fit(text, room)
    return mark + text + " " * (room - len(text)) + right
