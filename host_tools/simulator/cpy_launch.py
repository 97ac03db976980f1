"""Run the token's firmware on its CircuitPython runtime, under CPython.

There is no CircuitPython interpreter here: this process plays the board.
Its import path is what a CIRCUITPY drive gives the firmware, with CPython
stand-ins for CircuitPython's platform modules in front:

    cpy_hw/ (board, busio, keypad, usb_cdc, ...)  wire/ (the bus's codes)
    firmware/runtime/circuitpython/  firmware/  boards/ (the board file,
    imported as tokenboard)  site-packages (the real adafruit driver libraries)

then it runs boot.py and code.py, as CircuitPython does at power-up, and
stays up when code.py ends, as a board does. The environment is the
MicroPython simulator's (TOKEN_SIM_BUS, TOKEN_SIM_DISPLAY, ...), plus
TOKEN_SIM_DATA (a host directory standing for the drive's data folder),
TOKEN_SIM_NVM (the file microcontroller.nvm lives in), TOKEN_SIM_GHOSTS (the
drive's ghost log, see SimDrive), TOKEN_SIM_FONT, TOKEN_SIM_CDC_FD (the pty's
master, default 0: stdin) and PYTHONPATH (board_path()). print() and
tracebacks go to stderr: the console port, not the data port the protocol
uses. A reset ends the process with
wire/wirecodes.py RESET_EXIT. Writes to the drive are announced to the host first, so the
simulator's power cuts land between them, and the drive has a size (SimDrive).
What the board's flash holds, for a forensic look: flash_dump(data_dir).

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
NVM_SIZE = 4096  # cpy_hw/microcontroller.py: microcontroller.nvm on an RP2040


def command(board="cp_sim"):
    """The command line that starts the simulated CircuitPython board (-P:
    not this directory on the path, whose token.py would shadow the stdlib's)."""
    return [sys.executable, "-P", os.path.abspath(__file__), board]


def board_path(firmware=FIRMWARE):
    """The import path as the board sees it, in front of the interpreter's
    own (stdlib, and site-packages with the adafruit libraries): the
    stand-ins first, then what the drive holds (`firmware`: a folder of it
    flattened, or the repository's folders as host_tools/mpy.py lists them).
    Not the repository itself: no host code."""
    from host_tools.simulator.bus import WIRE_DIR  # the host side only: the board never asks
    if firmware == FIRMWARE:
        from host_tools import mpy
        return [CPY_HW, WIRE_DIR] + mpy.firmware_dirs("circuitpython")[::-1] + [BOARDS]
    return [CPY_HW, WIRE_DIR, CPY_RUNTIME, firmware, BOARDS]


def environment(data_dir, font=None, firmware=FIRMWARE):
    """What the launcher needs on top of the MicroPython simulator's env."""
    if font is None:
        from host_tools.simulator import fontfile
        font = fontfile.write()
    return {"TOKEN_SIM_DATA": drive_dir(data_dir),
            "TOKEN_SIM_NVM": nvm_path(data_dir),
            "TOKEN_SIM_GHOSTS": ghost_path(data_dir),
            "TOKEN_SIM_FONT": font,
            "PYTHONPATH": os.pathsep.join(board_path(firmware))}


def drive_dir(data_dir):
    """The folder of the simulator's data dir that is the drive (its data)."""
    return os.path.join(os.path.abspath(data_dir), "data")


def nvm_path(data_dir):
    """microcontroller.nvm's sector (cpy_hw/microcontroller.py), beside the drive."""
    return os.path.join(os.path.abspath(data_dir), "nvm.bin")


def ghost_path(data_dir):
    """The drive's ghost log (SimDrive), beside the drive, not on it."""
    return os.path.join(os.path.abspath(data_dir), "drive-ghosts.bin")


def flash_dump(data_dir):
    """What a dump of the board's flash could show, as bytes: the nvm sector
    (blank 0xFF until first written), every file now on the drive (paths in
    sorted order), then the ghost log (old contents, oldest first)."""
    try:
        with open(nvm_path(data_dir), "rb") as f:
            out = bytearray(f.read())
    except FileNotFoundError:
        out = bytearray(b"\xff" * NVM_SIZE)
    root = drive_dir(data_dir)
    paths = [os.path.join(top, name) for top, _, files in os.walk(root) for name in files]
    for path in sorted(paths, key=lambda p: os.path.relpath(p, root).split(os.sep)):
        with open(path, "rb") as f:
            out += f.read()
    try:
        with open(ghost_path(data_dir), "rb") as f:
            out += f.read()
    except FileNotFoundError:
        pass
    return bytes(out)


DRIVE_BLOCK = 512  # FAT sectors, as on a CIRCUITPY drive
# Room for the data folder, of the order of a Pico's 1 MB CIRCUITPY drive
# (the simulated drive holds only the data; TOKEN_SIM_DRIVE_BYTES).
DRIVE_BYTES = 1 << 20


class SimDrive:
    """The CIRCUITPY drive as the simulator sees it: a host directory with a
    capacity (writes past it fail with ENOSPC, and statvfs reports it), each
    write, rename, removal and mkdir announced to the host first (notice()),
    like the MicroPython board's flash block writes (mp_hw/simboard.py), so the
    simulator's power cuts land between them.

    Old contents: the drive is FAT on flash without wear levelling. Bytes
    overwritten in place (a file opened "r+b", written within its length)
    are replaced on the chip, but a removed file, a file renamed over,
    truncated ("w" modes, truncate()) leaves its old clusters' bytes on the
    chip until they are reused. The host directory keeps none of that, so
    each such call first appends the bytes it drops to the ghost log
    (`ghosts`, a file beside the drive, not on it; by default
    drive-ghosts.bin in the drive's parent), after the notice: as if no
    freed cluster were reused before the drive is full (then all were),
    which errs on the side of finding a stale copy."""

    def __init__(self, root, notice, capacity=DRIVE_BYTES, ghosts=None):
        self.root = os.path.abspath(root)
        self.notice = notice
        self.capacity = capacity
        self.ghosts = os.path.abspath(ghosts) if ghosts else os.path.join(
            os.path.dirname(self.root), "drive-ghosts.bin")

    def drop(self, path, keep=0):
        """The bytes of the file at `path` past its first `keep` are about to
        leave it: into the ghost log (nothing when it is no file)."""
        if not os.path.isfile(path):
            return
        with open(path, "rb") as f:
            f.seek(keep)
            gone = f.read()
        if gone:
            with open(self.ghosts, "ab") as g:
                g.write(gone)

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
        used = self.used()
        if used + nbytes > self.capacity:
            if used >= self.capacity:
                # Every cluster now belongs to a live file, so every freed
                # one was reused: no old contents are left on the chip.
                open(self.ghosts, "wb").close()
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

    def truncate(self, size=None):
        self._f.flush()
        if size is None:
            size = self._f.tell()
        self._drive.notice()
        self._drive.drop(self._f.name, size)  # the cut tail
        return self._f.truncate(size)

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
        if "w" in mode:
            drive.drop(file)  # truncated: the old clusters are freed
        return _WatchedFile(real_open(file, mode, *args, **kwargs), drive)

    def announced(fn, writes_if, drops=False):
        def call(path, *args, **kwargs):
            if drive.ours(path) and writes_if(path):  # a failing call writes nothing
                drive.notice()
                if drops:
                    drive.drop(path)
            return fn(path, *args, **kwargs)
        return call

    def renamed(fn):
        def call(src, dst, *args, **kwargs):
            if drive.ours(src) and exists(src):
                drive.notice()
                if drive.ours(dst):
                    drive.drop(dst)  # the file renamed over, if any
            return fn(src, dst, *args, **kwargs)
        return call

    real_truncate = os.truncate

    def truncate(path, length):
        if drive.ours(path) and exists(path):
            drive.notice()
            drive.drop(path, length)
        return real_truncate(path, length)

    real_statvfs = os.statvfs

    def statvfs(path):
        return drive.statvfs() if drive.ours(path) else real_statvfs(path)

    builtins.open = open_
    for name in ("rename", "replace"):
        setattr(os, name, renamed(getattr(os, name)))
    for name in ("remove", "unlink"):
        setattr(os, name, announced(getattr(os, name), exists, drops=True))
    os.rmdir = announced(os.rmdir, exists)
    os.mkdir = announced(os.mkdir, lambda p: not exists(p))
    os.truncate = truncate
    os.statvfs = statvfs


def run(board="cp_sim"):
    import importlib
    import runpy
    # The deployed board file is tokenboard.py beside code.py.
    sys.modules["tokenboard"] = importlib.import_module(board)
    import _simwire
    capacity = int(os.getenv("TOKEN_SIM_DRIVE_BYTES") or DRIVE_BYTES)
    install_drive(SimDrive(sys.modules["tokenboard"].DATA_DIR, _simwire.flash_notice, capacity,
                           os.getenv("TOKEN_SIM_GHOSTS")))
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
