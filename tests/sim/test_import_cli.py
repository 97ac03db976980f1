"""provision.py import / restore / export / rename / move / sort and the host
backup, end to end: the CLI in-process over the simulator's pseudo-terminal,
codes read back from the emulated OLED and checked against pyotp.

Every input file is built by tests/fixtures_import.py; every secret is random
per run and is checked never to appear in what the CLI prints (export --uri,
which exists to print them, aside)."""
import base64
import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import sys

import pyotp
import pyotp.contrib
import pytest
import zxingcpp
from PIL import Image

import fixtures_import as fx
from host_tools import provision
from host_tools.backup import vault
from host_tools.cli import common, transfer
from host_tools.formats import aegis, otpauth
from host_tools.backup.plan import write_all
from host_tools.errors import DeviceError, LinkLostError
from host_tools.progress import Progress
from host_tools.formats.otpauth import Account
from host_tools.simulator import SimulatedToken
from test_e2e_sim import screen_matches
from tests.waiting import REPLY_GUARD, power_cut, screen

SHOWN = []  # every secret and password made here; none may be printed


def new_secret(n=20):
    raw = os.urandom(n)
    SHOWN.extend([fx.b32(raw)[:16], raw.hex()[:16]])
    return raw


def new_password():
    word = secrets.token_urlsafe(12)
    SHOWN.append(word)
    return word


def assert_nothing_secret(text):
    for form in SHOWN:
        assert form not in text and form.lower() not in text


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        self.doc = json.loads(out) if out.strip().startswith("{") else None

    @property
    def data(self):
        return self.doc.get("data") if self.doc else None

    @property
    def message(self):
        return self.doc.get("message", "") if self.doc else self.err

    def __repr__(self):
        return "Run(rc=%r, out=%r, err=%r)" % (self.rc, self.out[-800:], self.err[-800:])


def cli(tok, *args, as_json=True, secrets_ok=False):
    """provision.main in-process; tok None for commands that need no token."""
    argv = (["--port", tok.port, "--timeout", REPLY_GUARD] if tok is not None else []) + \
        (["--json"] if as_json else []) + list(args)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(argv)
    if not secrets_ok:
        assert_nothing_secret(out.getvalue() + err.getvalue())
    return Run(rc, out.getvalue(), err.getvalue())


def listed(tok):
    run = cli(tok, "list")
    assert run.rc == 0, run
    return [(a["issuer"], a["name"]) for a in run.data["accounts"]]


def label_of(issuer, name):
    return "%s:%s" % (issuer, name) if issuer else name


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def backup_on(tmp_path, monkeypatch):
    """The backup as a user gets it: on by default (conftest turns it off for
    the older tests), in this test's own directory, with a password set."""
    monkeypatch.delenv("TOKEN_NO_BACKUP", raising=False)
    monkeypatch.delenv("TOKEN_IMPORT_PASSWORD", raising=False)
    monkeypatch.setenv("TOKEN_BACKUP", str(tmp_path / "backup.aegis.json"))
    monkeypatch.setenv("TOKEN_BACKUP_PASSWORD", new_password())
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal unless a test makes one
    return tmp_path / "backup.aegis.json"


@pytest.fixture(scope="module")
def shared():
    tok = SimulatedToken(idle_s=3600)
    tok.start()
    assert cli(tok, "sync-time").rc == 0
    yield tok
    tok.close()


@pytest.fixture
def tok(shared):
    """The shared token, empty at the start of the test."""
    assert cli(shared, "wipe", "--yes").rc == 0
    return shared


# ---- codes on the screen ----

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def expect(account):
    text = base64.b32encode(bytes(account.secret)).decode()
    if account.kind == "steam":
        steam = pyotp.contrib.Steam(text)
        return lambda t: steam.at(int(t))
    otp = pyotp.TOTP(text, digits=account.digits, digest=_DIGESTS[account.algorithm],
                     interval=account.period)
    return lambda t: otp.at(int(t))


def check_screen(tok, accounts):
    """Press through the token once: every position shows the account `list`
    puts there, with pyotp's code for the secret it came from.

    No 8-digit accounts here: a last digit 4 loses its right pixel column at
    the screen edge and the screen decoder then drops it (a layout/decoder
    issue outside this CLI)."""
    by_label = {a.label: a for a in accounts}
    order = listed(tok)
    n = len(order)
    assert sorted(order) == sorted((a.issuer, a.name) for a in accounts)
    seen = set()
    for _ in range(n):
        tok.press()
        text = tok.screen_text()
        m = re.search(r"\b(\d+)/%d\b" % n, text)
        assert m, text
        pos = int(m.group(1))
        seen.add(pos)
        account = by_label[label_of(*order[pos - 1])]
        assert account.name[:12] in text and account.issuer[:12] in text, text
        ok, text = screen_matches(tok, expect(account))
        assert ok, (account.label, text)
    assert seen == set(range(1, n + 1))
    return order


# ---- building import files ----

def uri(account):
    return otpauth.to_uri(account)


def acct(name, issuer="", **kw):
    return Account(name=name, issuer=issuer, secret=new_secret(kw.pop("size", 20)), **kw)


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def uri_file(tmp_path, accounts, name="codes.txt"):
    return write(tmp_path, name, "".join(uri(a) + "\n" for a in accounts))


def migration_file(tmp_path, accounts, name="google.txt"):
    otps = [fx.otp_parameters(bytes(a.secret), a.name, a.issuer, fx.ALGO[a.algorithm],
                              fx.DIGITS[a.digits]) for a in accounts]
    return write(tmp_path, name, fx.migration_uri(fx.payload(otps)) + "\n")


def twofas_file(tmp_path, accounts, password, name="backup.2fas"):
    services = [fx.twofas_service(fx.b32(bytes(a.secret)), a.issuer, account=a.name,
                                  digits=a.digits, period=a.period, algorithm=a.algorithm)
                for a in accounts]
    return write(tmp_path, name, fx.twofas_backup(services, password))


def qr_file(tmp_path, account, name="qr.png"):
    return write(tmp_path, name, fx.encoded(fx.qr_image(uri(account))))


# ---- import: every format, codes on the screen ----

