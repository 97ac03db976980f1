# The display order on flash, and the commit point of every change to the
# store (store.py's crash-safety table says which write commits what). The
# RAM copy of the order is the store's.
#
#   index   b"TKIX", version 2, generation u8, count u16, then `count` slot
#           numbers u16, then a 4-byte check. Version 3 has favourites u16
#           after count: the first that many listed are the favourites
#           (store.py has their rules); written only while there are any,
#           so a token without favourites stays readable by older firmware.
#           (Version 1, from earlier firmware, has generation 0. Earlier
#           firmware finds a later version unreadable and rebuilds the order
#           from the records: nothing is lost going back, only the order and
#           which accounts are favourites.)
#   index.add  slots added since the index was written, appended one 4-byte
#           entry per add: slot u16, the index's generation, a check byte.
#           Rewriting the 2 KB index on every add was a third of an add's
#           time on an RP2040; an append is ~3 ms. Entries of another
#           generation are stale (from before the last index rewrite, which
#           removes this file after bumping the generation) and ignored.
#           Folded into the index every _JMAX adds, at load, and by every
#           other change of the order.
#   index.new  a new index being written; renamed over `index` when done
#           (atomic on littlefs and POSIX).
# A record exists as an account only while its slot is listed in one of
# them; a missing or unreadable index is rebuilt by the store's load.
import os
from digests import sha256

from records import StoreError

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_HDR = const(8)    # header bytes
_JMAX = const(32)  # index.add entries before it is folded into the index
_ENOSPC = const(28)
_MAGIC = b"TKIX"


# Two file helpers the store's bucket writes share (store.py imports them):
# the index is the lowest layer that writes files.

def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def failed(tmp, e):
    """A replacement `tmp` that could not be finished: gone, and the error
    raised as the store's when the flash is full."""
    remove(tmp)
    if e.args and e.args[0] == _ENOSPC:
        raise StoreError("storage_full", "no room on flash")
    raise e


def _entry_check(e):
    # index.add entry byte 3: a torn or foreign entry fails it.
    return sha256(memoryview(e)[:3]).digest()[0]


class OrderIndex:
    def __init__(self, root):
        self.path = root + "/index"
        self.gen = 0  # the index's generation (index.add entries carry it)
        self.fav = 0  # favourites: the first `fav` listed
        # Entries in index.add; _JMAX also while there is no index to add to.
        self.jn = _JMAX

    def forget(self):
        # Unsure what index.add holds, or no index: the next change rewrites.
        self.jn = _JMAX

    def drop(self):
        """Remove the index itself: the last resort of a delete on a full
        flash (the next load rebuilds the order from the records)."""
        remove(self.path)
        self.jn = _JMAX

    def read(self, order):
        """The index's slots into `order` as stored (unchecked against the
        records); their count, or -1 if it is missing or bad (`order` then
        all zeros)."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return -1
        mv = memoryview(order)
        with f:
            hdr = f.read(_HDR)
            ok = len(hdr) == _HDR and hdr[:4] == _MAGIC and 1 <= hdr[4] <= 3
            n = hdr[6] << 8 | hdr[7] if ok else 0
            ext = f.read(2) if ok and hdr[4] == 3 else b""
            fav = ext[0] << 8 | ext[1] if len(ext) == 2 else 0
            ok = ok and len(ext) == (2 if hdr[4] == 3 else 0) and fav <= n
            ok = ok and 2 * n <= len(order) and f.readinto(mv[:2 * n]) == 2 * n
            chk = f.read(4) if ok else b""
        if ok:
            h = sha256(hdr)
            h.update(ext)
            h.update(mv[:2 * n])
            ok = h.digest()[:4] == chk
        if not ok:
            for i in range(len(order)):
                order[i] = 0
            self.fav = 0
            return -1
        self.gen = hdr[5] if hdr[4] >= 2 else 0
        self.fav = fav
        self.jn = 0
        return n

    def journal(self):
        """The slots of index.add's entries of this generation (listed after
        the index's own); stops at the first bad one."""
        try:
            f = open(self.path + ".add", "rb")
        except OSError:
            return
        e = bytearray(4)
        with f:
            while f.readinto(e) == 4:
                if e[2] != self.gen or e[3] != _entry_check(e):
                    break
                yield e[0] << 8 | e[1]

    def write(self, n, parts, fav=None):
        """A new index of n slots, the bytes of `parts` in turn, the first
        `fav` of them favourites (None: as many as now)."""
        if fav is None:
            fav = self.fav
        # A new generation: index.add's entries, in `parts` now, go stale.
        gen = (self.gen + 1) & 0xFF
        hdr = bytearray(_HDR + 2 if fav else _HDR)
        hdr[0:4] = _MAGIC
        hdr[4] = 3 if fav else 2
        hdr[5] = gen
        hdr[6] = n >> 8
        hdr[7] = n & 0xFF
        if fav:
            hdr[8] = fav >> 8
            hdr[9] = fav & 0xFF
        h = sha256(hdr)
        for p in parts:
            h.update(p)
        tmp = self.path + ".new"
        try:
            with open(tmp, "wb") as f:
                f.write(hdr)
                for p in parts:
                    f.write(p)
                f.write(h.digest()[:4])
            os.rename(tmp, self.path)
        except OSError as e:
            failed(tmp, e)
        self.gen = gen
        self.fav = fav
        self.jn = 0
        remove(self.path + ".add")

    def append(self, order, n, slots):
        """List `slots` after the n listed in `order`: index.add entries in
        one append, or, when index.add would pass _JMAX or there is no index
        yet, the whole index rewritten."""
        k = len(slots)
        if self.jn + k > _JMAX:
            tail = bytearray(2 * k)
            for i in range(k):
                tail[2 * i] = slots[i] >> 8
                tail[2 * i + 1] = slots[i] & 0xFF
            self.write(n + k, (memoryview(order)[:2 * n], tail))
            return
        e = bytearray(4 * k)
        for i in range(k):
            s = slots[i]
            e[4 * i] = s >> 8
            e[4 * i + 1] = s & 0xFF
            e[4 * i + 2] = self.gen
            e[4 * i + 3] = _entry_check(memoryview(e)[4 * i:4 * i + 4])
        try:
            with open(self.path + ".add", "ab") as f:
                f.write(e)
        except OSError as err:
            # Part of an entry may be there (not on littlefs): the next add
            # rewrites the index, which drops this file.
            self.jn = _JMAX
            if err.args and err.args[0] == _ENOSPC:
                raise StoreError("storage_full", "no room on flash")
            raise
        self.jn += k
