# Cryptographic primitives for the PIN and encryption at rest. Runs unchanged
# on MicroPython (unix, rp2, esp32), CircuitPython and CPython; the host has
# an independent twin in host_tools/tokencrypto.py and the tests hold the two
# against each other.
#
#   hmac_sha256(key, msg)                          -> 32 bytes
#   pbkdf2_sha256(password, salt, iterations, dklen=32)   (RFC 8018)
#   prepare_pbkdf2()                               its native loop compiled now
#   subkey(key, label)                             -> hmac_sha256(key, label)
#   ctr_xor(key32, nonce8, data)                   AES-256-CTR, counter block
#                                                  nonce8 || 8 zero bytes, +1
#                                                  (128-bit big-endian) a block
#   ctr_xor_counter(key32, counter16, data)        the same from any counter
#   seal(key32, plaintext, aad=b"", nonce=None)    nonce8 || ct || tag16
#   unseal(key32, blob, aad=b"")                   plaintext, or CryptoError
#   seal_keys(key32)                               derived once for ...
#   seal_with(keys, ...), unseal_with(keys, ...)   ... many seals: same output
#   seal_into(keys, ...), unseal_into(keys, ...)   the same into a buffer given
#                                                  (a 4 KB table, no copies)
#   equal(a, b)                                    constant-time comparison
#   random_bytes(n)
#
# seal: enc_key = subkey(key, b"enc"), mac_key = subkey(key, b"mac"),
# ct = ctr_xor(enc_key, nonce, plaintext), tag = first 16 bytes of
# hmac_sha256(mac_key, len(aad) as 2 bytes big-endian || aad || nonce || ct).
# Encrypt-then-MAC: unseal checks the tag before decrypting anything.
#
# The AES block cipher is the port's own when there is one (cryptolib on
# MicroPython, aesio on CircuitPython), else aes.py. Set NATIVE_AES = False
# to force aes.py (the tests compare the two). PBKDF2's iterations run as
# native code (kdfloop.py) where the port compiles viper; NATIVE_KDF = False
# keeps them on hashlib (the tests compare the two too).
import os

from digests import hmac_padded, hmac_pads

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SEAL_OVERHEAD = const(24)  # nonce (8) + tag (16)
KEY_SIZE = const(32)
NONCE_SIZE = const(8)
TAG_SIZE = const(16)
_DIGEST = const(32)
_BLOCK = const(16)
_AAD_MAX = const(0xFFFF)  # its length travels in two bytes

NATIVE_AES = True  # module-level switch: False forces the pure-Python AES
NATIVE_KDF = True  # False: PBKDF2 through hashlib even where kdfloop compiles


