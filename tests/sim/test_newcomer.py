"""Issue 17: a newcomer's first hour as one test. From a copy of what a clone
holds (the tracked files, no venv, no sim-data): `make demo`'s own command
in a terminal, `pin set` confirmed with a hold on the demo's button, the
demo restarted (it starts locked and says so), the PIN entered with the
demo's keys while reading its screen line, then `code NAME` in a second
terminal and a press on the demo: the code reaches the computer and is the
one pyotp gives for the demo's seed."""
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
import time

import pyotp

from host_tools.mpy import REPO
from tests.waiting import HANG_GUARD_S, wait_for

PIN = "2048"
ACCOUNT = "alice@example.com"  # the demo's first account: RFC 6238's SHA-1 seed
SEED_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def fresh_copy(dest):
    """The files a clone of this repository has, copied as they are now."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = os.path.join(REPO, name)
        if os.path.isfile(src):
            os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))
    return dest


def demo_command(clone):
    """`make demo`'s last step, run with this interpreter (the venv's)."""
    out = subprocess.run(["make", "--no-print-directory", "-n", "demo"], cwd=clone, check=True,
                         capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items()
                              if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}).stdout
    line = [x for x in out.splitlines() if "host_tools.simulator" in x][-1]
    argv = line.split()
    assert argv[0].endswith("python"), line
    return [sys.executable] + argv[1:]


class Terminal:
    """The demo in a pseudo-terminal, as a person runs it: keys in, the
    drawn screen out (its `Screen:` line says in words what the OLED shows)."""

    def __init__(self, argv, cwd, env):
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True)
        os.close(slave)
        self.fd = master
        self.out = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.out = (self.out + data.decode(errors="replace"))[-200000:]

    def text(self):
        with self._lock:
            return self.out

    def screen(self):
        """The demo's latest `Screen:` line."""
        lines = re.findall(r"Screen: ([^\r\n]*)", self.text())
        return lines[-1] if lines else ""

    def wait_screen(self, want):
        return wait_for(lambda: want in self.screen(),
                        lambda: "the demo's screen showing %r (it shows %r)" % (want, self.screen()))

    def key(self, k):
        os.write(self.fd, k.encode())

    def quit(self):
        self.key("q")
        self.proc.wait(HANG_GUARD_S)
        os.close(self.fd)


def test_clone_demo_pin_set_restart_and_code_with_a_press(tmp_path):
    clone = fresh_copy(str(tmp_path / "clone"))
    home = tmp_path / "home"
    home.mkdir()
    # As on a newcomer's machine: no test hand on the button, no PIN in the environment.
    env = {k: v for k, v in os.environ.items()
           if k not in ("TOKEN_SIM_AUTO_CONFIRM", "TOKEN_PIN", "TOKEN_BACKUP", "TOKEN_PORT")}
    env.update(HOME=str(home), PYTHONPATH=clone, TERM="xterm")
    demo = demo_command(clone)

    def provision(port, *args, stdin=""):
        return subprocess.run([sys.executable, "host_tools/provision.py", "--port", port,
                               "--timeout", str(HANG_GUARD_S)] + list(args), cwd=clone, env=env,
                              input=stdin, capture_output=True, text=True, timeout=HANG_GUARD_S)

    first = Terminal(demo, clone, env)
    port = wait_for(lambda: (re.findall(r"Simulated token on port (\S+)", first.text()) or [None])[-1],
                    "the demo's port")
    first.wait_screen("1/5")

    # pin set: the token asks for a hold on its button (a new owner); b is a long press.
    results = []
    setting = threading.Thread(target=lambda: results.append(
        provision(port, "pin", "set", stdin=PIN + "\n")), daemon=True)
    setting.start()
    first.wait_screen("hold: yes")
    first.key("b")
    setting.join(HANG_GUARD_S)
    assert results and results[0].returncode == 0, results and (results[0].stdout, results[0].stderr)
    first.quit()

    # The next day: the demo starts locked and says so.
    second = Terminal(demo, clone, env)
    wait_for(lambda: "starts locked" in second.text(), lambda: "the locked note in " + second.text()[-2000:])
    second.wait_screen("LOCKED")
    # The PIN with the demo's h key: hold, watch the digit count up, let go on the right one.
    for want in ["let go: take %s" % d for d in PIN] + ["let go: unlock"]:
        second.key("h")
        second.wait_screen(want)
        second.key("h")
        # Seen taken before the next hold, as a person's eyes would: a hold
        # straight after the release would be one long hold to the button.
        wait_for(lambda: "let go" not in second.screen(),
                 lambda: "the demo taking %r (it shows %r)" % (want, second.screen()))
    second.wait_screen("1/5")

    # code NAME: the token shows the account and waits for a press; Space is the press.
    got = []
    asking = threading.Thread(target=lambda: got.append(provision(port, "--json", "code", ACCOUNT)),
                              daemon=True)
    asking.start()
    second.wait_screen("press: send")
    second.key(" ")
    asking.join(HANG_GUARD_S)
    assert got and got[0].returncode == 0, got and (got[0].stdout, got[0].stderr)
    code = json.loads(got[0].stdout.strip().splitlines()[-1])["data"]["code"]
    now = time.time()
    assert code in {pyotp.TOTP(SEED_B32).at(now + d) for d in (-30, 0, 30)}
    second.quit()
    assert not os.path.exists(os.path.join(home, ".local", "share", "totp-token"))
