# The accounts in alphabetical order, for the jump menu (screen/jump.py):
# their slots sorted by label, 2 bytes each, and a byte per slot hashing its
# issuer, so that where one issuer's accounts end shows without reading a
# record (two issuers side by side hash alike once in 256: the menu then
# keeps them together). Nothing until the first jump,
# which reads every record once, bucket by bucket; after that the store
# tells it what changed (no flash read at an add: new accounts wait at the
# end, unsorted, until the next jump sorts them in).
#
# The order: by issuer, then name (an account without an issuer sorts by
# its name), ASCII letters without case, digits before letters, spaces and
# punctuation all alike and before both, bytes beyond ASCII after z. Two
# labels equal in that order keep their slots' order. Each byte becomes a
# code 0..39 (0: the end, 1: between issuer and name), so three codes make
# one small int and a sort compares them in C.

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_END = const(0)
SEP = const(1)         # the code between issuer and name
_PUNCT = const(2)
_DIGIT = const(3)      # 3..12
_LETTER = const(13)    # 13..38
_OTHER = const(39)
_BASE = const(40)
_SLOT_BITS = const(12)  # rules.MAX_ACCOUNTS slots fit; key << 12 | slot stays a small int
_SLOT_MASK = const(0xFFF)
MAX_CODES = const(82)  # issuer, SEP, name: 40 + 1 + 40, and the end
_REBUILD = const(16)   # more unsorted than this, and a tenth of all: sort them all again


def code(c):
    """The collation code of one label byte."""
    if 97 <= c <= 122:
        return _LETTER + c - 97
    if 65 <= c <= 90:
        return _LETTER + c - 65
    if 48 <= c <= 57:
        return _DIGIT + c - 48
    if c < 128:
        return _PUNCT
    return _OTHER


def at(iss, nam, i):
    """Code i of the label (issuer, name): issuer, SEP, name, then _END;
    without an issuer: name, SEP, _END."""
    n = len(iss)
    if n:
        if i < n:
            return code(iss[i])
        if i == n:
            return SEP
        i -= n + 1
    else:
        if i == len(nam):
            return SEP
    return code(nam[i]) if i < len(nam) else _END


def key3(iss, nam, d):
    """Codes d, d+1, d+2 as one int: the order of three codes at a time."""
    return (at(iss, nam, d) * _BASE + at(iss, nam, d + 1)) * _BASE + at(iss, nam, d + 2)


def issuer_hash(iss, nam):
    """A byte, alike for labels alike up to the issuer's end (alike in this
    order: case and the kind of punctuation don't count)."""
    h = 0
    i = 0
    while True:
        c = at(iss, nam, i)
        if c == SEP:
            return h
        h = (h * 31 + c + 1) % 251
        i += 1


def fill(buf, iss, nam):
    """The label's codes into buf (MAX_CODES long); returns how many before the end."""
    n = len(iss) + 1 + len(nam) if len(iss) else len(nam) + 1
    for i in range(n):
        buf[i] = at(iss, nam, i)
    buf[n] = _END
    return n


def differ(buf, n, iss, nam):
    """Where the label (iss, nam) first differs from the codes in buf (n
    of them); n + 1 when they are equal to the end."""
    for i in range(n + 1):
        if at(iss, nam, i) != buf[i]:
            return i
    return n + 1


def cmp(buf, n, iss, nam):
    """< 0, 0, > 0 as the codes in buf sort before, with, after (iss, nam)."""
    i = differ(buf, n, iss, nam)
    if i > n:
        return 0
    return buf[i] - at(iss, nam, i)


