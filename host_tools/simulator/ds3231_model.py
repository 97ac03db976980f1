# Register-level model of a DS3231 real-time clock on I2C.
#
# The firmware sees 19 registers behind a register pointer, as on the chip
# (write [reg, data...]; read n bytes from the pointer). Time runs from the
# host's monotonic clock, scaled by a drift in ppm that the aging register
# trims, so tests can check how the firmware copes with a clock that runs
# fast, is set mid-second, or lost power. The host-side methods (set_time,
# advance, lose_clock, ...) are the test's hands on the chip, not bus traffic.
import math
import time

EPOCH_2000_UNIX = 946684800  # 2000-01-01T00:00:00Z
SECONDS_PER_DAY = 86400

REG_SECONDS, REG_HOURS, REG_WEEKDAY, REG_MONTH = 0x00, 0x02, 0x03, 0x05
REG_CONTROL, REG_STATUS, REG_AGING, REG_TEMP_MSB, REG_TEMP_LSB = 0x0E, 0x0F, 0x10, 0x11, 0x12
N_REGS = 0x13
TIME_REGS = range(0x00, 0x07)

CONTROL_CONV = 0x20
STATUS_OSF, STATUS_EN32KHZ, STATUS_BSY = 0x80, 0x08, 0x04
STATUS_ALARM_FLAGS = 0x03
HOURS_12H, HOURS_PM = 0x40, 0x20

# Bits that exist in each time register (the rest read as 0).
_TIME_MASKS = (0x7F, 0x7F, 0x7F, 0x07, 0x3F, 0x9F, 0xFF)

POWER_UP_CONTROL = 0x1C
POWER_UP_STATUS = STATUS_OSF | STATUS_EN32KHZ
AGING_PPM_PER_STEP = 0.1  # at +25 C; positive values slow the clock


# --- calendar arithmetic (proleptic Gregorian, days relative to 1970) ---

def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of a day count since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


DAY0 = days_from_civil(2000, 1, 1)  # the chip's calendar starts here
END_SECONDS = (days_from_civil(2200, 1, 1) - DAY0) * SECONDS_PER_DAY  # century bit runs out


