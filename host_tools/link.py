"""The serial transport to a token, and finding which port it is on.

A link is four methods: write(bytes), readline(deadline) -> bytes or None,
reset_input(), close(). TokenClient needs nothing more, so tests swap in a fake.
"""
import errno
import os
import stat
import time

import serial
from serial.tools import list_ports

from host_tools import simstate
from host_tools.errors import LinkLostError, NoDeviceError, PortBusyError, TokenError

try:
    from termios import error as _TermiosError
except ImportError:  # Windows
    _TermiosError = OSError
# What pyserial raises once the device is gone: termios.error (no OSError)
# comes from its flush on a port whose other end vanished.
_GONE = (serial.SerialException, OSError, _TermiosError)

# USB (VID, PID) of the boards the token firmware runs on, or their USB-serial chips.
KNOWN_BOARDS = {
    (0x2E8A, 0x0005): "MicroPython on RP2040/RP2350",
    (0x303A, 0x1001): "ESP32-S3/C3 USB-Serial/JTAG",
    (0x303A, 0x4001): "ESP32 TinyUSB CDC",
    (0x10C4, 0xEA60): "CP210x USB-serial",
    (0x1A86, 0x7523): "CH340 USB-serial",
    (0x1A86, 0x55D4): "CH9102 USB-serial",
    (0x0403, 0x6001): "FTDI USB-serial",
}

POLL_S = 0.05  # one serial read's timeout: how often readline rechecks its deadline
MAX_LINE = 8192  # a line without newline this long is noise; hand it on, don't grow
WRITE_TIMEOUT_S = 2.0

# Why an open fails, in words that say what to do.
_OPEN_HINTS = {
    errno.EACCES: " (on Linux, add yourself to the dialout or uucp group)",
}
# Another program has the port: its lock (EAGAIN) or TIOCEXCL (EBUSY).
_BUSY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY)


def find_port(env=os.environ, sims=None):
    """The token's port: $TOKEN_PORT, else the one known board plugged in,
    else the one simulator running (see simstate.py)."""
    if env.get("TOKEN_PORT"):
        return env["TOKEN_PORT"]
    found = usb_candidates()
    if len(found) > 1:
        names = ", ".join("%s (%s)" % (p["port"], p["description"]) for p in found)
        raise TokenError("several possible tokens: %s; choose one with --port" % names,
                         "several_devices", 3)
    if found:
        return found[0]["port"]
    sims = simstate.running() if sims is None else sims
    if len(sims) > 1:
        raise TokenError("several simulators running (%s); choose one with --port"
                         % ", ".join(s["port"] for s in sims), "several_devices", 3)
    if sims:
        return sims[0]["port"]
    raise NoDeviceError("no token found: plug it in, or pass --port / set TOKEN_PORT")


ADAFRUIT_VID = 0x239A  # Adafruit's boards under CircuitPython
CIRCUITPY_DATA = "CircuitPython (protocol port, usb_cdc.data)"


def _interface_number(port):
    """The USB interface number from pyserial's location ("1-1.4:1.2" -> 2)."""
    loc = getattr(port, "location", None) or ""
    tail = loc.rpartition(".")[2] if ":" in loc else ""
    return int(tail) if tail.isdigit() else None


def describe_port(port):
    """What a serial port is to us, or None when it is not a token's.
    CircuitPython shows two USB serial ports: the console (REPL) and `data`,
    where the token speaks (boot.py); only the second one is a candidate.
    CircuitPython names them "CircuitPython CDC control" and "... CDC2
    control"; without names (macOS, Windows) the interface number says it:
    the data port's communication interface is number 2."""
    name = getattr(port, "interface", None) or ""
    if "CircuitPython" in name:
        return CIRCUITPY_DATA if "CDC2" in name else None
    if port.vid == ADAFRUIT_VID:
        return CIRCUITPY_DATA if _interface_number(port) == 2 else None
    return KNOWN_BOARDS.get((port.vid, port.pid))


def usb_candidates():
    """Serial ports of boards the firmware runs on, by name."""
    found = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        what = describe_port(p)
        if what:
            found.append({"port": p.device, "source": "usb", "description": what,
                          "serial_number": getattr(p, "serial_number", None)})
    return found


def candidates():
    """Every port a token may be on: USB boards, then running simulators."""
    sims = [{"port": s["port"], "source": "simulator", "description": "simulated token",
             "pid": s["pid"]} for s in simstate.running()]
    return usb_candidates() + sims


