# The token's keys and lock state, in the key area (keyarea.py: one page,
# two flash pages erased in place, so an old state does not outlive its
# replacement on the chip). docs/security.md is the specification.
#
# Keys. A random 32-byte data key DK, stored only wrapped under W:
#     KEK = PBKDF2-HMAC-SHA256(PIN digits, salt, iterations)
#     W   = HMAC(KEK, "wrap")        unwraps DK; never stored
#     V   = HMAC(KEK, "transport")   stored; binds the host exchange to the PIN
# Without a PIN, W is 32 zero bytes. Under DK, a table of BUCKETS random
# 16-byte bucket keys: the records of store bucket b are sealed under
#     K_b = HMAC(DK, "bucket" || b (u16) || bucket key b)
# A delete gives its bucket a new key and reseals the bucket's other records
# (store.py), so every old copy of the deleted record, wherever littlefs left
# it, is under a key that no longer exists. A wipe or the last wrong PIN
# makes a new DK and table: everything before is unreadable at once.
# A new PIN (set or changed) brings a new DK too (a renewal), so whoever read
# the flash before, without a PIN or knowing the old one, cannot open what
# is added afterwards: the old DK stays in the page (wrapped under the new W)
# only while store.renew() reseals the records bucket by bucket, buckets
# below the renewal mark under the new DK, the rest under the old; the bucket
# keys stay, K_b changes with DK. Older firmware's DK is replaced the same
# way when its records are moved under the bucket keys.
#
# Host logins (docs/security.md): an X25519 key agreement per login, the
# token's half made fresh for each challenge and kept in RAM only
# (ephemeral.py), so a recording of the exchange plus a dump of the flash
# still lack the agreed secret Z.
#
# Retry counter: decremented and committed (with F_ATTEMPT) BEFORE a PIN is
# checked, so a power cut during a check costs the try; the verdict's own
# commit clears F_ATTEMPT after the failure is logged (on_failure), and a
# load that finds it set logs the check a cut interrupted. A right PIN
# resets the counter; a load that finds a PIN with no tries left finishes
# the erase the last try decided (doomed).
#
# Page (big-endian; keyarea.py fills magic, format, sequence and check):
#     0 b"TKKA"  4 format  5 flags  6 tries_max  7 tries_left  8 sequence u32
#    12 iterations u32  16 lock_after_s u32  20 bucket being rekeyed u16
#    22 renewal mark u16 (0: none; m: buckets below m - 1 are under the new DK)
#    24 salt[16]  40 V[32]  72 seal(W, DK, "dk") [56]
#   128 seal(HMAC(DK, "table"), next key[16] || bucket keys[BUCKETS x 16], "table")
#  4008 seal(W, old DK, "dk") [56] during a renewal, else zeros
#  4092 check
# Older firmware's key file (`keys`, magic TKKY) is read once and replaced:
# its DK is kept, the records it sealed (version 2) are resealed under the
# bucket keys at the first unlock (F_LEGACY), then the free flash is
# scrubbed, since old copies of that file hold DK.
import struct

import crypto
import rules
from digests import sha256
from keypages import PAGE

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

F_PIN = const(1)           # a PIN is set
F_LIST_PRIVATE = const(2)  # `list` needs the PIN too
F_ERASED = const(4)        # erased after the last wrong PIN; cleared by a new start
F_WIPING = const(8)        # a wipe is under way: the store still holds old records
F_SCRUB = const(16)        # the free flash is to be overwritten
F_LEGACY = const(32)       # records of older firmware may still be under HMAC(DK, "records")
F_ATTEMPT = const(64)      # a PIN check is under way (its try is spent)

PIN_MIN, PIN_MAX = rules.PIN_MIN, rules.PIN_MAX
TRIES_MIN, TRIES_MAX = rules.TRIES_MIN, rules.TRIES_MAX
TRIES_DEFAULT = const(8)
LOCK_DEFAULT_S = const(300)
LOCK_MAX_S = rules.LOCK_MAX_S
SESSION_IDLE_MS = const(300000)  # a host session ends after 5 min without a signed request
BUCKETS = rules.BUCKETS
NO_BUCKET = const(0xFFFF)

