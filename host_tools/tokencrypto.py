# INTERIM (replaced by the crypto branch)
import hmac as _hmac
import hashlib
import os
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEAL_OVERHEAD = 24


class CryptoError(Exception):
    pass


def hmac_sha256(key, msg):
    return _hmac.new(bytes(key), bytes(msg), hashlib.sha256).digest()


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, dklen)


def subkey(key, label):
    return hmac_sha256(key, label)


def ctr_xor(key, nonce, data):
    e = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(nonce) + bytes(8))).encryptor()
    return e.update(bytes(data)) + e.finalize()


def _tag(key, aad, nonce, ct):
    return hmac_sha256(subkey(key, b"mac"), len(aad).to_bytes(2, "big") + bytes(aad) + bytes(nonce) + ct)[:16]


def seal(key, plaintext, aad=b"", nonce=None):
    nonce = nonce or os.urandom(8)
    ct = ctr_xor(subkey(key, b"enc"), nonce, plaintext)
    return bytes(nonce) + ct + _tag(key, aad, nonce, ct)


def unseal(key, blob, aad=b""):
    nonce, ct, tag = blob[:8], blob[8:-16], blob[-16:]
    if not _hmac.compare_digest(_tag(key, aad, nonce, ct), tag):
        raise CryptoError("authentication failed")
    return ctr_xor(subkey(key, b"enc"), nonce, ct)