class SerialLink:
    """The port, opened for this program alone: two programs on one port would
    each get some of the other's replies."""

    def __init__(self, port, baudrate=115200):
        self.port = port
        self._buf = bytearray()
        self._excl = False
        try:
            # exclusive: an flock on POSIX, so a second opener is refused.
            ser = serial.Serial(baudrate=baudrate, timeout=POLL_S,
                                write_timeout=WRITE_TIMEOUT_S, exclusive=True)
            # Keep DTR and RTS low: on ESP32 boards with a USB-UART bridge they
            # drive EN and GPIO0, and raising them would reset the token.
            ser.dtr = False
            ser.rts = False
            ser.port = port
            ser.open()
            self._serial = ser
        except (serial.SerialException, OSError, ValueError) as e:
            code = getattr(e, "errno", None)
            if code in _BUSY:
                raise PortBusyError(port) from None
            reason = os.strerror(code) if code else str(e)
            raise NoDeviceError("cannot open %s: %s%s"
                                % (port, reason, _OPEN_HINTS.get(code, "")),
                                port=port) from None
        self._exclude_others()

    def _exclude_others(self):
        """TIOCEXCL also keeps out programs that don't lock (serial monitors,
        ModemManager's probe). Not on a pseudo-terminal: the simulator keeps
        its end open, so a flag left by a killed client would lock it for good."""
        try:
            import fcntl
            import termios
            fd = self._serial.fileno()
            if _is_pty(fd):
                return
            fcntl.ioctl(fd, termios.TIOCEXCL)
            self._excl = True
        except (ImportError, AttributeError, OSError, serial.SerialException):
            pass  # not on this system: the lock alone must do

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def write(self, data):
        try:
            self._serial.write(data)
        except _GONE:
            raise self._lost() from None

    def readline(self, deadline):
        """One line without its newline, or None once time.monotonic() passes
        `deadline`. A partial line waits in the buffer for the next call."""
        while True:
            end = self._buf.find(b"\n", 0, MAX_LINE)
            if end >= 0:
                line = bytes(self._buf[:end]).rstrip(b"\r")
                del self._buf[:end + 1]
                return line
            if len(self._buf) >= MAX_LINE:
                line = bytes(self._buf[:MAX_LINE])
                del self._buf[:MAX_LINE]
                return line
            if time.monotonic() >= deadline:
                return None
            self._buf += self._read()

    def _read(self):
        try:
            return self._serial.read(min(max(1, self._serial.in_waiting), MAX_LINE))
        except _GONE:
            # pyserial raises here when the device vanished (unplugged, reset).
            raise self._lost() from None

    def reset_input(self):
        self._buf.clear()
        try:
            self._serial.reset_input_buffer()
        except _GONE:
            raise self._lost() from None

    def close(self):
        try:
            if self._excl:
                import fcntl
                import termios
                fcntl.ioctl(self._serial.fileno(), termios.TIOCNXCL)
                self._excl = False
        except (OSError, serial.SerialException):
            pass
        try:
            self._serial.close()
        except (serial.SerialException, OSError):
            pass  # already gone; nothing left to release

    def _lost(self):
        return LinkLostError("lost the link to the token on %s" % self.port)


def _is_pty(fd):
    """A pseudo-terminal's slave (Linux majors 136-143; elsewhere by name)."""
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode):
        return False
    if 136 <= os.major(st.st_rdev) <= 143:
        return True
    try:
        name = os.ttyname(fd)
    except OSError:
        return False
    return name.startswith(("/dev/pts/", "/dev/ttys", "/dev/pty"))


WAIT_POLL_S = 0.2  # how often a busy port is tried again


def holders(port):
    """Who has `port` open, as "pid N (name)" strings, where the system can
    tell (Linux /proc; only the processes we may look into)."""
    try:
        want = os.stat(port).st_rdev
    except OSError:
        return []
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue  # gone, or not ours to look into
        for fd in fds:
            try:  # (an fd may close while we look: listing one opens one)
                st = os.stat("/proc/%s/fd/%s" % (pid, fd))
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == want:
                    with open("/proc/%s/comm" % pid) as f:
                        found.append("pid %s (%s)" % (pid, f.read().strip()))
                    break
            except OSError:
                continue
    return found


def open_waiting(port, wait_s, on_wait=None):
    """SerialLink(port), waiting up to wait_s seconds while another program
    holds it (a second provision.py waits for the first). on_wait(text) is
    told once what it waits for; after the wait, PortBusyError as before,
    naming the holder."""
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            return SerialLink(port)
        except PortBusyError as e:
            busy = e
        who = ", ".join(holders(port))
        if time.monotonic() >= deadline:
            busy.message += (" (%s)" % who if who else "") + \
                ("; waited %g s (--wait)" % wait_s if wait_s else "")
            raise busy
        if not told and on_wait is not None:
            on_wait("waiting for %s, in use%s..." % (port, " by " + who if who else ""))
            told = True
        time.sleep(WAIT_POLL_S)

