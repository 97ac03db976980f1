"""The token types the code on screen as a USB keyboard (issue: "Type the
code"). The simulated token's keyboard is a HID boot-keyboard report sink at
the lowest layer; host_tools/simulator/hid_keyboard.py turns the reports back
into the text a computer with a given layout would receive."""
import base64
import time

import pyotp
import pytest

from firmware.keyboard import codetyper, keymap
from host_tools.simulator import SimulatedToken
from host_tools.simulator.hid_keyboard import LED_NUM_LOCK
from tests.sim.test_e2e_sim import cli, code_on_screen, next_hotp, pyotp_for
from tests.waiting import screen, wait_for

SEED = b"12345678901234567890"  # RFC 4226/6238
SEED32 = b"12345678901234567890123456789012"
SEED64 = SEED32 * 2
B32 = base64.b32encode(SEED).decode()
ACCOUNTS = (  # name, add arguments, expected code at time t (None: HOTP)
    ("six", (), lambda t: pyotp_for("totp", SEED, "SHA1", 6, 30, t)),
    ("seven", ("--digits", "7", "--algorithm", "SHA256"),
     lambda t: pyotp_for("totp", SEED32, "SHA256", 7, 30, t)),
    ("eight", ("--digits", "8", "--algorithm", "SHA512"),
     lambda t: pyotp_for("totp", SEED64, "SHA512", 8, 30, t)),
    ("steam", ("--steam",), None),
)
SECRETS = {"six": SEED, "seven": SEED32, "eight": SEED64, "steam": SEED}
# Times that are the behaviour under test, not waits: a press this long after
# the last one is outside the double-press window (a single press: no typing),
# and this long with no report means nothing was typed.
PAST_DOUBLE_S = codetyper.DOUBLE_MS / 1000 + 0.1
QUIET_S = 0.5


