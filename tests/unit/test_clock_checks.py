"""The load-proof clock checks (tests/clock_checks.py) catch what they are for."""
import pytest

from clock_checks import synced, token_reading_within_chip


class Clock:
    """A host clock that moves only when told, and a chip that follows it."""

    def __init__(self, t):
        self.t = t

    def __call__(self):
        self.t += 0.01  # every reading takes a little time
        return self.t


class Chip:
    def __init__(self, clock, offset):
        self.clock, self.offset = clock, offset

    def rtc_time(self):
        return self.clock() + self.offset


def _sync(clock, written, rtt_ms=4.0, takes=1.2):
    def run():
        clock.t += takes
        return {"written_ms": written * 1000, "rtt_ms": rtt_ms}
    return run


def test_a_good_sync_passes():
    host = Clock(1_800_000_000.0)
    # the token wrote 1_800_000_001 when the host read ...001.1; the chip holds it
    out = synced(Chip(host, -0.1), host, _sync(host, 1_800_000_001))
    assert out["written_ms"] == 1_800_000_001_000


@pytest.mark.parametrize("written, chip_offset", [
    (1_800_000_001 + 3600, -0.1),  # the token wrote the wrong hour
    (1_800_000_001, -0.1 + 100 * 365.25 * 86400),  # the chip decoded another century
    (1_800_000_001, -0.1 - 86400),  # or another day
    (1_800_000_001, -2.1),  # or holds a time two seconds behind what was written
])
def test_a_wrong_sync_fails(written, chip_offset):
    host = Clock(1_800_000_000.0)
    with pytest.raises(AssertionError):
        synced(Chip(host, chip_offset), host, _sync(host, written))


def test_token_reading_within_the_chips_seconds():
    host = Clock(1_800_000_000.0)
    chip = Chip(host, 0.0)
    assert token_reading_within_chip(chip, lambda: 1_800_000_000_015) == 1_800_000_000.015
    with pytest.raises(AssertionError):
        token_reading_within_chip(chip, lambda: 1_800_000_001_500)  # a second ahead
    with pytest.raises(AssertionError):
        token_reading_within_chip(chip, lambda: 1_799_999_999_990)  # behind the chip
