# A person typing a PIN on the lock screen, in simulated time: the real
# button.Button and screens.Screens (with pinpad.PinPad) under a finger that
# reads the screen's lines and a loop that turns every LOOP_MS as the
# firmware's does. Runs under CPython and, through tests/mp/worker.py, the
# MicroPython unix port; host_tools/bench.py counts presses with it.
import button as btn
import pinpad
import screens
from keystore import AuthError
from manualticks import ManualTicks

LOOP_MS = 10  # app._LOOP_MS: the firmware reads its button once a turn
TAP_MS = 120  # a short press, finger down to up
GAP_MS = 150  # the finger up between two presses
REACT_MS = 250  # from seeing what it waits for to lifting the finger
_GIVE_UP_MS = 600000  # a press the screen never answers: the driver stops


class _Display:
    on = True

    def power(self, on):
        self.on = on


class _UI:
    cols = 16  # a 128-pixel-wide panel

    def __init__(self):
        self.d = _Display()
        self.lines = ()

    def message(self, lines):
        self.lines = tuple(lines)


class _Keys:
    """The lock's side: one right PIN, tries that a wrong one spends."""

    def __init__(self, right):
        self.right = right
        self.pin = True
        self.screen_unlocked = False
        self.erased = False
        self.tries_max = 8
        self.tries_left = 8
        self.lock_after_s = 0
        self.checked = []

    def ready_for_pin(self):
        pass

    def unlock_with_pin(self, pin):
        self.checked.append(pin)
        if pin != self.right:
            self.tries_left -= 1
            raise AuthError("wrong_pin", "wrong PIN", self.tries_left)
        self.tries_left = self.tries_max
        self.screen_unlocked = True


class _Store:
    count = 0


class _Clock:
    lost = False


class OldLock:
    """The wheel before issue 17, for the before/after figures: each
    position cycles _ 0 .. 9 < on short presses and a long press takes what
    is shown (needs the old pinpad.py as module pinpad_old)."""

    def __init__(self, keys):
        import pinpad_old
        self.mod = pinpad_old
        self.pad = pinpad_old.PinPad()
        self.keys = keys
        self.lines = ()
        self.draw()

    def draw(self):
        self.lines = ("LOCKED", "PIN " + self.pad.shown(12), "", self.pad.hint())

    def press(self, event):
        pad = self.pad
        if event == btn.SHORT:
            pad.short()
        elif event == btn.LONG:
            if pad.long() == self.mod.SUBMIT:
                pin = pad.pin()
                pad.clear()
                try:
                    self.keys.unlock_with_pin(pin)
                except AuthError:
                    pass
        self.draw()

    def hold_step_ms(self):
        return 0


class Person:
    """The finger and the loop: press() and hold() return once the press is
    over and the screen has answered."""

    def __init__(self, lock, ui_lines, double_ms=0):
        self.lock = lock  # .press(event), .hold_step_ms()
        self.lines = ui_lines  # () -> the screen's lines now
        self.rt = lock.rt if hasattr(lock, "rt") else ManualTicks()
        self.button = btn.Button(ticks_diff=self.rt.ticks_diff, double_ms=double_ms)
        self.presses = 0
        self.held_ms = 0  # finger down, summed over the presses

    def _turn(self, down):
        rt = self.rt
        b = self.button
        b.repeat_ms = self.lock.hold_step_ms()
        event = b.update(down, rt.now)
        if event:
            self.lock.press(event)
        rt.now += LOOP_MS

    def press_until(self, done, react_ms=REACT_MS):
        """Finger down until done(lines) has held for react_ms, then up for
        GAP_MS."""
        self.presses += 1
        start = self.rt.now
        seen = -1
        while True:
            if seen < 0 and done(self.lines()):
                seen = self.rt.now
            if seen >= 0 and self.rt.now - seen >= react_ms:
                break
            if self.rt.now - start > _GIVE_UP_MS:
                raise RuntimeError("the screen never showed what the finger waits for")
            self._turn(True)
        self.held_ms += self.rt.now - start
        end = self.rt.now + GAP_MS
        while self.rt.now < end:
            self._turn(False)

    def tap(self):
        """A short press: down TAP_MS, whatever the screen says."""
        self.press_until(lambda lines: True, TAP_MS)

    def hold_until(self, line):
        self.press_until(lambda lines: line in lines)