_FLAGS = const(5)
_TRIES_MAX = const(6)
_TRIES_LEFT = const(7)
_ITER = const(12)
_LOCK = const(16)
_PENDING = const(20)
_RENEW = const(22)
_SALT = const(24)
_V = const(40)
_WRAPPED = const(72)
_TABLE = const(128)
_TABLE_PLAIN = 16 + 16 * BUCKETS
_TABLE_SEALED = _TABLE_PLAIN + crypto.SEAL_OVERHEAD
_OLD = _TABLE + _TABLE_SEALED
_WRAP_LEN = const(56)
_ENOSPC = const(28)
_ZERO_KEY = bytes(32)
_LEGACY_MAGIC = b"TKKY"
_LEGACY_SIZE = const(1024)


class AuthError(Exception):
    """code: wrong_pin, erased, auth_failed, auth_required, no_pin, pin_set.
    The message never carries key material or PIN digits."""

    def __init__(self, code, message, tries_left=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.tries_left = tries_left


def kek_parts(kek):
    """(W, V) from a key-encryption key."""
    return crypto.subkey(kek, b"wrap"), crypto.subkey(kek, b"transport")


def derive(pin, salt, iterations):
    """(W, V) for a PIN (digits as str or bytes)."""
    if isinstance(pin, str):
        pin = pin.encode()
    return kek_parts(crypto.pbkdf2_sha256(pin, salt, iterations, 32))


def session_key(v, challenge, token_public, host_public, z):
    """S: binds the session to the PIN (V) and to this login's agreed Z."""
    return crypto.hmac_sha256(v, b"session" + challenge + token_public + host_public + z)


def first_pin_key(z, challenge, token_public, host_public):
    """Seals the first PIN (pin-set) against anyone who only listened."""
    return crypto.hmac_sha256(z, b"pin-set" + challenge + token_public + host_public)


def request_key(sk):
    return crypto.hmac_sha256(sk, b"requests")


def request_mac(rk, seq, signed):
    """MAC of one authenticated request: seq (u32) + the request line up to
    its auth member."""
    h = bytearray(4 + len(signed))
    h[0] = (seq >> 24) & 0xFF
    h[1] = (seq >> 16) & 0xFF
    h[2] = (seq >> 8) & 0xFF
    h[3] = seq & 0xFF
    h[4:] = signed
    return crypto.hmac_sha256(rk, h)[:16]


def check_pin_text(pin):
    if not isinstance(pin, str) or not PIN_MIN <= len(pin) <= PIN_MAX:
        raise AuthError("bad_args", "a PIN is %d-%d digits" % (PIN_MIN, PIN_MAX))
    for c in pin:
        if c < "0" or c > "9":
            raise AuthError("bad_args", "a PIN is %d-%d digits" % (PIN_MIN, PIN_MAX))
    return pin


def _remove(path):
    import os
    try:
        os.remove(path)
    except OSError:
        pass


def _read_legacy(path):
    """Older firmware's key file, or None."""
    try:
        with open(path, "rb") as f:
            b = f.read(_LEGACY_SIZE)
    except OSError:
        return None
    if len(b) != _LEGACY_SIZE or b[:4] != _LEGACY_MAGIC or b[4] != 1 \
            or sha256(b[:_LEGACY_SIZE - 4]).digest()[:4] != b[_LEGACY_SIZE - 4:]:
        return None
    return b


class Keystore:
    def __init__(self, area, iterations, legacy_path=None, ephemeral=None,
                 ticks_ms=None, ticks_diff=None):
        """area: a keyarea.KeyArea; legacy_path: where older firmware kept
        its key file; ephemeral: an ephemeral.Ephemeral (host logins)."""
        self.area = area
        self.default_iterations = iterations
        self.ephemeral = ephemeral
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self.listen(None, None)
        self.data_key = None      # DK while the screen or a host session is unlocked
        self._old_dk = None       # the DK a renewal replaces, while it runs
        self._table = None        # the bucket keys, with DK
        self._cache = {}          # bucket -> seal keys of its record key
        self.version = 0          # bumped whenever a record key may have changed
        self.screen_unlocked = False
        self.challenge = None     # the one pending host challenge
        self._mine = None         # its (private, public) X25519 half
        self._rk = None           # request key of the host session
        self._w = None            # W of the host session (re-wraps DK on wipe)
        self.seq = 0
        self.session_at = 0
        self.created = False      # a new DK was made at this load
        self.migrated = False     # the key file of older firmware was taken over
        if not area.load():
            legacy = _read_legacy(legacy_path) if legacy_path else None
            if legacy is not None:
                self._from_legacy(legacy)
                self.migrated = True
            else:
                self._fresh(0)
                self.created = True
        if legacy_path:
            _remove(legacy_path)  # (after the commit: a cut before it reads it again)
        if not self.pin:
            self._unwrap(_ZERO_KEY)
            self.screen_unlocked = True

    # ---- the page ----

    @property
    def page(self):
        return self.area.buf

    @property
    def flags(self):
        return self.page[_FLAGS]

    def _set_flags(self, on=0, off=0):
        self.page[_FLAGS] = (self.page[_FLAGS] | on) & ~off & 0xFF

    @property
    def tries_max(self):
        return self.page[_TRIES_MAX]

    @property
    def tries_left(self):
        return self.page[_TRIES_LEFT]

    @property
    def iterations(self):
        return struct.unpack_from(">I", self.page, _ITER)[0]

    @property
    def lock_after_s(self):
        return struct.unpack_from(">I", self.page, _LOCK)[0]

    @property
    def salt(self):
        return bytes(self.page[_SALT:_SALT + 16])

    @property
    def verifier(self):
        return bytes(self.page[_V:_V + 32])

    def _commit(self):
        try:
            self.area.commit()
        except OSError as e:
            if e.args and e.args[0] == _ENOSPC:
                raise AuthError("storage_full", "no room on flash for the key area")
            raise

    def _fresh(self, flags, w=_ZERO_KEY, v=None, salt=None, tries_max=None, lock_after=None):
        """A new DK and bucket table under w, committed: crypto-erases the
        old ones (their only copy was the page just erased)."""
        p = self.page
        old_max = p[_TRIES_MAX] if self.area.seq else 0
        old_iter = self.iterations if self.area.seq else 0
        for i in range(PAGE):
            p[i] = 0
        p[_FLAGS] = flags
        p[_TRIES_MAX] = p[_TRIES_LEFT] = tries_max or old_max or TRIES_DEFAULT
        struct.pack_into(">IIH", p, _ITER, old_iter or self.default_iterations,
                         LOCK_DEFAULT_S if lock_after is None else lock_after, NO_BUCKET)
        p[_SALT:_SALT + 16] = salt or bytes(16)
        p[_V:_V + 32] = v or bytes(32)
        dk = crypto.random_bytes(32)
        p[_WRAPPED:_WRAPPED + 56] = crypto.seal(w, dk, b"dk")
        table = bytearray(_TABLE_PLAIN)
        table[16:] = crypto.random_bytes(_TABLE_PLAIN - 16)
        self._old_dk = None
        self._keep(dk, table)
        self._seal_table()
        self._commit()

    def _from_legacy(self, b):
        """The page from older firmware's key file: its DK (still wrapped),
        PIN and settings; the table is made at the first unlock."""
        p = self.page
        p[_FLAGS] = (b[5] & (F_PIN | F_LIST_PRIVATE | F_ERASED | F_WIPING)) | F_LEGACY
        p[_TRIES_MAX] = b[6]
        p[_TRIES_LEFT] = b[7]
        p[_ITER:_ITER + 8] = b[8:16]  # iterations, lock_after_s
        struct.pack_into(">H", p, _PENDING, NO_BUCKET)
        p[_SALT:_SALT + 16] = b[16:32]
        p[_WRAPPED:_WRAPPED + 56] = b[32:88]
        p[_V:_V + 32] = b[88:120]
        self._commit()

    def _keep(self, dk, table):
        self.data_key = dk
        self._table = table
        self._cache = {}
        self.version += 1

    def _table_keys(self, dk):
        return crypto.seal_keys(crypto.subkey(dk, b"table"))

    def _seal_table(self):
        # Straight into the page: the table is 4 KB, the heap small.
        crypto.seal_into(self._table_keys(self.data_key), self._table, b"table",
                         memoryview(self.page)[_TABLE:_TABLE + _TABLE_SEALED])

    def _unwrap(self, w):
        """DK (and the table) under w, or None."""
        p = self.page
        try:
            dk = crypto.unseal(w, bytes(p[_WRAPPED:_WRAPPED + 56]), b"dk")
        except crypto.CryptoError:
            return None
        sealed = memoryview(p)[_TABLE:_TABLE + _TABLE_SEALED]
        if self.flags & F_LEGACY and not any(sealed[:crypto.NONCE_SIZE]):
            # Taken over from older firmware: a first table, and a new DK
            # (old copies of its key file hold the old one); the old stays
            # beside it until its records are moved (end_legacy).
            table = bytearray(_TABLE_PLAIN)
            table[16:] = crypto.random_bytes(_TABLE_PLAIN - 16)
            self._wrap_new(w, dk)
            self._keep(self.data_key, table)
            self._seal_table()
            self._commit()
            return self.data_key
        table = bytearray(_TABLE_PLAIN)
        try:
            crypto.unseal_into(self._table_keys(dk), sealed, b"table", table)
            old = None
            if any(p[_OLD:_OLD + _WRAP_LEN]):
                old = crypto.unseal(w, bytes(p[_OLD:_OLD + _WRAP_LEN]), b"dk")
        except crypto.CryptoError:
            raise AuthError("tampered", "the key area failed its authenticity check")
        self._old_dk = old
        self._keep(dk, table)
        return dk

    def _wrap_new(self, w, old):
        """A new DK in the page under w, the old one beside it; in RAM both."""
        p = self.page
        dk = crypto.random_bytes(32)
        p[_WRAPPED:_WRAPPED + _WRAP_LEN] = crypto.seal(w, dk, b"dk")
        p[_OLD:_OLD + _WRAP_LEN] = crypto.seal(w, old, b"dk")
        self.data_key = dk
        self._old_dk = old

    # ---- state ----

    @property
    def pin(self):
        return bool(self.flags & F_PIN)

    @property
    def erased(self):
        return bool(self.flags & F_ERASED)

    @property
    def list_private(self):
        return bool(self.flags & F_LIST_PRIVATE)

    @property
    def wiping(self):
        return bool(self.flags & F_WIPING)

    @property
    def scrub_due(self):
        return bool(self.flags & F_SCRUB)

    @property
    def legacy(self):
        return bool(self.flags & F_LEGACY)

    @property
    def doomed(self):
        """A PIN with no tries left: the last try's erase was cut short."""
        return self.pin and self.tries_left == 0

    @property
    def session(self):
        return self._rk is not None

    def summary(self):
        return {"pin": self.pin, "tries_left": self.tries_left, "tries_max": self.tries_max,
                "locked": self.pin and not self.screen_unlocked,
                "lock_after_s": self.lock_after_s, "list_private": self.list_private,
                "erased": self.erased}

    def _forget(self):
        """Drop DK and the table from RAM unless something still needs them."""
        if self.pin and not self.screen_unlocked and self._rk is None:
            self.data_key = None
            self._old_dk = None
            self._table = None
            self._cache = {}
            self.version += 1

    def lock_screen(self):
        if self.pin:
            self.screen_unlocked = False
            self._forget()

    def end_session(self):
        self._rk = None
        self._w = None
        self.challenge = None
        self._mine = None
        self._forget()

    def session_idle(self, now):
        """True when a host session has gone SESSION_IDLE_MS without a
        signed request (or its login)."""
        return self._rk is not None and self._ticks_diff(now, self.session_at) > SESSION_IDLE_MS

    def _touch(self):
        if self._ticks_ms is not None:
            self.session_at = self._ticks_ms()

    # ---- the record keys (store.py asks) ----

    def _bucket_keys(self, b, key16, dk=None):
        return crypto.seal_keys(crypto.hmac_sha256(
            dk or self.data_key, b"bucket" + bytes((b >> 8, b & 0xFF)) + key16))

    def _dk_of(self, b):
        """The DK bucket b is under: during a renewal, the old one above the mark."""
        m = self.renewal_mark
        if m is not None and b >= m and self._old_dk is not None:
            return self._old_dk
        return self.data_key

    def seal_keys(self, b):
        """Seal keys for the records of bucket b, or None while locked."""
        if self.data_key is None:
            return None
        keys = self._cache.get(b)
        if keys is None:
            t = self._table
            keys = self._bucket_keys(b, bytes(t[16 + 16 * b:32 + 16 * b]), self._dk_of(b))
            if len(self._cache) >= 4:  # a few buckets' worth: a fragmented heap notices
                self._cache = {}
            self._cache[b] = keys
        return keys

    def other_keys(self, b):
        """The other key bucket b's records may be under after a cut: its
        next key during its rekey, the other DK during a renewal."""
        if self.data_key is None:
            return None
        if self.pending_bucket == b:
            return self.next_keys()
        if self.renewal_mark is not None and self._old_dk is not None:
            dk = self.data_key if self._dk_of(b) is self._old_dk else self._old_dk
            return self._bucket_keys(b, bytes(self._table[16 + 16 * b:32 + 16 * b]), dk)
        return None

    # ---- renewal: a new DK under a new PIN (store.renew reseals) ----

    @property
    def renewal_mark(self):
        """None, or the first bucket still under the old DK."""
        m = struct.unpack_from(">H", self.page, _RENEW)[0]
        return None if m == 0 else m - 1

    def renewal_keys(self, b):
        """Seal keys for bucket b under the new DK."""
        return self._bucket_keys(b, bytes(self._table[16 + 16 * b:32 + 16 * b]))

    def renewed(self, b):
        """Buckets below b are under the new DK: commit the mark."""
        struct.pack_into(">H", self.page, _RENEW, b + 1)
        self._commit()
        self._cache = {}

    def end_renewal(self):
        """Every record is under the new DK: the old leaves the chip."""
        p = self.page
        for i in range(_OLD, _OLD + _WRAP_LEN):
            p[i] = 0
        struct.pack_into(">H", p, _RENEW, 0)
        self._commit()
        self._old_dk = None
        self._cache = {}
        self.version += 1

    @property
    def pending_bucket(self):
        b = struct.unpack_from(">H", self.page, _PENDING)[0]
        return None if b == NO_BUCKET else b

    def next_keys(self):
        """Seal keys under the pending bucket's next key (during a rekey)."""
        b = self.pending_bucket
        if b is None or self.data_key is None:
            return None
        return self._bucket_keys(b, bytes(self._table[:16]))

    def legacy_keys(self):
        """Seal keys of older firmware's records (version 2)."""
        if self.data_key is None:
            return None
        return crypto.seal_keys(crypto.subkey(self._old_dk or self.data_key, b"records"))

    def begin_rekey(self, b):
        """Commit a next key for bucket b (a delete's first step)."""
        self._table[:16] = crypto.random_bytes(16)
        struct.pack_into(">H", self.page, _PENDING, b)
        self._seal_table()
        self._commit()

    def end_rekey(self):
        """The pending bucket's records are under its next key: that key
        becomes its key, and the old one leaves the chip with this commit."""
        b = self.pending_bucket
        t = self._table
        t[16 + 16 * b:32 + 16 * b] = t[:16]
        for i in range(16):
            t[i] = 0
        struct.pack_into(">H", self.page, _PENDING, NO_BUCKET)
        self._seal_table()
        self._commit()
        self._cache = {}
        self.version += 1

    def want_scrub(self):
        """Old copies of something secret linger in free flash: overwrite it
        (the main loop does, and a cut scrub resumes at the next boot)."""
        self._set_flags(F_SCRUB, 0)
        self._commit()

    def end_legacy(self):
        """Every record is under a bucket key (and the new DK) now; old
        copies of the legacy key file still hold the old DK, which opens
        only the old records' copies: the free flash is scrubbed next."""
        p = self.page
        for i in range(_OLD, _OLD + _WRAP_LEN):
            p[i] = 0
        self._set_flags(F_SCRUB, F_LEGACY)
        self._commit()
        self._old_dk = None

    # ---- PIN checks (button and host share the counter) ----

    def _spend_try(self):
        """Commit one try to flash before any check runs."""
        if self.tries_left < 1:
            raise AuthError("erased", "no tries left", 0)
        self.page[_TRIES_LEFT] -= 1
        self._set_flags(F_ATTEMPT)
        self._commit()

    def _verdict(self, dk):
        if dk is None:
            left = self.tries_left
            if left == 0:
                e = AuthError("erased", "wrong PIN: that was the last try; the token erased itself", 0)
                self._failed(e)
                self.erase()
                if self.on_erased is not None:
                    self.on_erased()  # the records now; the free flash from the main loop
                raise e
            e = AuthError("wrong_pin", "wrong PIN", left)
            self._failed(e)
            self._set_flags(0, F_ATTEMPT)
            self._commit()
            raise e
        self.page[_TRIES_LEFT] = self.tries_max
        self._set_flags(0, F_ATTEMPT)
        self._commit()

    def _failed(self, e):
        if self.on_failure is not None:
            self.on_failure(e)

    def finish_interrupted(self):
        """At start-up: a check that a power cut stopped after its try was
        spent is logged now (its verdict never came)."""
        if self.flags & F_ATTEMPT:
            self._failed(None)
            self._set_flags(0, F_ATTEMPT)
            self._commit()

    def ready_for_pin(self):
        """A PIN is being typed on the button: do now what its check needs
        done once (compiling the native PBKDF2 loop)."""
        crypto.prepare_pbkdf2()

    def unlock_with_pin(self, pin):
        """The button path: derive W from the digits and open DK."""
        if not self.pin:
            self.screen_unlocked = True
            return
        self._spend_try()
        w, _ = derive(pin, self.salt, self.iterations)
        self._verdict(self._unwrap(w))
        self.screen_unlocked = True
        self._opened()

    def listen(self, on_failure, on_open, on_erased=None):
        """on_failure(AuthError, or None for a check a cut interrupted): log
        a spent try before its verdict commits; on_open(): the keys were
        just opened by a PIN; on_erased(): the last wrong PIN has just erased
        the keys (the token finishes the erase there, whichever path the PIN
        came by: button or host)."""
        self.on_failure = on_failure
        self.on_open = on_open
        self.on_erased = on_erased

    def _opened(self):
        if self.on_open is not None:
            self.on_open()

    def new_challenge(self):
        """(challenge, the token's public half) for a login or a first PIN."""
        self.end_session()
        self._mine = self.ephemeral.take()
        self.challenge = crypto.random_bytes(16)
        return self.challenge, self._mine[1]

    def _agree(self, challenge, host_public):
        """The pending challenge's agreed secret with the host's half, or
        AuthError. The challenge is spent either way."""
        pending = self.challenge
        mine = self._mine
        self.challenge = None  # one use, right or wrong
        self._mine = None
        if pending is None or mine is None or not crypto.equal(pending, challenge):
            raise AuthError("auth_failed", "unknown or used challenge: ask for a new one")
        from x25519 import shared
        try:
            z = shared(mine[0], host_public)
        except ValueError:
            raise AuthError("auth_failed", "the host's public key is not usable")
        return pending, mine[1], z

    def authenticate(self, challenge, host_public, sealed_w):
        """The host path: W sealed under the session key of the pending
        challenge. Opens a session on success."""
        if not self.pin:
            raise AuthError("no_pin", "no PIN is set")
        c, mine, z = self._agree(challenge, host_public)  # tests no PIN: costs no try
        sk = session_key(self.verifier, c, mine, host_public, z)
        self._spend_try()
        dk = None
        w = None
        try:
            w = crypto.unseal(sk, sealed_w, c)
            dk = self._unwrap(w)
        except crypto.CryptoError:
            pass
        self._verdict(dk)
        self._rk = request_key(sk)
        self._w = w
        self.seq = 0
        self._touch()
        self._opened()

    def open_first_pin(self, challenge, host_public, sealed):
        """(salt, W, V) of a first PIN, sealed under the pending challenge's
        agreed secret."""
        c, mine, z = self._agree(challenge, host_public)
        try:
            plain = crypto.unseal(first_pin_key(z, c, mine, host_public), sealed, b"pin-set")
        except crypto.CryptoError:
            raise AuthError("auth_failed", "sealed argument does not authenticate")
        if len(plain) != 80:
            raise AuthError("auth_failed", "sealed argument has the wrong size")
        return plain[:16], plain[16:48], plain[48:80]

    def check_request(self, seq, mac, signed):
        """True when (seq, mac) authenticate the request bytes `signed`."""
        if self._rk is None:
            raise AuthError("auth_required", "authenticate with the PIN first")
        if seq <= self.seq or not crypto.equal(request_mac(self._rk, seq, signed), mac):
            raise AuthError("auth_failed", "request authentication failed")
        self.seq = seq
        self._touch()

    def open_sealed(self, blob, aad):
        """Arguments the host sealed under the session (a new PIN)."""
        try:
            return crypto.unseal(self._rk, blob, aad)
        except crypto.CryptoError:
            raise AuthError("auth_failed", "sealed argument does not authenticate")

    # ---- changes (the caller has checked authority) ----

    def set_pin(self, salt, w, v):
        """A new PIN (the first or a change): a new DK under the new W, the
        old DK beside it until store.renew() has resealed every record and
        calls end_renewal(). The page with DK under the old W (or the zero
        key) is erased by this commit."""
        dk = self.data_key
        if dk is None:
            raise AuthError("auth_required", "the token is locked")
        if self.renewal_mark is not None or self.pending_bucket is not None or self.legacy:
            raise AuthError("busy", "the token is still resealing its accounts")
        p = self.page
        self._wrap_new(w, dk)
        self._keep(self.data_key, self._table)
        self._seal_table()
        struct.pack_into(">H", p, _RENEW, 1)
        p[_SALT:_SALT + 16] = salt
        p[_V:_V + 32] = v
        if not self.iterations:
            struct.pack_into(">I", p, _ITER, self.default_iterations)
        self._set_flags(F_PIN, F_ERASED)
        p[_TRIES_LEFT] = self.tries_max
        try:
            self._commit()
        except AuthError:
            self.area.load()  # not committed: back to the page on flash and its DK
            self.data_key = dk
            self._old_dk = None
            self._cache = {}
            self.version += 1
            raise
        self.screen_unlocked = True
        self.end_session()

    def remove_pin(self):
        dk = self.data_key
        if dk is None:
            raise AuthError("auth_required", "the token is locked")
        if self.renewal_mark is not None or self.legacy:
            raise AuthError("busy", "the token is still resealing its accounts")
        p = self.page
        p[_WRAPPED:_WRAPPED + 56] = crypto.seal(_ZERO_KEY, dk, b"dk")
        p[_SALT:_SALT + 48] = bytes(48)  # salt and V
        self._set_flags(0, F_PIN | F_LIST_PRIVATE)
        p[_TRIES_LEFT] = self.tries_max
        self._commit()
        self.screen_unlocked = True
        self.end_session()

    def configure(self, tries_max=None, lock_after_s=None, list_private=None):
        p = self.page
        if tries_max is not None:
            p[_TRIES_MAX] = p[_TRIES_LEFT] = tries_max
        if lock_after_s is not None:
            struct.pack_into(">I", p, _LOCK, lock_after_s)
        if list_private is not None:
            if list_private:
                self._set_flags(F_LIST_PRIVATE)
            else:
                self._set_flags(0, F_LIST_PRIVATE)
        self._commit()

    def clear_erased(self):
        if self.flags & F_ERASED:
            self._set_flags(0, F_ERASED)
            self._commit()

    def begin_wipe(self, scrub=False):
        """Crypto-erase for `wipe`: a new DK and table (under the same PIN
        when one is set and this session knows W) replace the old in one
        commit. The caller then wipes the store and calls end_wipe()."""
        w = self._w if (self.pin and self._w is not None) else _ZERO_KEY
        flags = (self.flags & (F_PIN | F_LIST_PRIVATE)) if w is not _ZERO_KEY else 0
        v = self.verifier if flags & F_PIN else None
        salt = self.salt if flags & F_PIN else None
        self._fresh(flags | F_WIPING | (F_SCRUB if scrub else 0), w, v, salt,
                    self.tries_max, self.lock_after_s)
        if not self.pin:
            self.screen_unlocked = True

    def erase(self):
        """The last wrong PIN: everything goes, PIN included."""
        self._fresh(F_ERASED | F_WIPING | F_SCRUB, tries_max=self.tries_max)
        self.end_session()
        self.screen_unlocked = True

    def end_wipe(self):
        self._set_flags(0, F_WIPING)
        self._commit()

    def end_scrub(self):
        self._set_flags(0, F_SCRUB)
        self._commit()

    def destroy(self):
        """The factory reset: both pages erased, every key gone."""
        self.area.destroy()
        self.data_key = None
        self._table = None
        self._cache = {}
        self.version += 1
