# SSD1306 OLED driver (I2C, 128x64 or 128x32). The bus is injected.
#
# Unlike drivers that resend the whole 1 KB frame on every show(), this one
# keeps a shadow of what the panel holds and sends only the pages that
# changed: a countdown tick costs one page (about 3 ms at 400 kHz) instead of
# a full frame (about 23 ms). Nothing here allocates after construction.
import framebuf
from micropython import const

_DATA = const(0x40)  # control byte: display data follows
_CMD = const(0x00)  # control byte: commands follow
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)
_CONTRAST = const(0x81)
_SET_COLUMNS = const(0x21)
_SET_PAGES = const(0x22)

ADDRESS = const(0x3C)


class SSD1306:
    def __init__(self, i2c, width=128, height=64, address=ADDRESS, external_vcc=False):
        self.i2c = i2c
        self.address = address
        self.width = width
        self.height = height
        self.pages = height // 8
        stride = width + 1
        # Each page row is stored behind one spare byte that holds the 0x40
        # data control byte, so a page goes out as one write straight from the
        # frame buffer (framebuf's stride skips the spare byte).
        self.raw = bytearray(stride * self.pages)
        self.shadow = bytearray(stride * self.pages)
        self.fb = framebuf.FrameBuffer(memoryview(self.raw)[1:], width, height,
                                       framebuf.MONO_VLSB, stride)
        raw_mv = memoryview(self.raw)
        shadow_mv = memoryview(self.shadow)
        self._page = []
        self._shadow_page = []
        for p in range(self.pages):
            self.raw[p * stride] = _DATA
            self._page.append(raw_mv[p * stride:(p + 1) * stride])
            self._shadow_page.append(shadow_mv[p * stride:(p + 1) * stride])
        self._window = bytearray((_CMD, _SET_COLUMNS, 0, width - 1, _SET_PAGES, 0, 0))
        self._cmd = bytearray(3)
        self._cmd[0] = _CMD
        # One character's 8 column bytes, for the UI's large digits.
        self._glyph_buf = bytearray(8)
        self._glyph = framebuf.FrameBuffer(self._glyph_buf, 8, 8, framebuf.MONO_VLSB)
        self.pages_sent = 0  # for diagnostics and the benchmark
        self.on = False
        self._init_panel(external_vcc)

    def _init_panel(self, external_vcc):
        seq = bytearray((
            _CMD, _DISPLAY_OFF,
            0x20, 0x00,  # horizontal addressing: a page write wraps nowhere surprising
            0x40,  # start line 0
            0xA1,  # column 127 mapped to SEG0 ...
            0xA8, self.height - 1,
            0xC8,  # ... and COM scan reversed: upright on the usual modules
            0xD3, 0x00,
            0xDA, 0x02 if self.height == 32 else 0x12,
            0xD5, 0x80,
            0xD9, 0x22 if external_vcc else 0xF1,
            0xDB, 0x30,
            _CONTRAST, 0xCF,
            0xA4, 0xA6,
            0x8D, 0x10 if external_vcc else 0x14,  # charge pump
        ))
        self.i2c.writeto(self.address, seq)
        self.fb.fill(0)
        self.show(True)
        self.power(True)

    def _command(self, cmd, arg=-1):
        c = self._cmd
        c[1] = cmd
        if arg < 0:
            self.i2c.writeto(self.address, memoryview(c)[:2])
        else:
            c[2] = arg
            self.i2c.writeto(self.address, c)

    def glyph(self, ch):
        """The 8 column bytes (bit 0 = top row) of `ch` in framebuf's font,
        in a buffer reused by the next call."""
        g = self._glyph
        g.fill(0)
        g.text(ch, 0, 0, 1)
        return self._glyph_buf

    def power(self, on):
        self._command(_DISPLAY_ON if on else _DISPLAY_OFF)
        self.on = on

    def contrast(self, value):
        self._command(_CONTRAST, value & 0xFF)

    def show(self, force=False):
        """Send the pages that differ from what the panel holds. Returns the
        number of pages sent."""
        sent = 0
        w = self._window
        for p in range(self.pages):
            page = self._page[p]
            if force or page != self._shadow_page[p]:
                w[5] = p
                w[6] = p
                self.i2c.writeto(self.address, w)
                self.i2c.writeto(self.address, page)
                self._shadow_page[p][:] = page
                sent += 1
        self.pages_sent += sent
        return sent
