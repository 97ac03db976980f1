# The token's keys and lock state, kept in one file `keys` in the data dir.
# Pure logic over the filesystem (os) and crypto.py; no hardware.
#
# A random 32-byte data key (DK) encrypts every account secret (store.py).
# DK is stored only wrapped: sealed under a wrapping key W. Without a PIN, W
# is all zeros (DK is then as good as plain on flash, but turning the PIN on
# later only re-wraps DK). With a PIN:
#     KEK = PBKDF2-HMAC-SHA256(PIN digits, salt, iterations)
#     W   = HMAC(KEK, "wrap")        unwraps DK; never stored
#     V   = HMAC(KEK, "transport")   stored; keys the host exchange
# The host proves the PIN by sending W sealed under a key made from V and a
# fresh challenge (docs/security.md); the button path derives W itself.
#
# Retry counter: decremented and committed to flash BEFORE a PIN is checked,
# so a power cut during a check costs the try. A right PIN resets it; the
# last wrong one erases the token (erase()).
#
# File (KEYS_SIZE bytes, so littlefs keeps it in blocks of its own rather
# than inline in directory metadata, where a scrub of the free flash,
# erase.scrub_free(), could not reach its old copies). Big-endian:
#     0 b"TKKY"  4 version 1  5 flags  6 tries_max  7 tries_left
#     8 iterations u32  12 lock_after_s u32  16 salt[16]
#    32 wrapped DK [32 + 24]  88 verifier V[32]  120 zeros
#   KEYS_SIZE-4 check: sha256(bytes before it)[:4]
# Written as keys.new, then renamed over keys (atomic).
import os
import struct
from digests import sha256

import crypto

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

KEYS_SIZE = const(1024)
_HDR = const(32)
_WRAPPED = const(56)
_V = const(32)
_ENOSPC = const(28)

F_PIN = const(1)          # a PIN is set
F_LIST_PRIVATE = const(2)  # `list` needs the PIN too
F_ERASED = const(4)       # erased after the last wrong PIN; cleared by a new start
F_WIPING = const(8)       # a wipe is under way: finish it at the next load

PIN_MIN = const(4)
PIN_MAX = const(16)
TRIES_MIN = const(3)
TRIES_MAX = const(15)
TRIES_DEFAULT = const(8)
LOCK_DEFAULT_S = const(300)
LOCK_MAX_S = const(86400)
_ZERO_KEY = bytes(32)
_MAGIC = b"TKKY"


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


def session_key(v, challenge):
    return crypto.hmac_sha256(v, b"session" + challenge)


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
    try:
        os.remove(path)
    except OSError:
        pass


