"""Wiring pictures (SVG, and PNG for viewers without SVG) generated from the board files.

    python -m host_tools.wiring [OUT_DIR]      (default docs/wiring; `make wiring`)

Each board file in boards/ is read as data (its module-level constants, never
executed) and drawn as one picture: the board's header pins on the left, the
OLED, the DS3231 and the button on the right, one coloured wire per signal.
The output depends only on the board files (and, for the PNG, the pinned
Pillow), so tests can regenerate it and compare it with the committed pictures.
One drawing (`render`) goes to either canvas: the SVG as text, the PNG
through Pillow with its built-in font.
"""
import ast
import os
import sys
from xml.sax.saxutils import escape

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = os.path.join(REPO, "boards")
OUT = os.path.join(REPO, "docs", "wiring")

# What a board file must name to be drawn (the simulated boards have no
# pins; cp_sim names `board.*` pins but says SIMULATED = True). Pins are GPIO
# numbers for MicroPython, `board.*` names for CircuitPython (RUNTIME).
REQUIRED = ("NAME", "DESCRIPTION", "SDA", "SCL", "BUTTON_PIN", "BUTTON_ACTIVE_LOW",
            "DISPLAY_WIDTH", "DISPLAY_HEIGHT", "DISPLAY_ADDR", "RTC_ADDR", "I2C_FREQ",
            "LABEL_SDA", "LABEL_SCL", "LABEL_BUTTON", "LABEL_3V3", "LABEL_GND")

# signal: (wire colour, column x of its vertical run)
WIRES = {"3V3": ("#d62728", 300), "GND": ("#222222", 330), "SDA": ("#1f77b4", 360),
         "SCL": ("#e6a100", 390), "BTN": ("#2ca02c", 420)}
# Header pin heights, chosen to stay clear of the parts' pin rows (no wire runs on another).
BOARD_PIN_Y = {"3V3": 105, "GND": 127, "SDA": 182, "SCL": 204, "BTN": 320}
PART_X = 500  # left edge of the parts, where the wires end
WIDTH, HEIGHT = 760, 500


