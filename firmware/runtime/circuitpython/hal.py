# The CircuitPython runtime's hal (docs/runtime.md): adafruit_ssd1306 and
# adafruit_ds3231 on busio.I2C, the button through keypad.Keys, the protocol
# on usb_cdc.data (the second USB serial port, enabled in boot.py), ticks
# from supervisor.ticks_ms(). The board file names `board.*` pins as strings.
import os
import time

import board as pins  # CircuitPython's pin objects; `board` below is our board file
import busio
import keypad
import supervisor
import usb_cdc

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NAME = "circuitpython"

# supervisor.ticks_ms() wraps at 2**29 (it starts a minute before the wrap).
_TICKS_PERIOD = const(1 << 29)
_TICKS_MAX = const((1 << 29) - 1)
_TICKS_HALF = const(1 << 28)

_DATA = const(0x40)  # SSD1306 control byte: display data follows
_CMD_STREAM = const(0x00)  # control byte: commands follow
_SET_COLUMNS = const(0x21)
_SET_PAGES = const(0x22)
_ENODEV = const(19)
_REG_MONTH = const(0x05)  # DS3231: month, bit 7 the century
_CENTURY = const(0x80)

# microcontroller.ResetReason -> the short names MicroPython's runtime gives.
_CAUSES = (("POWER_ON", "pwron"), ("BROWNOUT", "brownout"), ("SOFTWARE", "soft"),
           ("DEEP_SLEEP_ALARM", "deepsleep"), ("RESET_PIN", "hard"), ("WATCHDOG", "wdt"),
           ("RESCUE_DEBUG", "rescue"))

FONT_FILE = "/font8x8.bin"  # beside code.py on the CIRCUITPY drive
_FIRST_CHAR = const(32)
_LAST_CHAR = const(126)


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def ticks_add(t, d):
    return (t + d) & _TICKS_MAX


