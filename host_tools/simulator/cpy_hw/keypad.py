# Stands for CircuitPython's `keypad` module (Keys, EventQueue, Event). The
# real one scans in the background every `interval`; this one scans once each
# time the firmware's loop drains the queue (every 10 ms), so each turn's level
# comes from one pin read the simulator sees, as with MicroPython: its finger
# lifts by those reads (host_tools/simulator/bus.py).

import _simwire


def _ticks():
    import supervisor
    return supervisor.ticks_ms()


class Event:
    def __init__(self, key_number=0, pressed=True, timestamp=None):
        self.key_number = key_number
        self.pressed = bool(pressed)
        self.timestamp = _ticks() if timestamp is None else timestamp

    @property
    def released(self):
        return not self.pressed

    def __eq__(self, other):
        return (isinstance(other, Event) and other.key_number == self.key_number
                and other.pressed == self.pressed)

    def __hash__(self):
        return hash((self.key_number, self.pressed))

    def __repr__(self):
        return "<Event: key_number %d %s>" % (self.key_number,
                                              "pressed" if self.pressed else "released")


class EventQueue:
    def __init__(self, scanner, max_events):
        self._scanner = scanner
        self._max = max_events
        self._q = []
        self.overflowed = False
        self._drained = False  # the last look handed out an event: the next empty look ends the turn

    def _look(self):
        # A loop drains the queue until it is empty: scan on its first look,
        # not again on the look that finds the queue emptied.
        if self._q:
            return
        if self._drained:
            self._drained = False
            return
        self._scanner._scan()

    def _put(self, key, pressed, ts):
        if len(self._q) >= self._max:
            self._q.pop(0)  # the oldest goes, as on the board
            self.overflowed = True
        self._q.append((key, pressed, ts))

    def get(self):
        self._look()
        if not self._q:
            return None
        key, pressed, ts = self._q.pop(0)
        self._drained = True
        return Event(key, pressed, ts)

    def get_into(self, event):
        self._look()
        if not self._q:
            return False
        event.key_number, event.pressed, event.timestamp = self._q.pop(0)
        self._drained = True
        return True

    def clear(self):
        self._q = []
        self.overflowed = False

    def __len__(self):
        self._look()
        return len(self._q)

    def __bool__(self):
        return len(self) > 0


class Keys:
    def __init__(self, pins, *, value_when_pressed, pull=True, interval=0.020,
                 max_events=64, debounce_threshold=1):
        if max_events < 1:
            raise ValueError("max_events must be >= 1")
        if not 1 <= debounce_threshold <= 127:
            raise ValueError("debounce_threshold must be 1-127")
        self._pins = list(pins)
        self._when = bool(value_when_pressed)
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self._threshold = debounce_threshold
        self._state = [False] * len(self._pins)  # all released at start, as the real one assumes
        self._count = [0] * len(self._pins)
        self._deinited = False
        self.events = EventQueue(self, max_events)
        self._scan()

    @property
    def key_count(self):
        return len(self._pins)

    def reset(self):
        self._state = [False] * len(self._pins)
        self._count = [0] * len(self._pins)

    def deinit(self):
        self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    def _scan(self):
        if self._deinited:
            return
        ts = _ticks()
        for i, pin in enumerate(self._pins):
            pressed = _simwire.read_pin(pin.number) == self._when
            if pressed == self._state[i]:
                self._count[i] = 0
                continue
            self._count[i] += 1
            if self._count[i] >= self._threshold:
                self._state[i] = pressed
                self._count[i] = 0
                self.events._put(i, pressed, ts)
