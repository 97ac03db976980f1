"""The host end of the simulated board's wires.

The simulated board (mp_hw/simboard.py, cpy_hw/) sends every I2C transaction,
button-pin read, flash-write notice and USB keyboard report over a Unix
socket; this server hands them to the register-level device models and the
keyboard sink (hid_keyboard.py), and counts the traffic. Each connection is
served on its own thread, so a runtime's stand-in modules may each open one.
"""
import os
import socket
import struct
import threading
import time
import traceback

from host_tools.simulator.hid_keyboard import HidKeyboardSink
from host_tools.simulator.wire import wirecodes
from host_tools.simulator.wire.wirecodes import (ACKED, HID_BAD, HID_BUSY, HID_TAKEN,
                                                 NOT_ACKED, OP_FLASH_WRITE, OP_HID, OP_PIN,
                                                 OP_READ, OP_READ_MEM, OP_WRITE)

# The folder a board process gets on its path to import wirecodes as a module.
WIRE_DIR = os.path.dirname(os.path.abspath(wirecodes.__file__))
_ACK = bytes((ACKED,))
_NACK = bytes((NOT_ACKED,))


class BusServer:
    def __init__(self, path, devices, lock, keyboard=None):
        self.path = path
        self.devices = devices  # I2C address -> model with i2c_write/i2c_read
        self.lock = lock  # shared with the test's hands on the models
        self.button_down = False
        self.pin_reads = 0
        self.last_pin_read = 0.0
        self.pin_cond = threading.Condition()
        self.bytes_by_addr = {}  # I2C bytes on the wire incl. the address byte
        self.flash_writes = 0
        self.cut_after = None  # flash writes still allowed before the power cut
        self.on_power_cut = None
        self.before_flash_write = None  # called with n before write n lands
        self.power_cut = False
        self.error = None
        self.keyboard = keyboard if keyboard is not None else HidKeyboardSink()
        self.hid_reports = 0
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(path)
        self._srv.listen(1)
        self._conn = None  # the first connection (the firmware's board module)
        self._conns = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def reset_counters(self):
        with self.lock:
            self.bytes_by_addr = {}

    def _count(self, addr, n):
        self.bytes_by_addr[addr] = self.bytes_by_addr.get(addr, 0) + n

    def _recv_exact(self, conn, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def _serve(self):
        while True:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return  # closed
            if self._conn is None:
                self._conn = conn
            self._conns.append(conn)
            threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()

    def _serve_conn(self, conn):
        try:
            while True:
                op, addr, n = struct.unpack("<BBH", self._recv_exact(conn, 4))
                reply = self._handle(conn, op, addr, n)
                if reply is not None:
                    conn.sendall(reply)
        except (EOFError, OSError):
            pass  # the firmware process ended (or was killed)
        except Exception as e:  # a model bug: keep it visible, not a silent hang
            self.error = e
            traceback.print_exc()

    def _handle(self, conn, op, addr, n):
        if op == OP_HID:
            return self._hid(conn, n)
        if op == OP_PIN:
            with self.pin_cond:
                self.pin_reads += 1
                self.last_pin_read = time.monotonic()
                self.pin_cond.notify_all()
            return bytes((ACKED, 0 if self.button_down else 1))  # active low
        if op == OP_FLASH_WRITE:
            with self.lock:
                self.flash_writes += 1
                if self.before_flash_write:
                    self.before_flash_write(self.flash_writes)
                if self.cut_after is not None:
                    if self.cut_after <= 0:
                        self.power_cut = True
                        if self.on_power_cut:
                            self.on_power_cut()
                        return None  # the process is gone; never answer
                    self.cut_after -= 1
            return _ACK
        if op == OP_WRITE:
            payload = self._recv_exact(conn, n)
        elif op == OP_READ_MEM:
            payload = self._recv_exact(conn, 1)  # the register; n is the read length
        else:
            payload = b""
        with self.lock:
            dev = self.devices.get(addr)
            if dev is None:
                self._count(addr, 1)  # the address goes out, nobody acks
                return _NACK
            if op == OP_WRITE:
                dev.i2c_write(payload)
                self._count(addr, 1 + n)
                return _ACK
            if op == OP_READ:
                data = dev.i2c_read(n)
                self._count(addr, 1 + n)
                return _ACK + bytes(data)
            if op == OP_READ_MEM:
                dev.i2c_write(payload)
                data = dev.i2c_read(n)
                self._count(addr, 2 + len(payload) + n)  # addr+reg, addr+data
                return _ACK + bytes(data)
        return _NACK

    def _hid(self, conn, n):
        """A USB keyboard input report (n=8) for the sink, or (n=0) a look at
        the LED output report only."""
        kb = self.keyboard
        if n == 0:
            return bytes((HID_TAKEN, kb.get_leds()))
        report = self._recv_exact(conn, n)
        if n != 8:
            return bytes((HID_BAD, kb.get_leds()))
        taken = kb.receive(report)
        if taken:
            self.hid_reports += 1
        return bytes((HID_TAKEN if taken else HID_BUSY, kb.get_leds()))

    def wait_pin_reads_after(self, t, count=2, timeout=5.0):
        """Block until the firmware has read the button `count` times after
        monotonic time `t`: proof its loop went round and handled an event."""
        deadline = time.monotonic() + timeout
        with self.pin_cond:
            seen = 0
            last = self.pin_reads
            while seen < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the simulated firmware stopped reading its button")
                if self.power_cut:  # it will never read it again
                    raise TimeoutError("the simulated power was cut")
                self.pin_cond.wait(min(left, 0.5))
                if self.pin_reads != last and self.last_pin_read >= t:
                    seen += self.pin_reads - last
                last = self.pin_reads
            return self.last_pin_read

    def close(self):
        for s in [self._srv] + self._conns:
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept/recv
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass
        try:
            os.unlink(self.path)
        except OSError:
            pass
