# Line framing for the token's serial protocol: one request or reply per line.
# Shared by the firmware and the host library so both ends agree byte for byte.
# Pure logic: runs on MicroPython and CPython.
#
#   request: TOK> {"v":1,"id":7,"cmd":"add","args":{...}}\n
#   reply:   TOK< {"id":7,"ok":true,"data":{...}}\n
#            TOK< {"id":7,"ok":false,"error":"name_taken","message":"..."}\n
#
# The prefixes keep frames apart from REPL echo and boot noise. Unknown keys in
# a request are ignored, so a later version can add an "auth" member (a
# challenge-response MAC over the request) without breaking this framing.
import json

VERSION = 1
RELEASE = "0.1.0"  # the firmware's and the host tools' release, written once here
REQ_PREFIX = b"TOK> "
REPLY_PREFIX = b"TOK< "
MAX_REQUEST = 1024  # bytes per request line, enforced before parsing (room for 40-byte names sent as \uXXXX escapes)
# A line may carry stray bytes before its frame: the reader keeps this much.
MAX_LINE = MAX_REQUEST + 64
MAX_REPLY = 2048  # the device pages long answers to stay under this

# Commands that change who owns the token wait for a hand on it: a hold of
# the button within CONFIRM_S seconds (a short press cancels), the screen
# saying what it confirms; no hold, nothing happens (docs/security.md).
CONFIRMED = ("pin-set", "pin-remove", "wipe", "reboot-maintenance")
CONFIRM_S = 15
# A code goes to the computer only after a press on the token within
# CONFIRM_S (any press: it takes nothing away), the account on screen; no
# press, no code. A program on the computer can't read codes by itself.
TOUCHED = ("code",)

# Named errors. The host maps each to an exit code and a message.
E_TOO_LONG = "frame_too_long"
E_BAD_FRAME = "bad_frame"
E_BAD_JSON = "bad_json"
E_UNKNOWN_CMD = "unknown_command"
E_BAD_ARGS = "bad_args"
E_NAME_TAKEN = "name_taken"
E_NOT_FOUND = "not_found"
E_AMBIGUOUS = "ambiguous"
E_STORE_FULL = "store_full"
E_STORAGE_FULL = "storage_full"
E_CLOCK_LOST = "clock_lost"
E_NO_ESTIMATE = "no_estimate"
E_AUTH = "auth_required"
E_AUTH_FAILED = "auth_failed"
E_WRONG_PIN = "wrong_pin"
E_ERASED = "erased"
E_LOCKED = "locked"
E_FAULT = "fault"  # the token could not start (fault.py); the message says why
E_NOT_CONFIRMED = "not_confirmed"  # no hold on the token's button: nothing changed
E_BUSY = "busy"  # the token waits for a hold to confirm another request
E_INTERNAL = "internal"


