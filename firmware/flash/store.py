# Account store on the board's flash filesystem (littlefs v2 on rp2/esp32; a
# plain directory under CPython for tests and the simulator). Same file on
# both. Holds up to `capacity` accounts without keeping them in RAM: only
# small arrays live in memory and a record is read when it is asked for.
# Here: the Store API, the bucket files, the RAM tables and the free-space
# count. Elsewhere: a record's layout and seal (records.py), the display
# order on flash (orderindex.py), resealing whole buckets (reseal.py).
#
# Files in `root`:
#   bk/gGGG/bNNN   bucket NNN: the 16 fixed-size records of slots
#           16*NNN..16*NNN+15 (3072 bytes, under one 4 KB flash block, so an
#           update is cheap), 8 buckets to a directory (GGG = NNN // 8):
#           littlefs's cost per file write grows with the files in its
#           directory, which made 1000 accounts take 16x as long as 100.
#           Earlier firmware kept bNNN in `root`; the load moves them.
#   index, index.add   the display order, the commit point: orderindex.py.
#   *.new   a replacement being written; renamed over its target when done.
#
# Records: their layout and seal are records.py's; a bucket's key comes
# from the keystore (keystore.py).
#
# Deleting for good: littlefs leaves old copies of every bucket it rewrote
# in free blocks, all sealed under that bucket's key. So delete gives the
# bucket a new key: keys.begin_rekey commits the next key first, then the
# index drops the account, then the bucket is rewritten with its other
# records resealed under the next key, then keys.end_rekey makes that the
# bucket's key and the old one leaves the flash (keyarea.py). A cut anywhere
# leaves the bucket under one of the two keys and the rekey pending, and
# finish_rekey() completes it as soon as the keys are open again.
#
# A new PIN brings a new data key (keystore.py): renew() reseals bucket by
# bucket under it, and a cut leaves each bucket under one of the two, both
# of which the key area holds until the last bucket is done.
#
# Crash safety: a file is only ever replaced by writing <file>.new in full
# and renaming it over the old one (atomic on littlefs and POSIX), and the
# index is the commit point of every change:
#   add       record into its bucket, then its index.add entry (an append:
#             atomic on littlefs, whose file writes commit at close; a torn
#             entry elsewhere fails its check). A cut in between leaves an
#             unlisted record (an orphan), zeroed at the next load.
#   add_many  the same for several: each bucket they land in written once,
#             then all their index.add entries in one append (or one index
#             rewrite): on littlefs a cut leaves all of them or none listed.
#   delete    next key first, then the index, then the bucket resealed
#             (its record zeroed, or the bucket removed), then the key.
#   set_counter, rename   one bucket rewrite (on littlefs the record alone
#             is rewritten in place: its file commit at close is atomic).
#   move, favourite   one index rewrite.
#   wipe      empty index first, then every bucket zeroed and removed.
# Load drops *.new files, reads the index, then every record once to build
# the RAM arrays. Orphans are zeroed. Listed records that fail their check
# are counted in `damaged`, unlisted and zeroed. A missing or unreadable
# index is rebuilt from the valid records, in slot order (`rebuilt`). The one
# place that can happen by design: a delete on a flash that something else
# filled up removes the old index before writing the new one.
#
# RAM per slot: 2 bytes display order, 2 bytes hash of (issuer, name), 1 byte
# hash of name, 1 bit used: about 5.2 KB for 1000 accounts. Hashes find
# duplicates and names without reading records; a record is read only on a
# hash hit to confirm it. The jump menu's alphabetical order (alphaorder.py,
# 2 bytes per slot more) exists only once the menu was first opened.
#
# Favourites, the rules (the one place they are kept): the favourites are
# the first `favourites` accounts of the display order, so they come first
# on the button. favourite() moves an account to the end of the favourites;
# favourite(off) moves it to just after them, the first of the others.
# move() keeps an account among its own kind: a favourite among the
# favourites, any other account after them. add() appends an account that is
# no favourite; delete() of a favourite leaves one favourite fewer. The count
# is in the index (orderindex.py), so each change is one index write.
#
# Flash caveat: littlefs is copy-on-write, so zeroing a file's bytes frees the
# old blocks without erasing them; a secret lingers in free flash until those
# blocks are reused. Only the file contents are guaranteed clean.
import os