def load_font(path):
    """The 95 glyphs (ASCII 32..126) of MicroPython's framebuf font, 8
    column bytes each: the same text on both runtimes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        raise RuntimeError("font file %s missing: copy build/font8x8.bin beside code.py" % path)
    if len(data) != (_LAST_CHAR - _FIRST_CHAR + 1) * 8:
        raise RuntimeError("font file %s is not 95 glyphs of 8 bytes" % path)
    return data


class Canvas:
    """The drawing surface the screens use (`display.fb`). Lines and boxes
    go through adafruit_framebuf; text uses the 8x8 font, written straight
    into the page bytes (MONO_VLSB behind one leading control byte)."""

    def __init__(self, framebuf, raw, width, height, font):
        self._fb = framebuf
        self._raw = raw  # raw[1:] is the frame: page p, column x at 1 + p*width + x
        self.width = width
        self.height = height
        self._font = font

    def fill(self, c):
        self._fb.fill(c)

    def fill_rect(self, x, y, w, h, c):
        self._fb.fill_rect(x, y, w, h, c)

    def rect(self, x, y, w, h, c):
        self._fb.rect(x, y, w, h, c)

    def pixel(self, x, y, c=None):
        return self._fb.pixel(x, y, c)

    def hline(self, x, y, w, c):
        self._fb.hline(x, y, w, c)

    def vline(self, x, y, h, c):
        self._fb.vline(x, y, h, c)

    def text(self, s, x, y, c=1):
        """As MicroPython's framebuf.text: only the glyphs' set pixels are
        drawn (in colour c); characters outside ASCII 32..126 draw nothing."""
        raw = self._raw
        font = self._font
        w = self.width
        if y <= -8 or y >= self.height:
            return
        page = y >> 3
        shift = y & 7
        top = 1 + page * w  # first byte of the page the glyph's top row is on
        low_ok = 0 <= page
        high_ok = shift and page + 1 < self.height >> 3
        for ch in s:
            code = ord(ch)
            if _FIRST_CHAR <= code <= _LAST_CHAR and x < w:
                g = (code - _FIRST_CHAR) * 8
                for col in range(8):
                    cx = x + col
                    if cx < 0 or cx >= w:
                        continue
                    bits = font[g + col]
                    if not bits:
                        continue
                    if low_ok:
                        lo = (bits << shift) & 0xFF
                        i = top + cx
                        raw[i] = raw[i] | lo if c else raw[i] & ~lo
                    if high_ok:
                        hi = bits >> (8 - shift)
                        i = top + w + cx
                        raw[i] = raw[i] | hi if c else raw[i] & ~hi
            x += 8


class Display:
    """An SSD1306 through adafruit_ssd1306.SSD1306_I2C. The driver's own
    show() resends the whole 1 KB frame; ours sends only the runs of pages
    that differ from a shadow of what the panel holds, through the driver's
    i2c_device, straight from its buffer."""

    def __init__(self, i2c, width, height, addr, font):
        import adafruit_ssd1306
        try:
            drv = adafruit_ssd1306.SSD1306_I2C(width, height, i2c, addr=addr)
        except ValueError:  # adafruit_bus_device's probe: nobody acked
            raise OSError(_ENODEV)
        self.drv = drv
        self.width = width
        self.height = height
        self.pages = height // 8
        buf = drv.buffer  # buffer[0] is the 0x40 control byte, then the pages
        self.fb = Canvas(drv, buf, width, height, font)
        self._glyph = bytearray(8)
        self._font = font
        # The driver's constructor cleared the panel and sent the frame.
        self._shadow = bytearray(buf)
        mv = memoryview(buf)
        shadow = memoryview(self._shadow)
        self._page = []
        self._shadow_page = []
        for p in range(self.pages):
            a = 1 + p * width
            self._page.append(mv[a:a + width])
            self._shadow_page.append(shadow[a:a + width])
        x0 = (128 - width) // 2 if width != 128 else 0  # as the driver centres narrow panels
        self._window = bytearray((_CMD_STREAM, _SET_COLUMNS, x0, x0 + width - 1, _SET_PAGES, 0, 0))
        self.pages_sent = 0
        self.on = drv.power

    def glyph(self, ch):
        g = self._glyph
        code = ord(ch)
        if _FIRST_CHAR <= code <= _LAST_CHAR:
            i = (code - _FIRST_CHAR) * 8
            g[:] = self._font[i:i + 8]
        else:
            for k in range(8):
                g[k] = 0
        return g

    def show(self, force=False):
        """Send the pages that changed (all with force); returns how many.
        Neighbouring changed pages go out as one window and one write."""
        buf = self.drv.buffer
        dev = self.drv.i2c_device
        w = self.width
        win = self._window
        sent = 0
        p = 0
        while p < self.pages:
            if not force and self._page[p] == self._shadow_page[p]:
                p += 1
                continue
            q = p + 1
            while q < self.pages and (force or self._page[q] != self._shadow_page[q]):
                q += 1
            win[5] = p
            win[6] = q - 1
            # The byte before page p (the control byte, or the previous
            # page's last column) carries the 0x40 for the write's duration.
            start = p * w
            keep = buf[start]
            buf[start] = _DATA
            with dev:
                dev.write(win)
                dev.write(buf, start=start, end=1 + q * w)
            buf[start] = keep
            for k in range(p, q):
                self._shadow_page[k][:] = self._page[k]
            sent += q - p
            p = q
        self.pages_sent += sent
        return sent

    def power(self, on):
        if on:
            self.drv.poweron()
        else:
            self.drv.poweroff()
        self.on = on

    def contrast(self, value):
        self.drv.contrast(value & 0xFF)


class NoDisplay:
    """No panel answered: the same members, drawing into a buffer nobody sees."""

    def __init__(self, width, height, font):
        import adafruit_framebuf
        self.width = width
        self.height = height
        raw = bytearray(1 + width * height // 8)
        fb = adafruit_framebuf.FrameBuffer(memoryview(raw)[1:], width, height,
                                           adafruit_framebuf.MVLSB)
        self.fb = Canvas(fb, raw, width, height, font)
        self._font = font
        self._glyph = bytearray(8)
        self.pages_sent = 0
        self.on = False

    glyph = Display.glyph

    def show(self, force=False):
        return 0

    def power(self, on):
        self.on = on

    def contrast(self, value):
        pass


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


class Serial:
    """The protocol's byte stream on usb_cdc.data, never blocking."""

    def __init__(self, port):
        self.port = port
        port.timeout = 0
        port.write_timeout = 0

    def wait(self, timeout_ms):
        port = self.port
        if port.in_waiting:
            return True
        deadline = ticks_add(supervisor.ticks_ms(), timeout_ms)
        while True:
            left = ticks_diff(deadline, supervisor.ticks_ms())
            if left <= 0:
                return False
            time.sleep(min(left, 5) / 1000)  # no select on usb_cdc: poll
            if port.in_waiting:
                return True

    def read_into(self, buf):
        if not self.port.in_waiting:
            return 0
        return self.port.readinto(buf) or 0

    def writable(self):
        return self.port.connected

    def write(self, mv):
        n = self.port.write(mv)
        return n if n else None

    def flush(self):
        pass  # USB sends on its own; the port's flush() would block with no host


