import os
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
if REPO not in sys.path:
    sys.path.insert(0, REPO)
# The tests sit in tiers (tests/unit, tests/sim, tests/repo); the helpers they
# share (clock_checks, fixtures_import, forensics, ...) stay here in tests/,
# importable by name from every tier.
if TESTS not in sys.path:
    sys.path.append(TESTS)

from host_tools import mpy  # noqa: E402
from host_tools.mpy import Worker  # noqa: E402

# Firmware modules are top-level on the device; import them the same way here.
for _d in mpy.PORTABLE_DIRS[::-1]:
    if _d not in sys.path:
        sys.path.insert(0, _d)


@pytest.fixture(scope="session")
def mp_worker():
    """One MicroPython process (the real unix port) calling firmware functions."""
    w = Worker()
    yield w
    w.close()


@pytest.fixture
def tok():
    """A fresh simulated token, running; removed afterwards."""
    from host_tools.simulator import SimulatedToken
    t = SimulatedToken()
    t.start()
    yield t
    t.close()


@pytest.fixture(scope="session", autouse=True)
def _simulator_state_in_tmp(tmp_path_factory):
    """Running simulators announce their port in a per-user directory: the
    tests' go to a directory of their own (session-wide, so module-scoped
    tokens are covered too), never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOKEN_SIM_STATE_DIR", str(tmp_path_factory.mktemp("simulators")))
        # A hand on every simulated token that holds its button when the
        # screen asks for a hold (pin set, wipe, ...): only the tests of that
        # confirmation (auto_confirm=False) press by themselves.
        mp.setenv("TOKEN_SIM_AUTO_CONFIRM", "1")
        yield


@pytest.fixture(autouse=True)
def _host_backup_in_tmp(tmp_path_factory, monkeypatch):
    """`add` and `import` update an encrypted backup in the user's home by
    default: no test may write the developer's real one or wait at its password
    prompt. The older CLI tests also compare add's exact output, from before
    the backup existed, so it is off unless a test clears TOKEN_NO_BACKUP."""
    import secrets
    path = tmp_path_factory.mktemp("backup") / "backup.aegis.json"
    monkeypatch.setenv("TOKEN_BACKUP", str(path))
    monkeypatch.setenv("TOKEN_BACKUP_PASSWORD", secrets.token_urlsafe(16))
    monkeypatch.setenv("TOKEN_NO_BACKUP", "1")



@pytest.fixture(scope="session")
def privacyidea(tmp_path_factory, worker_id):
    """A real privacyIDEA 3.14 on 127.0.0.1 (tests/privacyidea_server.py):
    one for the whole run, whichever xdist workers run its tests. The first
    test that asks sets it up and starts it; it stops when the last worker
    using it is done (and, whatever happens, with the run's process)."""
    from tests.privacyidea_server import shared
    if worker_id == "master":  # no xdist: this process is the run
        root, owner = tmp_path_factory.getbasetemp(), os.getpid()
    else:  # the workers' temp dirs share a parent; the controller is the run
        root, owner = tmp_path_factory.getbasetemp().parent, os.getppid()
    with shared(str(root), owner) as server:
        yield server
