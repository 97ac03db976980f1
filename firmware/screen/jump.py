# The jump menu: any of the accounts in a dozen presses of one button. A
# hold on an account opens it; a short press moves the cursor down a row, a
# hold takes the row. Rows cut the accounts, in alphabetical order
# (alphaorder.py), into ranges, each shown by where it starts ("Gi" for the
# range from GitHub on) and how many it holds; a hold on a range opens the
# same menu on it, a hold on an account shows it. The last row goes back up.
#
# Row sizes: reaching row i costs i + 1 presses, so the first rows are
# given the most accounts, as many as the presses left can reach
# (_CAPS): the rows of one screen halve, roughly, from the top, and 1000
# accounts are at most 12 presses from the menu's top. A cut is moved to
# where an issuer's accounts start when one is near, so that rows start
# with an issuer ("Mi", not "Microsoft:c"), and the rows of one issuer's
# accounts show its names alone: that costs a press more, at times
# (`make bench` counts them all). Pure logic over the store and its order:
# no drawing (screens.py and ui.py draw it).
import alphaorder as ao

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

ROWS = const(6)  # rows of accounts per screen (a 64-pixel panel shows them all)
_FITS = const(11)  # characters of a range's start that fit beside its count

# What a row does when held.
RANGE = const(1)    # opens the menu on its accounts
ACCOUNT = const(2)  # shows that account
CODE = const(3)     # the HOTP account on screen: its next code
FAVOURITES = const(4)  # the first favourite (they come first on the button)
BACK = const(5)     # one level up; at the top, the account as it was


def _cap_table(most):
    # caps[b]: the most accounts a fresh screen reaches within b presses.
    caps = [0]
    while caps[-1] < most:
        b = len(caps)
        caps.append(sum(_reach(caps, b - i - 1) for i in range(ROWS)))
    return caps


def _reach(caps, left):
    # What a row reaches with `left` presses still to go once it is
    # picked: nothing, one account, or a range of up to caps[left].
    if left < 0:
        return 0
    return max(1, caps[min(left, len(caps) - 1)])


_CAPS = _cap_table(4096)  # past rules.MAX_ACCOUNTS


def presses_needed(n, first=0):
    """The fewest presses within which split(n, first) reaches any of n."""
    b = 0
    while sum(_reach(_CAPS, b - (first + i) - 1) for i in range(ROWS)) < n:
        b += 1
    return b


