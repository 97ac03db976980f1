"""font8x8.bin: MicroPython framebuf's 8x8 font as a file, for the
CircuitPython runtime (firmware/runtime/circuitpython), which draws text with
the same glyphs so the screen decoder reads both runtimes alike.

    python -m host_tools.simulator.fontfile OUT   (default build/font8x8.bin)

95 glyphs, ASCII 32..126, 8 column bytes each (bit 0 = top row). Generated
from the MicroPython interpreter (screen_decode.font8x8), never committed.
"""
import os
import sys

from host_tools import mpy
from host_tools.simulator.screen_decode import FIRST_CHAR, LAST_CHAR, GLYPH_SIZE, font8x8

FILENAME = "font8x8.bin"
SIZE = (LAST_CHAR - FIRST_CHAR + 1) * GLYPH_SIZE
DEFAULT = os.path.join(mpy.REPO, "build", FILENAME)


def font_bytes():
    font = font8x8()
    return b"".join(font[chr(c)] for c in range(FIRST_CHAR, LAST_CHAR + 1))


def write(path=DEFAULT):
    """Write the font file (atomically) unless an identical one is there."""
    data = font_bytes()
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return path
    except OSError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    print(write(argv[0] if argv else DEFAULT))


if __name__ == "__main__":
    main()
