# Not a CircuitPython module: the one socket to the simulator's bus server
# (host_tools/simulator/bus.py) that busio, digitalio and keypad share. The
# protocol is the MicroPython sim board's (wire/wirecodes.py): op, address,
# length (16-bit LE), payload; the host answers a status byte (0 = acked)
# and any data read.
import os
import socket
import struct

try:
    import wirecodes  # on the simulated board's path (cpy_launch.board_path)
except ImportError:  # a stand-in loaded on its own in a host process (tests)
    from host_tools.simulator.wire import wirecodes

OP_WRITE = wirecodes.OP_WRITE
OP_READ = wirecodes.OP_READ
OP_READ_MEM = wirecodes.OP_READ_MEM
OP_PIN = wirecodes.OP_PIN
OP_FLASH_WRITE = wirecodes.OP_FLASH_WRITE  # before each write to the drive; the host may cut power

_sock = None


def open_bus():
    """A new connection to the simulator's bus server (it serves each on a
    thread of its own)."""
    path = os.getenv("TOKEN_SIM_BUS")
    if not path:
        raise OSError("TOKEN_SIM_BUS not set: start the simulator with host_tools.simulator")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def _connect():
    global _sock
    if _sock is None:
        _sock = open_bus()
    return _sock


def _recv_into(view):
    got = 0
    while got < len(view):
        n = _connect().recv_into(view[got:])
        if not n:
            raise OSError(5, "the simulator's bus went away")  # EIO
        got += n


def transact(op, addr, payload=b"", nread=0, into=None):
    """One bus message. Returns True when the device acked; the nread bytes
    read land in `into` (a writable buffer of that length)."""
    s = _connect()
    n = len(payload) if op == OP_WRITE else nread
    s.sendall(struct.pack("<BBH", op, addr, n) + bytes(payload))
    status = bytearray(1)
    _recv_into(memoryview(status))
    if status[0]:
        return False
    if nread:
        _recv_into(memoryview(into).cast("B"))
    return True


def read_pin(number):
    """The level of a pin, as the host's model of the board wires it."""
    s = _connect()
    s.sendall(bytes((OP_PIN, number & 0xFF, 0, 0)))
    reply = bytearray(2)
    _recv_into(memoryview(reply))
    return bool(reply[1])


def flash_notice():
    """Tell the host a write to the drive is about to land, and wait for its
    go-ahead: a power cut kills this process right here, before the write."""
    s = _connect()
    s.sendall(bytes((OP_FLASH_WRITE, 0, 0, 0)))
    if not s.recv(1):
        os._exit(wirecodes.HOST_GONE_EXIT)
