# The token's main loop: serial requests, the button, and the per-second
# screen refresh. Everything hardware-specific comes from the board module.
import sys
import time

import micropython

import button as btn
import erase
import eventlog
import factory
import fault
import frames
import hw
import otp
import pinpad
import timeutil
from clock import Clock
from drift import Drift
from ds3231 import DS3231
from keystore import AuthError, Keystore
from service import CommandError, Service
from ssd1306 import SSD1306
from store import Store
from ui import UI

_LOOP_MS = 10  # serial poll timeout = loop period
_READ_BUDGET = 256  # input bytes per loop turn: a flood can't starve the screen
_IN_CHUNK = 32  # input bytes read per pass, then handed to the line reader at once
_OUT_CHUNK = 64  # reply bytes per write (one USB full-speed packet)
_SESSION_IDLE_MS = 300000  # a host session ends after 5 min without a request
# PBKDF2 iterations for a new PIN: an unlock in under 2 s on an RP2040
# (measured on the emulated Pico: 0.52 ms each, 1.90 s with the unwrap; see
# host_tools/bench.py); a board file may set its own.
KDF_ITERATIONS = 3600
# The log's flash writes wait for a quiet moment: just after a second's
# rollover (far from the watch for the next one) and with no serial traffic
# for _LOG_QUIET_MS, since a request read late gets a late `received` tick
# (a set-time would then set the clock late by the write's duration). Without
# rollovers (clock stopped) after _LOG_HOLD_MS; whatever the traffic after
# _LOG_MAX_HOLD_MS.
_LOG_QUIET_MS = 500
_LOG_HOLD_MS = 2500
_LOG_MAX_HOLD_MS = 10000
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
        factory.leftover(data_dir)  # a fill cut short by a power cut holds all free space
        self.data_dir = data_dir
        self.reset_pending = False
        # The store makes the data dir; its load needs no key.
        self.store = Store(data_dir, getattr(board, "CAPACITY", 1000), lambda: self.keys.data_key)
        self.keys = Keystore(data_dir, getattr(board, "KDF_ITERATIONS", KDF_ITERATIONS))
        keys = self.keys
        if keys.pending_wipe or (keys.created and self.store.count > self.store.plain):
            # A wipe cut short, or records under a key that is gone.
            erase.finish(keys, self.store)
        elif self.store.plain and keys.data_key is not None:
            # Records from before encryption at rest: seal them, then scrub
            # the plain copies littlefs keeps in free blocks (once, slow).
            self.ui.message(("Updating:", "encrypting", "accounts..."))
            self.store.migrate()
            erase.scrub_free(data_dir)
        self.pinpad = pinpad.PinPad()
        self.scrub_pending = False
        self.pin_note = None  # "wrong PIN" line on the lock screen
        self.last_auth = time.ticks_ms()
        self.drift = Drift(data_dir + "/clock.json")
        self.log = eventlog.EventLog(data_dir + "/log", self.log_time)
        self.logged_lost = self.clock.lost
        eventlog.boot(self.log, self.store, self.clock)
        self.button = btn.Button(ticks_diff=time.ticks_diff)
        self.service = Service(self)
        self.idle_ms = getattr(board, "IDLE_OFF_S", 30) * 1000
        self.check_alloc = getattr(board, "CHECK_REFRESH_ALLOC", False)
        # Counters the benchmark and `status` read.
        self.diag = {"refresh_alloc_bytes": 0, "refresh_locked_runs": 0,
                     "refresh_lock_errors": 0, "refresh_big_ints": 0, "errors": 0,
                     "last_error": None, "presses": 0, "dropped_replies": 0}
        self.index = 0
        self.account = None  # the account on screen (one record in RAM)
        self.counter = -1  # moving factor of the code on screen
        self.boundary_days = 0  # when the code on screen expires
        self.boundary_sod = 0
        self.hotp_shown = False  # an HOTP code is on screen, since hotp_since (ticks)
        self.hotp_since = 0
        self.last_press = time.ticks_ms()
        self.last_rx = self.last_press  # when serial bytes last came in
        self.screen = None  # "accounts", "empty", "lost"
        self.reader = frames.LineReader()
        self._in = bytearray(_IN_CHUNK)
        self._in1 = bytearray(1)
        self._out = None  # a reply the port could not take yet (one at most)
        self._out_sent = 0
        self._out_poll = _out_poller()
        self.redraw()

    def log_time(self):
        """The log's clock: Unix seconds, or seconds since boot while lost."""
        if self.clock.lost:
            return time.ticks_diff(time.ticks_ms(), self.started) // 1000, 1
        return self.clock.unix(), 0

    # -- screens ------------------------------------------------------------

    def redraw(self):
        """Choose and draw the whole screen for the current state."""
        keys = self.keys
        if keys.pin and not keys.screen_unlocked:
            self.screen = "locked"
            self.account = None
            self.draw_lock()
            return
        if keys.erased and self.store.count == 0:
            self.screen = "erased"
            self.account = None
            self.ui.message(("TOKEN ERASED", "", "Too many wrong", "PINs: accounts", "and keys gone.", "Restore from", "your backup."))
            return
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
        now = time.ticks_ms()
        if self.display.on and time.ticks_diff(now, self.last_press) > self.idle_ms:
            self.display.power(False)
        keys = self.keys
        if keys.pin:
            if keys.session and time.ticks_diff(now, self.last_auth) > _SESSION_IDLE_MS:
                keys.end_session()
            lock_ms = keys.lock_after_s * 1000
            if keys.screen_unlocked and lock_ms and time.ticks_diff(now, self.last_press) > lock_ms:
                keys.lock_screen()
                self.redraw()

    def draw_lock(self):
        k = self.keys
        pad = self.pinpad
        self.ui.message(("LOCKED %d/%d tries" % (k.tries_left, k.tries_max),
                         "PIN " + pad.shown(self.ui.cols - 4),
                         self.pin_note or "press: next",
                         pad.hint()))

    def pin_press(self, event):
        pad = self.pinpad
        if event == btn.SHORT:
            pad.short()
            self.draw_lock()
            return
        what = pad.long()
        if what != pinpad.SUBMIT:
            self.pin_note = "4-16 digits" if what == pinpad.TOO_SHORT else None
            self.draw_lock()
            return
        self.ui.message(("Checking PIN...",))
        pin = pad.pin()
        pad.clear()
        try:
            self.keys.unlock_with_pin(pin)
            self.pin_note = None
        except AuthError as e:
            self.pin_failed(e)
            if e.code == "erased":
                self.busy("Erasing flash...")
                self.erased()
            else:
                self.pin_note = "wrong PIN"
        self.redraw()

    def erased(self, scrub_later=False):
        """The last wrong PIN: keystore has dropped the key; finish the job.
        From a host request the free-flash scrub waits until the reply is
        out (it takes seconds)."""
        erase.finish(self.keys, self.store, not scrub_later)
        self.scrub_pending = scrub_later
        self.index = 0
        self.redraw()

    def pin_failed(self, e):
        """Log a wrong PIN (counts only, never digits)."""
        k = self.keys
        if e.code == "wrong_pin":
            self.log.event(eventlog.PIN_FAIL, k.tries_max - k.tries_left, k.tries_left)
        elif e.code == "erased":
            self.log.event(eventlog.PIN_LOCKED, k.tries_max)

    def busy(self, text):
        """Something slow is under way: say so on screen."""
        self.wake()
        self.ui.message((text, "", "Please wait."))

    def lock_changed(self):
        """A PIN was set, changed or removed."""
        self.pinpad.clear()
        self.redraw()

    def press(self, event):
        self.diag["presses"] += 1
        self.last_press = time.ticks_ms()
        if not self.display.on:
            # The press that wakes the screen does nothing else.
            self.display.power(True)
            return
        if self.screen == "locked":
            self.pin_press(event)
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

    def restart_maintenance(self):
        """Leave the flag main.py looks for, and reset once the reply is out."""
        with open(self.data_dir + "/" + hw.MAINTENANCE_FLAG, "w") as f:
            f.write("1")
        self.reset_pending = True

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
            start, req_id, cmd, args = frames.decode_request_at(line)
            # The MAC covers the frame from its TOK>, not stray bytes before it.
            auth = frames.split_auth(line[start:] if start else line)
            data = self.service.handle(cmd, args, received, auth)
            if auth is not None:
                self.last_auth = received
            reply = frames.encode_ok(req_id, data, self._reply_extra())
        except frames.FrameError as e:
            self.log.event(eventlog.ERROR, 2, text=e.code)
            reply = frames.encode_error(e.req_id if req_id is None else req_id, e.code, e.message,
                                        self._reply_extra())
        except CommandError as e:
            if e.code in eventlog.LOGGED_REFUSALS:
                self.log.event(eventlog.ERROR, 3, text=e.code)
            extra = self._reply_extra(e.extra)
            reply = frames.encode_error(req_id, e.code, e.message, extra)
        except Exception as e:  # a bug: report it, keep running
            self.diag["errors"] += 1
            self.diag["last_error"] = type(e).__name__
            self.log.event(eventlog.ERROR, 1, text=type(e).__name__)
            reply = frames.encode_error(req_id, frames.E_INTERNAL, "internal error: " + type(e).__name__,
                                        self._reply_extra())
        self.write(reply)
        if self.scrub_pending:
            self.scrub_pending = False
            self.busy("Erasing flash...")
            erase.scrub_free(self.store.root)
            self.redraw()
        if self.reset_pending:
            self._reset()

    def _reply_extra(self, extra=None):
        # Every reply says so while the token stands erased by the last wrong PIN.
        if self.keys.erased:
            extra = dict(extra) if extra else {}
            extra["erased"] = True
        return extra

    def _reset(self):
        # Give the reply up to a second to leave, so the host hears "yes"
        # before the port goes away.
        for _ in range(100):
            self.flush_out()
            if self._out is None:
                break
            time.sleep_ms(10)
        time.sleep_ms(100)
        hw.reset(self.board)

    def write(self, data):
        """Send a reply without ever waiting for the host. What the port can't
        take now waits (one reply at most) and goes out from the main loop; a
        reply that finds another still waiting is dropped and counted. So a
        host that writes and never reads can't stall the screen or the reading."""
        self.flush_out()
        if self._out is not None:
            self.diag["dropped_replies"] += 1
            return
        self._out = data
        self._out_sent = 0
        self.flush_out()

    def flush_out(self):
        """Write as much of the waiting reply as the port takes right now."""
        data = self._out
        if data is None or not _writable(self._out_poll):
            return  # (no garbage while a host that doesn't read keeps it waiting)
        out = sys.stdout.buffer
        sent = self._out_sent
        size = len(data)
        mv = memoryview(data)
        try:
            while sent < size and _writable(self._out_poll):
                want = min(size - sent, _OUT_CHUNK)
                n = out.write(mv[sent:sent + want])
                if n is None:  # a non-blocking port that is full after all
                    break
                if not isinstance(n, int):
                    n = want  # some ports don't say; they took it or timed out
                sent += n
                if n < want:
                    break
            if hasattr(out, "flush"):
                out.flush()
        except OSError:
            sent = size  # nobody listening: drop the reply rather than stall
        if sent >= size:
            self._out = None
        else:
            self._out_sent = sent

    def read_serial(self, poller):
        """Drain available input bytes into the line reader."""
        self.last_rx = time.ticks_ms()
        budget = _READ_BUDGET
        while budget > 0:
            n = _read_waiting(poller.ipoll, sys.stdin.buffer.readinto, self._in1, self._in)
            budget -= n
            for line in self.reader.feed_from(self._in, n):
                if line:
                    self.handle_line(line, time.ticks_ms())
            if n < len(self._in):
                return

    # -- main loop -----------------------------------------------------------

    def step(self, poller):
        if self._out is not None:
            self.flush_out()
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
            if self.clock.lost != self.logged_lost:  # also catches a change seen elsewhere
                self.logged_lost = self.clock.lost
                eventlog.clock_changed(self.log, self.clock)
            self.log.flush(hold_ms=0 if self._quiet(now) else _LOG_MAX_HOLD_MS)
        else:
            self.log.flush(hold_ms=_LOG_HOLD_MS if self._quiet(now) else _LOG_MAX_HOLD_MS)

    def _quiet(self, now):
        # A queue nearly full writes at the next rollover whatever the traffic:
        # a busy link must not cost events.
        return time.ticks_diff(now, self.last_rx) > _LOG_QUIET_MS \
            or self.log.pending() >= eventlog.QUEUE_HIGH

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
                self.log.event(eventlog.ERROR, 0, text=type(e).__name__)
                time.sleep_ms(50)