import records
import rules
from orderindex import OrderIndex, failed, remove
from records import ZERO, StoreError, bad, name_hash, pair_hash, text, valid

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_PER = const(16)        # records per bucket file (rules.PER_BUCKET)
_BUCKET = const(3072)   # _REC * _PER
_SPARE = const(2)       # blocks kept free for filesystem metadata
_GROUP = const(8)       # buckets per directory
_DIR = const(2)         # blocks a littlefs directory takes (a metadata pair)
_IX_HDR = const(10)     # the index's header bytes, with favourites (orderindex.py)
_ENOSPC = const(28)
_EIO = const(5)
# records.py's layout, repeated here to be inlined:
_REC = const(192)       # bytes per record
_NAME = const(20)       # name and issuer offsets, and their width
_ISSUER = const(60)
_MAXTEXT = const(40)
# and its versions: this firmware's, then older firmware's (migrate()).
_VERSION = const(3)
_PLAIN_VERSION = const(1)
_DK_VERSION = const(2)

# bytearray.find is C speed; MicroPython builds without CPYTHON_COMPAT lack it.
_HAS_FIND = hasattr(bytearray, "find")


def _shift(buf, dst, src, n):
    """buf[dst:dst+n] = buf[src:src+n] in place (the ranges may overlap),
    without the copy a slice would allocate: 2 KB of contiguous heap is a
    lot to ask of a fragmented board heap."""
    if dst < src:
        for k in range(n):
            buf[dst + k] = buf[src + k]
    else:
        for k in range(n - 1, -1, -1):
            buf[dst + k] = buf[src + k]


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _makedirs(path):
    if path and not _exists(path):
        i = path.rfind("/")
        if i > 0:
            _makedirs(path[:i])
        os.mkdir(path)


def _commits_at_close(root):
    """Whether root is on littlefs, where a file's writes become visible
    together when it is closed, or not at all after a power cut: one record
    can then be written in place, not the whole bucket copied (23 ms instead
    of 41 ms on an RP2040). Not so for a plain directory (CPython, tests)."""
    try:
        import vfs  # pyright: ignore[reportMissingImports] MicroPython's; elsewhere buckets are copied whole
        mounts = vfs.mount()
    except (ImportError, TypeError, AttributeError, OSError):
        return False
    best = None
    for fs, point in mounts:
        base = point.rstrip("/") + "/"
        if (root == point or root.startswith(base)) and (best is None or len(point) > len(best[1])):
            best = (fs, point)
    return best is not None and "Lfs" in type(best[0]).__name__


def _is_bucket(name):
    return len(name) == 4 and name[0] == "b" and name[1:].isdigit()


