# What the token does when part of it is missing at boot. Ending main.py
# would leave a board at the REPL with the store mounted, so instead the
# token says what is wrong on whatever still works: the screen, a line on the
# serial port, and a `fault` member in `status` and `info`.
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


def line(message):
    """The line for whoever watches the serial port (the host skips lines
    that are not reply frames)."""
    return "totp-token: fault: " + message


class Halted:
    """The token could not start (e.g. no RTC on the bus). Answers `info` and
    `status` with the fault, refuses everything else, and never returns."""

    def __init__(self, rt, board, message):
        self.rt = rt
        self.board = board
        self.message = message
        import serialno
        self.serial = serialno.of(rt)  # which token is halted: a fleet's owner asks
        self.reader = frames.LineReader()
        self._in = bytearray(64)

    def reply(self, line):
        req_id = None
        try:
            if line is frames.OVERFLOW:
                raise frames.FrameError(frames.E_TOO_LONG, "request too long")
            req_id, cmd, args = frames.decode_request(line)
            if cmd == "info":
                data = {"firmware": "totp-token", "protocol": frames.VERSION,
                        "board": getattr(self.board, "NAME", None), "serial": self.serial,
                        "fault": self.message}
            elif cmd == "status":
                data = {"fault": self.message}
            else:
                return frames.encode_error(req_id, frames.E_FAULT,
                                           "the token is halted: " + self.message)
            return frames.encode_ok(req_id, data)
        except frames.FrameError as e:
            return frames.encode_error(e.req_id if req_id is None else req_id, e.code, e.message)

    def run(self):
        rt = self.rt
        port = rt.serial
        buf = self._in
        while True:
            try:
                if not port.wait(1000):
                    continue
                n = port.read_into(buf)
                if not n:
                    rt.sleep_ms(10)
                    continue
                for i in range(n):
                    line = self.reader.feed(buf[i])
                    if line is not None and (line or line is frames.OVERFLOW):
                        port.write(self.reply(line))  # short: fits the port
                        port.flush()
            except Exception:
                rt.sleep_ms(50)  # keep answering whatever happens
