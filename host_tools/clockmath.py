"""Measuring and setting the token's clock against the host's: the offset
from the fastest of a few get-time round trips, and the time to send so
that it is right when it arrives. Drives a TokenClient's get_time and
set_time; the token does the drift and aging arithmetic itself."""
import time

from firmware.protocol import frames
from host_tools.errors import DeviceError

TIME_SAMPLES = 5  # get-time round trips per offset measurement; the fastest wins


def clock_offset(client, clock=time.time, samples=TIME_SAMPLES):
    """(token time - host time, round trip), both ms, from the fastest of
    `samples` get-time exchanges; the offset is None while the token's clock
    is lost."""
    best = None
    for _ in range(samples):
        t_send = clock()
        data = client.get_time()
        t_recv = clock()
        rtt = (t_recv - t_send) * 1000
        if best is None or rtt < best[0]:
            best = (rtt, t_send, t_recv, data)
    rtt, t_send, t_recv, data = best
    if data.get("lost") or data.get("unix_ms") is None:
        return None, round(rtt, 1)
    # The token read its clock, on average, halfway through the exchange.
    offset = data["unix_ms"] - (t_send + t_recv) / 2 * 1000
    return round(offset, 1), round(rtt, 1)


def _log_in_first(client):
    # set-time is privileged: with a PIN, the exchange (PBKDF2 on the host, a
    # key agreement) would otherwise run after the time to send was worked
    # out and before it went, leaving the token 12-16 ms behind.
    if client.session is None and client.pin is not None:
        if (client.info().get("auth") or {}).get("pin"):
            client.authenticate()


def sync_time(client, clock=time.time, samples=TIME_SAMPLES, trim="auto"):
    """Set the token's clock from `clock` (seconds) and report how far off it was.

    The request spends about half the round trip in flight, so the time
    sent is host time plus rtt/2; the token lines it up with its next whole
    second and replies once the RTC holds it."""
    _log_in_first(client)
    offset_before, rtt_ms = clock_offset(client, clock, samples)
    written = client.set_time(round(clock() * 1000 + rtt_ms / 2), offset_before, trim)
    offset_after, _ = clock_offset(client, clock, samples)
    if offset_after is None:
        raise DeviceError(frames.E_CLOCK_LOST, "the token's clock still reads as lost "
                          "after setting it; check its RTC and backup battery")
    return {"offset_before_ms": offset_before, "offset_after_ms": offset_after,
            "rtt_ms": rtt_ms, "written_ms": written.get("unix_ms"),
            "measured_ppm": written.get("measured_ppm"), "trimmed": written.get("trimmed")}