class AlphaOrder:
    def __init__(self, store):
        """store: its labels(), label_of(slot), count and slots."""
        self.store = store
        self.arr = None  # slots, 2 bytes each: the first `done` sorted, the rest not yet
        self.ih = None  # per slot: issuer_hash of its label
        self.n = 0
        self.done = 0
        self._buf = bytearray(MAX_CODES + 1)  # one label's codes, to compare with another

    # ---- what the store tells it (RAM only) ----

    def added(self, s):
        if self.arr is not None:
            self._put(self.n, s)
            self.n += 1

    def removed(self, s):
        if self.arr is None:
            return
        i = self._find(s)
        if i < 0:
            return
        a = self.arr
        for k in range(2 * i, 2 * self.n - 2):
            a[k] = a[k + 2]
        self.n -= 1
        if i < self.done:
            self.done -= 1

    def relabeled(self, s):
        self.removed(s)
        self.added(s)

    def cleared(self):
        self.n = self.done = 0

    # ---- reading it ----

    def slot(self, rank):
        a = self.arr
        return a[2 * rank] << 8 | a[2 * rank + 1]

    def new_issuer(self, rank):
        """Whether rank starts another issuer's accounts than rank - 1's."""
        return self.ih[self.slot(rank)] != self.ih[self.slot(rank - 1)]

    def ensure(self):
        """Sort what isn't sorted yet; afterwards slot(0..count-1) are the
        accounts in order. May raise MemoryError (the first time)."""
        if self.arr is None:
            self.ih = bytearray(self.store.slots)
            self.arr = bytearray(2 * self.store.slots)
            try:
                self.build()
            except MemoryError:
                self.arr = self.ih = None  # no half-built order: the next jump tries again
                raise
        tail = self.n - self.done
        if tail > _REBUILD and tail * 10 > self.n:
            self.build()
        while self.done < self.n:
            self._insert()

    def build(self):
        """Every account sorted afresh: one read of each record, in bucket
        order; labels alike in their first three codes are read again."""
        store = self.store
        ks = [0] * store.count
        k = 0
        for s, iss, nam in store.labels():
            ks[k] = key3(iss, nam, 0) << _SLOT_BITS | s
            self.ih[s] = issuer_hash(iss, nam)
            k += 1
        self.n = self.done = k
        self._place(ks, 0, k)
        self._ties(ks, 0, k, 0)

    def _place(self, ks, lo, k):
        ks.sort()
        for i in range(k):
            self._put(lo + i, ks[i] & _SLOT_MASK)

    def _ties(self, ks, lo, k, d):
        # Runs of equal keys (at codes d..d+2) sorted by the next three.
        i = 0
        while i < k:
            key = ks[i] >> _SLOT_BITS
            j = i + 1
            while j < k and ks[j] >> _SLOT_BITS == key:
                j += 1
            if j - i > 1 and key % _BASE != _END and d + 3 < MAX_CODES:
                self._sort_run(lo + i, j - i, d + 3)
            i = j

    def _sort_run(self, lo, k, d):
        store = self.store
        ks = [0] * k
        for i in range(k):
            s = self.slot(lo + i)
            iss, nam = store.label_of(s)
            ks[i] = key3(iss, nam, d) << _SLOT_BITS | s
        self._place(ks, lo, k)
        self._ties(ks, lo, k, d)

    def _insert(self):
        # The first unsorted one, by binary search among the sorted (reads
        # about log2(count) records), after any equal to it.
        store = self.store
        s = self.slot(self.done)
        iss, nam = store.label_of(s)
        self.ih[s] = issuer_hash(iss, nam)
        buf = self._buf
        n = fill(buf, iss, nam)
        lo, hi = 0, self.done
        while lo < hi:
            mid = (lo + hi) // 2
            iss, nam = store.label_of(self.slot(mid))
            if cmp(buf, n, iss, nam) < 0:
                hi = mid
            else:
                lo = mid + 1
        a = self.arr
        for k in range(2 * self.done + 1, 2 * lo + 1, -1):
            a[k] = a[k - 2]
        self._put(lo, s)
        self.done += 1

    def _put(self, i, s):
        self.arr[2 * i] = s >> 8
        self.arr[2 * i + 1] = s & 0xFF

    def _find(self, s):
        hi, lo = s >> 8, s & 0xFF
        a = self.arr
        for i in range(self.n):
            if a[2 * i] == hi and a[2 * i + 1] == lo:
                return i
        return -1
