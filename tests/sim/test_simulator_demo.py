"""The terminal demo tells the user where the `s` key saved the screenshot."""
import contextlib
import io
import os
import re
import select
import subprocess
import sys

import pytest

from host_tools.simulator import SimulatedToken
from host_tools.simulator.__main__ import draw, take_screenshot
from tests.waiting import HANG_GUARD_S, REPLY_GUARD_S, screen, wait_for

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in


def _read_until(fd, pattern, seen):
    """Read the demo's output until `pattern` shows (or the pty closes)."""
    closed = []

    def found():
        if re.search(pattern, seen[0]) or closed:
            return True
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen[0] += os.read(fd, 65536).decode(errors="replace")
            except OSError:  # the child closed the pty
                closed.append(True)
        return bool(re.search(pattern, seen[0]))

    wait_for(found, "the demo printing %r" % pattern, every_s=0)
    return re.search(pattern, seen[0])


@contextlib.contextmanager
def _in_a_terminal(tmp_path):
    """The simulator in a pseudo-terminal of its own: (process, our end),
    both gone afterwards."""
    master, slave = os.openpty()
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.simulator", "--seconds", "120"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            cwd=str(tmp_path), env=env)
    os.close(slave)
    try:
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_s_key_saves_the_png_and_shows_its_full_path(tmp_path):
    with _in_a_terminal(tmp_path) as (proc, master):
        seen = [""]
        _read_until(master, r"s: screenshot", seen)
        os.write(master, b"s")
        m = _read_until(master, r"screenshot saved: (\S+\.png)", seen)
        os.write(master, b"q")
        assert proc.wait(timeout=HANG_GUARD_S) == 0, proc.stderr.read()
    shown = m.group(1)
    assert shown == str(tmp_path / "token-screen.png")  # absolute, where it really is
    with open(shown, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_terminal_ui_says_in_plain_text_what_the_screen_shows():
    """Issue 17: the terminal UI draws the OLED in braille, which a screen
    reader (or a quick glance) can't read: a plain-text line says it too."""
    with SimulatedToken(idle_s=2) as tok:
        screen(tok, "CLOCK LOST")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            draw(tok)
        lines = out.getvalue().split("\r\n")
        said = [line for line in lines if line.startswith("Screen: ")]
        assert said == ["Screen: " + " | ".join(tok.screen_text().splitlines())], lines
        assert "CLOCK LOST | Time not set:" in said[0]
        wait_for(lambda: not tok.oled.display_on, "the screen to go dark when idle")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            draw(tok)
        assert "Screen: (off: press to wake)" in out.getvalue().split("\r\n")


def test_a_screenshot_that_cannot_be_written_says_so(tmp_path):
    class Tok:
        def screenshot(self, path):
            raise PermissionError(13, "Permission denied")
    msg = take_screenshot(Tok(), str(tmp_path / "x.png"))
    assert msg == "screenshot not saved: Permission denied"


def _descendants(pid):
    """Every process below pid, from /proc (the firmware and what runs it)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                kids = []
            found += kids
            todo += kids
    return found


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["q", "SIGINT", "SIGTERM", "SIGHUP"])
def test_every_way_out_stops_the_firmware(tmp_path, how):
    """Issue 17: closing the terminal (SIGHUP) left the firmware running
    under pid 1; q, Ctrl-C, a kill and a hang-up all stop it."""
    import signal
    with _in_a_terminal(tmp_path) as (proc, master):
        seen = [""]
        _read_until(master, r"s: screenshot", seen)
        below = _descendants(proc.pid)
        assert below, "no firmware process found below the simulator"
        if how == "q":
            os.write(master, b"q")
        else:
            proc.send_signal(getattr(signal, how))
        proc.wait(timeout=HANG_GUARD_S)
        left = wait_for(lambda: not any(_alive(p) for p in below) or None, "the firmware to stop",
                        guard_s=REPLY_GUARD_S)
        assert left


def test_h_holds_the_button_until_h_again(tmp_path):
    """Issue 17: the lock screen counts a PIN digit up while the button is
    held, and a terminal sees no key come up: h puts the finger down, h
    lifts it. The firmware sees one press, however long the hold."""
    from tests.forensics import cli

    class Port:  # what tests.forensics.cli needs of a token
        port = None
    with _in_a_terminal(tmp_path) as (proc, master):
        seen = [""]

        def presses():
            code, doc = cli(Port, "status")
            assert code == 0, doc
            return doc["data"]["diag"]["presses"]
        Port.port = _read_until(master, r"on port (\S+)", seen).group(1)
        _read_until(master, r"h: hold/let go", seen)
        os.write(master, b"h")
        _read_until(master, r"holding the button: h lets go", seen)
        wait_for(lambda: presses() == 1, "the held button's long press")
        seen[0] = ""
        os.write(master, b"h")
        _read_until(master, r"h: hold/let go[^\n]*\r\n(?!holding)", seen)
        assert presses() == 1
        os.write(master, b"q")
        assert proc.wait(timeout=HANG_GUARD_S) == 0, proc.stderr.read()
