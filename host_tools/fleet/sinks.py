"""Where a fleet's secrets go: one export file that always holds every
finished token (FileSink), or a privacyIDEA server that each token's
accounts are enrolled into (ServerSink).

A token's secrets exist only on the token and in memory until put() has
them out; put() comes last, after the token took them, so a file or a
server never holds a secret the token lacks. FileSink writes the whole
file again for each token (atomically, 0600): a stop at any point leaves
the last whole file. A run that goes on from a journal reads the file
back first (exports.readback), since it is the only place a finished
token's secrets are kept.
"""
import os
import threading

from host_tools import exports
from host_tools.errors import ExportError, ServerError, UsageError
from host_tools.exports import readback
from host_tools.fleet.journal import DONE
from host_tools.privacyidea import KINDS as SERVER_KINDS


def records_of(serial, entry, template, secrets):
    """The exports.Records of one token: its journal entry (no secrets) and
    `secrets`, {credential: bytes}, in the entry's account order."""
    return [exports.Record(serial=serial, user=entry["user"], name=a["name"],
                           issuer=a["issuer"], kind=template.kind,
                           algorithm=template.algorithm, digits=template.digits,
                           secret=secrets[a["credential"]], period=template.period,
                           counter=template.counter, credential=a["credential"],
                           model=entry.get("model") or exports.MODEL)
            for a in entry["accounts"]]


class FileSink:
    def __init__(self, kind, path, psk=None, password=None, plaintext=False):
        self.kind = kind
        self.path = os.path.abspath(path)
        self.protection = {"psk": psk} if psk is not None else \
            {"password": password} if password is not None else {"plaintext": plaintext}
        self.records = {}  # serial -> [Record], every finished token's
        self.summary = None  # the last write's (exports.write)
        self._lock = threading.Lock()

    @property
    def output(self):
        """What the journal says of a token whose secrets went here."""
        return {"format": self.kind, "path": self.path}

    def check(self, records):
        exports.check(self.kind, records)

    def open(self, journal, template):
        """Read back the finished tokens this file holds, or refuse: a file
        that is not this journal's, or is missing some of them."""
        done = {s: e for s, e in journal.tokens.items()
                if e["state"] == DONE and e.get("output") == self.output}
        exists = os.path.lexists(self.path)
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            raise ExportError("cannot write into %s (missing, or not yours to write): nothing "
                              "written" % folder, "cannot_write")
        if not done:
            if exists:
                raise ExportError("%s exists and holds no token of the journal %s: nothing "
                                  "written (choose another --out, or move it away)"
                                  % (self.path, journal.path), "exists")
            return
        if not exists:
            raise ExportError(
                "%s is gone, but the journal says it holds the secrets of %d finished "
                "token(s) (%s): put it back, or write the next tokens to another --out "
                "(those stay done)" % (self.path, len(done), ", ".join(sorted(done))),
                "export_missing")
        held = readback.secrets_in(self.kind, self.path, **{
            k: v for k, v in self.protection.items() if k != "plaintext"})
        for serial, entry in done.items():
            missing = [a["credential"] for a in entry["accounts"] if a["credential"] not in held]
            if missing:
                raise ExportError("%s lacks %s, which the journal says it holds (%s's token "
                                  "%s): was it replaced? Nothing written"
                                  % (self.path, ", ".join(missing), entry["user"], serial),
                                  "export_mismatch")
            self.records[serial] = records_of(serial, entry, template, held)

    def reserve(self, serial, credentials, redo):
        pass  # a file has room for anything

    def put(self, serial, records, redo):
        with self._lock:
            everything = dict(self.records)
            everything[serial] = records
            self.summary = exports.write(self.kind, self.path,
                                         [r for rs in everything.values() for r in rs],
                                         overwrite=True, **self.protection)
            self.records = everything  # only once the file holds them

    def describe(self):
        return self.summary


class ServerSink:
    def __init__(self, client, realm=None):
        self.client = client  # host_tools.privacyidea.PrivacyIDEA
        self.realm = realm or None
        self.enrolled = 0

    @property
    def output(self):
        return {"privacyidea": self.client.url, "realm": self.realm}

    def check(self, records):
        for r in records:
            if r.kind not in SERVER_KINDS:
                raise UsageError("privacyIDEA takes TOTP or HOTP accounts, not %s" % r.kind)
            if r.kind == "hotp" and r.counter != 0:
                raise UsageError("privacyIDEA enrols HOTP at counter 0: drop --counter, or "
                                 "write a file (--format pskc) for it to load")
            if not r.user:
                raise UsageError("privacyIDEA needs a user for each token")

    def open(self, journal, template):
        # The server and the admin token, before any token is touched.
        self.client.token("TT-fleet-check")

    def reserve(self, serial, credentials, redo):
        """Refuse a token whose serials the server has already, unless this
        run started it (its accounts are then ours, to be replaced)."""
        if redo:
            return
        for credential in credentials:
            if self.client.token(credential) is not None:
                raise ServerError("privacyIDEA already has a token %s: this token was given out "
                                  "before; delete it on the server first, or use another token"
                                  % credential, "serial_exists")

    def put(self, serial, records, redo):
        for r in records:
            self.client.enrol(r.credential_id, r.secret, kind=r.kind, digits=r.digits,
                              period=r.period, algorithm=r.algorithm, user=r.user,
                              realm=self.realm, description="%s (%s)" % (r.name, serial),
                              replace=redo)
            self.enrolled += 1

    def describe(self):
        return {"privacyidea": self.client.url, "realm": self.realm, "enrolled": self.enrolled}
