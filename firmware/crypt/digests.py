# The hash constructors the firmware uses: the port's hashlib where it has
# them (MicroPython, CPython, CircuitPython with SSL), else our sha.py (the
# CircuitPython builds without hashlib, e.g. on the RP2040 boards).
try:
    import hashlib
except ImportError:
    hashlib = None

sha1 = getattr(hashlib, "sha1", None)
sha256 = getattr(hashlib, "sha256", None)
if sha1 is None or sha256 is None:
    import sha
    sha1 = sha1 or sha.sha1
    sha256 = sha256 or sha.sha256


# HMAC (RFC 2104), for the codes (otp.py) and the PIN and encryption stack
# (crypto.py): MicroPython has no hmac module and no SHA-512, so it is done
# here and SHA-512 comes from sha512.py (used on CPython too, so tests cover it).
def hash_and_block(algorithm):
    # Returns (constructor, block size). Looked up per call rather than at
    # import so a port lacking sha1 can still import this module.
    if algorithm == "SHA1":
        fn = sha1
        block = 64
    elif algorithm == "SHA256":
        fn = sha256
        block = 64
    elif algorithm == "SHA512":
        # Imported on first use: its round constants cost RAM that a token
        # without SHA-512 accounts never needs to spend.
        from sha512 import sha512
        return sha512, 128
    else:
        raise ValueError("unknown algorithm %r (expected SHA1, SHA256 or SHA512)"
                         % (algorithm,))
    if fn is None:
        raise ValueError("algorithm %s is not available in this port's hashlib"
                         % algorithm)
    return fn, block


def hmac_pads(algorithm, key):
    """The key-dependent half of HMAC (RFC 2104): (hash constructor, ipad,
    opad). Worked out once when many messages share a key, as in PBKDF2."""
    new, block = hash_and_block(algorithm)
    if len(key) > block:
        # Over-long keys are replaced by their hash, as RFC 2104 says.
        key = new(key).digest()
    n = len(key)
    ipad = bytearray(block)
    opad = bytearray(block)
    for i in range(block):
        k = key[i] if i < n else 0
        ipad[i] = k ^ 0x36
        opad[i] = k ^ 0x5C
    return new, ipad, opad


def hmac_padded(new, ipad, opad, msg):
    """HMAC of msg from hmac_pads()' result; returns bytes."""
    # Fresh objects each time: MicroPython's digest() finalises the object
    # and its hash objects have no copy().
    inner = new(ipad)
    inner.update(msg)
    outer = new(opad)
    outer.update(inner.digest())
    return outer.digest()


def hmac_digest(algorithm, key, msg):
    """HMAC (RFC 2104) of msg under key with the named hash; returns bytes."""
    new, ipad, opad = hmac_pads(algorithm, key)
    return hmac_padded(new, ipad, opad, msg)
