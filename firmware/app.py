# The token's main loop: serial requests, the button, and the per-second
# screen refresh. Everything hardware-specific comes from the board module.
import sys
import time

import micropython

import button as btn
import fault
import frames
import hw
import otp
import timeutil
from clock import Clock
from drift import Drift
from ds3231 import DS3231
from service import CommandError, Service
from ssd1306 import SSD1306
from store import Store
from ui import UI

_LOOP_MS = 10  # serial poll timeout = loop period
_HOTP_SHOW_MS = 30000  # an HOTP code stays up this long
_SMALL = 0x3FFFFFFF  # largest small int on 32-bit ports: bigger ones allocate


class Token:
    def __init__(self, board):
        self.board = board
        self.started = time.ticks_ms()
        i2c, self.read_button, data_dir = hw.setup(board)
        self.fault = None  # what is missing, for `status` and `info`
        try:
            self.display = SSD1306(i2c, board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT,
                                   board.DISPLAY_ADDR)
        except OSError as e:
            # No screen: keep the rest working so the host can say what's wrong.
            self.fault = fault.describe("display", board.DISPLAY_ADDR, e)
            fault.announce(self.fault)
            self.display = fault.NoDisplay(board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT)
        self.ui = UI(self.display)
        try:
            self.rtc = DS3231(i2c, board.RTC_ADDR)
            self.clock = Clock(self.rtc)
        except OSError as e:
            raise fault.BootError(fault.describe("RTC", board.RTC_ADDR, e))
        self.store = Store(data_dir, getattr(board, "CAPACITY", 1000))
        self.drift = Drift(data_dir + "/clock.json")
        self.button = btn.Button(ticks_diff=time.ticks_diff)
        self.service = Service(self)
        self.idle_ms = getattr(board, "IDLE_OFF_S", 30) * 1000
        self.check_alloc = getattr(board, "CHECK_REFRESH_ALLOC", False)
        # Counters the benchmark and `status` read.
        self.diag = {"refresh_alloc_bytes": 0, "refresh_locked_runs": 0,
                     "refresh_lock_errors": 0, "refresh_big_ints": 0, "errors": 0,
                     "last_error": None, "presses": 0}
        self.index = 0
        self.account = None  # the account on screen (one record in RAM)
        self.counter = -1  # moving factor of the code on screen
        self.boundary_days = 0  # when the code on screen expires
        self.boundary_sod = 0
        self.hotp_shown = False  # an HOTP code is on screen, since hotp_since (ticks)
        self.hotp_since = 0
        self.last_press = time.ticks_ms()
        self.screen = None  # "accounts", "empty", "lost"
        self.reader = frames.LineReader()
        self._in = bytearray(1)
        self.redraw()

    # -- screens ------------------------------------------------------------

    def redraw(self):
        """Choose and draw the whole screen for the current state."""
        if self.clock.lost and self.store.count == 0:
            self.screen = "lost"
            self.account = None
            self.ui.message(("CLOCK LOST", "", "Time not set:", "no codes shown.", "Run provision.py", "sync-time"))
            return
        if self.store.count == 0:
            self.screen = "empty"
            self.account = None
            self.ui.message(("No accounts yet", "", "Connect USB and", "run provision.py", "add ..."))
            return
        self.screen = "accounts"
        if self.index >= self.store.count:
            self.index = self.store.count - 1
        acc = self.store.get(self.index)
        self.account = acc
        self.counter = -1
        self.ui.account(acc, self.index, self.store.count)
        if acc.kind == "hotp":  # needs no clock
            self.ui.clear_code("------")
            self.ui.hint("hold: next code")
            self.ui.flush()
        elif self.clock.lost:  # only time-based codes depend on the clock
            self.ui.code_notice("CLOCK LOST")
            self.ui.hint("run sync-time")
            self.ui.flush()
        else:
            self.show_code()

    def show_code(self):
        """Compute and draw the TOTP/Steam code for the current period.
        Allocates (hashing): runs once per period, not every second."""
        acc = self.account
        clock = self.clock
        period = acc.period
        into = timeutil.mod_period(clock.days, clock.sod, period)
        self.counter = clock.unix() // period
        # The code expires at the next multiple of the period.
        end = clock.sod + period - into
        self.boundary_days = clock.days + end // timeutil.SECONDS_PER_DAY
        self.boundary_sod = end % timeutil.SECONDS_PER_DAY
        code = otp.generate(acc.kind, acc.algorithm, acc.digits, acc.secret, self.counter)
        self.ui.code(code, period)
        self.refresh()

    def remaining(self):
        """Seconds until the code on screen expires (small ints only)."""
        c = self.clock
        return (self.boundary_days - c.days) * timeutil.SECONDS_PER_DAY + self.boundary_sod - c.sod

    def refresh(self):
        """The per-second refresh: countdown bar and seconds, changed pages
        only. Allocates nothing; the checks run it under heap_lock()."""
        if self.check_alloc:
            self._checked_refresh()
        else:
            self.ui.tick(self.remaining())

    def _checked_refresh(self):
        # The whole per-second path: read the RTC over I2C, work out the time
        # left, redraw the countdown and send the changed page. Measured once
        # with the heap open, then run again with the heap locked.
        d = self.diag
        import gc
        self._check_small(self.remaining())
        before = gc.mem_alloc()
        self.clock.read()
        self.ui.tick(self.remaining())
        grew = gc.mem_alloc() - before
        if grew > d["refresh_alloc_bytes"]:
            d["refresh_alloc_bytes"] = grew
        micropython.heap_lock()
        try:
            self.clock.read()
            self.ui.tick(self.remaining())
            ok = True
        except MemoryError:
            ok = False
        micropython.heap_unlock()
        d["refresh_locked_runs"] += 1
        if not ok:
            d["refresh_lock_errors"] += 1

    def _check_small(self, value):
        # The checks' view of the per-second path: every value it works with
        # must be a small int on 32-bit ports, where the unix port (64-bit)
        # can't see the allocation. Counted for `status`.
        c = self.clock
        for v in (value, c.days, c.sod, self.boundary_days, self.boundary_sod,
                  self.hotp_since):
            if not -_SMALL - 1 <= v <= _SMALL:
                self.diag["refresh_big_ints"] += 1

    def hotp_expired(self):
        """Has the HOTP code been up long enough? In ticks (small ints on
        every port; Unix seconds are not), and clock-free like HOTP itself."""
        if self.check_alloc:
            self._check_small(time.ticks_diff(time.ticks_ms(), self.hotp_since))
            micropython.heap_lock()
            try:
                done = time.ticks_diff(time.ticks_ms(), self.hotp_since) >= _HOTP_SHOW_MS
            except MemoryError:
                done = False
                self.diag["refresh_lock_errors"] += 1
            micropython.heap_unlock()
            self.diag["refresh_locked_runs"] += 1
            return done
        return time.ticks_diff(time.ticks_ms(), self.hotp_since) >= _HOTP_SHOW_MS

    def second(self):
        """Once per new RTC second."""
        if self.screen == "accounts" and self.account is not None:
            if self.account.kind == "hotp":
                if self.hotp_shown and self.hotp_expired():
                    self.hotp_shown = False
                    self.redraw()
            elif self.clock.lost:
                pass  # "CLOCK LOST" stays until the clock is set
            elif self.remaining() <= 0:
                self.show_code()  # the period rolled over: new code now
            else:
                self.refresh()
        if self.display.on and time.ticks_diff(time.ticks_ms(), self.last_press) > self.idle_ms:
            self.display.power(False)

    def press(self, event):
        self.diag["presses"] += 1
        self.last_press = time.ticks_ms()
        if not self.display.on:
            # The press that wakes the screen does nothing else.
            self.display.power(True)
            return
        if self.screen != "accounts":
            return
        n = self.store.count
        acc = self.account
        if event == btn.LONG and acc is not None and acc.kind == "hotp":
            self.next_hotp()
            return
        if event == btn.SHORT:
            self.index = (self.index + 1) % n
        else:
            self.index = (self.index - 1) % n
        self.hotp_shown = False
        self.redraw()

    def next_hotp(self):
        """Advance and store the counter before showing its code, so a power
        cut can never show the same code twice."""
        acc = self.account
        counter = acc.counter
        self.store.set_counter(self.index, counter + 1)
        acc.counter = counter + 1
        code = otp.generate("hotp", acc.algorithm, acc.digits, acc.secret, counter)
        self.ui.code(code, 0)
        self.ui.hint("HOTP #%d" % counter)
        self.ui.flush()
        self.hotp_since = time.ticks_ms()
        self.hotp_shown = True

    # -- events from the service --------------------------------------------

    def accounts_changed(self, index):
        if index is not None:
            self.index = index
        self.wake()
        self.redraw()

    def clock_changed(self):
        self.wake()
        self.redraw()

    def wake(self):
        """Provisioning changed what the screen shows: let the user see it."""
        self.last_press = time.ticks_ms()
        if not self.display.on:
            self.display.power(True)

    # -- serial -----------------------------------------------------------

    def handle_line(self, line, received):
        req_id = None
        try:
            if line is frames.OVERFLOW:
                raise frames.FrameError(frames.E_TOO_LONG, "request longer than %d bytes" % frames.MAX_REQUEST)
            req_id, cmd, args = frames.decode_request(line)
            data = self.service.handle(cmd, args, received)
            reply = frames.encode_ok(req_id, data)
        except frames.FrameError as e:
            reply = frames.encode_error(e.req_id if req_id is None else req_id, e.code, e.message)
        except CommandError as e:
            reply = frames.encode_error(req_id, e.code, e.message)
        except Exception as e:  # a bug: report it, keep running
            self.diag["errors"] += 1
            self.diag["last_error"] = type(e).__name__
            reply = frames.encode_error(req_id, frames.E_INTERNAL, "internal error: " + type(e).__name__)
        self.write(reply)

    def write(self, data):
        out = sys.stdout.buffer
        try:
            out.write(data)
            if hasattr(out, "flush"):
                out.flush()
        except OSError:
            pass  # nobody listening: drop the reply rather than stall

    def read_serial(self, poller):
        """Drain available input bytes into the line reader."""
        inb = self._in
        stdin = sys.stdin.buffer
        while _readable(poller, 0):
            try:
                n = stdin.readinto(inb)
            except OSError:
                return
            if not n:
                return
            line = self.reader.feed(inb[0])
            if line is not None and (line or line is frames.OVERFLOW):
                self.handle_line(line, time.ticks_ms())

    # -- main loop -----------------------------------------------------------

    def step(self, poller):
        if _readable(poller, _LOOP_MS):
            self.read_serial(poller)
        now = time.ticks_ms()
        event = self.button.update(self.read_button(), now)
        if event:
            self.press(event)
        if self.clock.poll():
            was_lost = self.clock.lost
            if self.clock.refresh_lost() != was_lost:
                acc = self.account
                if acc is None or acc.kind != "hotp":  # HOTP: nothing changes
                    self.redraw()
            else:
                self.second()

    def run(self):
        import select
        poller = select.poll()
        poller.register(sys.stdin, select.POLLIN)
        while True:
            try:
                self.step(poller)
            except Exception as e:  # keep the token alive; count it for `status`
                self.diag["errors"] += 1
                self.diag["last_error"] = type(e).__name__
                time.sleep_ms(50)


def _readable(poller, timeout):
    # ipoll reuses its result tuple: no garbage from polling 100 times a second.
    for _ in poller.ipoll(timeout):
        return True
    return False


def main(board):
    micropython.kbd_intr(-1)  # Ctrl-C is data on the serial link, not a REPL break
    try:
        try:
            token = Token(board)
        except Exception as e:
            # Ending here would leave the REPL open on the serial port.
            _halt(board, e)
        token.run()
    finally:
        micropython.kbd_intr(3)


def _halt(board, e):
    """Boot failed (no RTC, no flash, ...): say so wherever possible and keep
    answering `status` and `info`. Never returns."""
    if isinstance(e, fault.BootError):
        message = e.args[0]
    else:
        message = "boot failed: %s %s" % (type(e).__name__, e.args[0] if e.args else "")
    fault.announce(message)
    try:
        i2c = board.make_i2c() if hasattr(board, "make_i2c") else hw.make_i2c(board)
        ui = UI(SSD1306(i2c, board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT, board.DISPLAY_ADDR))
        ui.message(("FAULT", "", message[:16], message[16:32], message[32:48]))
    except Exception:
        pass  # no screen either: the serial line and `status` must do
    fault.Halted(board, message).run()
