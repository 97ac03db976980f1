"""`provision.py devices`, and finding a running simulator without --port."""
import contextlib
import io
import json
import os
import subprocess
import sys

import pytest
import serial.tools.list_ports

from host_tools import link, provision, simstate
from host_tools.client import TokenClient
from host_tools.errors import NoDeviceError, TokenError
from host_tools.simulator import SimulatedToken
from host_tools.mpy import REPO
from tests.waiting import HANG_GUARD_S, REPLY_GUARD, REPLY_GUARD_S


@pytest.fixture
def no_usb(monkeypatch):
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [])


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = provision.main(list(args))
    return code, out.getvalue(), err.getvalue()


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---- the state files ----

def test_state_dir_choice(tmp_path):
    assert simstate.state_dir({"TOKEN_SIM_STATE_DIR": "/x/y", "XDG_RUNTIME_DIR": "/run/u"}) \
        == "/x/y"
    assert simstate.state_dir({"XDG_RUNTIME_DIR": "/run/user/7"}) == \
        "/run/user/7/totp-token/simulators"
    fallback = simstate.state_dir({"XDG_RUNTIME_DIR": "relative"})
    assert fallback.endswith(os.path.join("totp-token-%d" % os.getuid(), "simulators"))


def test_the_tests_state_dir_is_not_the_users():
    here = simstate.state_dir()
    assert here == os.environ["TOKEN_SIM_STATE_DIR"]
    assert here != simstate.state_dir({k: v for k, v in os.environ.items()
                                       if k != "TOKEN_SIM_STATE_DIR"})


def test_register_and_unregister(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_STATE_DIR", str(tmp_path))
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        path = simstate.register(port, "/some/data")
        assert simstate.running() == [{"pid": os.getpid(), "port": port, "board": "sim",
                                       "data_dir": "/some/data"}]
        simstate.unregister(path)
        assert simstate.running() == [] and os.listdir(tmp_path) == []
    finally:
        os.close(master)
        os.close(slave)


def test_stale_and_broken_state_files_are_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_STATE_DIR", str(tmp_path))
    stale = tmp_path / "1-pts-1.json"
    stale.write_text(json.dumps({"pid": dead_pid(), "port": "/dev/null"}))
    gone_port = tmp_path / "2-pts-2.json"
    gone_port.write_text(json.dumps({"pid": os.getpid(), "port": str(tmp_path / "nope")}))
    (tmp_path / "3-pts-3.json").write_text("{half a fi")
    (tmp_path / "notes.txt").write_text("not ours")
    assert simstate.running() == []
    assert not stale.exists() and not gone_port.exists()  # cleaned up


# ---- port auto-detection ----

def test_one_simulator_is_found_when_no_usb_token_is(no_usb):
    assert link.find_port(env={}, sims=[{"port": "/dev/pts/9", "pid": 1}]) == "/dev/pts/9"


def test_several_simulators_ask_for_a_choice(no_usb):
    with pytest.raises(TokenError) as e:
        link.find_port(env={}, sims=[{"port": "/dev/pts/8", "pid": 1},
                                     {"port": "/dev/pts/9", "pid": 2}])
    assert e.value.code == "several_devices" and e.value.exit_code == 3
    assert "/dev/pts/8, /dev/pts/9" in e.value.message and "--port" in e.value.message


def test_a_usb_token_comes_before_a_simulator(monkeypatch):
    from types import SimpleNamespace
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [
        SimpleNamespace(device="/dev/ttyACM0", vid=0x2E8A, pid=0x0005)])
    assert link.find_port(env={}, sims=[{"port": "/dev/pts/9", "pid": 1}]) == "/dev/ttyACM0"


def test_nothing_at_all(no_usb):
    with pytest.raises(NoDeviceError):
        link.find_port(env={})


# ---- end to end with a running simulator ----

def test_a_running_simulator_needs_no_port(no_usb, tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("TOKEN_PORT", raising=False)
    with SimulatedToken(announce=True) as tok:
        code, out, err = cli("--json", "--timeout", REPLY_GUARD, "status")
        assert code == 0, err
        code, out, err = cli("--json", "--timeout", REPLY_GUARD, "devices")
        assert code == 0, err
        devices = json.loads(out)["data"]["devices"]
        assert len(devices) == 1
        dev = devices[0]
        assert dev["port"] == tok.port and dev["source"] == "simulator"
        assert dev["board"] == "sim" and dev["version"] and dev["state"] == "ok"
        assert dev["serial"] == tok.serial
        code, out, err = cli("--timeout", REPLY_GUARD, "devices")
        assert code == 0 and tok.port in out and "sim" in out and tok.serial in out
        # Held by another program: listed, and said so.
        with TokenClient(link.SerialLink(tok.port), timeout=REPLY_GUARD_S):
            code, out, err = cli("--json", "devices")
        assert json.loads(out)["data"]["devices"][0]["state"] == "port_busy"
    assert os.listdir(tmp_path) == []  # the state file went with it
    code, out, err = cli("devices")
    assert code == 0 and out.strip() == "no tokens or simulators found"
    code, out, err = cli("status")
    assert code == 3 and "no token found" in err


def test_the_simulator_command_announces_its_port(tmp_path):
    """python -m host_tools.simulator, as a user starts it: found while it
    runs, gone once it stops."""
    env = dict(os.environ, TOKEN_SIM_STATE_DIR=str(tmp_path))
    repo = REPO
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.simulator", "--seconds", "60"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert "Simulated token on port" in first
        port = first.split("port ")[1].split()[0]
        assert [s["port"] for s in simstate.running(env)] == [port]
    finally:
        proc.terminate()
        proc.wait(HANG_GUARD_S)
    assert simstate.running(env) == [] and os.listdir(tmp_path) == []


def test_circuitpython_boards_are_found_on_their_protocol_port(monkeypatch):
    """CircuitPython shows a console and a data port; the token answers on
    data. Linux names the interfaces; elsewhere the interface number says."""
    from types import SimpleNamespace as P
    ports = [
        P(device="/dev/ttyACM0", vid=0x239A, pid=0x80F4, interface="CircuitPython CDC control",
          location="1-1:1.0"),
        P(device="/dev/ttyACM1", vid=0x239A, pid=0x80F4, interface="CircuitPython CDC2 control",
          location="1-1:1.2"),
        P(device="/dev/cu.usbmodem1", vid=0x239A, pid=0x8121, interface=None, location="20-1:1.0"),
        P(device="/dev/cu.usbmodem3", vid=0x239A, pid=0x8121, interface=None, location="20-1:1.2"),
        P(device="/dev/ttyUSB0", vid=0x0403, pid=0x6001, interface=None, location=None),
        P(device="/dev/ttyS0", vid=None, pid=None, interface=None, location=None),
    ]
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: ports)
    found = {c["port"]: c["description"] for c in link.usb_candidates()}
    assert found == {"/dev/ttyACM1": link.CIRCUITPY_DATA, "/dev/cu.usbmodem3": link.CIRCUITPY_DATA,
                     "/dev/ttyUSB0": "FTDI USB-serial"}
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: ports[:2])
    assert link.find_port(env={}, sims=[]) == "/dev/ttyACM1"
