"""Waiting for the simulated token without timing it: poll until something
happens; the guard only stops a hang (it is no speed figure, and generous so
a busy machine never trips it)."""
import time

import pytest

HANG_GUARD_S = 120


def wait_for(check, what, guard_s=HANG_GUARD_S, every_s=0.2):
    """Call check() until it returns something true, and return that."""
    deadline = time.monotonic() + guard_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail("%s never happened (hung?)" % what)
        time.sleep(every_s)