def split(n, first=0):
    """Row sizes for n accounts whose rows start at row `first` (rows above
    them do other things): each row no bigger than the presses left after
    reaching it can cover, the slack shared out in proportion."""
    if n <= 0:
        return []
    b = presses_needed(n, first)
    caps = [_reach(_CAPS, b - (first + i) - 1) for i in range(ROWS)]
    caps = [c for c in caps if c > 0]
    total = sum(caps)
    sizes = [max(1, n * c // total) for c in caps]
    i = 0
    while sum(sizes) < n:  # the rounding's leftovers, from the top
        if sizes[i] < caps[i]:
            sizes[i] += 1
        i = (i + 1) % len(sizes)
    while sum(sizes) > n:  # the max(1, ...) above, from the biggest
        k = sizes.index(max(sizes))
        sizes[k] -= 1
    return sizes


def _text(b, start, end):
    # Label bytes as the panel's font shows them: one '?' per character
    # beyond ASCII (its continuation bytes dropped).
    out = []
    for i in range(start, end):
        c = b[i]
        if 32 <= c <= 126:
            out.append(chr(c))
        elif c < 0x80 or c >= 0xC0:
            out.append("?")
    return "".join(out)


def _byte(iss, nam, i):
    # Byte i of the label as shown: issuer, ':', name (or the name alone).
    li = len(iss)
    if li:
        if i < li:
            return iss[i]
        if i == li:
            return 58
        i -= li + 1
    return nam[i] if 0 <= i < len(nam) else 0


class Jump:
    def __init__(self, store):
        self.store = store
        self.alpha = None  # made at the first open (it costs 2 bytes an account)
        self.rows = []  # [what, first rank or value, end rank, text] per row
        self.cursor = 0
        self.title = ""
        self.count = 0  # accounts under the title
        self._path = []  # the levels above: (lo, hi, title)
        self.named = False
        self._extras = ()
        self._fav = 0
        self._buf = bytearray(ao.MAX_CODES + 1)

    # ---- what the button does ----

    def open(self, hotp=False):
        """The top of the menu; False if there are no accounts. The first
        time, the accounts are read and sorted (MemoryError if no room)."""
        store = self.store
        if store.count == 0:
            return False
        if self.alpha is None:
            self.alpha = ao.AlphaOrder(store)
            store.alpha = self.alpha
        self.alpha.ensure()
        # Above the ranges: the HOTP account's next code (a hold, then a
        # hold); below them, where they cost no range a press: the favourites.
        self._extras = [[CODE, 0, 0, "next code"]] if hotp else []
        self._fav = store.favourites
        self._path = []
        self._show(0, store.count, "All")
        return True

    def pending(self):
        """Accounts the next open() has to sort first (all, the first time:
        about 3 s for 1000 on an RP2040, so the screen says so)."""
        return self.store.count if self.alpha is None else self.alpha.pending()

    def short(self):
        self.cursor = (self.cursor + 1) % len(self.rows)

    def long(self):
        """Take the row under the cursor: None when the menu shows another
        level, else (what, value): (ACCOUNT, display index), (CODE, 0),
        (FAVOURITES, 0) or (BACK, 0), which close the menu."""
        what, a, b, text = self.rows[self.cursor]
        if what == RANGE:
            self._path.append((self._lo, self._hi, self.title))
            self._show(a, b, self._range_title(a, b))
            return None
        if what == ACCOUNT:
            return ACCOUNT, self.store.position(self.alpha.slot(a))
        if what == BACK and self._path:
            lo, hi, title = self._path.pop()
            self._show(lo, hi, title)
            return None
        return what, 0

    # ---- one level ----

    def _show(self, lo, hi, title):
        self._lo, self._hi = lo, hi
        self.title = title
        self.count = hi - lo
        self.cursor = 0
        rows = list(self._extras) if not self._path else []
        named = self._one_issuer(lo, hi)
        ends = None if named else self._cuts(lo, hi, len(rows))
        if ends is None or len(ends) < 2:
            # An issuer's names (or two issuers alike in their hash): cut anywhere.
            ends = []
            at = lo
            for size in split(hi - lo, len(rows)):
                at += size
                ends.append(at)
        at = lo
        for end in ends:
            if end - at == 1:
                rows.append([ACCOUNT, at, end, self._account_text(at, named)])
            else:
                rows.append([RANGE, at, end, self._start_text(at, named)])
            at = end
        if self._fav and not self._path:
            rows.append([FAVOURITES, 0, self._fav, "* favourites"])
        rows.append([BACK, 0, 0, "< back"])
        self.rows = rows
        self.named = named  # the title is then an issuer, and the rows its names
        if named:
            self.title = self._issuer_text(lo)

    def _cuts(self, lo, hi, first):
        """Row ends for a range of several issuers: each near its share of
        the range, and moved to where an issuer's accounts start when one
        is near (a range then starts with an issuer, "Mi", rather than
        inside one, "Microsoft:c"), as far as the rows still hold their
        accounts within the fewest presses."""
        b = presses_needed(hi - lo, first)
        ends, long = self._cut_at(lo, hi, first, b)
        if long:
            # A row starts inside an issuer whose name is long ("Ameritr~:iv"
            # reads like other issuers): one press more gives the rows room.
            wider, long = self._cut_at(lo, hi, first, b + 1)
            if not long:
                return wider
        return ends

    def _cut_at(self, lo, hi, first, b):
        # The cuts within b presses, and whether a row's start is too long to show.
        n = hi - lo
        caps = [_reach(_CAPS, b - (first + i) - 1) for i in range(ROWS)]
        total = 0
        for c in caps:
            total += c
        ends = []
        start = lo
        share = 0
        long = False
        for i in range(ROWS):
            share += caps[i]
            after = total - share  # what the rows below can hold
            low = max(start + 1, hi - after)
            high = min(start + caps[i], hi)
            goal = min(max(lo + n * share // total, low), high)
            end = self._near_issuer(goal, low, high, hi, max(1, (goal - start) // 3))
            ends.append(end)
            if end >= hi:
                break
            if not self.alpha.new_issuer(end) and len(self._start_text(end, False)) > _FITS:
                long = True
            start = end
        return ends, long

    def _near_issuer(self, goal, low, high, hi, reach):
        # The issuer start in low..high nearest goal, at most `reach` away;
        # else goal itself if what it starts with fits a row; else the
        # nearest issuer start at all; else goal after all.
        alpha = self.alpha
        for d in range(high - low + 1):
            if d == reach + 1 and len(self._start_text(goal, False)) <= _FITS:
                return goal
            for r in (goal - d, goal + d):
                if low <= r <= high and (r == hi or alpha.new_issuer(r)):
                    return r
        return goal

    def _range_title(self, a, b):
        start = self._start_text(a, False)
        end = self._end_text(b)
        return start if start == end else start + "-" + end

    # ---- labels ----

    def _label(self, rank):
        return self.store.label_of(self.alpha.slot(rank))

    def _differ(self, r1, r2):
        """Where the labels at ranks r1 and r2 first differ (the length of
        r2's label + 1 when equal); also r2's issuer and name."""
        iss, nam = self._label(r1)
        n = ao.fill(self._buf, iss, nam)
        iss, nam = self._label(r2)
        return ao.differ(self._buf, n, iss, nam), iss, nam

    def _one_issuer(self, lo, hi):
        # All of lo..hi-1 share an issuer (sorted: the first and last do).
        if hi - lo < 2:
            return False
        i, iss, nam = self._differ(lo, hi - 1)
        return len(iss) > 0 and i > len(iss)

    def _start_text(self, r, named):
        """What the range from rank r starts with: enough of its label to
        tell it from the one before."""
        if r == 0:
            iss, nam = self._label(0)
            i = 0
        else:
            i, iss, nam = self._differ(r - 1, r)
        return self._prefix(iss, nam, i + 1, named)

    def _end_text(self, end):
        """Where a range ending before rank `end` ends."""
        n = self.store.count
        if end >= n:
            iss, nam = self._label(end - 1)
            i = 0
        else:
            i, iss, nam = self._differ(end, end - 1)
        return self._prefix(iss, nam, i + 1, False)

    def _prefix(self, iss, nam, k, named):
        # The first k codes of the label as text: issuer, ':', name; named:
        # the name's part alone (the title shows the issuer). One more
        # where it would end in a space: "Microsoft 3", never "Microsoft ",
        # which would read as "Microsoft".
        li = len(iss)
        end = li + 1 + len(nam) if li else len(nam)
        while k < end and _byte(iss, nam, k - 1) == 32:
            k += 1
        if not li:
            return _text(nam, 0, min(k, len(nam)) or 1)
        if named or k > li + 1:
            part = _text(nam, 0, max(1, min(k - li - 1, len(nam))))
            return part if named else _text(iss, 0, li) + ":" + part
        return _text(iss, 0, min(k, li))

    def _account_text(self, r, named):
        iss, nam = self._label(r)
        if named or not len(iss):
            return _text(nam, 0, len(nam))
        return _text(iss, 0, len(iss)) + ":" + _text(nam, 0, len(nam))

    def _issuer_text(self, r):
        iss, nam = self._label(r)
        return _text(iss, 0, len(iss))

