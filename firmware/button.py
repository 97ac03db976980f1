# Debounced button with short and long presses. Pure logic: feed it the raw
# level and the time; the board layer reads the pin.

NONE = 0
SHORT = 1  # released before LONG_MS
LONG = 2  # reported while still held, once LONG_MS is reached


class Button:
    def __init__(self, debounce_ms=25, long_ms=700, ticks_diff=None):
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        if ticks_diff is None:
            def ticks_diff(a, b):
                return a - b
        self._diff = ticks_diff
        self.stable = False  # debounced level: True = pressed
        self._raw = False
        self._raw_since = 0
        self._down_at = 0
        self._long_sent = False

    def update(self, pressed, now):
        """Returns NONE, SHORT or LONG. `pressed` is the raw level already
        corrected for polarity; `now` is ticks_ms."""
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now
            return NONE
        if pressed != self.stable and self._diff(now, self._raw_since) >= self.debounce_ms:
            self.stable = pressed
            if pressed:
                self._down_at = self._raw_since
                self._long_sent = False
                return NONE
            if not self._long_sent:
                return SHORT
            return NONE
        if self.stable and not self._long_sent and self._diff(now, self._down_at) >= self.long_ms:
            self._long_sent = True
            return LONG
        return NONE
