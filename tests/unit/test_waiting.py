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


class _Screen:
    """A token whose screen shows each text in turn, one per look."""
    def __init__(self, *texts):
        self.texts = list(texts)

    def screen_text(self):
        return self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]


def test_screen_waits_for_the_text_and_returns_the_whole_screen():
    from tests.waiting import screen
    tok = _Screen("", "booting", "No accounts yet\n0/0")
    assert screen(tok, "No accounts") == "No accounts yet\n0/0"
    tok = _Screen("1/2", "2/2")
    assert screen(tok, lambda text: text.startswith("2/")) == "2/2"


def test_screen_fails_with_what_the_screen_shows_at_the_end():
    from tests.waiting import screen
    with pytest.raises(pytest.fail.Exception, match="(?s)'typed'.*CLOCK LOST"):
        screen(_Screen("CLOCK LOST"), "typed", guard_s=0.05)


def test_power_cut_waits_past_the_simulators_own_deadline():
    from tests.waiting import power_cut

    class Cut:
        looks = 0

        def wait_power_cut(self, timeout):
            assert timeout < 1  # short looks: the guard is waiting.py's
            self.looks += 1
            return self.looks >= 4
    tok = Cut()
    assert power_cut(tok) is True and tok.looks == 4
    with pytest.raises(pytest.fail.Exception, match="the power cut never happened"):
        power_cut(type("Never", (), {"wait_power_cut": lambda self, timeout: False})(),
                  guard_s=0.05)
