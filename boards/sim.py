# The simulated board: the same firmware, with its lowest layer replaced.
# I2C transactions and button reads go over a socket to the host, where
# register-level SSD1306 and DS3231 models answer; flash is a littlefs image
# in a file. The simulator (host_tools/simulator) sets the TOKEN_SIM_* values.
import os
import sys

NAME = "sim"
DESCRIPTION = "Simulated token (MicroPython unix port)"
_size = (os.getenv("TOKEN_SIM_DISPLAY") or "128x64").split("x")
DISPLAY_WIDTH = int(_size[0])
DISPLAY_HEIGHT = int(_size[1])
DISPLAY_ADDR = 0x3C
RTC_ADDR = 0x68
I2C_FREQ = 400_000
BUTTON_PIN = 15
BUTTON_ACTIVE_LOW = True
IDLE_OFF_S = int(os.getenv("TOKEN_SIM_IDLE_S") or "60")
CAPACITY = int(os.getenv("TOKEN_SIM_CAPACITY") or "1000")
DATA_DIR = "/flash/data"
FLASH_BLOCK = 4096
FLASH_BLOCKS = int(os.getenv("TOKEN_SIM_FLASH_BLOCKS") or "352")  # 1.4 MB, as on a Pico
CHECK_REFRESH_ALLOC = os.getenv("TOKEN_SIM_CHECK_ALLOC") == "1"
HAS_KEYBOARD = os.getenv("TOKEN_SIM_KEYBOARD") != "0"  # "0": a board without native USB

# Bus messages: op, address, length (16-bit LE), then the payload.
_OP_WRITE = 0x57
_OP_READ = 0x52
_OP_READ_MEM = 0x4D  # register write + repeated-start read, one round trip
_OP_PIN = 0x50
_OP_FLASH_WRITE = 0x46  # announced before each block write; the host may cut power
_OP_HID = 0x48  # a USB keyboard input report (or none: length 0); reply: status, LED byte

_bus = None
_mounted = False
RESET_EXIT = 97  # the simulator (host_tools/simulator) restarts a process ending so


def _connect():
    global _bus
    if _bus is None:
        import socket
        path = os.getenv("TOKEN_SIM_BUS")
        if not path:
            raise OSError("TOKEN_SIM_BUS not set: start the simulator with host_tools.simulator")
        _bus = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # sockaddr_un: family (little-endian u16 on Linux; len + family bytes on macOS)
        family = b"\x00\x01" if sys.platform == "darwin" else b"\x01\x00"
        _bus.connect(family + path.encode() + b"\x00")
    return _bus


class SimBus:
    """machine.I2C's methods (positional, as on the boards), over the socket.
    Preallocated buffers: the per-second refresh must not allocate."""

    def __init__(self):
        self.sock = _connect()
        self.hdr = bytearray(4)
        self.status = bytearray(1)
        self.reg = bytearray(1)

    def _send(self, op, addr, n, payload=None):
        h = self.hdr
        h[0] = op
        h[1] = addr
        h[2] = n & 0xFF
        h[3] = n >> 8
        self.sock.write(h)
        if payload is not None:
            self.sock.write(payload)

    def _recv(self, buf):
        n = self.sock.readinto(buf)
        if n is None or n < len(buf):  # rare: a split reply
            got = n or 0
            mv = memoryview(buf)
            while got < len(buf):
                k = self.sock.readinto(mv[got:])
                if not k:
                    raise OSError(5)  # EIO: the host went away
                got += k

    def _ack(self):
        self._recv(self.status)
        if self.status[0]:
            raise OSError(19)  # ENODEV, what a missing I2C device gives on the boards

    def writeto(self, addr, buf, stop=True):
        self._send(_OP_WRITE, addr, len(buf), buf)
        self._ack()
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._send(_OP_READ, addr, len(buf))
        self._ack()
        self._recv(buf)

    def readfrom_mem_into(self, addr, reg, buf):
        self.reg[0] = reg
        self._send(_OP_READ_MEM, addr, len(buf), self.reg)
        self._ack()
        self._recv(buf)

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return buf

    def writeto_mem(self, addr, reg, buf):
        data = bytearray(1 + len(buf))
        data[0] = reg
        data[1:] = buf
        return self.writeto(addr, data)

    def scan(self):
        found = []
        for a in range(0x08, 0x78):
            try:
                self.readfrom_into(a, self.reg)
                found.append(a)
            except OSError:
                pass
        return found