def _steam(t):
    import hashlib
    import hmac
    alphabet = "23456789BCDFGHJKMNPQRTVWXY"
    digest = hmac.new(SEED, int(t // 30).to_bytes(8, "big"), hashlib.sha1).digest()
    o = digest[-1] & 15
    v = int.from_bytes(digest[o:o + 4], "big") & 0x7FFFFFFF
    out = ""
    for _ in range(5):
        out += alphabet[v % 26]
        v //= 26
    return out


def _add(tok, name, extra):
    args = ["add", name, "--secret", base64.b32encode(SECRETS[name]).decode(),
            "--no-backup"] + list(extra)
    code, out = cli(tok, *args)
    assert code == 0, out


def _typed(tok, layout, want_len):
    """The text received once `want_len` characters are in and every key is
    up again (the last report is a release)."""
    def all_in():
        text = tok.typed_text(layout)
        return len(text) >= want_len and tok.keyboard.keys_up() and [text]
    return wait_for(all_in, lambda: "%d characters typed in %s (so far %r)" % (
        want_len, layout, tok.typed_text(layout)), every_s=0.05)[0]


def _show(tok, name):
    """Press until `name`'s code is on screen; returns the screen text."""
    for _ in range(8):
        text = tok.screen_text()
        if name in text.splitlines()[0] and code_on_screen(text):
            return text
        tok.press()
        time.sleep(PAST_DOUBLE_S)  # typing on: a single press lands after the double-press window
    raise AssertionError("never showed %s:\n%s" % (name, tok.screen_text()))


def _type_and_check(tok, name, layout, expect):
    """Double press on `name`: the computer with `layout` receives exactly
    the code on screen, and that code is the right one for the time."""
    before = code_on_screen(_show(tok, name))
    tok.clear_typed()
    t0 = tok.rtc_time()
    tok.double_press()
    got = _typed(tok, layout, len(before))
    after = code_on_screen(tok.screen_text())
    t1 = tok.rtc_time()
    # The code on screen when the keys went out (a period may roll over
    # between the reads), and the right one for the time.
    assert got in (before, after), (name, layout, got, before, after)
    assert got in (expect(t0), expect(t1)), (name, got)
    assert screen(tok, "typed")


RUNTIMES = ["micropython", "circuitpython"]


@pytest.fixture(scope="module", params=RUNTIMES)
def typing_tok(request):
    """One token per runtime with typing on (both runtimes: issue "Type the code")."""
    tok = SimulatedToken(runtime=request.param).start()
    assert cli(tok, "sync-time")[0] == 0
    for name, extra, _ in ACCOUNTS:
        _add(tok, name, extra)
    assert cli(tok, "config", "--typing", "on")[0] == 0
    yield tok
    tok.close()


@pytest.mark.parametrize("layout", keymap.LAYOUTS)
def test_top_row_digits_and_steam_letters_on_every_layout(typing_tok, layout):
    tok = typing_tok
    code, out = cli(tok, "config", "--layout", layout, "--top-row")
    assert code == 0 and out["keyboard"]["layout"] == layout and out["keyboard"]["keypad"] is False
    for name, _, expect in ACCOUNTS:
        _type_and_check(tok, name, layout, expect or _steam)


def test_keypad_digits_turn_num_lock_on_and_back_off(typing_tok):
    tok = typing_tok
    assert cli(tok, "config", "--layout", "fr", "--keypad")[0] == 0
    tok.set_host_leds(0)  # Num Lock off on the computer
    _type_and_check(tok, "six", "fr", ACCOUNTS[0][2])
    assert not tok.keyboard.leds & LED_NUM_LOCK  # put back as it was
    tok.set_host_leds(LED_NUM_LOCK)
    _type_and_check(tok, "eight", "de", ACCOUNTS[2][2])  # keypad: any layout reads it
    assert tok.keyboard.leds & LED_NUM_LOCK


def test_enter_after_the_code(typing_tok):
    tok = typing_tok
    assert cli(tok, "config", "--layout", "us", "--top-row", "--enter")[0] == 0
    try:
        before = code_on_screen(_show(tok, "six"))
        tok.clear_typed()
        t0 = tok.rtc_time()
        tok.double_press()
        got = _typed(tok, "us", 7)
        after = code_on_screen(tok.screen_text())
        t1 = tok.rtc_time()
        # As in _type_and_check: a period may roll over between the reads.
        assert got.endswith("\n") and got[:-1] in (before, after), (got, before, after)
        assert got[:-1] in (ACCOUNTS[0][2](t0), ACCOUNTS[0][2](t1)), got
    finally:
        assert cli(tok, "config", "--no-enter")[0] == 0


def test_nothing_over_serial_makes_it_type(typing_tok):
    tok = typing_tok
    wait_for(tok.keyboard.keys_up, "the keys of an earlier test's typing released")
    time.sleep(QUIET_S)  # whatever an earlier test typed has gone out
    tok.clear_typed()
    for args in (("info",), ("status",), ("list",), ("config",), ("sync-time",),
                 ("log",)):
        assert cli(tok, *args)[0] == 0
    time.sleep(QUIET_S)
    assert tok.keyboard.reports == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_hotp_types_the_code_shown_without_advancing(runtime):
    with SimulatedToken(runtime=runtime) as tok:
        code, out = cli(tok, "add", "door", "--secret", B32, "--hotp",
                        "--counter", "3", "--no-backup")
        assert code == 0, out
        assert cli(tok, "config", "--typing", "on", "--top-row")[0] == 0
        tok.double_press()  # no code up yet: nothing to type
        assert screen(tok, "no code: hold x2")
        assert tok.keyboard.reports == []
        next_hotp(tok)
        assert code_on_screen(tok.screen_text()) == pyotp.HOTP(B32).at(3)
        tok.double_press()
        assert _typed(tok, "us", 6) == pyotp.HOTP(B32).at(3)
        next_hotp(tok)  # the next code is counter 4: typing did not use one up
        assert code_on_screen(tok.screen_text()) == pyotp.HOTP(B32).at(4)


def test_no_typing_while_locked_or_on_the_waking_press():
    with SimulatedToken(idle_s=2) as tok:
        assert cli(tok, "sync-time")[0] == 0
        _add(tok, "six", ())
        assert cli(tok, "config", "--typing", "on")[0] == 0
        # The screen goes off; a double press then only wakes it.
        wait_for(lambda: not cli(tok, "status")[1]["screen_on"], "the screen going off")
        tok.clear_typed()
        tok.double_press()
        time.sleep(QUIET_S)
        assert tok.keyboard.reports == []
        # With a PIN the locked token types nothing either.
        import io
        import sys
        stdin, sys.stdin = sys.stdin, io.StringIO("4826\n")
        try:
            assert cli(tok, "pin", "set")[0] == 0
        finally:
            sys.stdin = stdin
        tok.restart()
        assert screen(tok, "LOCKED")
        tok.double_press()
        time.sleep(QUIET_S)
        assert tok.keyboard.reports == []


def test_board_without_a_keyboard_says_so():
    with SimulatedToken(keyboard=False) as tok:
        code, info = cli(tok, "info")
        assert code == 0
        assert "keyboard" not in info["features"]
        assert "keyboard not supported" in info["features"]
        assert info["keyboard"] == {"supported": False,
                                    "note": "keyboard not supported on this board"}
        code, err = cli(tok, "config", "--typing", "on")
        assert code != 0 and err["error"] == "no_keyboard"


def test_circuitpython_runtime_types_through_usb_hid():
    """The same gesture on the CircuitPython runtime: usb_hid's keyboard
    (enabled in boot.py) reaches the same host model."""
    with SimulatedToken(runtime="circuitpython") as tok:
        assert cli(tok, "sync-time")[0] == 0
        for name, extra, _ in ACCOUNTS:
            _add(tok, name, extra)
        code, info = cli(tok, "info")
        assert info["runtime"] == "circuitpython" and "keyboard" in info["features"]
        assert cli(tok, "config", "--typing", "on", "--layout", "de", "--top-row")[0] == 0
        for name, _, expect in ACCOUNTS:
            _type_and_check(tok, name, "de", expect or _steam)
        assert cli(tok, "config", "--keypad")[0] == 0
        tok.set_host_leds(0)
        _type_and_check(tok, "six", "fr", ACCOUNTS[0][2])
        assert not tok.keyboard.leds & LED_NUM_LOCK
