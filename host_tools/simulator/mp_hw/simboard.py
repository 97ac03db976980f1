# The simulated MicroPython board as the firmware is given it: the data of
# boards/sim.py, plus the hooks the MicroPython hal looks for (make_i2c,
# make_button, make_keyboard, mount_storage, flash_device, unique_id, reset) that
# replace the hardware at its lowest layer. I2C transactions, button reads,
# flash-write notices and keyboard reports go over a socket to the host
# (host_tools/simulator/bus.py); flash is a littlefs image in a file. Runs
# under the MicroPython unix port, with wire/ and boards/ on its path.
import os
import sys

from sim import *  # noqa: F401,F403 the board's data: pins, addresses, sizes
from sim import BUTTON_PIN, DATA_DIR, FLASH_BLOCK, FLASH_BLOCKS, HAS_KEYBOARD
from wirecodes import (HID_BAD, HID_TAKEN, HOST_GONE_EXIT, OP_FLASH_WRITE, OP_HID, OP_PIN,
                       OP_READ, OP_READ_MEM, OP_WRITE, RESET_EXIT)

_bus = None
_mounted = False
_flash = None


def _connect():
    """The one socket every stand-in below shares."""
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


def _recv(sock, buf):
    """Fill buf; a short read only happens when a reply is split."""
    n = sock.readinto(buf)
    if n is None or n < len(buf):
        got = n or 0
        mv = memoryview(buf)
        while got < len(buf):
            k = sock.readinto(mv[got:])
            if not k:
                raise OSError(5)  # EIO: the host went away
            got += k


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

    def _ack(self):
        _recv(self.sock, self.status)
        if self.status[0]:
            raise OSError(19)  # ENODEV, what a missing I2C device gives on the boards

    def writeto(self, addr, buf, stop=True):
        self._send(OP_WRITE, addr, len(buf), buf)
        self._ack()
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        self._send(OP_READ, addr, len(buf))
        self._ack()
        _recv(self.sock, buf)

    def readfrom_mem_into(self, addr, reg, buf):
        self.reg[0] = reg
        self._send(OP_READ_MEM, addr, len(buf), self.reg)
        self._ack()
        _recv(self.sock, buf)

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
        self.hdr = bytearray((OP_PIN, number, 0, 0))
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
        self.notice = bytearray((OP_FLASH_WRITE, 0, 0, 0))
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
            sys.exit(HOST_GONE_EXIT)

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
        self.hdr = bytearray((OP_HID, 0, 8, 0))
        self.query = bytearray((OP_HID, 0, 0, 0))
        self.reply = bytearray(2)

    def _answer(self):
        _recv(self.sock, self.reply)
        if self.reply[0] == HID_BAD:
            raise OSError(22)  # EINVAL: not an 8-byte report

    def send(self, report):
        self.sock.write(self.hdr)
        self.sock.write(report)
        self._answer()
        return self.reply[0] == HID_TAKEN

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


def unique_id():
    """machine.unique_id(): the chip id the simulator keeps beside the flash
    image ($TOKEN_SIM_UID, hex), not in it, so a wipe leaves it as a chip's."""
    uid = os.getenv("TOKEN_SIM_UID")
    if not uid:
        return None
    import binascii
    return binascii.unhexlify(uid)


def reset():
    """machine.reset() on a board: here the host starts the process again."""
    sys.exit(RESET_EXIT)


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
