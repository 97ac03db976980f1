"""`show` and `code` (issue 17), on both runtimes: an account on the token's
screen from the computer, and its code on the computer after a press on the
token, never without one. Codes are checked against pyotp at the simulated
DS3231's time."""
import base64
import io
import os
import sys
import stat
import threading

import pyotp
import pytest

from host_tools.simulator import SimulatedToken
from tests.forensics import cli
from tests.waiting import HANG_GUARD_S, screen

SEED = b"12345678901234567890"  # RFC 4226/6238
SEED256 = b"12345678901234567890123456789012"
PIN = "2468"
PROMPT = "press: send"


def b32(raw):
    return base64.b32encode(raw).decode()


@pytest.fixture(scope="module", params=["micropython", "circuitpython"], ids=["mp", "cp"])
def tok(request):
    with SimulatedToken(runtime=request.param) as t:
        assert cli(t, "sync-time")[0] == 0
        for args in (["alice", "--issuer", "Example", "--secret", b32(SEED)],
                     ["bob", "--hotp", "--secret", b32(SEED)],
                     ["carol", "--secret", b32(SEED256), "--algorithm", "SHA256",
                      "--digits", "8", "--period", "60"]):
            code, doc = cli(t, "add", "--no-backup", *args)
            assert code == 0, doc
        yield t


class Background:
    """provision.py in a thread, as a second program would run while a hand
    is on the token."""

    def __init__(self, tok, *args, env=None, stdin="", pin=None):
        self.result = None
        self._pin = pin  # cli() sets $TOKEN_PIN itself (unset for None)
        self._thread = threading.Thread(target=self._run, args=(tok, args, env or {}, stdin),
                                        daemon=True)
        self._thread.start()

    def _run(self, tok, args, env, stdin):
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        old_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
        try:
            self.result = cli(tok, *args, pin=self._pin)
        finally:
            sys.stdin = old_stdin
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def join(self):
        self._thread.join(HANG_GUARD_S)
        assert not self._thread.is_alive(), "provision.py never returned"
        return self.result


def totp_at(tok, seed, digest, digits, period):
    """pyotp's codes for the simulated RTC's time, and the second before
    and after (a code asked for at a period's last instant)."""
    t = tok.rtc.unix_time()
    totp = pyotp.TOTP(b32(seed), digest=digest, digits=digits, interval=period)
    return {totp.at(t + d) for d in (-1, 0, 1)}


def test_show_puts_the_account_on_the_screen(tok):
    code, doc = cli(tok, "show", "bob")
    assert code == 0, doc
    assert doc["data"]["position"] == 2 and doc["data"]["count"] == 3
    text = screen(tok, "2/3")
    assert "bob" in text
    code, doc = cli(tok, "show", "Example:alice")
    assert code == 0, doc
    assert "alice" in screen(tok, "1/3")


def test_show_of_an_unknown_name_changes_nothing(tok):
    assert cli(tok, "show", "carol")[0] == 0
    before = screen(tok, "3/3")
    code, doc = cli(tok, "show", "nobody")
    assert code == 1 and doc["error"] == "not_found", doc
    assert "3/3" in tok.screen_text() and "carol" in before


def test_code_comes_after_a_press_and_is_the_code_for_now(tok):
    run = Background(tok, "code", "carol")
    text = screen(tok, PROMPT)
    assert "carol" in text and "3/3" in text
    tok.press()
    code, doc = run.join()
    assert code == 0, doc
    data = doc["data"]
    assert data["code"] in totp_at(tok, SEED256, "sha256", 8, 60), data
    assert data["name"] == "carol" and data["kind"] == "totp" and 0 < data["remaining"] <= 60
    after = screen(tok, lambda t: PROMPT not in t)
    assert "carol" in after  # the account stays on screen


def test_an_hotp_code_moves_the_counter_on_first(tok):
    hotp = pyotp.HOTP(b32(SEED))
    got = []
    for _ in range(2):
        run = Background(tok, "code", "bob")
        screen(tok, PROMPT)
        tok.long_press()  # any press sends it: a hold too
        code, doc = run.join()
        assert code == 0, doc
        got.append((doc["data"]["counter"], doc["data"]["code"]))
    (c0, code0), (c1, code1) = got
    assert c1 == c0 + 1
    assert (code0, code1) == (hotp.at(c0), hotp.at(c1))
    assert code1.replace(" ", "") in tok.screen_text().replace(" ", "")