def read_board(path):
    """The board file's module-level constants (literals only), by name."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # computed at run time (the simulated board): not data
    return values


def wired_boards(boards_dir=BOARDS):
    """{name: constants} for every board file that names its pins."""
    found = {}
    for fn in sorted(os.listdir(boards_dir)):
        if fn.endswith(".py"):
            b = read_board(os.path.join(boards_dir, fn))
            if "SDA" in b and not b.get("SIMULATED"):
                missing = [k for k in REQUIRED if k not in b]
                if missing:
                    raise ValueError("%s lacks %s" % (fn, ", ".join(missing)))
                found[fn[:-3]] = b
    return found


class _Svg:
    def __init__(self):
        self.parts = []

    def add(self, fmt, *args):
        self.parts.append(fmt % args)

    def text(self, x, y, s, size=13, anchor="start", weight="normal", fill="#000"):
        self.add('<text x="%d" y="%d" font-size="%d" text-anchor="%s" font-weight="%s" '
                 'fill="%s">%s</text>', x, y, size, anchor, weight, fill, escape(s))

    def rect(self, x, y, w, h, fill, stroke="#444"):
        self.add('<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" '
                 'stroke="%s" stroke-width="1.5"/>', x, y, w, h, fill, stroke)

    def wire(self, points, colour):
        self.add('<polyline points="%s" fill="none" stroke="%s" stroke-width="3" '
                 'stroke-linejoin="round"/>', " ".join("%d,%d" % p for p in points), colour)

    def dot(self, x, y, colour):
        self.add('<circle cx="%d" cy="%d" r="4.5" fill="%s"/>', x, y, colour)

    def pin(self, x, y):
        """A header pin: a gold circle."""
        self.add('<circle cx="%d" cy="%d" r="5" fill="#c8a000" stroke="#444"/>', x, y)

    def line(self, x1, y1, x2, y2, colour="#444", width=2):
        self.add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%d"/>',
                 x1, y1, x2, y2, colour, width)

    def render(self):
        head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                'viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">'
                % (WIDTH, HEIGHT, WIDTH, HEIGHT))
        return "\n".join([head, '<rect width="100%" height="100%" fill="#ffffff"/>']
                         + self.parts + ["</svg>", ""])


class _Png:
    """The _Svg drawing calls, painted with Pillow (imported only here: the
    SVG needs nothing beyond the standard library)."""

    _ANCHOR = {"start": "ls", "end": "rs", "middle": "ms"}  # on the baseline, as in SVG

    def __init__(self):
        from PIL import Image, ImageDraw, ImageFont
        self.image = Image.new("RGB", (WIDTH, HEIGHT), "#ffffff")
        self.draw = ImageDraw.Draw(self.image)
        self._font = ImageFont.load_default
        self._fonts = {}

    def text(self, x, y, s, size=13, anchor="start", weight="normal", fill="#000"):
        font = self._fonts.get(size)
        if font is None:
            font = self._fonts[size] = self._font(size)
        # The built-in font has no bold face: a thin stroke stands in for it.
        self.draw.text((x, y), s, fill=fill, font=font, anchor=self._ANCHOR[anchor],
                       stroke_width=1 if weight == "bold" else 0, stroke_fill=fill)

    def rect(self, x, y, w, h, fill, stroke="#444"):
        self.draw.rounded_rectangle((x, y, x + w, y + h), 6, fill=fill, outline=stroke, width=2)

    def wire(self, points, colour):
        self.draw.line(points, fill=colour, width=3, joint="curve")

    def dot(self, x, y, colour):
        self.draw.ellipse((x - 4.5, y - 4.5, x + 4.5, y + 4.5), fill=colour)

    def pin(self, x, y):
        self.draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill="#c8a000", outline="#444")

    def line(self, x1, y1, x2, y2, colour="#444", width=2):
        self.draw.line((x1, y1, x2, y2), fill=colour, width=width)

    def render(self):
        return self.image


def _part(svg, x, y, w, title, subtitle, pins, fill):
    """A module drawn as a box with its pins on the left edge: {signal: y}."""
    h = 30 + 22 * len(pins)
    svg.rect(x, y, w, h, fill)
    svg.text(x + w - 10, y + 20, title, 14, "end", "bold")
    svg.text(x + w - 10, y + 38, subtitle, 12, "end", fill="#444")
    at = {}
    for i, (label, signal) in enumerate(pins):
        py = y + 24 + 22 * i
        svg.line(x - 8, py, x, py)
        svg.text(x + 8, py + 4, label, 12)
        at.setdefault(signal, []).append(py)
    return at


def render(board, canvas=None):
    """The wiring picture of one board (constants from read_board): SVG text,
    or whatever the canvas given makes (a _Png: the image)."""
    b = board
    svg = _Svg() if canvas is None else canvas
    svg.text(20, 30, "%s: wiring" % b["DESCRIPTION"], 18, weight="bold")
    runtime = "  RUNTIME=%s" % b["RUNTIME"] if b.get("RUNTIME", "micropython") != "micropython" else ""
    svg.text(20, 52, "BOARD=%s%s  (generated from boards/%s.py by host_tools/wiring.py)"
             % (b["NAME"], runtime, b["NAME"]), 12, fill="#555")

    # The board's header: the five pins the token uses.
    svg.rect(20, 80, 240, 260, "#e8f0e0")
    svg.text(36, 104, "board", 12, fill="#555")
    labels = {"3V3": b["LABEL_3V3"], "GND": b["LABEL_GND"], "SDA": "SDA  " + b["LABEL_SDA"],
              "SCL": "SCL  " + b["LABEL_SCL"], "BTN": "button  " + b["LABEL_BUTTON"]}
    for signal, y in BOARD_PIN_Y.items():
        svg.pin(260, y)
        svg.text(250, y + 4, labels[signal], 12, "end")

    # The parts, and which of their pins carry which signal.
    taps = {}
    oled = _part(svg, PART_X, 70, 230, "SSD1306 OLED",
                 "%dx%d, I2C 0x%02X" % (b["DISPLAY_WIDTH"], b["DISPLAY_HEIGHT"],
                                         b["DISPLAY_ADDR"]),
                 [("GND", "GND"), ("VCC", "3V3"), ("SCL", "SCL"), ("SDA", "SDA")], "#eef3fb")
    rtc = _part(svg, PART_X, 200, 230, "DS3231 RTC", "I2C 0x%02X, CR2032 cell" % b["RTC_ADDR"],
                [("VCC", "3V3"), ("GND", "GND"), ("SDA", "SDA"), ("SCL", "SCL")], "#fbf1e6")
    # The button's far leg goes to the level that counts as pressed.
    other = "GND" if b["BUTTON_ACTIVE_LOW"] else "3V3"
    btn = _part(svg, PART_X, 330, 230, "push button",
                "pull-%s inside the MCU" % ("up" if b["BUTTON_ACTIVE_LOW"] else "down"),
                [("leg 1", "BTN"), ("leg 2", other)], "#f2f2f2")
    for part in (oled, rtc, btn):
        for signal, ys in part.items():
            taps.setdefault(signal, []).extend(ys)

    # One wire per signal: out of the header, along its own column, into each pin.
    for signal, (colour, col) in WIRES.items():
        y0 = BOARD_PIN_Y[signal]
        ys = sorted(taps.get(signal, []))
        if not ys:
            continue
        svg.wire([(265, y0), (col, y0)], colour)
        top, bottom = min(ys + [y0]), max(ys + [y0])
        svg.wire([(col, top), (col, bottom)], colour)
        for y in ys:
            svg.wire([(col, y), (PART_X - 8, y)], colour)
        for y in sorted(set(ys + [y0])):
            if top < y < bottom:  # a branch in the middle of the run
                svg.dot(col, y, colour)

    svg.text(20, 425, "I2C at %d kHz; both modules run from 3.3 V and share the bus."
             % (b["I2C_FREQ"] // 1000), 12)
    svg.text(20, 443, "The button needs no resistor: the pin's internal pull-%s is used."
             % ("up" if b["BUTTON_ACTIVE_LOW"] else "down"), 12)
    svg.text(20, 461, "Display at 0x3D or 128x32? Change DISPLAY_ADDR / DISPLAY_HEIGHT "
             "in the board file.", 12)
    legend_x = 20
    for signal, (colour, _) in WIRES.items():
        svg.line(legend_x, 482, legend_x + 24, 482, colour, 3)
        svg.text(legend_x + 30, 486, "button" if signal == "BTN" else signal, 12)
        legend_x += 90
    return svg.render()


def render_png(board):
    """The same picture as a Pillow image."""
    return render(board, _Png())


def generate(out_dir=OUT, boards_dir=BOARDS):
    """Write <out_dir>/<board>.svg and .png for every wired board; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, board in wired_boards(boards_dir).items():
        path = os.path.join(out_dir, name + ".svg")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(render(board))
        png = os.path.join(out_dir, name + ".png")
        render_png(board).save(png, optimize=True)
        paths += [path, png]
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for path in generate(argv[0] if argv else OUT):
        print(os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
