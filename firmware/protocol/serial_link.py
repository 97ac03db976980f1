# The protocol's side of the main loop: bytes in from the runtime's serial
# stream, one frame at a time to the services, replies out without ever
# waiting for the host. Knows frames and errors, not hardware.
import eventlog
import frames
from service import CommandError, PressNeeded

_READ_BUDGET = 256  # input bytes per loop turn: a flood can't starve the screen
_OUT_CHUNK = 64  # reply bytes per write (one USB full-speed packet)
_IN_CHUNK = 32  # request bytes per read: lines are then copied by slice (frames.feed_from)


class SerialLink:
    def __init__(self, serial, keys, log, diag, ticks_ms, ticks_diff):
        self.serial = serial
        self.ticks_diff = ticks_diff
        self.service = None
        self.keys = keys
        self.log = log
        self.diag = diag
        self.ticks_ms = ticks_ms
        self.reader = frames.LineReader()
        self._in = bytearray(_IN_CHUNK)
        self._out = None  # a reply the port could not take yet (one at most)
        self._out_sent = 0
        self._after = []  # what waits until the reply is out (a scrub, a reset)
        self.last_rx = ticks_ms()  # when serial bytes last came in
        self._waiting = None  # [req_id, run, since (ticks), seconds shown, touch]

    def attach(self, service, screens):
        """The services answer the requests (built after the link: they
        schedule work for after the reply); the screens show what a request
        waiting for a hold would confirm."""
        self.service = service
        self.screens = screens

    def after_reply(self, fn):
        """Run fn() once the current request's reply has been written."""
        self._after.append(fn)

    # -- in ------------------------------------------------------------------

    def poll(self, timeout_ms):
        """Wait up to timeout_ms for input, then handle what came (at most
        _READ_BUDGET bytes this turn). This is the main loop's pace."""
        if self._out is not None:
            self.flush_out()
        if not self.serial.wait(timeout_ms):
            return
        self.last_rx = self.ticks_ms()
        buf = self._in
        budget = _READ_BUDGET
        while budget > 0:
            n = self.serial.read_into(buf)
            budget -= n
            for line in self.reader.feed_from(buf, n):
                if line:  # OVERFLOW is truthy; empty lines are skipped
                    self.handle_line(line, self.ticks_ms())
            if n < len(buf):
                return  # drained

    def handle_line(self, line, received):
        req_id = None
        try:
            if line is frames.OVERFLOW:
                raise frames.FrameError(frames.E_TOO_LONG, "request longer than %d bytes" % frames.MAX_REQUEST)
            start, req_id, cmd, args = frames.decode_request_at(line)
            if self._waiting is not None:
                raise CommandError(frames.E_BUSY, "the token is waiting for a hold on its button "
                                   "to confirm another request")
            # The MAC covers the frame from its TOK>, not stray bytes before it.
            auth = frames.split_auth(line[start:] if start else line)
            data = self.service.handle(cmd, args, received, auth)
            reply = frames.encode_ok(req_id, data, self._reply_extra())
        except PressNeeded as p:
            # Checked; it happens only with a hand on the token. No reply yet.
            touch = p.account is not None
            self._waiting = [req_id, p.run, self.ticks_ms(), frames.CONFIRM_S, touch]
            if touch:
                self.screens.touch(p.account, frames.CONFIRM_S)
            else:
                self.screens.confirm(p.what, frames.CONFIRM_S)
            return
        except frames.FrameError as e:
            self.log.event(eventlog.ERROR, 2, text=e.code)
            reply = frames.encode_error(e.req_id if req_id is None else req_id, e.code, e.message,
                                        self._reply_extra())
        except CommandError as e:
            if e.code in eventlog.LOGGED_REFUSALS:
                self.log.event(eventlog.ERROR, 3, text=e.code)
            extra = self._reply_extra(e.extra)
            reply = frames.encode_error(req_id, e.code, e.message, extra)
        except Exception as e:  # a bug: report it, keep running
            reply = self._internal_error(req_id, e)
        self._send(reply)

    def _internal_error(self, req_id, e):
        """The reply to a request a bug stopped; counted and logged by name."""
        self.diag["errors"] += 1
        self.diag["last_error"] = type(e).__name__
        self.log.event(eventlog.ERROR, 1, text=type(e).__name__)
        return frames.encode_error(req_id, frames.E_INTERNAL, "internal error: " + type(e).__name__,
                                   self._reply_extra())

    def _send(self, reply):
        self.write(reply)
        while self._after:
            self._after.pop(0)()

    # -- requests waiting for a hand on the token ----------------------------

    def waiting(self):
        return self._waiting is not None

    def pressed(self, held):
        """The button while a request waits: a hold (held) confirms it, a
        press cancels it; for a touch (frames.TOUCHED) any press does it."""
        req_id, run, touch = self._waiting[0], self._waiting[1], self._waiting[4]
        self._waiting = None
        if not held and not touch:
            self._refuse(req_id, "cancelled on the token: nothing was changed")
            return
        try:
            reply = frames.encode_ok(req_id, self.service.confirmed(run), self._reply_extra())
            done = True
        except CommandError as e:
            reply = frames.encode_error(req_id, e.code, e.message, self._reply_extra(e.extra))
            done = False
        except Exception as e:  # a bug: report it, keep running
            reply = self._internal_error(req_id, e)
            done = False
        if not (touch and done):  # a sent code stays on screen
            self.screens.redraw()
        self._send(reply)

    def tick(self, now):
        """Count a waiting request down on screen; refuse it when its time
        is up."""
        w = self._waiting
        if w is None:
            return
        left = frames.CONFIRM_S - self.ticks_diff(now, w[2]) // 1000
        if left <= 0:
            self._waiting = None
            if w[4]:
                self._refuse(w[0], "no press on the token within %d s: no code was sent"
                             % frames.CONFIRM_S)
            else:
                self._refuse(w[0], "no hold on the token's button within %d s: nothing was "
                             "changed" % frames.CONFIRM_S)
        elif left != w[3]:
            w[3] = left
            self.screens.confirm_left(left)

    def _refuse(self, req_id, message):
        self.screens.redraw()
        self._send(frames.encode_error(req_id, frames.E_NOT_CONFIRMED, message, self._reply_extra()))

    def _reply_extra(self, extra=None):
        # Every reply says so while the token stands erased by the last wrong PIN.
        if self.keys.erased:
            extra = dict(extra) if extra else {}
            extra["erased"] = True
        return extra

    # -- out -----------------------------------------------------------------

    def write(self, data):
        """Send a reply without ever waiting for the host. What the port can't
        take now waits (one reply at most) and goes out from the main loop; a
        reply that finds another still waiting is dropped and counted. So a
        host that writes and never reads can't stall the screen or the reading."""
        self.flush_out()
        if self._out is not None:
            self.diag["dropped_replies"] += 1
            return
        self._out = data
        self._out_sent = 0
        self.flush_out()

    def pending(self):
        return self._out is not None

    def flush_out(self):
        """Write as much of the waiting reply as the port takes right now."""
        data = self._out
        port = self.serial
        if data is None or not port.writable():
            return  # (no garbage while a host that doesn't read keeps it waiting)
        sent = self._out_sent
        size = len(data)
        mv = memoryview(data)
        try:
            while sent < size and port.writable():
                want = min(size - sent, _OUT_CHUNK)
                n = port.write(mv[sent:sent + want])
                if n is None:  # a non-blocking port that is full after all
                    break
                sent += n
                if n < want:
                    break
            port.flush()
        except OSError:
            sent = size  # nobody listening: drop the reply rather than stall
        if sent >= size:
            self._out = None
        else:
            self._out_sent = sent
