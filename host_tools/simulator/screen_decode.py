# Reading the simulated screen back: text from display RAM, and pictures.
#
# Tests assert on what the token shows ("the code 287082 is on screen"), so
# the decoder turns the SSD1306's RAM back into text by matching the glyphs
# of MicroPython's own framebuf font, the font the firmware draws with. It
# knows the two ways the firmware draws text: 1x (framebuf.text) and 2x
# (each glyph pixel a 2x2 block), both starting on a page boundary.
import functools
import hashlib
import json
import os
import shutil

from host_tools import mpy

GLYPH_SIZE = 8
PAGE_ROWS = 8
GDDRAM_BYTES = 1024  # 128 columns x 8 pages
FIRST_CHAR, LAST_CHAR = 32, 126

# Glyphs that are also plain lines: a row made only of these is graphics.
_LINE_LIKE = set("_-=|")

_FONT_SCRIPT = """
import framebuf, json, binascii
buf = bytearray(8)
fb = framebuf.FrameBuffer(buf, 8, 8, framebuf.MONO_VLSB)
font = {}
for code in range(%d, %d):
    fb.fill(0)
    fb.text(chr(code), 0, 0, 1)
    font[chr(code)] = binascii.hexlify(buf).decode()
print(json.dumps(font))
""" % (FIRST_CHAR, LAST_CHAR + 1)


# --- the font ---

def _font_cache_path(exe):
    # Keyed by interpreter path and size: a different MicroPython build may
    # carry a different font.
    exe = shutil.which(exe) or exe
    key = "%s\0%d" % (os.path.abspath(exe), os.path.getsize(exe))
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return os.path.join(mpy.REPO, "build", "font8x8-%s.json" % digest)


def _valid_font(hexes):
    return (isinstance(hexes, dict) and len(hexes) == LAST_CHAR - FIRST_CHAR + 1
            and all(isinstance(h, str) and len(h) == 2 * GLYPH_SIZE for h in hexes.values()))


@functools.lru_cache(maxsize=None)
def font8x8():
    """{char: 8 column bytes (bit 0 = top row)} for ASCII 32..126, as
    MicroPython's framebuf draws them."""
    path = _font_cache_path(mpy.micropython_exe())
    try:
        with open(path) as f:
            hexes = json.load(f)
    except (OSError, ValueError):
        hexes = None
    if not _valid_font(hexes):
        hexes = mpy.run_json(_FONT_SCRIPT)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".%d.tmp" % os.getpid()
        with open(tmp, "w") as f:
            json.dump(hexes, f)
        os.replace(tmp, path)  # atomic: parallel test runs never see half a file
    return {ch: bytes.fromhex(h) for ch, h in hexes.items()}


def scale_column(byte):
    """A glyph column at 2x: each of the 8 bits becomes two (16 rows)."""
    out = 0
    for bit in range(8):
        if byte >> bit & 1:
            out |= 3 << (2 * bit)
    return out


class Glyph:
    """One character at one scale: its pixel columns and where its ink is."""

    def __init__(self, char, column_bytes, scale):
        self.char = char
        self.scale = scale
        self.columns = [scale_column(b) if scale == 2 else b for b in column_bytes]
        ink = [i for i, b in enumerate(column_bytes) if b]
        self.first_ink, self.last_ink = ink[0], ink[-1]
        self.ink_width = self.last_ink - self.first_ink + 1

    def matches(self, line, cell_x):
        """Whether this glyph sits at cell_x in line (one int per pixel
        column). Compares the ink columns and one blank column each side,
        which keeps solid bars from reading as '|' or '-'. At 2x the left
        blank column is skipped: a 14 px advance lays the previous glyph's
        last column over it."""
        lo = self.first_ink - 1
        if lo == 0 and self.scale == 2:
            lo = 1
        for c in range(max(lo, 0), min(self.last_ink + 1, GLYPH_SIZE - 1) + 1):
            want = self.columns[c]
            for px in range(self.scale):
                x = cell_x + c * self.scale + px
                if not 0 <= x < len(line):
                    if want:
                        return False  # clipped at the screen edge
                elif line[x] != want:
                    return False
        return True


@functools.lru_cache(maxsize=None)
def _glyph_index(scale):
    """Glyphs by the value of their first ink column, for quick lookup."""
    index = {}
    for char, cols in font8x8().items():
        if any(cols):
            g = Glyph(char, cols, scale)
            index.setdefault(g.columns[g.first_ink], []).append(g)
    return index


# --- decoding ---

