# Reading text back from display RAM. The RAM images here come from a tiny
# reference renderer in this file (pixel by pixel from the font), so the
# decoder is checked against an independent drawing of each layout.
import pytest
from PIL import Image

from host_tools.simulator.screen_decode import (
    BORDER_PX, decode_pixels, decode_text, font8x8, render_braille, render_png)
from host_tools.simulator.ssd1306_model import SSD1306Model

W = 128


def blank():
    return bytearray(W * 8)  # the GDDRAM, whatever the panel height


def set_pixel(ram, x, y):
    if 0 <= x < W:
        ram[(y // 8) * W + x] |= 1 << (y % 8)


def draw(ram, text, x, page, scale=1, advance=None):
    """Reference renderer: glyph pixels as scale x scale blocks, text top on
    a page boundary, cells `advance` px apart (8*scale by default)."""
    advance = advance or 8 * scale
    font = font8x8()
    for i, ch in enumerate(text):
        for col, bits in enumerate(font[ch]):
            for row in range(8):
                if bits >> row & 1:
                    for dx in range(scale):
                        for dy in range(scale):
                            set_pixel(ram, x + i * advance + col * scale + dx,
                                      page * 8 + row * scale + dy)


def fill_rect(ram, x, y, w, h):
    for yy in range(y, y + h):
        for xx in range(x, x + w):
            set_pixel(ram, xx, yy)


# --- the font ---

def test_font_has_every_printable_ascii_glyph():
    font = font8x8()
    assert len(font) == 95 and all(len(g) == 8 for g in font.values())
    assert font[" "] == bytes(8)
    assert len(set(font.values())) == 95  # no two glyphs alike


def test_digits_have_a_blank_column_on_each_side():
    # Why 14 px squeezing at 2x is safe for codes: digit ink spans columns
    # 1..6, except '4' which reaches column 7 (its neighbour's column 0 is blank).
    font = font8x8()
    for d in "0123456789":
        assert font[d][0] == 0
        assert font[d][7] == 0 or d == "4"


# --- decoding ---

def test_one_word_at_1x():
    ram = blank()
    draw(ram, "GitHub", 0, 0)
    assert decode_text(ram) == "GitHub"


def test_rows_come_top_to_bottom_and_empty_rows_are_left_out():
    ram = blank()
    draw(ram, "second", 8, 5)
    draw(ram, "first", 0, 1)
    assert decode_text(ram) == "first\nsecond"


def test_text_cut_at_the_right_edge_keeps_whole_glyphs():
    ram = blank()
    draw(ram, "alice@example.com", 0, 0)  # 136 px: the 'm' falls off
    draw(ram, "alice@example.com", 4, 2)  # the 'o' is cut through its ink
    assert decode_text(ram) == "alice@example.co\nalice@example.c"


def test_space_between_words_at_1x_and_2x():
    ram = blank()
    draw(ram, "123 456", 0, 0)
    draw(ram, "123 456", 4, 2, scale=2)
    assert decode_text(ram) == "123 456\n123 456"


def test_squeezed_2x_code_at_14px_advance():
    ram = blank()
    draw(ram, "1234 5678", 0, 3, scale=2, advance=14)  # exactly 128 px wide
    assert decode_text(ram) == "1234 5678"


@pytest.mark.parametrize("code", ["14495346", "4M4W4"])
def test_squeezed_glyphs_whose_ink_reaches_the_next_cell(code):
    # '4', 'M' and 'W' have ink in column 7, which a 14 px advance lays over
    # the next glyph's (blank) column 0.
    ram = blank()
    draw(ram, code, 2, 0, scale=2, advance=14)
    assert decode_text(ram) == code


def test_steam_code_at_2x():
    ram = blank()
    draw(ram, "2TC8B", 24, 2, scale=2)
    assert decode_text(ram) == "2TC8B"


def test_right_aligned_counter_gets_several_spaces():
    ram = blank()
    draw(ram, "GitHub", 0, 0)
    draw(ram, "3/12", W - 4 * 8, 0)
    assert decode_text(ram) == "GitHub" + " " * 6 + "3/12"


def test_bars_and_lines_are_not_text():
    ram = blank()
    draw(ram, "287082", 16, 2, scale=2)
    fill_rect(ram, 0, 5 * 8 + 1, 90, 3)  # countdown bar under the code
    fill_rect(ram, 0, 7 * 8, 128, 8)  # solid block: not '|' glyphs
    fill_rect(ram, 10, 8 + 3, 100, 1)  # thin line: not '-' glyphs
    fill_rect(ram, 0, 6, 128, 2)  # a rule at the bottom of page 0: not '_' glyphs
    assert decode_text(ram) == "287082"


def test_block_beside_text_in_the_same_page_is_ignored():
    ram = blank()
    draw(ram, "GitHub", 0, 1)
    fill_rect(ram, 100, 8, 28, 8)  # e.g. a battery or signal icon
    assert decode_text(ram) == "GitHub"


def test_1x_text_sharing_pages_with_a_2x_row_is_not_read():
    # The decoder gives a page to 2x or to 1x, never both: layouts must keep
    # small text off the pages of a big code.
    ram = blank()
    draw(ram, "8675", 0, 2, scale=2)
    draw(ram, "s", 100, 3)
    assert decode_text(ram) == "8675"


def test_2x_row_leaves_no_1x_garbage_around_a_screen_layout():
    ram = blank()
    draw(ram, "GitHub", 0, 0)
    draw(ram, "755 224", 0, 2, scale=2)
    draw(ram, "alice", 0, 5)
    draw(ram, "3/12", W - 32, 7)
    assert decode_text(ram) == "GitHub\n755 224\nalice\n3/12"


def test_broken_2x_block_is_not_read_as_the_glyph():
    ram = blank()
    draw(ram, "8", 0, 0, scale=2)
    ram[0 * W + 3] ^= 0x04  # one pixel of a 2x2 block flipped
    assert "8" not in decode_text(ram)


def test_128x32_layout_uses_only_visible_pages():
    ram = blank()
    draw(ram, "Steam", 0, 0)
    draw(ram, "2TC8B", 0, 2, scale=2)
    draw(ram, "hidden", 0, 5)  # GDDRAM page 5: not on a 32-row panel
    assert decode_text(ram, 128, 32) == "Steam\n2TC8B"
    assert decode_text(bytes(ram[:512]), 128, 32) == "Steam\n2TC8B"  # framebuf-sized buffer


def test_decoding_what_the_panel_shows():
    m = SSD1306Model()
    for b in (0xAE, 0x20, 0x00, 0xA1, 0xC8, 0x8D, 0x14, 0xAF):
        m.i2c_write(bytes([0x80, b]))
    ram = blank()
    draw(ram, "GitHub", 0, 0)
    m.i2c_write(bytes([0x40]) + bytes(ram))
    assert decode_pixels(m.pixels()) == "GitHub"
    m.i2c_write(bytes([0x80, 0xA0]))  # a driver that forgets the segment remap
    assert decode_pixels(m.pixels()) == "duH i"  # mirrored: symmetric glyphs survive
    m.i2c_write(bytes([0x80, 0xA1, 0x80, 0xAE]))
    assert decode_pixels(m.pixels()) == ""


# --- pictures ---

@pytest.mark.parametrize("height", [64, 32])
def test_render_png_size_and_colours(tmp_path, height):
    pixels = [[0] * W for _ in range(height)]
    pixels[0][0] = 1
    path = tmp_path / "screen.png"
    render_png(pixels, str(path), scale=3)
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == (W * 3 + 2 * BORDER_PX, height * 3 + 2 * BORDER_PX)
        rgb = img.convert("RGB")
        lit = rgb.getpixel((BORDER_PX + 1, BORDER_PX + 1))
        dark = rgb.getpixel((BORDER_PX + 4, BORDER_PX + 1))
        assert sum(lit) > 500 and dark == (0, 0, 0)


@pytest.mark.parametrize("height", [64, 32])
def test_render_braille_shape(height):
    pixels = [[0] * W for _ in range(height)]
    pixels[0][0] = 1
    pixels[3][1] = 1
    lines = render_braille(pixels).split("\n")
    assert len(lines) == height // 4 and all(len(line) == W // 2 for line in lines)
    assert lines[0][0] == chr(0x2800 + 0x01 + 0x80)
    assert set(lines[1]) == {chr(0x2800)}
