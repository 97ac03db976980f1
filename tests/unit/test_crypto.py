"""Cryptographic primitives: firmware/crypt/crypto.py and firmware/crypt/aes.py under
CPython and the MicroPython unix port (same cases), host_tools/tokencrypto.py
(built on `cryptography`), and each side against the other."""
import hashlib
import hmac
import os
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings, strategies as st

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import aes  # noqa: E402
import crypto  # noqa: E402
import crypto_drive  # noqa: E402
from host_tools import tokencrypto as host  # noqa: E402

INTERPRETERS = ["cpython", "micropython"]


def caller(interp, mp_worker):
    """call(module, fn, *args) on the chosen interpreter."""
    if interp == "cpython":
        mods = {"crypto": crypto, "crypto_drive": crypto_drive}

        def run(module, fn, *args):
            return getattr(mods[module], fn)(*args)
        return run
    return mp_worker.call


@pytest.fixture(params=INTERPRETERS)
def call(request, mp_worker):
    return caller(request.param, mp_worker)


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


# -- HMAC-SHA256: RFC 4231 section 4 -------------------------------------------------

RFC4231 = [
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    # Test case 5 is truncated to 128 bits.
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger "
     b"than block-size data. The key needs to be hashed before being used by the "
     b"HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


@pytest.mark.parametrize("key,msg,want", RFC4231, ids=["tc%d" % i for i in (1, 2, 3, 4, 5, 6, 7)])
def test_hmac_sha256_rfc4231(call, key, msg, want):
    want = h(want)
    assert call("crypto", "hmac_sha256", key, msg)[:len(want)] == want
    assert host.hmac_sha256(key, msg)[:len(want)] == want


def test_subkey_is_hmac_of_the_label(call):
    key = os.urandom(32)
    for label in (b"enc", b"mac", b""):
        want = hmac.new(key, label, hashlib.sha256).digest()
        assert call("crypto", "subkey", key, label) == want
        assert host.subkey(key, label) == want
    assert call("crypto", "subkey", key, b"enc") != call("crypto", "subkey", key, b"mac")


# -- PBKDF2-HMAC-SHA256: RFC 7914 section 11 -----------------------------------------

RFC7914 = [
    (b"passwd", b"salt", 1, 64,
     "55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57"
     "c2 0d ac bc 49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5"
     "09 11 20 41 d3 a1 97 83"),
    (b"Password", b"NaCl", 80000, 64,
     "4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9 64 1a 44 18 d0 4c 04 14 ae ff 08 87"
     "6b 34 ab 56 a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17 6a 27 2b de bb a1 d0 78"
     "47 8f 62 b3 97 f3 3c 8d"),
]


@pytest.mark.parametrize("password,salt,c,dklen,want", RFC7914, ids=["c1", "c80000"])
def test_pbkdf2_rfc7914(call, password, salt, c, dklen, want):
    assert call("crypto", "pbkdf2_sha256", password, salt, c, dklen) == h(want)
    assert host.pbkdf2_sha256(password, salt, c, dklen) == h(want)


@pytest.mark.parametrize("interp", INTERPRETERS)
@settings(max_examples=150, deadline=None)
@given(password=st.binary(max_size=100), salt=st.binary(max_size=40),
       c=st.integers(1, 40), dklen=st.integers(1, 100))
def test_pbkdf2_matches_hashlib(mp_worker, interp, password, salt, c, dklen):
    # Passwords over 64 bytes are hashed first; dklen over 32 needs blocks 2-4.
    want = hashlib.pbkdf2_hmac("sha256", password, salt, c, dklen)
    assert caller(interp, mp_worker)("crypto", "pbkdf2_sha256", password, salt, c, dklen) == want
    assert host.pbkdf2_sha256(password, salt, c, dklen) == want


@settings(max_examples=60, deadline=None)
@given(password=st.binary(max_size=100), salt=st.binary(max_size=40),
       c=st.integers(1, 300), dklen=st.integers(1, 100))
def test_pbkdf2_native_and_hashlib_loops_agree(mp_worker, password, salt, c, dklen):
    # MicroPython runs the iterations as viper code (kdfloop.py); with
    # NATIVE_KDF off, the hashlib loop that CircuitPython and CPython use.
    want = hashlib.pbkdf2_hmac("sha256", password, salt, c, dklen)
    assert mp_worker.call("crypto_drive", "pbkdf2", True, password, salt, c, dklen) == [True, want]
    assert mp_worker.call("crypto_drive", "pbkdf2", False, password, salt, c, dklen) == [False, want]


def test_pbkdf2_iterations_allocate_nothing(mp_worker):
    """On a fragmented heap every allocation costs a first-fit scan and,
    every few hundred iterations, a collection: the loop allocated 480 B an
    iteration on rp2 and the unlock took 2.9 s. Setup may allocate; 1000
    more iterations must not."""
    few, many = mp_worker.call("crypto_drive", "pbkdf2_heap_growth", [100, 1100])
    assert many - few <= 0, "%d bytes for 1000 more iterations" % (many - few)


def test_cpython_keeps_the_hashlib_loop():
    import kdfloop
    assert kdfloop.available() is False


def test_pbkdf2_default_length_and_text_password(call):
    want = hashlib.pbkdf2_hmac("sha256", "pïn 1234".encode(), b"s" * 16, 3)
    assert call("crypto", "pbkdf2_sha256", "pïn 1234", b"s" * 16, 3) == want
    assert host.pbkdf2_sha256("pïn 1234", b"s" * 16, 3) == want
    assert len(want) == 32


@pytest.mark.parametrize("c,dklen", [(0, 32), (-1, 32), (1, 0)])
def test_pbkdf2_rejects_bad_counts(mp_worker, c, dklen):
    with pytest.raises(ValueError):
        crypto.pbkdf2_sha256(b"p", b"s", c, dklen)
    with pytest.raises(ValueError):
        host.pbkdf2_sha256(b"p", b"s", c, dklen)
    with pytest.raises(RuntimeError, match="ValueError"):
        mp_worker.call("crypto", "pbkdf2_sha256", b"p", b"s", c, dklen)


# -- AES-256 and CTR -----------------------------------------------------------------

FIPS197_KEY = bytes(range(32))
FIPS197_PT = h("00112233445566778899aabbccddeeff")
FIPS197_CT = h("8ea2b7ca516745bfeafc49904b496089")

# NIST SP 800-38A F.5.5, CTR-AES256.Encrypt.
SP800_KEY = h("603deb1015ca71be2b73aef0857d7781 1f352c073b6108d72d9810a30914dff4")
SP800_CTR = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
SP800_PT = h("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710")
SP800_CT = h("601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5"
             "2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6")


def test_pure_python_aes_fips197_c3(call):
    assert call("crypto_drive", "aes_encrypt", FIPS197_KEY, FIPS197_PT) == FIPS197_CT


def test_pure_python_aes_encrypts_in_place(call):
    assert call("crypto_drive", "aes_in_place", FIPS197_KEY, FIPS197_PT) == FIPS197_CT


def test_pure_python_aes_takes_only_256_bit_keys(call):
    assert call("crypto_drive", "aes_key_errors", [16, 24, 31, 32, 33]) == [
        "ValueError", "ValueError", "ValueError", None, "ValueError"]


def ecb(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


@pytest.mark.parametrize("interp", INTERPRETERS)
@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), block=st.binary(min_size=16, max_size=16))
def test_pure_python_aes_matches_cryptography(mp_worker, interp, key, block):
    assert caller(interp, mp_worker)("crypto_drive", "aes_encrypt", key, block) == ecb(key, block)


