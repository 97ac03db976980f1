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
