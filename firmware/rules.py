# What an account may be, defined once for both sides: the token enforces
# these rules (records.py) and the host checks against the same values before
# sending (`from firmware import rules`), so the two can never disagree.
# Pure logic: runs on MicroPython and CPython.
KINDS = ("totp", "hotp", "steam")
ALGORITHMS = ("SHA1", "SHA256", "SHA512")
DIGITS = ((6, 8), (6, 8), (5, 5))  # (low, high) per kind, in KINDS order
STEAM_DIGITS = 5
MIN_PERIOD = 1
MAX_PERIOD = 86400
MAX_SECRET = 64  # bytes
MAX_COUNTER = 0x7FFFFFFFFFFFFFFF  # stored as a signed 64-bit value
MAX_TEXT = 40  # bytes of UTF-8 in a name or an issuer
PER_BUCKET = 16  # account records per bucket file (store.py, reseal.py)
BUCKETS = 240  # bucket keys in the key area (keystore.py): one page of flash
MAX_ACCOUNTS = PER_BUCKET * BUCKETS  # 3840: the most a token can hold
# What `add` assumes for a member left out (the host leaves these out to
# keep requests short; the token fills them in):
ADD_DEFAULTS = {"issuer": "", "kind": "totp", "algorithm": "SHA1", "period": 30, "counter": 0}
# Request sizes, both sides of the wire:
# The lock's and the keyboard's settings (keystore.py, kbdconf.py; the
# host's `pin` and `config` check them before sending).
PIN_MIN = 4  # digits
PIN_MAX = 16
TRIES_MIN = 3  # wrong PINs before the erase
TRIES_MAX = 15
LOCK_MAX_S = 86400  # lock again after this long without a press, at most
MIN_INTERVAL_MS = 2  # between key reports: the USB frame is 1 ms, a boot
MAX_INTERVAL_MS = 200  # keyboard is polled every 1-10 ms

# In the data directory: asks the next boot (once) to stay at the REPL
# (MicroPython) or to give the drive back (CircuitPython). Here, not in
# factory.py, so a boot can look for it without loading the boot modes.
MAINTENANCE_FLAG = "maintenance"

# The token's serial number: on its label, in `info`, on the maintenance
# screen and in every export for an MFA server. It is a hash of the chip's
# unique id, so a wipe, a factory reset or a firmware update never changes
# it (serialno.py on the token). SERIAL_PREFIX, then SERIAL_DIGITS characters
# of Crockford's base32, which has no I, L, O or U to misread on a label:
# 50 bits, so two tokens of a fleet of millions still differ.
SERIAL_PREFIX = "TT"
SERIAL_DIGITS = 10
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SERIAL_DOMAIN = b"totp-token serial number\x00"  # this hash is for nothing else

LIST_PAGE = 8  # accounts per `list` reply: under frames.MAX_REPLY with 40-byte names
ADD_MANY = PER_BUCKET  # accounts per `add-many`: one bucket's worth, all or none


def default_digits(kind):
    """The usual code length of `kind` (what `add` assumes without digits)."""
    return STEAM_DIGITS if kind == "steam" else 6


def digits_range(kind):
    """(low, high) digit count for `kind`; ValueError for an unknown kind."""
    for i in range(len(KINDS)):
        if KINDS[i] == kind:
            return DIGITS[i]
    raise ValueError("kind must be one of " + "/".join(KINDS))


def _put(out, o):
    # One code point as UTF-8, by hand: both interpreters agree byte for byte.
    if o < 0x80:
        out.append(o)
    elif o < 0x800:
        out.append(0xC0 | o >> 6)
        out.append(0x80 | o & 0x3F)
    elif o < 0x10000:
        out.append(0xE0 | o >> 12)
        out.append(0x80 | o >> 6 & 0x3F)
        out.append(0x80 | o & 0x3F)
    else:
        out.append(0xF0 | o >> 18)
        out.append(0x80 | o >> 12 & 0x3F)
        out.append(0x80 | o >> 6 & 0x3F)
        out.append(0x80 | o & 0x3F)


def check_text(value, what, min_bytes, max_bytes=MAX_TEXT, controls=False):
    """The UTF-8 bytes of a name or issuer, or ValueError. No control
    characters (C0, DEL, C1): they would reach the user's terminal. A UTF-16
    surrogate pair becomes its one character: MicroPython's json decodes the
    \\ud83d\\ude00 escapes of an emoji as two separate halves. A lone half is
    refused. Messages never repeat the value. controls=True lets control
    characters through: for looking up names stored before this rule."""
    if not isinstance(value, str):
        raise ValueError(what + " must be text")
    out = bytearray()
    high = 0  # a pending first half of a surrogate pair
    pos = 0
    for ch in value:
        o = ord(ch)
        pos += 1
        if high:
            if not 0xDC00 <= o <= 0xDFFF:
                break
            o = 0x10000 + ((high - 0xD800) << 10) + (o - 0xDC00)
            high = 0
        elif 0xD800 <= o <= 0xDBFF:
            high = o
            continue
        elif 0xDC00 <= o <= 0xDFFF:
            high = -1
            break
        if (o < 0x20 or 0x7F <= o <= 0x9F) and not controls:
            raise ValueError("%s contains a control character (character %d)" % (what, pos))
        _put(out, o)
        if len(out) > max_bytes:
            break  # too long: no need to look further
    if high:
        raise ValueError(what + " is not valid UTF-8 text (half a UTF-16 surrogate pair)")
    if not min_bytes <= len(out) <= max_bytes:
        raise ValueError("%s must be %d-%d bytes of UTF-8" % (what, min_bytes, max_bytes))
    return bytes(out)


def serial_number(uid, sha256):
    """The serial number of the chip whose unique id is `uid` (bytes).
    sha256 is the hash constructor: the token passes digests.sha256, the
    host hashlib.sha256 (this module imports nothing, for the host's sake)."""
    d = sha256(_SERIAL_DOMAIN + bytes(uid)).digest()
    out = SERIAL_PREFIX
    acc = bits = i = 0
    for _ in range(SERIAL_DIGITS):
        if bits < 5:  # small numbers only: no big int on a 32-bit port
            acc = (acc << 8 | d[i]) & 0x1FFF
            bits += 8
            i += 1
        bits -= 5
        out += SERIAL_ALPHABET[acc >> bits & 31]
    return out
