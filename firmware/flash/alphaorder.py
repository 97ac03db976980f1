# The accounts in alphabetical order, for the jump menu (screen/jump.py):
# their slots sorted by label, 2 bytes each, and a byte per slot hashing its
# issuer, so that where one issuer's accounts end shows without reading a
# record (two issuers side by side hash alike once in 256: the menu then
# keeps them together). 3 bytes an account, kept from the first jump on.
#
# Built at the first jump: one read of every record, bucket by bucket (a
# record read on its own costs a file open: 7 ms on an RP2040, against
# about 1 ms in the pass), keeping each label's first _K codes for the sort
# (21 bytes an account, in one small piece a bucket, so that a heap cut up
# by a day's use still has room; given back at the end); labels alike that
# far are read once more, together, and sorted whole. After
# that the store tells it what changed, in RAM (an add costs no read: new
# and renamed accounts wait at the end, unsorted, until the next jump sorts
# them in by binary search, or sorts all again when many wait).
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
_K = const(21)         # codes per label kept for the sort (a multiple of 3)
_PER = const(16)       # slots per bucket (rules.PER_BUCKET): the arena's pieces
_WHOLE = const(48)     # labels read whole for one sort, at most (84 bytes each)
_REBUILD = const(16)   # more waiting than this: sort them all again


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


def _table():
    t = bytearray(256)
    for c in range(256):
        t[c] = code(c)
    return bytes(t)


_CODE = _table()  # code() by lookup: the sort's pass does it for every byte it keeps


def at(iss, nam, i):
    """Code i of the label (issuer, name): issuer, SEP, name, then _END;
    without an issuer: name, SEP, _END."""
    n = len(iss)
    if n:
        if i < n:
            return _CODE[iss[i]]
        if i == n:
            return SEP
        i -= n + 1
    else:
        if i == len(nam):
            return SEP
    return _CODE[nam[i]] if i < len(nam) else _END


def codes_into(buf, o, k, iss, nam):
    """The label's first k codes into buf[o:o+k] (buf zero there before:
    _END after the label); returns its issuer's hash (issuer_hash)."""
    t = _CODE
    first = iss if len(iss) else nam
    h = 0
    i = 0
    for c in first:
        x = t[c]
        h = (h * 31 + x + 1) % 251
        if i < k:
            buf[o + i] = x
        i += 1
    if i < k:
        buf[o + i] = SEP
    i += 1
    if len(iss):
        for c in nam:
            if i >= k:
                break
            buf[o + i] = t[c]
            i += 1
    return h


def issuer_hash(iss, nam):
    """A byte, alike for labels alike up to the issuer's end (alike in this
    order: case and the kind of punctuation don't count)."""
    t = _CODE
    h = 0
    for c in (iss if len(iss) else nam):
        h = (h * 31 + t[c] + 1) % 251
    return h


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


def _key(arena, s, k, d):
    # Codes d..d+2 of slot s's label, kept in the arena, as one int.
    a = arena[s // _PER]
    o = s % _PER * k + d
    return (a[o] * _BASE + a[o + 1]) * _BASE + a[o + 2]


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

    def pending(self):
        """Accounts to sort at the next ensure() (all of them the first time)."""
        return self.store.count if self.arr is None else self.n - self.done

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
        if self.n - self.done > _REBUILD:
            self.build()
        while self.done < self.n:
            self._insert()

    def build(self):
        """Every account sorted afresh: one pass over the records keeps the
        first _K codes of each label (fewer when the heap can't spare the
        arena); the labels still alike after them are read again, whole."""
        store = self.store
        k = _K
        arena = None
        while arena is None:
            try:
                arena = [bytearray(_PER * k) for _ in range(store.slots // _PER)]
            except MemoryError:
                if k == 3:
                    raise
                arena = None
                k = 3 if k <= 9 else 9
        ks = [0] * store.count
        n = 0
        for s, iss, nam in store.labels():
            self.ih[s] = codes_into(arena[s // _PER], s % _PER * k, k, iss, nam)
            ks[n] = _key(arena, s, k, 0) << _SLOT_BITS | s
            n += 1
        if n < len(ks):
            del ks[n:]
        self.n = self.done = n
        whole = []  # (first rank, count) of runs alike in all k codes
        self._place(ks, 0, n)
        self._ties(ks, 0, n, 0, arena, k, whole)
        ks = arena = None
        for lo, cnt in whole:
            self._sort_whole(lo, cnt)

    def _place(self, ks, lo, n):
        ks.sort()
        for i in range(n):
            self._put(lo + i, ks[i] & _SLOT_MASK)

    def _ties(self, ks, lo, n, d, arena, k, whole):
        # Runs of equal keys (codes d..d+2) sorted by the next three codes
        # from the arena; past it, noted for _sort_whole.
        i = 0
        while i < n:
            key = ks[i] >> _SLOT_BITS
            j = i + 1
            while j < n and ks[j] >> _SLOT_BITS == key:
                j += 1
            if j - i > 1 and key % _BASE != _END:  # (else alike to their end)
                if d + 6 <= k:
                    run = [0] * (j - i)
                    for m in range(j - i):
                        s = ks[i + m] & _SLOT_MASK
                        run[m] = _key(arena, s, k, d + 3) << _SLOT_BITS | s
                    self._place(run, lo + i, j - i)
                    self._ties(run, lo + i, j - i, d + 3, arena, k, whole)
                else:
                    whole.append((lo + i, j - i))
            i = j

    def _sort_whole(self, lo, n):
        """Ranks lo..lo+n-1 sorted by their whole labels, read in one pass
        (_WHOLE at a time; a run longer than that: by binary insertion)."""
        if n > _WHOLE:
            self.done = lo + 1
            keep = self.n
            self.n = lo + n
            while self.done < self.n:
                self._insert()
            self.n = keep
            self.done = keep
            return
        slots = sorted(self.slot(lo + i) for i in range(n))
        rows = []
        for s, iss, nam in self.store.labels(slots):
            row = bytearray(MAX_CODES + 2)
            fill(row, iss, nam)
            row[MAX_CODES] = s >> 8
            row[MAX_CODES + 1] = s & 0xFF
            rows.append(bytes(row))
        rows.sort()
        for i in range(len(rows)):
            r = rows[i]
            self._put(lo + i, r[MAX_CODES] << 8 | r[MAX_CODES + 1])

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
