"""Time you can trust, in the simulator: precise sync, drift measured and
trimmed through the DS3231 aging register, lost-clock rules, calendar edges."""
import base64
import calendar
import hashlib
import time

import pyotp
import pytest

from host_tools.client import TokenClient
from host_tools.link import SerialLink
from host_tools.formats.otpauth import Account
from host_tools.simulator import SimulatedToken

from clock_checks import chip_minus_host, measure_slack_ms, synced, token_reading_within_chip
from tests.waiting import REPLY_GUARD_S, screen, wait_for

DAY = 86400
# Time passing on the simulated clock, not a wait: between two looks at a code
# on either side of a rollover.
PAST_ROLLOVER_S = 1.5
SHA1_SEED = b"12345678901234567890"
SHA256_SEED = b"12345678901234567890123456789012"


class HostClock:
    """The host's clock, shifted by however much simulated time has passed."""

    def __init__(self):
        self.shift = 0.0

    def __call__(self):
        return time.time() + self.shift


@pytest.mark.parametrize("ppm", [4.0, -6.0])
def test_drift_measured_over_a_week_and_trimmed(tok, ppm):
    host = HostClock()
    tok.set_drift_ppm(ppm)
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        first = synced(tok, host, lambda: c.sync_time(clock=host))
        # Where the sync really left the chip (a few ms off; more on a busy
        # machine): the drift is measured from there, so the checks start there.
        start = chip_minus_host(tok, host)
        for _ in range(2):  # a week passes, twice
            tok.advance(7 * DAY)
            host.shift += 7 * DAY
            second = c.sync_time(clock=host)
            if second["trimmed"]:
                break
            first, start = second, chip_minus_host(tok, host)
        # the week's gain (4 ppm * 7 days = 2.42 s) was found and trimmed
        span = (second["written_ms"] - first["written_ms"]) / 1000
        gained_ms = (start + 7 * DAY * ppm * 1e-6) * 1000
        slack = measure_slack_ms(second)
        assert second["offset_before_ms"] == pytest.approx(gained_ms, abs=slack)
        assert second["measured_ppm"] == pytest.approx(gained_ms * 1000 / span,
                                                       abs=slack * 1000 / span)
        trimmed = second["trimmed"]
        assert trimmed["to"] - trimmed["from"] == round(second["measured_ppm"] / 0.1)
        assert tok.rtc.aging == trimmed["to"]
        status = c.status()["clock"]
        assert status["aging"] == trimmed["to"]
        # another week: what is left is the residual drift, which the token
        # measures as it is (how small it is depends on how exact the syncs
        # were, a figure for `make bench`)
        residual_ppm = tok.rtc.effective_ppm
        assert abs(residual_ppm) < abs(ppm)  # trimmed the right way
        start = chip_minus_host(tok, host)
        tok.advance(7 * DAY)
        host.shift += 7 * DAY
        third = c.sync_time(clock=host)
        span = (third["written_ms"] - second["written_ms"]) / 1000
        gained_ms = (start + 7 * DAY * residual_ppm * 1e-6) * 1000
        slack = measure_slack_ms(third)
        assert third["offset_before_ms"] == pytest.approx(gained_ms, abs=slack)
        assert third["measured_ppm"] == pytest.approx(gained_ms * 1000 / span,
                                                      abs=slack * 1000 / span)
        drift = c.status()["clock"]["drift"]
        # seconds since the last sync, on the chip's own clock
        assert 0 <= drift["since_s"] <= tok.rtc_time() - third["written_ms"] / 1000 + 1
        steps = third["trimmed"]["to"] - third["trimmed"]["from"] if third["trimmed"] else 0
        assert drift["drift_ppm"] == pytest.approx(third["measured_ppm"] - 0.1 * steps, abs=1e-3)


def test_status_shows_drift_and_expected_error_and_calibrate(tok):
    host = HostClock()
    tok.set_drift_ppm(20.0)
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        first = synced(tok, host, lambda: c.sync_time(clock=host))
        start = chip_minus_host(tok, host)  # where the sync left the chip
        with pytest.raises(Exception) as e:
            c.calibrate()
        assert getattr(e.value, "code", None) == "no_estimate"
        tok.advance(2 * 3600)
        host.shift += 2 * 3600
        data = c.sync_time(clock=host, trim="never")  # two hours: measured, not trimmed
        span = (data["written_ms"] - first["written_ms"]) / 1000
        gained_ms = (start + 2 * 3600 * 20e-6) * 1000
        assert data["measured_ppm"] == pytest.approx(
            gained_ms * 1000 / span, abs=measure_slack_ms(data) * 1000 / span)
        assert data["trimmed"] is None
        tok.advance(3600)
        drift = c.status()["clock"]["drift"]
        assert 3600 <= drift["since_s"] <= tok.rtc_time() - data["written_ms"] / 1000 + 1
        # the error to expect is the estimate times the time since the sync
        assert drift["expected_error_ms"] == pytest.approx(
            drift["drift_ppm"] * drift["since_s"] / 1000, abs=0.2)
        out = c.calibrate()["trimmed"]
        assert out["to"] == min(127, out["from"] + 200)  # 20 ppm is 200 steps: clamped


