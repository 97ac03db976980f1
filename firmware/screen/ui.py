# Draws the token's screens into the SSD1306 frame buffer. Layout decisions
# come from layout.py; this module only places pixels. Text sits on page
# boundaries (y multiple of 8) so only the pages that changed are resent.
import layout

_DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


class UI:
    def __init__(self, display):
        self.d = display
        self.fb = display.fb
        self.w = display.width
        self.h = display.height
        self.cols = self.w // layout.GLYPH
        self.tall = self.h >= 64
        # Rows (in pages) for each part of the account screen.
        if self.tall:
            self.code_page = 3
            self.bar_page = 7
        else:
            self.code_page = 1
            self.bar_page = 3
        self.period = 0  # countdown shown on the bar page; 0 = none

    # -- whole screens -------------------------------------------------------

    def message(self, lines):
        """A screen of short text lines (no accounts, clock lost, ...)."""
        self.period = 0
        fb = self.fb
        fb.fill(0)
        y = 0
        step = 8 if len(lines) * 16 > self.h else 16
        for line in lines:
            fb.text(layout.fit(line, self.cols), 0, y, 1)
            y += step
        self.d.show()

    def menu(self, title, lines, cursor):
        """The jump menu: a title line, then as many of `lines` as fit,
        scrolled so that line `cursor` shows, and the one after it (where
        the next range starts tells whether this one is the one)."""
        self.period = 0
        fb = self.fb
        fb.fill(0)
        fb.text(title, 0, 0, 1)
        room = self.h // 8 - 1
        top = min(cursor + 2 - room, len(lines) - room)
        if top < 0:
            top = 0
        y = 8
        for k in range(top, min(len(lines), top + room)):
            fb.text(lines[k], 0, y, 1)
            y += 8
        self.d.show()

    def account(self, acc, index, total):
        """Top of the account screen: issuer and name, and the position."""
        fb = self.fb
        fb.fill(0)
        left, pos = layout.header(acc.issuer, acc.name, index, total, self.cols)
        fb.text(left, 0, 0, 1)
        pos_x = self.w - len(pos) * layout.GLYPH
        if self.tall:
            fb.text(pos, pos_x, 0, 1)
            if acc.issuer:
                fb.text(layout.fit(acc.name, self.cols), 0, 8, 1)
        else:
            # 32 rows: the position moves to the bar line to leave room.
            fb.text(pos, pos_x, 24, 1)
        self.period = 0

    def code(self, code, period):
        """The code in large grouped characters; period > 0 adds a countdown."""
        text = layout.group_code(code)
        y = self.code_page * 8
        self.fb.fill_rect(0, y, self.w, 16, 0)
        pitch = layout.big_pitch(len(text), self.w)
        # The last glyph is a full 16 px wide even when the cells are squeezed.
        x = (self.w - pitch * (len(text) - 1) - 16) // 2
        for ch in text:
            self._big_char(ch, x, y)
            x += pitch
        self.period = period

    def hint(self, text):
        """A one-line hint on the bar line (used by HOTP accounts)."""
        y = self.bar_page * 8
        self.fb.fill_rect(0, y, self.w, 8, 0)
        self.fb.text(layout.fit(text, self.cols), 0, y, 1)

    def prompt(self, text):
        """A line asking for a press over the account screen: below the code
        on a tall panel; on a short one over the countdown and position,
        which give way until the next account()."""
        if self.tall:
            y = (self.code_page + 3) * 8
        else:
            self.period = 0
            y = self.bar_page * 8
        self.fb.fill_rect(0, y, self.w, 8, 0)
        self.fb.text(layout.fit(text, self.cols), 0, y, 1)

    def clear_code(self, filler):
        y = self.code_page * 8
        self.fb.fill_rect(0, y, self.w, 16, 0)
        x = (self.w - len(filler) * 8) // 2
        self.fb.text(filler, x, y + 4, 1)

    def code_notice(self, text):
        """A line of small text where the code goes (why there is none),
        on a page boundary like all text."""
        y = self.code_page * 8
        self.fb.fill_rect(0, y, self.w, 16, 0)
        self.fb.text(text, (self.w - len(text) * layout.GLYPH) // 2, y, 1)
        self.period = 0

    def _big_char(self, ch, x, y):
        buf = self.d.glyph(ch)
        fb = self.fb
        for gx in range(8):
            col = buf[gx]
            gy = 0
            while col:
                if col & 1:
                    fb.fill_rect(x + 2 * gx, y + 2 * gy, 2, 2, 1)
                col >>= 1
                gy += 1

    # -- the per-second refresh: must not allocate --------------------------

    def tick(self, remaining):
        """Redraw the countdown (bar and seconds) and send what changed.
        Runs every second, under micropython.heap_lock() in the checks."""
        if self.period <= 0:
            return self.d.show()
        fb = self.fb
        y = self.bar_page * 8
        digits_w = 3 * layout.GLYPH
        if self.tall:
            bar_max = self.w - digits_w - 4
            fb.fill_rect(0, y, self.w, 8, 0)
        else:
            # Keep the position text at the right of the bar line.
            bar_max = self.w // 2 - digits_w
            fb.fill_rect(0, y, bar_max + digits_w + 4, 8, 0)
        bw = layout.bar_width(remaining, self.period, bar_max)
        fb.fill_rect(0, y + 2, bw, 4, 1)
        fb.rect(0, y + 1, bar_max, 6, 1)
        # Seconds left, right-aligned in three cells, digit by digit from a
        # table of interned strings so nothing is built per tick.
        x = bar_max + 4 + 2 * layout.GLYPH
        n = remaining
        if n > 999:
            n = 999
        while True:
            fb.text(_DIGITS[n % 10], x, y, 1)
            n //= 10
            x -= layout.GLYPH
            if n == 0:
                break
        return self.d.show()

    def flush(self):
        return self.d.show()
