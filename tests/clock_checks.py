"""Checks of the token's clock that hold however busy the machine is.

How close a sync gets to the host's time depends on how quickly the processes
are scheduled (a figure for `make bench`, which reports it). What must hold
regardless: the token writes the host's time, to the second, somewhere within
the sync call; the DS3231 then counts on from exactly the value the token says
it wrote; and a reading of the token's clock lies within the chip's seconds
around it.
"""
import math

SLACK_S = 0.002  # float rounding and a few ppm of rate over a second or two


def synced(tok, host, sync):
    """Run `sync()` (returns sync_time's dict) and check it against the host
    clock `host()` and the chip; returns the dict."""
    before = host()
    out = sync()
    after = host()
    written = out["written_ms"] / 1000
    half_rtt = out["rtt_ms"] / 2000
    # The token got host time + rtt/2, counted on with its own ticks to the next
    # whole second, and rounded: so the value lies in the call's span, +-0.5 s.
    assert before + half_rtt - 0.5 - SLACK_S <= written <= after + half_rtt + 0.5 + SLACK_S, \
        (before, written, after, out)
    # The chip holds `written` from the moment of the write (inside the call) on.
    h1 = host()
    chip = tok.rtc_time()
    h2 = host()
    assert written + (h1 - after) - SLACK_S <= chip <= written + (h2 - before) + SLACK_S, \
        (written, chip, before, after, h1, h2)
    return out


def token_reading_within_chip(tok, read_ms):
    """The token's reading (ms, from `read_ms()`) lies within the chip's whole
    seconds read just before and just after it: it read the registers in
    between and adds 0..999 ms of its own."""
    r0 = tok.rtc_time()
    got = read_ms() / 1000
    r1 = tok.rtc_time()
    assert math.floor(r0) <= got < math.floor(r1) + 1, (r0, got, r1)
    return got


def chip_minus_host(tok, host):
    """Where the chip stands against `host()` now, in seconds (chip - host),
    read from the models themselves: exact to the gap between two host reads."""
    h1 = host()
    chip = tok.rtc_time()
    h2 = host()
    assert h2 - h1 < 0.5, (h1, h2)  # a pause this long would blur the reading
    return chip - (h1 + h2) / 2


def measure_slack_ms(out):
    """How far one offset measurement by the token may be off: half the
    fastest round trip (the token read its clock somewhere inside it) plus
    the firmware's own sub-second phase, found by polling: a few ms, and up
    to about 20 on a loaded 2-core machine that descheduled it (seen)."""
    return out["rtt_ms"] / 2 + 20