def _lines_of(ui):
    return lambda: ui.lines


def new_lock(right):
    rt = ManualTicks()
    ui = _UI()
    keys = _Keys(right)
    s = screens.Screens(rt, ui, _Store(), _Clock(), keys, None, {"presses": 0}, 3600000)
    s.redraw()
    return s, ui, keys


def type_pin(pin, right=None, submit=True):
    """Type `pin` the new way (hold until the screen says it takes the
    digit, let go). [presses, ms held, ms in all, PINs checked, unlocked,
    the screen's lines]."""
    s, ui, keys = new_lock(right if right is not None else pin)
    p = Person(s, _lines_of(ui))
    targets = [pinpad.taking(ord(ch) - 0x30) for ch in pin]
    if submit:
        targets.append(pinpad.taking(pinpad.BLANK))
    for line in targets:
        p.hold_until(line)
    return [p.presses, p.held_ms, p.rt.now, keys.checked, keys.screen_unlocked, list(ui.lines)]


def script(steps, right="2468"):
    """Run steps on the lock screen: ["hold", line] holds until that line
    shows, ["tap"] is a short press. The lines after each step, and the PINs
    checked."""
    s, ui, keys = new_lock(right)
    p = Person(s, _lines_of(ui))
    out = []
    for step in steps:
        if step[0] == "tap":
            p.tap()
        else:
            p.hold_until(step[1])
        out.append(list(ui.lines))
    return [out, keys.checked]


def type_pin_old(pin):
    """The same PIN on the wheel before issue 17 (OldLock): taps until the
    digit shows, a hold until it is taken; a last hold on _ checks it."""
    keys = _Keys(pin)
    lock = OldLock(keys)
    p = Person(lock, lambda: lock.lines)
    for ch in pin + "_":
        while lock.pad.shown(12)[-1] != ch:
            p.tap()
        n = lock.pad.n
        if ch == "_":
            p.press_until(lambda lines: keys.checked)
        else:
            p.press_until(lambda lines, n=n: lock.pad.n > n)
    return [p.presses, p.held_ms, p.rt.now, keys.checked, keys.screen_unlocked, []]


def many(pins, old=False):
    """type_pin (or type_pin_old) over many PINs: [[presses, ms held, ms in
    all], ...], each PIN checked to have unlocked."""
    out = []
    for pin in pins:
        r = type_pin_old(pin) if old else type_pin(pin)
        if r[3] != [pin] or not r[4]:
            raise RuntimeError("typed %s, checked %s" % (pin, r[3]))
        out.append(r[:3])
    return out


def taking(c):
    return pinpad.taking(c)


def pad_run(ops):
    """pinpad.PinPad alone: ops are "hold", "step", "release", "undo";
    after each, [what it returned, the entry line (width 12), guide, hint, n]."""
    pad = pinpad.PinPad()
    out = [[None, pad.shown(12), pad.guide(), pad.hint(), pad.n]]
    for op in ops:
        r = getattr(pad, op)()
        out.append([r, pad.shown(12), pad.guide(), pad.hint(), pad.n])
    if out[-1][0] == pinpad.SUBMIT:
        out.append(pad.pin())
    return out


def button_repeats(samples, repeat_ms, off_at=-1):
    """button.Button with repeats on (turned off from off_at on, when >= 0):
    [[t_ms, pressed], ...] -> [[t_ms, event], ...]."""
    b = btn.Button(repeat_ms=repeat_ms)
    out = []
    for t, pressed in samples:
        if t == off_at:
            b.repeat_ms = 0
        ev = b.update(bool(pressed), t)
        if ev:
            out.append([t, ev])
    return out
