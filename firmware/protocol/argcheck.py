# Checks on a request's arguments, shared by the command families: each
# returns the value or raises the bad_args CommandError the host shows.
import binascii

import frames
from service import CommandError


def bad(message):
    return CommandError(frames.E_BAD_ARGS, message)


def text(args, key, default=None, required=False):
    v = args.get(key, default)
    if v is None and required:
        raise bad("missing '%s'" % key)
    if v is not None and not isinstance(v, str):
        raise bad("'%s' must be a string" % key)
    return v


def hexbytes(args, key, size):
    """Exactly size bytes, sent as hex."""
    v = text(args, key, required=True)
    try:
        b = binascii.unhexlify(v)
    except Exception:
        raise bad("'%s' must be hex" % key)
    if len(b) != size:
        raise bad("'%s' must be %d bytes" % (key, size))
    return b


def integer(args, key, default=None, lo=None, hi=None):
    v = args.get(key, default)
    if v is None:
        raise bad("missing '%s'" % key)
    if not isinstance(v, int) or isinstance(v, bool):  # json's true is an int to Python
        raise bad("'%s' must be an integer" % key)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise bad("'%s' out of range" % key)
    return v


def number(args, key, lo, hi):
    """An optional number (int or float) in lo..hi, else None. MicroPython's
    json reads 1e400 as inf: refused here, before it can reach a reply
    (bare inf is not JSON) or a stored file."""
    v = args.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad("'%s' must be a number" % key)
    if not lo <= v <= hi:  # nan fails every comparison
        raise bad("'%s' out of range" % key)
    return v


def flag(args, key, default=None):
    """An optional true/false: default when left out, never null."""
    if key not in args:
        return default
    v = args[key]
    if not isinstance(v, bool):
        raise bad("'%s' must be true or false" % key)
    return v
