"""The terminal demo tells the user where the `s` key saved the screenshot."""
import os
import re
import select
import subprocess
import sys

from host_tools.simulator.__main__ import take_screenshot
from tests.waiting import HANG_GUARD_S, wait_for

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


def test_s_key_saves_the_png_and_shows_its_full_path(tmp_path):
    master, slave = os.openpty()
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.simulator", "--seconds", "120"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            cwd=str(tmp_path), env=env)
    os.close(slave)
    seen = [""]
    try:
        _read_until(master, r"s: screenshot", seen)
        os.write(master, b"s")
        m = _read_until(master, r"screenshot saved: (\S+\.png)", seen)
        os.write(master, b"q")
        assert proc.wait(timeout=HANG_GUARD_S) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    shown = m.group(1)
    assert shown == str(tmp_path / "token-screen.png")  # absolute, where it really is
    with open(shown, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_screenshot_that_cannot_be_written_says_so(tmp_path):
    class Tok:
        def screenshot(self, path):
            raise PermissionError(13, "Permission denied")
    msg = take_screenshot(Tok(), str(tmp_path / "x.png"))
    assert msg == "screenshot not saved: Permission denied"
