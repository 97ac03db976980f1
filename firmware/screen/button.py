# Debounced button with short, long and (optionally) double presses. Pure
# logic: feed it the raw level and the time; the runtime reads the pin.

NONE = 0
SHORT = 1  # released before LONG_MS
LONG = 2  # reported while still held, once LONG_MS is reached
DOUBLE = 3  # two short presses, the second starting within double_ms of the first's release
# With repeat_ms > 0 (the lock screen asks for it), a hold goes on reporting:
REPEAT = 4  # every repeat_ms it stays held after its LONG (which then comes
#            after repeat_ms too, when that is shorter than long_ms)
RELEASE = 5  # the release that ends such a hold

# The token's timings; the simulator's finger (host_tools/simulator/bus.py)
# reads them from here to hold a press just long enough.
DEBOUNCE_MS = 25
LONG_MS = 700
# A reading this long after the one before means the loop stalled (a loaded
# machine, a long job) and didn't watch the button meanwhile. Time is counted
# only while watched: the debounce and the long press need that much time
# between prompt readings, and a late reading decides nothing. Far above any
# normal loop period on every port, or the button would never decide anything.
STALL_MS = 200
_STEADY_CAP = 1 << 20  # stays a small int however long the level holds


class Button:
    def __init__(self, debounce_ms=DEBOUNCE_MS, long_ms=LONG_MS, ticks_diff=None, double_ms=0,
                 repeat_ms=0):
        """double_ms > 0 turns double presses on: a short press is then
        reported only once double_ms have passed without a second one.
        repeat_ms > 0 turns REPEAT and RELEASE on (a hold that runs
        something up); turned off mid-hold, that hold reports no more."""
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.double_ms = double_ms
        self.repeat_ms = repeat_ms
        if ticks_diff is None:
            def ticks_diff(a, b):
                return a - b
        self._diff = ticks_diff
        self.stable = False  # debounced level: True = pressed
        self._raw = False
        self._raw_since = 0
        self._steady = 0  # watched ms since the raw level last changed
        self._last = None  # the previous reading's time
        self._long_sent = False
        self._first_up = -1  # a short press waiting for a second one: its release time
        self._second = False  # the press now held is the second of a pair
        self._queued = NONE  # an event to report on the next update
        self._run = -1  # watched ms a hold ran since its LONG or last REPEAT; -1: none runs

    def update(self, pressed, now):
        """Returns NONE, SHORT, LONG, DOUBLE, REPEAT or RELEASE. `pressed` is the raw level
        already corrected for polarity; `now` is ticks_ms."""
        if self._queued:
            event = self._queued
            self._queued = NONE
            return event
        last = self._last
        self._last = now
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now
            self._steady = 0
            return NONE
        if last is None:
            return NONE
        gap = self._diff(now, last)
        if gap > STALL_MS:
            return NONE  # unwatched: this reading only records the level
        if self._steady < _STEADY_CAP:
            self._steady += gap
        if self.repeat_ms <= 0:
            self._run = -1
        if pressed != self.stable and self._steady >= self.debounce_ms:
            self.stable = pressed
            if pressed:
                self._long_sent = False
                self._run = -1
                if self._first_up >= 0:  # the second press of a pair
                    self._first_up = -1
                    self._second = True
                return NONE
            if self._long_sent:
                if self._run >= 0:
                    self._run = -1
                    return RELEASE
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
        # Long only on a reading that still finds the button down, held and
        # watched for long_ms: a release seen late, after a stall, is no hold.
        # A hold that runs something up starts at its first step, if sooner:
        # a tap stays far shorter, and every digit of a PIN gains the difference.
        long_ms = self.long_ms
        if 0 < self.repeat_ms < long_ms:
            long_ms = self.repeat_ms
        if self.stable and pressed and not self._long_sent and self._steady >= long_ms:
            self._long_sent = True
            self._run = 0 if self.repeat_ms > 0 else -1
            if self._second:  # short then long: both count
                self._second = False
                self._queued = LONG
                return SHORT
            return LONG
        # Steps of a running hold: watched time only, and only while a
        # reading still finds the button down (a release on its way steps no more).
        if self._run >= 0 and self.stable and pressed:
            self._run += gap
            if self._run >= self.repeat_ms:
                self._run -= self.repeat_ms
                return REPEAT
        return NONE
