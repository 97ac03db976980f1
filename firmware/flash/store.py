# Account store on the board's flash filesystem (littlefs v2 on rp2/esp32; a
# plain directory under CPython for tests and the simulator). Same file on
# both. Holds up to `capacity` accounts without keeping them in RAM: only
# small arrays live in memory and a record is read when it is asked for.
#
# Files in `root`:
#   bk/gGGG/bNNN   bucket NNN: the 16 fixed-size records of slots
#           16*NNN..16*NNN+15 (3072 bytes, under one 4 KB flash block, so an
#           update is cheap), 8 buckets to a directory (GGG = NNN // 8):
#           littlefs's cost per file write grows with the files in its
#           directory, which made 1000 accounts take 16x as long as 100.
#           Earlier firmware kept bNNN in `root`; the load moves them.
#   index   display order: b"TKIX", version 2, generation u8, count u16,
#           then `count` slot numbers u16, then a 4-byte check. A record
#           exists as an account only while its slot is listed here or in
#           index.add. (Version 1, from earlier firmware, has generation 0.
#           Earlier firmware finds version 2 unreadable and rebuilds the order
#           from the records: nothing is lost going back, only the order.)
#   index.add  slots added since the index was written, appended one 4-byte
#           entry per add: slot u16, the index's generation, a check byte.
#           Rewriting the 2 KB index on every add was a third of an add's
#           time on an RP2040; an append is ~3 ms. Entries of another
#           generation are stale (from before the last index rewrite, which
#           removes this file after bumping the generation) and ignored.
#           Folded into the index every _JMAX adds, at load, and by every
#           other change of the order.
#   *.new   a replacement being written; renamed over its target when done.
#
# Record, 192 bytes, big-endian; an all-zero record is a free slot:
#     0 magic 0x54   1 version 3   2 kind   3 algorithm   4 digits
#     5 name length   6 issuer length   7 secret length
#     8 period u32   12 counter u64
#    20 name[40]   60 issuer[40]   100 secret[64] (encrypted)
#   164 nonce[8]   172 tag[16]
#   188 check: first 4 bytes of sha256(bytes 0..187)
# The secret is sealed (crypto.seal: AES-256-CTR + HMAC-SHA256, encrypt then
# MAC) under its bucket's record key (keystore.py: from the data key and the
# bucket's own key), with bytes 0..99 as associated data, so a record whose
# name, kind, digits, period or counter was altered on flash fails to open.
# No extra bytes: nonce and tag fill what version 1 kept reserved. Records of
# older firmware still load and are resealed by migrate(): version 1 (plain
# secret) and version 2 (sealed under HMAC(data key, "records")).
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
#   move      one index rewrite.
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
# hash hit to confirm it.
#
# Flash caveat: littlefs is copy-on-write, so zeroing a file's bytes frees the
# old blocks without erasing them; a secret lingers in free flash until those
# blocks are reused. Only the file contents are guaranteed clean.
import os
import struct
from digests import sha256

import crypto
import rules

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_REC = const(192)        # bytes per record
_PER = const(16)         # records per bucket file (rules.PER_BUCKET)
_BUCKET = const(3072)    # _REC * _PER
_MAGIC = const(0x54)
_VERSION = const(3)
_PLAIN_VERSION = const(1)  # before encryption at rest
_DK_VERSION = const(2)     # sealed under HMAC(data key, "records"): before bucket keys
_NONCE = const(164)
_TAG = const(172)
_NAME = const(20)        # field offsets in a record
_ISSUER = const(60)
_SECRET = const(100)
_CHECK = const(188)
_MAXTEXT = const(40)     # field widths; rules.MAX_TEXT/MAX_SECRET fit them
_MAXSECRET = const(64)
_HDR = const(8)          # index header bytes
_JMAX = const(32)        # index.add entries before it is folded into the index
_SPARE = const(2)        # blocks kept free for filesystem metadata
_GROUP = const(8)        # buckets per directory
_DIR = const(2)          # blocks a littlefs directory takes (a metadata pair)
_ENOSPC = const(28)
_EIO = const(5)

KINDS = rules.KINDS
ALGORITHMS = rules.ALGORITHMS
_IX_MAGIC = b"TKIX"
_FMT = ">BBBBBBBBIQ"     # the fixed fields at offset 0
_ZERO = bytes(_REC)
# bytearray.find is C speed; MicroPython builds without CPYTHON_COMPAT lack it.
_HAS_FIND = hasattr(bytearray, "find")


