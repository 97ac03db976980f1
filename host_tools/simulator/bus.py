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

from firmware.screen import button
from host_tools.simulator.hid_keyboard import HidKeyboardSink
from host_tools.simulator.wire import wirecodes
from host_tools.simulator.wire.wirecodes import (ACKED, HID_BAD, HID_BUSY, HID_TAKEN,
                                                 NOT_ACKED, OP_FLASH_WRITE, OP_HID, OP_PIN,
                                                 OP_READ, OP_READ_MEM, OP_WRITE)

# The folder a board process gets on its path to import wirecodes as a module.
WIRE_DIR = os.path.dirname(os.path.abspath(wirecodes.__file__))
_ACK = bytes((ACKED,))
_STALL_S = button.STALL_MS / 1000  # a gap the firmware may not have watched
_NACK = bytes((NOT_ACKED,))


class _WatchedRun:
    """How long the firmware must have watched the button's level, from the
    host's times of its readings. The firmware takes its time before it reads
    the pin, so its time t[m] for reading m lies between the host's times
    h[m-1] and h[m]; and it counts only time between prompt readings
    (firmware/screen/button.py, STALL_MS). Where h[m] - h[m-2] <= STALL_MS
    the gap before reading m was surely prompt, so over a run of such
    readings from reading s the firmware watched more than h[m-1] - h[s]."""

    def __init__(self, held_s):
        self.held_s = held_s
        self.start = None
        self.before = None  # h[m-2]

    def reached(self, previous, now):
        """Reading m at `now` (reading m-1 at `previous`): True once the
        firmware must have watched the level held_s at this reading."""
        before, self.before = self.before, previous
        if self.start is None or before is None or now - before > _STALL_S:
            self.start = now  # the first reading, or a run starting after a stall
            return False
        return previous - self.start >= self.held_s


class BusServer:
    def __init__(self, path, devices, lock, keyboard=None):
        self.path = path
        self.devices = devices  # I2C address -> model with i2c_write/i2c_read
        self.lock = lock  # shared with the test's hands on the models
        self.button_down = False
        self.pin_reads = 0
        self.last_pin_read = 0.0
        self.pin_cond = threading.Condition()
        self._watchers = []  # (watcher, done) seeing every reading (_watch)
        self.before_pin_reply = None  # test hook: called before each pin reply (a stall)
        self.bytes_by_addr = {}  # I2C bytes on the wire incl. the address byte
        self.flash_writes = 0
        self.cut_after = None  # flash writes still allowed before the power cut
        self.on_power_cut = None
        self.before_flash_write = None  # called with n before write n lands
        self.power_cut = False
        self.closed = False  # the firmware was stopped: it reads the button no more
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
                now = time.monotonic()
                down = self.button_down
                self._pin_read(now)
                self.pin_reads += 1
                self.last_pin_read = now
                self.pin_cond.notify_all()
            if self.before_pin_reply:
                self.before_pin_reply(down)
            return bytes((ACKED, 0 if down else 1))  # active low
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

    def press_until_seen(self, held_s, timeout):
        """Press the button, and lift it at the first reading after which the
        firmware must have watched it held `held_s` (_WatchedRun). Lifting on
        the reading itself, not after this thread wakes, keeps a stalled loop
        from seeing a short press held into a long one."""
        return self.press_until(_WatchedRun(held_s).reached, timeout)

    def press_until(self, lift, timeout):
        """Press the button and keep it down until lift(previous reading's
        time, this one's) holds at one of the firmware's readings (a person
        watching the screen has lift() look at it). The pin answers that
        reading "down" and every later one "up". Returns its host time."""
        def finger(previous, now):
            if lift(previous, now):
                self.button_down = False  # this reading still sees it down; the next ones don't
                return True
            return False
        with self.pin_cond:
            self.button_down = True
            try:
                return self._watch(finger, timeout)
            finally:
                self.button_down = False

    def wait_watched(self, held_s, timeout):
        """Wait until the firmware must have watched the button's present
        level for `held_s` (a release debounced), then one reading more: the
        turn that decided has finished its work and redraw."""
        run = _WatchedRun(held_s)
        state = {"reached": False}

        def watcher(previous, now):
            if state["reached"]:
                return True
            state["reached"] = run.reached(previous, now)
            return False
        with self.pin_cond:
            return self._watch(watcher, timeout)

    def _watch(self, watcher, timeout):
        # Under pin_cond: call watcher(previous reading's time, this one's)
        # for every reading from now on until it returns True.
        deadline = time.monotonic() + timeout
        done = []
        entry = (watcher, done)
        self._watchers.append(entry)
        try:
            while not done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the simulated firmware stopped reading its button")
                if self.power_cut:
                    raise TimeoutError("the simulated power was cut")
                if self.closed:  # (a press going on while the test restarts the token)
                    raise TimeoutError("the simulated firmware was stopped")
                self.pin_cond.wait(min(left, 0.5))
            return done[0]
        finally:
            self._watchers.remove(entry)

    def _pin_read(self, now):
        # Under pin_cond, for every reading before it is answered;
        # self.last_pin_read is still the reading before this one.
        for watcher, done in self._watchers:
            if not done and watcher(self.last_pin_read, now):
                done.append(now)

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
        with self.pin_cond:
            self.closed = True
            self.pin_cond.notify_all()  # a press waiting on this firmware ends now
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
