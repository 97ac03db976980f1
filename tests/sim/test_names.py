"""One rule for names and issuers on both sides (firmware/rules.py): UTF-8,
no control characters, 40 bytes, the same on the host, on the token under
CPython and on the token under MicroPython, and over the wire."""
import base64
import contextlib
import io
import json
import os
import sys

import pytest

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import drive  # noqa: E402
import records  # noqa: E402
from firmware import rules  # noqa: E402
from host_tools import client as client_mod  # noqa: E402
from host_tools import provision  # noqa: E402
from host_tools.formats import otpauth  # noqa: E402
from host_tools.client import TokenClient  # noqa: E402
from host_tools.errors import DeviceError  # noqa: E402
from host_tools.link import SerialLink  # noqa: E402
from tests.waiting import REPLY_GUARD, REPLY_GUARD_S

EMOJI = "\U0001F600"


def test_host_limits_are_the_firmware_limits(mp_worker):
    host = [otpauth.KINDS, otpauth.ALGORITHMS, otpauth.MAX_NAME, otpauth.MAX_ISSUER,
            otpauth.MAX_SECRET, otpauth.MIN_PERIOD, otpauth.MAX_PERIOD, otpauth.MAX_COUNTER,
            otpauth.STEAM_DIGITS, [list(rules.digits_range(k)) for k in otpauth.KINDS]]
    # What the firmware enforces, read from the firmware itself on the board's
    # interpreter.
    assert json.loads(json.dumps(host)) == mp_worker.call("drive", "rules_limits")
    assert drive.rules_limits() == json.loads(json.dumps(host))
    # The store's record fields hold what the rules allow, and no more is allowed.
    assert records._ISSUER - records._NAME == rules.MAX_TEXT == records._MAXTEXT
    assert records._SECRET - records._ISSUER == rules.MAX_TEXT
    assert records._MAXSECRET == rules.MAX_SECRET
    # The modules that repeat part of the record layout (to have it inlined)
    # repeat it right.
    import reseal
    import store
    for name in ("_REC", "_NAME", "_ISSUER", "_MAXTEXT", "_VERSION", "_PLAIN_VERSION",
                 "_DK_VERSION"):
        assert getattr(store, name) == getattr(records, name), name
    assert reseal._VERSION == records._VERSION
    assert store._PER == reseal._PER == rules.PER_BUCKET
    assert store._BUCKET == store._REC * store._PER
    # (`rules` here is the firmware module as the token imports it, top-level.)
    import otp
    assert records.KINDS is records.rules.KINDS and records.ALGORITHMS is records.rules.ALGORITHMS
    assert otp.KINDS is records.rules.KINDS and otp.ALGORITHMS is records.rules.ALGORITHMS
    assert records.rules.KINDS == rules.KINDS
    assert client_mod.frames.MAX_REQUEST >= len(
        client_mod.frames.encode_request(10**9, "rename", {
            k: "\u00e9" * (rules.MAX_TEXT // 2) for k in ("name", "issuer", "new_name",
                                                           "new_issuer")}))


TEXTS = [
    ("plain", 1), ("", 0), ("", 1), ("x" * 40, 1), ("x" * 41, 1), ("\u00e9" * 20, 1),
    ("\u00e9" * 21, 1), (EMOJI * 10, 1), (EMOJI * 11, 1), ("\ud83d\ude00" * 10, 1),
    ("a\ud83d", 1), ("\ude00", 1), ("\ud83d\ud83d", 1), ("\x1b[31mred", 1), ("nul\x00", 1),
    ("tab\t", 1), ("del\x7f", 1), ("c1\x85", 1), ("c1\x9f", 1), ("nbsp\xa0", 1),
    ("\u202e", 1), ("\u4e2d\u6587", 1), (5, 1), (None, 0),
]


@pytest.mark.parametrize("value,low", TEXTS, ids=range(len(TEXTS)))
def test_check_text_is_the_same_on_both_interpreters(mp_worker, value, low):
    # Values go to MicroPython as JSON, so an emoji arrives there as two
    # escaped UTF-16 halves, exactly as in a request from the host.
    here = drive.check_text(value, low)
    there = mp_worker.call("drive", "check_text", value, low)
    assert here == there
    if isinstance(value, str) and value and here[0] == "error":
        assert value not in here[1]  # the message never repeats the value


