# The clock commands: get-time, set-time (a sync, which may trim the RTC's
# drift) and calibrate. Plugged into service.Service; setting or trimming
# the clock needs the PIN.
import diagcmd
import frames
from argcheck import bad, integer, number, text
from drift import AUTO_TRIM_S
from service import CommandError

# Both ends of a sync lie in 2000..2199 (what the DS3231 holds): no clock
# can be further off than that.
_MIN_MS = 946684800000
_MAX_MS = 7258118399000
_MAX_OFFSET_MS = _MAX_MS - _MIN_MS


class Commands:
    privileged = ("set-time", "calibrate")
    private = ()

    def __init__(self, clock, rtc, drift, log, screens):
        self.clock = clock
        self.rtc = rtc
        self.drift = drift
        self.log = log
        self.screens = screens
        self.handlers = {
            "get-time": self.get_time,
            "set-time": self.set_time,
            "calibrate": self.calibrate,
        }

    def get_time(self, args, received):
        clock = self.clock
        return {"unix_ms": clock.unix_ms(), "lost": clock.lost}

    def set_time(self, args, received):
        unix_ms = integer(args, "unix_ms", None, _MIN_MS, _MAX_MS)
        trim = text(args, "trim", "auto")
        if trim not in ("auto", "never"):
            raise bad("'trim' is auto or never")
        # The host's measurement, when it made one.
        offset = number(args, "offset_ms", -_MAX_OFFSET_MS, _MAX_OFFSET_MS)
        clock = self.clock
        was_lost = clock.lost
        before = None if was_lost else clock.unix_ms() - clock.ms_since(received)
        if offset is None and before is not None:
            offset = before - unix_ms
        written = clock.set_unix_ms(unix_ms, received)
        self.screens.clock_changed()
        now = written // 1000
        aging = self.rtc.aging()
        # A lost clock's offset says nothing about the crystal: record the
        # sync as a fresh start.
        measured = self.drift.record(now, None if was_lost else offset, aging)
        reply = {"unix_ms": written, "before_ms": before, "measured_ppm": measured,
                 "trimmed": None}
        if measured is not None and trim == "auto" and \
                self.drift.syncs[-2][0] <= now - AUTO_TRIM_S:
            reply["trimmed"] = self._trim()
        diagcmd.synced(self.log, None if was_lost else offset, aging, reply["trimmed"])
        return reply

    def calibrate(self, args, received):
        """Trim the drift now from the last estimate (two syncs an hour or
        more apart)."""
        if self.drift.ppm is None:
            raise CommandError(frames.E_NO_ESTIMATE,
                               "no drift estimate yet: sync twice at least an hour apart")
        return {"trimmed": self._trim()}

    def _trim(self):
        old = self.rtc.aging()
        new = self.drift.trim_target(old)
        if new is None or new == old:
            return None
        self.rtc.set_aging(new)
        self.drift.trimmed(old, new)
        return {"from": old, "to": new, "drift_ppm": self.drift.ppm}