def test_import_every_format_then_duplicates_are_skipped(tok, tmp_path):
    text_accounts = [acct("alice", "GitHub"),
                     acct("bob", "Acme VPN", size=32, algorithm="SHA256", digits=7, period=60),
                     acct("root", "Lab", size=64, algorithm="SHA512", digits=7, period=45),
                     acct("gamer", "Steam", kind="steam")]
    google = [acct("g1@gmail.com", "Google"), acct("ops", "AWS", algorithm="SHA256")]
    twofas = [acct("dan", "Dropbox", size=16), acct("erin", "Bank", algorithm="SHA512")]
    qr_account = acct("frank", "Mastodon")
    password = new_password()
    files = [(uri_file(tmp_path, text_accounts), [], text_accounts),
             (migration_file(tmp_path, google), [], google),
             (twofas_file(tmp_path, twofas, password), ["--password=" + password], twofas),
             (qr_file(tmp_path, qr_account), [], [qr_account])]
    for path, extra, accounts in files:
        run = cli(tok, "import", path, "--yes", *extra)
        assert run.rc == 0, run
        assert run.data["written"] == [a.label for a in accounts]
        assert run.data["not_written"] == [] and run.data["rejected"] == []
    everything = text_accounts + google + twofas + [qr_account]
    assert run.data["count"] == len(everything)
    check_screen(tok, everything)

    # Again, all four files at once: every account is already there.
    before = listed(tok)
    run = cli(tok, "import", *[f[0] for f in files], "--yes", "--password=" + password)
    assert run.rc == 0, run
    assert run.data["written"] == []
    assert {s["label"] for s in run.data["skipped"]} == {a.label for a in everything}
    assert {s["reason"] for s in run.data["skipped"]} == {"already on the token"}
    assert listed(tok) == before


def test_import_text_output_preview_and_summary(tok, tmp_path):
    accounts = [acct("alice", "GitHub"), acct("bob", "Bank", algorithm="SHA256", digits=8)]
    bad = "otpauth://totp/Old:md5?secret=%s&algorithm=MD5" % fx.b32(new_secret())
    path = write(tmp_path, "codes.txt", uri(accounts[0]) + "\n" + bad + "\n" + uri(accounts[1]))
    run = cli(tok, "import", path, "--yes", as_json=False)
    assert run.rc == 0, run
    lines = run.out.splitlines()
    assert lines[0].split() == ["issuer", "name", "type", "algorithm", "digits",
                                "period/counter"]
    assert lines[1].split() == ["GitHub", "alice", "totp", "SHA1", "6", "30s"]
    assert lines[2].split() == ["Bank", "bob", "totp", "SHA256", "8", "30s"]
    assert "skipped: line 2 (Old:md5): MD5 is not supported by the token" in lines
    assert "2 accounts to write; the token has 0 of 1000 slots used, 1000 free" in lines
    assert "imported 2 accounts to the token (2 of 1000 slots used, 998 free)" in lines
    assert lines[-1] == ("backup: 2 accounts saved to %s (encrypted, open it in Aegis with "
                         "the backup password)" % os.environ["TOKEN_BACKUP"])
    assert run.err == ""  # no bar: stderr is not a terminal


def test_rejected_entries_are_listed_while_the_rest_imports(tok, tmp_path):
    good = [acct("ok1", "Good"), acct("ok2", "Good", algorithm="SHA256")]
    s = fx.b32(new_secret())
    lines = [uri(good[0]),
             "otpauth://totp/Bad:md5?secret=%s&algorithm=MD5" % s,
             "otpauth://totp/Bad:ten?secret=%s&digits=10" % s,
             uri(good[1])]
    run = cli(tok, "import", write(tmp_path, "mixed.txt", "\n".join(lines)), "--yes")
    assert run.rc == 0, run
    assert run.data["written"] == ["Good:ok1", "Good:ok2"]
    assert run.data["rejected"] == [
        {"label": "line 2 (Bad:md5)", "reason": "MD5 is not supported by the token"},
        {"label": "line 3 (Bad:ten)", "reason": "digits must be 6, 7 or 8, not 10"}]
    check_screen(tok, good)


def test_name_clash_stops_everything_and_rename_duplicates_fixes_it(tok, tmp_path):
    first = [acct("alice", "GitHub"), acct("bob", "Bank")]
    assert cli(tok, "import", uri_file(tmp_path, first), "--yes").rc == 0
    before = listed(tok)
    # Same label, other settings: a different account, not a duplicate.
    clash = acct("alice", "GitHub", algorithm="SHA256")
    slower = acct("bob", "Bank", period=60)  # only the period differs
    fresh = acct("carol", "Mail")
    path = uri_file(tmp_path, [fresh, clash, slower], "clash.txt")
    run = cli(tok, "import", path, "--yes")
    assert run.rc == 1 and run.doc["error"] == "name_taken", run
    assert "GitHub:alice" in run.message and "Bank:bob" in run.message
    assert "--rename-duplicates" in run.message and "nothing was written" in run.message
    assert run.data["clashes"] == [
        {"label": "GitHub:alice", "reason": "on the token with other settings"},
        {"label": "Bank:bob", "reason": "on the token with other settings"}]
    assert listed(tok) == before

    # The same label twice within one import, with different secrets.
    twins = [acct("twin", "X"), acct("twin", "X")]
    run = cli(tok, "import", uri_file(tmp_path, twins, "twins.txt"), "--yes")
    assert run.rc == 1 and "X:twin (twice in the import" in run.message, run
    assert listed(tok) == before

    run = cli(tok, "import", path, uri_file(tmp_path, twins, "twins.txt"), "--yes",
              "--rename-duplicates")
    assert run.rc == 0, run
    assert run.data["written"] == ["Mail:carol", "GitHub:alice (2)", "Bank:bob (2)",
                                   "X:twin", "X:twin (2)"]
    assert run.data["renamed"] == [{"from": "GitHub:alice", "to": "GitHub:alice (2)"},
                                   {"from": "Bank:bob", "to": "Bank:bob (2)"},
                                   {"from": "X:twin", "to": "X:twin (2)"}]
    renamed = [Account(name=a.name + " (2)", issuer=a.issuer, secret=a.secret,
                       algorithm=a.algorithm, period=a.period)
               for a in (clash, slower, twins[1])]
    check_screen(tok, first + [fresh, twins[0]] + renamed)


OTHER_SECRET = "same name, different secret: kept the token's; --rename to add both"


def test_same_name_other_secret_is_said_per_entry_and_rename_adds_both(tok, tmp_path,
                                                                        backup_on):
    """Issue 17: an entry whose label and settings are on the token was
    skipped as "already on the token" even with another secret. The token
    never gives a secret back; the host backup holds the token's, so the
    import compares with it (docs/security.md says why not the token)."""
    first = [acct("alice", "GitHub"), acct("bob", "Bank")]
    assert cli(tok, "import", uri_file(tmp_path, first), "--yes").rc == 0
    before = listed(tok)
    # alice re-enrolled elsewhere (a new secret), bob the same as on the token.
    alice2 = Account(name="alice", issuer="GitHub", secret=new_secret())
    path = uri_file(tmp_path, [alice2, first[1]], "again.txt")
    run = cli(tok, "import", path, "--yes")
    assert run.rc == 0, run
    assert run.data["written"] == [] and listed(tok) == before
    assert run.data["skipped"] == [{"label": "GitHub:alice", "reason": OTHER_SECRET},
                                   {"label": "Bank:bob", "reason": "already on the token"}]
    run = cli(tok, "import", path, "--dry-run", as_json=False)
    assert "skipped: GitHub:alice: " + OTHER_SECRET in run.out.splitlines(), run

    run = cli(tok, "import", path, "--yes", "--rename")
    assert run.rc == 0, run
    assert run.data["written"] == ["GitHub:alice (2)"]
    assert run.data["renamed"] == [{"from": "GitHub:alice", "to": "GitHub:alice (2)"}]
    assert run.data["skipped"] == [{"label": "Bank:bob", "reason": "already on the token"}]
    renamed = Account(name="alice (2)", issuer="GitHub", secret=alice2.secret)
    check_screen(tok, first + [renamed])
    with open(backup_on, "rb") as f:
        kept = {a.label: a.secret for a in aegis.load(f.read(), os.environ[
            "TOKEN_BACKUP_PASSWORD"]).accounts}
    assert kept == {"GitHub:alice": first[0].secret, "Bank:bob": first[1].secret,
                    "GitHub:alice (2)": alice2.secret}


