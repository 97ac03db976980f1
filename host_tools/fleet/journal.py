"""The fleet's journal: which token went to whom, and how far each got.
No secret is in it: serials, people, account names, steps, where each
token's secrets went (a file or a server). It is rewritten whole after
every change (privatefile.py, mode 0600), so a run stopped at any point
(Ctrl-C, a crash, a lost token) leaves it as it was after the last step.

    {"fleet_journal": 1, "template": {...},
     "tokens": {"TT8P8VEHB84E": {"user": ..., "display_name": ..., "keys": [...],
                                 "accounts": [{"issuer", "name", "credential"}],
                                 "model": the token's board,
                                 "state": "started" | "done", "steps": [...],
                                 "output": {...}, "error": ...}}}

A person is given to a token once (assign), under a lock, so two tokens
provisioned at once never get the same person. One run at a time uses a
journal: a lock file beside it (flock) refuses a second.
"""
import json
import os
import threading

from host_tools.errors import UsageError
from host_tools.privatefile import write_private

try:
    import fcntl
except ImportError:  # Windows: one run at a time is then up to the user
    fcntl = None

VERSION = 1
STARTED, DONE = "started", "done"


class Journal:
    def __init__(self, path, template=None):
        """Open (or start) the journal at `path` for `template` (a dict;
        None: an existing journal, whatever its template); UsageError if it
        belongs to another template or another run has it."""
        self.path = path
        self._lock = threading.RLock()
        self._lock_fd = None
        self._lock_fd = _lock_file(path)
        try:
            self.doc = self._load()
            if self.doc is None:
                if template is None:
                    raise UsageError("no fleet journal at %s" % path, "not_found")
                self.doc = {"fleet_journal": VERSION, "template": template, "tokens": {}}
            elif template is not None and self.doc.get("template") != template:
                raise UsageError(
                    "%s was started with another template (%s): give the same options to "
                    "go on with it, or --journal NEW for a new fleet"
                    % (path, _template_text(self.doc.get("template"))), "journal_mismatch")
        except BaseException:
            self.close()
            raise

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise UsageError("cannot read the journal %s: %s" % (self.path, e.strerror or e),
                             "bad_journal") from None
        except ValueError:
            raise UsageError("%s is not a fleet journal (not JSON)" % self.path,
                             "bad_journal") from None
        if not isinstance(doc, dict) or doc.get("fleet_journal") != VERSION \
                or not isinstance(doc.get("tokens"), dict):
            raise UsageError("%s is not a fleet journal this version reads" % self.path,
                             "bad_journal")
        return doc

    def close(self):
        if self._lock_fd is None:
            return
        if not os.path.exists(self.path):
            # Nothing was ever written: leave nothing behind, the lock file
            # included (a run refused before any token leaves no trace).
            try:
                os.unlink(self.path + ".lock")
            except OSError:
                pass
        os.close(self._lock_fd)  # releases the flock
        self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _save(self):
        data = json.dumps(self.doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        write_private(self.path, data.encode("utf-8"), overwrite=True)

    # ---- reading ----

    @property
    def tokens(self):
        with self._lock:
            return {s: dict(e) for s, e in self.doc["tokens"].items()}

    def entry(self, serial):
        with self._lock:
            entry = self.doc["tokens"].get(serial)
            return dict(entry) if entry else None

    def users(self):
        """Everyone given a token (finished or not), as Person.key compares."""
        with self._lock:
            return {e["user"].casefold() for e in self.doc["tokens"].values()}

    # ---- changes, each saved at once ----

    def assign(self, serial, people, plan):
        """Give token `serial` the first person in `people` without a token;
        plan(person) -> a dict of what the token will get (keys, accounts,
        model). The new entry, or None when everyone has one."""
        with self._lock:
            taken = self.users()
            for person in people:
                if person.key not in taken:
                    entry = {"user": person.user, "display_name": person.display_name,
                             "state": STARTED, "steps": [], "output": None, "error": None}
                    entry.update(plan(person))
                    self.doc["tokens"][serial] = entry
                    self._save()
                    return dict(self.doc["tokens"][serial])
            return None

    def update(self, serial, **fields):
        with self._lock:
            self.doc["tokens"][serial].update(fields)
            self._save()

    def step(self, serial, name):
        with self._lock:
            entry = self.doc["tokens"][serial]
            entry["steps"] = [s for s in entry["steps"] if s != name] + [name]
            self._save()

    def finish(self, serial, output):
        self.update(serial, state=DONE, output=output, error=None)

    def failed(self, serial, message):
        if self.entry(serial):
            self.update(serial, error=message)

    def release(self, serial):
        """Forget an unfinished token: its person may get another one. A
        finished token is refused (its secrets went out already)."""
        with self._lock:
            entry = self.doc["tokens"].get(serial)
            if entry is None:
                raise UsageError("%s has no token %s" % (self.path, serial), "not_found")
            if entry["state"] == DONE:
                raise UsageError("%s is done (%s has it, its secrets went out): wipe it and "
                                 "delete its accounts on the server instead"
                                 % (serial, entry["user"]), "token_done")
            del self.doc["tokens"][serial]
            self._save()
            return entry


def _template_text(template):
    if not isinstance(template, dict):
        return "unknown"
    return ", ".join("%s=%s" % (k, template[k]) for k in sorted(template))


def _lock_file(path):
    if fcntl is None:
        return None
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise UsageError("cannot open %s.lock: %s" % (path, e.strerror or e),
                         "bad_journal") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError("another fleet run is using %s: wait for it to end" % path,
                         "journal_busy") from None
    return fd
