# The serial commands' front door: finds a request's handler in the command
# families the app plugs in (accountcmd, clockcmd, lockcmd, devicecmd,
# diagcmd), holds back what a family declares privileged until the request
# proves the PIN, and turns the store's and the lock's refusals into protocol
# errors. The handlers themselves live with their families.
import frames
from keystore import AuthError
from store import StoreError


class PressNeeded(Exception):
    """A checked request that waits for a hand on the token: `run` does it
    (through Service.confirmed). frames.CONFIRMED: `what` for the screen,
    done once the button is held. frames.TOUCHED: `account` (an index) on
    the screen, done at any press."""

    def __init__(self, what, run, account=None):
        super().__init__("press needed")
        self.what = what
        self.run = run
        self.account = account


class CommandError(Exception):
    def __init__(self, code, message, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra  # more reply members (tries_left)


class Service:
    def __init__(self, keys, families):
        """families: objects with `handlers` (command -> fn(args, received)),
        `privileged` (commands that, with a PIN set, need an authenticated
        request: docs/security.md) and `private` (reads that need it too
        once config --private-list is on)."""
        self.keys = keys
        self.handlers = {}
        self.privileged = set()
        self.private = set()
        for f in families:
            self.handlers.update(f.handlers)
            self.privileged.update(f.privileged)
            self.private.update(f.private)

    def gated(self, cmd):
        """Whether cmd needs an authenticated request right now."""
        keys = self.keys
        return bool(keys.pin) and (cmd in self.privileged
                                   or (cmd in self.private and bool(keys.list_private)))

    def handle(self, cmd, args, received, auth=None):
        """auth: (signed bytes, seq, mac) from frames.split_auth, or None."""
        fn = self.handlers.get(cmd)
        if fn is None:
            raise CommandError(frames.E_UNKNOWN_CMD, "unknown command")
        if self.gated(cmd):
            if auth is None:
                raise CommandError(frames.E_AUTH, "the token has a PIN: this command needs it")
            self.confirmed(self.keys.check_request, auth[1], auth[2], auth[0])
        return self.confirmed(fn, args, received)

    def confirmed(self, fn, *args):
        """fn(*args) with the store's and the lock's refusals as CommandError."""
        try:
            return fn(*args)
        except StoreError as e:
            raise CommandError(e.code, e.message)
        except AuthError as e:  # (the last wrong PIN: the keystore's on_erased did the rest)
            extra = None if e.tries_left is None else {"tries_left": e.tries_left}
            raise CommandError(e.code, e.message, extra)