def _bcd(n):
    return ((n // 10) << 4) | (n % 10)


def _from_bcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


def _is_bcd(b):
    return (b >> 4) <= 9 and (b & 0x0F) <= 9


class DS3231Model:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.drift_ppm = 0.0  # the crystal's own error; physics, survives power loss
        self.temperature_c = 25.0
        self.invalid_writes = []  # time fields the firmware wrote out of range
        self._power_up(clock())

    def _power_up(self, now):
        self.regs = bytearray(N_REGS)
        self.regs[REG_WEEKDAY] = 1
        self.regs[0x04] = 1  # date
        self.regs[REG_MONTH] = 1
        self.regs[REG_CONTROL] = POWER_UP_CONTROL
        self.regs[REG_STATUS] = POWER_UP_STATUS
        self.pointer = 0
        self._hour12 = False  # firmware chose 12 h mode by writing bit 6 of hours
        self._weekday0 = 1  # weekday register value on day 0 (2000-01-01)
        self._base = 0.0  # calendar seconds since 2000 at self._anchor
        self._anchor = now  # host-monotonic instant of self._base

    # --- time keeping ---

    @property
    def aging(self):
        a = self.regs[REG_AGING]
        return a - 256 if a >= 128 else a

    @property
    def effective_ppm(self):
        return self.drift_ppm - AGING_PPM_PER_STEP * self.aging

    @property
    def osf(self):
        return bool(self.regs[REG_STATUS] & STATUS_OSF)

    def _rate(self):
        return 1.0 + self.effective_ppm * 1e-6

    def _seconds(self, now):
        """Calendar seconds since 2000-01-01 (with fraction) at host instant now."""
        return self._base + (now - self._anchor) * self._rate()

    def _rebase(self, now):
        # Fold the time so far into the base before the rate changes.
        self._base = self._seconds(now)
        self._anchor = now

    def _weekday(self, whole_seconds):
        day = whole_seconds // SECONDS_PER_DAY
        return (self._weekday0 - 1 + day) % 7 + 1

    def _encode_time(self, whole):
        """Put whole calendar seconds into registers 0x00..0x06."""
        whole = int(whole) % END_SECONDS  # the century bit wraps after 2199
        days, sod = divmod(whole, SECONDS_PER_DAY)
        y, m, d = civil_from_days(DAY0 + days)
        hour, rest = divmod(sod, 3600)
        minute, second = divmod(rest, 60)
        years = y - 2000
        r = self.regs
        r[0], r[1] = _bcd(second), _bcd(minute)
        if self._hour12:
            pm = HOURS_PM if hour >= 12 else 0
            r[REG_HOURS] = HOURS_12H | pm | _bcd(hour % 12 or 12)
        else:
            r[REG_HOURS] = _bcd(hour)
        r[REG_WEEKDAY] = self._weekday(whole)
        r[4] = _bcd(d)
        r[REG_MONTH] = ((years // 100) << 7) | _bcd(m)
        r[6] = _bcd(years % 100)

    def _decode_time(self):
        """Whole calendar seconds from registers 0x00..0x06. Fields out of
        range are noted in invalid_writes and clamped: the chip's behaviour
        with them is undefined, the firmware should never write them."""
        r = self.regs
        raw = {"seconds": r[0], "minutes": r[1], "date": r[4],
               "month": r[REG_MONTH] & 0x1F, "year": r[6]}
        h = r[REG_HOURS]
        raw["hours"] = h & (0x1F if h & HOURS_12H else 0x3F)
        bad = [k for k, v in raw.items() if not _is_bcd(v)]
        v = {k: _from_bcd(b) for k, b in raw.items()}
        hour = v["hours"]
        if h & HOURS_12H:
            if not 1 <= hour <= 12:
                bad.append("hours")
            hour = hour % 12 + (12 if h & HOURS_PM else 0)
        year = 2000 + 100 * (r[REG_MONTH] >> 7) + min(v["year"], 99)
        month = min(max(v["month"], 1), 12)
        limits = {"seconds": 59, "minutes": 59, "month": 12,
                  "date": days_in_month(year, month)}
        bad += [k for k, hi in limits.items() if v[k] > hi]
        bad += [k for k in ("date", "month") if v[k] < 1]
        if hour > 23:
            bad.append("hours")
        if not 1 <= r[REG_WEEKDAY] <= 7:
            bad.append("weekday")
        if bad:
            self.invalid_writes.append({"fields": sorted(set(bad)), "registers": r[0:7].hex()})
        day = min(max(v["date"], 1), limits["date"])
        days = days_from_civil(year, month, day) - DAY0
        return (days * SECONDS_PER_DAY + min(hour, 23) * 3600
                + min(v["minutes"], 59) * 60 + min(v["seconds"], 59))

    # --- the bus side ---

    def i2c_write(self, payload):
        payload = bytes(payload)
        if not payload:
            return  # an address probe
        now = self.clock()
        self.pointer = payload[0] % N_REGS
        data = payload[1:]
        touched = [(self.pointer + i) % N_REGS for i in range(len(data))]
        sets_time = any(reg in TIME_REGS for reg in touched)
        if sets_time:
            # Freeze the running time into the registers, so fields the
            # firmware doesn't write keep their current values.
            t = self._seconds(now)
            fraction = t - math.floor(t)
            self._encode_time(math.floor(t))
        if REG_AGING in touched:
            self._rebase(now)
        for reg, b in zip(touched, data):
            self._write_register(reg, b)
        self.pointer = (self.pointer + len(data)) % N_REGS
        if sets_time:
            whole = self._decode_time()
            day = whole // SECONDS_PER_DAY
            self._weekday0 = (self.regs[REG_WEEKDAY] - 1 - day) % 7 + 1
            # Writing seconds restarts the countdown chain: the next tick
            # comes a full second later. Otherwise the fraction carries on.
            self._base = whole + (0.0 if REG_SECONDS in touched else fraction)
            self._anchor = now

    def _write_register(self, reg, b):
        if reg in TIME_REGS:
            if reg == REG_HOURS:
                self._hour12 = bool(b & HOURS_12H)
            self.regs[reg] = b & _TIME_MASKS[reg]
        elif reg == REG_CONTROL:
            if b & CONTROL_CONV:
                self._convert()
            self.regs[reg] = b & ~CONTROL_CONV  # conversion is done at once
        elif reg == REG_STATUS:
            old = self.regs[reg]
            # OSF and alarm flags can only be cleared; BSY is read-only.
            self.regs[reg] = ((old & b & (STATUS_OSF | STATUS_ALARM_FLAGS))
                              | (b & STATUS_EN32KHZ) | (old & STATUS_BSY))
        elif reg in (REG_TEMP_MSB, REG_TEMP_LSB):
            pass  # read-only
        else:
            self.regs[reg] = b  # alarms and aging

    def _convert(self):
        self._encode_temperature()

    def _encode_temperature(self):
        # 10-bit two's complement in quarter degrees, rounded toward -inf.
        q = min(max(math.floor(self.temperature_c * 4), -512), 511) & 0x3FF
        self.regs[REG_TEMP_MSB] = q >> 2
        self.regs[REG_TEMP_LSB] = (q & 3) << 6

    def i2c_read(self, n):
        # The chip copies the time into its read buffer at START, so a burst
        # read is consistent; computing once per transaction does the same.
        self._encode_time(math.floor(self._seconds(self.clock())))
        self._encode_temperature()
        out = bytearray()
        for _ in range(n):
            out.append(self.regs[self.pointer])
            self.pointer = (self.pointer + 1) % N_REGS
        return bytes(out)

    # --- the test's hands ---

    def set_time(self, unix_seconds, clear_osf=False):
        """Set the chip's time as if by a perfect external setter; the
        weekday register gets the ISO weekday (Monday = 1). OSF is left
        alone unless clear_osf: clearing it is the firmware's job."""
        t = unix_seconds - EPOCH_2000_UNIX
        if not 0 <= t < END_SECONDS:
            raise ValueError("DS3231 holds 2000..2199 only")
        self._base = float(t)
        self._anchor = self.clock()
        self._weekday0 = 6  # 2000-01-01 was a Saturday
        if clear_osf:
            self.regs[REG_STATUS] &= ~STATUS_OSF

    def unix_time(self):
        return self._seconds(self.clock()) + EPOCH_2000_UNIX

    def advance(self, seconds):
        """Let `seconds` of true time pass at once: the chip counts them at
        its own rate, so drift and aging show as they would over that time."""
        self._base += seconds * self._rate()

    def set_drift_ppm(self, ppm):
        self._rebase(self.clock())
        self.drift_ppm = ppm

    def set_temperature(self, celsius):
        self.temperature_c = celsius
        self._encode_temperature()

    def lose_clock(self):
        """VCC and battery gone: every register back to power-up values,
        OSF set, time 2000-01-01 00:00:00."""
        self._power_up(self.clock())
        self._encode_temperature()

    # --- persistence across simulator runs ---

    def to_state(self):
        return {
            "version": 1,
            "calendar_seconds": self._seconds(self.clock()),
            "saved_wall": time.time(),
            "drift_ppm": self.drift_ppm,
            "aging": self.aging,
            "osf": self.osf,
            "status": self.regs[REG_STATUS],
            "alarms_control": self.regs[0x07:REG_STATUS].hex(),  # 0x07..0x0E
            "weekday0": self._weekday0,
            "hour12": self._hour12,
            "temperature_c": self.temperature_c,
        }

    def from_state(self, d, now_wall=None):
        """Restore a saved state into this model and return it: the battery
        kept the chip running for the wall-clock time since the save, at its
        drifted rate."""
        now = self.clock()
        self._power_up(now)
        self.drift_ppm = d["drift_ppm"]
        self.temperature_c = d["temperature_c"]
        self.regs[0x07:REG_STATUS] = bytes.fromhex(d["alarms_control"])
        self.regs[REG_STATUS] = (d["status"] & ~STATUS_OSF) | (STATUS_OSF if d["osf"] else 0)
        self.regs[REG_AGING] = d["aging"] & 0xFF
        self._weekday0 = d["weekday0"]
        self._hour12 = d["hour12"]
        self._encode_temperature()
        now_wall = time.time() if now_wall is None else now_wall
        off_for = max(0.0, now_wall - d["saved_wall"])  # an RTC never runs back
        self._base = d["calendar_seconds"] + off_for * self._rate()
        return self
