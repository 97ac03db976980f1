"""The demo as the README tells a new user to try it: `make demo`'s command,
then the README's own provision.py lines in a second terminal, and an
import. It must work on the demo's accounts and leave $HOME untouched: the
demo's accounts go into no backup of the user's."""
import os
import re
import signal
import subprocess
import sys

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
from tests.waiting import HANG_GUARD_S
DEMO_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # the README's example secret (RFC 6238)


def readme_commands():
    """The provision.py lines of the README's quick start (before its first rule)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        start = f.read().split("\n---\n", 1)[0]
    lines = [line.strip() for line in start.splitlines()
             if re.match(r"\s*\.venv/bin/python host_tools/provision\.py ", line)]
    assert any(" add " in line for line in lines), lines
    return lines


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), path)
                  for d, _, names in os.walk(path) for f in names)


def test_demo_and_readme_commands_leave_home_untouched(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TOKEN_") and k != "XDG_DATA_HOME"}
    # A password at hand, so a backup would be written without a prompt if one were.
    env.update(HOME=str(home), PYTHONPATH=REPO, TOKEN_BACKUP_PASSWORD="demo-test-pw")
    sim = subprocess.Popen([sys.executable, "-m", "host_tools.simulator", "--demo",
                            "--data", "sim-data", "--seconds", "300"],
                           cwd=str(work), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        first = sim.stdout.readline()
        found = re.search(r"on port (\S+)", first)
        assert found, first + sim.stderr.read() if sim.poll() is not None else first
        port = found.group(1)
        said = []
        for line in readme_commands():
            argv = line.replace("/dev/pts/N", port).split()[1:]  # our interpreter
            done = subprocess.run([sys.executable] + argv, cwd=REPO, env=env, text=True,
                                  input=DEMO_SECRET + "\n", capture_output=True, timeout=HANG_GUARD_S)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            said.append(done.stdout)
        assert "added Example:bob@example.com (6/6 on the token)" in said[-1]
        assert "backup: not saved, this is a simulated token" in said[-1]
        uris = work / "codes.txt"
        uris.write_text("otpauth://totp/Imp:carol?secret=%s\n" % DEMO_SECRET)
        done = subprocess.run([sys.executable, "host_tools/provision.py", "--port", port,
                               "import", str(uris), "--yes"], cwd=REPO, env=env, text=True,
                              capture_output=True, timeout=HANG_GUARD_S)
        assert done.returncode == 0, done.stderr
        assert "backup: not saved" in done.stdout
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=HANG_GUARD_S)
    assert files_under(home) == []
    assert "backup.aegis.json" not in files_under(work)


def _demo(work, env, *extra):
    """Run `make demo`'s command headless for a moment; (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "host_tools.simulator", "--demo",
                           "--data", "sim-data", "--seconds", "1"] + list(extra),
                          cwd=str(work), env=env, capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    return done.returncode, done.stdout, done.stderr


def _demo_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEN_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=REPO, TOKEN_NO_BACKUP="1",
               TOKEN_SIM_AUTO_CONFIRM="1")  # a hand on the token for `pin set`
    return env


def test_the_demo_starts_on_the_first_account_showing_a_code(tmp_path):
    """Issue 17: it used to open on the last account added, an HOTP one
    with no code."""
    env = _demo_env(tmp_path)
    code, out, err = _demo(tmp_path, env)
    assert code == 0, err
    assert "1/%d" % 5 in out and re.search(r"\b\d{3} ?\d{3}\b", out), out


def test_a_demo_token_with_a_pin_starts_locked_and_says_so(tmp_path):
    """Issue 17: after `pin set` on the demo token every `make demo` ended in
    a traceback (its own clock sync needs the PIN). It starts locked and
    says so, or syncs with $TOKEN_PIN."""
    env = _demo_env(tmp_path)
    assert _demo(tmp_path, env)[0] == 0
    pin = "73916248"
    sim = subprocess.Popen([sys.executable, "-m", "host_tools.simulator", "--data", "sim-data",
                            "--seconds", "300"], cwd=str(tmp_path), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = re.search(r"on port (\S+)", sim.stdout.readline()).group(1)
        done = subprocess.run([sys.executable, "host_tools/provision.py", "--port", port,
                               "pin", "set"], cwd=REPO, env=dict(env, TOKEN_NEW_PIN=pin),
                              capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert done.returncode == 0, done.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=HANG_GUARD_S)
    code, out, err = _demo(tmp_path, env)
    assert code == 0 and "Traceback" not in err, err
    assert "LOCKED" in out and "has a PIN" in out, out
    code, out, err = _demo(tmp_path, dict(env, TOKEN_PIN=pin))
    assert code == 0 and "Traceback" not in err, err
    assert "clock synced" in out, out
