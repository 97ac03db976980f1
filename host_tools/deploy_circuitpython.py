"""`make deploy RUNTIME=circuitpython`: put the firmware on a CIRCUITPY drive.

The board must show its drive: hold the token's button while plugging it in
(boot.py hides the drive in normal operation, so no computer can read the
store), or start from a fresh CircuitPython board. Copies the portable
modules and the CircuitPython runtime's (code.py and boot.py at the top), the
board file as tokenboard.py and the 8x8 font the screen draws with; then
installs the adafruit libraries with circup, from the bundle release pinned
below, and checks that circup put the versions we test against
(requirements-circuitpython.txt) on the drive.
"""
import os
import re
import shutil
import subprocess

from host_tools import mpy
from host_tools.simulator import fontfile

# The adafruit bundle release whose libraries match requirements-circuitpython.txt.
BUNDLE = "adafruit/Adafruit_CircuitPython_Bundle"
BUNDLE_TAG = "20261015"
PINS = os.path.join(mpy.REPO, "requirements-circuitpython.txt")
# PyPI name -> the module name on the board (what circup installs and lists).
_MODULE = {"adafruit-circuitpython-busdevice": "adafruit_bus_device"}


class DeployError(Exception):
    pass


def pinned_libraries(path=PINS):
    """[(module name on the board, version)] from the pins file."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            name, version = line.split("==")
            module = _MODULE.get(name, name.replace("adafruit-circuitpython-", "adafruit_"))
            out.append((module, version))
    return out


def board_file(board):
    path = os.path.join(mpy.BOARDS, board + ".py")
    if not os.path.exists(path):
        raise DeployError("no board file boards/%s.py (see boards/)" % board)
    ns = {}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)  # board files are data only
    if ns.get("RUNTIME") != "circuitpython":
        raise DeployError("boards/%s.py is a MicroPython board; the CircuitPython ones are "
                          "boards/cp_*.py" % board)
    return path


def check_drive(drive):
    if not os.path.isdir(drive):
        raise DeployError("%s is not mounted. Hold the token's button while plugging it in "
                          "(the drive is hidden in normal operation), then pass "
                          "DRIVE=/path/to/CIRCUITPY" % drive)
    if not os.path.exists(os.path.join(drive, "boot_out.txt")):
        raise DeployError("%s does not look like a CIRCUITPY drive (no boot_out.txt)" % drive)


def copy_firmware(drive, board):
    """Copy the files; returns the names written."""
    written = []
    for src, name in mpy.firmware_sources("circuitpython"):
        shutil.copyfile(src, os.path.join(drive, name))
        written.append(name)
    shutil.copyfile(board_file(board), os.path.join(drive, "tokenboard.py"))
    written.append("tokenboard.py")
    fontfile.write(os.path.join(drive, fontfile.FILENAME))
    written.append(fontfile.FILENAME)
    return written


def circup_install(circup, drive):
    return [circup, "--path", drive, "--bundle-version", "%s=%s" % (BUNDLE, BUNDLE_TAG),
            "install"] + [m for m, _ in pinned_libraries()]


def installed_versions(freeze_output):
    """{module: version} from `circup freeze`."""
    return dict(re.findall(r"^(\w+)==([\w.]+)\s*$", freeze_output, re.M))


def mismatches(installed):
    return ["%s: want %s, drive has %s" % (m, v, installed.get(m, "none"))
            for m, v in pinned_libraries() if installed.get(m) != v]


def deploy(drive, board, circup):
    check_drive(drive)
    names = copy_firmware(drive, board)
    print("copied to %s: %s" % (drive, " ".join(sorted(names))))
    try:
        subprocess.run(circup_install(circup, drive), check=True)
        freeze = subprocess.run([circup, "--path", drive, "freeze"], check=True,
                                capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise DeployError("circup not found: run `make venv`, or pass --circup")
    except subprocess.CalledProcessError as e:
        raise DeployError("circup failed (exit %d): it needs the internet to fetch the "
                          "adafruit bundle %s" % (e.returncode, BUNDLE_TAG))
    wrong = mismatches(installed_versions(freeze))
    if wrong:
        print("warning: the libraries on the drive are not the versions the tests use:\n  "
              + "\n  ".join(wrong))
    print("done: unplug the token and plug it in again (without holding the button)")
