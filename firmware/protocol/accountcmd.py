# The account commands: add, add-many, list, delete, rename, move, favourite,
# and show and code (an account on the screen; its code to the computer after a press
# on the token). Plugged into service.Service, which holds the privileged
# ones back until the PIN.
import binascii

import eventlog
import frames
from argcheck import bad, flag, integer, text
from rules import ADD_DEFAULTS, ADD_MANY, LIST_PAGE, default_digits
from service import CommandError, PressNeeded
from store import StoreError

_MAX_INDEX = 65535  # far above any capacity; keeps list's start a small int


def parse_account(args):
    """An add's arguments as store.add takes them (defaults filled in)."""
    d = ADD_DEFAULTS
    name = text(args, "name", required=True)
    issuer = text(args, "issuer", d["issuer"])
    kind = text(args, "kind", d["kind"])
    algorithm = text(args, "algorithm", d["algorithm"])
    secret_hex = text(args, "secret", required=True)
    try:
        secret = binascii.unhexlify(secret_hex)
    except Exception:
        raise bad("'secret' must be hex")
    digits = integer(args, "digits", default_digits(kind))
    period = integer(args, "period", d["period"])
    counter = integer(args, "counter", d["counter"])
    return name, issuer, secret, kind, algorithm, digits, period, counter


class Commands:
    # Every change to the accounts needs the PIN; what names an account
    # (list, show, code) only once the user asks for private names (config
    # --private-list). `code` needs a press on the token besides, and the
    # token unlocked on its own screen.
    privileged = ("add", "add-many", "delete", "rename", "move", "favourite")
    private = ("list", "show", "code")

    def __init__(self, store, keys, log, screens):
        """keys: only to clear the erased mark once accounts are back."""
        self.store = store
        self.keys = keys
        self.log = log
        self.screens = screens
        self.handlers = {
            "add": self.add,
            "add-many": self.add_many,
            "list": self.list,
            "delete": self.delete,
            "rename": self.rename,
            "move": self.move,
            "favourite": self.favourite,
            "show": self.show,
            "code": self.code,
        }

    def add(self, args, received):
        index = self.store.add(*parse_account(args))
        return self._added(args, index, 1, args["name"])

    def add_many(self, args, received):
        """Up to ADD_MANY accounts in one request, all or none: each bucket
        they land in is written once (store.add_many), and the host does
        not wait a round trip per account. A refusal says which one (at)."""
        accounts = args.get("accounts")
        if not isinstance(accounts, list) or not 1 <= len(accounts) <= ADD_MANY:
            raise bad("'accounts' must be a list of 1-%d accounts" % ADD_MANY)
        parsed = []
        i = 0
        try:
            for i in range(len(accounts)):
                if not isinstance(accounts[i], dict):
                    raise bad("each account must be an object")
                parsed.append(parse_account(accounts[i]))
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
        start = integer(args, "start", 0, 0, _MAX_INDEX)
        # A larger limit is served in pages of LIST_PAGE; the host pages on.
        limit = min(integer(args, "limit", LIST_PAGE, 1, _MAX_INDEX), LIST_PAGE)
        out = []
        i = start
        while i < store.count and len(out) < limit:
            out.append(store.meta(i))
            i += 1
        return {"total": store.count, "accounts": out}

    def _find(self, args):
        return self.store.find(text(args, "name", required=True), text(args, "issuer"))

    def delete(self, args, received):
        store = self.store
        store.delete(self._find(args))
        self.log.event(eventlog.DELETE, 1, store.count, 0, self.log.name_text(args["name"]))
        self.screens.accounts_changed(None)
        return {"count": store.count}

    def rename(self, args, received):
        """New name and/or issuer for the account named by name (+ issuer)."""
        store = self.store
        index = self._find(args)
        meta = store.meta(index)
        new_name = text(args, "new_name", meta["name"])
        new_issuer = text(args, "new_issuer", meta["issuer"])
        store.rename(index, new_name, new_issuer)
        self.screens.accounts_changed(index)
        return {"index": index}

    def move(self, args, received):
        """Move an account to position `to` (0-based); the button order follows."""
        store = self.store
        index = self._find(args)
        to = integer(args, "to", None, 0, store.count - 1)
        store.move(index, to)
        self.screens.accounts_changed(None)
        return {"index": to}

    def favourite(self, args, received):
        """Mark the named account a favourite (on, the default) or not:
        favourites come first on the button (store.py has the rules)."""
        store = self.store
        on = flag(args, "on", True)
        index = store.favourite(self._find(args), on)
        self.screens.accounts_changed(index)
        return {"index": index, "favourite": on, "favourites": store.favourites}

    def show(self, args, received):
        """Put the named account on the screen (once unlocked, if locked)."""
        index = self._find(args)
        self.screens.accounts_changed(index)
        return {"index": index, "count": self.store.count,
                "locked": bool(self.keys.pin and not self.keys.screen_unlocked)}

    def code(self, args, received):
        """The named account on screen; its code goes out at the next press
        on the token (frames.TOUCHED), or never."""
        index = self._find(args)
        keys = self.keys
        if keys.pin and not keys.screen_unlocked:
            raise CommandError(frames.E_LOCKED, "the token is locked: enter the PIN on the "
                               "token first")
        screens = self.screens
        if screens.clock_needed(index):
            raise CommandError(frames.E_CLOCK_LOST, "the token's clock is not set: no "
                               "time-based code (run sync-time)")
        return self._touch(index)

    def _touch(self, index):
        def send():
            code, extra = self.screens.send_code()
            meta = self.store.meta(index)
            self.log.event(eventlog.CODE_SENT, 1, index + 1, 0, self.log.name_text(meta["name"]))
            out = {"code": code, "index": index, "name": meta["name"], "issuer": meta["issuer"],
                   "kind": meta["kind"]}
            out.update(extra)
            return out
        raise PressNeeded(None, send, index)