class Store:
    renew_step = 8  # buckets resealed per committed renewal mark

    def __init__(self, root, capacity=1000, keys=None):
        """keys: the record keys (keystore.Keystore's seal_keys, other_keys,
        next_keys, legacy_keys, pending_bucket, begin_rekey, end_rekey,
        renewal_mark, renewal_keys, renewed, end_renewal)."""
        if type(capacity) is not int or not 1 <= capacity <= rules.MAX_ACCOUNTS:
            raise bad("capacity must be 1..%d" % rules.MAX_ACCOUNTS)
        while len(root) > 1 and root[-1] == "/":
            root = root[:-1]
        self.root = root
        self.capacity = capacity
        self._index = OrderIndex(root)
        self._in_place = _commits_at_close(root)
        self._rec = bytearray(_REC)  # scratch for the one record being read
        self.keys = keys
        self.plain = 0  # version-1 records (plain secrets) found at load
        self.legacy = 0  # version-2 records (under the data key itself)
        self._bs = 0  # flash block size, once known
        self._free = 0  # free blocks: an estimate that only errs low (_need_room)
        self.alpha = None  # alphaorder.AlphaOrder, told of changes once the menu made one
        _makedirs(root + "/bk")
        self._load()

    # ---- loading and recovery ----

    def _load(self):
        root = self.root
        top = -1
        for name in os.listdir(root):
            if name.endswith(".new"):
                remove(root + "/" + name)  # a replacement cut short: old file stands
            elif _is_bucket(name):
                # Earlier firmware's flat layout: move it (a rename is atomic,
                # so a cut leaves each bucket in one place or the other).
                b = int(name[1:])
                _makedirs(self._gpath(b))
                os.rename(root + "/" + name, self._bpath(b))
        for g in os.listdir(root + "/bk"):
            gdir = root + "/bk/" + g
            try:
                names = os.listdir(gdir)
            except OSError:
                continue  # not a directory: not ours
            for name in names:
                if name.endswith(".new"):
                    remove(gdir + "/" + name)
                elif _is_bucket(name):
                    top = max(top, int(name[1:]))
        # Room for the capacity, and for every bucket on flash even if the
        # capacity was lowered since, so nothing is ever silently dropped
        # (there is a key for rules.BUCKETS buckets at most).
        nb = min(max((self.capacity + _PER - 1) // _PER, top + 1), rules.BUCKETS)
        n = nb * _PER
        self._nb = nb
        self._order = bytearray(2 * n)
        self._ph = bytearray(2 * n)
        self._nh = bytearray(n)
        self._used = bytearray((n + 7) // 8)
        self._hint = 0  # no free slot below byte _hint of _used
        self.count = 0
        self.damaged = 0
        self.plain = 0
        self.legacy = 0
        self.rebuilt = False
        ix = self._index
        had_index = _exists(ix.path)
        n = ix.read(self._order)
        listed = n >= 0
        if listed:
            # Out-of-range or repeated slots (a damaged index) are dropped.
            k = 0
            fav = 0
            for p in range(n):
                if self._take(k, self._slot_at(p)):
                    k += 1
                    if p < ix.fav:
                        fav += 1
            for i in range(2 * k, 2 * n):
                self._order[i] = 0
            self.count = k
            ix.fav = fav
            for s in ix.journal():
                if self._take(self.count, s):
                    self.count += 1
        fix_index = had_index and not listed
        self.rebuilt = fix_index
        if _exists(ix.path + ".add"):
            fix_index = True  # fold it in (or drop it, stale or orphaned)
        scrub = []
        rec = self._rec
        for b in range(nb):
            try:
                f = open(self._bpath(b), "rb")
            except OSError:
                f = None
            dirty = False
            for s in range(b * _PER, b * _PER + _PER):
                got = f.readinto(rec) if f else 0
                on = self._is_used(s)
                if got == _REC and valid(rec):
                    if on or not listed:
                        if not on:  # rebuilding: take every valid record
                            self._take(self.count, s)
                            self.count += 1
                        self._hash_slot(s, rec)
                        if rec[1] == _PLAIN_VERSION:
                            self.plain += 1
                        elif rec[1] == _DK_VERSION:
                            self.legacy += 1
                    else:
                        dirty = True  # orphan of an interrupted add/delete
                    continue
                garbage = got and (got != _REC or rec != ZERO)
                if on:  # listed but gone or damaged
                    self._set_used(s, False)
                    self.damaged += 1
                    fix_index = True
                elif garbage and not listed:
                    self.damaged += 1  # no index to tell; count it to be safe
                if garbage:
                    dirty = True  # may hold secret bytes
            if f:
                f.close()
            if dirty:
                scrub.append(b)
        if not had_index and self.count:
            self.rebuilt = fix_index = True
        # Repairs are best effort: on a full flash the store still loads, and
        # the next load tries again.
        try:
            if fix_index:
                self._drop_unused()
                ix.write(self.count, (memoryview(self._order)[:2 * self.count],))
            for b in scrub:
                self._write_bucket(b)
        except StoreError:
            ix.forget()  # index.add may be left as is: the next add folds it

    def _drop_unused(self):
        # Close the gaps left in the order by records the load unlisted.
        k = 0
        fav = 0
        for p in range(self.count):
            s = self._slot_at(p)
            if self._is_used(s):
                self._put_order(k, s)
                k += 1
                if p < self._index.fav:
                    fav += 1
        for i in range(2 * k, 2 * self.count):
            self._order[i] = 0
        self.count = k
        self._index.fav = fav

    # ---- small helpers ----

    def _gpath(self, b):
        return "%s/bk/g%03d" % (self.root, b // _GROUP)

    def _bpath(self, b):
        return "%s/bk/g%03d/b%03d" % (self.root, b // _GROUP, b)

    def _is_used(self, s):
        return self._used[s >> 3] & (1 << (s & 7))

    def _set_used(self, s, on):
        if on:
            self._used[s >> 3] |= 1 << (s & 7)
        else:
            self._used[s >> 3] &= ~(1 << (s & 7)) & 0xFF
            self._ph[2 * s] = 0
            self._ph[2 * s + 1] = 0
            self._nh[s] = 0
            if s >> 3 < self._hint:
                self._hint = s >> 3

    def _slot_at(self, p):
        return self._order[2 * p] << 8 | self._order[2 * p + 1]

    def _put_order(self, p, s):
        self._order[2 * p] = s >> 8
        self._order[2 * p + 1] = s & 0xFF

    def _take(self, p, s):
        """List slot s at position p, unless it is out of range or listed
        already (as a damaged index or index.add may say); True if it was."""
        if s < self._nb * _PER and not self._is_used(s):
            self._set_used(s, True)
            self._put_order(p, s)
            return True
        return False

    def _hash_slot(self, s, rec):
        mv = memoryview(rec)
        name = mv[_NAME:_NAME + rec[5]]
        h = pair_hash(mv[_ISSUER:_ISSUER + rec[6]], name)
        self._ph[2 * s] = h >> 8
        self._ph[2 * s + 1] = h & 0xFF
        self._nh[s] = name_hash(name)

    def _hits(self, arr, width, value):
        """Used slots whose hash in `arr` (width bytes each) is `value`."""
        pat = bytes((value >> 8, value & 0xFF)) if width == 2 else bytes((value,))
        if _HAS_FIND:
            i = arr.find(pat)
            while i >= 0:
                if i % width:  # straddles two entries
                    i = arr.find(pat, i + 1)
                    continue
                if self._is_used(i // width):
                    yield i // width
                i = arr.find(pat, i + width)
        else:
            for s in range(len(arr) // width):
                if arr[s * width:s * width + width] == pat and self._is_used(s):
                    yield s

    def _pos(self, s):
        """Display position of used slot s."""
        pat = bytes((s >> 8, s & 0xFF))
        end = 2 * self.count
        if _HAS_FIND:
            i = self._order.find(pat, 0, end)
            while i >= 0 and i % 2:
                i = self._order.find(pat, i + 1, end)
            if i >= 0:
                return i // 2
        else:
            for p in range(self.count):
                if self._slot_at(p) == s:
                    return p
        raise OSError(_EIO)  # used but unlisted: cannot happen

    def _slot(self, index):
        if type(index) is not int or not 0 <= index < self.count:
            raise StoreError("not_found", "no account at that index")
        return self._slot_at(index)

    def _free_slot(self, taken=()):
        """The lowest free slot not in `taken` (picked for the same batch)."""
        u = self._used
        for i in range(self._hint, len(u)):
            if u[i] != 0xFF:
                if not taken:
                    self._hint = i
                for bit in range(8):
                    s = i * 8 + bit
                    if not u[i] & (1 << bit) and s not in taken:
                        return s
        raise StoreError("store_full", "no free slot")  # count < capacity prevents this

    def _read(self, s):
        """The record of slot s in the scratch buffer."""
        rec = self._rec
        with open(self._bpath(s // _PER), "rb") as f:
            f.seek((s % _PER) * _REC)
            got = f.readinto(rec)
        if got != _REC or not valid(rec):
            raise OSError(_EIO)  # went bad since load; the caller answers "internal"
        return rec

    def _find_pair(self, issuer, name):
        """Slot of the account (issuer, name) as bytes, or -1."""
        for s in self._hits(self._ph, 2, pair_hash(issuer, name)):
            rec = self._read(s)
            if (rec[_NAME:_NAME + rec[5]] == name
                    and rec[_ISSUER:_ISSUER + rec[6]] == issuer):
                return s
        return -1

    def _statvfs(self):
        return os.statvfs(self.root)

    def _space(self):
        """(block size, total blocks, free blocks)."""
        st = self._statvfs()
        # littlefs can count more blocks in use than exist when nearly full;
        # MicroPython then reports a wrapped-around free count.
        return st[1] or st[0], st[2], st[4] if st[4] <= st[2] else 0

    def _new_group(self, s):
        # No used slot in slot s's group of buckets: its directory is new.
        g = s // (_PER * _GROUP) * (_PER * _GROUP // 8)
        u = self._used
        for i in range(g, min(g + _PER * _GROUP // 8, len(u))):
            if u[i]:
                return False
        return True

    def _need_room(self, s):
        # statvfs walks littlefs's whole tree: once per add, that made an
        # import quadratic. So count down from the last figure, as if every
        # add used the most it can (a new bucket, its directory, a bigger
        # index), and ask again only when that runs low. A write that still
        # finds the flash full fails cleanly (_failed).
        if not self._bs:
            self._bs, total, self._free = self._space()
        bs = self._bs
        use = ((_BUCKET + bs - 1) // bs + (_DIR if self._new_group(s) else 0)
               + (_IX_HDR + 4 + 2 * (self.count + 1) + bs - 1) // bs)
        if self._free < use + _SPARE:
            self._bs, total, self._free = self._space()
            if self._free < use + _SPARE:
                raise StoreError("storage_full", "no room on flash for another account")
        self._free -= use

    # ---- sealing secrets ----

    def _locked(self):
        return StoreError("locked", "the token is locked: enter the PIN")

    def _record_key(self, s):
        """Seal keys for the records of slot s's bucket."""
        keys = self.keys.seal_keys(s // _PER) if self.keys is not None else None
        if keys is None:
            raise self._locked()
        return keys

    def _seal_into(self, rec, secret, s, key=None):
        """Encrypt `secret` into rec (whose other fields are final) for slot
        s, and stamp the check."""
        records.seal_into(rec, secret, key or self._record_key(s))

    def _open(self, rec, s):
        """The plain secret of slot s's record (in the scratch buffer)."""
        if rec[1] == _PLAIN_VERSION:
            tries = ()
        elif rec[1] == _DK_VERSION:
            tries = (self.keys.legacy_keys(),)
        else:
            tries = (self._record_key(s), self.keys.other_keys(s // _PER))
        if tries and tries[0] is None:
            raise self._locked()
        return records.open_secret(rec, tries)

    # Resealing whole buckets (reseal.py): imported only when there is such
    # work, so that most starts never load its code.

    def finish_rekey(self):
        """Complete a bucket's rekey that a power cut interrupted (the keys
        must be open); True if there was one."""
        b = self.keys.pending_bucket if self.keys is not None else None
        if b is None or self.keys.data_key is None:
            return False
        import reseal
        reseal.finish_rekey(self, b)
        return True

    def renew(self, progress=None):
        """After a new PIN (keystore.set_pin): reseal every bucket still
        under the old DK under the new one, then drop the old DK; True if
        there was one. progress(done, total) after each bucket."""
        keys = self.keys
        m = keys.renewal_mark if keys is not None else None
        if m is None or keys.data_key is None:
            return False
        import reseal
        reseal.renew(self, m, progress)
        return True

    def migrate(self, progress=None):
        """Reseal every record of older firmware (version 1, plain; version
        2, under the data key itself) under its bucket key; returns how
        many. progress(done, total) after each bucket."""
        if not self.plain and not self.legacy:
            return 0
        import reseal
        return reseal.migrate(self, progress)

    # ---- writing ----

    def _write_bucket(self, b, slots=(), recs=()):
        """Rewrite bucket b: used slots copied, recs[i] at slots[i], zeros in
        every other slot (which also scrubs orphans)."""
        path = self._bpath(b)
        base = b * _PER
        if self._in_place and recs and self._write_in_place(path, base, slots, recs):
            return
        live = len(recs) > 0
        for s in range(base, base + _PER):
            if self._is_used(s):
                live = True
        if not live:
            self._scrub(path)
            return
        tmp = path + ".new"
        buf = bytearray(_REC)
        try:
            try:
                src = open(path, "rb")
            except OSError:
                src = None
                _makedirs(self._gpath(b))  # a new bucket may start a group
            try:
                with open(tmp, "wb") as f:
                    for s in range(base, base + _PER):
                        if s in slots:
                            f.write(recs[slots.index(s)])
                        elif src is not None and self._is_used(s):
                            src.seek((s - base) * _REC)
                            f.write(buf if src.readinto(buf) == _REC else ZERO)
                        else:
                            f.write(ZERO)
            finally:
                if src is not None:
                    src.close()  # before the rename replaces it
            os.rename(tmp, path)
        except OSError as e:
            failed(tmp, e)

    def _write_in_place(self, path, base, slots, recs):
        # Records of an existing bucket, rewritten alone and committed
        # together at close (littlefs only: see _commits_at_close). Orphans
        # elsewhere in it are zeroed at load.
        try:
            f = open(path, "r+b")
        except OSError:
            return False  # a new bucket: written whole
        try:
            with f:
                for i in range(len(slots)):
                    f.seek((slots[i] - base) * _REC)
                    f.write(recs[i])
        except OSError as e:
            if e.args and e.args[0] == _ENOSPC:
                raise StoreError("storage_full", "no room on flash")
            raise
        return True

    def _scrub(self, path):
        # Zero the contents in place, then remove the file.
        try:
            size = os.stat(path)[6]
        except OSError:
            return
        try:
            with open(path, "r+b") as f:
                for _ in range((size + _REC - 1) // _REC):
                    f.write(ZERO)
        except OSError:
            pass  # flash full: removing it is all that is left to do
        remove(path)

    # ---- API ----

    def add(self, name, issuer, secret, kind, algorithm, digits, period, counter):
        """Append an account; returns its index. (add_many's path for one,
        without its lists: a small heap notices.)"""
        if self.count >= self.capacity:
            raise StoreError("store_full", "all %d account slots are used" % self.capacity)
        rec = self._rec
        n = self.count
        try:
            s = self._free_slot()
            self._record((name, issuer, secret, kind, algorithm, digits, period, counter), (), s, rec)
            self._need_room(s)
            one = (s,)
            self._write_bucket(s // _PER, one, (rec,))
            self._index.append(self._order, n, one)
            # Committed: only now does RAM learn about it.
            self._put_order(n, s)
            self._set_used(s, True)
            self._hash_slot(s, rec)
            self.count = n + 1
            if self.alpha is not None:
                self.alpha.added(s)
        finally:
            rec[:] = ZERO  # don't leave the secret in the scratch buffer
        return n

    def add_many(self, accounts):
        """Append accounts, each (name, issuer, secret, kind, algorithm,
        digits, period, counter), all or none; returns the first's index.
        Each bucket they land in is written once and their index.add
        entries go in one append: on an RP2040 the bucket write was most of
        an add's time. A refusal names the account (StoreError.at)."""
        n = self.count
        k = len(accounts)
        if n + k > self.capacity:
            e = StoreError("store_full", "all %d account slots are used" % self.capacity)
            e.set_at(self.capacity - n)
            raise e
        recs = []
        try:
            pairs = []  # (issuer, name) of the batch, for duplicates in it
            slots = []
            for i in range(k):
                try:
                    s = self._free_slot(slots)
                    rec, pair = self._record(accounts[i], pairs, s)
                    self._need_room(s)
                except StoreError as e:
                    e.set_at(i)
                    raise
                recs.append(rec)
                pairs.append(pair)
                slots.append(s)
            # Bucket by bucket, in slot order; then the commit point.
            done = 0
            while done < k:
                b = slots[done] // _PER
                j = done
                while j < k and slots[j] // _PER == b:
                    j += 1
                self._write_bucket(b, slots[done:j], recs[done:j])
                done = j
            self._index.append(self._order, n, slots)
            # Committed: only now does RAM learn about them.
            for i in range(k):
                s = slots[i]
                self._put_order(n + i, s)
                self._set_used(s, True)
                self._hash_slot(s, recs[i])
                if self.alpha is not None:
                    self.alpha.added(s)
            self.count = n + k
        finally:
            for rec in recs:
                rec[:] = ZERO  # don't leave secrets in RAM
        return n

    def _record(self, account, pairs, s, rec=None):
        """A checked record for one add_many entry, sealed for slot s (in
        `rec`, else a new buffer), and its (issuer, name) bytes."""
        pair = records.checked(account)
        if self._find_pair(pair[0], pair[1]) >= 0 or pair in pairs:
            raise StoreError("name_taken", "an account with that issuer and name exists")
        if rec is None:
            rec = bytearray(_REC)
        records.fill(rec, account, pair)
        self._seal_into(rec, account[2], s)
        return rec, pair

    def get(self, index):
        """The whole account at `index`, secret included."""
        return self._account(index, True)

    def _account(self, index, secret):
        s = self._slot(index)
        rec = self._read(s)
        try:
            return records.unpack(index, s, rec, self._open(rec, s) if secret else None)
        finally:
            rec[:] = ZERO

    def meta(self, index):
        """What a listing shows: everything but the secret (no key needed)."""
        a = self._account(index, False)
        d = {"index": index, "name": a.name, "issuer": a.issuer, "kind": a.kind,
             "algorithm": a.algorithm, "digits": a.digits}
        if a.kind == "hotp":
            d["counter"] = a.counter
        else:
            d["period"] = a.period
        if index < self._index.fav:
            d["favourite"] = True  # only when so: a `list` page stays short
        return d

    def find(self, name, issuer=None):
        """Index of an account. With `issuer`: exactly (issuer, name).
        Without: name == `name`, or label "issuer:name" == `name`."""
        # Bytes as add() stores them (surrogate pairs joined); a label is
        # up to issuer + ":" + name long. Control characters are let through
        # so that accounts stored before the rule can still be removed.
        nb = text(name, "name", 1, 2 * _MAXTEXT + 1, True)
        if issuer is not None:
            s = self._find_pair(text(issuer, "issuer", 0, _MAXTEXT, True), nb)
            if s < 0:
                raise StoreError("not_found", "no such account")
            return self._pos(s)
        found = []
        for s in self._hits(self._nh, 1, name_hash(nb)):
            rec = self._read(s)
            if rec[_NAME:_NAME + rec[5]] == nb:
                found.append(s)
        # Every ':' could be the one between issuer and name.
        i = nb.find(b":")
        while i >= 0:
            if i:
                s = self._find_pair(nb[:i], nb[i + 1:])
                if s >= 0 and s not in found:
                    found.append(s)
            i = nb.find(b":", i + 1)
        if not found:
            raise StoreError("not_found", "no such account")
        if len(found) > 1:
            raise StoreError("ambiguous", "%d accounts match; give the issuer" % len(found))
        return self._pos(found[0])

    def delete(self, index):
        """Remove the account at `index` for good: its bucket gets a new key
        (see the head of this file), so no copy of it opens again."""
        s = self._slot(index)
        b = s // _PER
        keys = self.keys
        self._record_key(s)  # locked: refused before anything changes
        keys.begin_rekey(b)
        n = self.count
        mv = memoryview(self._order)
        parts = (mv[:2 * index], mv[2 * index + 2:2 * n])
        ix = self._index
        fav = ix.fav - 1 if index < ix.fav else ix.fav
        try:
            ix.write(n - 1, parts, fav)
        except StoreError:
            # Flash full (something else filled it): free the old index's
            # block first, or nothing could ever be deleted. A cut in between
            # leaves no index (as does a failure of the second try); the next
            # load rebuilds it from the records: every account kept, but in
            # slot order.
            ix.drop()
            ix.write(n - 1, parts, fav)
        # Committed: update RAM, then reseal the bucket without it.
        o = self._order
        _shift(o, 2 * index, 2 * index + 2, 2 * (n - 1 - index))
        o[2 * n - 2] = 0
        o[2 * n - 1] = 0
        self.count = n - 1
        self._set_used(s, False)
        if self.alpha is not None:
            self.alpha.removed(s)
        try:
            self.finish_rekey()
        except (OSError, StoreError):
            pass  # the account is gone; the rekey stays pending and finishes later

    def set_counter(self, index, counter):
        """Persist a HOTP counter; show the code only after this returns."""
        records.integer(counter, "counter", 0, rules.MAX_COUNTER)
        s = self._slot(index)
        rec = self._read(s)
        try:
            secret = self._open(rec, s)
            records.set_counter(rec, counter)
            self._seal_into(rec, secret, s)  # the counter is sealed in with it
            self._write_bucket(s // _PER, (s,), (rec,))
        finally:
            rec[:] = ZERO

    def move(self, index, new_index):
        """Move the account at `index` so that it ends up at `new_index`,
        among its own kind (favourites first: see the head of this file)."""
        self._slot(index)
        n = self.count
        if type(new_index) is not int or not 0 <= new_index < n:
            raise bad("new index out of range")
        fav = self._index.fav
        if index < fav and new_index >= fav:
            raise bad("a favourite stays among the favourites (positions 1-%d): "
                      "unmark it first" % fav)
        if index >= fav and new_index < fav:
            raise bad("the favourites come first (positions 1-%d): mark it a favourite, "
                      "or move it to %d or later" % (fav, fav + 1))
        self._move(index, new_index, fav)

    def favourite(self, index, on=True):
        """Make the account at `index` a favourite (the last of them) or,
        with on=False, no longer one (the first of the others); returns its
        new index. Already so: nothing changes."""
        self._slot(index)
        fav = self._index.fav
        if on and index >= fav:
            self._move(index, fav, fav + 1)
            return fav
        if not on and index < fav:
            self._move(index, fav - 1, fav - 1)
            return fav - 1
        return index

    @property
    def favourites(self):
        """How many favourites: the first this many accounts."""
        return self._index.fav

    def _move(self, index, new_index, fav):
        # One index write: the new order and the favourites' count together.
        s = self._slot_at(index)
        n = self.count
        if new_index == index:
            if fav != self._index.fav:
                self._index.write(n, (memoryview(self._order)[:2 * n],), fav)
            return
        mv = memoryview(self._order)
        me = bytes((s >> 8, s & 0xFF))
        i, j = 2 * index, 2 * new_index
        if index < new_index:
            parts = (mv[:i], mv[i + 2:j + 2], me, mv[j + 2:2 * n])
        else:
            parts = (mv[:j], me, mv[j:i], mv[i + 2:2 * n])
        self._index.write(n, parts, fav)
        o = self._order
        if index < new_index:
            _shift(o, i, i + 2, j - i)
        else:
            _shift(o, j + 2, j, i - j)
        o[j:j + 2] = me

    def rename(self, index, name, issuer):
        nb = text(name, "name", 1)
        ib = text(issuer, "issuer", 0)
        s = self._slot(index)
        other = self._find_pair(ib, nb)
        if other >= 0 and other != s:
            raise StoreError("name_taken", "an account with that issuer and name exists")
        rec = self._read(s)
        try:
            secret = self._open(rec, s)
            records.relabel(rec, nb, ib)
            self._seal_into(rec, secret, s)
            self._write_bucket(s // _PER, (s,), (rec,))
            self._hash_slot(s, rec)
        finally:
            rec[:] = ZERO
        if self.alpha is not None:
            self.alpha.relabeled(s)

    def wipe(self):
        """Remove every account; returns how many there were."""
        n = self.count
        self._index.write(0, (), 0)
        if self.alpha is not None:
            self.alpha.cleared()
        for a in (self._order, self._ph, self._nh, self._used):
            for i in range(len(a)):
                a[i] = 0
        self.count = 0
        self._hint = 0
        for g in os.listdir(self.root + "/bk"):
            gdir = self.root + "/bk/" + g
            try:
                names = os.listdir(gdir)
            except OSError:
                continue
            for name in names:
                if _is_bucket(name) or name.endswith(".new"):
                    self._scrub(gdir + "/" + name)
            try:
                os.rmdir(gdir)  # its two blocks back
            except OSError:
                pass
        remove(self._index.path + ".new")
        return n

    # ---- labels, for the jump menu's order (alphaorder.py) ----

    @property
    def slots(self):
        """Slots in RAM (the capacity rounded up to whole buckets)."""
        return self._nb * _PER

    def labels(self, only=None):
        """(slot, issuer, name) of every account (or of the slots `only`,
        in increasing order), bucket by bucket, one file open for each:
        memoryviews into the scratch buffer, good until the next read. A
        record gone bad since the load gives empty ones."""
        rec = self._rec
        mv = memoryview(rec)
        k = 0
        for b in range(self._nb):
            f = None
            tried = False
            for s in range(b * _PER, b * _PER + _PER):
                if only is not None:
                    if k >= len(only) or only[k] != s:
                        continue
                    k += 1
                if not self._is_used(s):
                    continue
                if not tried:
                    tried = True
                    try:
                        f = open(self._bpath(b), "rb")
                    except OSError:
                        pass
                ok = False
                if f is not None:
                    f.seek((s - b * _PER) * _REC)
                    ok = f.readinto(rec) == _REC and valid(rec)
                if ok:
                    yield s, mv[_ISSUER:_ISSUER + rec[6]], mv[_NAME:_NAME + rec[5]]
                else:
                    yield s, mv[0:0], mv[0:0]
            if f is not None:
                f.close()
        rec[:] = ZERO

    def label_of(self, s):
        """(issuer, name) of slot s, as labels() gives them."""
        try:
            rec = self._read(s)
        except OSError:
            return memoryview(ZERO)[0:0], memoryview(ZERO)[0:0]
        mv = memoryview(rec)
        return mv[_ISSUER:_ISSUER + rec[6]], mv[_NAME:_NAME + rec[5]]

    def position(self, s):
        """Display index of the account in slot s."""
        return self._pos(s)

    def storage(self):
        bs, total, free = self._space()
        self._bs, self._free = bs, free
        return {"total": total * bs, "free": free * bs}
