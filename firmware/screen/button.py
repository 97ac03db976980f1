# Debounced button with short, long and (optionally) double presses. Pure
# logic: feed it the raw level and the time; the runtime reads the pin.

NONE = 0
SHORT = 1  # released before LONG_MS
LONG = 2  # reported while still held, once LONG_MS is reached
DOUBLE = 3  # two short presses, the second starting within double_ms of the first's release

# The token's timings; the simulator's finger (host_tools/simulator/token.py)
# reads them from here to hold a press just long enough.
DEBOUNCE_MS = 25
LONG_MS = 700


class Button:
    def __init__(self, debounce_ms=DEBOUNCE_MS, long_ms=LONG_MS, ticks_diff=None, double_ms=0):
        """double_ms > 0 turns double presses on: a short press is then
        reported only once double_ms have passed without a second one."""
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.double_ms = double_ms
        if ticks_diff is None:
            def ticks_diff(a, b):
                return a - b
        self._diff = ticks_diff
        self.stable = False  # debounced level: True = pressed
        self._raw = False
        self._raw_since = 0
        self._down_at = 0
        self._long_sent = False
        self._first_up = -1  # a short press waiting for a second one: its release time
        self._second = False  # the press now held is the second of a pair
        self._queued = NONE  # an event to report on the next update

    def update(self, pressed, now):
        """Returns NONE, SHORT, LONG or DOUBLE. `pressed` is the raw level
        already corrected for polarity; `now` is ticks_ms."""
        if self._queued:
            event = self._queued
            self._queued = NONE
            return event
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now
            return NONE
        if pressed != self.stable and self._diff(now, self._raw_since) >= self.debounce_ms:
            self.stable = pressed
            if pressed:
                self._down_at = self._raw_since
                self._long_sent = False
                if self._first_up >= 0:  # the second press of a pair
                    self._first_up = -1
                    self._second = True
                return NONE
            if self._long_sent:
                return NONE
            if self._second:
                self._second = False
                return DOUBLE
            if self.double_ms > 0:
                self._first_up = self._raw_since  # wait for a second press
                return NONE
            return SHORT
        if self._first_up >= 0 and not self.stable and \
                self._diff(now, self._first_up) >= self.double_ms:
            self._first_up = -1  # no second press came
            return SHORT
        if self.stable and not self._long_sent and self._diff(now, self._down_at) >= self.long_ms:
            self._long_sent = True
            if self._second:  # short then long: both count
                self._second = False
                self._queued = LONG
                return SHORT
            return LONG
        return NONE