@pytest.mark.parametrize("interp", INTERPRETERS)
@pytest.mark.parametrize("native", [True, False], ids=["native", "pure"])
def test_ctr_sp800_38a_f55(mp_worker, interp, native):
    call = caller(interp, mp_worker)
    backend, out = call("crypto_drive", "ctr", SP800_KEY, SP800_CTR, SP800_PT, native)
    # The unix port has cryptolib; CPython has neither cryptolib nor aesio.
    assert backend == ("cryptolib" if native and interp == "micropython" else "python")
    assert out == SP800_CT
    # Decryption is the same operation; a cut-off last block too.
    assert call("crypto_drive", "ctr", SP800_KEY, SP800_CTR, SP800_CT[:50], native)[1] == SP800_PT[:50]


def test_micropython_ctr_really_runs_on_cryptolib(mp_worker):
    calls, out = mp_worker.call("crypto_drive", "ctr_through_cryptolib", SP800_KEY, SP800_CTR,
                                SP800_PT)
    assert out == SP800_CT
    assert calls == 4
    # And the forced fallback gives the same bytes without it.
    assert mp_worker.call("crypto_drive", "ctr", SP800_KEY, SP800_CTR, SP800_PT, False) == [
        "python", SP800_CT]


@pytest.mark.parametrize("counter", [
    "00000000000000000000000000000000",
    "0102030405060708fffffffffffffffe",  # carries out of the low 8 bytes
    "fffffffffffffffffffffffffffffffe",  # wraps at 2**128
], ids=["zero", "carry", "wrap"])
def test_ctr_counter_increment_matches_cryptography(call, counter):
    key = os.urandom(32)
    data = os.urandom(80)
    enc = Cipher(algorithms.AES(key), modes.CTR(h(counter))).encryptor()
    want = enc.update(data) + enc.finalize()
    for native in (True, False):
        assert call("crypto_drive", "ctr", key, h(counter), data, native)[1] == want


