# The token's notion of time: UTC from the DS3231's date fields, plus the
# milliseconds within the second from the MCU's tick counter, anchored at
# the moment the RTC's seconds register was seen to change.
#
# Time is held as (days since 1970, second of day): both stay small ints, so
# the per-second path allocates nothing even on 32-bit boards where Unix
# seconds no longer fit a small int.
import timeutil

MIN_YEAR = 2025  # earlier than the firmware itself: the time is clearly wrong
_WATCH_MS = 12  # start watching this close to the expected rollover
_WATCH_LIMIT_MS = 60  # give up watching after this long past it


class Clock:
    def __init__(self, rtc, ticks_ms, ticks_diff, sleep_ms, ticks_add):
        # The runtime's ticks (a fake clock in the tests).
        self.rtc = rtc
        self._ticks = ticks_ms
        self._diff = ticks_diff
        self._sleep = sleep_ms
        self._add = ticks_add
        self.days = 0
        self.sod = 0
        self.anchor = self._ticks()  # tick at which (days, sod) began
        self.lost = True
        self.osf = True
        self.hunting = False
        self.read()
        self.refresh_lost()
        self.align()

    def read(self):
        """Read the RTC into days/sod. Returns True when the second changed."""
        r = self.rtc
        r.read_time()
        days = timeutil.days_from_civil(r.year, r.month, r.day)
        sod = r.hour * 3600 + r.minute * 60 + r.second
        if days == self.days and sod == self.sod:
            return False
        self.days = days
        self.sod = sod
        return True

    def refresh_lost(self):
        """Re-check the oscillator-stop flag, and the plausibility of the date
        as last read (every caller has just read the time)."""
        self.osf = self.rtc.lost_power()
        self.lost = self.osf or self.rtc.year < MIN_YEAR
        return self.lost

    def align(self):
        """Find the rollover precisely by polling the seconds register every
        millisecond (at boot; takes up to one second)."""
        r = self.rtc
        first = r.read_seconds()
        start = self._ticks()
        while self._diff(self._ticks(), start) < 1100:
            if r.read_seconds() != first:
                self.anchor = self._ticks()
                self.read()
                return True
            self._sleep(1)
        return False  # the oscillator is stopped: no rollover to find

    def poll(self):
        """Called from the main loop. Keeps days/sod current and the anchor
        on the rollover. Returns True once per new second. No allocation."""
        now = self._ticks()
        r = self.rtc
        if self.hunting:
            # The phase is unknown (the RTC was set or jumped): poll every
            # loop until the next rollover, which puts the anchor within one
            # loop period; the watch below then brings it within a millisecond.
            if r.read_seconds() == self.sod % 60:
                return False
            self.anchor = now
            self.hunting = False
            return self.read()
        if self._diff(now, self.anchor) < 1000 - _WATCH_MS:
            return False
        # The next second is due: watch the seconds register closely so the
        # anchor lands within a millisecond of the real rollover.
        old = self.sod % 60
        first = True
        while True:
            s = r.read_seconds()
            now = self._ticks()
            if s != old:
                break
            if self._diff(now, self.anchor) > 1000 + _WATCH_LIMIT_MS:
                # No change well past its time: the anchor was early (or the
                # oscillator stopped). Re-anchor coarsely and hunt.
                self.anchor = now
                self.hunting = True
                return self.read()
            first = False
            self._sleep(1)
        self.anchor = now
        if first:
            self.hunting = True  # it had already rolled over: we came late
        return self.read()

    def ms(self):
        """Milliseconds into the current second (0..999)."""
        d = self._diff(self._ticks(), self.anchor)
        if d < 0:
            return 0
        return d if d < 1000 else 999

    def unix(self):
        return self.days * timeutil.SECONDS_PER_DAY + self.sod

    def unix_ms(self):
        """Now, in ms, from a fresh read of the RTC (for commands: the cheap
        per-second poll only watches the seconds register, which can't see a
        jump of whole minutes made behind its back)."""
        old_days, old_sod = self.days, self.sod
        if self.read():
            step = (self.days - old_days) * timeutil.SECONDS_PER_DAY + self.sod - old_sod
            since = self._diff(self._ticks(), self.anchor)
            if step == 1 and 1000 - _WATCH_MS <= since <= 1000 + _WATCH_LIMIT_MS:
                self.anchor = self._add(self.anchor, 1000)  # the expected rollover
            elif not self.lost:
                # Moved by someone else: find the sub-second phase again
                # before answering (up to a second, and only after a jump).
                self.align()
                self.hunting = False
        return self.unix() * 1000 + self.ms()

    def ms_since(self, tick):
        """Milliseconds from `tick` (ticks_ms) to now."""
        return self._diff(self._ticks(), tick)

    def set_unix_ms(self, target_ms, received):
        """Set the RTC so that `target_ms` (Unix ms at tick `received`) is
        honoured to the millisecond: wait for the next whole second and
        write all registers in one burst right then, since writing the
        seconds register restarts the chip's sub-second chain."""
        now_ms = target_ms + self._diff(self._ticks(), received)
        wait = 1000 - now_ms % 1000
        if wait < 1000:
            self._sleep(wait)
        now_ms = target_ms + self._diff(self._ticks(), received)
        sec = (now_ms + 500) // 1000
        y, mo, d, h, mi, s, wd = timeutil.from_unix(sec)
        self.rtc.write_time(y, mo, d, h, mi, s, wd)
        self.anchor = self._ticks()
        self.hunting = False
        self.rtc.clear_lost_power()
        self.read()
        self.refresh_lost()
        return sec * 1000
