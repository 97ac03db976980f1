"""Issue 18: `provision.py fleet` without a token. The people file and the
template refused with clear errors and nothing written; the run's own logic
(host_tools/fleet/run.py) against stand-in tokens: a person given once, a
token provisioned once, a token that fails part way named and finished by
the next run with fresh secrets, an interrupted run resumed, the export
always holding every finished token and nothing else. The real firmware
does the same in tests/sim/test_fleet_sim.py."""
import base64
import io
import json
import os
import stat
import threading

import pytest

from firmware.protocol import frames
from host_tools import exports, fleet, link, provision
from host_tools.errors import DeviceError, ExportError, LinkLostError, UsageError
from host_tools.exports import readback
from host_tools.fleet import people as people_csv

PEOPLE = "user,display_name\nalice@example.com,Alice\nbob@example.com,Bob\ncarol@example.com,Carol\n"


# ---- the people file ----

def _refused(text, code):
    with pytest.raises(UsageError) as e:
        people_csv.parse(text, "people.csv")
    assert e.value.code == code, e.value.message
    return e.value.message


def test_a_person_twice_is_refused_naming_both_lines():
    message = _refused("user\nalice@example.com\nbob@example.com\nAlice@Example.com\n",
                       "duplicate_user")
    assert "line 4" in message and "line 2" in message and "Alice@Example.com" in message


def test_an_unknown_column_is_refused_with_the_known_ones():
    message = _refused("user,phone\nalice@example.com,123\n", "unknown_column")
    assert "'phone'" in message and "user, display_name, accounts" in message
    assert "two columns" in _refused("upn,user\na,b\n", "unknown_column")


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff"])
def test_an_empty_file_is_refused(text):
    assert "empty" in _refused(text, "no_people")


def test_a_header_without_people_is_refused():
    assert "no people" in _refused("user,display_name\n", "no_people")


@pytest.mark.parametrize("text, words", [
    ("display_name\nAlice\n", "no user column"),
    ("user,display_name\n,Alice\n", "line 2: no user"),
    ("user\nalice,extra\n", "2 cells, but 1 columns"),
    ("user\n=cmd|calc\n", "formula"),
    ("user,name\nalice,Al\x07ice\n", "control character"),
])
def test_bad_rows_are_refused_naming_the_line(text, words):
    assert words in _refused(text, "bad_people")


def test_a_spreadsheets_csv_with_aliases_reads():
    found = people_csv.parse("\ufeffuserPrincipalName,displayName,Accounts\r\n"
                             "helga@contoso.com,\"Jansen, Helga\",vpn; mail\r\n"
                             "bob@contoso.com,Bob,\r\n\r\n")
    assert [(p.user, p.display_name, p.accounts, p.line) for p in found] == [
        ("helga@contoso.com", "Jansen, Helga", ("vpn", "mail"), 2),
        ("bob@contoso.com", "Bob", None, 3)]


# ---- the template ----

def _template_refused(template, people=None, code="bad_template"):
    with pytest.raises(UsageError) as e:
        fleet.preflight(people or people_csv.parse(PEOPLE), template, _sink())
    assert e.value.code == code, e.value.message
    return e.value.message


def _sink(tmp=None, kind="pskc", **protection):
    return fleet.FileSink(kind, os.path.join(tmp or "/nonexistent", "out"),
                          **(protection or {"psk": exports.new_psk()}))


def test_templates_the_token_cant_take_are_refused_before_any_token():
    assert "{account}" in _template_refused(fleet.Template(accounts=("vpn", "mail")))
    assert "unknown {mail}" in _template_refused(fleet.Template(name="{mail}"))
    assert "digits" in _template_refused(fleet.Template(digits=9))
    assert "TOTP or HOTP" in _template_refused(fleet.Template(kind="steam"))
    long_user = people_csv.parse("user\n%s@example.com\n" % ("x" * 40))
    message = _template_refused(fleet.Template(), long_user)
    assert "line 2" in message and "{local}" in message


