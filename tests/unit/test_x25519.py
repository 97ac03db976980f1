"""firmware/crypt/x25519.py, our own X25519, held against RFC 7748's vectors and
against the `cryptography` package, under CPython and the MicroPython unix
port."""
import os
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings, strategies as st

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import crypto_drive  # noqa: E402
import x25519  # noqa: E402
from host_tools import tokencrypto  # noqa: E402

INTERPRETERS = ["cpython", "micropython"]


@pytest.fixture(params=INTERPRETERS)
def call(request, mp_worker):
    if request.param == "cpython":
        mods = {"x25519": x25519, "crypto_drive": crypto_drive}
        return lambda module, fn, *args: getattr(mods[module], fn)(*args)
    return mp_worker.call


def h(s):
    return bytes.fromhex(s)


# RFC 7748 section 5.2
VECTORS_5_2 = [
    ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
    ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
]

# RFC 7748 section 6.1
ALICE = ("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
         "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB = ("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
       "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


@pytest.mark.parametrize("k, u, want", VECTORS_5_2)
def test_rfc7748_scalar_multiplication(call, k, u, want):
    assert call("x25519", "x25519", h(k), h(u)) == h(want)


@pytest.mark.parametrize("n, want", [
    (1, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"),
    (1000, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"),
])
def test_rfc7748_iterations(call, n, want):
    assert call("crypto_drive", "x25519_iterate", n) == h(want)


def test_rfc7748_diffie_hellman(call):
    assert call("x25519", "public_key", h(ALICE[0])) == h(ALICE[1])
    assert call("x25519", "public_key", h(BOB[0])) == h(BOB[1])
    assert call("x25519", "shared", h(ALICE[0]), h(BOB[1])) == h(SHARED)
    assert call("x25519", "shared", h(BOB[0]), h(ALICE[1])) == h(SHARED)


def _raw_public(private):
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)


@settings(max_examples=15, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), bits=st.integers(1, 255))
def test_agreement_matches_cryptography(mp_worker, seed, bits):
    host = X25519PrivateKey.generate()
    token_public = _raw_public(X25519PrivateKey.from_private_bytes(seed))
    # the token's key made in pieces, as the main loop makes it
    for run in (lambda *a: crypto_drive.x25519_in_steps(*a),
                lambda *a: mp_worker.call("crypto_drive", "x25519_in_steps", *a)):
        public, turns = run(seed, b"\x09" + bytes(31), bits)
        assert public == token_public
        assert turns == -(-255 // bits)
    z_host = host.exchange(X25519PublicKey.from_public_bytes(token_public))
    assert x25519.shared(seed, _raw_public(host)) == z_host
    assert mp_worker.call("x25519", "shared", seed, _raw_public(host)) == z_host


def test_top_bit_of_u_is_masked(call):
    k, u, want = VECTORS_5_2[0]
    high = bytearray(h(u))
    high[31] |= 0x80
    assert call("x25519", "x25519", h(k), bytes(high)) == h(want)


@pytest.mark.parametrize("u", [bytes(32), b"\x01" + bytes(31),
                               h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")])
def test_small_order_peer_is_refused(call, u):
    assert call("crypto_drive", "x25519_error", h(ALICE[0]), u) == "peer key has small order"


def test_sizes_are_checked(call):
    with pytest.raises(Exception, match="32-byte"):
        call("x25519", "x25519", bytes(31), bytes(32))


def test_host_side_refuses_small_order():
    with pytest.raises(tokencrypto.CryptoError):
        tokencrypto.x25519(tokencrypto.x25519_private(), bytes(32))
    a, b = tokencrypto.x25519_private(), tokencrypto.x25519_private()
    assert tokencrypto.x25519(a, tokencrypto.x25519_public(b)) == \
        tokencrypto.x25519(b, tokencrypto.x25519_public(a))