def test_no_press_no_code(tok):
    run = Background(tok, "code", "alice")
    screen(tok, PROMPT)
    code, doc = run.join()  # after the token's 15 s
    assert code == 1 and doc["error"] == "not_confirmed", doc
    assert "no code was sent" in doc["message"] and "data" not in doc
    screen(tok, lambda t: PROMPT not in t and "alice" in t)
    # The next request is served as ever.
    assert cli(tok, "list")[0] == 0


def _fake_clipboard(tmp_path):
    """A stand-in xclip on PATH: what it is given lands in a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    got = tmp_path / "clipboard"
    tool = bin_dir / "xclip"
    tool.write_text("#!/bin/sh\ncat > %s\n" % got)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir), got


def test_copy_puts_the_code_on_the_clipboard_not_the_terminal(tok, tmp_path):
    bin_dir, got = _fake_clipboard(tmp_path)
    run = Background(tok, "code", "alice", "--copy",
                     env={"PATH": bin_dir + os.pathsep + os.environ["PATH"], "DISPLAY": ":0",
                          "WAYLAND_DISPLAY": ""})
    screen(tok, PROMPT)
    tok.press()
    code, doc = run.join()
    assert code == 0, doc
    copied = got.read_text()
    assert copied in totp_at(tok, SEED, "sha1", 6, 30)
    assert doc["data"]["copied"] is True and "code" not in doc["data"]
    assert copied not in str(doc)


def test_copy_with_no_clipboard_asks_the_token_nothing(tok, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    saved = dict(os.environ)
    os.environ.update({"PATH": str(empty), "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    try:
        code, doc = cli(tok, "code", "alice", "--copy")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code == 1 and doc["error"] == "no_clipboard", doc
    assert PROMPT not in tok.screen_text()


@pytest.fixture(params=["micropython", "circuitpython"], ids=["mp", "cp"])
def pin_tok(request):
    # The test's own hand confirms `pin set`: not the suite's auto_confirm one.
    with SimulatedToken(runtime=request.param, auto_confirm=False) as t:
        assert cli(t, "sync-time")[0] == 0
        assert cli(t, "add", "--no-backup", "alice", "--secret", b32(SEED))[0] == 0
        setup = Background(t, "pin", "set", stdin=PIN + "\n")
        screen(t, "hold: yes")
        t.long_press()
        code, doc = setup.join()
        assert code == 0, doc
        yield t


def test_with_a_pin_code_needs_the_token_unlocked_and_private_names_need_the_pin(pin_tok):
    tok = pin_tok
    tok.stop()
    tok.start()  # locked at power-up
    screen(tok, "LOCKED")
    code, doc = cli(tok, "code", "alice")
    assert code == 1 and doc["error"] == "locked", doc
    assert "LOCKED" in tok.screen_text()
    # Names are public by default: show works without the PIN, and the
    # account comes up once the PIN is entered on the token.
    code, doc = cli(tok, "show", "alice")
    assert code == 0 and doc["data"]["locked"] is True, doc
    tok.enter_pin(PIN)
    screen(tok, "alice")
    # With private names, show and code need the PIN as list does.
    assert cli(tok, "config", "--private-list", pin=PIN)[0] == 0
    for cmd in ("show", "code"):
        # No PIN to give: the token's auth_required, then none at the prompt.
        code, doc = Background(tok, cmd, "alice").join()
        assert code == 2 and doc["error"] == "pin_required", (cmd, doc)
        assert PROMPT not in tok.screen_text()
    assert cli(tok, "show", "alice", pin=PIN)[0] == 0
    run = Background(tok, "code", "alice", pin=PIN)
    screen(tok, PROMPT)
    tok.press()
    code, doc = run.join()
    assert code == 0, doc
    assert doc["data"]["code"] in totp_at(tok, SEED, "sha1", 6, 30)