class HidKeyboard:
    """The token's USB keyboard (usb_hid, enabled in boot.py): 8-byte boot
    reports out, the host's lock LEDs in."""

    def __init__(self, device):
        self._device = device
        self._leds = None  # unknown until the host sends its LED report

    def send(self, report):
        try:
            self._device.send_report(report)
            return True
        except OSError:  # the host is not polling (busy, or not configured)
            return False

    def leds(self):
        report = self._device.get_last_received_report()
        if report is not None:  # None: nothing new since the last call
            self._leds = report[0]
        return self._leds


def _keyboard():
    try:
        import usb_hid
    except ImportError:
        return None  # no native USB on this board: no keyboard
    for device in usb_hid.devices:
        if device.usage_page == 0x01 and device.usage == 0x06:  # generic desktop, keyboard
            return HidKeyboard(device)
    return None


class Runtime:
    def __init__(self, board):
        self.name = NAME
        self.board = board
        self._bus = None
        self._power_pin = None
        self._font = None
        self.keyboard = _keyboard()
        self.data_dir = self._storage(board.DATA_DIR)
        self._keys = keypad.Keys((getattr(pins, board.BUTTON_PIN),),
                                 value_when_pressed=not board.BUTTON_ACTIVE_LOW, pull=True)
        self._event = keypad.Event()
        self._held = False
        self._serial = None

    @property
    def serial(self):
        """On usb_cdc.data; made when first used (boot.py's maintenance
        screen needs none, and the data port only exists after boot.py)."""
        if self._serial is None:
            port = usb_cdc.data
            if port is None:  # boot.py did not enable the data port: share the console
                port = usb_cdc.console
                self.announce("totp-token: usb_cdc.data is off (boot.py); protocol on the console")
            self._serial = Serial(port)
        return self._serial

    # -- time -----------------------------------------------------------------
    def ticks_ms(self):
        return supervisor.ticks_ms()

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def ticks_add(self, t, d):
        return ticks_add(t, d)

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)

    # -- storage ----------------------------------------------------------------
    def _storage(self, path):
        try:
            os.stat(path)
        except OSError:
            os.mkdir(path)  # boot.py remounted the drive writable for us
        return path

    def key_pages(self, root):
        """The key area's two pages (keypages.py): microcontroller.nvm, a
        flash sector of its own, and a file of the drive overwritten in
        place (FAT writes a file's clusters where they are). Without nvm
        big enough, both in files."""
        import keypages
        import microcontroller
        nvm = getattr(microcontroller, "nvm", None)
        if nvm is not None and len(nvm) >= keypages.PAGE:
            return keypages.BytesPage(nvm), keypages.FilePage(root + "/kb")
        return keypages.file_pages(root)

    # -- the button -------------------------------------------------------------
    def button(self):
        """The level, from keypad's debounced events (none missed between calls)."""
        ev = self._event
        events = self._keys.events
        while events.get_into(ev):
            self._held = ev.pressed
        return self._held

    # -- I2C devices ------------------------------------------------------------
    def _i2c(self):
        if self._bus is None:
            b = self.board
            power = getattr(b, "I2C_POWER", None)
            if power:  # boards that switch the I2C connector's supply
                import digitalio
                self._power_pin = digitalio.DigitalInOut(getattr(pins, power))
                self._power_pin.switch_to_output(value=True)
            self._bus = busio.I2C(getattr(pins, b.SCL), getattr(pins, b.SDA),
                                  frequency=getattr(b, "I2C_FREQ", 400000))
        return self._bus

    def font(self):
        if self._font is None:
            self._font = load_font(getattr(self.board, "FONT_FILE", None) or FONT_FILE)
        return self._font

    def display(self, width, height, addr):
        return Display(self._i2c(), width, height, addr, self.font())

    def no_display(self, width, height):
        return NoDisplay(width, height, self.font())

    def rtc(self, addr):
        return Clock(self._i2c(), addr)

    # -- the rest ---------------------------------------------------------------
    def reset(self):
        import microcontroller
        microcontroller.reset()

    def reset_cause(self):
        """(code, short name) of why the board started; (0, "unknown") when
        CircuitPython can't tell."""
        import microcontroller
        reason = microcontroller.cpu.reset_reason
        for i, (attr, name) in enumerate(_CAUSES):
            if reason == getattr(microcontroller.ResetReason, attr, None):
                return i + 1, name
        return 0, "unknown"

    def guard_console(self, on):
        pass  # boot.py leaves the console port off outside maintenance (no Ctrl-C to send)

    def mem_alloc(self):
        import gc
        f = getattr(gc, "mem_alloc", None)
        return f() if f else 0

    def heap_lock(self):
        import micropython
        f = getattr(micropython, "heap_lock", None)
        if f:
            f()

    def heap_unlock(self):
        import micropython
        f = getattr(micropython, "heap_unlock", None)
        if f:
            f()

    def announce(self, text):
        print(text)
