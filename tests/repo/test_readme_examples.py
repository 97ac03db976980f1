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


def test_the_demo_resets_without_deleting_the_venv():
    """Issue 17: `make clean` also deletes the 366 MB venv; the demo has a
    target of its own that only forgets the simulated token (sim-data/)."""
    import subprocess
    out = subprocess.run(["make", "-n", "demo-reset"], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    commands = [line for line in out.stdout.splitlines() if line.strip()]
    assert commands == ["rm -rf sim-data"], commands
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        assert "make demo-reset" in f.read()