@pytest.mark.parametrize("interp", INTERPRETERS)
@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=8, max_size=8),
       data=st.binary(max_size=100))
def test_ctr_xor_matches_host_on_both_backends(mp_worker, interp, key, nonce, data):
    call = caller(interp, mp_worker)
    want = host.ctr_xor(key, nonce, data)
    assert len(want) == len(data)
    for native in (True, False):
        assert call("crypto_drive", "ctr_nonce", key, nonce, data, native)[1] == want
    assert call("crypto", "ctr_xor", key, nonce, data) == want


class FakeAesio:
    """CircuitPython's aesio as documented: AES(key, mode), encrypt_into(src,
    dest); strict about its arguments so a misuse in crypto.py shows."""
    MODE_ECB = 1
    MODE_CBC = 2
    MODE_CTR = 6
    calls = 0

    class AES:
        def __init__(self, key, mode=2, IV=None):
            assert mode == FakeAesio.MODE_ECB and len(key) == 32
            self._c = aes.AES(key)

        def encrypt_into(self, src, dest):
            assert len(src) == 16 and isinstance(dest, bytearray) and len(dest) == 16
            FakeAesio.calls += 1
            self._c.encrypt_block(src, dest)


def test_ctr_uses_aesio_when_there_is_no_cryptolib(monkeypatch):
    monkeypatch.setitem(sys.modules, "aesio", FakeAesio)
    monkeypatch.setattr(crypto, "_backend", None)  # found once: look again
    FakeAesio.calls = 0
    assert crypto.aes_backend() == "aesio"
    assert crypto.ctr_xor_counter(SP800_KEY, SP800_CTR, SP800_PT) == SP800_CT
    assert FakeAesio.calls == 4


def test_ctr_rejects_bad_sizes(call):
    for key, nonce in ((bytes(31), bytes(8)), (bytes(32), bytes(7)), (bytes(16), bytes(8))):
        with pytest.raises((ValueError, RuntimeError), match="ValueError|must be"):
            call("crypto", "ctr_xor", key, nonce, b"x")
        with pytest.raises(ValueError):
            host.ctr_xor(key, nonce, b"x")


# -- seal / unseal -------------------------------------------------------------------

