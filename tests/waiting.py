"""Waiting for the simulated token without timing it: poll until something
happens; the guard only stops a hang (it is no speed figure, and generous so
a busy machine never trips it).

Every wait on a simulated token goes through here (tests/repo/test_waits.py
holds the tests to it): the screen, a power cut, a reset, or any condition
(wait_for). A wait that passes returns as soon as the thing happens, so the
guard costs nothing; only a hang waits it out. A time that is itself the
behaviour under test (a hold window the test asserts, a silence the test
expects) is a named constant in the test, never a bare number."""
import time

import pytest

HANG_GUARD_S = 120
# The same guard for a host command's answer (provision.py --timeout S, or
# TokenClient(timeout=...)): the client gives up after this much silence.
REPLY_GUARD_S = HANG_GUARD_S
REPLY_GUARD = str(REPLY_GUARD_S)  # as provision.py's --timeout argument


def wait_for(check, what, guard_s=HANG_GUARD_S, every_s=0.2):
    """Call check() until it returns something true, and return that.
    `what` names the awaited thing; a callable gives the name late (say,
    with what the screen shows by then)."""
    deadline = time.monotonic() + guard_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail("%s never happened (hung?)" % (what() if callable(what) else what))
        time.sleep(every_s)


def screen(tok, want, guard_s=HANG_GUARD_S):
    """Wait until the token's screen shows `want` (a piece of its text, or a
    predicate on the whole text); returns the text."""
    match = want if callable(want) else (lambda text: want in text)
    seen = [""]

    def check():
        seen[0] = tok.screen_text()
        return match(seen[0])

    wait_for(check, lambda: "the screen showing %r (it shows:\n%s\n)" % (
        getattr(want, "__name__", want), seen[0]), guard_s=guard_s, every_s=0.02)
    return seen[0]


def power_cut(tok, guard_s=HANG_GUARD_S):
    """Wait until the power cut the token was set up for has happened and
    the firmware has stopped; True (a hang fails the test)."""
    return wait_for(lambda: tok.wait_power_cut(timeout=0.05), "the power cut",
                    guard_s=guard_s, every_s=0)


def reset(tok, resets=1, guard_s=HANG_GUARD_S):
    """Wait until the firmware has reset `resets` times in all and is up again."""
    return tok.wait_reset(resets, timeout=guard_s)
