# One-time password engine: HMAC, HOTP (RFC 4226), TOTP (RFC 6238), Steam.
# Pure logic shared by the firmware and the host simulator: runs unchanged on
# MicroPython (unix, rp2, esp32) and CPython.
#
#   hotp(secret, counter, digits=6, algorithm="SHA1")      -> "755224"
#   totp(secret, unix_time, period=30, digits=6, algorithm="SHA1")
#   steam(secret, unix_time, period=30)                     -> "2TC8B"
#   generate(kind, algorithm, digits, secret, counter)      (counter = moving factor)
#
# HMAC is digests.py's (the PIN and encryption stack uses it too).
from digests import hmac_digest
from rules import ALGORITHMS, KINDS  # noqa: F401 (re-exported: defined once there)

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MIN_DIGITS = const(1)
MAX_DIGITS = const(10)  # the 31-bit truncated value has at most 10 digits
STEAM_CHARS = "23456789BCDFGHJKMNPQRTVWXY"
STEAM_LEN = const(5)
_COUNTER_LIMIT = 1 << 64  # the moving factor is an unsigned 64-bit number


def _check_digits(digits):
    if not isinstance(digits, int) or digits < MIN_DIGITS or digits > MAX_DIGITS:
        raise ValueError("digits must be an integer from %d to %d, got %r"
                         % (MIN_DIGITS, MAX_DIGITS, digits))


def _counter_bytes(counter):
    # 8-byte big-endian by hand: struct.pack(">Q") and small-int paths are
    # not reliable for values above 2**30/2**62 on every MicroPython port.
    if not isinstance(counter, int) or counter < 0 or counter >= _COUNTER_LIMIT:
        raise ValueError("counter must be an integer from 0 to 2**64-1, got %r"
                         % (counter,))
    out = bytearray(8)
    for i in range(7, -1, -1):
        out[i] = counter & 0xFF
        counter >>= 8
    return out


def _truncate(secret, counter, algorithm):
    # RFC 4226 dynamic truncation: 31 bits starting at the offset given by
    # the low nibble of the last byte.
    h = hmac_digest(algorithm, secret, _counter_bytes(counter))
    o = h[-1] & 0x0F
    return ((h[o] & 0x7F) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]


def _hotp(secret, counter, digits, algorithm):
    _check_digits(digits)
    code = str(_truncate(secret, counter, algorithm) % (10 ** digits))
    # Zero-pad by hand: plain and portable across MicroPython builds.
    return "0" * (digits - len(code)) + code


def _steam(secret, counter):
    # Steam Guard: the same 31-bit value, written as 5 base-26 "digits",
    # least significant first, in Steam's alphabet. Always SHA1.
    v = _truncate(secret, counter, "SHA1")
    chars = []
    for _ in range(STEAM_LEN):
        chars.append(STEAM_CHARS[v % 26])
        v //= 26
    return "".join(chars)


def _time_counter(unix_time, period):
    if not isinstance(period, int) or period < 1:
        raise ValueError("period must be an integer >= 1, got %r" % (period,))
    # int() accepts CPython's float time.time(); T0 is 0.
    t = int(unix_time)
    if t < 0:
        raise ValueError("unix_time must be >= 0, got %r" % (unix_time,))
    return t // period


def hotp(secret, counter, digits=6, algorithm="SHA1"):
    """HOTP code for the given counter, zero-padded to `digits` characters."""
    return _hotp(secret, counter, digits, algorithm)


def totp(secret, unix_time, period=30, digits=6, algorithm="SHA1"):
    """TOTP code at Unix time `unix_time` (seconds, T0 = 0)."""
    return _hotp(secret, _time_counter(unix_time, period), digits, algorithm)


def steam(secret, unix_time, period=30):
    """Steam Guard code (5 characters) at Unix time `unix_time`."""
    return _steam(secret, _time_counter(unix_time, period))


def generate(kind, algorithm, digits, secret, counter):
    """Code for one account. `counter` is the moving factor already: the HOTP
    counter, or unix_time // period for totp and steam. For steam, digits and
    algorithm are ignored (Steam is always 5 characters of SHA1)."""
    if kind == "totp" or kind == "hotp":
        return _hotp(secret, counter, digits, algorithm)
    if kind == "steam":
        return _steam(secret, counter)
    raise ValueError("unknown kind %r (expected totp, hotp or steam)" % (kind,))