class FrameError(Exception):
    def __init__(self, code, message, req_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.req_id = req_id


def _printable(line):
    # min/max loop in C: a per-byte Python loop was 4 ms a request on an RP2040.
    return not line or (min(line) >= 0x20 and max(line) <= 0x7E)


def encode_request(req_id, cmd, args=None):
    # No spaces: the token reads a byte at a time (~0.1 ms each on an RP2040).
    body = json.dumps({"v": VERSION, "id": req_id, "cmd": cmd, "args": args or {}},
                      separators=(",", ":"))
    return REQ_PREFIX + body.encode() + b"\n"


# An authenticated request ends with an auth member in exactly this form,
#   ...,"auth":{"seq":N,"mac":"<32 hex>"}}
# and the MAC covers every byte before ',"auth":'. Its fixed shape means
# nothing can follow the MAC'd part unseen (docs/security.md).
_AUTH_KEY = b',"auth":{"seq":'
_MAC_HEX = 32


def signed_part(req_id, cmd, args=None):
    """The bytes of a request an auth MAC covers (the line before its auth)."""
    return encode_request(req_id, cmd, args)[:-2]  # drop "}\n"


def encode_signed(signed, seq, mac_hex):
    return signed + _AUTH_KEY + str(seq).encode() + b',"mac":"' + mac_hex.encode() + b'"}}\n'


def split_auth(line):
    """(signed bytes, seq, mac bytes) of an authenticated request line, or
    None when it carries no auth. A malformed auth is a FrameError."""
    i = line.rfind(_AUTH_KEY)
    if i < 0:
        return None
    j = i + len(_AUTH_KEY)
    k = j
    while k < len(line) and 0x30 <= line[k] <= 0x39:
        k += 1
    tail = line[k:]
    if k == j or k - j > 9 or len(tail) != 11 + _MAC_HEX or tail[:8] != b',"mac":"' \
            or tail[-3:] != b'"}}':
        raise FrameError(E_BAD_FRAME, "malformed auth member")
    try:
        import binascii
        mac = binascii.unhexlify(tail[8:8 + _MAC_HEX])
    except Exception:
        raise FrameError(E_BAD_FRAME, "malformed auth member")
    return line[:i], int(line[j:k]), mac


def decode_request(line):
    """Parse one request line (without the newline). Returns (id, cmd, args)."""
    return decode_request_at(line)[1:]


def decode_request_at(line):
    """As decode_request, with where the frame starts: (start, id, cmd, args).

    Stray bytes before the frame (what mpremote leaves behind, a modem probe,
    a frame torn off by a killed tool) are skipped: the frame is the first
    TOK> from which a request parses, so one stray byte never costs a command.
    Raises FrameError with a named code; the id is recovered when possible so
    the host can match the error to its request."""
    if len(line) > MAX_LINE:
        raise FrameError(E_TOO_LONG, "request longer than %d bytes" % MAX_REQUEST)
    start = line.find(REQ_PREFIX)
    if start < 0:
        raise FrameError(E_BAD_FRAME, "not a request frame")
    err = None
    while True:
        try:
            return (start,) + _decode_frame(line, start)
        except FrameError as e:
            # The error worth reporting is one that names its request.
            if err is None or (err.req_id is None and e.req_id is not None):
                err = e
        start = line.find(REQ_PREFIX, start + 1)
        if start < 0:
            raise err


def _decode_frame(line, start):
    if len(line) - start > MAX_REQUEST:
        raise FrameError(E_TOO_LONG, "request longer than %d bytes" % MAX_REQUEST)
    frame = line[start + len(REQ_PREFIX):]
    if not _printable(frame):
        raise FrameError(E_BAD_FRAME, "non-ASCII or control bytes in frame")
    try:
        msg = json.loads(frame)
    except Exception:
        raise FrameError(E_BAD_JSON, "request is not valid JSON")
    if not isinstance(msg, dict):
        raise FrameError(E_BAD_JSON, "request must be a JSON object")
    req_id = msg.get("id")
    if not (req_id is None or isinstance(req_id, int)) or isinstance(req_id, bool):
        raise FrameError(E_BAD_FRAME, "id must be an integer")
    cmd = msg.get("cmd")
    args = msg.get("args", {})
    if args is None:
        args = {}
    if not isinstance(cmd, str) or not isinstance(args, dict):
        raise FrameError(E_BAD_FRAME, "cmd must be a string and args an object", req_id)
    if msg.get("v", VERSION) != VERSION:
        raise FrameError(E_BAD_FRAME, "unsupported protocol version", req_id)
    return req_id, cmd, args


def encode_ok(req_id, data=None, extra=None):
    msg = {"id": req_id, "ok": True, "data": data if data is not None else {}}
    if extra:
        for k in extra:
            msg[k] = extra[k]
    body = json.dumps(msg)
    return REPLY_PREFIX + body.encode() + b"\n"


def encode_error(req_id, code, message, extra=None):
    msg = {"id": req_id, "ok": False, "error": code, "message": message}
    if extra:
        for k in extra:
            msg[k] = extra[k]
    body = json.dumps(msg)
    return REPLY_PREFIX + body.encode() + b"\n"


def decode_reply(line):
    """Parse one reply line (newline stripped). Returns the reply dict, or None
    when the line is not a reply frame (REPL echo, boot messages)."""
    line = line.rstrip(b"\r\n")
    if not line.startswith(REPLY_PREFIX):
        return None
    try:
        msg = json.loads(line[len(REPLY_PREFIX):])
    except Exception:
        return None
    if not isinstance(msg, dict) or "ok" not in msg:
        return None
    return msg


class LineReader:
    """Collects bytes into one preallocated buffer and yields whole lines.

    A line longer than the buffer is dropped up to its newline and reported
    once as too long, so an oversized or endless input can't grow memory."""

    def __init__(self, limit=MAX_LINE):
        self.buf = bytearray(limit)
        self.n = 0
        self.overflow = False

    def feed(self, byte):
        """Feed one byte. Returns None, a complete line (bytes), or
        OVERFLOW once at the end of an oversized line."""
        if byte == 0x0A:  # newline ends a frame
            return self._end()
        if self.overflow:
            return None
        if self.n >= len(self.buf):
            self.overflow = True
            return None
        self.buf[self.n] = byte
        self.n += 1
        return None

    def feed_from(self, data, n):
        """Feed data[:n] (a bytearray) at once: one slice copy per line
        instead of a Python call per byte. Returns () or a list of what
        feed() would have returned that was not None, in order."""
        out = ()
        start = 0
        while start < n:
            end = _newline(data, start, n)
            stop = n if end < 0 else end
            k = stop - start
            if k and not self.overflow:
                if self.n + k > len(self.buf):
                    self.overflow = True
                else:
                    self.buf[self.n:self.n + k] = memoryview(data)[start:stop]
                    self.n += k
            if end < 0:
                break
            if not out:
                out = []
            out.append(self._end())
            start = end + 1
        return out

    def _end(self):
        if self.overflow:
            self.overflow = False
            self.n = 0
            return OVERFLOW
        n = self.n
        self.n = 0
        if n and self.buf[n - 1] == 0x0D:
            n -= 1
        return bytes(self.buf[:n])


# bytearray.find is C speed; MicroPython builds without CPYTHON_COMPAT lack it.
if hasattr(bytearray, "find"):
    def _newline(data, start, end):
        return data.find(b"\n", start, end)
else:
    def _newline(data, start, end):
        for i in range(start, end):
            if data[i] == 0x0A:
                return i
        return -1


OVERFLOW = b"\x00overflow"