def _find_glyphs(line, scale):
    """[(cell_x, glyph)] left to right; a match consumes its ink columns."""
    index = _glyph_index(scale)
    found = []
    x = 0
    while x < len(line):
        best = None
        for g in index.get(line[x], ()):
            cell_x = x - g.first_ink * scale
            if g.matches(line, cell_x) and (best is None or g.ink_width > best[1].ink_width):
                best = (cell_x, g)
        if best:
            found.append(best)
            x = best[0] + (best[1].last_ink + 1) * scale
        else:
            x += 1
    return found


def _to_text(found, scale):
    advance = GLYPH_SIZE * scale
    parts = []
    prev = None
    for cell_x, g in found:
        if prev is not None:
            # Nearest whole number of cells between glyphs; a squeezed
            # 14 px advance still rounds to adjacent.
            gap_cells = int((cell_x - prev) / advance + 0.5) - 1
            parts.append(" " * max(gap_cells, 0))
        parts.append(g.char)
        prev = cell_x
    return "".join(parts)


def _is_text(found):
    return any(g.char not in _LINE_LIKE for _, g in found)


def decode_text(ram, width=128, height=64):
    """Text rows on screen, top to bottom, one line each, empty rows left
    out. ram is the 1024-byte GDDRAM (stride 128) or a width x height/8
    framebuf buffer. Lines carry no leading spaces."""
    stride = 128 if len(ram) == GDDRAM_BYTES else width
    pages = height // PAGE_ROWS

    def page(p):
        return ram[p * stride:p * stride + width]

    rows = []  # (top page, text)
    taken = set()
    # 2x rows first: their pages would otherwise decode as 1x garbage.
    p = 0
    while p < pages - 1:
        top, bottom = page(p), page(p + 1)
        line = [top[x] | bottom[x] << 8 for x in range(width)]
        found = _find_glyphs(line, 2)
        if _is_text(found):
            rows.append((p, _to_text(found, 2)))
            taken.update((p, p + 1))
            p += 2
        else:
            p += 1
    for p in range(pages):
        if p not in taken:
            found = _find_glyphs(list(page(p)), 1)
            if _is_text(found):
                rows.append((p, _to_text(found, 1)))
    return "\n".join(text for _, text in sorted(rows))


def pixels_to_pages(pixels):
    """A pixels() matrix back to MONO_VLSB page bytes (stride = width)."""
    height, width = len(pixels), len(pixels[0])
    buf = bytearray(width * (height // PAGE_ROWS))
    for y, row in enumerate(pixels):
        for x, v in enumerate(row):
            if v:
                buf[(y // PAGE_ROWS) * width + x] |= 1 << (y % PAGE_ROWS)
    return buf


def decode_pixels(pixels):
    """decode_text of what the panel shows (dark when off, inverted...)."""
    return decode_text(pixels_to_pages(pixels), len(pixels[0]), len(pixels))


# --- pictures ---

LIT = (170, 220, 255)  # OLED-like light blue-white
DARK = (0, 0, 0)
FRAME = (60, 60, 60)
BORDER_PX = 2


def render_png(pixels, path, scale=4):
    """Write pixels as a PNG: each pixel scale x scale, with a BORDER_PX
    frame, so the image is (w*scale + 2*BORDER_PX) x (h*scale + 2*BORDER_PX)."""
    from PIL import Image  # only the picture paths need Pillow

    height, width = len(pixels), len(pixels[0])
    mask = Image.frombytes("L", (width, height),
                           bytes(255 if v else 0 for row in pixels for v in row))
    mask = mask.resize((width * scale, height * scale), Image.NEAREST)
    panel = Image.new("RGB", mask.size, DARK)
    panel.paste(LIT, (0, 0) + mask.size, mask)
    image = Image.new("RGB", (mask.size[0] + 2 * BORDER_PX, mask.size[1] + 2 * BORDER_PX), FRAME)
    image.paste(panel, (BORDER_PX, BORDER_PX))
    image.save(path, "PNG")
    return path


# Braille dot bits by (dx, dy) within a 2x4 cell (Unicode U+2800 block).
_BRAILLE_BITS = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (0, 3): 0x40,
                 (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20, (1, 3): 0x80}


def render_braille(pixels):
    """The screen as braille text, 2x4 pixels per character: a 128x64
    screen becomes 16 lines of 64 characters."""
    height, width = len(pixels), len(pixels[0])
    lines = []
    for y0 in range(0, height, 4):
        chars = []
        for x0 in range(0, width, 2):
            bits = 0
            for (dx, dy), bit in _BRAILLE_BITS.items():
                x, y = x0 + dx, y0 + dy
                if y < height and x < width and pixels[y][x]:
                    bits |= bit
            chars.append(chr(0x2800 + bits))
        lines.append("".join(chars))
    return "\n".join(lines)
