# One account record: its 192-byte layout, the checks an account's fields
# pass before they are written, and the seal on its secret. Buffers only:
# which file a record lives in and which key seals it are the store's
# (store.py, which asks the keystore).
#
# Record, big-endian; an all-zero record is a free slot:
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
# older firmware still load and are resealed by Store.migrate(): version 1
# (plain secret) and version 2 (sealed under HMAC(data key, "records")).
import struct
from digests import sha256

import crypto
import rules

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# Private, so inlined where used and no global each (a public one costs
# heap): store.py and reseal.py repeat what they need of them, and
# tests/sim/test_names.py holds the copies equal.
_REC = const(192)          # bytes per record
_VERSION = const(3)
_PLAIN_VERSION = const(1)  # before encryption at rest
_DK_VERSION = const(2)     # sealed under HMAC(data key, "records"): before bucket keys
_NAME = const(20)          # field offsets
_ISSUER = const(60)
_MAGIC = const(0x54)
_SECRET = const(100)
_NONCE = const(164)
_TAG = const(172)
_CHECK = const(188)
_MAXTEXT = const(40)       # field widths; rules.MAX_TEXT/MAX_SECRET fit them
_MAXSECRET = const(64)

KINDS = rules.KINDS
ALGORITHMS = rules.ALGORITHMS
_FMT = ">BBBBBBBBIQ"       # the fixed fields at offset 0
ZERO = bytes(_REC)  # a free slot's record; one copy for every module


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


def bad(message):
    return StoreError("bad_args", message)


def text(v, what, low, high=_MAXTEXT, controls=False):
    # rules.check_text: one rule for names on both sides (see rules.py).
    try:
        return rules.check_text(v, what, low, high, controls)
    except ValueError as e:
        raise bad(e.args[0])


def integer(v, what, low, high):
    # type() rather than isinstance(): True is not a digit count.
    if type(v) is not int or not low <= v <= high:
        raise bad("%s must be an integer in %d..%d" % (what, low, high))
    return v


def _pick(v, options, what):
    for i in range(len(options)):
        if v == options[i]:
            return i
    raise bad(what + " must be one of " + "/".join(options))


def pair_hash(issuer, name):
    # 16 bits, never 0, so zeroed entries of free slots never match.
    h = sha256(issuer)
    h.update(b"\x00")
    h.update(name)
    d = h.digest()
    return (d[0] << 8 | d[1]) or 1


def name_hash(name):
    return sha256(name).digest()[0] or 1


def _check(rec):
    return sha256(memoryview(rec)[:_CHECK]).digest()[:4]


def valid(rec):
    # Field ranges too: a record that passes must also unpack.
    return (rec[0] == _MAGIC and _PLAIN_VERSION <= rec[1] <= _VERSION and rec[2] < 3
            and rec[3] < 3 and 1 <= rec[5] <= _MAXTEXT and rec[6] <= _MAXTEXT
            and 1 <= rec[7] <= _MAXSECRET and rec[_CHECK:_REC] == _check(rec))


def checked(account):
    """Check an add's fields (name, issuer, secret, kind, algorithm, digits,
    period, counter); returns its (issuer, name) bytes, for the caller's
    duplicate check, which comes before fill() (it reads records)."""
    name, issuer, secret, kind, algorithm, digits, period, counter = account
    nb = text(name, "name", 1)
    ib = text(issuer, "issuer", 0)
    if not isinstance(secret, (bytes, bytearray)) or not 1 <= len(secret) <= rules.MAX_SECRET:
        raise bad("secret must be 1-%d bytes" % rules.MAX_SECRET)
    k = _pick(kind, KINDS, "kind")
    _pick(algorithm, ALGORITHMS, "algorithm")
    integer(digits, "digits", rules.DIGITS[k][0], rules.DIGITS[k][1])
    if k != 1:  # hotp has no period
        integer(period, "period", rules.MIN_PERIOD, rules.MAX_PERIOD)
    integer(counter, "counter", 0, rules.MAX_COUNTER)
    return ib, nb


def fill(rec, account, pair):
    """Write a checked account (its checked() pair) into rec, all but the
    secret, which seal_into() adds."""
    secret = account[2]
    k = _pick(account[3], KINDS, "kind")
    ib, nb = pair
    rec[:] = ZERO
    struct.pack_into(_FMT, rec, 0, _MAGIC, _VERSION, k, _pick(account[4], ALGORITHMS, "algorithm"),
                     account[5], len(nb), len(ib), len(secret), 0 if k == 1 else account[6],
                     account[7])
    rec[_NAME:_NAME + len(nb)] = nb
    rec[_ISSUER:_ISSUER + len(ib)] = ib


def relabel(rec, nb, ib):
    """New name and issuer bytes (checked) in rec; the secret needs sealing
    again after this (it is cleared with the rest)."""
    for i in range(_NAME, _CHECK):
        rec[i] = 0
    rec[5] = len(nb)
    rec[6] = len(ib)
    rec[_NAME:_NAME + len(nb)] = nb
    rec[_ISSUER:_ISSUER + len(ib)] = ib


def set_counter(rec, counter):
    struct.pack_into(">Q", rec, 12, counter)


def unpack(index, slot, rec, secret):
    """The Account in rec; `secret` is its opened secret, or None."""
    period, counter = struct.unpack_from(">IQ", rec, 8)
    return Account(index, slot,
                   bytes(rec[_NAME:_NAME + rec[5]]).decode(),
                   bytes(rec[_ISSUER:_ISSUER + rec[6]]).decode(),
                   secret, KINDS[rec[2]], ALGORITHMS[rec[3]], rec[4], period, counter)


def seal_into(rec, secret, key, clear=False):
    """Encrypt `secret` into rec (whose other fields are final) under `key`
    and stamp the check. `clear`: zero the sealed bytes first (a reseal: no
    byte of the old key's may linger)."""
    if clear:
        for i in range(_SECRET, _CHECK):
            rec[i] = 0
    n = len(secret)
    rec[7] = n
    rec[1] = _VERSION
    blob = crypto.seal_with(key, secret, memoryview(rec)[:_SECRET])
    rec[_NONCE:_NONCE + 8] = blob[:8]
    rec[_SECRET:_SECRET + n] = blob[8:8 + n]
    rec[_TAG:_TAG + 16] = blob[8 + n:]
    rec[_CHECK:_REC] = _check(rec)


def open_secret(rec, tries):
    """The plain secret of rec: as it is (version 1), else opened under the
    first of the keys `tries` (None: no such key) that opens it."""
    n = rec[7]
    if rec[1] == _PLAIN_VERSION:
        return bytes(rec[_SECRET:_SECRET + n])
    blob = bytes(rec[_NONCE:_NONCE + 8]) + bytes(rec[_SECRET:_SECRET + n]) + bytes(rec[_TAG:_TAG + 16])
    for key in tries:
        if key is None:
            continue
        try:
            return crypto.unseal_with(key, blob, memoryview(rec)[:_SECRET])
        except crypto.CryptoError:
            pass
    raise StoreError("tampered", "an account record failed its authenticity check")
