# A user who knows which account they want and reaches it with the button,
# reading only the screen: `make bench` (host_tools/navbench.py) counts the
# presses, driving the firmware's screens through tests/mp/navdrive.py in
# MicroPython and a SimulatedToken in the simulator, and the tests use it
# too. Pure logic in the subset MicroPython runs: both interpreters import
# this file. The alphabet is the token's (alphaorder.code), as a person
# knows the order of the letters.
try:
    import alphaorder
    import layout
except ImportError:  # CPython without the firmware's folders on the path: as packages
    from firmware.flash import alphaorder
    from firmware.screen import layout

SHORT = 1
LONG = 2


def _codes(text):
    # What the screen shows, in the token's order: ':' is where the issuer
    # ends (the bench's labels have no other ':').
    out = []
    for ch in text:
        out.append(alphaorder.SEP if ch == ":" else alphaorder.code(ord(ch)))
    return out


def _count_split(line):
    """(text, count) of a menu line without its mark: the count is the
    number at the right, after spaces (None without one)."""
    t = line.rstrip()
    i = len(t)
    while i > 0 and "0" <= t[i - 1] <= "9":
        i -= 1
    if i < len(t) and i > 0 and t[i - 1] == " ":
        return t[:i].rstrip(), int(t[i:])
    return t, None


# What a long line and a long label look like on the screen: the token's
# own rules (layout.py), which a person learns by looking.
_fit = layout.fit
_fit_label = layout.fit_label


class User:
    def __init__(self, issuer, name, cols=16):
        self.issuer = issuer
        self.name = name
        self.cols = cols
        self.label = issuer + ":" + name if issuer else name

    def on_account(self, lines):
        """Is this the account screen, and is it the one wanted? None: the
        menu (a row has the cursor, '>'); else True/False. A 64-pixel panel
        has the position at the top right and the name under the issuer; a
        32-pixel one no name under an issuer (there the issuer is all a
        person can go by) and the position, if any, at the bottom."""
        for k in range(1, len(lines)):
            if lines[k].startswith(">"):
                return None
        top = lines[0].rstrip() if lines else ""
        pos = top.split(" ")[-1]
        tall = "/" in pos and pos.replace("/", "").isdigit()
        left = top[:len(top) - len(pos)].rstrip() if tall else top
        want = self.issuer or self.name
        same = left == want or left.endswith("~") and want.startswith(left[:-1])
        if not same or not self.issuer or not tall:
            return same
        second = lines[1].rstrip() if len(lines) > 1 else ""
        return second == _fit(self.name, self.cols)

    def next(self, lines):
        """The press to make next (SHORT or LONG), or None: there it is."""
        shown = self.on_account(lines)
        if shown is True:
            return None
        if shown is False:
            return LONG  # the menu
        return self._menu(lines)

    def _menu(self, lines):
        title, _ = _count_split(lines[0])
        named = title.endswith(":")
        want = _codes(self.name if named else self.label)
        rows = []
        cursor = -1
        for k in range(1, len(lines)):
            line = lines[k]
            if not line.strip():
                continue
            if line[0] == ">":
                cursor = len(rows)
            # The mark's column: '>' or blank (a decoded OLED drops the blank).
            body = line[1:] if line[0] in "> " else line
            text, count = _count_split(body)
            rows.append((text, count))
        pick = -1
        whole = _fit(self.name, self.cols - 1) if named else \
            _fit_label(self.label, self.cols - 1)
        for k in range(len(rows)):
            text, count = rows[k]
            if text == "< back" or text == "next code" or text.startswith("* "):
                continue
            if count is None and text == whole:
                pick = k  # the account itself
                break
            # A range starts with its text; an account row is where it stands.
            start = text[:-1] if count is None and text.endswith("~") else text
            if self._starts_before(start, want):
                pick = k
        if pick < 0 or rows[pick][1] is None and rows[pick][0] != whole:
            return SHORT  # further down (an account before it is no way in)
        # The screen keeps the row below the cursor in sight, so the last
        # candidate in sight is the one when the cursor is on it.
        return LONG if pick == cursor else SHORT

    def _starts_before(self, text, want):
        """Does a range starting with `text` start at or before the target?
        "Survey~:iv" is an issuer cut short (SurveyMonkey), then a name."""
        cut = text.find("~:")
        if cut >= 0:
            shown = _codes(text[:cut])
            if _codes(self.issuer)[:len(shown)] != shown:
                return shown < _codes(self.issuer)[:len(shown)]
            start = _codes(self.issuer) + _codes(text[cut + 1:])
        else:
            start = _codes(text)
        for i in range(len(start)):
            w = want[i] if i < len(want) else 0
            if start[i] != w:
                return start[i] < w
        return True
