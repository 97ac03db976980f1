# Serial command handlers: one function per protocol command, checked
# arguments in, plain data out. Never puts a secret in a reply. It is given
# the parts it works on (store, keys, clock...), the screens to tell of a
# change and the device facts for `info`/`status`: nothing here touches hardware.
import binascii
import gc

import diagcmd
import drift
import erase
import eventlog
import frames
from keystore import (AuthError, PIN_MAX, PIN_MIN, TRIES_MAX, TRIES_MIN,
                      LOCK_MAX_S)
from rules import ADD_DEFAULTS, ADD_MANY, LIST_PAGE, default_digits
from store import StoreError

FEATURES = ("totp", "hotp", "steam", "SHA1", "SHA256", "SHA512", "digits6-8", "pin")
AUTH_SCHEME = "pin-x25519-1"  # docs/security.md
# Commands that change the token or its clock: with a PIN set, each needs an
# authenticated request (docs/security.md). `list` joins them when the user
# asks for private names.
PRIVILEGED = ("add", "add-many", "delete", "rename", "move", "set-time", "calibrate", "wipe",
              "pin-change", "pin-remove", "config", "reboot-maintenance") + diagcmd.PRIVILEGED
PRIVATE_READS = ("list", "log")  # names: behind the PIN too with config --private-list
KEYBOARD_SETTINGS = ("typing", "layout", "keypad", "enter", "interval_ms")  # kbdconf.py


def _account(args):
    """An add's arguments as store.add takes them (defaults filled in)."""
    d = ADD_DEFAULTS
    name = _str(args, "name", required=True)
    issuer = _str(args, "issuer", d["issuer"])
    kind = _str(args, "kind", d["kind"])
    algorithm = _str(args, "algorithm", d["algorithm"])
    secret_hex = _str(args, "secret", required=True)
    try:
        secret = binascii.unhexlify(secret_hex)
    except Exception:
        raise _bad("'secret' must be hex")
    digits = _int(args, "digits", default_digits(kind))
    period = _int(args, "period", d["period"])
    counter = _int(args, "counter", d["counter"])
    return name, issuer, secret, kind, algorithm, digits, period, counter


class PressNeeded(Exception):
    """A checked request that waits for a hand on the token (frames.
    CONFIRMED): `what` for the screen, `run` does it (through
    Service.confirmed) once the button is held."""

    def __init__(self, what, run):
        super().__init__("press needed")
        self.what = what
        self.run = run


