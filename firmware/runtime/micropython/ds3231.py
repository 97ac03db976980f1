# DS3231 real-time clock driver. The bus is injected (machine.I2C API,
# positional arguments). Time is kept in UTC, 24-hour mode.
from micropython import const

_REG_TIME = const(0x00)  # seconds .. year, 7 BCD registers
_REG_CONTROL = const(0x0E)
_REG_STATUS = const(0x0F)
_REG_AGING = const(0x10)
_REG_TEMP = const(0x11)
_OSF = const(0x80)  # status: oscillator stopped, time not trustworthy
_CONV = const(0x20)  # control: start a temperature conversion (applies aging)
_CENTURY = const(0x80)  # month register: years 2100-2199
_HOUR_12H = const(0x40)
_HOUR_PM = const(0x20)

ADDRESS = const(0x68)


def _bcd(b):
    return (b >> 4) * 10 + (b & 0x0F)


def _to_bcd(v):
    return ((v // 10) << 4) | (v % 10)


class DS3231:
    def __init__(self, i2c, address=ADDRESS):
        self.i2c = i2c
        self.address = address
        # Preallocated so reading the time on the per-second path allocates nothing.
        self._regs = bytearray(7)
        self._one = bytearray(1)
        self._two = bytearray(2)
        self.year = 2000
        self.month = 1
        self.day = 1
        self.hour = 0
        self.minute = 0
        self.second = 0

    def read_time(self):
        """Read all seven time registers in one burst (so they are coherent)
        into year/month/day/hour/minute/second attributes. Allocates nothing."""
        r = self._regs
        self.i2c.readfrom_mem_into(self.address, _REG_TIME, r)
        self.second = _bcd(r[0] & 0x7F)
        self.minute = _bcd(r[1] & 0x7F)
        h = r[2]
        if h & _HOUR_12H:  # a chip set by other software may be in 12 h mode
            hour = _bcd(h & 0x1F) % 12
            if h & _HOUR_PM:
                hour += 12
        else:
            hour = _bcd(h & 0x3F)
        self.hour = hour
        self.day = _bcd(r[4] & 0x3F)
        self.month = _bcd(r[5] & 0x1F)
        self.year = 2000 + _bcd(r[6]) + (100 if r[5] & _CENTURY else 0)

    def read_seconds(self):
        """Just the seconds register: the cheap poll for the rollover."""
        self.i2c.readfrom_mem_into(self.address, _REG_TIME, self._one)
        return _bcd(self._one[0] & 0x7F)

    def write_time(self, year, month, day, hour, minute, second, weekday):
        """Write all seven registers in one burst: writing seconds restarts the
        chip's sub-second chain, and the rest must follow within a second."""
        if not 2000 <= year <= 2199:
            raise ValueError("DS3231 holds years 2000-2199")
        r = self._regs
        r[0] = _to_bcd(second)
        r[1] = _to_bcd(minute)
        r[2] = _to_bcd(hour)  # 24-hour mode
        r[3] = weekday
        r[4] = _to_bcd(day)
        r[5] = _to_bcd(month) | (_CENTURY if year >= 2100 else 0)
        r[6] = _to_bcd(year % 100)
        self.i2c.writeto_mem(self.address, _REG_TIME, r)

    def lost_power(self):
        """True when the oscillator-stop flag is set."""
        self.i2c.readfrom_mem_into(self.address, _REG_STATUS, self._one)
        return bool(self._one[0] & _OSF)

    def clear_lost_power(self):
        self.i2c.readfrom_mem_into(self.address, _REG_STATUS, self._one)
        self._one[0] &= ~_OSF & 0xFF
        self.i2c.writeto_mem(self.address, _REG_STATUS, self._one)

    def temperature(self):
        """Degrees C in 0.25 steps (10-bit two's complement)."""
        t = self._two
        self.i2c.readfrom_mem_into(self.address, _REG_TEMP, t)
        raw = (t[0] << 2) | (t[1] >> 6)
        if raw & 0x200:
            raw -= 0x400
        return raw / 4

    def aging(self):
        self.i2c.readfrom_mem_into(self.address, _REG_AGING, self._one)
        v = self._one[0]
        return v - 256 if v & 0x80 else v

    def set_aging(self, offset):
        """Signed trim, about 0.1 ppm per step; positive slows the clock.
        A conversion is started so the new value applies at once."""
        if not -128 <= offset <= 127:
            raise ValueError("aging offset is -128..127")
        self._one[0] = offset & 0xFF
        self.i2c.writeto_mem(self.address, _REG_AGING, self._one)
        self.i2c.readfrom_mem_into(self.address, _REG_CONTROL, self._one)
        self._one[0] |= _CONV
        self.i2c.writeto_mem(self.address, _REG_CONTROL, self._one)
