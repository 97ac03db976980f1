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