def test_without_a_backup_the_secret_is_not_compared_and_it_says_so(tok, tmp_path):
    """Without the token's secret in a backup there is nothing to compare
    with: the entry is skipped as before, and the reason says why."""
    alice = acct("alice", "GitHub")
    assert cli(tok, "import", uri_file(tmp_path, [alice]), "--yes", "--no-backup").rc == 0
    again = uri_file(tmp_path, [Account(name="alice", issuer="GitHub", secret=new_secret())],
                     "again.txt")
    run = cli(tok, "import", again, "--dry-run")
    assert run.rc == 0, run
    assert run.data["skipped"] == [{"label": "GitHub:alice", "reason": (
        "already on the token under this name and settings (no backup to compare "
        "the secret with)")}]


def _backup_secrets(path):
    with open(path, "rb") as f:
        parsed = aegis.load(f.read(), os.environ["TOKEN_BACKUP_PASSWORD"])
    return {a.label: a.secret for a in parsed.accounts}


def test_backup_check_names_what_the_backup_misses_and_importing_again_fills_it(
        tok, tmp_path, backup_on):
    """Issue 17: a backup that held 4 of the token's 963 accounts said
    nothing. `backup check` counts and names what it misses, says how to
    fix it, and the fix it names (the original export again) works."""
    kept = [acct("k%d" % i, "Kept") for i in range(3)]
    assert cli(tok, "import", uri_file(tmp_path, kept), "--yes").rc == 0
    lost = [acct("l%d" % i, "Lost") for i in range(7)]
    lost_file = uri_file(tmp_path, lost, "lost.txt")
    assert cli(tok, "import", lost_file, "--yes", "--no-backup").rc == 0
    gone = acct("gone", "Old")  # in the backup only (added in the Aegis app, say)
    vault.merge_backup(str(backup_on), [gone], os.environ["TOKEN_BACKUP_PASSWORD"])

    run = cli(tok, "backup", "check")
    assert run.rc == 1 and run.doc["error"] == "backup_incomplete", run
    assert run.data["missing"] == [a.label for a in lost]
    assert run.data["not_on_token"] == ["Old:gone"]
    assert run.data["on_token"] == 10 and run.data["path"] == str(backup_on)
    run = cli(tok, "backup", "check", as_json=False)
    assert run.rc == 1
    assert run.err == "error: the backup at %s misses 7 of the 10 accounts on the token\n" \
        % backup_on
    lines = run.out.splitlines()
    assert ("7 of the 10 accounts on the token are not in the backup: Lost:l0, Lost:l1, "
            "Lost:l2, Lost:l3, Lost:l4 and 2 more (--json lists them all)") in lines, lines
    assert any("import FILE" in line and "original export" in line for line in lines), lines
    assert "1 account in the backup is not on the token: Old:gone" in lines, lines
    assert any("restore" in line for line in lines), lines

    # The fix it names: nothing new for the token, what the backup lacked goes in.
    run = cli(tok, "import", lost_file, "--dry-run")
    assert run.rc == 0 and run.data["to_backup"] == [a.label for a in lost], run
    assert "Lost:l0" not in _backup_secrets(backup_on)
    run = cli(tok, "import", lost_file, "--yes", as_json=False)
    assert run.rc == 0, run
    assert ("saved 7 accounts the token has to the backup, which lacked them (the token "
            "can't confirm a secret: check a code if unsure)") in run.out.splitlines(), run
    secrets = _backup_secrets(backup_on)
    assert all(secrets[a.label] == a.secret for a in lost + kept)
    run = cli(tok, "backup", "check", as_json=False)
    assert run.rc == 0, run
    assert run.out.splitlines()[0] == "all 10 accounts on the token are in the backup at %s" \
        % backup_on


def test_token_full_is_refused_before_writing(tmp_path):
    with SimulatedToken(capacity=4, idle_s=3600) as small:
        assert cli(small, "add", "keep", "--secret", fx.b32(new_secret())).rc == 0
        before = listed(small)
        path = uri_file(tmp_path, [acct("n%d" % i, "Full") for i in range(4)])
        run = cli(small, "import", path, "--yes")
        assert run.rc == 1 and run.doc["error"] == "store_full", run
        assert run.message.startswith("token full: 3 free slots, 4 to import")
        assert listed(small) == before
        run = cli(small, "import", path, "--yes", as_json=False)
        assert run.rc == 1 and "error: token full: 3 free slots, 4 to import" in run.err


def test_dry_run_and_confirmation(tok, tmp_path, monkeypatch):
    accounts = [acct("one", "A"), acct("two", "B")]
    path = uri_file(tmp_path, accounts)
    run = cli(tok, "import", path, "--dry-run")
    assert run.rc == 0 and run.data["to_write"] == ["A:one", "B:two"], run
    assert run.data["written"] == [] and listed(tok) == []
    # No terminal and no --yes: nothing is asked, nothing written.
    run = cli(tok, "import", path)
    assert run.rc == 2 and run.doc["error"] == "confirm_required", run
    assert "add --yes to import without asking" in run.message
    # On a terminal: asked on stderr; "n" writes nothing, "y" writes.
    monkeypatch.setattr(sys, "stdin", Tty("n\n"))
    run = cli(tok, "import", path, as_json=False)
    assert run.rc == 2 and "Write 2 accounts to the token? [y/N]" in run.err, run
    assert "cancelled" in run.err and listed(tok) == []
    monkeypatch.setattr(sys, "stdin", Tty("y\n"))
    run = cli(tok, "import", path, as_json=False)
    assert run.rc == 0 and listed(tok) == [("A", "one"), ("B", "two")], run


