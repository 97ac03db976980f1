"""Issue 18: the token's serial number (firmware/rules.py serial_number,
firmware/serialno.py): the same on the MicroPython unix port as on CPython,
the documented shape, and a real function of the chip's id."""
import hashlib
import importlib
import os
import re

import pytest

from firmware import rules

SHAPE = re.compile("^%s[%s]{%d}$" % (rules.SERIAL_PREFIX, rules.SERIAL_ALPHABET,
                                     rules.SERIAL_DIGITS))


def _oracle(uid):
    # Crockford base32 of the hash's first 50 bits, worked out another way:
    # one big integer, not the firmware's 5-bit steps.
    d = hashlib.sha256(b"totp-token serial number\x00" + uid).digest()
    n = int.from_bytes(d[:7], "big") >> (56 - 5 * rules.SERIAL_DIGITS)
    out = ""
    for shift in range(5 * (rules.SERIAL_DIGITS - 1), -1, -5):
        out += "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[n >> shift & 31]
    return "TT" + out


@pytest.fixture(params=["cpython", "micropython"])
def from_uid(request):
    if request.param == "cpython":
        return importlib.import_module("serialno").from_uid
    worker = request.getfixturevalue("mp_worker")
    return lambda uid: worker.call("serialno", "from_uid", uid)


@pytest.mark.parametrize("uid", [bytes(8), bytes(range(8)), b"\xff" * 6, os.urandom(8),
                                 os.urandom(16)], ids=["zeros", "counting", "mac", "rp2040",
                                                       "samd51"])
def test_the_serial_is_the_documented_hash_of_the_chip_id(from_uid, uid):
    serial = from_uid(uid)
    assert serial == _oracle(uid) == rules.serial_number(uid, hashlib.sha256)
    assert SHAPE.match(serial)


def test_nothing_on_a_label_to_misread():
    assert not set("ILOU") & set(rules.SERIAL_ALPHABET)
    assert len(set(rules.SERIAL_ALPHABET)) == 32
    assert len(rules.SERIAL_PREFIX + "x" * rules.SERIAL_DIGITS) <= 13  # "SN " + it: one screen line


def test_chips_that_differ_in_one_bit_get_different_serials():
    base = bytearray(os.urandom(8))
    seen = {rules.serial_number(bytes(base), hashlib.sha256)}
    for bit in range(64):
        other = bytearray(base)
        other[bit // 8] ^= 1 << bit % 8
        seen.add(rules.serial_number(bytes(other), hashlib.sha256))
    assert len(seen) == 65


def test_a_port_without_a_chip_id_has_no_serial():
    serialno = importlib.import_module("serialno")

    class NoId:
        def unique_id(self):
            return None

    class Broken:
        def unique_id(self):
            raise OSError(5)

    assert serialno.of(NoId()) is None and serialno.of(Broken()) is None