class CryptoError(Exception):
    """Sealed data that is not authentic under this key and aad (or is too
    short to be sealed data). Messages never carry key or data bytes."""


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104, RFC 4231) of msg under key; 32 bytes."""
    new, ipad, opad = hmac_pads("SHA256", key)
    return hmac_padded(new, ipad, opad, msg)


def subkey(key, label):
    """A key for one purpose, derived from key by its label (bytes)."""
    return hmac_sha256(key, label)


def _as_bytes(v):
    # A PIN may arrive as text: UTF-8, on both sides.
    return v.encode() if isinstance(v, str) else v


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    """PBKDF2 with HMAC-SHA256 (RFC 8018 section 5.2); dklen bytes."""
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError("iterations must be an integer >= 1")
    if not isinstance(dklen, int) or dklen < 1:
        raise ValueError("dklen must be an integer >= 1")
    new, ipad, opad = hmac_pads("SHA256", _as_bytes(password))
    salt = _as_bytes(salt)
    n = len(salt)
    # salt || INT(i), built once; only the block index changes.
    first = bytearray(n + 4)
    first[0:n] = salt
    out = bytearray(dklen)
    # Native iterations where the port compiles them (see kdfloop.py): they
    # allocate nothing, which on a full heap is most of the unlock's time.
    # Imported here, not at boot: its source and code take RAM only once a
    # PIN is entered.
    native = False
    if NATIVE_KDF:
        import kdfloop
        native = kdfloop.available()
    block = 0
    while block * _DIGEST < dklen:
        block += 1
        first[n] = (block >> 24) & 0xFF
        first[n + 1] = (block >> 16) & 0xFF
        first[n + 2] = (block >> 8) & 0xFF
        first[n + 3] = block & 0xFF
        start = (block - 1) * _DIGEST
        take = min(_DIGEST, dklen - start)
        if native:
            kdfloop.block(new, ipad, opad, first, iterations, out, start, take)
            continue
        u = hmac_padded(new, ipad, opad, first)
        # The accumulator is one 256-bit int: a single XOR in C per
        # iteration, about twice as fast on MicroPython as a 32-step byte
        # loop. The pads are reused, so each iteration is just the two
        # hashes (no copy() in MicroPython's hashlib to save even those).
        from_bytes = int.from_bytes  # one lookup, not one per iteration
        acc = from_bytes(u, "big")
        for _ in range(iterations - 1):
            h = new(ipad)
            h.update(u)
            h2 = new(opad)
            h2.update(h.digest())
            u = h2.digest()
            acc ^= from_bytes(u, "big")
        out[start:start + take] = acc.to_bytes(_DIGEST, "big")[:take]
    return bytes(out)


def prepare_pbkdf2():
    """Compile PBKDF2's native iterations now if the port can (kdfloop.py;
    about 0.3 s on rp2, once), so the first unlock after boot doesn't wait
    for it. Called while a PIN is being typed."""
    if NATIVE_KDF:
        import kdfloop
        kdfloop.available()


_backend = None  # (NATIVE_AES it was found for, kind, module)


def _find_backend():
    # Found once: on rp2 an import of a built-in module first looks for a
    # file of that name on flash, about 8 ms each time (it made seal() 27 ms).
    global _backend
    if _backend is None or _backend[0] != NATIVE_AES:
        found = None
        if NATIVE_AES:
            # Each port lacks the module the other one has; the static check
            # (typecheck/) is told so on these two lines only.
            try:
                import cryptolib  # pyright: ignore[reportMissingImports] not on CircuitPython
                found = ("cryptolib", cryptolib)
            except ImportError:
                try:
                    import aesio  # pyright: ignore[reportMissingImports] not on MicroPython
                    found = ("aesio", aesio)
                except ImportError:
                    pass
        if found is None:
            import aes
            found = ("python", aes)
        _backend = (NATIVE_AES, found[0], found[1])
    return _backend


def aes_backend():
    """Which block cipher ctr_xor uses now: "cryptolib", "aesio" or "python"."""
    return _find_backend()[1]


def _block_encryptor(key):
    # A function (src16, dst16) encrypting one block under key with AES-256.
    b = _find_backend()
    if b[1] == "cryptolib":
        return b[2].aes(key, 1).encrypt  # 1: ECB
    if b[1] == "aesio":
        return b[2].AES(key, b[2].MODE_ECB).encrypt_into
    return b[2].AES(key).encrypt_block


def ctr_xor(key32, nonce8, data, out=None):
    """AES-256-CTR: data XOR the key stream from counter block nonce8 || 0*8.
    The same call encrypts and decrypts. Returns bytes (or out, if given)."""
    if len(nonce8) != NONCE_SIZE:
        raise ValueError("the nonce must be 8 bytes")
    counter = bytearray(_BLOCK)
    counter[0:NONCE_SIZE] = nonce8
    return ctr_xor_counter(key32, counter, data, out)


def ctr_xor_counter(key32, counter16, data, out=None):
    """AES-256-CTR from any 16-byte initial counter block (as in NIST
    SP 800-38A's vectors); ctr_xor is this with nonce8 || 0*8. With `out`
    (a writable buffer of len(data)), the result goes there and out is
    returned; else it is new bytes."""
    if len(key32) != KEY_SIZE:
        raise ValueError("the key must be 32 bytes")
    if len(counter16) != _BLOCK:
        raise ValueError("the counter block must be 16 bytes")
    n = len(data)
    if not n:
        return out if out is not None else b""
    given = out is not None
    if not given:
        out = bytearray(n)
    encrypt = _block_encryptor(key32)
    counter = bytearray(counter16)
    stream = bytearray(_BLOCK)
    for start in range(0, n, _BLOCK):
        encrypt(counter, stream)
        for i in range(min(_BLOCK, n - start)):
            out[start + i] = data[start + i] ^ stream[i]
        # Big-endian increment over all 16 bytes, carrying into the nonce
        # and wrapping at 2**128 (as the `cryptography` package's CTR does).
        i = _BLOCK - 1
        while i >= 0:
            counter[i] = (counter[i] + 1) & 0xFF
            if counter[i]:
                break
            i -= 1
    return out if given else bytes(out)


def equal(a, b):
    """a == b in time that depends on the length only, not on the contents."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def random_bytes(n):
    """n bytes from the port's random source."""
    return os.urandom(n)


def _check_key_aad(key32, aad):
    if len(key32) != KEY_SIZE:
        raise ValueError("the key must be 32 bytes")
    if len(aad) > _AAD_MAX:
        raise ValueError("aad is limited to 65535 bytes")


def _tag(mac_pads, aad, nonce, ct):
    # HMAC of len(aad) || aad || nonce || ct, fed in pieces: no copy of a
    # long ct (a 4 KB table would need 4 KB more of contiguous heap).
    new, ipad, opad = mac_pads
    a = len(aad)
    inner = new(ipad)
    inner.update(bytes((a >> 8, a & 0xFF)))
    inner.update(aad)
    inner.update(nonce)
    inner.update(ct)
    outer = new(opad)
    outer.update(inner.digest())
    return outer.digest()[:TAG_SIZE]


def seal_keys(key32):
    """What seal and unseal derive from key32 (the enc key and the mac key's
    HMAC pads), worked out once for callers that seal many times under one
    key: each derivation is about 3 ms on an RP2040."""
    if len(key32) != KEY_SIZE:
        raise ValueError("the key must be 32 bytes")
    return (subkey(key32, b"enc"), hmac_pads("SHA256", subkey(key32, b"mac")))


def seal(key32, plaintext, aad=b"", nonce=None):
    """Encrypt and authenticate plaintext (bound to aad) under key32.
    Returns nonce || ciphertext || tag: SEAL_OVERHEAD bytes longer."""
    _check_key_aad(key32, aad)
    return seal_with(seal_keys(key32), plaintext, aad, nonce)


def seal_with(keys, plaintext, aad=b"", nonce=None):
    """seal() under seal_keys(key32): the same output."""
    if len(aad) > _AAD_MAX:
        raise ValueError("aad is limited to 65535 bytes")
    if nonce is None:
        nonce = random_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise ValueError("the nonce must be 8 bytes")
    ct = ctr_xor(keys[0], nonce, plaintext)
    return bytes(nonce) + ct + _tag(keys[1], aad, nonce, ct)


def seal_into(keys, plaintext, aad, out):
    """seal_with() into `out` (a writable buffer, SEAL_OVERHEAD bytes longer
    than plaintext), allocating nothing of plaintext's size."""
    n = len(plaintext)
    if len(out) != n + SEAL_OVERHEAD:
        raise ValueError("out must be the sealed size")
    mv = memoryview(out)
    nonce = random_bytes(NONCE_SIZE)
    mv[:NONCE_SIZE] = nonce
    ct = mv[NONCE_SIZE:NONCE_SIZE + n]
    ctr_xor(keys[0], nonce, plaintext, ct)
    mv[NONCE_SIZE + n:] = _tag(keys[1], aad, nonce, ct)
    return out


def unseal_into(keys, blob, aad, out):
    """unseal_with() into `out` (len(blob) - SEAL_OVERHEAD bytes)."""
    n = len(blob) - SEAL_OVERHEAD
    if n < 0 or len(out) != n:
        raise CryptoError("sealed data too short")
    mv = memoryview(blob)
    nonce = bytes(mv[:NONCE_SIZE])
    ct = mv[NONCE_SIZE:NONCE_SIZE + n]
    if not equal(_tag(keys[1], aad, nonce, ct), mv[NONCE_SIZE + n:]):
        raise CryptoError("sealed data failed authentication")
    ctr_xor(keys[0], nonce, ct, out)
    return out


def unseal(key32, blob, aad=b""):
    """The plaintext of seal(key32, plaintext, aad); CryptoError when blob was
    not sealed under this key and aad, or was changed."""
    _check_key_aad(key32, aad)
    return unseal_with(seal_keys(key32), blob, aad)


def unseal_with(keys, blob, aad=b""):
    """unseal() under seal_keys(key32)."""
    if len(aad) > _AAD_MAX:
        raise ValueError("aad is limited to 65535 bytes")
    if len(blob) < SEAL_OVERHEAD:
        raise CryptoError("sealed data too short")
    nonce = blob[:NONCE_SIZE]
    ct = blob[NONCE_SIZE:len(blob) - TAG_SIZE]
    tag = blob[len(blob) - TAG_SIZE:]
    if not equal(_tag(keys[1], aad, nonce, ct), tag):
        raise CryptoError("sealed data failed authentication")
    return ctr_xor(keys[0], nonce, ct)