def test_progress_bar_only_on_a_terminal(tok, tmp_path, monkeypatch):
    # 20: more than one add-many request fits (a request line holds ~10 of
    # these), and the bar moves after each.
    accounts = [acct("p%d" % i, "Bar") for i in range(20)]
    out, err = io.StringIO(), Tty()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(["--port", tok.port, "import", uri_file(tmp_path, accounts),
                             "--yes", "--no-backup"])
    assert rc == 0, err.getvalue()
    bar = err.getvalue()
    assert "\rimporting [....................] 0/20" in bar
    steps = [int(n) for n in re.findall(r"\] (\d+)/20", bar)]
    assert steps[0] == 0 and steps[-1] == 20 and any(0 < n < 20 for n in steps), bar
    assert bar.endswith("\rimporting [####################] 20/20\n")
    assert "importing [" not in out.getvalue()
    # --json: no bar even on a terminal.
    assert cli(tok, "wipe", "--yes").rc == 0
    out, err = io.StringIO(), Tty()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(["--port", tok.port, "--json", "import",
                             uri_file(tmp_path, accounts), "--yes", "--no-backup"])
    assert rc == 0 and err.getvalue() == ""


def test_import_password_from_the_environment_or_the_prompt(tok, tmp_path, monkeypatch):
    password = new_password()
    one = twofas_file(tmp_path, [acct("a", "One")], password, "one.2fas")
    two = twofas_file(tmp_path, [acct("b", "Two")], password, "two.2fas")
    # --dry-run needs neither --yes nor the backup's password.
    monkeypatch.delenv("TOKEN_BACKUP_PASSWORD")
    monkeypatch.setenv("TOKEN_IMPORT_PASSWORD", password)
    run = cli(tok, "import", one, two, "--dry-run")
    assert run.rc == 0 and run.data["to_write"] == ["One:a", "Two:b"], run
    monkeypatch.delenv("TOKEN_IMPORT_PASSWORD")
    run = cli(tok, "import", one, "--dry-run")
    assert run.rc == 2 and run.doc["error"] == "bad_password", run
    assert "--password or $TOKEN_IMPORT_PASSWORD" in run.message
    # On a terminal it is asked for, once for files that share it.
    prompts = []
    monkeypatch.setattr(sys, "stdin", Tty(""))
    monkeypatch.setattr(common.getpass, "getpass",
                        lambda prompt: prompts.append(prompt) or password)
    run = cli(tok, "import", one, two, "--dry-run")
    assert run.rc == 0 and run.data["to_write"] == ["One:a", "Two:b"], run
    assert prompts == ["Password for %s: " % one]
    assert listed(tok) == []


class FakeClient:
    """A token that stops at its n-th add with `error`."""

    def __init__(self, n, error):
        self.n, self.error, self.added = n, error, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def list_accounts(self):
        return []

    def info(self):
        return {"capacity": 50}

    def add(self, account, show=True):
        if len(self.added) + 1 == self.n:
            raise self.error
        self.added.append(account.label)
        return {"index": len(self.added) - 1, "count": len(self.added)}


