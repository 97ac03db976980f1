"""Issue 15 #5: the host session's idle clock. Only a request whose MAC the
token checked keeps a session alive (a program without the session key
cannot, whatever `auth` member it sends), and a login after a long quiet
starts the clock afresh instead of dying at the next second. The keystore
runs on a clock the test moves (tests/mp/session_drive.py), under CPython
and inside MicroPython; the host half is host_tools/pinauth.py."""
import os
import sys

import pytest

from firmware.protocol import frames
from host_tools import pinauth
from host_tools.mpy import REPO

sys.path.insert(0, os.path.join(REPO, "tests", "mp"))
import session_drive  # noqa: E402

PIN = "24681357"
MINUTE = 60_000
IDLE = 5 * MINUTE  # firmware/flash/keystore.py SESSION_IDLE_MS


@pytest.fixture(params=["cpython", "micropython"])
def call(request, mp_worker, tmp_path):
    if request.param == "cpython":
        def run(fn, *args):
            return getattr(session_drive, fn)(*args)
    else:
        def run(fn, *args):
            return mp_worker.call("session_drive", fn, *args)
    assert run("new", str(tmp_path)) is False
    w, v = pinauth.derive(PIN, salt := os.urandom(16), 10)
    assert run("set_pin", salt, w, v) is True
    return run


def _login(call):
    c, public, salt, iterations = call("challenge")
    reply = {"scheme": pinauth.SCHEME, "challenge": bytes(c).hex(), "public": bytes(public).hex(),
             "salt": bytes(salt).hex(), "iterations": iterations}
    args, session = pinauth.answer_challenge(PIN, reply)
    assert call("login", *(bytes.fromhex(args[k]) for k in ("challenge", "public", "key")))
    return session


def _signed(call, session, cmd, args):
    """The token's check of a request `session` signs."""
    signed, seq, mac = frames.split_auth(session.sign(1, cmd, args).rstrip(b"\n"))
    return call("signed", seq, mac, signed)


def test_a_login_after_a_long_quiet_lasts_its_five_minutes(call):
    call("wait", 20 * MINUTE)  # the token sat unused
    session = _login(call)
    call("wait", 1000)
    assert call("idle") is True, "the session died at the next second"
    call("wait", IDLE - 2000)
    assert _signed(call, session, "add", {"name": "x"})
    call("wait", IDLE - 1000)  # counted from the last signed request
    assert call("idle") is True
    call("wait", 2000)
    assert call("idle") is False


def test_only_a_checked_mac_keeps_the_session_alive(call):
    session = _login(call)
    stranger = pinauth.Session(os.urandom(32))  # signs, but not with the session's key
    for _ in range(6):  # a program without the key, once a minute
        call("wait", MINUTE)
        assert not _signed(call, stranger, "status", {})
    assert call("idle") is False
    assert not _signed(call, session, "add", {"name": "x"})  # the session is gone
