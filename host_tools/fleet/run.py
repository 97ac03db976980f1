"""One fleet run: tokens provisioned for people, several at once (a thread
per token) or one after another, each recorded in the journal.

Per token, in this order:
  1. `info`: its serial. A token the journal has done is skipped; a token
     that holds accounts the run did not add, has a PIN it does not know,
     or has too little room is refused, with nothing written to it and
     nobody given to it (--wipe-first deletes the accounts, after a hold
     on its button).
  2. the next person without a token is given to it, in the journal,
     before anything is written to it: two tokens never get one person.
  3. its accounts, with fresh secrets from this computer (add-many);
  4. its clock, from this computer's (sync-time);
  5. a PIN, when asked: written to the PIN file first, then set (the
     token waits for a hold on its button);
  6. the secrets out: into the export file (rewritten whole) or enrolled
     on the server (sinks.py);
  7. done, in the journal.
A token that fails part way keeps its person in the journal. The next run
with it plugged in deletes the accounts it half got (they were never
handed out) and starts again from 3 with fresh secrets; --release SERIAL
gives its person to another token instead.
"""
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from host_tools import exports
from host_tools.batching import batches
from host_tools.errors import EXIT_INTERRUPTED, EXIT_REFUSED, CommandError, TokenError
from host_tools.fleet.journal import DONE
from host_tools.fleet.people import Person
from host_tools.fleet.pins import new_pin

STEPS = ("wipe", "accounts", "clock", "pin", "out")


@dataclasses.dataclass
class Outcome:
    """What became of one token. state: done (in this run), skipped (done
    before), idle (nobody left for it), refused (nothing written to it),
    failed (part way: run again with it plugged in), stopped (Ctrl-C)."""
    port: str
    serial: str = None
    user: str = None
    display_name: str = ""
    accounts: list = dataclasses.field(default_factory=list)  # labels issuer:name
    credentials: list = dataclasses.field(default_factory=list)
    pin: bool = False
    state: str = "failed"
    step: str = None  # the step it was at
    message: str = ""
    code: str = None
    exit_code: int = 0

    def fill(self, entry):
        self.user = entry["user"]
        self.display_name = entry.get("display_name", "")
        self.accounts = [("%s:%s" % (a["issuer"], a["name"])) if a["issuer"] else a["name"]
                         for a in entry["accounts"]]
        self.credentials = [a["credential"] for a in entry["accounts"]]
        self.pin = "pin" in entry.get("steps", ())

    def as_dict(self):
        return dataclasses.asdict(self)


class Refused(CommandError):
    """The token can't be provisioned as it is; nothing was written to it."""

    def __init__(self, message, code):
        CommandError.__init__(self, message, code, EXIT_REFUSED)


class Stopped(Exception):
    pass