def test_seal_layout_and_round_trip(call):
    key = os.urandom(32)
    for pt in (b"", b"x", os.urandom(16), os.urandom(64), os.urandom(100)):
        blob = call("crypto", "seal", key, pt, b"acct:7")
        assert len(blob) == len(pt) + crypto.SEAL_OVERHEAD == len(pt) + 24
        assert call("crypto_drive", "unseal", key, blob, b"acct:7") == ["ok", pt]
        if len(pt) >= 16:  # (a short one may turn up in random bytes by chance)
            assert pt not in blob
    # A fresh random nonce every time.
    a = call("crypto", "seal", key, b"same", b"")
    b = call("crypto", "seal", key, b"same", b"")
    assert a[:8] != b[:8] and a != b
    assert crypto.SEAL_OVERHEAD == host.SEAL_OVERHEAD == 24


def test_seal_is_nonce_then_ctr_then_truncated_hmac(call):
    """The format spelled out from the primitives, independently of both
    seal() implementations."""
    key, nonce, pt, aad = os.urandom(32), os.urandom(8), os.urandom(40), b"ctx"
    enc = hmac.new(key, b"enc", hashlib.sha256).digest()
    mac = hmac.new(key, b"mac", hashlib.sha256).digest()
    c = Cipher(algorithms.AES(enc), modes.CTR(nonce + bytes(8))).encryptor()
    ct = c.update(pt) + c.finalize()
    tag = hmac.new(mac, b"\x00\x03" + aad + nonce + ct, hashlib.sha256).digest()[:16]
    assert call("crypto", "seal", key, pt, aad, nonce) == nonce + ct + tag
    assert host.seal(key, pt, aad, nonce) == nonce + ct + tag


def flips(data):
    """Every single-byte change of data: each byte XORed with a nonzero mask."""
    masks = (0x01, 0x80, 0xFF)
    for i in range(len(data)):
        b = bytearray(data)
        b[i] ^= masks[i % 3]
        yield bytes(b)


@pytest.mark.parametrize("unseal_on", ["firmware", "host"])
def test_tampering_anything_is_caught(call, unseal_on):
    key = os.urandom(32)
    pt = os.urandom(20)
    aad = b"slot-3"
    blob = call("crypto", "seal", key, pt, aad)

    def unseal(k, b, a):
        if unseal_on == "firmware":
            return call("crypto_drive", "unseal", k, b, a)
        try:
            return ["ok", host.unseal(k, b, a)]
        except host.CryptoError as e:
            return ["CryptoError", str(e)]

    assert unseal(key, blob, aad) == ["ok", pt]
    bad = list(flips(blob))  # nonce, ciphertext and tag, byte by byte
    bad += [blob[:-1], blob + b"\x00", blob[:23], b"", blob[:8] + blob[9:]]
    assert "short" in unseal(key, blob[:23], aad)[1]
    for b in bad:
        result = unseal(key, b, aad)
        assert result[0] == "CryptoError", b.hex()
        assert key.hex() not in result[1] and pt.hex() not in result[1]
    for a in list(flips(aad)) + [aad[:-1], aad + b"x", b""]:
        assert unseal(key, blob, a)[0] == "CryptoError", a
    other = bytearray(key)
    other[31] ^= 1
    assert unseal(bytes(other), blob, aad)[0] == "CryptoError"


def test_seal_rejects_bad_arguments(call):
    k = bytes(32)
    assert call("crypto_drive", "seal_errors", k, b"p", b"", None) is None
    assert call("crypto_drive", "seal_errors", bytes(31), b"p", b"", None) == "ValueError"
    assert call("crypto_drive", "seal_errors", k, b"p", b"", bytes(7)) == "ValueError"
    assert call("crypto_drive", "seal_errors", k, b"p", bytes(65536), None) == "ValueError"
    assert call("crypto_drive", "seal_errors", k, b"p", bytes(65535), bytes(8)) is None
    for args in ((bytes(31), b"p", b"", None), (k, b"p", b"", bytes(7)),
                 (k, b"p", bytes(65536), None)):
        with pytest.raises(ValueError):
            host.seal(*args)


@pytest.mark.parametrize("interp", INTERPRETERS)
@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), pt=st.binary(max_size=100),
       aad=st.binary(max_size=40), nonce=st.binary(min_size=8, max_size=8))