@pytest.mark.parametrize("error, rc, code", [
    (DeviceError("storage_full", "flash has no room"), 1, "storage_full"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_refusal_or_ctrl_c_part_way_is_reported_and_backed_up(tmp_path, monkeypatch,
                                                                  backup_on, error, rc, code):
    fake = FakeClient(3, error)
    monkeypatch.setattr(provision, "connect", lambda args: fake)
    accounts = [acct("r%d" % i, "Stop") for i in range(5)]
    run = cli(None, "import", uri_file(tmp_path, accounts), "--yes")
    assert run.rc == rc and run.doc["error"] == code, run
    assert run.data["written"] == ["Stop:r0", "Stop:r1"] == fake.added
    assert run.data["not_written"] == ["Stop:r2", "Stop:r3", "Stop:r4"]
    assert run.message.startswith("stopped after writing 2 of 5 accounts")
    saved = [a.label for a in vault.read_backup(str(backup_on),
                                                os.environ["TOKEN_BACKUP_PASSWORD"])]
    if code == "interrupted":
        # Ctrl-C may have come after r2 landed: it is backed up, just in case.
        assert "Stop:r2 may or may not have reached the token" in run.message
        assert saved == ["Stop:r0", "Stop:r1", "Stop:r2"]
    else:
        assert "may or may not" not in run.message  # the token answered: r2 is not there
        assert saved == ["Stop:r0", "Stop:r1"]


# ---- a stop part way ----

def test_power_cut_mid_import_keeps_what_was_written(tmp_path):
    accounts = [acct("cut%d" % i, "Power", algorithm=("SHA1", "SHA256")[i % 2])
                for i in range(30)]
    path = uri_file(tmp_path, accounts)
    with SimulatedToken(idle_s=3600) as tok:
        assert cli(tok, "sync-time").rc == 0
        # 30: three add-many requests of ~10 (what fits a request line), each
        # a few dozen flash block writes: this lands in a later one.
        tok.cut_power_at_write(70)
        run = cli(tok, "import", path, "--yes")
        assert run.rc == 3 and run.doc["error"] == "link_lost", run
        written, not_written = run.data["written"], run.data["not_written"]
        assert 0 < len(written) < len(accounts), run
        assert written + not_written == [a.label for a in accounts]
        assert "stopped after writing %d of 30 accounts" % len(written) in run.message
        assert "may or may not have reached the token" in run.message
        # What reached the token is in the backup too, and so is the request
        # in flight (an add-many of several).
        maybe = run.data["uncertain"]
        assert maybe and maybe == not_written[:len(maybe)], run
        saved = vault.read_backup(os.environ["TOKEN_BACKUP"],
                                  os.environ["TOKEN_BACKUP_PASSWORD"])
        assert [a.label for a in saved] == written + maybe
        assert power_cut(tok)
        tok.stop()
        tok.start()
        on_token = [label_of(*pair) for pair in listed(tok)]
        assert on_token[:len(written)] == written
        assert on_token in (written, written + maybe)  # the in-flight request: all or none
        check_screen(tok, [a for a in accounts if a.label in on_token])


def test_power_cut_report_in_text(tmp_path):
    accounts = [acct("t%d" % i, "Text") for i in range(30)]  # several add-many requests
    with SimulatedToken(idle_s=3600) as tok:
        tok.cut_power_at_write(70)
        run = cli(tok, "import", uri_file(tmp_path, accounts), "--yes", "--no-backup",
                  as_json=False)
        assert run.rc == 3, run
        assert re.search(r"^written: Text:t0(, Text:t\d+)*$", run.out, re.M), run.out
        assert re.search(r"^not written: (Text:t\d+, )*Text:t29$", run.out, re.M), run.out
        assert run.err.startswith("error: stopped after writing")


# ---- the backup, and restoring from it ----

def test_backup_then_restore_onto_a_spare_token(tok, tmp_path, backup_on):
    accounts = [acct("alice", "GitHub"), acct("bob", "Bank", algorithm="SHA512", digits=7),
                acct("gamer", "Steam", kind="steam")]
    run = cli(tok, "import", uri_file(tmp_path, accounts), "--yes")
    assert run.rc == 0, run
    assert run.data["backup"] == {"path": str(backup_on), "saved": 3, "total": 3}
    raw = backup_on.read_text()
    assert_nothing_secret(raw)  # encrypted
    assert oct(backup_on.stat().st_mode & 0o777) == "0o600"
    password = os.environ["TOKEN_BACKUP_PASSWORD"]
    assert [(a.label, a.secret) for a in vault.read_backup(str(backup_on), password)] == \
        [(a.label, a.secret) for a in accounts]

    with SimulatedToken(idle_s=3600) as spare:
        assert cli(spare, "sync-time").rc == 0
        # A wrong password: exit 2, the spare untouched.
        run = cli(spare, "restore", str(backup_on), "--yes", "--password=" + new_password())
        assert run.rc == 2 and run.doc["error"] == "bad_password", run
        assert "wrong password" in run.message and str(backup_on) in run.message
        assert listed(spare) == []
        run = cli(spare, "restore", str(backup_on), "--yes")
        assert run.rc == 0, run
        assert run.data["written"] == [a.label for a in accounts]
        assert run.data["backup"] is None
        check_screen(spare, accounts)
        # Restoring again only skips.
        run = cli(spare, "restore", "--yes")  # the default backup path
        assert run.rc == 0 and run.data["written"] == [], run
    assert backup_on.read_text() == raw  # restore never rewrites what it reads


def test_restore_onto_a_token_that_erased_itself_says_nothing_of_the_erase(
        tmp_path, backup_on, monkeypatch):
    """Issue 15: after the last wrong PIN the token stands erased; a restore
    onto it ends that, so the CLI must not say it erased itself."""
    accounts = [acct("alice", "GitHub")]
    with SimulatedToken(idle_s=3600) as spare:
        assert cli(spare, "sync-time").rc == 0
        assert cli(spare, "import", uri_file(tmp_path, accounts), "--yes").rc == 0
        monkeypatch.setenv("TOKEN_NEW_PIN", "97531")
        assert cli(spare, "pin", "set", "--tries", "3").rc == 0
        monkeypatch.setenv("TOKEN_PIN", "11111")
        for _ in range(2):
            assert cli(spare, "sync-time").doc["error"] == "wrong_pin"
        run = cli(spare, "--timeout", REPLY_GUARD, "--allow-last-try", "sync-time")
        assert run.doc["error"] == "erased", run
        monkeypatch.delenv("TOKEN_PIN")
        run = cli(spare, "--timeout", REPLY_GUARD, "info", as_json=False)
        assert "erased itself" in run.err  # standing erased: said on every command
        run = cli(spare, "restore", "--yes", as_json=False)
        assert run.rc == 0, run
        assert "erased itself" not in run.err, run.err
        assert listed(spare) == [("GitHub", "alice")]


def test_import_with_a_wrong_backup_password_writes_nothing(tok, tmp_path, monkeypatch):
    assert cli(tok, "import", uri_file(tmp_path, [acct("a", "One")]), "--yes").rc == 0
    before = listed(tok)
    monkeypatch.setenv("TOKEN_BACKUP_PASSWORD", new_password())
    run = cli(tok, "import", uri_file(tmp_path, [acct("b", "Two")], "b.txt"), "--yes")
    assert run.rc == 2 and run.doc["error"] == "bad_password", run
    assert "cannot open the backup at" in run.message and "wrong password" in run.message
    run = cli(tok, "add", "c", "--secret", fx.b32(new_secret()))
    assert run.rc == 2 and run.doc["error"] == "bad_password", run
    # No password and no terminal: exit 2, with the two ways out.
    monkeypatch.delenv("TOKEN_BACKUP_PASSWORD")
    run = cli(tok, "import", uri_file(tmp_path, [acct("d", "Four")], "d.txt"), "--yes")
    assert run.rc == 2 and run.message == ("a backup password is needed: set "
                                           "TOKEN_BACKUP_PASSWORD, or pass --no-backup")
    assert listed(tok) == before
    run = cli(tok, "add", "e", "--secret", fx.b32(new_secret()), "--no-backup")
    assert run.rc == 0 and "backup" not in run.data, run


def test_backup_password_prompt_for_a_new_file(tok, tmp_path, monkeypatch, backup_on):
    monkeypatch.delenv("TOKEN_BACKUP_PASSWORD")
    monkeypatch.setattr(sys, "stdin", Tty(""))
    password, prompts = new_password(), []
    answers = iter([password, password + "x"])
    monkeypatch.setattr(common.getpass, "getpass",
                        lambda prompt: prompts.append(prompt) or next(answers))
    run = cli(tok, "add", "alice", "--secret", fx.b32(new_secret()))
    assert run.rc == 2 and run.doc["error"] == "password_mismatch", run
    assert prompts[0] == "Backup password for %s (Aegis format, new file): " % backup_on
    assert len(prompts) == 2 and listed(tok) == [] and not backup_on.exists()
    answers = iter([password, password, password])
    run = cli(tok, "add", "alice", "--secret", fx.b32(new_secret()))
    assert run.rc == 0 and run.data["backup"]["total"] == 1, run
    assert [a.label for a in vault.read_backup(str(backup_on), password)] == ["alice"]
    run = cli(tok, "add", "bob", "--secret", fx.b32(new_secret()))  # asked once now
    assert run.rc == 0 and prompts[-1] == "Backup password for %s (Aegis format): " % backup_on
    assert len(prompts) == 5


def test_backup_failure_after_the_token_write(tok, monkeypatch, backup_on):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(vault, "merge_backup", broken)
    run = cli(tok, "add", "alice", "--secret", fx.b32(new_secret()))
    assert run.rc == 1 and run.doc["error"] == "backup_failed", run
    assert run.message == ("added to the token, but the backup at %s failed: No space left "
                           "on device" % backup_on)
    assert listed(tok) == [("", "alice")]


# ---- export, from the backup only ----

def test_export_uri_and_qr_reproduce_the_accounts(tok, tmp_path, backup_on):
    accounts = [acct("alice@example.com", "GitHub"),
                acct("a:b & c", "", algorithm="SHA256", digits=8, period=60),
                acct("door", "Corp: HQ", kind="hotp", counter=42, algorithm="SHA512"),
                acct("gamer", "Steam", kind="steam"),
                acct("Ünïcode ✓", "Bänk")]
    assert cli(tok, "import", uri_file(tmp_path, accounts), "--yes").rc == 0
    assert cli(tok, "wipe", "--yes").rc == 0  # export never asks the token

    def same(a, b):
        return (a.name, a.issuer, a.secret, a.kind, a.algorithm, a.digits,
                a.counter if a.kind == "hotp" else a.period) == \
            (b.name, b.issuer, b.secret, b.kind, b.algorithm, b.digits,
             b.counter if b.kind == "hotp" else b.period)

    run = cli(None, "export", "--uri", as_json=False, secrets_ok=True)
    assert run.rc == 0 and run.err == "", run
    uris = run.out.splitlines()
    assert len(uris) == len(accounts)
    for line, account in zip(uris, accounts):
        assert same(Account.from_uri(line), account), line
    run = cli(None, "export", "--uri", "--name", "GitHub:alice@example.com", secrets_ok=True)
    assert run.rc == 0 and [a["label"] for a in run.data["accounts"]] == \
        ["GitHub:alice@example.com"]
    assert same(Account.from_uri(run.data["accounts"][0]["uri"]), accounts[0])

    qr_dir = tmp_path / "qr"
    run = cli(None, "export", "--qr", str(qr_dir))
    assert run.rc == 0, run
    files = [f["path"] for f in run.data["files"]]
    assert [os.path.basename(f) for f in files] == [
        "GitHub_alice_example.com.png", "a_b_c.png", "Corp_HQ_door.png", "Steam_gamer.png",
        "Bank_Unicode.png"]
    for path, account in zip(files, accounts):
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        codes = zxingcpp.read_barcodes(Image.open(path))
        assert len(codes) == 1 and same(Account.from_uri(codes[0].text), account)

    # Wrong password, no backup, unknown name: exit 2, and no secret in the error.
    run = cli(None, "export", "--uri", "--password=" + new_password())
    assert run.rc == 2 and run.doc["error"] == "bad_password" and "data" not in run.doc
    run = cli(None, "export", "--uri", "--backup", str(tmp_path / "none.json"))
    assert run.rc == 2 and run.doc["error"] == "no_backup"
    run = cli(None, "export", "--uri", "--name", "nobody")
    assert run.rc == 2 and run.doc["error"] == "not_found"
    run = cli(None, "export")
    assert run.rc == 2 and "one of the arguments --uri --qr is required" in run.message


# ---- rename, move, sort ----

def test_rename_move_sort_change_the_list_the_buttons_and_the_backup(tok, tmp_path,
                                                                      backup_on):
    accounts = [acct("zed", "Zulu"), acct("mike", "Alpha"), acct("bob", "Mid"),
                acct("al", "Alpha")]
    assert cli(tok, "import", uri_file(tmp_path, accounts), "--yes").rc == 0
    password = os.environ["TOKEN_BACKUP_PASSWORD"]

    run = cli(tok, "rename", "Mid:bob", "robert", "--new-issuer", "Beta")
    assert run.rc == 0 and (run.data["from"], run.data["to"]) == ("Mid:bob", "Beta:robert")
    assert run.data["backup"] == {"path": str(backup_on), "updated": True}
    accounts[2] = Account(name="robert", issuer="Beta", secret=accounts[2].secret)
    assert listed(tok) == [("Zulu", "zed"), ("Alpha", "mike"), ("Beta", "robert"),
                           ("Alpha", "al")]
    assert [a.label for a in vault.read_backup(str(backup_on), password)] == \
        ["Zulu:zed", "Alpha:mike", "Beta:robert", "Alpha:al"]
    run = cli(tok, "rename", "zed", "--issuer", "Zulu", "--new-issuer", "")
    assert run.rc == 0 and run.data["to"] == "zed", run
    accounts[0] = Account(name="zed", issuer="", secret=accounts[0].secret)

    run = cli(tok, "move", "Alpha:al", "--to", "1")
    assert run.rc == 0 and run.data["position"] == 1, run
    run = cli(tok, "move", "zed", "--to", "4", as_json=False)
    assert run.rc == 0 and run.out == "moved zed to 4/4\n", run
    order = check_screen(tok, accounts)
    assert order == [("Alpha", "al"), ("Alpha", "mike"), ("Beta", "robert"), ("", "zed")]

    assert cli(tok, "move", "robert", "--to", "1").rc == 0
    run = cli(tok, "sort")
    assert run.rc == 0 and run.data["moves"] >= 1, run
    assert check_screen(tok, accounts) == [("", "zed"), ("Alpha", "al"), ("Alpha", "mike"),
                                           ("Beta", "robert")]

    # Refusals: position past the end, a taken name, an unknown account.
    run = cli(tok, "move", "zed", "--to", "5")
    assert run.rc == 1 and run.doc["error"] == "bad_position", run
    run = cli(tok, "move", "zed", "--to", "0")
    assert run.rc == 2 and "positions start at 1" in run.message
    run = cli(tok, "rename", "zed", "al", "--new-issuer", "Alpha")
    assert run.rc == 1 and run.doc["error"] == "name_taken", run
    run = cli(tok, "rename", "nobody", "x")
    assert run.rc == 1 and run.doc["error"] == "not_found", run
    run = cli(tok, "rename", "zed", "n" * 41)
    assert run.rc == 2 and "name is too long" in run.message
    run = cli(tok, "rename", "zed")
    assert run.rc == 2 and "rename needs NEW, --new-issuer, or both" in run.message
    assert listed(tok) == [("", "zed"), ("Alpha", "al"), ("Alpha", "mike"), ("Beta", "robert")]


def test_rename_of_an_account_missing_from_the_backup_warns(tok, tmp_path, backup_on):
    assert cli(tok, "import", uri_file(tmp_path, [acct("in", "B")]), "--yes").rc == 0
    assert cli(tok, "add", "out", "--secret", fx.b32(new_secret()), "--no-backup").rc == 0
    run = cli(tok, "rename", "out", "outside", as_json=False)
    assert run.rc == 0, run
    assert run.out.splitlines() == [
        "renamed out to outside",
        "warning: out is not in the backup at %s; only the token was changed" % backup_on]
    run = cli(tok, "rename", "outside", "out2", "--no-backup")
    assert run.rc == 0 and run.data["backup"] is None and run.data["warnings"] == []


def test_delete_and_rename_keep_the_backup_in_step(tok, tmp_path, backup_on, monkeypatch):
    alice, bob, carol = acct("alice", "A"), acct("bob", "B"), acct("carol")
    assert cli(tok, "import", uri_file(tmp_path, [alice, bob, carol]), "--yes").rc == 0
    password = os.environ["TOKEN_BACKUP_PASSWORD"]

    assert cli(tok, "rename", "B:bob", "robert").rc == 0
    run = cli(tok, "delete", "A:alice", "--yes", as_json=False)
    assert run.rc == 0, run
    assert run.out.splitlines() == [
        "deleted A:alice (1/3; 2 accounts left)",
        "backup: kept in %s, marked as deleted (restore --include-deleted brings it back)"
        % backup_on]
    with open(backup_on, "rb") as f:
        parsed = aegis.load(f.read(), password)
    assert [a.label for a in parsed.accounts] == ["B:robert", "carol"]
    assert [a.label for a in parsed.deleted] == ["A:alice"]

    # A restore offers what the token held last: new names, no deleted account.
    assert cli(tok, "wipe", "--yes").rc == 0
    run = cli(tok, "restore", "--dry-run")
    assert run.rc == 0 and run.data["to_write"] == ["B:robert", "carol"], run
    assert run.data["skipped"] == [{"label": "A:alice", "reason": transfer.DELETED_REASON}]
    # --include-deleted brings it back, with its own secret, and clears the mark.
    run = cli(tok, "restore", "--yes", "--include-deleted")
    assert run.rc == 0 and sorted(run.data["written"]) == ["A:alice", "B:robert", "carol"]
    check_screen(tok, [alice, Account(name="robert", issuer="B", secret=bob.secret), carol])
    with open(backup_on, "rb") as f:
        parsed = aegis.load(f.read(), password)
    assert parsed.deleted == [] and len(parsed.accounts) == 3

    # Without the backup's password at hand, nothing changes on the token either.
    monkeypatch.delenv("TOKEN_BACKUP_PASSWORD")
    before = listed(tok)
    for argv in (["rename", "carol", "caroline"], ["delete", "carol", "--yes"]):
        run = cli(tok, *argv)
        assert run.rc == 2 and run.doc["error"] == "password_required", run
        assert "nothing was changed" in run.message
    assert listed(tok) == before
    assert cli(tok, "delete", "carol", "--yes", "--no-backup").rc == 0


# ---- malformed input: refused before the token, or listed as rejected ----

def _mig(*otps, **batch):
    return fx.migration_uri(fx.payload(list(otps), **batch))


def _b32():
    return fx.b32(new_secret())


def _cut_migration():
    # Unpadded base64 cut to 4k+1 characters, which can't make whole bytes.
    text = base64.b64encode(fx.payload([_otp()])).decode().rstrip("=")[:-3]
    while len(text) % 4 != 1:
        text = text[:-1]
    return "otpauth-migration://offline?data=" + text


def _otp():
    return fx.otp_parameters(new_secret(), "m", "Mig")


def _twofas_encrypted(password):
    return fx.twofas_backup([fx.twofas_service(_b32(), "Svc", account="x")], password)


def _aegis(entries, password=None):
    return fx.aegis_vault(entries, password)


_PNG = None


def _png():
    global _PNG
    if _PNG is None:
        _PNG = fx.encoded(fx.qr_image("otpauth://totp/Q:r?secret=" + _b32()))
    return _PNG


# (id, file name, content builder, extra CLI args, words in the message or a rejection)
MALFORMED = [
    ("empty file", "empty.txt", lambda: b"", [], "no otpauth:// or otpauth-migration:// URI"),
    ("comments only", "c.txt", lambda: "# nothing\n\n", [], "no otpauth://"),
    ("plain words", "w.txt", lambda: "hello\nworld\n", [], "no otpauth://"),
    ("binary garbage", "g.bin", lambda: bytes(range(256)), [], "neither an image nor text"),
    ("missing file", None, None, [], "cannot read"),
    ("a directory", ".", None, [], "cannot read"),
    ("migration truncated base64", "m.txt",
     _cut_migration, [], "Google Authenticator export: data= is not valid base64"),
    ("migration bad protobuf", "m.txt",
     lambda: fx.migration_uri(b"\x0a\x05\x0a\xff\xff\xff\xff"), [], "truncated"),
    ("migration wire type 7", "m.txt", lambda: fx.migration_uri(b"\x0f\x01\x02"), [],
     "wire type 7"),
    ("migration without data", "m.txt", lambda: "otpauth-migration://offline?version=1", [],
     "no data= parameter"),
    ("migration missing part", "m.txt", lambda: _mig(_otp(), batch_size=3, batch_index=0), [],
     "parts 2 and 3 of 3 are missing"),
    ("migration MD5", "m.txt",
     lambda: _mig(fx.otp_parameters(new_secret(), "m", "Mig", algorithm=4)), [],
     "MD5 is not supported by the token"),
    ("migration empty secret", "m.txt", lambda: _mig(fx.otp_parameters(b"", "m", "Mig")), [],
     "secret is empty"),
    ("corrupt JSON", "c.json", lambda: fx.twofas_backup([])[:-9], [], "is corrupt JSON"),
    ("unknown JSON", "u.json", lambda: '{"accounts": []}', [],
     "not an Aegis vault, 2FAS backup or andOTP backup"),
    ("2FAS wrong password", "b.2fas", lambda: _twofas_encrypted(new_password()),
     ["--password", "not-it"], "wrong password for this 2FAS backup"),
    ("2FAS no password", "b.2fas", lambda: _twofas_encrypted(new_password()), [],
     "this 2FAS backup is encrypted"),
    ("2FAS blob malformed", "b.2fas",
     lambda: json.dumps({"services": [], "servicesEncrypted": "AAAA:AAAA"}),
     ["--password", "x"], "servicesEncrypted must be three base64 parts"),
    ("2FAS empty secret", "b.2fas",
     lambda: fx.twofas_backup([fx.twofas_service("", "Empty")]), [], "secret is empty"),
    ("2FAS unknown type", "b.2fas",
     lambda: fx.twofas_backup([fx.twofas_service(_b32(), "M", token_type="MOTP")]), [],
     "unknown type 'MOTP'"),
    ("Aegis wrong password", "a.json",
     lambda: _aegis([fx.aegis_entry(_b32(), "n", "I")], new_password()),
     ["--password", "not-it"], "wrong password for this Aegis vault"),
    ("Aegis no password", "a.json",
     lambda: _aegis([fx.aegis_entry(_b32(), "n", "I")], new_password()), [],
     "this Aegis vault is encrypted"),
    ("Aegis yandex entry", "a.json",
     lambda: _aegis([fx.aegis_entry(_b32(), "n", "I", type_="yandex")]), [],
     "type 'yandex' is not supported"),
    ("andOTP not objects", "o.json", lambda: "[1, 2]", [], "not an andOTP account object"),
    ("andOTP secret not text", "o.json", lambda: json.dumps([{"label": "x", "secret": 5}]),
     [], "secret must be base32 text"),
    ("uri empty secret", "u.txt", lambda: "otpauth://totp/I:n?secret=", [], "secret is empty"),
    ("uri bad base32", "u.txt", lambda: "otpauth://totp/I:n?secret=AB1CDEFG", [],
     "secret is not valid base32"),
    ("uri over-long name", "u.txt",
     lambda: "otpauth://totp/I:%s?secret=%s" % ("n" * 41, _b32()), [],
     "name is too long: 41 bytes"),
    ("uri over-long issuer", "u.txt",
     lambda: "otpauth://totp/%s:n?secret=%s" % ("i" * 41, _b32()), [],
     "issuer is too long: 41 bytes"),
    ("uri SHA224", "u.txt", lambda: "otpauth://totp/I:n?algorithm=SHA224&secret=" + _b32(), [],
     "algorithm must be SHA1, SHA256 or SHA512"),
    ("uri 10 digits", "u.txt", lambda: "otpauth://totp/I:n?digits=10&secret=" + _b32(), [],
     "digits must be 6, 7 or 8, not 10"),
    ("uri period 0", "u.txt", lambda: "otpauth://totp/I:n?period=0&secret=" + _b32(), [],
     "period must be 1 to 86400 seconds"),
    ("uri hotp without counter", "u.txt", lambda: "otpauth://hotp/I:n?secret=" + _b32(), [],
     "needs a counter="),
    ("uri secret too long", "u.txt",
     lambda: "otpauth://totp/I:n?secret=" + fx.b32(new_secret(65)), [],
     "secret is too long: 65 bytes"),
    ("uri control character", "u.txt",
     lambda: "otpauth://totp/I%09x:n?secret=" + _b32(), [], "control character"),
    ("uri motp", "u.txt", lambda: "otpauth://motp/I:n?secret=" + _b32(), [],
     "type must be totp, hotp or steam"),
    ("image without QR code", "blank.png",
     lambda: fx.encoded(Image.new("RGB", (100, 80), "white")), [], "no QR code found"),
    ("truncated PNG", "t.png", lambda: _png()[:len(_png()) // 2], [], "cannot read image"),
    ("QR of a web address", "w.png", lambda: fx.encoded(fx.qr_image("https://example.com/")),
     [], "none holds an otpauth"),
    ("text forced as Aegis", "u.txt", lambda: "otpauth://totp/I:n?secret=" + _b32(),
     ["--format", "aegis"], "is corrupt JSON"),
    ("unknown --format", "u.txt", lambda: "otpauth://totp/I:n?secret=" + _b32(),
     ["--format", "lastpass"], "invalid choice: 'lastpass'"),
]


def test_catalog_is_broad():
    assert len(MALFORMED) >= 30


@pytest.fixture
def seeded(shared):
    """The shared token holding one account, so 'unchanged' means something."""
    if listed(shared) != [("Seed", "keep")]:
        assert cli(shared, "wipe", "--yes").rc == 0
        assert cli(shared, "add", "keep", "--issuer", "Seed", "--secret", _b32(),
                   "--no-backup").rc == 0
    return shared, listed(shared)


@pytest.mark.parametrize("name, content, extra, words",
                         [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_input_is_refused_and_the_token_unchanged(seeded, tmp_path, name, content,
                                                            extra, words):
    tok, before = seeded
    if content is None:
        path = str(tmp_path / (name or "missing.txt"))
    else:
        path = write(tmp_path, name, content())
    run = cli(tok, "import", path, "--yes", *extra)
    assert run.rc == 2, run
    assert run.doc["ok"] is False and run.doc["message"], run
    said = run.message + " ".join(r["reason"] for r in (run.data or {}).get("rejected", []))
    assert words in said, run
    if run.doc["error"] == "nothing_to_import":
        assert run.data["rejected"] and run.data["rejected"][0]["label"]
    text = cli(tok, "import", path, "--yes", *extra, as_json=False)
    assert text.rc == 2 and text.out == "" and text.err.startswith("error: "), text
    assert listed(tok) == before
    assert not os.path.exists(os.environ["TOKEN_BACKUP"])


def test_an_import_redraws_the_screen_once_not_per_account(tmp_path):
    """The middle adds of an import carry show=false: the token writes them
    without a screen redraw (on a board, most of an add's time is the
    redraw); the last one shows the new account."""
    from host_tools.simulator import SimulatedToken
    from host_tools import provision
    path = tmp_path / "uris.txt"
    path.write_text("".join("otpauth://totp/Bulk:user%d?secret=%s&issuer=Bulk\n"
                            % (i, base64.b32encode(os.urandom(20)).decode()) for i in range(12)))
    with SimulatedToken() as tok:
        tok.set_time(1_900_000_000)
        tok.reset_i2c_counters()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = provision.main(["--port", tok.port, "--json", "import", str(path), "--yes"])
        assert code == 0, out.getvalue()
        drawn = tok.i2c_bytes()
        screen(tok, "12/12")  # the last add is on screen
    # One redraw is a few pages (under 1100 bytes with the per-second ticks);
    # twelve would be well over 5000.
    assert drawn < 3000, drawn


# ---- write_all: add-many batches ----

class BatchClient(FakeClient):
    """A token with add-many; `refuse` names a label it refuses, `lost` one
    whose request loses the link; `many` False: firmware without add-many."""

    def __init__(self, refuse=None, lost=None, many=True):
        FakeClient.__init__(self, 0, None)
        self.refuse, self.lost, self.many, self.requests = refuse, lost, many, []

    def add_many(self, accounts, show=True):
        labels = [a.label for a in accounts]
        self.requests.append(("add-many", labels, show))
        if not self.many:
            raise DeviceError("unknown_command", "unknown command")
        if self.lost in labels:
            raise LinkLostError("lost the link")
        if self.refuse in labels:
            raise DeviceError("name_taken", "taken")
        self.added.extend(labels)
        return {"index": len(self.added) - len(labels), "count": len(self.added)}

    def add(self, account, show=True):
        self.requests.append(("add", [account.label], show))
        if account.label == self.refuse:
            raise DeviceError("name_taken", "taken")
        self.added.append(account.label)
        return {"index": len(self.added) - 1, "count": len(self.added)}


def _write(client, n):
    accounts = [acct("w%02d" % i, "Batch") for i in range(n)]
    written, not_written, error, in_flight = write_all(client, accounts, Progress(n, "x"))
    return [a.label for a in written], [a.label for a in not_written], error, in_flight


def test_write_all_sends_batches_and_shows_only_the_last():
    c = BatchClient()
    written, not_written, error, _ = _write(c, 40)
    assert error is None and not_written == [] and written == c.added
    assert len(c.requests) < 40 and {r[0] for r in c.requests} == {"add-many"}
    assert [r[2] for r in c.requests] == [False] * (len(c.requests) - 1) + [True]


def test_write_all_finds_the_refused_account_one_by_one():
    c = BatchClient(refuse="Batch:w05")
    written, not_written, error, in_flight = _write(c, 40)
    assert error.code == "name_taken" and in_flight == 1
    assert written == ["Batch:w%02d" % i for i in range(5)] == c.added
    assert not_written[0] == "Batch:w05" and len(not_written) == 35


def test_write_all_a_lost_batch_is_all_in_flight():
    c = BatchClient(lost="Batch:w15")
    written, not_written, error, in_flight = _write(c, 40)
    assert isinstance(error, LinkLostError) and written == c.added
    assert 0 < in_flight == len(c.requests[-1][1]) and "Batch:w15" in not_written[:in_flight]


def test_write_all_falls_back_to_add_on_older_firmware():
    c = BatchClient(many=False)
    written, not_written, error, _ = _write(c, 20)
    assert error is None and len(written) == 20 == len(c.added)
    assert [r[0] for r in c.requests] == ["add-many"] + ["add"] * 20  # asked once
    assert c.requests[-1][2] is True and not any(r[2] for r in c.requests[:-1])
