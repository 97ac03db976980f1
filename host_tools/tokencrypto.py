"""The token's cryptographic primitives on the host, from the `cryptography`
package alone.

An independent implementation of firmware/crypt/crypto.py (it imports nothing from
the firmware), so the tests can hold each side against the other: a format
mistake made once cannot pass on both. Same names, same formats:

    seal(key32, plaintext, aad=b"", nonce=None) -> nonce(8) || ct || tag(16)

with ct = AES-256-CTR under subkey(key32, b"enc") from counter block
nonce || 8 zero bytes, and tag = HMAC-SHA256 under subkey(key32, b"mac") of
len(aad) (2 bytes, big-endian) || aad || nonce || ct, cut to 16 bytes.
"""
import hmac as _hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _chmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

SEAL_OVERHEAD = 24
KEY_SIZE = 32
NONCE_SIZE = 8
TAG_SIZE = 16
_AAD_MAX = 0xFFFF


class CryptoError(Exception):
    """Sealed data that is not authentic under this key and aad (or is too
    short to be sealed data). Messages never carry key or data bytes."""


def _as_bytes(v):
    return v.encode() if isinstance(v, str) else bytes(v)


def hmac_sha256(key, msg):
    h = _chmac.HMAC(bytes(key), hashes.SHA256())
    h.update(bytes(msg))
    return h.finalize()


def subkey(key, label):
    return hmac_sha256(key, label)


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError("iterations must be an integer >= 1")
    if not isinstance(dklen, int) or dklen < 1:
        raise ValueError("dklen must be an integer >= 1")
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=dklen, salt=_as_bytes(salt),
                     iterations=iterations)
    return kdf.derive(_as_bytes(password))


def ctr_xor(key32, nonce8, data):
    if len(key32) != KEY_SIZE:
        raise ValueError("the key must be 32 bytes")
    if len(nonce8) != NONCE_SIZE:
        raise ValueError("the nonce must be 8 bytes")
    enc = Cipher(algorithms.AES(bytes(key32)), modes.CTR(bytes(nonce8) + bytes(8))).encryptor()
    return enc.update(bytes(data)) + enc.finalize()


def equal(a, b):
    return _hmac.compare_digest(bytes(a), bytes(b))


def random_bytes(n):
    return os.urandom(n)


def _check_key_aad(key32, aad):
    if len(key32) != KEY_SIZE:
        raise ValueError("the key must be 32 bytes")
    if len(aad) > _AAD_MAX:
        raise ValueError("aad is limited to 65535 bytes")


def _tag(key32, aad, nonce, ct):
    msg = len(aad).to_bytes(2, "big") + bytes(aad) + bytes(nonce) + ct
    return hmac_sha256(subkey(key32, b"mac"), msg)[:TAG_SIZE]


def seal(key32, plaintext, aad=b"", nonce=None):
    _check_key_aad(key32, aad)
    if nonce is None:
        nonce = random_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise ValueError("the nonce must be 8 bytes")
    ct = ctr_xor(subkey(key32, b"enc"), nonce, plaintext)
    return bytes(nonce) + ct + _tag(key32, aad, nonce, ct)


def unseal(key32, blob, aad=b""):
    _check_key_aad(key32, aad)
    blob = bytes(blob)
    if len(blob) < SEAL_OVERHEAD:
        raise CryptoError("sealed data too short")
    nonce, ct, tag = blob[:NONCE_SIZE], blob[NONCE_SIZE:-TAG_SIZE], blob[-TAG_SIZE:]
    if not equal(_tag(key32, aad, nonce, ct), tag):
        raise CryptoError("sealed data failed authentication")
    return ctr_xor(subkey(key32, b"enc"), nonce, ct)


# X25519 (RFC 7748) for the login key agreement; firmware/crypt/x25519.py is the
# token's own implementation of the same function.
def x25519_private():
    from cryptography.hazmat.primitives.asymmetric import x25519 as _x

    return _x.X25519PrivateKey.generate()


def x25519_public(private):
    from cryptography.hazmat.primitives import serialization as _s

    return private.public_key().public_bytes(_s.Encoding.Raw, _s.PublicFormat.Raw)


def x25519(private, peer_public):
    """The shared secret; CryptoError for a peer key of small order."""
    from cryptography.hazmat.primitives.asymmetric import x25519 as _x

    try:
        return private.exchange(_x.X25519PublicKey.from_public_bytes(bytes(peer_public)))
    except ValueError:
        raise CryptoError("the token's public key has small order") from None
