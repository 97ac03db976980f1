# What the token does when part of it is missing at boot. Ending main.py
# would leave a board at the REPL with the store mounted, so instead the
# token says what is wrong on whatever still works: the screen, a line on the
# serial port, and a `fault` member in `status` and `info`.
import sys
import time

import frames

_MISSING = (19, 110, 5, 116)  # ENODEV, ETIMEDOUT, EIO, ETIMEDOUT (lwIP ports): no ack


class BootError(Exception):
    """A part the token can't run without failed at boot; args[0] says which."""


def describe(part, addr, e):
    """"display not found at 0x3C": the words the host shows the user."""
    code = e.args[0] if e.args and isinstance(e.args[0], int) else None
    if code in _MISSING:
        return "%s not found at 0x%02X" % (part, addr)
    return "%s at 0x%02X failed: %s %s" % (part, addr, type(e).__name__, code)


def announce(message):
    # A clear line for whoever watches the serial port (the host skips
    # lines that are not reply frames).
    try:
        print("totp-token: fault: " + message)
    except Exception:
        pass


class NoDisplay:
    """Stands in for a display that did not answer: drawing goes into a
    frame buffer nobody sees, so the rest of the token keeps working."""

    def __init__(self, width, height):
        import framebuf
        self.width = width
        self.height = height
        self.fb = framebuf.FrameBuffer(bytearray(width * height // 8), width, height,
                                       framebuf.MONO_VLSB)
        self.on = False
        self.pages_sent = 0

    def show(self, force=False):
        return 0

    def power(self, on):
        self.on = on

    def contrast(self, value):
        pass


class Halted:
    """The token could not start (e.g. no RTC on the bus). Answers `info` and
    `status` with the fault, refuses everything else, and never returns."""

    def __init__(self, board, message):
        self.board = board
        self.message = message
        self.reader = frames.LineReader()
        self._in = bytearray(1)

    def reply(self, line):
        req_id = None
        try:
            if line is frames.OVERFLOW:
                raise frames.FrameError(frames.E_TOO_LONG, "request too long")
            req_id, cmd, args = frames.decode_request(line)
            if cmd == "info":
                data = {"firmware": "totp-token", "protocol": frames.VERSION,
                        "board": getattr(self.board, "NAME", None), "fault": self.message}
            elif cmd == "status":
                data = {"fault": self.message}
            else:
                return frames.encode_error(req_id, frames.E_FAULT,
                                           "the token is halted: " + self.message)
            return frames.encode_ok(req_id, data)
        except frames.FrameError as e:
            return frames.encode_error(e.req_id if req_id is None else req_id, e.code, e.message)

    def run(self):
        import select
        poller = select.poll()
        poller.register(sys.stdin, select.POLLIN)
        stdin = sys.stdin.buffer
        out = sys.stdout.buffer
        while True:
            try:
                if not poller.poll(1000):
                    continue
                if not stdin.readinto(self._in):
                    time.sleep_ms(10)
                    continue
                line = self.reader.feed(self._in[0])
                if line is not None and (line or line is frames.OVERFLOW):
                    out.write(self.reply(line))
                    if hasattr(out, "flush"):
                        out.flush()
            except Exception:
                time.sleep_ms(50)  # keep answering whatever happens
