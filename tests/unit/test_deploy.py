"""host_tools/deploy.py, behind `make deploy`: stale sources removed on the
board, and advice when mpremote can't reach the REPL."""
import json
import os
import stat
import subprocess
import sys

from host_tools import deploy
from host_tools.mpy import micropython_exe


def test_stale_sources_that_would_shadow_the_mpy_files_are_removed(tmp_path):
    board = tmp_path / "board"
    board.mkdir()
    for name in ("app.py", "app.mpy", "clock.py", "main.py", "tokenboard.py", "notes.txt"):
        (board / name).write_text("x")
    code = deploy.stale_sources_code(["app", "clock", "store"], root=str(board))
    proc = subprocess.run([micropython_exe(), "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(board)) == ["app.mpy", "main.py", "notes.txt", "tokenboard.py"]
    assert proc.stdout.strip() == ("removed stale sources that would shadow the new .mpy "
                                   "files: app.py clock.py")
    again = subprocess.run([micropython_exe(), "-c", code], capture_output=True, text=True,
                           timeout=60)
    assert again.stdout.strip().endswith(": none")


def fake_mpremote(tmp_path, stderr="", code=0):
    log = tmp_path / "argv.txt"
    script = tmp_path / "mpremote"
    script.write_text("#!%s\nimport sys\nimport json\njson.dump(sys.argv[1:], open(%r, 'w'))\n"
                      "sys.stderr.write(%r)\nsys.exit(%d)\n" % (sys.executable, str(log),
                                                               stderr, code))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def build_dir(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    for name in ("app.mpy", "store.mpy", "main.py", "tokenboard.py"):
        (build / name).write_text("x")
    return str(build)


def test_one_mpremote_session_cleans_copies_and_resets(tmp_path, capsys):
    mpremote, log = fake_mpremote(tmp_path)
    build = build_dir(tmp_path)
    assert deploy.main(["--port", "/dev/ttyACM3", "--mpremote", mpremote, build]) == 0
    argv = json.loads(log.read_text())
    assert argv[:3] == ["connect", "/dev/ttyACM3", "exec"]
    assert "['app', 'store']" in argv[3]
    assert argv[4:] == ["+", "cp", os.path.join(build, "app.mpy"), os.path.join(build, "store.mpy"),
                    os.path.join(build, "tokenboard.py"), os.path.join(build, "main.py"),
                    ":", "+", "reset"]


def test_a_board_with_native_usb_gets_the_keyboard_package_before_the_reset(tmp_path, capsys):
    mpremote, log = fake_mpremote(tmp_path)
    build = build_dir(tmp_path)
    with open(os.path.join(build, "tokenboard.py"), "w") as f:
        f.write("NAME = 'rpi_pico'\nNATIVE_USB = True\n")
    assert deploy.main(["--mpremote", mpremote, build]) == 0
    argv = json.loads(log.read_text())
    assert argv[-7:] == [":", "+", "mip", "install", deploy.KEYBOARD_PACKAGE, "+", "reset"]
    assert deploy.main(["--mpremote", mpremote, "--keyboard", "off", build]) == 0
    assert "mip" not in json.loads(log.read_text())
    # Without the internet the package can't come: say what is missing and how to skip it.
    mpremote, log = fake_mpremote(tmp_path, stderr="mip: error fetching package\n", code=1)
    assert deploy.main(["--mpremote", mpremote, build]) == 1
    assert "KEYBOARD=off" in capsys.readouterr().err


def test_no_internet_for_the_keyboard_package_is_said_as_such(tmp_path, capsys):
    """Issue 17: offline, the package download failed and the advice was "Is
    the token plugged in, and is PORT right?". mpremote's own words for it
    name the URL, not mip."""
    mpremote, log = fake_mpremote(
        tmp_path, "mpremote: [Errno -3] Temporary failure in name resolution requesting "
                  "https://micropython.org/pi/v2/package/6/%s/latest.json\n"
                  % deploy.KEYBOARD_PACKAGE, 1)
    build = build_dir(tmp_path)
    with open(os.path.join(build, "tokenboard.py"), "w") as f:
        f.write("NAME = 'rpi_pico'\nNATIVE_USB = True\n")
    assert deploy.main(["--mpremote", mpremote, build]) == 1
    err = capsys.readouterr().err
    assert "downloading the USB keyboard package" in err and "KEYBOARD=off" in err
    assert "Temporary failure in name resolution" in err
    assert "plugged in" not in err


def test_a_running_token_gets_advice_not_just_an_error(tmp_path, capsys):
    mpremote, _ = fake_mpremote(tmp_path, "mpremote: could not enter raw repl\n", 1)
    assert deploy.main(["--mpremote", mpremote, build_dir(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "could not enter raw repl" in err
    assert "provision.py maintenance" in err and "hold its button while plugging" in err


def test_other_failures_say_what_to_check(tmp_path, capsys):
    mpremote, _ = fake_mpremote(tmp_path, "mpremote: no device found\n", 1)
    assert deploy.main(["--mpremote", mpremote, build_dir(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no device found" in err and "PORT=" in err and "maintenance" in err


# -- CircuitPython (host_tools/deploy_circuitpython.py) ----------------------------

def _fake_circup(tmp_path, freeze):
    """A circup stand-in: records its arguments, prints `freeze` when asked."""
    log = tmp_path / "circup.log"
    script = tmp_path / "circup"
    script.write_text("#!/bin/sh\necho \"$@\" >> %s\n"
                      "case \"$*\" in *freeze*) printf '%%s\\n' %s ;; esac\n"
                      % (log, " ".join("'%s'" % line for line in freeze)))
    script.chmod(0o755)
    return str(script), log


def test_circuitpython_deploy_copies_the_firmware_and_pins_the_libraries(tmp_path, capsys):
    from host_tools import deploy, deploy_circuitpython as cpd
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    (drive / "boot_out.txt").write_text("Adafruit CircuitPython 10.0.0")
    freeze = ["%s==%s" % mv for mv in cpd.pinned_libraries()]
    circup, log = _fake_circup(tmp_path, freeze)
    assert deploy.main(["--runtime", "circuitpython", "--board", "cp_rpi_pico",
                        "--drive", str(drive), "--circup", circup]) == 0
    names = set(os.listdir(drive))
    assert {"code.py", "boot.py", "hal.py", "app.py", "store.py", "tokenboard.py",
            "font8x8.bin"} <= names
    assert "ssd1306.py" not in names and "main.py" not in names  # MicroPython's own
    assert (drive / "font8x8.bin").stat().st_size == 95 * 8
    calls = log.read_text().splitlines()
    assert "--bundle-version %s=%s install" % (cpd.BUNDLE, cpd.BUNDLE_TAG) in calls[0]
    for module, _ in cpd.pinned_libraries():
        assert module in calls[0].split()
    assert "adafruit_bus_device" in calls[0].split()
    assert "warning" not in capsys.readouterr().out


def test_circuitpython_deploy_warns_about_other_versions_and_refuses_bad_targets(tmp_path, capsys):
    from host_tools import deploy, deploy_circuitpython as cpd
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    (drive / "boot_out.txt").write_text("Adafruit CircuitPython 10.0.0")
    circup, _ = _fake_circup(tmp_path, ["adafruit_ssd1306==9.9.9"])
    assert deploy.main(["--runtime", "circuitpython", "--board", "cp_rpi_pico",
                        "--drive", str(drive), "--circup", circup]) == 0
    out = capsys.readouterr().out
    assert "adafruit_ssd1306: want %s, drive has 9.9.9" % dict(cpd.pinned_libraries())["adafruit_ssd1306"] in out
    # A MicroPython board file, a drive that isn't there, one that isn't CIRCUITPY.
    assert deploy.main(["--runtime", "circuitpython", "--board", "rpi_pico",
                        "--drive", str(drive), "--circup", circup]) == 2
    assert "MicroPython board" in capsys.readouterr().err
    assert deploy.main(["--runtime", "circuitpython", "--board", "cp_rpi_pico",
                        "--drive", str(tmp_path / "nope"), "--circup", circup]) == 2
    assert "hold the token's button" in capsys.readouterr().err.lower()
    other = tmp_path / "USB"
    other.mkdir()
    assert deploy.main(["--runtime", "circuitpython", "--board", "cp_rpi_pico",
                        "--drive", str(other), "--circup", circup]) == 2
    assert "does not look like a CIRCUITPY drive" in capsys.readouterr().err
