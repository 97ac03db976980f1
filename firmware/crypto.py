# INTERIM (replaced by the crypto branch): same API, minimal code.
import hashlib
import os

SEAL_OVERHEAD = 24


class CryptoError(Exception):
    pass


def hmac_sha256(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    ipad = bytearray(64)
    opad = bytearray(64)
    for i in range(64):
        k = key[i] if i < len(key) else 0
        ipad[i] = k ^ 0x36
        opad[i] = k ^ 0x5C
    h = hashlib.sha256(ipad)
    h.update(msg)
    o = hashlib.sha256(opad)
    o.update(h.digest())
    return o.digest()


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    u = hmac_sha256(password, bytes(salt) + b"\x00\x00\x00\x01")
    acc = bytearray(u)
    for _ in range(iterations - 1):
        u = hmac_sha256(password, u)
        for i in range(32):
            acc[i] ^= u[i]
    return bytes(acc[:dklen])


def subkey(key, label):
    return hmac_sha256(key, label)


def _ecb(key):
    try:
        import cryptolib
        c = cryptolib.aes(key, 1)
        return lambda b: c.encrypt(b)
    except ImportError:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        e = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()
        return lambda b: e.update(bytes(b))


def ctr_xor(key, nonce, data):
    enc = _ecb(key)
    out = bytearray(len(data))
    block = bytearray(16)
    block[:8] = nonce
    n = 0
    for off in range(0, len(data), 16):
        c = n
        for i in range(15, 7, -1):
            block[i] = c & 0xFF
            c >>= 8
        ks = enc(block)
        for i in range(min(16, len(data) - off)):
            out[off + i] = data[off + i] ^ ks[i]
        n += 1
    return bytes(out)


def equal(a, b):
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


def random_bytes(n):
    return os.urandom(n)


def _tag(key, aad, nonce, ct):
    m = bytearray(2 + len(aad) + len(nonce) + len(ct))
    m[0] = len(aad) >> 8
    m[1] = len(aad) & 0xFF
    m[2:2 + len(aad)] = aad
    m[2 + len(aad):10 + len(aad)] = nonce
    m[10 + len(aad):] = ct
    return hmac_sha256(subkey(key, b"mac"), m)[:16]


def seal(key, plaintext, aad=b"", nonce=None):
    if nonce is None:
        nonce = random_bytes(8)
    ct = ctr_xor(subkey(key, b"enc"), nonce, plaintext)
    return bytes(nonce) + ct + _tag(key, aad, nonce, ct)


def unseal(key, blob, aad=b""):
    if len(blob) < SEAL_OVERHEAD:
        raise CryptoError("sealed data too short")
    nonce = blob[:8]
    ct = blob[8:-16]
    if not equal(_tag(key, aad, nonce, ct), blob[-16:]):
        raise CryptoError("authentication failed")
    return ctr_xor(subkey(key, b"enc"), nonce, ct)
