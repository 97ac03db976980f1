"""tests/waiting.py: the hang guard fails with what never happened."""
import pytest

from tests.waiting import wait_for


def test_wait_for_returns_what_the_check_found():
    calls = []

    def check():
        calls.append(1)
        return len(calls) >= 3 and "ready"
    assert wait_for(check, "ready", every_s=0) == "ready"
    assert len(calls) == 3


def test_wait_for_fails_with_the_name_of_what_never_came():
    with pytest.raises(pytest.fail.Exception, match="the screen never happened"):
        wait_for(lambda: False, "the screen", guard_s=0.05, every_s=0.01)