class CommandError(Exception):
    def __init__(self, code, message, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra  # more reply members (tries_left)


def _bad(message):
    return CommandError(frames.E_BAD_ARGS, message)


def _str(args, key, default=None, required=False):
    v = args.get(key, default)
    if v is None and required:
        raise _bad("missing '%s'" % key)
    if v is not None and not isinstance(v, str):
        raise _bad("'%s' must be a string" % key)
    return v


def _hex(args, key, size):
    v = _str(args, key, required=True)
    try:
        b = binascii.unhexlify(v)
    except Exception:
        raise _bad("'%s' must be hex" % key)
    if len(b) != size:
        raise _bad("'%s' must be %d bytes" % (key, size))
    return b


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
    def __init__(self, store, keys, clock, rtc, drift, log, screens, device, typist):
        """device: board_name, display, fault, diag, uptime_s(),
        restart_maintenance(), after_reply(fn) (app.Device)."""
        self.store = store
        self.keys = keys
        self.clock = clock
        self.rtc = rtc
        self.drift = drift
        self.log = log
        self.screens = screens
        self.device = device
        self.typist = typist  # the keyboard's settings (codetyper.CodeTyper)
        self.handlers = {
            "info": self.info,
            "status": self.status,
            "add": self.add,
            "add-many": self.add_many,
            "list": self.list,
            "delete": self.delete,
            "set-time": self.set_time,
            "get-time": self.get_time,
            "wipe": self.wipe,
            "calibrate": self.calibrate,
            "rename": self.rename,
            "move": self.move,
            "auth-challenge": self.auth_challenge,
            "auth": self.auth,
            "logout": self.logout,
            "pin-set": self.pin_set,
            "pin-change": self.pin_change,
            "pin-remove": self.pin_remove,
            "config": self.config,
            # Privileged: needs the same authority as wipe once the PIN exists.
            "reboot-maintenance": self.reboot_maintenance,
        }
        self.handlers.update(diagcmd.Commands(log, store).handlers)  # log, log-clear, log-config, files

    def handle(self, cmd, args, received, auth=None):
        """auth: (signed bytes, seq, mac) from frames.split_auth, or None."""
        fn = self.handlers.get(cmd)
        if fn is None:
            raise CommandError(frames.E_UNKNOWN_CMD, "unknown command")
        keys = self.keys
        if keys.pin and (cmd in PRIVILEGED or (cmd in PRIVATE_READS and keys.list_private)):
            if auth is None:
                raise CommandError(frames.E_AUTH, "the token has a PIN: this command needs it")
            self.confirmed(keys.check_request, auth[1], auth[2], auth[0])
        return self.confirmed(fn, args, received)

    def confirmed(self, fn, *args):
        """fn(*args) with the store's and the lock's refusals as CommandError."""
        try:
            return fn(*args)
        except StoreError as e:
            raise CommandError(e.code, e.message)
        except AuthError as e:  # (the last wrong PIN: app.Token._erased did the rest)
            extra = None if e.tries_left is None else {"tries_left": e.tries_left}
            raise CommandError(e.code, e.message, extra)

    def info(self, args, received):
        t = self.device
        return {
            "firmware": "totp-token",
            "version": frames.RELEASE,
            "protocol": frames.VERSION,
            "board": t.board_name,
            "runtime": t.runtime,
            "display": [t.display.width, t.display.height],
            "capacity": self.store.capacity,
            "features": list(FEATURES) + (["keyboard"] if self.typist.supported
                                          else ["keyboard not supported"]),
            "keyboard": self.typist.summary(),
            "auth": self._auth_info(),
            "fault": t.fault,
        }

    def _auth_info(self):
        k = self.keys
        d = k.summary()
        d["scheme"] = AUTH_SCHEME
        d["iterations"] = k.iterations
        d["pin_digits"] = [PIN_MIN, PIN_MAX]
        return d

    def status(self, args, received):
        t = self.device
        clock = self.clock
        ms = clock.unix_ms()  # a fresh read, which also notices a jump
        clock.refresh_lost()
        now = None if clock.lost else ms // 1000
        gc.collect()
        heap = {"free": gc.mem_free(), "alloc": gc.mem_alloc()}
        try:
            import micropython
            peak = getattr(micropython, "mem_peak", None)  # some ports only
            if peak is not None:
                heap["peak"] = peak()
        except ImportError:
            pass
        return {
            "accounts": self.store.count,
            "capacity": self.store.capacity,
            "storage": self.store.storage(),
            "clock": {
                "lost": clock.lost,
                "osf": clock.osf,
                "unix": now,
                "temperature_c": self.rtc.temperature(),
                "aging": self.rtc.aging(),
                "drift": self.drift.summary(now),
            },
            "uptime_s": t.uptime_s(),
            "heap": heap,
            "diag": t.diag,
            "log": self.log.stats(),
            "screen_on": t.display.on,
            "lock": self.keys.summary(),
            "fault": t.fault,  # a part missing at boot, e.g. "display not found at 0x3C"
        }

    def add(self, args, received):
        index = self.store.add(*_account(args))
        return self._added(args, index, 1, args["name"])

    def add_many(self, args, received):
        """Up to ADD_MANY accounts in one request, all or none: each bucket
        they land in is written once (store.add_many), and the host does
        not wait a round trip per account. A refusal says which one (at)."""
        accounts = args.get("accounts")
        if not isinstance(accounts, list) or not 1 <= len(accounts) <= ADD_MANY:
            raise _bad("'accounts' must be a list of 1-%d accounts" % ADD_MANY)
        parsed = []
        i = 0
        try:
            for i in range(len(accounts)):
                if not isinstance(accounts[i], dict):
                    raise _bad("each account must be an object")
                parsed.append(_account(accounts[i]))
            index = self.store.add_many(parsed)
        except CommandError as e:
            raise CommandError(e.code, e.message, {"at": i})
        except StoreError as e:
            raise CommandError(e.code, e.message, {"at": e.at})
        return self._added(args, index, len(parsed), accounts[0]["name"])

    def _added(self, args, index, k, name):
        self.keys.clear_erased()
        # Consecutive adds merge into one log entry (eventlog._COUNTED).
        self.log.event(eventlog.ADD, k, self.store.count, 0, self.log.name_text(name))
        show = args.get("show", True)
        if show is not False:  # false: one of many adds; the last one redraws
            self.screens.accounts_changed(index + k - 1)
        return {"index": index, "count": self.store.count}

    def list(self, args, received):
        store = self.store
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
        store = self.store
        store.delete(store.find(name, issuer))
        self.log.event(eventlog.DELETE, 1, store.count, 0, self.log.name_text(name))
        self.screens.accounts_changed(None)
        return {"count": store.count}

    def rename(self, args, received):
        """New name and/or issuer for the account named by name (+ issuer)."""
        store = self.store
        index = store.find(_str(args, "name", required=True), _str(args, "issuer"))
        meta = store.meta(index)
        new_name = _str(args, "new_name", meta["name"])
        new_issuer = _str(args, "new_issuer", meta["issuer"])
        store.rename(index, new_name, new_issuer)
        self.screens.accounts_changed(index)
        return {"index": index}

    def move(self, args, received):
        """Move an account to position `to` (0-based); the button order follows."""
        store = self.store
        index = store.find(_str(args, "name", required=True), _str(args, "issuer"))
        to = _int(args, "to", None, 0, store.count - 1)
        store.move(index, to)
        self.screens.accounts_changed(None)
        return {"index": to}

    def set_time(self, args, received):
        # Accept 2000..2199 only: what the DS3231 can hold.
        unix_ms = _int(args, "unix_ms", None, _MIN_MS, _MAX_MS)
        trim = _str(args, "trim", "auto")
        if trim not in ("auto", "never"):
            raise _bad("'trim' is auto or never")
        # The host's measurement, when it made one.
        offset = _num(args, "offset_ms", -_MAX_OFFSET_MS, _MAX_OFFSET_MS)
        clock = self.clock
        was_lost = clock.lost
        before = None if was_lost else clock.unix_ms() - clock.ms_since(received)
        if offset is None and before is not None:
            offset = before - unix_ms
        written = clock.set_unix_ms(unix_ms, received)
        self.screens.clock_changed()
        now = written // 1000
        aging = self.rtc.aging()
        # A lost clock's offset says nothing about the crystal: record the
        # sync as a fresh start.
        measured = self.drift.record(now, None if was_lost else offset, aging)
        reply = {"unix_ms": written, "before_ms": before, "measured_ppm": measured,
                 "trimmed": None}
        if measured is not None and trim == "auto" and \
                self.drift.syncs[-2][0] <= now - drift.AUTO_TRIM_S:
            reply["trimmed"] = self._trim()
        diagcmd.synced(self.log, None if was_lost else offset, aging, reply["trimmed"])
        return reply

    def calibrate(self, args, received):
        """Trim the drift now from the last estimate (two syncs an hour or
        more apart)."""
        if self.drift.ppm is None:
            raise CommandError(frames.E_NO_ESTIMATE,
                               "no drift estimate yet: sync twice at least an hour apart")
        return {"trimmed": self._trim()}

    def _trim(self):
        old = self.rtc.aging()
        new = self.drift.trim_target(old)
        if new is None or new == old:
            return None
        self.rtc.set_aging(new)
        self.drift.trimmed(old, new)
        return {"from": old, "to": new, "drift_ppm": self.drift.ppm}

    def get_time(self, args, received):
        clock = self.clock
        return {"unix_ms": clock.unix_ms(), "lost": clock.lost}

    def reboot_maintenance(self, args, received):
        """Restart once into the MicroPython REPL (for `make deploy`); the
        reply goes out first. The token does the reset: nothing here touches
        the machine."""
        raise PressNeeded(("RESTART INTO", "MAINTENANCE?"), self._maintenance)

    def _maintenance(self):
        self.device.restart_maintenance()
        return {"restarting": "maintenance"}

    def wipe(self, args, received):
        if args.get("confirm") != "wipe":
            raise _bad("wipe needs confirm='wipe'")
        scrub = args.get("scrub", False)
        if not isinstance(scrub, bool):
            raise _bad("'scrub' must be true or false")
        n = self.store.count
        raise PressNeeded(("WIPE ALL %d" % n, "ACCOUNTS?"), lambda: self._wipe(scrub))

    def _wipe(self, scrub):
        if scrub:
            self.screens.busy("Erasing flash...")
        n = erase.wipe(self.keys, self.store, scrub, self.screens.progress if scrub else None)
        self.keys.clear_erased()
        self.log.event(eventlog.WIPE, n)
        self.screens.accounts_changed(None)
        return {"deleted": n}

    # -- the PIN (docs/security.md) ------------------------------------------

    def auth_challenge(self, args, received):
        """A fresh challenge and the token's X25519 half for it: a login
        (with a PIN) or a first PIN (without)."""
        k = self.keys
        challenge, public = k.new_challenge()
        reply = {"pin": k.pin, "scheme": AUTH_SCHEME,
                 "challenge": binascii.hexlify(challenge).decode(),
                 "public": binascii.hexlify(public).decode()}
        if k.pin:
            reply.update({"salt": binascii.hexlify(k.salt).decode(), "iterations": k.iterations,
                          "tries_left": k.tries_left, "tries_max": k.tries_max})
        return reply

    def auth(self, args, received):
        k = self.keys
        challenge = _hex(args, "challenge", 16)
        public = _hex(args, "public", 32)
        sealed = _hex(args, "key", 32 + 24)
        k.authenticate(challenge, public, sealed)
        return {"tries_left": k.tries_left}

    def logout(self, args, received):
        self.keys.end_session()
        return {}

    def pin_set(self, args, received):
        """The first PIN, sealed under a key agreed for the pending
        challenge (auth-challenge): a recording of the exchange does not
        give it away. The agreement is not authenticated (there is no PIN
        yet), so a program that sits between host and token could still
        see it: set it from a computer you trust."""
        k = self.keys
        if k.pin:
            raise CommandError("pin_set", "a PIN is already set: use pin-change")
        challenge = _hex(args, "challenge", 16)
        public = _hex(args, "public", 32)
        sealed = _hex(args, "new", 16 + 32 + 32 + 24)
        tries = args.get("tries_max")
        if tries is not None:
            tries = _int(args, "tries_max", None, TRIES_MIN, TRIES_MAX)
        salt, w, v = k.open_first_pin(challenge, public, sealed)
        raise PressNeeded(("SET A PIN?", "(locks token)"), lambda: self._pin_set(salt, w, v, tries))

    def _pin_set(self, salt, w, v, tries):
        k = self.keys
        if tries is not None:
            k.configure(tries_max=tries)
        self._new_pin(salt, w, v)
        k.clear_erased()
        self.screens.lock_changed()
        self.log.event(eventlog.PIN_SET, 1)
        return {"pin": True, "tries_left": k.tries_left}

    def pin_change(self, args, received):
        k = self.keys
        blob = _hex(args, "new", 16 + 32 + 32 + 24)
        plain = k.open_sealed(blob, b"pin-change")
        self._new_pin(plain[:16], plain[16:48], plain[48:80])
        self.screens.lock_changed()
        self.log.event(eventlog.PIN_SET, 1)
        return {"pin": True, "tries_left": k.tries_left}

    def _new_pin(self, salt, w, v):
        """The new PIN brings a new data key: every record is resealed under
        it (whoever read the flash before learns nothing of what comes
        next). A cut or a full flash leaves the rest to the next unlock."""
        self.keys.set_pin(salt, w, v)
        if self.store.count:
            self.screens.busy("Resealing...")
        try:
            self.store.renew(self.screens.progress if self.store.count else None)
        except (OSError, StoreError):
            pass  # the PIN is set; the renewal mark says where to go on

    def pin_remove(self, args, received):
        if not self.keys.pin:
            raise CommandError("no_pin", "no PIN is set")
        raise PressNeeded(("REMOVE THE PIN?", "(unlocks token)"), self._pin_remove)

    def _pin_remove(self):
        k = self.keys
        k.remove_pin()
        self.screens.lock_changed()
        self.log.event(eventlog.PIN_SET, 0)
        return {"pin": False}

    def config(self, args, received):
        k = self.keys
        tries = lock = private = None
        if "tries_max" in args:
            tries = _int(args, "tries_max", None, TRIES_MIN, TRIES_MAX)
        if "lock_after_s" in args:
            lock = _int(args, "lock_after_s", None, 0, LOCK_MAX_S)
        if "list_private" in args:
            private = args.get("list_private")
            if not isinstance(private, bool):
                raise _bad("'list_private' must be true or false")
        typing = {}
        for key in KEYBOARD_SETTINGS:
            if key in args:
                problem = self.typist.conf.check(key, args[key])
                if problem:
                    raise _bad(problem)
                typing[key] = args[key]
        if typing and not self.typist.supported:
            raise CommandError("no_keyboard", "keyboard not supported on this board")
        # Everything checked before anything changes.
        if tries is not None or lock is not None or private is not None:
            k.configure(tries, lock, private)
        if typing:
            self.typist.configure(typing)
        d = k.summary()
        return {"tries_max": d["tries_max"], "lock_after_s": d["lock_after_s"],
                "list_private": d["list_private"], "keyboard": self.typist.summary()}
