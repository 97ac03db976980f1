"""The wiring pictures in docs/wiring are generated from the board files:
they can't drift from them, and every board has one."""
import filecmp
import os
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageColor

from host_tools import wiring

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
DOCS = os.path.join(REPO, "docs", "wiring")
HARDWARE_DOC = os.path.join(REPO, "docs", "hardware.md")
BOARDS = sorted(f[:-3] for f in os.listdir(os.path.join(REPO, "boards"))
                if f.endswith(".py") and f != "sim.py"
                and not wiring.read_board(os.path.join(REPO, "boards", f)).get("SIMULATED"))


def test_committed_pictures_are_what_the_board_files_give(tmp_path):
    wiring.generate(str(tmp_path))
    fresh = sorted(os.listdir(tmp_path))
    assert sorted(os.listdir(DOCS)) == fresh, "run `make wiring` and commit docs/wiring"
    svgs = [f for f in fresh if f.endswith(".svg")]
    match, mismatch, errors = filecmp.cmpfiles(DOCS, str(tmp_path), svgs, shallow=False)
    assert mismatch == [] and errors == [], "stale: %s; run `make wiring`" % (mismatch + errors)
    # The PNGs by their pixels: a compressor's bytes may differ where the picture doesn't.
    for f in fresh:
        if f.endswith(".png"):
            with Image.open(os.path.join(DOCS, f)) as old, Image.open(tmp_path / f) as new:
                assert old.size == new.size and old.tobytes() == new.tobytes(), \
                    "stale: %s; run `make wiring`" % f


def test_every_board_has_both_pictures_linked_from_the_hardware_doc():
    assert sorted(wiring.wired_boards()) == BOARDS  # only the simulated board has no wires
    with open(HARDWARE_DOC, encoding="utf-8") as f:
        doc = f.read()
    for name in BOARDS:
        for kind in ("svg", "png"):
            assert os.path.exists(os.path.join(DOCS, "%s.%s" % (name, kind))), name
            assert "(wiring/%s.%s)" % (name, kind) in doc, name


def test_the_png_shows_what_the_svg_does():
    b = wiring.read_board(os.path.join(REPO, "boards", "rpi_pico.py"))
    image = wiring.render_png(b)
    assert image.size == (wiring.WIDTH, wiring.HEIGHT)
    # Each wire's colour is painted; a board with another button polarity differs.
    colours = {c for _, c in image.getcolors(1 << 16)}
    for colour, _ in wiring.WIRES.values():
        assert ImageColor.getrgb(colour) in colours, colour
    other = wiring.render_png(dict(b, BUTTON_ACTIVE_LOW=False))
    assert other.tobytes() != image.tobytes()


@pytest.mark.parametrize("name", BOARDS)
def test_header_labels_name_the_pins_the_firmware_uses(name):
    b = wiring.read_board(os.path.join(REPO, "boards", name + ".py"))
    for key, label in (("SDA", "LABEL_SDA"), ("SCL", "LABEL_SCL"), ("BUTTON_PIN", "LABEL_BUTTON")):
        # A GPIO number (MicroPython) or a `board.*` pin name (CircuitPython).
        pin = r"GP(IO)?%d" % b[key] if isinstance(b[key], int) else re.escape(b[key])
        assert re.search(r"\b%s\b" % pin, b[label]), (key, b[key], b[label])


@pytest.mark.parametrize("name", BOARDS)
def test_picture_shows_the_board_files_values(name):
    b = wiring.read_board(os.path.join(REPO, "boards", name + ".py"))
    svg = wiring.render(b)
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    joined = "\n".join(texts)
    for key in ("LABEL_SDA", "LABEL_SCL", "LABEL_BUTTON", "LABEL_3V3", "LABEL_GND"):
        assert b[key] in joined, key
    assert "I2C 0x%02X" % b["DISPLAY_ADDR"] in joined and "I2C 0x68" in joined
    # a different board file gives a different picture
    other = dict(b, DISPLAY_ADDR=0x3D, DISPLAY_HEIGHT=32, BUTTON_ACTIVE_LOW=False)
    changed = wiring.render(other)
    assert "128x32, I2C 0x3D" in changed and "pull-down" in changed and "pull-up" not in changed


def test_a_board_file_missing_a_pin_label_is_refused(tmp_path):
    src = open(os.path.join(REPO, "boards", "rpi_pico.py")).read()
    (tmp_path / "half.py").write_text(src.replace("LABEL_SCL", "# LABEL_SCL"))
    with pytest.raises(ValueError, match="LABEL_SCL"):
        wiring.wired_boards(str(tmp_path))


@pytest.mark.parametrize("name", BOARDS)
def test_hardware_doc_table_row_agrees_with_the_board_file(name):
    b = wiring.read_board(os.path.join(REPO, "boards", name + ".py"))
    with open(HARDWARE_DOC, encoding="utf-8") as f:
        rows = [line for line in f if line.startswith("|") and "(`%s`)" % name in line]
    assert len(rows) == 1, rows
    cells = [c.strip() for c in rows[0].strip().strip("|").split("|")]
    assert cells[1:4] == [b["LABEL_SDA"], b["LABEL_SCL"], b["LABEL_BUTTON"]], cells
