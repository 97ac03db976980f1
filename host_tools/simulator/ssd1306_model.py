# Register-level model of an SSD1306 OLED controller on I2C.
#
# The simulator routes every I2C transaction for the display address here:
# i2c_write(payload) gets the bytes after the address byte. The model parses
# control bytes and commands as the chip does, keeps the 128x8-page GDDRAM,
# and shows what the panel would light up (pixels()). Counters let the
# benchmark measure bus traffic per screen update.

# Commands that take arguments, and how many.
_ARG_COUNTS = {
    0x81: 1,  # contrast
    0x20: 1,  # memory addressing mode
    0x21: 2,  # column address window
    0x22: 2,  # page address window
    0xA8: 1,  # multiplex ratio
    0xD3: 1,  # display offset
    0xD5: 1,  # clock divide / oscillator
    0xD9: 1,  # pre-charge period
    0xDA: 1,  # COM pins configuration
    0xDB: 1,  # VCOMH deselect level
    0x8D: 1,  # charge pump
    0x26: 6, 0x27: 6,  # horizontal scroll setup
    0x29: 5, 0x2A: 5,  # vertical and horizontal scroll setup
    0xA3: 2,  # vertical scroll area
    0xAD: 1,  # internal IREF selection (later SSD1306 revisions; adafruit_ssd1306 sends it)
}

# Commands with no argument whose only effect is a setting we don't model.
_IGNORED = {0x2E, 0x2F, 0xE3}  # scroll off/on, NOP

MODE_HORIZONTAL, MODE_VERTICAL, MODE_PAGE = 0, 1, 2

COLUMNS, PAGES = 128, 8