class Fleet:
    def __init__(self, people, template, journal, sink, open_client, *, pins=None,
                 pin_digits=None, wipe_first=False, on_event=None):
        """open_client(port) -> a TokenClient; pins: a PinFile, with
        pin_digits the length of the PINs to make (None: no PIN);
        on_event(kind, outcome, detail): "start", "step", "hold", "end"."""
        self.people = people
        self.template = template
        self.journal = journal
        self.sink = sink
        self.open_client = open_client
        self.pins = pins
        self.pin_digits = pin_digits
        self.wipe_first = wipe_first
        self.on_event = on_event
        self.stop = threading.Event()
        self._turns = _Turns(self.stop)

    # ---- which people are left ----

    def left(self):
        """The people without a token (done or under way)."""
        taken = self.journal.users()
        return [p for p in self.people if p.key not in taken]

    def unfinished(self):
        """The serials of tokens given a person but not done (they failed
        or were stopped part way): each waits to be plugged in again."""
        return sorted(s for s, e in self.journal.tokens.items() if e["state"] != DONE)

    def to_do(self):
        return len(self.left()) + len(self.unfinished())

    # ---- running ----

    def parallel(self, ports):
        """Provision the tokens on `ports` at once, a thread each. People
        are given in the ports' order (the first port's token gets the
        first person left), whichever token is quicker. Ctrl-C stops every
        token at its next step."""
        outcomes = [None] * len(ports)
        self._turns = _Turns(self.stop)
        with ThreadPoolExecutor(max_workers=max(1, len(ports)),
                                thread_name_prefix="fleet") as pool:
            futures = {pool.submit(self.token, port, i): i for i, port in enumerate(ports)}
            try:
                for future in as_completed(futures):
                    outcomes[futures[future]] = future.result()
            except KeyboardInterrupt:
                self.stop.set()
                for future, i in futures.items():
                    outcomes[i] = future.result()
        return outcomes

    def one_by_one(self, next_port):
        """next_port(to_do) -> the port of the next token plugged in, or
        None to end; until everyone has a finished token."""
        outcomes = []
        while not self.stop.is_set():
            to_do = self.to_do()
            if not to_do:
                break
            try:
                port = next_port(to_do)
            except KeyboardInterrupt:
                break
            if port is None:
                break
            outcomes.append(self.token(port))
        return outcomes

    def token(self, port, turn=None):
        """Provision the token on `port`; its Outcome (never raises for the
        token's own trouble: that is the outcome). turn: its place in the
        order people are given out (parallel)."""
        out = Outcome(port=port)
        client = None
        try:
            client = self.open_client(port)
            self._provision(client, out, turn)
        except Stopped:
            self._stopped(out)
        except KeyboardInterrupt:  # only ever in the main thread
            self.stop.set()
            self._stopped(out)
        except (TokenError, CommandError) as e:
            self._failed(out, e)
        finally:
            self._turns.done(turn)
            if client is not None:
                try:
                    client.close()
                except (TokenError, OSError):
                    pass
        self._event("end", out)
        return out

    def _stopped(self, out):
        out.state, out.code, out.exit_code = "stopped", "interrupted", EXIT_INTERRUPTED
        if out.user is None:
            out.message = "stopped before it was given anyone; nothing was written to it"
            return
        out.message = "stopped%s: run fleet again with it plugged in to finish it" % (
            " at step %s" % out.step if out.step else "")

    def _failed(self, out, error):
        out.code, out.exit_code = error.code, error.exit_code
        if isinstance(error, Refused) or out.user is None:
            out.state = "refused"
            out.message = "%s; nothing was written to it" % error.message
            return
        out.state = "failed"
        out.message = ("%s at step %s: run fleet again with it plugged in to finish it "
                       "(fresh secrets), or --release %s to give %s another token"
                       % (error.message, out.step, out.serial, out.user))
        self.journal.failed(out.serial, "%s: %s" % (out.step, error.message))

    def _event(self, kind, out, detail=None):
        if self.on_event is not None:
            self.on_event(kind, out, detail)

    def _step(self, out, name):
        if self.stop.is_set():
            raise Stopped()
        out.step = name
        self._event("step", out, name)

    # ---- one token ----

    def _provision(self, client, out, turn):
        info = client.info()
        serial = info.get("serial")
        if not serial:
            raise Refused("the token on %s has no serial number: update its firmware "
                          "(make deploy)" % out.port, "no_serial")
        out.serial = serial
        entry = self.journal.entry(serial)
        if entry and entry["state"] == DONE:
            out.fill(entry)
            out.state, out.message = "skipped", "provisioned for %s before" % entry["user"]
            return
        self._event("start", out)
        auth = info.get("auth") or {}
        if auth.get("erased"):
            raise Refused("%s erased itself after wrong PINs: set it up again first "
                          "(provision.py wipe --yes)" % serial, "erased")
        known = self.pins.get(serial) if (entry and self.pins) else None
        if auth.get("pin"):
            if known is None:
                raise Refused("%s has a PIN this fleet did not set: remove it (pin remove) "
                              "or factory-reset the token first" % serial, "has_pin")
            client.pin = lambda: known
        client.on_confirm = lambda cmd: self._event("hold", out, cmd)
        present = client.list_accounts()
        redo = entry is not None
        if redo:
            out.fill(entry)
            self._clear(client, out, entry, present)
        else:
            entry = self._assign(client, info, out, present, turn)
            if entry is None:
                out.state, out.message = "idle", "everyone has a token: nothing written to it"
                return
        self._write(client, out, entry, redo, has_pin=bool(auth.get("pin")))

    def _assign(self, client, info, out, present, turn):
        serial = out.serial
        if present and not self.wipe_first:
            raise Refused("%s holds %d account(s): a fleet token starts empty, so none is "
                          "provisioned twice (--wipe-first deletes them first)"
                          % (serial, len(present)), "not_empty")
        capacity = info.get("capacity")
        need = self.template.most_accounts
        if isinstance(capacity, int) and capacity < need:
            raise Refused("%s holds at most %d account(s), and each person gets up to %d"
                          % (serial, capacity, need), "store_full")
        self.sink.reserve(serial, _credentials(serial, need), redo=False)
        self._turns.wait(turn)
        if self.stop.is_set():
            raise Stopped()  # before a person is given to it: nothing to finish later
        entry = self.journal.assign(serial, self.people, lambda person: self._plan(
            serial, person, info))
        self._turns.done(turn)
        if entry is None:
            return None
        out.fill(entry)
        if present:
            self._step(out, "wipe")
            client.wipe()
            self.journal.step(serial, "wipe")
        return entry

    def _plan(self, serial, person, info):
        """The journal's record of what token `serial` gets for `person`."""
        labels = self.template.labels(person)
        credentials = _credentials(serial, len(labels))
        return {"keys": [k for k, _, _ in labels], "model": info.get("board") or exports.MODEL,
                "accounts": [{"issuer": issuer, "name": name, "credential": credential}
                             for (_, issuer, name), credential in zip(labels, credentials)]}

    def _clear(self, client, out, entry, present):
        """A token this run started before: delete what it half got (never
        handed out); anything else on it needs --wipe-first."""
        ours = {(a["issuer"], a["name"]) for a in entry["accounts"]}
        others = [a for a in present if (a.get("issuer", ""), a.get("name")) not in ours]
        self._step(out, "wipe")
        if others:
            if not self.wipe_first:
                raise CommandError("%s holds %d account(s) this fleet did not add: "
                                   "--wipe-first deletes them" % (out.serial, len(others)),
                                   "not_empty", EXIT_REFUSED)
            client.wipe()
            return
        for a in present:
            client.delete(a["name"], a.get("issuer", ""))  # "" too: exactly that pair

    def _write(self, client, out, entry, redo, has_pin):
        serial = out.serial
        person = Person(user=entry["user"], display_name=entry.get("display_name", ""))
        planned = self.template.plan(person, tuple(entry["keys"]))
        records = [exports.Record(
            serial=serial, user=person.user, name=account.name, issuer=account.issuer,
            kind=account.kind, algorithm=account.algorithm, digits=account.digits,
            secret=account.secret, period=account.period, counter=account.counter,
            credential=a["credential"], model=entry.get("model") or exports.MODEL)
            for (_, account), a in zip(planned, entry["accounts"])]
        self._step(out, "accounts")
        accounts = [account for _, account in planned]
        parts = batches(accounts)
        for n, batch in enumerate(parts, 1):
            # The last shows the person's account on the screen: the label
            # to put on the token is there to read.
            client.add_many(batch, show=n == len(parts))
        self.journal.step(serial, "accounts")
        self._step(out, "clock")
        client.sync_time()
        self.journal.step(serial, "clock")
        if has_pin:  # set by this fleet before a stop: its PIN is in the PIN file
            self.journal.step(serial, "pin")
            out.pin = True
        elif self.pin_digits:
            self._step(out, "pin")
            pin = new_pin(self.pin_digits)
            self.pins.put(serial, person, pin)  # first: a stop after the set can open it
            client.pin = lambda: pin
            client.pin_set(pin)
            self.journal.step(serial, "pin")
            out.pin = True
        self._step(out, "out")
        self.sink.put(serial, records, redo)
        self.journal.finish(serial, self.sink.output)
        out.state, out.step, out.message = "done", None, ""


class _Turns:
    """Tokens provisioned at once take turns at being given a person, in
    the order of their ports; a token that never gets there (refused,
    failed, done before) passes its turn on."""

    def __init__(self, stop):
        self._cond = threading.Condition()
        self._next = 0
        self._passed = set()
        self._stop = stop

    def wait(self, turn):
        with self._cond:
            while turn is not None and self._next < turn and not self._stop.is_set():
                self._cond.wait(0.2)

    def done(self, turn):
        if turn is None:
            return
        with self._cond:
            self._passed.add(turn)
            while self._next in self._passed:
                self._next += 1
            self._cond.notify_all()


def _credentials(serial, n):
    """The names a server knows a token's n accounts by (exports.number_credentials)."""
    stand_ins = [exports.Record(serial=serial, user="", name="x", issuer="", kind="totp",
                                algorithm="SHA1", digits=6, secret=b"")] * n
    return [r.credential_id for r in exports.number_credentials(stand_ins)]
