"""The progress bar (host_tools/progress.py) and the prompts around it."""
import io
import sys

from host_tools.cli import common
from host_tools.progress import Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_prompt_during_the_bar_starts_on_a_line_of_its_own(monkeypatch):
    """Issue 17: during `import`, the PIN prompt landed on the progress bar's
    line ("importing [####......] 4/10token PIN: ")."""
    err = Tty()
    prompts = []

    def getpass(prompt):
        prompts.append(err.getvalue())  # what the terminal shows as the prompt appears
        return "1234"
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(common.getpass, "getpass", getpass)
    with Progress(10, "importing", stream=err) as bar:
        bar.step(4)
        assert common.read_line("token PIN: ") == "1234"
        bar.step(6)
    shown = prompts[0]
    assert shown.endswith("4/10\n"), repr(shown)  # the bar's line ended first
    assert err.getvalue().endswith("\rimporting [####################] 10/10\n")


def test_without_a_bar_a_prompt_adds_no_line(monkeypatch):
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(common.getpass, "getpass", lambda prompt: "x")
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert common.read_line("? ") == "x"
    assert err.getvalue() == ""
