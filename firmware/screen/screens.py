# The screen state machine: which screen is up (locked, erased, clock lost,
# empty, an account), what a press does on each, and the per-second
# refresh. It draws through ui.UI and takes its ticks from the runtime; the
# serial loop and the services tell it when something changed.
import button as btn
import layout
import otp
import pinpad
import timeutil
from keystore import AuthError

_HOTP_SHOW_MS = 30000  # an HOTP code stays up this long
_NOTE_MS = 1500  # "typed" stays on the bar line this long
_SMALL = 0x3FFFFFFF  # largest small int on 32-bit ports: bigger ones allocate
_SORT_NOTE = 32  # accounts to sort before the jump menu opens: more, and the screen says so


class Screens:
    def __init__(self, rt, ui, store, clock, keys, log, diag, idle_ms, check_alloc=False,
                 typist=None):
        self.rt = rt
        self.ui = ui
        self.display = ui.d
        self.store = store
        self.clock = clock
        self.keys = keys
        self.log = log
        self.diag = diag
        self.idle_ms = idle_ms
        self.check_alloc = check_alloc
        self.pinpad = pinpad.PinPad()
        self.pin_note = None  # "wrong PIN" line on the lock screen
        self.index = 0
        self.account = None  # the account on screen (one record in RAM)
        self.counter = -1  # moving factor of the code on screen
        self.boundary_days = 0  # when the code on screen expires
        self.boundary_sod = 0
        self.hotp_shown = False  # an HOTP code is on screen, since hotp_since (ticks)
        self.hotp_since = 0
        self.last_press = rt.ticks_ms()
        self.screen = None  # "locked", "erased", "lost", "empty", "accounts"
        self.typist = typist  # codetyper.CodeTyper, or None
        self.code_text = None  # the code on screen, for the keyboard
        self.note_since = 0  # a note ("typed") covers the countdown since then
        self.note_shown = False
        self._busy = ""  # what busy() last said
        self._confirm = ()  # what a request waiting for a hold would do
        self.touching = False  # an account on screen waits for the press that sends its code
        self.jump = None  # jump.Jump, the menu a hold opens (screen "jump"), at the first hold
        self._jm = None  # the jump module, imported then: a token never held loads none of it

    # -- whole screens ------------------------------------------------------

    def redraw(self):
        """Choose and draw the whole screen for the current state."""
        self.touching = False
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
        self.code_text = None
        self.note_shown = False
        self.ui.account(acc, self.index, self.store.count)
        if acc.kind == "hotp":  # needs no clock
            self.ui.clear_code("------")
            self.ui.hint("hold twice: code")  # the menu, then its "next code"
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
        self.code_text = code
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
        rt = self.rt
        self._check_small(self.remaining())
        before = rt.mem_alloc()
        self.clock.read()
        self.ui.tick(self.remaining())
        grew = rt.mem_alloc() - before
        if grew > d["refresh_alloc_bytes"]:
            d["refresh_alloc_bytes"] = grew
        rt.heap_lock()
        try:
            self.clock.read()
            self.ui.tick(self.remaining())
            ok = True
        except MemoryError:
            ok = False
        rt.heap_unlock()
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
        rt = self.rt
        if self.check_alloc:
            self._check_small(rt.ticks_diff(rt.ticks_ms(), self.hotp_since))
            rt.heap_lock()
            try:
                done = rt.ticks_diff(rt.ticks_ms(), self.hotp_since) >= _HOTP_SHOW_MS
            except MemoryError:
                done = False
                self.diag["refresh_lock_errors"] += 1
            rt.heap_unlock()
            self.diag["refresh_locked_runs"] += 1
            return done
        return rt.ticks_diff(rt.ticks_ms(), self.hotp_since) >= _HOTP_SHOW_MS

    def second(self, now):
        """Once per new RTC second; `now` in ticks."""
        if self.screen == "confirm":
            return  # the serial link counts it down (it neither sleeps nor locks)
        if self.screen == "accounts" and self.account is not None:
            if self.account.kind == "hotp":
                if self.hotp_shown and self.hotp_expired():
                    self.hotp_shown = False
                    self.redraw()
            elif self.clock.lost:
                pass  # "CLOCK LOST" stays until the clock is set
            elif not 0 < self.remaining() <= self.account.period:
                # The period rolled over, or the RTC jumped (backwards, too:
                # a glitch, an oscillator restart): the code for now, now.
                self.note_shown = False
                self.show_code()
            elif self.note_shown:
                # The note stays over the countdown a moment, then the whole
                # screen comes back (on a 32-row panel it covered the position).
                if self.rt.ticks_diff(now, self.note_since) >= _NOTE_MS:
                    self.redraw()
            else:
                self.refresh()
        if self.touching:
            return  # waiting for a press: neither dark nor locked (the link counts it down)
        diff = self.rt.ticks_diff
        if self.display.on and diff(now, self.last_press) > self.idle_ms:
            self.display.power(False)
            self._stop_typing()
        keys = self.keys
        if keys.pin:
            lock_ms = keys.lock_after_s * 1000
            if keys.screen_unlocked and lock_ms and diff(now, self.last_press) > lock_ms:
                keys.lock_screen()
                self._stop_typing()
                self.redraw()

    def clock_state_changed(self):
        """The clock was lost or found again between two seconds."""
        acc = self.account
        if acc is None or acc.kind != "hotp":  # HOTP: nothing changes
            self.redraw()

    # -- the lock screen -----------------------------------------------------

    def draw_lock(self):
        k = self.keys
        pad = self.pinpad
        self.ui.message(("LOCKED %d/%d tries" % (k.tries_left, k.tries_max),
                         "PIN " + pad.shown(self.ui.cols - 4),
                         self.pin_note or pad.guide(),
                         pad.hint()))

    def hold_step_ms(self):
        """How often a held button steps the PIN's choice (button.repeat_ms):
        on the lock screen only; 0 elsewhere, where a hold is one event."""
        return pinpad.STEP_MS if self.screen == "locked" else 0

    def pin_press(self, event):
        """The button on the lock screen (pinpad.py): a hold counts the
        choice up and letting go takes it; a short press undoes a digit."""
        pad = self.pinpad
        if event == btn.LONG:
            pad.hold()
        elif event == btn.REPEAT:
            if not pad.step():
                return
        elif event == btn.RELEASE:
            what = pad.release()
            if what == pinpad.SUBMIT:
                self._check_pin()
                return
            if what == pinpad.NOTHING:
                return  # a hold that woke the screen, or began elsewhere
            self.pin_note = None
            self.draw_lock()
            self.keys.ready_for_pin()  # after the redraw: the digit shows at once
            return
        else:  # SHORT, or DOUBLE (with typing on): one undo a press
            for _ in range(2 if event == btn.DOUBLE else 1):
                if pad.undo():
                    self.pin_note = None
        self.draw_lock()

    def _check_pin(self):
        pad = self.pinpad
        self.ui.message(("Checking PIN...",))
        pin = pad.pin()
        pad.clear()
        try:
            self.keys.unlock_with_pin(pin)  # (the keystore logs a failure)
            self.pin_note = None
        except AuthError as e:  # (the last wrong PIN: app.Token._erased did the rest)
            if e.code != "erased":
                self.pin_note = "wrong PIN"
        self.redraw()

    def host_pin(self, right):
        """The host's login checked a PIN on the counter the button shares:
        the lock screen shows the tries as they are now and says how that
        check went (a right one leaves the screen locked: it opens only on
        the button)."""
        if right:
            self.pin_note = "USB: PIN right" if self.screen == "locked" else None
        else:
            self.pin_note = "wrong PIN (USB)"  # shown at the next lock too: a guess from afar
        if self.screen == "locked":
            self.draw_lock()

    # -- presses -------------------------------------------------------------

    def press(self, event):
        if event == btn.REPEAT or event == btn.RELEASE:  # a hold going on (lock screen): no new press
            self.last_press = self.rt.ticks_ms()
            if self.screen == "locked":
                self.pin_press(event)
            return
        self.diag["presses"] += 1
        self.last_press = self.rt.ticks_ms()
        if not self.display.on:
            # The press that wakes the screen does nothing else.
            self.display.power(True)
            return
        if self.screen == "locked":
            self.pin_press(event)
            return
        if self.screen == "jump":
            self.jump_press(event)
            return
        if self.screen != "accounts":
            return
        if event == btn.DOUBLE:
            self.type_code()
            return
        self.hotp_shown = False
        if event == btn.LONG:
            self.open_jump()
            return
        self.index = (self.index + 1) % self.store.count
        self.redraw()

    # -- the jump menu (jump.py) --------------------------------------------

    def open_jump(self):
        acc = self.account
        try:
            if self.jump is None:
                import jump
                self._jm = jump
                self.jump = jump.Jump(self.store)
            if self.jump.pending() > _SORT_NOTE:
                self.busy("Sorting A-Z")
            opened = self.jump.open(acc is not None and acc.kind == "hotp")
        except MemoryError:
            self.redraw()
            self._note("no room to sort")  # the accounts stay as they were
            return
        if opened:
            self.screen = "jump"
            self.draw_jump()

    def jump_press(self, event):
        j = self.jump
        if event != btn.LONG:  # a double press (typing on) is two steps
            j.short()
            if event == btn.DOUBLE:
                j.short()
            self.draw_jump()
            return
        done = j.long()
        if done is None:
            self.draw_jump()
            return
        what, value = done
        jm = self._jm
        if what == jm.ACCOUNT:
            self.index = value
        elif what == jm.FAVOURITES:
            self.index = 0
        self.redraw()
        if what == jm.CODE and self.account is not None and self.account.kind == "hotp":
            self.next_hotp()

    def draw_jump(self):
        j = self.jump
        jm = self._jm
        cols = self.ui.cols
        lines = []
        for what, a, b, text in j.rows:
            mark = ">" if len(lines) == j.cursor else " "
            count = b - a if what == jm.RANGE or what == jm.FAVOURITES else None
            label = what == jm.RANGE or what == jm.ACCOUNT
            lines.append(layout.menu_line(mark, text, count, cols, label))
        title = j.title
        if j.named:  # an issuer's accounts: its name, cut short if need be, then ':'
            title = layout.fit(title, cols - len(" %d" % j.count) - 1) + ":"
        self.ui.menu(layout.menu_line("", title, j.count, cols), lines, j.cursor)

    def next_hotp(self):
        """Advance and store the counter before showing its code, so a power
        cut can never show the same code twice."""
        acc = self.account
        counter = acc.counter
        self.store.set_counter(self.index, counter + 1)
        acc.counter = counter + 1
        code = otp.generate("hotp", acc.algorithm, acc.digits, acc.secret, counter)
        self.code_text = code
        self.ui.code(code, 0)
        self.ui.hint("HOTP #%d" % counter)
        self.ui.flush()
        self.hotp_since = self.rt.ticks_ms()
        self.hotp_shown = True

    # -- the keyboard --------------------------------------------------------

    def type_code(self):
        """A double press on an account: type the code on screen (an HOTP
        code already shown, never a new one)."""
        t = self.typist
        if t is None or not t.enabled or t.busy:
            return
        if self.code_text is None:
            self._note("no code: hold x2" if self.account.kind == "hotp" else "no code to type")
        elif t.start(self.code_text):
            self._note("typing...")
        else:
            self._note("can't type that")

    def typed(self, ok):
        """The typer finished (ok: the host took every key)."""
        if self.screen == "accounts":
            self._note("typed" if ok else "not typed: USB?")

    def _note(self, text):
        self.ui.hint(text)
        self.ui.flush()
        self.note_since = self.rt.ticks_ms()
        self.note_shown = True

    def _stop_typing(self):
        if self.typist is not None:
            self.typist.cancel()

    # -- told by the services ------------------------------------------------

    def accounts_changed(self, index):
        if index is not None:
            self.index = index
        self.wake()
        self.redraw()

    def clock_changed(self):
        self.wake()
        self.redraw()

    def lock_changed(self):
        """A PIN was set, changed or removed."""
        self.pinpad.clear()
        self.redraw()

    def erased(self):
        """The last wrong PIN erased the token (keys and records are gone)."""
        self.index = 0
        self.redraw()

    def confirm(self, what, seconds):
        """A request waits for a hand on the token: say what it would do."""
        self.wake()
        self.screen = "confirm"
        self.account = None
        self._confirm = what
        self.confirm_left(seconds)

    def confirm_left(self, seconds):
        if self.touching:
            self.ui.prompt("press: send %2d s" % seconds)
            self.ui.flush()
            return
        self.ui.message(tuple(self._confirm) + ("hold: yes", "press: no  %2d s" % seconds))

    # -- a code for the computer (frames.TOUCHED) ------------------------------

    def clock_needed(self, index):
        """Whether account `index` has no code now for want of the clock."""
        return self.clock.lost and self.store.meta(index)["kind"] != "hotp"

    def touch(self, index, seconds):
        """`code NAME`: that account on screen, asking for the press that
        sends its code to the computer."""
        self.index = index
        self.hotp_shown = False
        self.wake()
        self.redraw()
        self.touching = self.screen == "accounts"
        self.confirm_left(seconds)

    def send_code(self):
        """The press came: the code for now, on screen and for the reply
        ((None, {}) when there is none: the clock was lost meanwhile). An
        HOTP counter is stored before its code shows, as for a hold."""
        self.last_press = self.rt.ticks_ms()
        self.hotp_shown = False
        self.redraw()  # the prompt goes; a TOTP code for now comes up
        acc = self.account
        if self.screen != "accounts" or acc is None:
            return None, {}
        if acc.kind == "hotp":
            self.next_hotp()
            extra = {"counter": acc.counter - 1}
        elif self.clock.lost:
            return None, {}
        else:
            extra = {"remaining": self.remaining(), "period": acc.period}
        self._note("sent")
        return self.code_text, extra

    def busy(self, text):
        """Something slow is under way: say so on screen."""
        self.wake()
        self._busy = text
        self.ui.message((text, "", "Please wait."))

    def progress(self, done, total):
        """How far the slow thing under busy() has come."""
        self.ui.message((self._busy, "%d%%" % (100 * done // max(total, 1)), "Please wait."))

    def wake(self):
        """Provisioning changed what the screen shows: let the user see it."""
        self.last_press = self.rt.ticks_ms()
        if not self.display.on:
            self.display.power(True)
