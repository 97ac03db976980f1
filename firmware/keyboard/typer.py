# Types a code as a USB boot keyboard, one 8-byte report per step, so the
# caller's loop (display, button, serial) never waits on the host.
#
#   t = Typer(kbd.send, rt.ticks_diff)        send(report) -> True when taken
#   t.start("123456", "keypad", enter=False, leds=kbd.leds())
#   while t.step(rt.ticks_ms()): ...          (the app's loop calls step)
#   t.result                                  True typed, False gave up
#
# Each character is a key-down report (modifier + one key) then an all-up
# report: a repeated digit needs the release between, and Shift never stays
# held into the next key. "keypad" types digits on the numeric keypad (the
# same keys on every layout); they are digits only with the host's Num Lock
# on, so when its LED report says off, Num Lock is pressed first and again
# after the code, putting it back. Caps Lock would turn Shift+letter into a
# lower-case letter (and, on some hosts, change an AZERTY top row), so when
# the host says it is on and a key other than the keypad is needed, it is
# turned off for the code and back on after. leds=None (the host never sent
# an LED report, as macOS does not for Num Lock, where 0x53 is "Clear") never
# presses a lock key.
import keymap

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

INTERVAL_MS = const(20)  # between reports: 25 characters a second
GIVE_UP_MS = const(2000)  # the host took nothing for this long: stop
MAX_CHARS = const(16)
_MAX_KEYS = const(20)  # MAX_CHARS + 2 lock presses + 2 restores, or + Enter


class Typer:
    def __init__(self, send, ticks_diff, interval_ms=INTERVAL_MS, give_up_ms=GIVE_UP_MS):
        self._send = send
        self._diff = ticks_diff
        self.interval_ms = interval_ms
        self.give_up_ms = give_up_ms
        self.report = bytearray(8)
        self._keys = bytearray(2 * _MAX_KEYS)  # (modifier, usage) per keystroke
        self._n = 0  # keystrokes queued
        self._i = 0  # reports taken: 2 per keystroke, down then up
        self._toggles = 0  # the first keystrokes: lock keys pressed for the code
        self._restore = 0  # where their second presses start
        self._last = 0  # ticks when the host last took a report
        self._waiting = False  # a report was taken: the next one waits interval_ms
        self._stuck = False  # gave up with a key down: release it when we can
        self._cancelled = False
        self.result = None  # None while typing (or never started), then True/False

    @property
    def busy(self):
        return self._i < 2 * self._n

    def start(self, text, layout, enter=False, leds=0, letters="us"):
        """Queue `text`. layout: a keymap.LAYOUTS name, or "keypad" (digits on
        the keypad, any letters from the `letters` layout). leds: the host's
        LED report byte, None when unknown. False (nothing queued) when busy
        or when a character cannot be typed on that layout."""
        if self.busy or not text or len(text) > MAX_CHARS:
            return False
        pad = layout == keymap.KEYPAD
        li = keymap.layout_index(letters if pad else layout)
        if li < 0:
            return False
        need_num = need_caps = False
        for ch in text:
            c = ch if isinstance(ch, int) else ord(ch)
            if pad and keymap.keypad(c):
                need_num = True
            elif keymap.key(li, c):
                need_caps = True
            else:
                return False
        num = need_num and leds is not None and not leds & keymap.LED_NUM_LOCK
        caps = need_caps and leds is not None and leds & keymap.LED_CAPS_LOCK
        n = 0
        if num:
            n = self._put(n, 0, keymap.NUM_LOCK)
        if caps:
            n = self._put(n, 0, keymap.CAPS_LOCK)
        self._toggles = n
        for ch in text:
            c = ch if isinstance(ch, int) else ord(ch)
            u = keymap.keypad(c) if pad else 0
            if u:
                n = self._put(n, 0, u)
            else:
                k = keymap.key(li, c)
                n = self._put(n, k >> 8, k & 0xFF)
        self._restore = n
        if num:
            n = self._put(n, 0, keymap.NUM_LOCK)
        if caps:
            n = self._put(n, 0, keymap.CAPS_LOCK)
        if enter:
            n = self._put(n, 0, keymap.ENTER)
        self._n = n
        self._i = 0
        self._waiting = False
        self._cancelled = False
        self.result = None
        return True

    def _put(self, n, mod, usage):
        self._keys[2 * n] = mod
        self._keys[2 * n + 1] = usage
        return n + 1

    def step(self, now):
        """Offer the next report if interval_ms has passed since the last one
        the host took. True while there is more to send."""
        if not self.busy:
            if self._stuck:  # after giving up with a key down
                self._fill(0, 0)
                if self._send(self.report):
                    self._stuck = False
            return False
        if self._waiting and self._diff(now, self._last) < self.interval_ms:
            return True
        i = self._i
        if i & 1:
            self._fill(0, 0)
        else:
            self._fill(self._keys[i], self._keys[i + 1])
        if self._send(self.report):
            self._i = i + 1
            self._last = now
            self._waiting = True
            if not self.busy:
                self.result = not self._cancelled
            return self.busy
        if not self._waiting:  # nothing taken yet: count from the first try
            self._last = now
            self._waiting = True
        elif self._diff(now, self._last) >= self.give_up_ms:
            self._stuck = bool(i & 1)
            self._n = self._i = 0
            self.result = False
            return False
        return True

    def _fill(self, mod, usage):
        r = self.report
        for j in range(8):
            r[j] = 0
        r[0] = mod
        r[2] = usage

    def cancel(self):
        """Stop typing: release a key that is down and undo the lock keys
        already pressed; no more characters, no Enter."""
        if not self.busy:
            return
        i = self._i
        pressed = min(self._toggles, (i + 1) // 2)  # a lock acts on its key-down
        k = self._keys
        k[0] = k[1] = 0  # slot 0: a blank keystroke whose up report releases
        for j in range(pressed):
            s = 2 * (self._restore + j)
            k[2 + 2 * j] = k[s]
            k[3 + 2 * j] = k[s + 1]
        self._n = 1 + pressed
        self._i = 1 if i & 1 else 2
        self._toggles = 0  # a second cancel only releases
        self._restore = 1
        self._cancelled = True
        if not self.busy:
            self.result = False
