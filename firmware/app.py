# The composition root: builds the token's parts from a runtime (docs/runtime.md)
# and a board file, and runs the main loop. The screens (screens.py), the
# protocol (serial_link.py, service.py and the command families) and the
# storage know nothing of the platform; only the runtime does.
import accountcmd
import clockcmd
import crypto
import devicecmd
import diagcmd
import erase
import eventlog
import lockcmd
import rules
import serialno
from clock import Clock
from codetyper import CodeTyper
from drift import Drift
from ephemeral import Ephemeral
from keyarea import KeyArea
from keystore import Keystore
from screens import Screens
from serial_link import SerialLink
from service import Service
from store import Store
from ui import UI
import button as btn

_LOOP_MS = 10  # serial poll timeout = loop period
# PBKDF2 iterations for a new PIN: an unlock in under 2 s on an RP2040
# (measured on the emulated Pico: 0.44 ms each with the native loop, 1.56 s
# with the unwrap, 1.74 s with 1000 accounts; see host_tools/bench.py); a
# board file may set its own.
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


def new_diag():
    """Counters the benchmark and `status` read."""
    return {"refresh_alloc_bytes": 0, "refresh_locked_runs": 0,
            "refresh_lock_errors": 0, "refresh_big_ints": 0, "errors": 0,
            "last_error": None, "presses": 0, "dropped_replies": 0}


class Device:
    """What `info` and `status` say about the device itself (its serial
    number among it), and the two things a service may ask of it."""

    def __init__(self, rt, board, display, fault_text, link, started, diag):
        self.rt = rt
        self.board = board
        self.board_name = board.NAME
        self.runtime = rt.name
        self.serial = serialno.of(rt)  # once: the chip's id never changes
        self.display = display
        self.fault = fault_text  # what is missing, e.g. "display not found at 0x3C"
        self.started = started
        self.link = link
        self.diag = diag

    def uptime_s(self):
        rt = self.rt
        return rt.ticks_diff(rt.ticks_ms(), self.started) // 1000

    def after_reply(self, fn):
        self.link.after_reply(fn)

    def restart_maintenance(self):
        """Leave the flag main.py (or boot.py) looks for, and reset once the
        reply is out."""
        with open(self.rt.data_dir + "/" + rules.MAINTENANCE_FLAG, "w") as f:
            f.write("1")
        self.link.after_reply(self._reset)

    def _reset(self):
        # Give the reply up to a second to leave, so the host hears "yes"
        # before the port goes away.
        rt = self.rt
        for _ in range(100):
            self.link.flush_out()
            if not self.link.pending():
                break
            rt.sleep_ms(10)
        rt.sleep_ms(100)
        rt.reset()


