# The diagnostic log: a bounded ring of small fixed-size entries in one file
# of the data directory, for support ("what happened to my token?"). It holds
# events and small numbers only: never a secret, never a PIN, and account
# names only while the user has turned that on (off by default).
#
# File `log`, SLOTS slots of 40 bytes (3840 bytes: one 4 KB flash block):
#   slot 0     header: b"TKLG", version 1, flags (bit 0: names allowed),
#              base seq u32 (the next seq after a clear), zeros, check
#   slot 1..   entries, written round the ring; an entry whose check fails
#              (never written, or torn by a power cut) is skipped
# Entry, big-endian:
#    0 seq u32 (1, 2, ...; 0 = empty)   4 time u32   8 event code
#    9 flags (bit 0: time is seconds since boot: the clock was lost)
#   10 a i32   14 b i32   18 c i32 (NONE: no value)   22 text[16] ASCII
#   38 check u16 (Fletcher-16 of bytes 0..37)
#
# Writing never holds up the display loop: event() only packs the entry into
# a small RAM queue; flush() (once per loop pass, acting at most once a
# second) writes the queue in one open/close. littlefs commits a file at
# close, so a power cut loses at most the batch being written; on a
# filesystem without that, the per-entry check drops the torn one. A full
# queue drops events (counted, then logged as one "dropped" entry); a failing
# flash is counted in `failures` and never raises.
import struct
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_SIZE = const(40)
SLOTS = const(96)           # header + 95 entries
ENTRIES = const(95)
FILE_BYTES = const(3840)    # SLOTS * _SIZE
QUEUE = const(16)          # entries held in RAM between flushes (a burst of commands)
QUEUE_HIGH = const(8)       # this many queued: write at the next rollover, busy link or not
_FLUSH_MS = const(1000)     # at most one flash write a second from the loop
_RETRY_MS = const(30000)    # after a failed write, leave the flash alone this long
_ERROR_CAP = const(32)      # error entries per boot; more are only counted
_TEXT = const(16)
_CHECK = const(38)
NONE = -2147483648          # "no value" in a, b or c

# The runtime passes its ticks; these defaults serve the tests (MicroPython's
# time.ticks_*, else a millisecond counter that never wraps).
_ticks_ms = getattr(time, "ticks_ms", None)
_ticks_diff = getattr(time, "ticks_diff", None)
if _ticks_ms is None or _ticks_diff is None:
    def _ticks_ms():
        return int(time.time() * 1000)

    def _ticks_diff(a, b):
        return a - b
_MAGIC = b"TKLG"

# Event codes; NAMES[code] is what the `log` command reports.
BOOT = const(1)           # a reset cause code, b accounts; text the cause
BOOT_FAIL = const(2)      # text: exception type
ERROR = const(3)          # a where (WHERE), c repeats; text: type or error code
SYNC = const(4)           # a offset ms (NONE: unknown), b aging before, c after
CLOCK_LOST = const(5)     # a: 1 if the oscillator stopped, 0 for an implausible date
CLOCK_OK = const(6)
PIN_FAIL = const(7)       # a failures in a row, b tries left (never digits)
PIN_LOCKED = const(8)     # a failures
ADD = const(9)            # a added, b accounts now; text: a name if allowed
DELETE = const(10)        # a deleted, b accounts now; text: a name if allowed
WIPE = const(11)          # a accounts deleted
STORE_REPAIR = const(12)  # a damaged records, b 1 if the index was rebuilt
LOG_CLEARED = const(13)
DROPPED = const(14)       # a events lost to a full queue
FACTORY_RESET = const(15)
LOG_CONFIG = const(16)    # a: 1 names allowed, 0 not
PIN_SET = const(17)       # a: 1 set/changed, 0 removed
CODE_SENT = const(18)     # a 1, b its position; text: a name if allowed (a press sent it)
NAMES = ("", "boot", "boot-failed", "error", "sync", "clock-lost", "clock-ok",
         "pin-failed", "pin-locked", "add", "delete", "wipe", "store-repaired",
         "log-cleared", "dropped", "factory-reset", "log-config", "pin-set", "code-sent")
