"""firmware/crypt/sha.py: our SHA-1 and SHA-256 for ports whose hashlib lacks them
(CircuitPython without SSL, e.g. on the RP2040 boards), checked against
hashlib on CPython and on the MicroPython unix port; and digests.py picks
them only where hashlib has none."""
import hashlib
import importlib
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import crypto_drive  # noqa: E402

LENGTHS = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 1000]


@pytest.mark.parametrize("n", LENGTHS)
def test_our_sha_equals_hashlib_on_both_interpreters(mp_worker, n):
    data = os.urandom(n)
    want = [hashlib.sha1(data).digest(), hashlib.sha256(data).digest()]
    assert crypto_drive.sha_digests(data, n // 3) == want
    assert mp_worker.call("crypto_drive", "sha_digests", data, n // 2) == want


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_our_sha_in_any_pieces(data, split):
    assert crypto_drive.sha_digests(data, split) == [hashlib.sha1(data).digest(),
                                                     hashlib.sha256(data).digest()]


def test_without_hashlib_the_codes_still_follow_the_rfcs(monkeypatch):
    """A port with no hashlib at all: digests.py falls back to sha.py, and
    the RFC 4226/6238 vectors still come out."""
    import sha
    monkeypatch.setitem(sys.modules, "hashlib", None)  # import hashlib -> ImportError
    for name in ("digests", "otp"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    digests = importlib.import_module("digests")
    otp = importlib.import_module("otp")
    try:
        assert digests.sha1 is sha.sha1 and digests.sha256 is sha.sha256
        assert otp.hotp(b"12345678901234567890", 1) == "287082"  # RFC 4226
        assert otp.totp(b"12345678901234567890123456789012", 59, 30, 8, "SHA256") == "46119246"  # RFC 6238
    finally:
        for name in ("digests", "otp"):
            sys.modules.pop(name, None)


def test_only_digests_imports_hashlib():
    """Every hash goes through digests.py, so the fallback covers all of it."""
    import ast
    from host_tools import mpy
    users = []
    for path in mpy.portable_sources():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import) and any(a.name == "hashlib" for a in node.names):
                users.append(os.path.basename(path))
            if isinstance(node, ast.ImportFrom) and node.module == "hashlib":
                users.append(os.path.basename(path))
    assert users == ["digests.py"]