class Token:
    def __init__(self, rt, board):
        self.rt = rt
        self.board = board
        self.started = rt.ticks_ms()
        data_dir = rt.data_dir
        fault_text = None
        w, h, addr = board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT, board.DISPLAY_ADDR
        try:
            display = rt.display(w, h, addr)
        except OSError as e:
            # No screen: keep the rest working so the host can say what's wrong.
            # The boot modes (fault.py, factory.py) are loaded only when one
            # is entered: a token that boots normally never spends RAM on them.
            import fault
            fault_text = fault.describe("display", addr, e)
            rt.announce(fault.line(fault_text))
            display = rt.no_display(w, h)
        self.display = display
        self.ui = ui = UI(display)
        try:
            self.rtc = rt.rtc(board.RTC_ADDR)
            self.clock = Clock(self.rtc, rt.ticks_ms, rt.ticks_diff, rt.sleep_ms, rt.ticks_add)
        except OSError as e:
            import fault
            raise fault.BootError(fault.describe("RTC", board.RTC_ADDR, e))
        erase.leftover(data_dir)  # a fill cut short by a power cut holds all free space
        # The store makes the data dir; its load needs no key.
        self.store = store = Store(data_dir, getattr(board, "CAPACITY", 1000))
        self.keys = keys = Keystore(KeyArea(rt.key_pages(data_dir)),
                                    getattr(board, "KDF_ITERATIONS", KDF_ITERATIONS),
                                    data_dir + "/keys", Ephemeral(crypto.random_bytes),
                                    rt.ticks_ms, rt.ticks_diff)
        store.keys = keys
        self.drift = Drift(data_dir + "/clock.json")
        self.log = eventlog.EventLog(data_dir + "/log", self.log_time, rt.ticks_ms, rt.ticks_diff)
        self.logged_lost = self.clock.lost
        keys.listen(self._pin_failure, self._settle, self._erased)
        self._recover()
        eventlog.boot(self.log, self.store, self.clock, rt.reset_cause())
        self.typist = CodeTyper(rt.keyboard, data_dir + "/keyboard.json", rt.ticks_diff)
        self.button = btn.Button(ticks_diff=rt.ticks_diff, double_ms=self.typist.double_ms)
        self.diag = new_diag()
        self.link = SerialLink(rt.serial, keys, self.log, self.diag, rt.ticks_ms, rt.ticks_diff)
        self.device = Device(rt, board, display, fault_text, self.link, self.started, self.diag)
        self.screens = Screens(rt, ui, self.store, self.clock, keys, self.log, self.diag,
                               getattr(board, "IDLE_OFF_S", 30) * 1000,
                               getattr(board, "CHECK_REFRESH_ALLOC", False), self.typist)
        self.link.attach(Service(keys, self._commands()), self.screens)
        self.screens.redraw()

    def _commands(self):
        """The serial commands by family, each given just the parts it works on."""
        store, keys, log, screens = self.store, self.keys, self.log, self.screens
        return (
            accountcmd.Commands(store, keys, log, screens),
            clockcmd.Commands(self.clock, self.rtc, self.drift, log, screens),
            lockcmd.Commands(keys, store, log, screens),
            devicecmd.Commands(self.device, store, keys, self.clock, self.rtc, self.drift, log,
                               self.typist),
            diagcmd.Commands(log, store),
        )

    # -- what a power cut or an update left to do ------------------------------

    def _recover(self):
        """At start-up, before anything is shown: finish whatever the key
        area says a power cut interrupted (keystore.py, erase.py)."""
        keys = self.keys
        store = self.store
        keys.finish_interrupted()  # a PIN check whose verdict never came: logged
        if keys.doomed:
            # The last try was committed, its erase cut short: the counter
            # decided, so the erase happens now.
            eventlog.pin_locked(self.log, keys)
            keys.erase()
        if keys.created and store.count > store.plain:
            store.wipe()  # records under a key that is gone
        erase.finish_wipe(keys, store)
        self.scrub()
        if keys.data_key is not None:
            self._settle()

    def _settle(self):
        """The keys are open (at start-up without a PIN, else at the first
        unlock): finish a delete's rekey a cut interrupted, and move records
        of older firmware under the bucket keys."""
        store = self.store
        keys = self.keys
        store.finish_rekey()
        if keys.renewal_mark is not None:
            self._busy("Resealing", "accounts...")
            store.renew(lambda done, total: self._busy(
                "Resealing", "accounts %d%%" % (100 * done // total)))
        migrated = store.plain
        if store.plain or store.legacy:
            self._busy("Updating", "accounts...")
            store.migrate(lambda done, total: self._busy(
                "Updating", "accounts %d%%" % (100 * done // total)))
        if keys.legacy:
            keys.end_legacy()  # old key files may linger on flash: scrub it next
        elif migrated:
            keys.want_scrub()  # old copies of the plain records linger: scrub next

    def scrub(self):
        """The free-flash scrub, when the key area says one is due; the
        screen shows how far it is (it takes ~20 s on an RP2040)."""
        if self.keys.scrub_due:
            self._busy("Erasing flash", "0%")
            erase.finish_scrub(self.keys, self.store.root, lambda done, total: self._busy(
                "Erasing flash", "%d%%" % (100 * done // total)))

    def _busy(self, *lines):
        self.ui.message(lines + ("", "Do not unplug."))

    def _erased(self):
        """The last wrong PIN erased the keys: the records go now; the
        free-flash scrub takes seconds, so the main loop runs it (scrub())
        once the reply or the screen is out."""
        erase.finish_wipe(self.keys, self.store)
        self.screens.erased()

    def _pin_failure(self, e):
        """A spent try's failure, on flash before its verdict shows (e is
        None: a check a power cut interrupted)."""
        if e is None:
            eventlog.pin_interrupted(self.log, self.keys)
        else:
            eventlog.pin_failed(self.log, self.keys, e)
        self.log.flush(True)

    def log_time(self):
        """The log's clock: Unix seconds, or seconds since boot while lost."""
        if self.clock.lost:
            return self.rt.ticks_diff(self.rt.ticks_ms(), self.started) // 1000, 1
        return self.clock.unix(), 0

    # -- main loop -----------------------------------------------------------

    def step(self):
        rt = self.rt
        link = self.link
        link.poll(_LOOP_MS)
        now = rt.ticks_ms()
        button = self.button
        button.double_ms = self.typist.double_ms  # `config --typing` may change it
        button.repeat_ms = self.screens.hold_step_ms()  # a hold runs the PIN's digits up
        event = button.update(rt.button(), now)
        if event:
            if link.waiting():  # a request waits for a hand on the token
                link.pressed(event == btn.LONG)
            else:
                self.screens.press(event)
        link.tick(now)
        done = self.typist.step(now)
        if done is not None:
            self.screens.typed(done)
        keys = self.keys
        if keys.scrub_due:  # the last wrong PIN's erase (after its reply went out)
            self.scrub()
            self.screens.redraw()
        keys.ephemeral.step()  # the next login's key pair, a little each turn
        clock = self.clock
        if clock.poll():
            was_lost = clock.lost
            if clock.refresh_lost() != was_lost:
                self.screens.clock_state_changed()
            else:
                self.screens.second(now)
                if keys.session_idle(now):
                    keys.end_session()
            if clock.lost != self.logged_lost:  # also catches a change seen elsewhere
                self.logged_lost = clock.lost
                eventlog.clock_changed(self.log, clock)
            self.log.flush(hold_ms=0 if self._quiet(now) else _LOG_MAX_HOLD_MS)
        else:
            self.log.flush(hold_ms=_LOG_HOLD_MS if self._quiet(now) else _LOG_MAX_HOLD_MS)

    def _quiet(self, now):
        # A queue nearly full writes at the next rollover whatever the traffic:
        # a busy link must not cost events.
        return self.rt.ticks_diff(now, self.link.last_rx) > _LOG_QUIET_MS \
            or self.log.pending() >= eventlog.QUEUE_HIGH

    def run(self):
        while True:
            try:
                self.step()
            except Exception as e:  # keep the token alive; count it for `status`
                self.diag["errors"] += 1
                self.diag["last_error"] = type(e).__name__
                self.log.event(eventlog.ERROR, 0, text=type(e).__name__)
                self.rt.sleep_ms(50)


def main(rt, board):
    """Start the token on runtime `rt`; never returns."""
    rt.guard_console(True)
    try:
        try:
            token = Token(rt, board)
        except Exception as e:
            eventlog.boot_failed(rt.data_dir, e, rt.ticks_ms, rt.ticks_diff)
            # Ending here would leave the REPL open on the serial port.
            _halt(rt, board, e)
        token.run()
    finally:
        rt.guard_console(False)


def _halt(rt, board, e):
    """Boot failed (no RTC, no flash, ...): say so wherever possible and keep
    answering `status` and `info`. Never returns."""
    import fault
    if isinstance(e, fault.BootError):
        message = e.args[0]
    else:
        message = "boot failed: %s %s" % (type(e).__name__, e.args[0] if e.args else "")
    rt.announce(fault.line(message))
    try:
        ui = UI(rt.display(board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT, board.DISPLAY_ADDR))
        ui.message(("FAULT", "", message[:16], message[16:32], message[32:48]))
    except Exception:
        pass  # no screen either: the serial line and `status` must do
    fault.Halted(rt, board, message).run()