def test_a_persons_accounts_must_be_the_templates():
    found = people_csv.parse("user,accounts\nalice,vpn\nbob,erp\n")
    message = _template_refused(fleet.Template(issuer="{account}", accounts=("vpn", "mail")),
                                found)
    assert "bob (line 3)" in message and "'erp'" in message
    template = fleet.Template(issuer="X {account}", accounts=("vpn", "mail"))
    assert [label for _, _, label in template.labels(found[0])] == ["alice"]
    assert [i for _, i, _ in template.labels(found[0])] == ["X vpn"]


def test_entra_refuses_a_template_it_cant_take():
    with pytest.raises(ExportError) as e:
        fleet.preflight(people_csv.parse(PEOPLE), fleet.Template(algorithm="SHA256"),
                        _sink(kind="entra", plaintext=True))
    assert e.value.code == "unsupported_template" and "Entra" in e.value.message


# ---- the command line: bad input writes nothing and touches no token ----

@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(link, "SerialLink", lambda *a, **k: pytest.fail("a port was opened"))
    monkeypatch.setattr(link, "candidates", lambda: pytest.fail("ports were looked for"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    (tmp_path / "people.csv").write_text(PEOPLE)
    return tmp_path


def _cli(*args):
    out = io.StringIO()
    import contextlib
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = provision.main(["--json", "--port", "/dev/null-token"] + list(args))
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("people, args, code", [
    ("user\na\nA\n", ["--out", "f.pskc", "--psk-file", "k.psk"], "duplicate_user"),
    ("user,phone\na,1\n", ["--out", "f.pskc", "--psk-file", "k.psk"], "unknown_column"),
    ("", ["--out", "f.pskc", "--psk-file", "k.psk"], "no_people"),
    (PEOPLE, ["--out", "f.pskc"], "no_protection"),
    (PEOPLE, ["--format", "entra", "--out", "e.csv", "--plaintext", "--digits", "8"],
     "unsupported_template"),
    (PEOPLE, ["--format", "entra", "--out", "e.csv"], "plaintext_refused"),
    (PEOPLE, ["--format", "privacyidea-csv", "--out", "p.csv", "--psk", "00" * 16],
     "plaintext_refused"),
    (PEOPLE, [], "no_output"),
    (PEOPLE, ["--out", "f.pskc", "--psk", "abc"], "bad_psk"),
    (PEOPLE, ["--out", "f.pskc", "--password"], "no_password"),
    (PEOPLE, ["--privacyidea", "http://mfa.example.org"], "bad_url"),
    (PEOPLE, ["--privacyidea", "https://mfa.example.org"], "no_admin_token"),
    (PEOPLE, ["--out", "f.pskc", "--psk-file", "k.psk", "--accounts", "a,b"], "bad_template"),
    (PEOPLE, ["--out", "no/such/folder/f.pskc", "--psk-file", "k.psk"], "cannot_write"),
])
def test_bad_input_is_refused_and_nothing_is_written(folder, monkeypatch, people, args, code):
    monkeypatch.delenv("PRIVACYIDEA_TOKEN", raising=False)
    monkeypatch.delenv("TOKEN_EXPORT_PASSWORD", raising=False)
    (folder / "people.csv").write_text(people)
    exit_code, doc = _cli("fleet", "people.csv", *args)
    assert exit_code == 2 and doc["error"] == code, doc
    assert os.listdir(folder) == ["people.csv"]


def test_an_export_from_elsewhere_is_not_overwritten(folder):
    (folder / "f.pskc").write_text("someone else's")
    exit_code, doc = _cli("fleet", "people.csv", "--out", "f.pskc", "--psk-file", "k.psk")
    assert exit_code == 2 and doc["error"] == "exists", doc
    assert sorted(os.listdir(folder)) == ["f.pskc", "people.csv"]
    assert (folder / "f.pskc").read_text() == "someone else's"


# ---- stand-in tokens ----

class FakeToken:
    """A token as TokenClient shows it, in memory: accounts with their
    secrets, a PIN, a capacity; `fail` names a method that loses the link."""

    def __init__(self, serial, capacity=16, accounts=()):
        self.serial = serial
        self.capacity = capacity
        self.accounts = list(accounts)  # otpauth.Accounts
        self.pin_value = None
        self.fail = None
        self.pin = None
        self.on_confirm = None
        self.synced = 0
        self.opened = 0

    def _call(self, name):
        if self.fail == name:
            raise LinkLostError("lost the link to the token on %s" % self.serial)

    def _auth(self):
        if self.pin_value is not None and (self.pin is None or self.pin() != self.pin_value):
            raise DeviceError(frames.E_AUTH, "this needs the PIN")

    def info(self):
        self._call("info")
        return {"serial": self.serial, "capacity": self.capacity, "board": "fake",
                "auth": {"pin": self.pin_value is not None}}

    def list_accounts(self):
        self._call("list_accounts")
        return [{"index": i, "name": a.name, "issuer": a.issuer}
                for i, a in enumerate(self.accounts)]

    def add_many(self, accounts, show=True):
        self._call("add_many")
        self._auth()
        if len(self.accounts) + len(accounts) > self.capacity:
            raise DeviceError("store_full", "full")
        self.accounts.extend(accounts)
        return {"count": len(self.accounts)}

    def delete(self, name, issuer=None):
        self._call("delete")
        self._auth()
        self.accounts = [a for a in self.accounts if (a.name, a.issuer) != (name, issuer or "")]

    def wipe(self):
        self._call("wipe")
        self._auth()
        if self.on_confirm:
            self.on_confirm("wipe")
        self.accounts = []

    def sync_time(self):
        self._call("sync_time")
        self.synced += 1
        return {}

    def pin_set(self, pin):
        self._call("pin_set")
        if self.on_confirm:
            self.on_confirm("pin-set")
        self.pin_value = pin
        self._call("pin_set_reply")  # the PIN set, and the link lost before the reply

    def close(self):
        pass

    def secrets(self):
        return {(a.issuer, a.name): bytes(a.secret) for a in self.accounts}


def _tokens(n, **kw):
    return {"/dev/fake%d" % i: FakeToken("TTFAKE%06d" % i, **kw) for i in range(n)}


def _opener(tokens):
    def open_client(port):
        tok = tokens[port]
        tok.opened += 1
        tok.pin = None  # a new client each time, as TokenClient
        return tok
    return open_client


def _run(tmp, tokens, people=PEOPLE, template=None, sink=None, ports=None, **kw):
    template = template or fleet.Template(issuer="Example")
    found = people_csv.parse(people)
    sink = sink or fleet.FileSink("pskc", str(tmp / "fleet.pskc"), psk=PSK)
    fleet.preflight(found, template, sink)
    with fleet.Journal(str(tmp / "journal.json"), template.as_dict()) as journal:
        sink.open(journal, template)
        run = fleet.Fleet(found, template, journal, sink, _opener(tokens), **kw)
        outcomes = run.parallel(ports or list(tokens))
    return {o.port: o for o in outcomes}, journal


PSK = exports.new_psk()


def _exported(tmp, name="fleet.pskc", **protection):
    return readback.secrets_in("pskc", str(tmp / name), **(protection or {"psk": PSK}))


def _on_tokens(tokens):
    """credential -> secret, as the tokens hold them (one account each)."""
    return {t.serial: bytes(t.accounts[0].secret) for t in tokens.values() if t.accounts}


def test_tokens_get_people_in_port_order_and_the_export_holds_their_secrets(tmp_path):
    tokens = _tokens(4)
    outcomes, journal = _run(tmp_path, tokens)
    states = [outcomes[p].state for p in sorted(tokens)]
    assert states == ["done", "done", "done", "idle"]
    assert [outcomes[p].user for p in sorted(tokens)][:3] == [
        "alice@example.com", "bob@example.com", "carol@example.com"]
    assert tokens["/dev/fake3"].accounts == []  # nobody left for it: nothing written
    assert _exported(tmp_path) == _on_tokens(tokens)
    assert all(t.synced == 1 for t in list(tokens.values())[:3])
    assert len({a.secret for t in tokens.values() for a in t.accounts}) == 3
    assert all(len(a.secret) == 20 for t in tokens.values() for a in t.accounts)
    for path in ("fleet.pskc", "journal.json"):
        assert stat.S_IMODE(os.stat(tmp_path / path).st_mode) == 0o600
    text = (tmp_path / "journal.json").read_text()
    for secret in _on_tokens(tokens).values():
        assert secret.hex() not in text and base64.b32encode(secret).decode()[:16] not in text


def test_many_tokens_at_once_never_share_a_person(tmp_path):
    people = "user\n" + "".join("p%d@example.com\n" % i for i in range(12))
    tokens = _tokens(12)
    outcomes, _ = _run(tmp_path, tokens, people=people)
    assert sorted(o.user for o in outcomes.values()) == sorted(
        "p%d@example.com" % i for i in range(12))


def test_a_run_again_provisions_no_token_twice(tmp_path):
    tokens = _tokens(2)
    _run(tmp_path, tokens)
    before = _exported(tmp_path)
    more = dict(tokens, **{"/dev/fakeN": FakeToken("TTFAKENEW001")})
    outcomes, _ = _run(tmp_path, more)
    assert [outcomes[p].state for p in ("/dev/fake0", "/dev/fake1", "/dev/fakeN")] == \
        ["skipped", "skipped", "done"]
    assert outcomes["/dev/fakeN"].user == "carol@example.com"
    assert all(len(t.accounts) == 1 for t in more.values())
    after = _exported(tmp_path)
    assert {k: after[k] for k in before} == before and len(after) == 3


def test_a_token_with_accounts_is_refused_unless_wipe_first(tmp_path):
    from host_tools.formats.otpauth import Account
    tokens = _tokens(2)
    tokens["/dev/fake0"].accounts = [Account(name="someone", secret=os.urandom(20))]
    outcomes, journal = _run(tmp_path, tokens, people="user\nalice\n")
    refused = outcomes["/dev/fake0"]
    assert refused.state == "refused" and refused.code == "not_empty"
    assert "TTFAKE000000" in refused.message and "--wipe-first" in refused.message
    assert refused.user is None and tokens["/dev/fake0"].accounts[0].name == "someone"
    assert outcomes["/dev/fake1"].user == "alice"  # the person went to the next token
    outcomes, _ = _run(tmp_path, {"/dev/fake0": tokens["/dev/fake0"]},
                       people="user\nalice\nbob\n", wipe_first=True)
    assert outcomes["/dev/fake0"].state == "done"
    assert [a.name for a in tokens["/dev/fake0"].accounts] == ["bob"]


def test_a_full_token_is_refused_and_its_person_waits(tmp_path):
    tokens = _tokens(1, capacity=2)
    template = fleet.Template(issuer="Example {account}", accounts=("a", "b", "c"))
    outcomes, journal = _run(tmp_path, tokens, template=template)
    out = outcomes["/dev/fake0"]
    assert out.state == "refused" and out.code == "store_full" and out.exit_code == 1
    assert "at most 2" in out.message and tokens["/dev/fake0"].accounts == []
    assert journal.tokens == {} and not (tmp_path / "fleet.pskc").exists()


@pytest.mark.parametrize("step", ["add_many", "sync_time", "pin_set", "pin_set_reply"])
def test_a_token_failing_part_way_is_named_and_the_next_run_finishes_it(tmp_path, step):
    tokens = _tokens(2)
    tokens["/dev/fake1"].fail = step
    pins = fleet.PinFile(str(tmp_path / "pins.csv"))
    outcomes, journal = _run(tmp_path, tokens, pins=pins, pin_digits=8)
    failed = outcomes["/dev/fake1"]
    assert failed.state == "failed" and failed.code == "link_lost" and failed.exit_code == 3
    assert "TTFAKE000001" in failed.message and "bob@example.com" in failed.message
    assert "run fleet again" in failed.message
    assert journal.tokens["TTFAKE000001"]["state"] == "started"
    # The export holds the finished token, not the failed one.
    assert set(_exported(tmp_path)) == {"TTFAKE000000"}
    half = tokens["/dev/fake1"].secrets()

    tokens["/dev/fake1"].fail = None
    set_before = tokens["/dev/fake1"].pin_value
    outcomes, journal = _run(tmp_path, tokens, pins=fleet.PinFile(str(tmp_path / "pins.csv")),
                             pin_digits=8)
    if set_before is not None:  # the token's PIN from the file opened it, and stays
        assert tokens["/dev/fake1"].pin_value == set_before
    assert outcomes["/dev/fake0"].state == "skipped"
    redone = outcomes["/dev/fake1"]
    assert redone.state == "done" and redone.user == "bob@example.com"
    assert redone.pin and journal.tokens["TTFAKE000001"]["steps"][-1] == "pin"
    assert len(tokens["/dev/fake1"].accounts) == 1  # the half-added one was deleted
    assert not set(half.values()) & set(tokens["/dev/fake1"].secrets().values())
    assert _exported(tmp_path) == _on_tokens(tokens)  # nothing lost, fresh secret for bob
    assert "carol@example.com" not in (tmp_path / "journal.json").read_text()
    pins_text = (tmp_path / "pins.csv").read_text()
    assert tokens["/dev/fake1"].pin_value in pins_text
    assert tokens["/dev/fake0"].pin_value in pins_text
    assert stat.S_IMODE(os.stat(tmp_path / "pins.csv").st_mode) == 0o600


def test_an_interrupted_run_stops_each_token_at_a_step_and_resumes(tmp_path):
    tokens = _tokens(3)

    def interrupt(kind, out, detail):
        if kind == "step" and detail == "clock" and out.port == "/dev/fake1":
            raise KeyboardInterrupt  # Ctrl-C, as it would reach the run
    outcomes, journal = _run(tmp_path, tokens, on_event=interrupt)
    assert outcomes["/dev/fake1"].state == "stopped"
    assert outcomes["/dev/fake1"].exit_code == 130
    # The others stop at their next step: some may have finished first.
    done = {p for p, o in outcomes.items() if o.state == "done"}
    assert {o.state for o in outcomes.values()} <= {"done", "stopped"}
    if done:
        assert set(_exported(tmp_path)) == {tokens[p].serial for p in done}
    else:
        assert not (tmp_path / "fleet.pskc").exists()
    outcomes, _ = _run(tmp_path, tokens)
    assert {o.state for p, o in outcomes.items() if p in done} <= {"skipped"}
    assert all(len(t.accounts) == 1 for t in tokens.values())
    assert _exported(tmp_path) == _on_tokens(tokens)
    assert sorted(o.user for o in outcomes.values()) == [
        "alice@example.com", "bob@example.com", "carol@example.com"]


def test_a_released_token_gives_its_person_to_the_next_one(tmp_path):
    tokens = _tokens(1)
    tokens["/dev/fake0"].fail = "sync_time"
    _run(tmp_path, tokens, people="user\nalice\n")
    with fleet.Journal(str(tmp_path / "journal.json")) as journal:
        assert journal.release("TTFAKE000000")["user"] == "alice"
    spare = {"/dev/spare": FakeToken("TTSPARE00001")}
    outcomes, _ = _run(tmp_path, spare, people="user\nalice\n")
    assert outcomes["/dev/spare"].user == "alice" and outcomes["/dev/spare"].state == "done"
    # The released token comes back holding half of alice's accounts: refused.
    tokens["/dev/fake0"].fail = None
    outcomes, _ = _run(tmp_path, tokens, people="user\nalice\nbob\n")
    assert outcomes["/dev/fake0"].code == "not_empty"


def test_a_resume_reads_the_export_back_first_and_refuses_a_wrong_password(tmp_path):
    password = "fleet password 1"
    sink = lambda pw: fleet.FileSink("pskc", str(tmp_path / "fleet.pskc"), password=pw)  # noqa: E731
    tokens = _tokens(1)
    _run(tmp_path, tokens, sink=sink(password))
    more = {"/dev/fakeN": FakeToken("TTFAKENEW001")}
    with pytest.raises(ExportError) as e:
        _run(tmp_path, more, sink=sink("another password"))
    assert e.value.code == "bad_password" and more["/dev/fakeN"].opened == 0
    assert password not in e.value.message
    _run(tmp_path, more, sink=sink(password))
    assert _exported(tmp_path, password=password) == _on_tokens(dict(tokens, **more))


def test_a_resume_without_the_export_says_so(tmp_path):
    tokens = _tokens(1)
    _run(tmp_path, tokens)
    os.unlink(tmp_path / "fleet.pskc")
    with pytest.raises(ExportError) as e:
        _run(tmp_path, _tokens(2))
    assert e.value.code == "export_missing" and "TTFAKE000000" in e.value.message
    # Another file for the next tokens: the finished one stays done.
    outcomes, _ = _run(tmp_path, _tokens(2), sink=fleet.FileSink(
        "pskc", str(tmp_path / "next.pskc"), psk=PSK))
    assert [o.state for o in outcomes.values()] == ["skipped", "done"]


def test_a_second_run_on_one_journal_is_refused(tmp_path):
    template = fleet.Template().as_dict()
    with fleet.Journal(str(tmp_path / "j.json"), template):
        with pytest.raises(UsageError) as e:
            fleet.Journal(str(tmp_path / "j.json"), template)
        assert e.value.code == "journal_busy"
    with fleet.Journal(str(tmp_path / "j.json"), template) as journal:
        journal.assign("TTX", people_csv.parse("user\na\n"), lambda p: {"keys": [""],
                                                                          "accounts": []})
    with pytest.raises(UsageError) as e:
        fleet.Journal(str(tmp_path / "j.json"), fleet.Template(digits=8).as_dict())
    assert e.value.code == "journal_mismatch"


def test_one_by_one_asks_for_each_token_and_skips_a_done_one(tmp_path):
    tokens = _tokens(2)
    plugged = iter(["/dev/fake0", "/dev/fake0", "/dev/fake1"])
    asked = []

    def next_port(left):
        asked.append(left)
        return next(plugged, None)
    template = fleet.Template(issuer="Example")
    found = people_csv.parse("user\nalice\nbob\n")
    sink = fleet.FileSink("pskc", str(tmp_path / "f.pskc"), psk=PSK)
    with fleet.Journal(str(tmp_path / "j.json"), template.as_dict()) as journal:
        sink.open(journal, template)
        run = fleet.Fleet(found, template, journal, sink, _opener(tokens))
        outcomes = run.one_by_one(next_port)
    assert [o.state for o in outcomes] == ["done", "skipped", "done"]
    assert asked == [2, 1, 1]  # and no prompt once everyone has a token
    assert [o.user for o in outcomes] == ["alice", "alice", "bob"]


# ---- reading an export back ----

@pytest.mark.parametrize("kind, protection", [
    ("pskc", {"psk": PSK}), ("pskc", {"password": "a long password"}),
    ("pskc", {"plaintext": True}), ("entra", {"plaintext": True}),
    ("privacyidea-csv", {"plaintext": True})])
def test_every_export_reads_back_to_its_secrets(tmp_path, kind, protection):
    records = exports.number_credentials(
        exports.Record(serial="TT%010d" % i, user="u%d@example.com" % i, name="n", issuer="I",
                       kind="totp", algorithm="SHA1", digits=6, secret=os.urandom(20))
        for i in range(3) for _ in range(2))
    exports.write(kind, str(tmp_path / "x"), records, **protection)
    opening = {k: v for k, v in protection.items() if k != "plaintext"}
    assert readback.secrets_in(kind, str(tmp_path / "x"), **opening) == {
        r.credential_id: r.secret for r in records}


def test_threads_assigning_at_once_each_get_someone_else(tmp_path):
    found = people_csv.parse("user\n" + "".join("p%d\n" % i for i in range(20)))
    got = []
    with fleet.Journal(str(tmp_path / "j.json"), {}) as journal:
        def take(i):
            got.append(journal.assign("TT%d" % i, found, lambda p: {"keys": [], "accounts": []}))
        threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(e["user"] for e in got) == sorted(p.user for p in found)
