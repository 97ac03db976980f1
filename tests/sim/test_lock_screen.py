"""The lock screen (issue 17) on both runtimes: what it says after PIN checks
from the button and from the host, which share one retry counter."""
import pytest

from host_tools.simulator import SimulatedToken
from tests.forensics import add, cli
from tests.waiting import screen

PIN = "2468"


@pytest.fixture(params=["micropython", "circuitpython"], ids=["mp", "cp"])
def locked(request):
    """A token with an account and a PIN, restarted: on its lock screen."""
    with SimulatedToken(runtime=request.param) as t:
        assert cli(t, "sync-time")[0] == 0
        add(t, "alice")
        code, doc = cli(t, "pin", "set", new_pin=PIN)
        assert code == 0, doc
        t.restart()
        screen(t, "LOCKED 8/8")
        yield t


def test_the_lock_screen_follows_the_hosts_pin_checks(locked):
    tok = locked
    tok.enter_pin("1111")
    text = screen(tok, "wrong PIN")
    assert "7/8 tries" in text, text
    # A right PIN from the host resets the shared counter: the lock screen
    # says so by the time the reply is in, and drops the stale "wrong PIN".
    # The screen itself stays locked (the host's login is not the button's).
    assert cli(tok, "sync-time", pin=PIN)[0] == 0
    text = tok.screen_text()
    assert "LOCKED 8/8 tries" in text and "wrong PIN" not in text, text
    assert "USB: PIN right" in text, text
    # A wrong one from the host costs a try on the same counter: shown too.
    code, doc = cli(tok, "sync-time", pin="1357")
    assert code == 1 and doc["error"] == "wrong_pin", doc
    text = tok.screen_text()
    assert "LOCKED 7/8 tries" in text and "wrong PIN (USB)" in text, text
    tok.enter_pin(PIN)
    screen(tok, "alice")


@pytest.mark.parametrize("runtime", ["micropython", "circuitpython"], ids=["mp", "cp"])
def test_a_pin_by_holds_on_a_128x32_panel(runtime):
    # The lock screen teaches the entry in its four lines of 16 columns:
    # a hold counts the digit up, letting go takes it, a press undoes it.
    with SimulatedToken(runtime=runtime, display=(128, 32)) as tok:
        assert cli(tok, "sync-time")[0] == 0
        add(tok, "alice")
        assert cli(tok, "pin", "set", new_pin=PIN)[0] == 0
        tok.restart()
        lines = screen(tok, "LOCKED").splitlines()
        assert lines == ["LOCKED 8/8 tries", "PIN 0", "4-16 digits", "hold: count up"], lines
        tok.enter_pin("7", submit=False)  # one hold, let go on "let go: take 7"
        lines = tok.screen_text().splitlines()
        assert lines == ["LOCKED 8/8 tries", "PIN *0", "press: undo", "hold: count up"], lines
        tok.press()
        assert tok.screen_text().splitlines()[1:3] == ["PIN 0", "4-16 digits"]
        tok.enter_pin(PIN, submit=False)
        lines = tok.screen_text().splitlines()
        assert lines[1:] == ["PIN ****_", "press: undo", "hold: unlock"], lines
        tok.enter_pin("")  # the hold on _ unlocks
        screen(tok, "alice")
        assert cli(tok, "info")[1]["data"]["auth"]["tries_left"] == 8
