# The CircuitPython runtime's display (hal.py's display() and no_display()):
# adafruit_ssd1306 on busio.I2C, sending only the pages that changed, and
# the drawing surface the screens use, with MicroPython's 8x8 font read from
# a file so the text looks the same on both runtimes.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_DATA = const(0x40)  # SSD1306 control byte: display data follows
_CMD_STREAM = const(0x00)  # control byte: commands follow
_SET_COLUMNS = const(0x21)
_SET_PAGES = const(0x22)
_ENODEV = const(19)

FONT_FILE = "/font8x8.bin"  # beside code.py on the CIRCUITPY drive
_FIRST_CHAR = const(32)
_LAST_CHAR = const(126)


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