def test_lost_clock_screen_and_status_until_sync(tok):
    tok.lose_clock()
    screen(tok, "CLOCK LOST")
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        assert c.status()["clock"]["lost"] is True
        c.sync_time()
        assert c.status()["clock"]["lost"] is False
    screen(tok, "No accounts yet")


def test_time_before_the_build_year_counts_as_lost(tok):
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        c.sync_time()
        c.add(Account(name="a", secret=SHA1_SEED))
    screen(tok, "1/1")
    tok.set_time(calendar.timegm((2020, 6, 1, 12, 0, 0)))  # OSF clear, but clearly wrong
    screen(tok, "CLOCK LOST")
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        assert c.status()["clock"]["lost"] is True


def test_temperature_in_status(tok):
    tok.rtc.set_temperature(31.25)
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        assert c.status()["clock"]["temperature_c"] == 31.25
    tok.rtc.set_temperature(-3.75)
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        assert c.status()["clock"]["temperature_c"] == -3.75


def _code(seed, digest, digits, period, t):
    return pyotp.TOTP(base64.b32encode(seed).decode(), digits=digits, digest=digest,
                      interval=period).at(int(t))


EDGES = [
    (2028, 2, 29, 23, 59, 57),  # leap day rolls into March
    (2038, 1, 19, 3, 14, 5),  # 32-bit time_t ends at 03:14:07
    (2099, 12, 31, 23, 59, 57),  # the DS3231 century bit flips
    (2100, 2, 28, 23, 59, 57),  # 2100 is not a leap year
    (2199, 12, 31, 23, 59, 50),  # the last year the chip holds
]


@pytest.fixture(scope="module")
def edge_tok():
    t = SimulatedToken()
    t.start()
    with TokenClient(SerialLink(t.port), timeout=REPLY_GUARD_S) as c:
        c.sync_time()
        c.add(Account(name="p30", secret=SHA1_SEED))
        c.add(Account(name="p7", secret=SHA256_SEED, algorithm="SHA256", digits=8, period=7))
    yield t
    t.close()


@pytest.mark.parametrize("fields", EDGES, ids=lambda f: "%04d-%02d-%02d" % f[:3])
def test_codes_and_calendar_across_the_edges(edge_tok, fields):
    tok = edge_tok
    start = calendar.timegm(fields)
    host = HostClock()
    host.shift = start - time.time()
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        # The firmware itself writes the registers (century bit included).
        synced(tok, host, lambda: c.sync_time(clock=host))
        for account, seed, digest, digits, period in (
                ("p7", SHA256_SEED, hashlib.sha256, 8, 7),
                ("p30", SHA1_SEED, hashlib.sha1, 6, 30)):
            text = screen(tok, account)
            for _ in range(2):  # across the rollover of the day (and year)
                def shows_the_code():
                    t = tok.rtc_time()
                    return _code(seed, digest, digits, period, t) in tok.screen_text().replace(" ", "")
                wait_for(shows_the_code, "%s's code for the simulated time on screen" % account,
                         every_s=0.05)
                time.sleep(PAST_ROLLOVER_S)  # the clock runs on: the next look is across the rollover
            tok.press()
        # the token's own reading of the registers after the rollovers
        got = token_reading_within_chip(tok, lambda: c.get_time()["unix_ms"])
        assert time.gmtime(got).tm_year == time.gmtime(tok.rtc_time()).tm_year


@pytest.mark.parametrize("jump_s", [-1015, 1015, -20])
def test_the_code_follows_the_rtc_when_it_jumps_behind_the_firmware(tok, jump_s):
    """Issue 17: after a jump of the DS3231 (a battery glitch, an oscillator
    restart) the screen kept the old time's code, the countdown stuck, until
    the next press. Within a second or so the code is the RTC's and the
    countdown is never more than the period."""
    with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
        c.sync_time()
        c.add(Account(name="p30", secret=SHA1_SEED))
    screen(tok, "p30")
    tok.set_time(int(tok.rtc_time()) + jump_s)

    def right():
        text = tok.screen_text().replace(" ", "")
        return _code(SHA1_SEED, hashlib.sha1, 6, 30, tok.rtc_time()) in text

    wait_for(right, "the code for the RTC's new time", every_s=0.05)
    left = tok.screen_text().splitlines()[-1].strip()  # the countdown, in seconds
    assert left.isdigit() and 0 < int(left) <= 30, tok.screen_text()