class SimPin:
    def __init__(self, number):
        self.sock = _connect()
        self.hdr = bytearray((_OP_PIN, number, 0, 0))
        self.val = bytearray(2)

    def value(self):
        self.sock.write(self.hdr)
        self.sock.readinto(self.val)
        return self.val[1]


class FileFlash:
    """A flash chip as littlefs sees it (the extended block protocol), kept
    in an image file so the accounts survive a restart. Each block write is
    announced to the host first, which can cut the power right there (it kills
    this process, so the write never lands)."""

    def __init__(self, path, block_size, blocks):
        self.bs = block_size
        self.blocks = blocks
        self.sock = _connect()
        self.notice = bytearray((_OP_FLASH_WRITE, 0, 0, 0))
        self.ack = bytearray(1)
        self.blank = b"\xff" * 256  # erase in small steps: no 4 KB buffer per erase
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = open(path, "w+b")
            self.f.seek(block_size * blocks - 1)  # a blank chip: 0xFF everywhere
            self.f.write(b"\xff")
            self.f.flush()
            for b in range(blocks):
                self._erase(b)

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * self.bs + offset)
        self.f.readinto(buf)

    def _notice(self):
        self.sock.write(self.notice)
        if not self.sock.readinto(self.ack):
            sys.exit(99)  # the host is gone: power is off

    def writeblocks(self, block, buf, offset=None):
        self._notice()
        self.f.seek(block * self.bs + (offset or 0))
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.bs
        if op == 6:  # erase: announced like a write, so a cut can land before it
            self._notice()
            self._erase(arg)
            return 0
        return None

    def _erase(self, block):
        self.f.seek(block * self.bs)
        for _ in range(self.bs // len(self.blank)):
            self.f.write(self.blank)
        self.f.flush()


class SimKeyboard:
    """The USB boot keyboard as a runtime sees it: send(report) -> True when
    the host took the 8-byte report, False while its endpoint is full (try
    again later); leds() the LED output report the host last set."""

    def __init__(self):
        self.sock = _connect()
        self.hdr = bytearray((_OP_HID, 0, 8, 0))
        self.query = bytearray((_OP_HID, 0, 0, 0))
        self.reply = bytearray(2)

    def _answer(self):
        n = self.sock.readinto(self.reply)
        if n is None or n < 2:  # rare: a split reply
            got = n or 0
            mv = memoryview(self.reply)
            while got < 2:
                k = self.sock.readinto(mv[got:])
                if not k:
                    raise OSError(5)  # EIO: the host went away
                got += k
        if self.reply[0] > 1:
            raise OSError(22)  # EINVAL: not an 8-byte report

    def send(self, report):
        self.sock.write(self.hdr)
        self.sock.write(report)
        self._answer()
        return self.reply[0] == 0

    def leds(self):
        self.sock.write(self.query)
        self._answer()
        return self.reply[1]


def make_keyboard():
    return SimKeyboard() if HAS_KEYBOARD else None


def make_i2c():
    return SimBus()


def make_button():
    pin = SimPin(BUTTON_PIN)
    return lambda: pin.value() == 0


def reset():
    """machine.reset() on a board: here the host starts the process again."""
    sys.exit(RESET_EXIT)


_flash = None


def flash_device():
    """The block device littlefs is on (the key area writes two of its blocks)."""
    mount_storage()
    return _flash


def mount_storage():
    global _mounted, _flash
    if _mounted:  # main.py looks for its flag before the firmware mounts
        return DATA_DIR
    import vfs
    flash = _flash = FileFlash(os.getenv("TOKEN_SIM_FLASH") or "token-flash.img", FLASH_BLOCK, FLASH_BLOCKS)
    try:
        fs = vfs.VfsLfs2(flash)
    except OSError:
        vfs.VfsLfs2.mkfs(flash)  # a blank chip, as on first boot
        fs = vfs.VfsLfs2(flash)
    vfs.mount(fs, "/flash")
    _mounted = True
    return DATA_DIR
# Factory reset at power-up (firmware/bootmodes/factory.py): tests shorten the waits.
RESET_HOLD_S = int(os.getenv("TOKEN_SIM_RESET_HOLD_S") or "10")
RESET_CONFIRM_S = int(os.getenv("TOKEN_SIM_RESET_CONFIRM_S") or "10")