class SSD1306Model:
    def __init__(self, width=128, height=64):
        if width > COLUMNS or height > PAGES * 8 or height % 8:
            raise ValueError("unsupported panel %dx%d" % (width, height))
        self.width = width
        self.height = height
        # GDDRAM is 128x64 whatever the panel; power-up content is undefined
        # on the chip, zero here so tests are repeatable.
        self.ram = bytearray(COLUMNS * PAGES)
        self.unknown_commands = []
        self._pending = None  # [opcode, args so far] of a command awaiting args
        self._power_up()
        self.reset_counters()

    def _power_up(self):
        # Reset values from the datasheet's command table.
        self.display_on = False
        self.contrast = 0x7F
        self.entire_on = False
        self.inverted = False
        self.charge_pump = False
        self.multiplex = 63
        self.display_offset = 0
        self.start_line = 0
        self.seg_remap = False
        self.com_scan_reversed = False
        self.com_pins = 0x12
        self.scrolling = False
        self.addressing_mode = MODE_PAGE
        self.col_start, self.col_end = 0, COLUMNS - 1
        self.page_start, self.page_end = 0, PAGES - 1
        self.col, self.page = 0, 0

    def reset_counters(self):
        self.bytes_received = 0
        self.data_bytes = 0
        self.transactions = 0
        self.page_data_bytes = [0] * PAGES

    @property
    def pages_written(self):
        """Pages that received display data since reset_counters()."""
        return {p for p in range(PAGES) if self.page_data_bytes[p]}

    @property
    def pending_command(self):
        """Opcode of a command still waiting for argument bytes, else None."""
        return self._pending[0] if self._pending else None

    # --- the bus side ---

    def i2c_write(self, payload):
        payload = bytes(payload)
        self.transactions += 1
        self.bytes_received += len(payload)
        i = 0
        while i < len(payload):
            control = payload[i]
            i += 1
            is_data = bool(control & 0x40)
            if control & 0x80:
                # Co=1: exactly one byte, then another control byte.
                if i < len(payload):
                    self._take(payload[i], is_data)
                i += 1
            else:
                # Co=0: everything after is one stream of the same kind.
                for b in payload[i:]:
                    self._take(b, is_data)
                break

    def i2c_read(self, n):
        # Reading in I2C mode returns the status byte; bit 6 = display off.
        return bytes([0x00 if self.display_on else 0x40] * n)

    def _take(self, byte, is_data):
        if is_data:
            self._write_ram(byte)
        else:
            self._command_byte(byte)

    # --- commands ---

    def _command_byte(self, byte):
        # Argument bytes are collected across transactions, as on the chip:
        # micropython-lib sends each opcode and each argument as its own
        # [0x80, byte] write.
        if self._pending is not None:
            self._pending[1].append(byte)
            op, args = self._pending
            if len(args) == _ARG_COUNTS[op]:
                self._pending = None
                self._execute(op, args)
            return
        if byte in _ARG_COUNTS:
            self._pending = [byte, []]
            return
        self._execute(byte, [])

    def _execute(self, op, args):
        if op in (0xAE, 0xAF):
            self.display_on = op == 0xAF
        elif op == 0x81:
            self.contrast = args[0]
        elif op in (0xA4, 0xA5):
            self.entire_on = op == 0xA5
        elif op in (0xA6, 0xA7):
            self.inverted = op == 0xA7
        elif op == 0x20:
            if args[0] & 3 != 3:  # 3 is invalid per datasheet: ignored
                self.addressing_mode = args[0] & 3
        elif op == 0x21:
            self.col_start, self.col_end = args[0] & 0x7F, args[1] & 0x7F
            self.col = self.col_start
        elif op == 0x22:
            self.page_start, self.page_end = args[0] & 7, args[1] & 7
            self.page = self.page_start
        elif 0xB0 <= op <= 0xB7:
            # Defined for page addressing mode only; elsewhere a firmware
            # relying on it has a bug, so the model doesn't play along.
            if self.addressing_mode == MODE_PAGE:
                self.page = op & 7
        elif op <= 0x1F:
            if self.addressing_mode == MODE_PAGE:
                if op & 0x10:
                    self.col = (self.col & 0x0F) | ((op & 0x07) << 4)
                else:
                    self.col = (self.col & 0x70) | (op & 0x0F)
        elif 0x40 <= op <= 0x7F:
            self.start_line = op & 0x3F
        elif op in (0xA0, 0xA1):
            self.seg_remap = op == 0xA1
        elif op == 0xA8:
            self.multiplex = max(15, args[0] & 0x3F)  # chip minimum is 16 rows
        elif op in (0xC0, 0xC8):
            self.com_scan_reversed = op == 0xC8
        elif op == 0xD3:
            self.display_offset = args[0] & 0x3F
        elif op == 0xDA:
            self.com_pins = args[0]
        elif op == 0x8D:
            self.charge_pump = bool(args[0] & 0x04)
        elif op in (0x2E, 0x2F):
            self.scrolling = op == 0x2F
        elif op in _ARG_COUNTS or op in _IGNORED:
            pass  # timing and scroll parameters: no visible effect modelled
        else:
            self.unknown_commands.append(op)

    # --- display data ---

    def _write_ram(self, byte):
        self.ram[self.page * COLUMNS + self.col] = byte
        self.data_bytes += 1
        self.page_data_bytes[self.page] += 1
        if self.addressing_mode == MODE_HORIZONTAL:
            self.col, self.page = _step(self.col, self.col_start, self.col_end,
                                        self.page, self.page_start, self.page_end)
        elif self.addressing_mode == MODE_VERTICAL:
            self.page, self.col = _step(self.page, self.page_start, self.page_end,
                                        self.col, self.col_start, self.col_end)
        else:
            self.col = (self.col + 1) % COLUMNS

    # --- what the panel shows ---

    def lit(self):
        """True when the panel can show anything at all."""
        return self.display_on and self.charge_pump

    def pixels(self):
        """Rows (height of them) of width 0/1 ints: what the panel lights.

        Upright orientation is segment remap (A1) with COM scan reversed (C8),
        the setting micropython-lib uses; A0 mirrors x, C0 mirrors y."""
        if not self.lit():
            return [[0] * self.width for _ in range(self.height)]
        if self.entire_on:
            return [[1] * self.width for _ in range(self.height)]
        # Narrow panels sit on the middle segments, as micropython-lib assumes.
        x_offset = (COLUMNS - self.width) // 2
        cols = [x_offset + x if self.seg_remap else COLUMNS - 1 - x_offset - x
                for x in range(self.width)]
        invert = 1 if self.inverted else 0
        rows = []
        for y in range(self.height):
            if y > self.multiplex:
                rows.append([0] * self.width)  # rows beyond the multiplex ratio stay dark
                continue
            com = y if self.com_scan_reversed else self.multiplex - y
            line = (com + self.start_line + self.display_offset) % 64
            base, bit = (line // 8) * COLUMNS, line % 8
            rows.append([((self.ram[base + c] >> bit) & 1) ^ invert for c in cols])
        return rows

    def config_warnings(self):
        """Settings that would leave a real panel of this size wrong or dark."""
        warnings = []
        if self.multiplex != self.height - 1:
            warnings.append("multiplex ratio %d for a %d-row panel"
                            % (self.multiplex + 1, self.height))
        want_pins = 0x12 if self.height == 64 else 0x02
        if self.com_pins != want_pins:
            warnings.append("COM pins 0x%02X, panel needs 0x%02X" % (self.com_pins, want_pins))
        if not self.charge_pump:
            warnings.append("charge pump off")
        if self.unknown_commands:
            warnings.append("unknown commands %s" % ["0x%02X" % c for c in self.unknown_commands])
        return warnings


def _step(inner, inner_start, inner_end, outer, outer_start, outer_end):
    """Advance a two-level address pointer, each level wrapping in its window."""
    if inner >= inner_end:
        inner = inner_start
        outer = outer_start if outer >= outer_end else outer + 1
    else:
        inner += 1
    return inner, outer
