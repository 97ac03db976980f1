import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
# Firmware modules are top-level on the device; import them the same way here.
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from host_tools.mpy import Worker  # noqa: E402


@pytest.fixture(scope="session")
def mp_worker():
    """One MicroPython process (the real unix port) calling firmware functions."""
    w = Worker()
    yield w
    w.close()
