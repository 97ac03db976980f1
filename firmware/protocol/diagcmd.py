# Service commands about what the token keeps: its diagnostic log and the
# files in its data directory. Plugged into service.Service's handler table.
# Refusals are StoreErrors, which the service turns into protocol errors.
import os

import eventlog
from store import StoreError

LOG_PAGE = 16     # entries per `log` reply: about 60 bytes each
FILES_PAGE = 48   # names per `files` reply


def _bad(message):
    return StoreError("bad_args", message)


def _opt_int(args, key):
    v = args.get(key)
    if v is not None and (type(v) is not int or v < 0):
        raise _bad("'%s' must be a non-negative integer" % key)
    return v


class Commands:
    # Commands that change or destroy data: behind the same authority as
    # `wipe`; the log's names behind the PIN too with config --private-list.
    privileged = ("log-clear", "log-config")
    private = ("log",)

    def __init__(self, log, store):
        self.events = log  # (self.log is the `log` command)
        self.store = store
        self.handlers = {
            "log": self.log,
            "log-clear": self.log_clear,
            "log-config": self.log_config,
            "files": self.files,
        }

    def log(self, args, received):
        """Entries with after < seq < before; order "newest" (default, page
        on with before=the last seq seen) or "oldest" (after=, as --follow
        does)."""
        after = _opt_int(args, "after")
        before = _opt_int(args, "before")
        limit = _opt_int(args, "limit")
        order = args.get("order", "newest")
        if order not in ("newest", "oldest"):
            raise _bad("'order' is newest or oldest")
        limit = LOG_PAGE if limit is None else max(1, min(limit, LOG_PAGE))
        log = self.events
        log.flush(True)  # a reader wants everything so far
        entries, more = log.entries(after, before, limit, order == "newest")
        reply = log.stats()
        reply["entries"] = entries
        reply["more"] = more
        return reply

    def log_clear(self, args, received):
        if args.get("confirm") != "log-clear":
            raise _bad("log-clear needs confirm='log-clear'")
        try:
            self.events.clear()
        except OSError:
            raise StoreError("storage_full", "could not rewrite the log")
        return {"next": self.events.seq}

    def log_config(self, args, received):
        names = args.get("names")
        if names is not None:
            if not isinstance(names, bool):
                raise _bad("'names' must be true or false")
            try:
                self.events.set_names(names)
            except OSError:
                raise StoreError("storage_full", "could not write the log")
        return {"names": self.events.names}

    def files(self, args, received):
        """The data directory's files and sizes (paged by `start`), and the
        flash totals."""
        start = _opt_int(args, "start") or 0
        root = self.store.root
        names = sorted(os.listdir(root))
        out = []
        for name in names[start:start + FILES_PAGE]:
            st = os.stat(root + "/" + name)
            out.append([name, st[6], 1 if st[0] & 0x4000 else 0])
        return {"dir": root, "total": len(names), "files": out,
                "storage": self.store.storage()}


def synced(log, offset_ms, aging_before, trimmed):
    """A set-time: the offset found (None when the clock was lost) and the
    aging trim, if one was made."""
    after = trimmed["to"] if trimmed else aging_before
    log.event(eventlog.SYNC, None if offset_ms is None else int(round(offset_ms)),
              aging_before, after)
