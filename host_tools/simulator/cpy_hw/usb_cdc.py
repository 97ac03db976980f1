# Stands for CircuitPython's `usb_cdc` module. `data` is the second USB
# serial port (once boot.py enabled it): here a Serial over the simulator's
# pseudo-terminal (fd TOKEN_SIM_CDC_FD, default 0: the launcher's stdin,
# which the simulator opens as the pty's master). `console` is the REPL port:
# here stderr, the simulator's log.
import errno
import fcntl
import os
import select
import struct
import sys
import termios
import time


class Serial:
    def __init__(self, rfd, wfd):
        self._rfd = rfd
        self._wfd = wfd
        self._timeout = None  # CircuitPython's initial values: wait forever
        self._write_timeout = None
        for fd in {rfd, wfd}:
            os.set_blocking(fd, False)

    # -- settings -----------------------------------------------------------
    @property
    def timeout(self):
        return self._timeout

    @timeout.setter
    def timeout(self, value):
        self._timeout = None if value is None else float(value)

    @property
    def write_timeout(self):
        return self._write_timeout

    @write_timeout.setter
    def write_timeout(self, value):
        self._write_timeout = None if value is None else float(value)

    @property
    def connected(self):
        return True

    # -- reading --------------------------------------------------------------
    @property
    def in_waiting(self):
        try:
            raw = fcntl.ioctl(self._rfd, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return 0
        return struct.unpack("i", raw)[0]

    def _deadline(self, timeout):
        return None if timeout is None else time.monotonic() + timeout

    def _wait(self, fd, deadline, for_write=False):
        """True when fd is ready before the deadline (None: no deadline)."""
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        r, w, _ = select.select([] if for_write else [fd], [fd] if for_write else [], [], left)
        return bool(r or w)

    def readinto(self, buf):
        view = memoryview(buf).cast("B")
        got = 0
        deadline = self._deadline(self._timeout)
        while got < len(view):
            try:
                n = os.readv(self._rfd, [view[got:]])
            except BlockingIOError:
                n = None
            except OSError as e:
                if e.errno != errno.EIO:  # EIO: nobody holds the port open
                    raise
                n = None
            if n:
                got += n
                continue
            if n == 0:
                break
            if self._timeout == 0 or not self._wait(self._rfd, deadline):
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        return got

    def read(self, size=1):
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def reset_input_buffer(self):
        scrap = bytearray(256)
        saved, self._timeout = self._timeout, 0
        try:
            while self.readinto(scrap):
                pass
        finally:
            self._timeout = saved

    def reset_output_buffer(self):
        pass

    # -- writing ----------------------------------------------------------------
    @property
    def out_waiting(self):
        return 0

    def write(self, buf):
        view = memoryview(buf).cast("B")
        sent = 0
        deadline = self._deadline(self._write_timeout)
        while sent < len(view):
            try:
                sent += os.write(self._wfd, view[sent:])
                continue
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                break
            if self._write_timeout == 0 or not self._wait(self._wfd, deadline, True):
                break
        return sent

    def flush(self):
        pass


class _Console:
    """The REPL port: print() output and tracebacks, to the simulator's log."""

    def __init__(self):
        self.timeout = None
        self.write_timeout = None
        self.connected = True
        self.in_waiting = 0

    def write(self, buf):
        return os.write(2, bytes(buf))

    def read(self, size=1):
        return b""

    def readinto(self, buf):
        return 0

    def flush(self):
        pass

    def reset_input_buffer(self):
        pass


console = _Console()
data = None
enabled = {"console": True, "data": False}


def enable(*, console=True, data=False):
    """Which CDC interfaces the USB host sees; boot.py only, before USB starts."""
    _set(console, data)
    return True


def _set(console_on, data_on):
    global data, console
    enabled["console"] = console_on
    enabled["data"] = data_on
    # Into the simulator's log, where tests read which ports the board has.
    sys.stderr.write("usb_cdc: console port %s, data port %s\n"
                     % ("on" if console_on else "off", "on" if data_on else "off"))
    console = _Console() if console_on else None
    if data_on and data is None:
        fd = int(os.getenv("TOKEN_SIM_CDC_FD") or "0")
        data = Serial(fd, fd if fd != 0 else 1)
    elif not data_on:
        data = None