class Keystore:
    def __init__(self, root, iterations):
        self.root = root
        self.path = root + "/keys"
        self.default_iterations = iterations
        self.data_key = None      # DK while the screen or a host session is unlocked
        self.screen_unlocked = False
        self.challenge = None     # the one pending host challenge
        self._rk = None           # request key of the host session
        self._w = None            # W of the host session (re-wraps DK on wipe)
        self.seq = 0
        self.created = False      # a new DK was made at this load
        self.pending_wipe = False  # the store must be wiped (interrupted wipe)
        _remove(self.path + ".new")
        if not self._read():
            self._fresh(0)
            self.created = True
        elif self.flags & F_WIPING:
            self.pending_wipe = True
        if not self.pin:
            self._unwrap(_ZERO_KEY)
            self.screen_unlocked = True

    # ---- file ----

    def _read(self):
        try:
            with open(self.path, "rb") as f:
                b = f.read(KEYS_SIZE)
        except OSError:
            return False
        if len(b) != KEYS_SIZE or b[:4] != _MAGIC or b[4] != 1 \
                or sha256(b[:KEYS_SIZE - 4]).digest()[:4] != b[KEYS_SIZE - 4:]:
            return False
        self.flags = b[5]
        self.tries_max = b[6]
        self.tries_left = b[7]
        self.iterations, self.lock_after_s = struct.unpack_from(">II", b, 8)
        self.salt = bytes(b[16:32])
        self.wrapped = bytes(b[_HDR:_HDR + _WRAPPED])
        self.verifier = bytes(b[_HDR + _WRAPPED:_HDR + _WRAPPED + _V])
        return True

    def _write(self):
        b = bytearray(KEYS_SIZE)
        b[:4] = _MAGIC
        b[4] = 1
        b[5] = self.flags
        b[6] = self.tries_max
        b[7] = self.tries_left
        struct.pack_into(">II", b, 8, self.iterations, self.lock_after_s)
        b[16:32] = self.salt
        b[_HDR:_HDR + _WRAPPED] = self.wrapped
        b[_HDR + _WRAPPED:_HDR + _WRAPPED + _V] = self.verifier
        b[KEYS_SIZE - 4:] = sha256(b[:KEYS_SIZE - 4]).digest()[:4]
        tmp = self.path + ".new"
        try:
            with open(tmp, "wb") as f:
                f.write(b)
            os.rename(tmp, self.path)
        except OSError as e:
            _remove(tmp)
            if e.args and e.args[0] == _ENOSPC:
                raise AuthError("storage_full", "no room on flash for the key file")
            raise

    def _fresh(self, flags, w=_ZERO_KEY, v=None, salt=None, tries_max=None, lock_after=None):
        """A new random data key wrapped under w (crypto-erases the old)."""
        dk = crypto.random_bytes(32)
        self.flags = flags
        self.tries_max = tries_max or getattr(self, "tries_max", 0) or TRIES_DEFAULT
        self.tries_left = self.tries_max
        self.iterations = getattr(self, "iterations", 0) or self.default_iterations
        self.lock_after_s = LOCK_DEFAULT_S if lock_after is None else lock_after
        self.salt = salt or bytes(16)
        self.verifier = v or bytes(_V)
        self.wrapped = crypto.seal(w, dk, b"dk")
        self._write()
        self.data_key = dk

    def _unwrap(self, w):
        """DK under w, or None."""
        try:
            dk = crypto.unseal(w, self.wrapped, b"dk")
        except crypto.CryptoError:
            return None
        self.data_key = dk
        return dk

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
    def session(self):
        return self._rk is not None

    def summary(self):
        return {"pin": self.pin, "tries_left": self.tries_left, "tries_max": self.tries_max,
                "locked": self.pin and not self.screen_unlocked,
                "lock_after_s": self.lock_after_s, "list_private": self.list_private,
                "erased": self.erased}

    def _forget(self):
        """Drop DK from RAM unless something still needs it."""
        if self.pin and not self.screen_unlocked and self._rk is None:
            self.data_key = None

    def lock_screen(self):
        if self.pin:
            self.screen_unlocked = False
            self._forget()

    def end_session(self):
        self._rk = None
        self._w = None
        self.challenge = None
        self._forget()

    # ---- PIN checks (button and host share the counter) ----

    def _spend_try(self):
        """Commit one try to flash before any check runs."""
        if self.tries_left < 1:
            raise AuthError("erased", "no tries left", 0)
        self.tries_left -= 1
        self._write()

    def _verdict(self, dk):
        if dk is None:
            left = self.tries_left
            if left == 0:
                # The caller finishes the erase (store, free flash) on "erased".
                self.erase()
                raise AuthError("erased", "wrong PIN: that was the last try; the token erased itself", 0)
            raise AuthError("wrong_pin", "wrong PIN", left)
        if self.tries_left != self.tries_max:
            self.tries_left = self.tries_max
            self._write()

    def unlock_with_pin(self, pin):
        """The button path: derive W from the digits and open DK."""
        if not self.pin:
            self.screen_unlocked = True
            return
        self._spend_try()
        w, _ = derive(pin, self.salt, self.iterations)
        dk = self._unwrap(w)
        self._verdict(dk)
        self.screen_unlocked = True

    def new_challenge(self):
        self.end_session()
        self.challenge = crypto.random_bytes(16)
        return self.challenge

    def authenticate(self, challenge, sealed_w):
        """The host path: W sealed under the session key of the pending
        challenge. Opens a session on success."""
        if not self.pin:
            raise AuthError("no_pin", "no PIN is set")
        pending = self.challenge
        self.challenge = None  # one use, right or wrong
        if pending is None or not crypto.equal(pending, challenge):
            raise AuthError("auth_failed", "unknown or used challenge: ask for a new one")
        self._spend_try()
        sk = session_key(self.verifier, pending)
        dk = None
        try:
            w = crypto.unseal(sk, sealed_w, pending)
            dk = self._unwrap(w)
        except crypto.CryptoError:
            pass
        self._verdict(dk)
        self._rk = request_key(sk)
        self._w = w
        self.seq = 0

    def check_request(self, seq, mac, signed):
        """True when (seq, mac) authenticate the request bytes `signed`."""
        if self._rk is None:
            raise AuthError("auth_required", "authenticate with the PIN first")
        if seq <= self.seq or not crypto.equal(request_mac(self._rk, seq, signed), mac):
            raise AuthError("auth_failed", "request authentication failed")
        self.seq = seq

    def open_sealed(self, blob, aad):
        """Arguments the host sealed under the session (a new PIN)."""
        try:
            return crypto.unseal(self._rk, blob, aad)
        except crypto.CryptoError:
            raise AuthError("auth_failed", "sealed argument does not authenticate")

    # ---- changes (the caller has checked authority) ----

    def set_pin(self, salt, w, v):
        """Wrap DK under a new W (first PIN or a change)."""
        dk = self.data_key
        if dk is None:
            raise AuthError("auth_required", "the token is locked")
        self.wrapped = crypto.seal(w, dk, b"dk")
        self.salt = bytes(salt)
        self.verifier = bytes(v)
        self.iterations = self.iterations or self.default_iterations
        self.flags = (self.flags | F_PIN) & ~F_ERASED
        self.tries_left = self.tries_max
        self._write()
        self.screen_unlocked = True
        self.end_session()

    def remove_pin(self):
        dk = self.data_key
        if dk is None:
            raise AuthError("auth_required", "the token is locked")
        self.wrapped = crypto.seal(_ZERO_KEY, dk, b"dk")
        self.salt = bytes(16)
        self.verifier = bytes(_V)
        self.flags &= ~(F_PIN | F_LIST_PRIVATE)
        self.tries_left = self.tries_max
        self._write()
        self.screen_unlocked = True
        self.end_session()

    def configure(self, tries_max=None, lock_after_s=None, list_private=None):
        if tries_max is not None:
            self.tries_max = tries_max
            self.tries_left = tries_max
        if lock_after_s is not None:
            self.lock_after_s = lock_after_s
        if list_private is not None:
            self.flags = (self.flags | F_LIST_PRIVATE) if list_private else (self.flags & ~F_LIST_PRIVATE)
        self._write()

    def clear_erased(self):
        if self.flags & F_ERASED:
            self.flags &= ~F_ERASED
            self._write()

    def begin_wipe(self):
        """Crypto-erase for `wipe`: a new DK (under the same PIN when one is
        set and this session knows W) replaces the old one in one rename, so
        the records are unreadable from here on. The caller then wipes the
        store and calls end_wipe()."""
        w = self._w if (self.pin and self._w is not None) else _ZERO_KEY
        flags = (self.flags & (F_PIN | F_LIST_PRIVATE)) if w is not _ZERO_KEY else 0
        v = self.verifier if flags & F_PIN else None
        salt = self.salt if flags & F_PIN else None
        self._fresh(flags | F_WIPING, w, v, salt, self.tries_max, self.lock_after_s)
        if not self.pin:
            self.screen_unlocked = True

    def erase(self):
        """The last wrong PIN: everything goes, PIN included."""
        self._fresh(F_ERASED | F_WIPING, tries_max=self.tries_max)
        self.end_session()
        self.screen_unlocked = True

    def end_wipe(self):
        self.flags &= ~F_WIPING
        self.pending_wipe = False
        self._write()