WHERE = ("loop", "request", "frame", "refused")
_COUNTED = (ADD, DELETE)  # consecutive ones merge into one entry


def _fletcher(buf, off):
    s1 = 0
    s2 = 0
    for i in range(off, off + _CHECK):
        s1 = (s1 + buf[i]) % 255
        s2 = (s2 + s1) % 255
    return s2 << 8 | s1


def _seal(buf, off):
    c = _fletcher(buf, off)
    buf[off + _CHECK] = c >> 8
    buf[off + _CHECK + 1] = c & 0xFF


def _sound(buf, off):
    return (buf[off + _CHECK] << 8 | buf[off + _CHECK + 1]) == _fletcher(buf, off)


def _i32(v):
    if v is None:
        return NONE
    if v > 2147483647:
        return 2147483647
    if v < -2147483647:
        return -2147483647
    return int(v)


def ascii_text(s):
    """At most 16 printable ASCII bytes; anything else becomes '?'."""
    if s is None:
        return b""
    if isinstance(s, str):
        s = s.encode()
    out = bytearray(min(len(s), _TEXT))
    for i in range(len(out)):
        c = s[i]
        out[i] = c if 32 <= c < 127 else 63
    return bytes(out)


def uptime_clock(ticks_ms=None, ticks_diff=None):
    """A `now` for the log when no RTC is known: seconds since this call."""
    tm = ticks_ms or _ticks_ms
    td = ticks_diff or _ticks_diff
    start = tm()
    return lambda: (td(tm(), start) // 1000, 1)


class EventLog:
    def __init__(self, path, now=None, ticks_ms=None, ticks_diff=None):
        """now() -> (seconds, uptime flag): Unix time while the clock is
        good, (seconds since boot, 1) while it is lost."""
        self.path = path
        self._tm = ticks_ms or _ticks_ms
        self._td = ticks_diff or _ticks_diff
        self.now = now or uptime_clock(self._tm, self._td)
        self._q = bytearray(QUEUE * _SIZE)
        self._n = 0               # queued entries
        self._one = bytearray(_SIZE)
        self.names = False        # may account names go into entries?
        self.seq = 1              # seq of the next event
        self._slot = 0            # next entry slot (0..ENTRIES-1)
        self.failures = 0         # flash writes that failed
        self.dropped = 0          # events lost to a full queue, not yet logged
        self.lost = 0             # all events ever dropped (for status)
        self.suppressed = 0       # error events over the per-boot cap
        self._errors = 0
        self._last = self._tm()
        self._since = self._last  # when the oldest queued entry was queued
        self._wait = 0            # ms to wait from _last before the next flush
        self._ready = False
        try:
            self._open()
        except (OSError, ValueError):
            self.failures += 1

    # ---- the file ----

    def _open(self):
        h = self._one
        try:
            f = open(self.path, "rb")
        except OSError:
            self._create(1, False)
            return
        best = 0
        top = -1
        with f:
            ok = f.readinto(h) == _SIZE and h[0:4] == _MAGIC and h[4] == 1 and _sound(h, 0)
            if ok:
                self.names = bool(h[5] & 1)
                base = struct.unpack_from(">I", h, 6)[0]
                for s in range(ENTRIES):
                    if f.readinto(h) != _SIZE:
                        ok = False  # cut short: not ours to trust
                        break
                    seq = struct.unpack_from(">I", h, 0)[0]
                    if seq and seq != 0xFFFFFFFF and _sound(h, 0) and seq > best:
                        best = seq
                        top = s
        if not ok:
            self._create(1, False)  # damaged beyond use: start again
            return
        self.seq = max(best + 1, base, 1)
        self._slot = (top + 1) % ENTRIES
        self._ready = True

    def _header(self, base, names):
        h = bytearray(_SIZE)
        h[0:4] = _MAGIC
        h[4] = 1
        h[5] = 1 if names else 0
        struct.pack_into(">I", h, 6, base)
        _seal(h, 0)
        return h

    def _create(self, base, names):
        """A fresh, empty log (written whole, then renamed into place)."""
        tmp = self.path + ".new"
        zero = bytes(_SIZE)
        with open(tmp, "wb") as f:
            f.write(self._header(base, names))
            for _ in range(ENTRIES):
                f.write(zero)
        try:
            import os
            os.rename(tmp, self.path)
        except OSError:
            import os
            os.remove(self.path)  # some ports won't rename over a file
            os.rename(tmp, self.path)
        self.names = names
        self.seq = max(self.seq, base)
        self._slot = 0
        self._ready = True

    # ---- recording ----

    def event(self, code, a=0, b=0, c=0, text=None):
        """Queue one event; never touches flash and never raises."""
        try:
            self._event(code, a, b, c, text)
        except Exception:
            self.lost += 1

    def _event(self, code, a, b, c, text):
        if code == ERROR:
            if self._errors >= _ERROR_CAP:
                self.suppressed += 1
                return
        q = self._q
        txt = ascii_text(text)
        if self._n:
            o = (self._n - 1) * _SIZE
            if q[o + 8] == code and code in _COUNTED and not txt and not q[o + 22]:
                # Imports arrive as many adds: one entry with the count.
                struct.pack_into(">ii", q, o + 10,
                                 struct.unpack_from(">i", q, o + 10)[0] + a, _i32(b))
                return
            if code == ERROR and q[o + 8] == code and \
                    struct.unpack_from(">i", q, o + 10)[0] == _i32(a) and \
                    bytes(q[o + 22:o + 22 + _TEXT]).rstrip(b"\x00") == txt:
                n = struct.unpack_from(">i", q, o + 18)[0]
                struct.pack_into(">i", q, o + 18, n + 1)
                return
        if self._n >= QUEUE:
            self.dropped += 1
            self.lost += 1
            return
        if code == ERROR:
            self._errors += 1
            c = 1
        t, up = self.now()
        if not self._n:
            self._since = self._tm()
        o = self._n * _SIZE
        struct.pack_into(">IIBBiii", q, o, self.seq, t & 0xFFFFFFFF, code, up & 1,
                         _i32(a), _i32(b), _i32(c))
        for i in range(_TEXT):
            q[o + 22 + i] = txt[i] if i < len(txt) else 0
        self.seq += 1
        self._n += 1

    def name_text(self, name):
        """An account name for an entry's text, only if names are allowed."""
        return name if self.names else None

    def pending(self):
        return self._n

    def flush(self, force=False, hold_ms=0):
        """Write queued entries. From the loop (force=False) at most once a
        second, and not before the oldest has waited `hold_ms`; never
        raises. Returns True when nothing is left queued."""
        if not self._n and not self.dropped:
            return True
        now = self._tm()
        if not force and (self._td(now, self._last) < self._wait
                          or self._td(now, self._since) < hold_ms):
            return False
        self._last = now
        if self.dropped and self._n < QUEUE:
            d = self.dropped
            self.dropped = 0
            self._event(DROPPED, d, 0, 0, None)
        try:
            if not self._ready:
                self._open()
            self._write()
            self._wait = _FLUSH_MS
            return True
        except (OSError, ValueError):
            self.failures += 1
            self._wait = _RETRY_MS
            return False

    def _write(self):
        q = self._q
        n = self._n
        with open(self.path, "r+b") as f:
            for i in range(n):
                f.seek(_SIZE * (1 + self._slot))
                o = i * _SIZE
                _seal(q, o)
                f.write(memoryview(q)[o:o + _SIZE])
                self._slot = (self._slot + 1) % ENTRIES
        self._n = 0

    # ---- reading and control (service commands) ----

    def entries(self, after=None, before=None, limit=16, newest=False):
        """Decoded entries with after < seq < before, oldest first (newest
        first if `newest`), at most `limit`; queued ones included. Returns
        (entries, more)."""
        found = []
        h = self._one
        if self._ready:
            try:
                with open(self.path, "rb") as f:
                    f.seek(_SIZE)
                    for _ in range(ENTRIES):
                        if f.readinto(h) != _SIZE:
                            break
                        if _sound(h, 0):
                            e = _decode(h, 0)
                            if e[0] and e[0] != 0xFFFFFFFF:
                                found.append(e)
            except OSError:
                self.failures += 1
        for i in range(self._n):
            found.append(_decode(self._q, i * _SIZE))
        found = [e for e in found if (after is None or e[0] > after)
                 and (before is None or e[0] < before)]
        found.sort(key=lambda e: e[0], reverse=newest)
        return found[:limit], len(found) > limit

    def clear(self):
        """Empty the log (the names setting stays); seq numbers carry on."""
        self._n = 0
        self.dropped = 0
        self._create(self.seq, self.names)
        self.event(LOG_CLEARED)

    def set_names(self, on):
        on = bool(on)
        h = self._header(self.seq, on)
        with open(self.path, "r+b") as f:
            f.write(h)
        self.names = on
        self.event(LOG_CONFIG, 1 if on else 0)

    def stats(self):
        return {"capacity": ENTRIES, "next": self.seq, "failures": self.failures,
                "dropped": self.lost, "suppressed": self.suppressed,
                "names": self.names, "queued": self._n}


def _decode(buf, o):
    seq, t, code, flags, a, b, c = struct.unpack_from(">IIBBiii", buf, o)
    text = bytes(buf[o + 22:o + 22 + _TEXT])
    end = text.find(b"\x00")
    if end >= 0:
        text = text[:end]
    return [seq, t, flags & 1, NAMES[code] if code < len(NAMES) else "event%d" % code,
            None if a == NONE else a, None if b == NONE else b,
            None if c == NONE else c, text.decode()]


# ---- hooks the firmware calls ----

LOGGED_REFUSALS = ("store_full", "storage_full")  # refusals worth a support look
def boot(log, store, clock, cause=(0, "unknown")):
    """At start-up: why we booted (the runtime's (code, name)), what the
    store had to repair, the clock."""
    code, name = cause
    log.event(BOOT, code, store.count, 0, name)
    if store.damaged or store.rebuilt:
        log.event(STORE_REPAIR, store.damaged, 1 if store.rebuilt else 0)
    if clock.lost:
        clock_changed(log, clock)


def clock_changed(log, clock):
    if clock.lost:
        log.event(CLOCK_LOST, 1 if clock.osf else 0)
    else:
        log.event(CLOCK_OK)


def pin_failed(log, keys, e):
    """Log a wrong PIN (counts only, never digits)."""
    if e.code == "wrong_pin":
        log.event(PIN_FAIL, keys.tries_max - keys.tries_left, keys.tries_left)
    elif e.code == "erased":
        log.event(PIN_LOCKED, keys.tries_max)


def pin_interrupted(log, keys):
    """A PIN check a power cut stopped after its try was spent."""
    log.event(PIN_FAIL, keys.tries_max - keys.tries_left, keys.tries_left, 0, "cut short")


def pin_locked(log, keys):
    """No tries left: the token erases itself."""
    log.event(PIN_LOCKED, keys.tries_max)


def boot_failed(data_dir, e, ticks_ms=None, ticks_diff=None):
    """The firmware could not start: leave a line in the log if the flash
    is reachable at all. Never raises (the caller re-raises `e`)."""
    try:
        log = EventLog(data_dir + "/log", ticks_ms=ticks_ms, ticks_diff=ticks_diff)
        log.event(BOOT_FAIL, 0, 0, 0, type(e).__name__)
        log.flush(True)
    except Exception:
        pass
