# The device's own commands: info and status (what the token is and how it
# is doing), config (the lock's and the keyboard's settings) and
# reboot-maintenance. Plugged into service.Service; the two that change the
# token need the PIN.
import gc

import frames
from argcheck import bad, flag, integer
from keystore import LOCK_MAX_S, PIN_MAX, PIN_MIN, TRIES_MAX, TRIES_MIN
from lockcmd import AUTH_SCHEME
from service import CommandError, PressNeeded

FEATURES = ("totp", "hotp", "steam", "SHA1", "SHA256", "SHA512", "digits6-8", "pin")
KEYBOARD_SETTINGS = ("typing", "layout", "keypad", "enter", "interval_ms")  # kbdconf.py


class Commands:
    # reboot-maintenance: the same authority as wipe once the PIN exists.
    privileged = ("config", "reboot-maintenance")
    private = ()

    def __init__(self, device, store, keys, clock, rtc, drift, log, typist):
        """device: board_name, serial, runtime, display, fault, diag, uptime_s(),
        restart_maintenance() (app.Device); the rest is read for status;
        keys and typist (the keyboard, codetyper.CodeTyper) are set by config."""
        self.device = device
        self.store = store
        self.keys = keys
        self.clock = clock
        self.rtc = rtc
        self.drift = drift
        self.log = log
        self.typist = typist
        self.handlers = {
            "info": self.info,
            "status": self.status,
            "config": self.config,
            "reboot-maintenance": self.reboot_maintenance,
        }

    def info(self, args, received):
        t = self.device
        return {
            "firmware": "totp-token",
            "version": frames.RELEASE,
            "protocol": frames.VERSION,
            "board": t.board_name,
            "serial": t.serial,
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

    def config(self, args, received):
        k = self.keys
        typist = self.typist
        tries = lock = None
        if "tries_max" in args:
            tries = integer(args, "tries_max", None, TRIES_MIN, TRIES_MAX)
        if "lock_after_s" in args:
            lock = integer(args, "lock_after_s", None, 0, LOCK_MAX_S)
        private = flag(args, "list_private")
        typing = {}
        for key in KEYBOARD_SETTINGS:
            if key in args:
                problem = typist.conf.check(key, args[key])
                if problem:
                    raise bad(problem)
                typing[key] = args[key]
        if typing and not typist.supported:
            raise CommandError("no_keyboard", "keyboard not supported on this board")
        # Everything checked before anything changes.
        if tries is not None or lock is not None or private is not None:
            k.configure(tries, lock, private)
        if typing:
            typist.configure(typing)
        d = k.summary()
        return {"tries_max": d["tries_max"], "lock_after_s": d["lock_after_s"],
                "list_private": d["list_private"], "keyboard": typist.summary()}

    def reboot_maintenance(self, args, received):
        """Restart once into the MicroPython REPL (for `make deploy`); the
        reply goes out first. The token does the reset: nothing here touches
        the machine."""
        raise PressNeeded(("RESTART INTO", "MAINTENANCE?"), self._maintenance)

    def _maintenance(self):
        self.device.restart_maintenance()
        return {"restarting": "maintenance"}