class StoreError(Exception):
    """A refused request. `code` is the protocol's error name; `message`
    never carries a secret nor echoes names back."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = 0  # add_many: which account of the batch was refused

    def set_at(self, i):
        self.at = i


class Account:
    def __init__(self, index, slot, name, issuer, secret, kind, algorithm,
                 digits, period, counter):
        self.index = index
        self.slot = slot
        self.name = name
        self.issuer = issuer
        self.secret = secret
        self.kind = kind
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.counter = counter


def _bad(message):
    return StoreError("bad_args", message)


def _text(v, what, low, high=_MAXTEXT, controls=False):
    # rules.check_text: one rule for names on both sides (see rules.py).
    try:
        return rules.check_text(v, what, low, high, controls)
    except ValueError as e:
        raise _bad(e.args[0])


def _int(v, what, low, high):
    # type() rather than isinstance(): True is not a digit count.
    if type(v) is not int or not low <= v <= high:
        raise _bad("%s must be an integer in %d..%d" % (what, low, high))
    return v


def _pick(v, options, what):
    for i in range(len(options)):
        if v == options[i]:
            return i
    raise _bad(what + " must be one of " + "/".join(options))


def _pair_hash(issuer, name):
    # 16 bits, never 0, so zeroed entries of free slots never match.
    h = sha256(issuer)
    h.update(b"\x00")
    h.update(name)
    d = h.digest()
    return (d[0] << 8 | d[1]) or 1


def _name_hash(name):
    return sha256(name).digest()[0] or 1


def _check(rec):
    return sha256(memoryview(rec)[:_CHECK]).digest()[:4]


def _valid(rec):
    # Field ranges too: a record that passes must also unpack.
    return (rec[0] == _MAGIC and _PLAIN_VERSION <= rec[1] <= _VERSION and rec[2] < 3
            and rec[3] < 3 and 1 <= rec[5] <= _MAXTEXT and rec[6] <= _MAXTEXT
            and 1 <= rec[7] <= _MAXSECRET and rec[_CHECK:_REC] == _check(rec))


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


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


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


def _entry_check(e):
    # index.add entry byte 3: a torn or foreign entry fails it.
    return sha256(memoryview(e)[:3]).digest()[0]


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
            raise _bad("capacity must be 1..%d" % rules.MAX_ACCOUNTS)
        while len(root) > 1 and root[-1] == "/":
            root = root[:-1]
        self.root = root
        self.capacity = capacity
        self._ipath = root + "/index"
        self._gen = 0  # the index's generation (index.add entries carry it)
        # Entries in index.add; _JMAX also while there is no index to add to.
        self._jn = _JMAX
        self._in_place = _commits_at_close(root)
        self._rec = bytearray(_REC)  # scratch for the one record being read
        self.keys = keys
        self.plain = 0  # version-1 records (plain secrets) found at load
        self.legacy = 0  # version-2 records (under the data key itself)
        self._bs = 0  # flash block size, once known
        self._free = 0  # free blocks: an estimate that only errs low (_need_room)
        _makedirs(root + "/bk")
        self._load()

    # ---- loading and recovery ----

    def _load(self):
        root = self.root
        top = -1
        for name in os.listdir(root):
            if name.endswith(".new"):
                _remove(root + "/" + name)  # a replacement cut short: old file stands
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
                    _remove(gdir + "/" + name)
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
        had_index = _exists(self._ipath)
        listed = self._read_index()
        fix_index = had_index and not listed
        self.rebuilt = fix_index
        if listed:
            self._read_journal()
        if _exists(self._ipath + ".add"):
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
                if got == _REC and _valid(rec):
                    if on or not listed:
                        if not on:  # rebuilding: take every valid record
                            self._set_used(s, True)
                            self._put_order(self.count, s)
                            self.count += 1
                        self._hash_slot(s, rec)
                        if rec[1] == _PLAIN_VERSION:
                            self.plain += 1
                        elif rec[1] == _DK_VERSION:
                            self.legacy += 1
                    else:
                        dirty = True  # orphan of an interrupted add/delete
                    continue
                garbage = got and (got != _REC or rec != _ZERO)
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
                self._write_index(self.count, (memoryview(self._order)[:2 * self.count],))
            for b in scrub:
                self._write_bucket(b)
        except StoreError:
            self._jn = _JMAX  # index.add may be left as is: the next add folds it

    def _read_index(self):
        """Fill the order from the index; False if it is missing or bad."""
        try:
            f = open(self._ipath, "rb")
        except OSError:
            return False
        o = self._order
        mv = memoryview(o)
        with f:
            hdr = f.read(_HDR)
            ok = len(hdr) == _HDR and hdr[:4] == _IX_MAGIC and (hdr[4] == 1 or hdr[4] == 2)
            n = hdr[6] << 8 | hdr[7] if ok else 0
            ok = ok and 2 * n <= len(o) and f.readinto(mv[:2 * n]) == 2 * n
            chk = f.read(4) if ok else b""
        if ok:
            h = sha256(hdr)
            h.update(mv[:2 * n])
            ok = h.digest()[:4] == chk
        if not ok:
            for i in range(len(o)):
                o[i] = 0
            return False
        self._gen = hdr[5] if hdr[4] == 2 else 0
        self._jn = 0
        k = 0
        for p in range(n):
            s = o[2 * p] << 8 | o[2 * p + 1]
            if s < self._nb * _PER and not self._is_used(s):
                self._set_used(s, True)
                self._put_order(k, s)
                k += 1
        for i in range(2 * k, 2 * n):  # drop out-of-range or repeated slots
            o[i] = 0
        self.count = k
        return True

    def _read_journal(self):
        """List the slots of index.add's entries of this generation (after
        the index's own); stop at the first bad one."""
        try:
            f = open(self._ipath + ".add", "rb")
        except OSError:
            return
        e = bytearray(4)
        with f:
            while f.readinto(e) == 4:
                s = e[0] << 8 | e[1]
                if e[2] != self._gen or e[3] != _entry_check(e):
                    break
                if s < self._nb * _PER and not self._is_used(s):
                    self._set_used(s, True)
                    self._put_order(self.count, s)
                    self.count += 1

    def _drop_unused(self):
        # Close the gaps left in the order by records the load unlisted.
        k = 0
        for p in range(self.count):
            s = self._slot_at(p)
            if self._is_used(s):
                self._put_order(k, s)
                k += 1
        for i in range(2 * k, 2 * self.count):
            self._order[i] = 0
        self.count = k

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

    def _hash_slot(self, s, rec):
        mv = memoryview(rec)
        name = mv[_NAME:_NAME + rec[5]]
        h = _pair_hash(mv[_ISSUER:_ISSUER + rec[6]], name)
        self._ph[2 * s] = h >> 8
        self._ph[2 * s + 1] = h & 0xFF
        self._nh[s] = _name_hash(name)

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
        if got != _REC or not _valid(rec):
            raise OSError(_EIO)  # went bad since load; the caller answers "internal"
        return rec

    def _find_pair(self, issuer, name):
        """Slot of the account (issuer, name) as bytes, or -1."""
        for s in self._hits(self._ph, 2, _pair_hash(issuer, name)):
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
               + (_HDR + 4 + 2 * (self.count + 1) + bs - 1) // bs)
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
        key = key or self._record_key(s)
        n = len(secret)
        rec[7] = n
        rec[1] = _VERSION
        blob = crypto.seal_with(key, secret, memoryview(rec)[:_SECRET])
        rec[_NONCE:_NONCE + 8] = blob[:8]
        rec[_SECRET:_SECRET + n] = blob[8:8 + n]
        rec[_TAG:_TAG + 16] = blob[8 + n:]
        rec[_CHECK:_REC] = _check(rec)

    def _open(self, rec, s):
        """The plain secret of slot s's record (in the scratch buffer)."""
        n = rec[7]
        if rec[1] == _PLAIN_VERSION:
            return bytes(rec[_SECRET:_SECRET + n])
        if rec[1] == _DK_VERSION:
            tries = (self.keys.legacy_keys(),)
        else:
            tries = (self._record_key(s), self.keys.other_keys(s // _PER))
        if tries[0] is None:
            raise self._locked()
        blob = bytes(rec[_NONCE:_NONCE + 8]) + bytes(rec[_SECRET:_SECRET + n]) + bytes(rec[_TAG:_TAG + 16])
        for key in tries:
            if key is None:
                continue
            try:
                return crypto.unseal_with(key, blob, memoryview(rec)[:_SECRET])
            except crypto.CryptoError:
                pass
        raise StoreError("tampered", "an account record failed its authenticity check")

    def _reseal_bucket(self, b, key):
        """Rewrite bucket b with every listed record resealed under `key`
        (in one write: all or none on a power cut); unlisted slots zeroed."""
        slots = []
        recs = []
        try:
            for s in range(b * _PER, b * _PER + _PER):
                if self._is_used(s):
                    r = self._read(s)
                    secret = self._open(r, s)
                    for i in range(_SECRET, _CHECK):
                        r[i] = 0
                    self._seal_into(r, secret, s, key)
                    slots.append(s)
                    recs.append(bytearray(r))
                    r[:] = _ZERO
            if recs and self._in_place:
                # In place rewrites only the listed slots: zero the rest in
                # the same commit (a deleted record must not stay readable).
                for s in range(b * _PER, b * _PER + _PER):
                    if not self._is_used(s):
                        slots.append(s)
                        recs.append(_ZERO)
            self._write_bucket(b, tuple(slots), recs)
        finally:
            for r in recs:
                if r is not _ZERO:
                    r[:] = _ZERO

    def finish_rekey(self):
        """Complete a bucket's rekey that a power cut interrupted (the keys
        must be open); True if there was one."""
        b = self.keys.pending_bucket if self.keys is not None else None
        if b is None or self.keys.data_key is None:
            return False
        self._reseal_bucket(b, self.keys.next_keys())
        self.keys.end_rekey()
        return True

    def renew(self, progress=None):
        """After a new PIN (keystore.set_pin): reseal every bucket still
        under the old DK under the new one, then drop the old DK. Each
        bucket is one atomic rewrite and opens under either DK, so a cut
        anywhere just means the next unlock goes on from the committed
        mark (every renew_step buckets: a mark costs a key-area commit).
        progress(done, total) after each bucket. True if there was one."""
        keys = self.keys
        m = keys.renewal_mark if keys is not None else None
        if m is None or keys.data_key is None:
            return False
        for b in range(m, self._nb):
            if any(self._is_used(s) for s in range(b * _PER, b * _PER + _PER)):
                self._reseal_bucket(b, keys.renewal_keys(b))
            if (b + 1) % self.renew_step == 0 and b + 1 < self._nb:
                keys.renewed(b + 1)
            if progress is not None:
                progress(b + 1, self._nb)
        keys.end_renewal()
        return True

    def migrate(self, progress=None):
        """Reseal every record of older firmware (version 1, plain; version
        2, under the data key itself) under its bucket key; returns how
        many. Bucket by bucket, each an atomic rewrite, so a cut leaves a
        mix that loads. progress(done, total) after each bucket."""
        if not self.plain and not self.legacy:
            return 0
        done = 0
        for b in range(self._nb):
            old = False
            for s in range(b * _PER, b * _PER + _PER):
                if self._is_used(s) and self._read(s)[1] != _VERSION:
                    old = True
                    done += 1
            self._rec[:] = _ZERO
            if old:
                self._reseal_bucket(b, self._record_key(b * _PER))
            if progress is not None:
                progress(b + 1, self._nb)
        self.plain = 0
        self.legacy = 0
        return done

    # ---- writing ----

    def _failed(self, tmp, e):
        _remove(tmp)
        if e.args and e.args[0] == _ENOSPC:
            raise StoreError("storage_full", "no room on flash")
        raise e

    def _write_index(self, n, parts):
        # A new generation: index.add's entries, in `parts` now, go stale.
        gen = (self._gen + 1) & 0xFF
        hdr = bytearray(_HDR)
        hdr[0:4] = _IX_MAGIC
        hdr[4] = 2
        hdr[5] = gen
        hdr[6] = n >> 8
        hdr[7] = n & 0xFF
        h = sha256(hdr)
        for p in parts:
            h.update(p)
        tmp = self._ipath + ".new"
        try:
            with open(tmp, "wb") as f:
                f.write(hdr)
                for p in parts:
                    f.write(p)
                f.write(h.digest()[:4])
            os.rename(tmp, self._ipath)
        except OSError as e:
            self._failed(tmp, e)
        self._gen = gen
        self._jn = 0
        _remove(self._ipath + ".add")

    def _append_index(self, n, slots):
        """List `slots` after the n listed: index.add entries in one append,
        or, when index.add would pass _JMAX or there is no index yet, the
        whole index rewritten."""
        k = len(slots)
        if self._jn + k > _JMAX:
            tail = bytearray(2 * k)
            for i in range(k):
                tail[2 * i] = slots[i] >> 8
                tail[2 * i + 1] = slots[i] & 0xFF
            self._write_index(n + k, (memoryview(self._order)[:2 * n], tail))
            return
        e = bytearray(4 * k)
        for i in range(k):
            s = slots[i]
            e[4 * i] = s >> 8
            e[4 * i + 1] = s & 0xFF
            e[4 * i + 2] = self._gen
            e[4 * i + 3] = _entry_check(memoryview(e)[4 * i:4 * i + 4])
        try:
            with open(self._ipath + ".add", "ab") as f:
                f.write(e)
        except OSError as err:
            # Part of an entry may be there (not on littlefs): the next add
            # rewrites the index, which drops this file.
            self._jn = _JMAX
            if err.args and err.args[0] == _ENOSPC:
                raise StoreError("storage_full", "no room on flash")
            raise
        self._jn += k

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
                            f.write(buf if src.readinto(buf) == _REC else _ZERO)
                        else:
                            f.write(_ZERO)
            finally:
                if src is not None:
                    src.close()  # before the rename replaces it
            os.rename(tmp, path)
        except OSError as e:
            self._failed(tmp, e)

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
                    f.write(_ZERO)
        except OSError:
            pass  # flash full: removing it is all that is left to do
        _remove(path)

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
            self._append_index(n, one)
            # Committed: only now does RAM learn about it.
            self._put_order(n, s)
            self._set_used(s, True)
            self._hash_slot(s, rec)
            self.count = n + 1
        finally:
            rec[:] = _ZERO  # don't leave the secret in the scratch buffer
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
            self._append_index(n, slots)
            # Committed: only now does RAM learn about them.
            for i in range(k):
                s = slots[i]
                self._put_order(n + i, s)
                self._set_used(s, True)
                self._hash_slot(s, recs[i])
            self.count = n + k
        finally:
            for rec in recs:
                rec[:] = _ZERO  # don't leave secrets in RAM
        return n

    def _record(self, account, pairs, s, rec=None):
        """A checked record for one add_many entry, sealed for slot s (in
        `rec`, else a new buffer), and its (issuer, name) bytes."""
        name, issuer, secret, kind, algorithm, digits, period, counter = account
        nb = _text(name, "name", 1)
        ib = _text(issuer, "issuer", 0)
        if not isinstance(secret, (bytes, bytearray)) or not 1 <= len(secret) <= rules.MAX_SECRET:
            raise _bad("secret must be 1-%d bytes" % rules.MAX_SECRET)
        k = _pick(kind, KINDS, "kind")
        a = _pick(algorithm, ALGORITHMS, "algorithm")
        _int(digits, "digits", rules.DIGITS[k][0], rules.DIGITS[k][1])
        if k == 1:
            period = 0  # hotp has no period
        else:
            _int(period, "period", rules.MIN_PERIOD, rules.MAX_PERIOD)
        _int(counter, "counter", 0, rules.MAX_COUNTER)
        if self._find_pair(ib, nb) >= 0 or (ib, nb) in pairs:
            raise StoreError("name_taken", "an account with that issuer and name exists")
        if rec is None:
            rec = bytearray(_REC)
        else:
            rec[:] = _ZERO
        struct.pack_into(_FMT, rec, 0, _MAGIC, _VERSION, k, a, digits,
                         len(nb), len(ib), len(secret), period, counter)
        rec[_NAME:_NAME + len(nb)] = nb
        rec[_ISSUER:_ISSUER + len(ib)] = ib
        self._seal_into(rec, secret, s)
        return rec, (ib, nb)

    def get(self, index):
        """The whole account at `index`, secret included."""
        return self._account(index, True)

    def _account(self, index, secret):
        s = self._slot(index)
        rec = self._read(s)
        try:
            period, counter = struct.unpack_from(">IQ", rec, 8)
            return Account(index, s,
                           bytes(rec[_NAME:_NAME + rec[5]]).decode(),
                           bytes(rec[_ISSUER:_ISSUER + rec[6]]).decode(),
                           self._open(rec, s) if secret else None,
                           KINDS[rec[2]], ALGORITHMS[rec[3]], rec[4], period, counter)
        finally:
            rec[:] = _ZERO

    def meta(self, index):
        """What a listing shows: everything but the secret (no key needed)."""
        a = self._account(index, False)
        d = {"index": index, "name": a.name, "issuer": a.issuer, "kind": a.kind,
             "algorithm": a.algorithm, "digits": a.digits}
        if a.kind == "hotp":
            d["counter"] = a.counter
        else:
            d["period"] = a.period
        return d

    def find(self, name, issuer=None):
        """Index of an account. With `issuer`: exactly (issuer, name).
        Without: name == `name`, or label "issuer:name" == `name`."""
        # Bytes as add() stores them (surrogate pairs joined); a label is
        # up to issuer + ":" + name long. Control characters are let through
        # so that accounts stored before the rule can still be removed.
        nb = _text(name, "name", 1, 2 * _MAXTEXT + 1, True)
        if issuer is not None:
            s = self._find_pair(_text(issuer, "issuer", 0, _MAXTEXT, True), nb)
            if s < 0:
                raise StoreError("not_found", "no such account")
            return self._pos(s)
        found = []
        for s in self._hits(self._nh, 1, _name_hash(nb)):
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
        try:
            self._write_index(n - 1, parts)
        except StoreError:
            # Flash full (something else filled it): free the old index's
            # block first, or nothing could ever be deleted. A cut in between
            # leaves no index (as does a failure of the second try); the next
            # load rebuilds it from the records: every account kept, but in
            # slot order.
            _remove(self._ipath)
            self._jn = _JMAX
            self._write_index(n - 1, parts)
        # Committed: update RAM, then reseal the bucket without it.
        o = self._order
        _shift(o, 2 * index, 2 * index + 2, 2 * (n - 1 - index))
        o[2 * n - 2] = 0
        o[2 * n - 1] = 0
        self.count = n - 1
        self._set_used(s, False)
        try:
            self.finish_rekey()
        except (OSError, StoreError):
            pass  # the account is gone; the rekey stays pending and finishes later

    def set_counter(self, index, counter):
        """Persist a HOTP counter; show the code only after this returns."""
        _int(counter, "counter", 0, rules.MAX_COUNTER)
        s = self._slot(index)
        rec = self._read(s)
        try:
            secret = self._open(rec, s)
            struct.pack_into(">Q", rec, 12, counter)
            self._seal_into(rec, secret, s)  # the counter is sealed in with it
            self._write_bucket(s // _PER, (s,), (rec,))
        finally:
            rec[:] = _ZERO

    def move(self, index, new_index):
        """Move the account at `index` so that it ends up at `new_index`."""
        s = self._slot(index)
        n = self.count
        if type(new_index) is not int or not 0 <= new_index < n:
            raise _bad("new index out of range")
        if new_index == index:
            return
        mv = memoryview(self._order)
        me = bytes((s >> 8, s & 0xFF))
        i, j = 2 * index, 2 * new_index
        if index < new_index:
            parts = (mv[:i], mv[i + 2:j + 2], me, mv[j + 2:2 * n])
        else:
            parts = (mv[:j], me, mv[j:i], mv[i + 2:2 * n])
        self._write_index(n, parts)
        o = self._order
        if index < new_index:
            _shift(o, i, i + 2, j - i)
        else:
            _shift(o, j + 2, j, i - j)
        o[j:j + 2] = me

    def rename(self, index, name, issuer):
        nb = _text(name, "name", 1)
        ib = _text(issuer, "issuer", 0)
        s = self._slot(index)
        other = self._find_pair(ib, nb)
        if other >= 0 and other != s:
            raise StoreError("name_taken", "an account with that issuer and name exists")
        rec = self._read(s)
        try:
            secret = self._open(rec, s)
            for i in range(_NAME, _CHECK):
                rec[i] = 0
            rec[5] = len(nb)
            rec[6] = len(ib)
            rec[_NAME:_NAME + len(nb)] = nb
            rec[_ISSUER:_ISSUER + len(ib)] = ib
            self._seal_into(rec, secret, s)
            self._write_bucket(s // _PER, (s,), (rec,))
            self._hash_slot(s, rec)
        finally:
            rec[:] = _ZERO

    def wipe(self):
        """Remove every account; returns how many there were."""
        n = self.count
        self._write_index(0, ())
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
        _remove(self.root + "/index.new")
        return n

    def storage(self):
        bs, total, free = self._space()
        self._bs, self._free = bs, free
        return {"total": total * bs, "free": free * bs}
