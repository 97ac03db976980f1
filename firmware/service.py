# Serial command handlers: one function per protocol command, checked
# arguments in, plain data out. Never puts a secret in a reply. The token
# object (app.Token) is injected, so nothing here touches hardware.
import binascii
import gc
import time

import drift
import frames
from store import StoreError

VERSION = "0.1.0"
FEATURES = ("totp", "hotp", "steam", "SHA1", "SHA256", "SHA512", "digits6-8")
LIST_PAGE = 8  # keeps a reply under frames.MAX_REPLY with 40-byte names


class CommandError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(message):
    return CommandError(frames.E_BAD_ARGS, message)


def _str(args, key, default=None, required=False):
    v = args.get(key, default)
    if v is None and required:
        raise _bad("missing '%s'" % key)
    if v is not None and not isinstance(v, str):
        raise _bad("'%s' must be a string" % key)
    return v


def _int(args, key, default=None, lo=None, hi=None):
    v = args.get(key, default)
    if v is None:
        raise _bad("missing '%s'" % key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise _bad("'%s' must be an integer" % key)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _bad("'%s' out of range" % key)
    return v


def _num(args, key, lo, hi):
    """An optional number (int or float) in lo..hi, else None. MicroPython's
    json reads 1e400 as inf: refused here, before it can reach a reply
    (bare inf is not JSON) or a stored file."""
    v = args.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad("'%s' must be a number" % key)
    if not lo <= v <= hi:  # nan fails every comparison
        raise _bad("'%s' out of range" % key)
    return v


# Both ends of a sync lie in 2000..2199 (what the DS3231 holds): no clock
# can be further off than that.
_MIN_MS = 946684800000
_MAX_MS = 7258118399000
_MAX_OFFSET_MS = _MAX_MS - _MIN_MS
_MAX_INDEX = 65535  # far above any capacity; keeps list's start a small int


class Service:
    def __init__(self, token):
        self.t = token
        self.handlers = {
            "info": self.info,
            "status": self.status,
            "add": self.add,
            "list": self.list,
            "delete": self.delete,
            "set-time": self.set_time,
            "get-time": self.get_time,
            "wipe": self.wipe,
            "calibrate": self.calibrate,
            "rename": self.rename,
            "move": self.move,
        }

    def handle(self, cmd, args, received):
        fn = self.handlers.get(cmd)
        if fn is None:
            raise CommandError(frames.E_UNKNOWN_CMD, "unknown command")
        try:
            return fn(args, received)
        except StoreError as e:
            raise CommandError(e.code, e.message)

    def info(self, args, received):
        t = self.t
        return {
            "firmware": "totp-token",
            "version": VERSION,
            "protocol": frames.VERSION,
            "board": t.board.NAME,
            "display": [t.display.width, t.display.height],
            "capacity": t.store.capacity,
            "features": list(FEATURES),
            "auth": None,
            "fault": t.fault,
        }

    def status(self, args, received):
        t = self.t
        clock = t.clock
        ms = clock.unix_ms()  # a fresh read, which also notices a jump
        clock.refresh_lost()
        now = None if clock.lost else ms // 1000
        gc.collect()
        heap = {"free": gc.mem_free(), "alloc": gc.mem_alloc()}
        try:
            import micropython
            heap["peak"] = micropython.mem_peak()
        except (ImportError, AttributeError):
            pass
        return {
            "accounts": t.store.count,
            "capacity": t.store.capacity,
            "storage": t.store.storage(),
            "clock": {
                "lost": clock.lost,
                "osf": clock.osf,
                "unix": now,
                "temperature_c": t.rtc.temperature(),
                "aging": t.rtc.aging(),
                "drift": t.drift.summary(now),
            },
            "uptime_s": time.ticks_diff(time.ticks_ms(), t.started) // 1000,
            "heap": heap,
            "diag": t.diag,
            "screen_on": t.display.on,
            "fault": t.fault,  # a part missing at boot, e.g. "display not found at 0x3C"
        }

    def add(self, args, received):
        name = _str(args, "name", required=True)
        issuer = _str(args, "issuer", "")
        kind = _str(args, "kind", "totp")
        algorithm = _str(args, "algorithm", "SHA1")
        secret_hex = _str(args, "secret", required=True)
        try:
            secret = binascii.unhexlify(secret_hex)
        except Exception:
            raise _bad("'secret' must be hex")
        digits = _int(args, "digits", 5 if kind == "steam" else 6)
        period = _int(args, "period", 30)
        counter = _int(args, "counter", 0)
        index = self.t.store.add(name, issuer, secret, kind, algorithm, digits, period, counter)
        self.t.accounts_changed(index)
        return {"index": index, "count": self.t.store.count}

    def list(self, args, received):
        store = self.t.store
        start = _int(args, "start", 0, 0, _MAX_INDEX)
        # A larger limit is served in pages of LIST_PAGE; the host pages on.
        limit = min(_int(args, "limit", LIST_PAGE, 1, _MAX_INDEX), LIST_PAGE)
        out = []
        i = start
        while i < store.count and len(out) < limit:
            out.append(store.meta(i))
            i += 1
        return {"total": store.count, "accounts": out}

    def delete(self, args, received):
        name = _str(args, "name", required=True)
        issuer = _str(args, "issuer")
        store = self.t.store
        store.delete(store.find(name, issuer))
        self.t.accounts_changed(None)
        return {"count": store.count}

    def rename(self, args, received):
        """New name and/or issuer for the account named by name (+ issuer)."""
        store = self.t.store
        index = store.find(_str(args, "name", required=True), _str(args, "issuer"))
        meta = store.meta(index)
        new_name = _str(args, "new_name", meta["name"])
        new_issuer = _str(args, "new_issuer", meta["issuer"])
        store.rename(index, new_name, new_issuer)
        self.t.accounts_changed(index)
        return {"index": index}

    def move(self, args, received):
        """Move an account to position `to` (0-based); the button order follows."""
        store = self.t.store
        index = store.find(_str(args, "name", required=True), _str(args, "issuer"))
        to = _int(args, "to", None, 0, store.count - 1)
        store.move(index, to)
        self.t.accounts_changed(None)
        return {"index": to}

    def set_time(self, args, received):
        # Accept 2000..2199 only: what the DS3231 can hold.
        unix_ms = _int(args, "unix_ms", None, _MIN_MS, _MAX_MS)
        trim = _str(args, "trim", "auto")
        if trim not in ("auto", "never"):
            raise _bad("'trim' is auto or never")
        # The host's measurement, when it made one.
        offset = _num(args, "offset_ms", -_MAX_OFFSET_MS, _MAX_OFFSET_MS)
        t = self.t
        clock = t.clock
        was_lost = clock.lost
        before = None if was_lost else clock.unix_ms() - time.ticks_diff(time.ticks_ms(), received)
        if offset is None and before is not None:
            offset = before - unix_ms
        written = clock.set_unix_ms(unix_ms, received)
        t.clock_changed()
        now = written // 1000
        aging = t.rtc.aging()
        # A lost clock's offset says nothing about the crystal: record the
        # sync as a fresh start.
        measured = t.drift.record(now, None if was_lost else offset, aging)
        reply = {"unix_ms": written, "before_ms": before, "measured_ppm": measured,
                 "trimmed": None}
        if measured is not None and trim == "auto" and \
                t.drift.syncs[-2][0] <= now - drift.AUTO_TRIM_S:
            reply["trimmed"] = self._trim()
        return reply

    def calibrate(self, args, received):
        """Trim the drift now from the last estimate (two syncs an hour or
        more apart)."""
        if self.t.drift.ppm is None:
            raise CommandError(frames.E_NO_ESTIMATE,
                               "no drift estimate yet: sync twice at least an hour apart")
        return {"trimmed": self._trim()}

    def _trim(self):
        t = self.t
        old = t.rtc.aging()
        new = t.drift.trim_target(old)
        if new is None or new == old:
            return None
        t.rtc.set_aging(new)
        t.drift.trimmed(old, new)
        return {"from": old, "to": new, "drift_ppm": t.drift.ppm}

    def get_time(self, args, received):
        clock = self.t.clock
        return {"unix_ms": clock.unix_ms(), "lost": clock.lost}

    def wipe(self, args, received):
        if args.get("confirm") != "wipe":
            raise _bad("wipe needs confirm='wipe'")
        n = self.t.store.count
        self.t.store.wipe()
        self.t.accounts_changed(None)
        return {"deleted": n}