def test_firmware_and_host_seal_interoperate(mp_worker, interp, key, pt, aad, nonce):
    call = caller(interp, mp_worker)
    # Same nonce: byte for byte the same sealed data.
    assert call("crypto", "seal", key, pt, aad, nonce) == host.seal(key, pt, aad, nonce)
    # Firmware seals (its own random nonce), host unseals.
    blob = call("crypto", "seal", key, pt, aad)
    assert host.unseal(key, blob, aad) == pt
    # Host seals, firmware unseals.
    assert call("crypto_drive", "unseal", key, host.seal(key, pt, aad), aad) == ["ok", pt]


@pytest.mark.parametrize("interp", INTERPRETERS)
@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), pt=st.binary(max_size=100),
       aad=st.binary(max_size=40), nonce=st.binary(min_size=8, max_size=8))
def test_seal_with_precomputed_keys_is_seal(mp_worker, interp, key, pt, aad, nonce):
    call = caller(interp, mp_worker)
    blob = call("crypto_drive", "seal_with", key, pt, aad, nonce)
    assert blob == host.seal(key, pt, aad, nonce)
    assert host.unseal(key, call("crypto_drive", "seal_with", key, pt, aad, None), aad) == pt
    assert call("crypto_drive", "unseal_with", key, host.seal(key, pt, aad), aad) == ["ok", pt]
    assert call("crypto_drive", "unseal_with", key, blob, aad + b"x")[0] == "CryptoError"


def test_seal_keys_rejects_bad_sizes(call):
    assert call("crypto_drive", "seal_errors", bytes(31), b"p", b"", None) == "ValueError"
    with pytest.raises(ValueError):
        crypto.seal_keys(bytes(33))
    with pytest.raises(ValueError):
        crypto.seal_with(crypto.seal_keys(bytes(32)), b"p", b"", bytes(7))
    with pytest.raises(ValueError):
        crypto.unseal_with(crypto.seal_keys(bytes(32)), bytes(24), bytes(65536))


def test_backend_is_looked_up_once(call):
    # On rp2 each import of a built-in searches the flash first (8 ms).
    assert call("crypto_drive", "backend_lookups", 5) == 0


# -- small helpers -------------------------------------------------------------------

def test_equal(call):
    assert call("crypto", "equal", b"abc", b"abc") is True
    assert call("crypto", "equal", b"", b"") is True
    assert call("crypto", "equal", b"abc", b"abd") is False
    assert call("crypto", "equal", b"abc", b"ab") is False
    assert call("crypto", "equal", b"\x80" + bytes(15), bytes(16)) is False
    assert host.equal(b"abc", b"abc") and not host.equal(b"abc", b"abd")


def test_random_bytes(call):
    a = call("crypto", "random_bytes", 16)
    b = call("crypto", "random_bytes", 16)
    assert len(a) == 16 and a != b
    assert call("crypto", "random_bytes", 0) == b""
    assert len(host.random_bytes(24)) == 24


def test_host_module_does_not_use_the_firmware():
    import ast
    src = open(host.__file__).read()
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    assert names <= {"hmac", "os", "cryptography"}, names


def test_bench_crypto_part_runs(capsys):
    """`bench.py crypto` runs on the unix port and reports each figure (the
    figures themselves are not checked: timing is never asserted)."""
    from host_tools import bench
    assert bench.main(["crypto"]) == 0
    out = capsys.readouterr().out
    for label in ("per 1000 iterations", "AES-256 block, cryptolib", "aes.py fallback",
                  "seal() of a 64-byte secret, cryptolib", "unseal() of it"):
        assert label in out
    fit = int(bench.PIN_KDF_BUDGET_S * 1000 / bench.RP2040_PBKDF2_MS_PER_ITER)
    assert "fitting 2.0 s on an RP2040   %d" % fit in out  # 2000 ms / ms per iteration
    assert "unlock: PBKDF2 x" in out and "extra bytes per account record" in out
    assert "24 B (64 -> 88)" in out
