"""A one-line progress bar for long writes to the token: "importing [#####.....] 12/40".

Drawn only on a terminal: in a pipe or a log the carriage returns would be
noise, and --json callers read the result instead.
"""
import sys

_drawn = []  # the bars on screen now, for before_prompt()


def before_prompt():
    """End the line of any bar being drawn, so a prompt (the PIN, asked
    part way through an import) starts on a line of its own; the bar
    carries on below it."""
    for bar in _drawn:
        bar.finish()


class Progress:
    def __init__(self, total, label="importing", stream=None, enabled=True, width=20):
        self.total = total
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.done = 0
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and total and isatty and isatty())
        self._shown = False

    def line(self):
        filled = self.width * self.done // self.total if self.total else self.width
        return "%s [%s%s] %d/%d" % (self.label, "#" * filled, "." * (self.width - filled),
                                    self.done, self.total)

    def step(self, n=1):
        self.done = min(self.total, self.done + n)
        self._draw()

    def _draw(self):
        if not self.enabled:
            return
        # \r redraws in place; the bar never gets shorter, so nothing is left behind.
        self.stream.write("\r" + self.line())
        self.stream.flush()
        if not self._shown:
            _drawn.append(self)
        self._shown = True

    def start(self):
        self._draw()
        return self

    def finish(self):
        """End the bar's line, so whatever is printed next starts on its own."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
            _drawn.remove(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.finish()
