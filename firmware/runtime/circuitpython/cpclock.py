# The CircuitPython runtime's clock chip (hal.py's rtc()): the DS3231
# through adafruit_ds3231, with the registers the driver leaves out (the
# century bit, the seconds alone) read through its i2c_device.
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_ENODEV = const(19)
_REG_MONTH = const(0x05)  # DS3231: month, bit 7 the century
_CENTURY = const(0x80)


class Clock:
    """The DS3231 through adafruit_ds3231.DS3231, as the clock-chip interface.
    Time goes through its datetime_register (the `datetime` setter would
    also clear the lost-power flag, which the app clears on its own). The
    driver knows 2000-2099 only: the century bit (2100-2199, as the chip and
    the MicroPython driver count) goes through its i2c_device."""

    def __init__(self, i2c, addr):
        import adafruit_ds3231
        if addr != 0x68:  # the driver knows no other address (nor does the chip)
            raise OSError(_ENODEV)
        try:
            self.chip = adafruit_ds3231.DS3231(i2c)
        except ValueError:  # the probe: nobody acked
            raise OSError(_ENODEV)
        self._reg = bytearray(1)
        self._one = bytearray(1)
        self._pair = bytearray(2)
        self.year = 2000
        self.month = 1
        self.day = 1
        self.hour = 0
        self.minute = 0
        self.second = 0

    def _century(self):
        """The month register's century bit, which the driver drops."""
        self._reg[0] = _REG_MONTH
        with self.chip.i2c_device as dev:
            dev.write_then_readinto(self._reg, self._one)
        return self._one[0] & _CENTURY

    def read_time(self):
        t = self.chip.datetime_register  # one burst of the seven registers
        self.year = t.tm_year + (100 if self._century() else 0)
        self.month = t.tm_mon
        self.day = t.tm_mday
        self.hour = t.tm_hour
        self.minute = t.tm_min
        self.second = t.tm_sec

    def read_seconds(self):
        """Just the seconds register (the driver only reads all seven): the
        cheap poll for the rollover, through the driver's i2c_device."""
        self._reg[0] = 0
        with self.chip.i2c_device as dev:
            dev.write_then_readinto(self._reg, self._one)
        b = self._one[0] & 0x7F
        return (b >> 4) * 10 + (b & 0x0F)

    def write_time(self, year, month, day, hour, minute, second, weekday):
        if not 2000 <= year <= 2199:
            raise ValueError("DS3231 holds years 2000-2199")
        century = year >= 2100
        # The driver writes 2000-2099 (its month byte clears the century bit).
        self.chip.datetime_register = time.struct_time(
            (year - 100 if century else year, month, day, hour, minute, second,
             (weekday - 1) % 7, -1, -1))
        if century:
            self._century()  # the month register, read into _one
            self._one[0] |= _CENTURY
            self._pair[0] = _REG_MONTH
            self._pair[1] = self._one[0]
            with self.chip.i2c_device as dev:
                dev.write(self._pair)

    def lost_power(self):
        return bool(self.chip.lost_power)

    def clear_lost_power(self):
        self.chip.lost_power = False

    def temperature(self):
        return self.chip.temperature

    def aging(self):
        return self.chip.calibration

    def set_aging(self, offset):
        if not -128 <= offset <= 127:
            raise ValueError("aging offset is -128..127")
        self.chip.calibration = offset  # the driver then forces a conversion
