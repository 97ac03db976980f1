# The lock's commands (docs/security.md): the login (auth-challenge, auth,
# logout), setting, changing and removing the PIN, and wipe. Plugged into
# service.Service; what changes or removes an existing lock needs the PIN.
import binascii

import erase
import eventlog
from argcheck import bad, flag, hexbytes, integer
from keystore import TRIES_MAX, TRIES_MIN, AuthError
from service import CommandError, PressNeeded
from store import StoreError

AUTH_SCHEME = "pin-x25519-1"  # docs/security.md
_SEALED_PIN = 16 + 32 + 32 + 24  # salt, W, V, seal overhead


def _hex(b):
    return binascii.hexlify(b).decode()


class Commands:
    # pin-set is open: without a PIN there is nothing to prove, and with one
    # it is refused anyway.
    privileged = ("wipe", "pin-change", "pin-remove")
    private = ()

    def __init__(self, keys, store, log, screens):
        """store: wiped, and resealed under a new PIN's data key."""
        self.keys = keys
        self.store = store
        self.log = log
        self.screens = screens
        self.handlers = {
            "auth-challenge": self.auth_challenge,
            "auth": self.auth,
            "logout": self.logout,
            "pin-set": self.pin_set,
            "pin-change": self.pin_change,
            "pin-remove": self.pin_remove,
            "wipe": self.wipe,
        }

    def auth_challenge(self, args, received):
        """A fresh challenge and the token's X25519 half for it: a login
        (with a PIN) or a first PIN (without)."""
        k = self.keys
        challenge, public = k.new_challenge()
        reply = {"pin": k.pin, "scheme": AUTH_SCHEME,
                 "challenge": _hex(challenge), "public": _hex(public)}
        if k.pin:
            reply.update({"salt": _hex(k.salt), "iterations": k.iterations,
                          "tries_left": k.tries_left, "tries_max": k.tries_max})
        return reply

    def auth(self, args, received):
        k = self.keys
        challenge = hexbytes(args, "challenge", 16)
        public = hexbytes(args, "public", 32)
        sealed = hexbytes(args, "key", 32 + 24)
        try:
            k.authenticate(challenge, public, sealed)
        except AuthError as e:
            if e.code == "wrong_pin":  # (the last try's erase redraws by itself)
                self.screens.host_pin(False)
            raise
        self.screens.host_pin(True)  # the shared counter is full again
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
        challenge = hexbytes(args, "challenge", 16)
        public = hexbytes(args, "public", 32)
        sealed = hexbytes(args, "new", _SEALED_PIN)
        tries = args.get("tries_max")
        if tries is not None:
            tries = integer(args, "tries_max", None, TRIES_MIN, TRIES_MAX)
        salt, w, v = k.open_first_pin(challenge, public, sealed)
        raise PressNeeded(("SET A PIN?", "(locks token)"), lambda: self._pin_set(salt, w, v, tries))

    def _pin_set(self, salt, w, v, tries):
        k = self.keys
        if tries is not None:
            k.configure(tries_max=tries)
        self._new_pin(salt, w, v)
        k.clear_erased()
        return self._pin_changed()

    def pin_change(self, args, received):
        blob = hexbytes(args, "new", _SEALED_PIN)
        plain = self.keys.open_sealed(blob, b"pin-change")
        self._new_pin(plain[:16], plain[16:48], plain[48:80])
        return self._pin_changed()

    def _pin_changed(self):
        self.screens.lock_changed()
        self.log.event(eventlog.PIN_SET, 1)
        return {"pin": True, "tries_left": self.keys.tries_left}

    def _new_pin(self, salt, w, v):
        """The new PIN brings a new data key: every record is resealed under
        it (whoever read the flash before learns nothing of what comes
        next). A cut or a full flash leaves the rest to the next unlock."""
        self.keys.set_pin(salt, w, v)
        store = self.store
        if store.count:
            self.screens.busy("Resealing...")
        try:
            store.renew(self.screens.progress if store.count else None)
        except (OSError, StoreError):
            pass  # the PIN is set; the renewal mark says where to go on

    def pin_remove(self, args, received):
        if not self.keys.pin:
            raise CommandError("no_pin", "no PIN is set")
        raise PressNeeded(("REMOVE THE PIN?", "(unlocks token)"), self._pin_remove)

    def _pin_remove(self):
        self.keys.remove_pin()
        self.screens.lock_changed()
        self.log.event(eventlog.PIN_SET, 0)
        return {"pin": False}

    def wipe(self, args, received):
        if args.get("confirm") != "wipe":
            raise bad("wipe needs confirm='wipe'")
        scrub = flag(args, "scrub", False)
        n = self.store.count
        raise PressNeeded(("WIPE ALL %d" % n, "ACCOUNTS?"), lambda: self._wipe(scrub))

    def _wipe(self, scrub):
        screens = self.screens
        if scrub:
            screens.busy("Erasing flash...")
        n = erase.wipe(self.keys, self.store, scrub, screens.progress if scrub else None)
        self.keys.clear_erased()
        self.log.event(eventlog.WIPE, n)
        screens.accounts_changed(None)
        return {"deleted": n}
