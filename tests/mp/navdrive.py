# Drives the firmware's screen state machine (screens.Screens, with its real
# store, keystore, ui.UI and jump menu) from plain calls, so `make bench` can
# count presses for every account of a full token inside MicroPython, where a
# simulated token would take hours, and the tests can run it under CPython
# too. Only the panel is a stand-in: it keeps the text ui.UI draws, by line,
# which is what a person reads (the 2x code digits are left out).
import os

import button
import keyarea
import keypages
import keystore
import rules
import screens
import store
import ui
from navuser import User
from manualticks import ManualTicks


class TextPanel:
    """A display for ui.UI that remembers text, not pixels."""

    def __init__(self, width, height):
        self.width = width
        self.height = height
        self.fb = self
        self.on = True
        self.rows = [[] for _ in range(height // 8)]  # per text line: [x, text]
        self._g = bytearray(8)

    # -- the frame buffer --
    def fill(self, c):
        for r in self.rows:
            del r[:]

    def fill_rect(self, x, y, w, h, c):
        if c:
            return  # pixels (the bar, the big digits)
        for line in range(y // 8, min((y + h + 7) // 8, len(self.rows))):
            r = self.rows[line]
            r[:] = [t for t in r if not x <= t[0] < x + w]

    def rect(self, x, y, w, h, c):
        pass

    def text(self, s, x, y, c):
        line = y // 8
        if 0 <= line < len(self.rows):
            r = self.rows[line]
            r[:] = [t for t in r if t[0] != x]
            r.append([x, s])

    # -- the display --
    def glyph(self, ch):
        return self._g

    def show(self, force=False):
        return 0

    def power(self, on):
        self.on = on

    def lines(self):
        out = []
        for r in self.rows:
            cells = [" "] * (self.width // 8)
            for x, s in r:
                for i in range(len(s)):
                    k = x // 8 + i
                    if 0 <= k < len(cells):
                        cells[k] = s[i]
            out.append("".join(cells).rstrip())
        return out


class _Clock:
    lost = False
    days = 20000
    sod = 43200

    def unix(self):
        return self.days * 86400 + self.sod

    def read(self):
        pass


_DIAG = {"presses": 0, "refresh_alloc_bytes": 0, "refresh_locked_runs": 0,
         "refresh_lock_errors": 0, "refresh_big_ints": 0}
_state = {}


def _mkdirs(path):
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass


def setup(root, accounts, favourites=0, height=64, capacity=1000):
    """A token in `root` (a new folder) with `accounts` ([issuer, name,
    kind] each) added in that order, the first `favourites` of them then
    marked favourites; its screen on the first account."""
    _mkdirs(root + ".keys")
    keys = keystore.Keystore(keyarea.KeyArea(keypages.file_pages(root + ".keys")), 10)
    s = store.Store(root, capacity, keys=keys)
    batch = []
    for issuer, name, kind in accounts:
        batch.append((name, issuer, os.urandom(10), kind, "SHA1", 6, 30, 0))
        if len(batch) == rules.ADD_MANY:
            s.add_many(batch)
            batch = []
    if batch:
        s.add_many(batch)
    for i in range(favourites):
        s.favourite(s.find(accounts[i][1], accounts[i][0]))
    panel = TextPanel(128, height)
    scr = screens.Screens(ManualTicks(), ui.UI(panel), s, _Clock(), keys, None, _DIAG, 10 ** 9)
    _state.update(store=s, panel=panel, screens=scr, cols=128 // 8)
    scr.redraw()
    return s.count


def lines():
    return _state["panel"].lines()


def press(event):
    _state["screens"].press(event)
    return lines()


def start(index):
    """The account at display index `index` on screen, no menu open."""
    scr = _state["screens"]
    scr.index = index
    scr.redraw()
    return lines()


def reach(issuer, name, limit=60):
    """Presses a user needs, reading the screen, to bring up (issuer, name)
    from what is on screen now; -1 if not within `limit`."""
    u = User(issuer, name, _state["cols"])
    n = 0
    while True:
        ev = u.next(lines())
        if ev is None:
            return n
        if n >= limit:
            return -1
        press(button.SHORT if ev == 1 else button.LONG)
        n += 1


def reach_all(from_index, targets, limit=60):
    """reach() for each [issuer, name] of targets, each from the account at
    display index from_index."""
    out = []
    for issuer, name in targets:
        start(from_index)
        out.append(reach(issuer, name, limit))
    return out


def add(issuer, name, kind="totp"):
    """One more account (as `add` would: the screen shows it)."""
    s = _state["store"]
    i = s.add(name, issuer, os.urandom(10), kind, "SHA1", 6, 30, 0)
    _state["screens"].accounts_changed(i)
    return lines()


def delete(issuer, name):
    s = _state["store"]
    s.delete(s.find(name, issuer))
    _state["screens"].accounts_changed(None)
    return lines()


def rename(issuer, name, new_issuer, new_name):
    s = _state["store"]
    i = s.find(name, issuer)
    s.rename(i, new_name, new_issuer)
    _state["screens"].accounts_changed(i)
    return lines()


def favourite(issuer, name, on=True):
    s = _state["store"]
    i = s.favourite(s.find(name, issuer), on)
    _state["screens"].accounts_changed(i)
    return [i, s.favourites]


def order():
    """[issuer, name, favourite, counter] of each account, in the button's order."""
    s = _state["store"]
    out = []
    for i in range(s.count):
        m = s.meta(i)
        out.append([m["issuer"], m["name"], m.get("favourite", False), m.get("counter")])
    return out


def alpha():
    """[issuer, name] in the menu's order (after sorting what waits)."""
    s = _state["store"]
    a = s.alpha
    a.ensure()
    out = []
    for r in range(s.count):
        iss, nam = s.label_of(a.slot(r))
        out.append([bytes(iss).decode(), bytes(nam).decode()])
    return out


def ram():
    """Bytes the jump menu's order holds (3 per slot, once built)."""
    a = _state["store"].alpha
    return 0 if a is None or a.arr is None else len(a.arr) + len(a.ih)
