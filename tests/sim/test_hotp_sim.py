"""HOTP on the simulated token: codes without a clock, the per-second path
in small ints, and the counter on flash before its code is on screen."""
import base64

import pyotp

from host_tools.client import TokenClient
from host_tools.link import SerialLink
from host_tools.simulator import SimulatedToken
from tests.sim.test_e2e_sim import code_on_screen, next_hotp
from tests.waiting import REPLY_GUARD_S, power_cut, screen, wait_for

SEED = b"12345678901234567890"  # RFC 4226
B32 = base64.b32encode(SEED).decode()
HOTP = pyotp.HOTP(B32)


def _add(c, name, kind, **extra):
    c.request("add", name=name, secret=SEED.hex(), kind=kind, **extra)


def test_hotp_codes_while_the_clock_is_lost(tok):
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        c.sync_time()
        _add(c, "mail", "totp")
        _add(c, "door", "hotp", counter=5)
    tok.lose_clock()
    # The time-based account says why it has no code...
    tok.press()
    text = screen(tok, "CLOCK LOST")
    assert "mail" in text and code_on_screen(text) is None
    # ...while the HOTP one stays usable: HOTP needs no clock.
    tok.press()
    text = screen(tok, "hold twice: code")
    assert "door" in text and "CLOCK LOST" not in text
    next_hotp(tok)
    assert code_on_screen(tok.screen_text()) == HOTP.at(5)
    next_hotp(tok)
    assert code_on_screen(tok.screen_text()) == HOTP.at(6)
    tok.press()
    text = screen(tok, "mail")
    assert "CLOCK LOST" in text and code_on_screen(text) is None
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        assert c.status()["clock"]["lost"] is True
        assert [a.get("counter") for a in c.list_accounts()] == [None, 7]


def test_per_second_values_stay_small_ints_with_an_hotp_code_up():
    # The unix port is 64-bit: an int above 2**30-1 allocates only on 32-bit
    # boards, so the firmware's check mode counts such values on the
    # per-second path (and runs it under heap_lock).
    with SimulatedToken(check_alloc=True) as tok:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            c.sync_time()
            _add(c, "door", "hotp", counter=0)
            next_hotp(tok)
            assert code_on_screen(tok.screen_text()) == HOTP.at(0)
            start = c.status()["diag"]["refresh_locked_runs"]
            diag = wait_for(lambda: (lambda d: d["refresh_locked_runs"] >= start + 2 and d)(
                c.status()["diag"]), "two refreshes under heap_lock")
            assert code_on_screen(tok.screen_text()) == HOTP.at(0)  # still up
            _add(c, "mail", "totp")  # and the time-based refresh too
            start = diag["refresh_locked_runs"]
            wait_for(lambda: c.status()["diag"]["refresh_locked_runs"] >= start + 2,
                     "two more refreshes under heap_lock")
            diag = c.status()["diag"]
        assert diag["refresh_big_ints"] == 0, diag
        assert diag["refresh_lock_errors"] == 0 and diag["refresh_alloc_bytes"] == 0, diag


def test_hotp_counter_reaches_flash_before_its_code_reaches_the_screen(tmp_path):
    # Cut the power at the first flash write after the hold on the menu's
    # "next code": the code of the counter being stored must not have been
    # drawn yet.
    tok = SimulatedToken(data_dir=str(tmp_path))
    tok.start()
    try:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            _add(c, "door", "hotp", counter=5)
        screen(tok, "hold twice: code")
        tok.long_press()
        screen(tok, ">next code")
        tok.cut_power_at_write(1)
        tok.bus.button_down = True
        assert power_cut(tok), "the long press wrote nothing to flash"
        tok.bus.button_down = False
        assert HOTP.at(5)[:3] not in tok.screen_text().replace(" ", "")
        assert code_on_screen(tok.screen_text()) is None
        # Power back: nothing was shown, so counter 5 may still be used.
        tok.restart()
        next_hotp(tok)
        assert code_on_screen(tok.screen_text()) in (HOTP.at(5), HOTP.at(6))
    finally:
        tok.close()