def test_check_text_results():
    assert rules.check_text("\ud83d\ude00", "name", 1) == EMOJI.encode()
    assert rules.check_text(EMOJI * 10, "name", 1) == EMOJI.encode() * 10
    for bad in ("\x1b", "\x00", "\x7f", "\x80", "\x9f", "\ud83d", "\ude00", EMOJI * 11, ""):
        with pytest.raises(ValueError):
            rules.check_text(bad, "name", 1)
    # The host refuses what the token refuses.
    for bad in ("\x1b[2J", "a\x85", "\udcff", EMOJI * 11, "\u00e9" * 21):
        with pytest.raises(ValueError):
            otpauth.Account(name=bad, secret=b"k" * 10).validate()
        with pytest.raises(ValueError):
            otpauth.Account(name="n", issuer=bad, secret=b"k" * 10).validate()


def test_cli_prints_any_name_without_crashing():
    # A name stored by an older firmware: escape sequences, surrogate halves.
    shown = provision._terminal("a\x1b[2Jb\x00c\ud83d\ude00d\udcff\x85\u00e9")
    assert "\x1b" not in shown and "\x00" not in shown and "\x85" not in shown
    assert EMOJI in shown and "\u00e9" in shown
    shown.encode("utf-8")  # no lone surrogate left
    assert provision._terminal("line1\nline2\ttab") == "line1\nline2\ttab"


def _strict_stdout():
    # A terminal's stdout: strict UTF-8, where a lone surrogate can't be written.
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")


def _run(tok, *args):
    out, err = _strict_stdout(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(["--port", tok.port, "--timeout", REPLY_GUARD] + list(args))
    out.flush()
    return rc, out.buffer.getvalue().decode("utf-8"), err.getvalue()


def test_names_on_the_simulated_token(tok, tmp_path):
    secret = base64.b32encode(os.urandom(20)).decode()
    # Ten emoji are 40 bytes: the host accepts them and so does the token.
    rc, out, err = _run(tok, "add", EMOJI * 10, "--issuer", "Caf\u00e9 " + EMOJI,
                        "--secret", secret)
    assert rc == 0, (out, err)
    rc, out, err = _run(tok, "add", EMOJI * 11, "--secret", secret)
    assert rc != 0 and "40" in err
    rc, out, err = _run(tok, "list")
    assert rc == 0, err
    assert EMOJI * 10 in out and "Caf\u00e9 " + EMOJI in out
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        [acc] = c.list_accounts()
        assert acc["name"] == EMOJI * 10 and acc["issuer"] == "Caf\u00e9 " + EMOJI
        # The raw protocol: control characters never get stored.
        for bad in ("\x1b[2J", "nul\x00", "bell\x07", "c1\x9b", "\ud83d", "\ud83d" + "x"):
            with pytest.raises(DeviceError) as e:
                c.request("add", name=bad, secret="3132333435", kind="totp")
            assert e.value.code == "bad_args"
            with pytest.raises(DeviceError) as e:
                c.request("rename", name=acc["name"], issuer=acc["issuer"], new_name=bad)
            assert e.value.code == "bad_args"
        assert c.status()["accounts"] == 1
        # Found again by the name as the host has it.
        c.rename(EMOJI * 10, "Caf\u00e9 " + EMOJI, new_name=EMOJI + " x")
        assert [a["name"] for a in c.list_accounts()] == [EMOJI + " x"]

    # Importing the same file twice skips the second time.
    path = tmp_path / "codes.txt"
    path.write_text("otpauth://totp/%s:%s?secret=%s\n" % (
        "Caf%C3%A9%20%F0%9F%98%80", "me%F0%9F%98%80", secret))
    for skipped in (0, 1):
        rc, out, err = _run(tok, "--json", "import", str(path), "--yes", "--no-backup")
        assert rc == 0, (out, err)
        data = json.loads(out)["data"]
        assert len(data["skipped"]) == skipped and len(data["written"]) == 1 - skipped


def test_import_preview_never_sends_a_label_escape_to_the_terminal(tok, tmp_path, monkeypatch):
    secret = base64.b32encode(os.urandom(20)).decode()
    path = tmp_path / "codes.txt"
    path.write_text("otpauth://totp/Bad%%1B%%5B2J:x?secret=%s\n"
                    "otpauth://totp/Good:y?secret=%s\n" % (secret, secret))
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stdin", Tty("n\n"))  # answer the question: no
    rc, out, err = _run(tok, "import", str(path), "--no-backup")
    assert "cancelled" in err
    assert "Good" in out and "Bad" in out
    assert "\x1b" not in out + err
