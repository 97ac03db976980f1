"""Run the token's firmware on its CircuitPython runtime, under CPython.

There is no CircuitPython interpreter here: this process plays the board.
Its import path is what a CIRCUITPY drive gives the firmware, with CPython
stand-ins for CircuitPython's platform modules in front:

    cpy_hw/ (board, busio, keypad, usb_cdc, ...)  firmware/runtime/circuitpython/
    firmware/  boards/ (the board file, imported as tokenboard)  site-packages
    (the real adafruit driver libraries)

then it runs boot.py and code.py, as CircuitPython does at power-up, and
stays up when code.py ends, as a board does. The environment is the
MicroPython simulator's (TOKEN_SIM_BUS, TOKEN_SIM_DISPLAY, ...), plus
TOKEN_SIM_DATA (a host directory standing for the drive's data folder),
TOKEN_SIM_FONT, TOKEN_SIM_CDC_FD (the pty's master, default 0: stdin) and
PYTHONPATH (board_path()). print() and tracebacks go to stderr: the console
port, not the data port the protocol uses. A reset ends the process with
RESET_EXIT. Writes to the drive are announced to the host first, so the
simulator's power cuts land between them, and the drive has a size (SimDrive).

    cmd = cpy_launch.command(); env.update(cpy_launch.environment(data_dir))
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CPY_HW = os.path.join(HERE, "cpy_hw")
CPY_RUNTIME = os.path.join(REPO, "firmware", "runtime", "circuitpython")
FIRMWARE = os.path.join(REPO, "firmware")
BOARDS = os.path.join(REPO, "boards")
RESET_EXIT = 97  # cpy_hw/microcontroller.py, as boards/sim.py


def command(board="cp_sim"):
    """The command line that starts the simulated CircuitPython board (-P:
    not this directory on the path, whose token.py would shadow the stdlib's)."""
    return [sys.executable, "-P", os.path.abspath(__file__), board]


def board_path(firmware=FIRMWARE):
    """The import path as the board sees it, in front of the interpreter's
    own (stdlib, and site-packages with the adafruit libraries): the
    stand-ins first, then what the drive holds. Not the repository: no host
    code."""
    return [CPY_HW, CPY_RUNTIME, firmware, BOARDS]


def environment(data_dir, font=None, firmware=FIRMWARE):
    """What the launcher needs on top of the MicroPython simulator's env."""
    if font is None:
        from host_tools.simulator import fontfile
        font = fontfile.write()
    return {"TOKEN_SIM_DATA": os.path.join(os.path.abspath(data_dir), "data"),
            "TOKEN_SIM_FONT": font,
            "PYTHONPATH": os.pathsep.join(board_path(firmware))}


DRIVE_BLOCK = 512  # FAT sectors, as on a CIRCUITPY drive
# Room for the data folder, of the order of a Pico's 1 MB CIRCUITPY drive
# (the simulated drive holds only the data; TOKEN_SIM_DRIVE_BYTES).
DRIVE_BYTES = 1 << 20


class SimDrive:
    """The CIRCUITPY drive as the simulator sees it: a host directory with a
    capacity (writes past it fail with ENOSPC, and statvfs reports it), each
    write, rename, removal and mkdir announced to the host first (notice()),
    like the MicroPython board's flash block writes (boards/sim.py), so the
    simulator's power cuts land between them."""

    def __init__(self, root, notice, capacity=DRIVE_BYTES):
        self.root = os.path.abspath(root)
        self.notice = notice
        self.capacity = capacity

    def ours(self, path):
        try:
            p = os.path.abspath(os.fspath(path))
        except TypeError:
            return False  # a file descriptor
        return p == self.root or p.startswith(self.root + os.sep)

    def used(self):
        """Bytes taken, in whole blocks per file and directory."""
        n = 0
        for top, dirs, files in os.walk(self.root):
            n += DRIVE_BLOCK  # the directory itself
            for name in files:
                try:
                    size = os.path.getsize(os.path.join(top, name))
                except OSError:
                    continue
                n += (size + DRIVE_BLOCK - 1) // DRIVE_BLOCK * DRIVE_BLOCK
        return n

    def room_for(self, nbytes):
        if self.used() + nbytes > self.capacity:
            raise OSError(28, "No space left on device")  # ENOSPC, as FAT says

    def statvfs(self):
        blocks = self.capacity // DRIVE_BLOCK
        free = max(0, self.capacity - self.used()) // DRIVE_BLOCK
        return os.statvfs_result((DRIVE_BLOCK, DRIVE_BLOCK, blocks, free, free, 0, 0, 0, 0, 255))


class _WatchedFile:
    """A file open for writing on the drive: each write is announced first,
    and refused when the drive is full."""

    def __init__(self, f, drive):
        self._f = f
        self._drive = drive

    def write(self, data):
        self._drive.notice()
        self._f.flush()  # count what is written so far
        self._drive.room_for(len(data))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __iter__(self):
        return iter(self._f)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def install_drive(drive):
    """Route the board process's file calls under drive.root through drive."""
    import builtins
    real_open = builtins.open
    exists = os.path.lexists

    def open_(file, mode="r", *args, **kwargs):
        if not (any(c in mode for c in "wax+") and drive.ours(file)):
            return real_open(file, mode, *args, **kwargs)
        if "w" in mode or "x" in mode or not exists(file):
            drive.notice()  # creating or truncating is a write too
        return _WatchedFile(real_open(file, mode, *args, **kwargs), drive)

    def announced(fn, writes_if):
        def call(path, *args, **kwargs):
            if drive.ours(path) and writes_if(path):  # a failing call writes nothing
                drive.notice()
            return fn(path, *args, **kwargs)
        return call

    real_statvfs = os.statvfs

    def statvfs(path):
        return drive.statvfs() if drive.ours(path) else real_statvfs(path)

    builtins.open = open_
    for name in ("rename", "replace", "remove", "unlink", "rmdir"):
        setattr(os, name, announced(getattr(os, name), exists))
    os.mkdir = announced(os.mkdir, lambda p: not exists(p))
    os.statvfs = statvfs


def run(board="cp_sim"):
    import importlib
    import runpy
    # The deployed board file is tokenboard.py beside code.py.
    sys.modules["tokenboard"] = importlib.import_module(board)
    import _simwire
    capacity = int(os.getenv("TOKEN_SIM_DRIVE_BYTES") or DRIVE_BYTES)
    install_drive(SimDrive(sys.modules["tokenboard"].DATA_DIR, _simwire.flash_notice, capacity))
    # CircuitPython's gc has MicroPython's heap figures; CPython's heap isn't
    # the board's, so the simulated board reports none.
    import gc
    for name in ("mem_alloc", "mem_free"):
        if not hasattr(gc, name):
            setattr(gc, name, lambda: 0)
    # Console output (print, tracebacks) to the log; the pty is the data port.
    sys.stdout = sys.stderr
    runpy.run_path(os.path.join(CPY_RUNTIME, "boot.py"), run_name="__boot__")
    try:
        runpy.run_path(os.path.join(CPY_RUNTIME, "code.py"), run_name="__main__")
    except Exception:
        import traceback
        traceback.print_exc()  # on the console, as CircuitPython prints it
    # A board whose code.py has ended stays up (USB, the drive, the REPL on
    # the console) until it is reset or unplugged.
    print("\nCode done running.")
    sys.stderr.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "cp_sim")