def _readable(poller, timeout):
    # ipoll reuses its result tuple: no garbage from polling 100 times a second.
    for _ in poller.ipoll(timeout):
        return True
    return False


def _read_waiting(ipoll, readinto, one, buf):
    """Read what is waiting into buf, up to len(buf) bytes, never blocking;
    returns the count. One byte per poll, since on rp2 a read waits for all
    it asks for and poll can't say how many are there; in one tight loop
    and without a call per byte: ~0.1 ms a byte on an RP2040 (emulated)
    instead of ~0.225 ms."""
    n = 0
    size = len(buf)
    while n < size:
        for _ in ipoll(0):
            break
        else:
            return n
        try:
            if not readinto(one):
                return n
        except OSError:
            return n
        buf[n] = one[0]
        n += 1
    return n


def _out_poller():
    """A poller asking whether the serial port takes output now, or None
    where the port can't be polled for that (writes are then unchecked)."""
    import select
    try:
        p = select.poll()
        p.register(sys.stdout, select.POLLOUT)
        return p
    except Exception:
        return None


def _writable(poller):
    if poller is None:
        return True
    for _ in poller.ipoll(0):
        return True
    return False


def main(board):
    micropython.kbd_intr(-1)  # Ctrl-C is data on the serial link, not a REPL break
    try:
        try:
            token = Token(board)
        except Exception as e:
            eventlog.boot_failed(board, e)
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
