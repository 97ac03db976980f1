"""host_tools/provision.py: input checking, output shapes, exit codes, port discovery."""
import base64
import io
import json
import os
import subprocess
import sys
from collections import deque
from types import SimpleNamespace

import pytest
import serial.tools.list_ports

from firmware.protocol import frames
from host_tools import link, provision
from host_tools.cli import common
from host_tools.client import TokenClient
from host_tools.errors import LinkLostError, NoDeviceError, NotTokenError, TokenError

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
SECRET_BYTES = os.urandom(20)
SECRET = base64.b32encode(SECRET_BYTES).decode()  # random per run, never a real key


def assert_no_secret(text):
    for form in (SECRET, SECRET.lower(), SECRET[:16], SECRET_BYTES.hex()):
        assert form not in text


def run(capsys, *argv):
    rc = provision.main(list(argv))
    out, err = capsys.readouterr()
    assert_no_secret(out + err)
    return rc, out, err


@pytest.fixture(autouse=True)
def quiet_stdin(monkeypatch):
    # No test may block on the real terminal; each one that reads stdin sets it.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.delenv("TOKEN_PORT", raising=False)


@pytest.fixture
def no_device(monkeypatch):
    """Fail the test if anything tries to reach a device."""
    def touched(*args, **kwargs):
        pytest.fail("bad input reached the device layer")
    monkeypatch.setattr(provision, "connect", touched)
    monkeypatch.setattr(link, "find_port", touched)
    monkeypatch.setattr(link, "SerialLink", touched)


class FakeLink:
    """A link answered from a table: cmd -> data dict, error code string, or a
    function of the request's args."""

    port = "/dev/ttyFAKE"
    # add and delete look at the token first; an empty one unless a test says otherwise
    DEFAULTS = {"info": {"capacity": 64, "board": "fake"}, "list": {"total": 0, "accounts": []}}

    def __init__(self, replies):
        self.replies = dict(self.DEFAULTS, **replies)
        self.inbox = deque()
        self.requests = []
        self.closed = False

    def write(self, data):
        req_id, cmd, args = frames.decode_request(data.rstrip(b"\n"))
        self.requests.append((cmd, args))
        reply = self.replies[cmd]
        reply = reply(args) if callable(reply) else reply
        if isinstance(reply, str):
            self.inbox.append(frames.encode_error(req_id, reply, "refused: " + reply))
        else:
            self.inbox.append(frames.encode_ok(req_id, reply))

    def readline(self, deadline):
        return self.inbox.popleft().rstrip(b"\n") if self.inbox else None

    def sent(self, cmd):
        """The arguments of the one `cmd` request sent, as the token reads
        them (an add leaves out the members it would assume)."""
        found = [args for name, args in self.requests if name == cmd]
        assert len(found) == 1, self.requests
        return token_view(found[0]) if cmd == "add" else found[0]

    def reset_input(self):
        self.inbox.clear()

    def close(self):
        self.closed = True


@pytest.fixture
def token(monkeypatch):
    """Install a FakeLink behind provision.connect; returns it."""
    def install(replies):
        fake = FakeLink(replies)
        monkeypatch.setattr(provision, "connect",
                            lambda args: TokenClient(fake, timeout=args.timeout))
        return fake
    return install


# ---- bad input: exit 2, nothing sent ----

BAD_INPUT = [
    # (argv, error code, words in the message)
    (["add", "x", "--secret", "JBSWY3D1"], "bad_input", "not valid base32 (character 8"),
    (["add", "x", "--secret", SECRET, "--digits", "9"], "bad_input", "digits must be 6, 7 or 8"),
    (["add", "x", "--secret", SECRET, "--digits", "six"], "usage", "invalid int value"),
    (["add", "x", "--secret", SECRET, "--algorithm", "MD5"], "bad_input", "algorithm must be"),
    (["add", "x", "--secret", SECRET, "--hotp", "--steam"], "usage", "not allowed with"),
    (["add", "x", "--secret", SECRET, "--period", "0"], "bad_input", "period must be"),
    (["add", "x", "--secret", SECRET, "--counter", "3"], "bad_input", "--counter is for --hotp"),
    (["add", "x", "--secret", SECRET, "--hotp", "--counter", "-1"], "bad_input",
     "counter must be"),
    (["add", "x", "--secret", SECRET, "--hotp", "--period", "30"], "bad_input",
     "--period is for time-based"),
    (["add", "x", "--secret", SECRET, "--steam", "--digits", "6"], "bad_input",
     "--steam fixes digits"),
    (["add", "--secret", SECRET], "bad_input", "add needs a NAME"),
    (["add", "n" * 41, "--secret", SECRET], "bad_input", "name is too long: 41 bytes"),
    (["add", "x", "--issuer", "a\tb", "--secret", SECRET], "bad_input", "control character"),
    (["add", "x", "--secret", base64.b32encode(os.urandom(65)).decode()], "bad_input",
     "too long: 65 bytes, the token holds at most 64"),
    (["add", "x", SECRET], "usage", "unrecognized arguments: <hidden>"),
    (["add", "--uri", "otpauth://totp/x?issuer=A"], "bad_input", "no secret= parameter"),
    (["add", "--uri", "otpauth://totp/x?secret=" + SECRET, "--digits", "8"], "bad_input",
     "drop --digits"),
    (["add", "--uri", "otpauth://totp/x?secret=" + SECRET, "--secret", SECRET], "bad_input",
     "drop --secret"),
    (["add", "--uri", "otpauth://totp/A:x?secret=%s&issuer=B" % SECRET], "bad_input",
     "label says issuer 'A' but issuer= says 'B'"),
    (["add", "--uri", "otpauth://hotp/x?secret=" + SECRET], "bad_input", "needs a counter="),
    (["add", "--uri", "-"], "bad_input", "nothing read from stdin"),
    (["delete"], "usage", "the following arguments are required: NAME"),
    (["delete", "x"], "confirm_required", "add --yes to delete without asking"),
    (["delete", " "], "bad_input", "NAME is empty"),
    (["wipe"], "confirm_required", "add --yes to confirm"),
    # config's ranges are the token's (firmware/rules.py), checked before
    # anything is sent and named by the option.
    (["config", "--type-interval", "500"], "bad_input", "--type-interval must be 2-200 ms"),
    (["config", "--type-interval", "1"], "bad_input", "--type-interval must be 2-200 ms"),
    (["config", "--tries", "2"], "bad_input", "--tries must be 3-15"),
    (["config", "--lock-after", "86401"], "bad_input", "--lock-after must be 0-86400 seconds"),
    (["frobnicate"], "usage", "unknown command 'frobnicate'"),
    # Typos get a suggestion, and an unknown option is named as one, not
    # reported as the command it pushed out of place.
    (["lst"], "usage", "unknown command 'lst': did you mean 'list'?"),
    (["--prot", "5", "list"], "usage", "unknown option --prot: did you mean --port?"),
    (["list", "--jsn"], "usage", "unknown option --jsn: did you mean --json?"),
    ([], "usage", "the following arguments are required: COMMAND"),
    (["--timeout", "0", "list"], "usage", "argument --timeout"),
    (["--timeout", "soon", "list"], "usage", "argument --timeout"),
    (["list", "--bogus"], "usage", "unknown option --bogus"),
]


@pytest.mark.parametrize("argv, code, words", BAD_INPUT)
def test_bad_input_exits_2_without_touching_the_device(no_device, capsys, argv, code, words):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert words in err


@pytest.mark.parametrize("argv, code, words", BAD_INPUT)
def test_bad_input_as_json(no_device, capsys, argv, code, words):
    rc, out, err = run(capsys, "--json", *argv)
    assert rc == 2 and err == ""
    reply = json.loads(out)
    assert reply == {"ok": False, "error": code, "message": reply["message"]}
    assert words in reply["message"]


def test_json_flag_works_after_the_command(no_device, capsys):
    rc, out, err = run(capsys, "add", "x", "--secret", "JBSWY3D1", "--json")
    assert rc == 2 and err == "" and json.loads(out)["error"] == "bad_input"


def test_wipe_refusal_names_the_fix(no_device, capsys):
    rc, out, err = run(capsys, "wipe")
    assert rc == 2 and err == "error: wipe deletes every account on the token; " \
                              "add --yes to confirm\n"


# ---- reading the secret without argv ----

def test_secret_from_a_pipe(token, capsys, monkeypatch):
    fake = token({"add": {"index": 0, "count": 1}})
    monkeypatch.setattr(sys, "stdin", io.StringIO(" ".join(SECRET.lower()) + "\r\n"))
    rc, out, err = run(capsys, "add", "alice", "--issuer", "ACME")
    assert rc == 0, err
    assert fake.sent("add")["secret"] == SECRET_BYTES.hex()


def test_secret_from_the_terminal_uses_getpass(token, capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    prompts = []
    monkeypatch.setattr(sys, "stdin", Tty(""))
    monkeypatch.setattr(common.getpass, "getpass",
                        lambda prompt: prompts.append(prompt) or SECRET)
    fake = token({"add": {"index": 0, "count": 1}})
    rc, out, err = run(capsys, "add", "alice")
    assert rc == 0 and prompts == ["secret (base32): "]
    assert fake.sent("add")["secret"] == SECRET_BYTES.hex()


def token_view(args):
    """An add's arguments with the token's defaults filled in
    (firmware/protocol/service.py), for comparing what was meant."""
    view = {"issuer": "", "kind": "totp", "algorithm": "SHA1", "period": 30, "counter": 0,
            "digits": 5 if args.get("kind") == "steam" else 6}
    view.update(args)
    return view


def test_uri_from_stdin_with_overrides(token, capsys, monkeypatch):
    uri = "otpauth://hotp/Old:bob?secret=%s&counter=9&digits=8" % SECRET
    monkeypatch.setattr(sys, "stdin", io.StringIO(uri + "\n"))
    fake = token({"add": {"index": 3, "count": 4}})
    rc, out, err = run(capsys, "--json", "add", "--uri", "-", "robert", "--issuer", "New")
    assert rc == 0
    assert fake.sent("add") == token_view({
        "name": "robert", "issuer": "New", "secret": SECRET_BYTES.hex(), "kind": "hotp",
        "algorithm": "SHA1", "digits": 8, "counter": 9})
    assert json.loads(out) == {"ok": True, "data": {"index": 3, "position": 4, "count": 4,
                                                    "label": "New:robert"}}


class Tty(io.StringIO):
    def isatty(self):
        return True


TWO = {"total": 2, "accounts": [
    {"index": 0, "name": "bob", "issuer": "", "kind": "totp", "algorithm": "SHA1",
     "digits": 6, "period": 30},
    {"index": 1, "name": "alice", "issuer": "ACME", "kind": "totp", "algorithm": "SHA1",
     "digits": 6, "period": 30}]}


def test_add_from_a_pipe_checks_the_name_first_as_on_a_terminal(token, capsys):
    """Issue 17: a taken name with nothing on stdin said "nothing read from
    stdin"; on a terminal it said the name is taken. The same check first
    everywhere; an empty stdin is only reported for a free name."""
    token({"list": TWO})
    rc, out, err = run(capsys, "add", "alice", "--issuer", "ACME")
    assert rc == 1 and "ACME:alice is already on the token" in err, err
    fake = token({"list": TWO})
    rc, out, err = run(capsys, "add", "carol")
    assert rc == 2 and "nothing read from stdin" in err, err
    assert [cmd for cmd, _ in fake.requests] == ["info", "list"]


def test_add_checks_the_token_before_asking_anything(token, capsys, monkeypatch):
    # The README's first example once asked for the secret and a new backup
    # password twice, then failed on a demo account of the same name.
    prompts = []
    monkeypatch.setattr(sys, "stdin", Tty(""))
    monkeypatch.setattr(common.getpass, "getpass", lambda p: prompts.append(p) or SECRET)
    monkeypatch.setattr("host_tools.cli.common.getpass.getpass",
                        lambda p: prompts.append(p) or "pw")
    monkeypatch.delenv("TOKEN_NO_BACKUP", raising=False)
    monkeypatch.delenv("TOKEN_BACKUP_PASSWORD", raising=False)
    fake = token({"list": TWO, "add": {"index": 2, "count": 3}})
    rc, out, err = run(capsys, "add", "alice", "--issuer", "ACME")
    assert rc == 1 and prompts == []
    assert err == ("error: ACME:alice is already on the token (2/2): choose another name or "
                   "--issuer, or rename that one first; nothing was added\n")
    full = dict(TWO, total=2)
    fake = token({"list": full, "info": {"capacity": 2}})
    rc, out, err = run(capsys, "add", "carol")
    assert rc == 1 and prompts == [] and "the token is full" in err
    assert [cmd for cmd, _ in fake.requests] == ["info", "list"]
    # A free name: the secret is asked for, then the backup password (twice, a new file).
    fake = token({"list": TWO, "add": {"index": 2, "count": 3}})
    rc, out, err = run(capsys, "add", "carol")
    assert rc == 0, err
    assert prompts[0] == "secret (base32): " and len(prompts) == 3
    assert out.startswith("added carol (3/3 on the token)\n")


# ---- commands over a fake token ----

def test_add_options_become_protocol_arguments(token, capsys):
    fake = token({"add": {"index": 0, "count": 1}})
    rc, out, err = run(capsys, "add", "bob", "--secret", SECRET, "--issuer", "Corp",
                       "--digits", "8", "--period", "60", "--algorithm", "sha256")
    assert rc == 0 and err == ""
    assert out == "added Corp:bob (1/1 on the token)\n"  # as the screen counts
    assert fake.sent("add") == token_view({"name": "bob", "issuer": "Corp",
                                              "secret": SECRET_BYTES.hex(), "kind": "totp",
                                              "algorithm": "SHA256", "digits": 8, "period": 60})
    assert fake.closed


@pytest.mark.parametrize("flags, kind, extra", [
    (["--steam"], "steam", {"digits": 5, "period": 30}),
    (["--hotp"], "hotp", {"digits": 6, "counter": 0}),
    (["--hotp", "--counter", "12"], "hotp", {"digits": 6, "counter": 12}),
])
def test_add_kinds(token, capsys, flags, kind, extra):
    fake = token({"add": {"index": 0, "count": 1}})
    rc, out, err = run(capsys, "add", "g", "--secret", SECRET, *flags)
    assert rc == 0
    sent = fake.sent("add")
    assert sent["kind"] == kind and {k: sent[k] for k in extra} == extra


ACCOUNTS = [
    {"index": 0, "name": "alice@example.com", "issuer": "GitHub", "kind": "totp",
     "algorithm": "SHA1", "digits": 6, "period": 30},
    {"index": 1, "name": "bob", "issuer": "", "kind": "hotp", "algorithm": "SHA256",
     "digits": 8, "counter": 5},
]


def test_list_table(token, capsys):
    token({"list": {"total": 2, "accounts": ACCOUNTS}, "info": {"capacity": 64}})
    rc, out, err = run(capsys, "list")
    assert rc == 0
    assert out.splitlines() == [
        "#  issuer  name               type  algorithm  digits  period/counter",
        "1  GitHub  alice@example.com  totp  SHA1       6       30s",
        "2          bob                hotp  SHA256     8       counter 5",
        "2 of 64 slots used, 62 free",
    ]


def test_list_json_gives_positions_from_1_beside_the_index(token, capsys):
    token({"list": {"total": 2, "accounts": ACCOUNTS}, "info": {"capacity": 64}})
    rc, out, err = run(capsys, "--json", "list")
    accounts = json.loads(out)["data"]["accounts"]
    assert [(a["index"], a["position"]) for a in accounts] == [(0, 1), (1, 2)]


def test_list_empty_and_json(token, capsys):
    token({"list": {"total": 0, "accounts": []}, "info": {"capacity": 64}})
    assert run(capsys, "list")[1] == "no accounts\n0 of 64 slots used, 64 free\n"
    rc, out, err = run(capsys, "list", "--json")
    assert json.loads(out) == {"ok": True, "data": {"accounts": [], "count": 0,
                                                    "favourites": 0, "capacity": 64}}


def deletes(fake):
    return [args for cmd, args in fake.requests if cmd == "delete"]


def test_delete(token, capsys):
    fake = token({"delete": {"count": 1}, "list": TWO})
    rc, out, err = run(capsys, "delete", "alice", "--issuer", "ACME", "--yes")
    assert rc == 0 and out == "deleted ACME:alice (2/2; 1 account left)\n"
    assert deletes(fake) == [{"name": "alice", "issuer": "ACME"}]
    # The label picks the same account, and the exact pair is what is sent.
    fake = token({"delete": {"count": 1}, "list": TWO})
    rc, out, err = run(capsys, "--json", "delete", "ACME:alice", "--yes")
    assert json.loads(out)["data"] == {"count": 1, "label": "ACME:alice", "position": 2,
                                       "backup": None}
    assert deletes(fake) == [{"name": "alice", "issuer": "ACME"}]


def test_delete_without_yes_and_no_terminal_refuses(no_device, capsys):
    rc, out, err = run(capsys, "delete", "alice")
    assert rc == 2 and out == ""
    assert err == ("error: delete asks first and there is no terminal to ask on: add --yes "
                   "to delete without asking\n")


@pytest.mark.parametrize("answer, deleted", [("y\n", True), ("n\n", False), ("", False)])
def test_delete_asks_on_a_terminal(token, capsys, monkeypatch, answer, deleted):
    monkeypatch.setattr(sys, "stdin", Tty(answer))
    fake = token({"delete": {"count": 1}, "list": TWO})
    rc, out, err = run(capsys, "delete", "bob", "--no-backup")
    assert "Delete bob (1/2) from the token? [y/N]" in err
    assert "its secret will be gone for good" in err  # no backup holds it
    if deleted:
        assert rc == 0 and deletes(fake) == [{"name": "bob", "issuer": ""}]
    else:
        assert rc == 2 and "cancelled: nothing was deleted" in err and deletes(fake) == []


def test_delete_of_a_missing_account_asks_nothing(token, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", Tty("y\n"))
    fake = token({"delete": {"count": 1}, "list": TWO})
    rc, out, err = run(capsys, "delete", "carol")
    assert rc == 1 and err == "error: no account carol on the token (see list)\n"
    assert deletes(fake) == []


def test_sync_time_report(token, capsys, monkeypatch):
    token({"get-time": {"unix_ms": 0, "lost": True}, "set-time": {"unix_ms": 1}})
    monkeypatch.setattr(TokenClient, "sync_time", lambda self, trim="auto": {
        "offset_before_ms": -1234.56, "offset_after_ms": 0.4, "rtt_ms": 3.25, "written_ms": 1})
    rc, out, err = run(capsys, "sync-time")
    assert rc == 0
    assert out.splitlines() == ["offset before: -1234.6 ms", "offset after:  +0.4 ms",
                                "round trip:    3.2 ms"]


def lost_until_set(fake_time):
    def get_time(args):
        return {"unix_ms": fake_time[0], "lost": fake_time[0] is None}

    def set_time(args):
        fake_time[0] = args["unix_ms"]
        return {"unix_ms": args["unix_ms"], "before_ms": None}
    return {"get-time": get_time, "set-time": set_time}


def test_sync_time_over_the_wire_with_a_lost_clock(token, capsys):
    fake = token(lost_until_set([None]))
    rc, out, err = run(capsys, "--json", "sync-time")
    data = json.loads(out)["data"]
    assert rc == 0 and data["offset_before_ms"] is None
    assert isinstance(data["offset_after_ms"], float)
    assert [r[0] for r in fake.requests] == ["get-time"] * 5 + ["set-time"] + ["get-time"] * 5
    token(lost_until_set([None]))
    rc, out, err = run(capsys, "sync-time")
    assert out.startswith("offset before: unknown (the token's clock was lost)\n")


def test_sync_time_when_the_clock_stays_lost(token, capsys):
    token({"get-time": {"unix_ms": 0, "lost": True},
           "set-time": lambda args: {"unix_ms": args["unix_ms"], "before_ms": None}})
    rc, out, err = run(capsys, "sync-time")
    assert rc == 1 and err.startswith("error: the token's clock still reads as lost")


def test_status_and_info(token, capsys):
    """Issue 17: a summary a person reads, grouped (accounts and space, clock
    and drift, lock, keyboard, firmware), not ~40 flat keys with heap.alloc
    first; every key stays in --json."""
    status = {"accounts": 2, "capacity": 64, "storage": {"total": 4096, "free": 1024},
              "heap": {"alloc": 216704, "free": 1856128, "peak": 722319},
              "clock": {"lost": False, "unix": 1700000000, "temperature_c": 24.5, "aging": -3,
                        "drift": {"drift_ppm": 1.25, "expected_error_ms": 35,
                                  "last_sync": 1699000000}},
              "lock": {"pin": True, "locked": True, "tries_left": 7, "tries_max": 8,
                       "lock_after_s": 300, "list_private": False, "erased": False},
              "uptime_s": 3700, "diag": {"errors": 0, "presses": 12}, "fault": None}
    info = {"firmware": "totp-token", "version": "0.1.0", "protocol": 1, "board": "rpi_pico",
            "runtime": "micropython", "display": [128, 64], "capacity": 1000,
            "auth": {"pin": False, "pin_digits": [4, 16], "tries_max": 8, "tries_left": 8,
                     "lock_after_s": 300, "list_private": False, "erased": False},
            "keyboard": {"supported": True, "typing": True, "layout": "de", "keypad": False,
                         "enter": True, "interval_ms": 20},
            "features": ["totp", "hotp"]}
    token({"status": status, "info": info})
    rc, out, err = run(capsys, "status")
    assert rc == 0
    assert out.splitlines() == [
        "accounts:  2 of 64, flash 1.0 KB free of 4.0 KB",
        "clock:     2023-11-14 22:13:20 UTC, 24.5 C; drift +1.25 ppm (expect 35 ms off), "
        "last sync 2023-11-03, aging -3",
        "lock:      PIN, locked, 7 of 8 tries left, locks after 300 s idle; list public",
        "firmware:  up 1 h 1 min, 0 errors, 12 presses"]
    rc, out, err = run(capsys, "info")
    assert out.splitlines() == [
        "firmware:  totp-token 0.1.0 (protocol 1), board rpi_pico, micropython",
        "accounts:  up to 1000; display 128x64",
        "lock:      no PIN (4-16 digits when set), 8 tries before the erase, "
        "locks after 300 s idle; list public",
        "keyboard:  typing on (double press), layout de, top-row digits, Enter after",
        "features:  totp hotp"]
    rc, out, err = run(capsys, "--json", "status")
    assert json.loads(out)["data"] == status  # every key, as the token gave it
    token({"status": {"accounts": 0, "fault": "display not found at 0x3C",
                      "clock": {"lost": True}}})
    rc, out, err = run(capsys, "status")
    assert out.splitlines()[:3] == ["FAULT: display not found at 0x3C", "accounts:  0",
                                    "clock:     LOST: no time-based codes (run sync-time)"]


def test_wipe_with_yes(token, capsys):
    fake = token({"wipe": {"deleted": 7}})
    rc, out, err = run(capsys, "wipe", "--yes")
    assert rc == 0 and out == "wiped: 7 accounts deleted\n"
    assert fake.requests == [("wipe", {"confirm": "wipe"})]


# ---- errors from the device side ----

def test_refusal_exits_1_with_the_device_code(token, capsys):
    token({"add": "name_taken"})
    rc, out, err = run(capsys, "add", "alice", "--secret", SECRET)
    assert rc == 1 and out == "" and err == "error: refused: name_taken\n"
    rc, out, err = run(capsys, "--json", "add", "alice", "--secret", SECRET)
    assert rc == 1 and json.loads(out) == {"ok": False, "error": "name_taken",
                                           "message": "refused: name_taken"}


@pytest.mark.parametrize("error, code", [
    (NoDeviceError("no token found: plug it in, or pass --port / set TOKEN_PORT"), "no_device"),
    (NotTokenError("the device on /dev/x answered, but not as token firmware"), "not_token"),
    (LinkLostError("lost the link to the token on /dev/x"), "link_lost"),
    (TokenError("several possible tokens", "several_devices", 3), "several_devices"),
])
def test_device_trouble_exits_3(monkeypatch, capsys, error, code):
    def connect(args):
        raise error
    monkeypatch.setattr(provision, "connect", connect)
    rc, out, err = run(capsys, "list")
    assert rc == 3 and err == "error: %s\n" % error.message
    rc, out, err = run(capsys, "list", "--json")
    assert rc == 3 and json.loads(out) == {"ok": False, "error": code,
                                           "message": error.message}


def test_not_token_firmware_end_to_end(monkeypatch, capsys):
    class Repl(FakeLink):
        def write(self, data):  # echo and a traceback, like MicroPython's REPL
            self.inbox.extend([data, b"Traceback (most recent call last):\n", b">>> "])
    monkeypatch.setattr(provision, "connect",
                        lambda args: TokenClient(Repl({}), timeout=args.timeout))
    rc, out, err = run(capsys, "--timeout", "0.2", "info")
    assert rc == 3 and "answered, but not as token firmware" in err
    assert err.endswith(DEVICES_HINT + "\n")


# ---- finding the port ----

def port(device, vid=None, pid=None):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description="n/a")


@pytest.fixture
def comports(monkeypatch):
    def install(*ports):
        monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: list(ports))
    return install


def test_find_port_none(comports):
    comports(port("/dev/ttyS0"), port("/dev/ttyUSB0", 0x8087, 0x0024))
    with pytest.raises(NoDeviceError) as e:
        link.find_port(env={})
    assert e.value.message == "no token found: plug it in, or pass --port / set TOKEN_PORT"
    assert e.value.exit_code == 3


@pytest.mark.parametrize("vid, pid", sorted(link.KNOWN_BOARDS))
def test_find_port_one_of_each_known_board(comports, vid, pid):
    comports(port("/dev/ttyS0"), port("/dev/ttyACM0", vid, pid))
    assert link.find_port(env={}) == "/dev/ttyACM0"


def test_find_port_several(comports):
    comports(port("/dev/ttyUSB0", 0x10C4, 0xEA60), port("/dev/ttyACM0", 0x2E8A, 0x0005))
    with pytest.raises(TokenError) as e:
        link.find_port(env={})
    assert e.value.code == "several_devices" and e.value.exit_code == 3
    assert e.value.message == (
        "several possible tokens: /dev/ttyACM0 (MicroPython on RP2040/RP2350), "
        "/dev/ttyUSB0 (CP210x USB-serial); choose one with --port")


def test_token_port_overrides_detection(comports):
    comports(port("/dev/ttyUSB0", 0x10C4, 0xEA60), port("/dev/ttyACM0", 0x2E8A, 0x0005))
    assert link.find_port(env={"TOKEN_PORT": "/dev/ttyTOKEN"}) == "/dev/ttyTOKEN"


def test_find_port_reads_the_environment_by_default(comports, monkeypatch):
    comports()
    monkeypatch.setenv("TOKEN_PORT", "/dev/ttyENV")
    assert link.find_port() == "/dev/ttyENV"


@pytest.mark.parametrize("argv, env, expected", [
    (["--port", "/dev/ttyARG", "info"], "/dev/ttyENV", "/dev/ttyARG"),
    (["info", "--port", "/dev/ttyARG"], None, "/dev/ttyARG"),
    (["info"], "/dev/ttyENV", "/dev/ttyENV"),
    (["info"], None, "/dev/ttyACM0"),
])
def test_port_choice_order(comports, monkeypatch, capsys, argv, env, expected):
    comports(port("/dev/ttyACM0", 0x2E8A, 0x0005))
    if env:
        monkeypatch.setenv("TOKEN_PORT", env)
    opened = []

    def serial_link(name):
        opened.append(name)
        return FakeLink({"info": {"firmware": "token"}})
    monkeypatch.setattr(link, "SerialLink", serial_link)
    rc, out, err = run(capsys, *argv)
    assert rc == 0 and opened == [expected]


def test_no_token_plugged_in(comports, capsys):
    comports(port("/dev/ttyS0"))
    rc, out, err = run(capsys, "status")
    assert rc == 3 and err == "error: no token found: plug it in, or pass --port / " \
                              "set TOKEN_PORT\n"


DEVICES_HINT = "; `provision.py devices` lists the tokens and simulators this computer sees"


def test_port_that_cannot_be_opened(capsys, tmp_path):
    """Issue 17: a wrong port points to `devices`, which lists the right ones."""
    rc, out, err = run(capsys, "--port", str(tmp_path / "ttyACM7"), "info")
    assert rc == 3 and err == "error: cannot open %s: No such file or directory%s\n" % (
        tmp_path / "ttyACM7", DEVICES_HINT)
    rc, out, err = run(capsys, "--port", str(tmp_path / "ttyACM7"), "--json", "info")
    assert json.loads(out)["message"].endswith(DEVICES_HINT)


def test_a_port_without_token_firmware_points_to_devices(monkeypatch, capsys):
    class Silent(FakeLink):
        def write(self, data):
            pass
    monkeypatch.setattr(provision, "connect",
                        lambda args: TokenClient(Silent({}), timeout=args.timeout))
    rc, out, err = run(capsys, "--timeout", "0.2", "info")
    assert rc == 3 and "did not answer within 0.2 s" in err and err.endswith(DEVICES_HINT + "\n")


def test_a_token_that_stops_answering_is_not_a_wrong_port(monkeypatch, capsys):
    class Quits(FakeLink):
        def write(self, data):
            if not self.requests:
                FakeLink.write(self, data)
            else:
                self.requests.append(None)
    fake = Quits({"list": {"total": 1, "accounts": [{"index": 0, "name": "a", "issuer": ""}]}})
    monkeypatch.setattr(provision, "connect",
                        lambda args: TokenClient(fake, timeout=args.timeout))
    rc, out, err = run(capsys, "--timeout", "0.2", "delete", "a", "--yes")
    assert rc == 3 and "did not answer" in err and "devices" not in err, err


# ---- help ----

EXIT_CODE_LINES = ("0  done", "1  the token refused", "2  bad input", "3  no token found")


def test_top_level_help_lists_commands_and_exit_codes(no_device, capsys):
    rc, out, err = run(capsys, "--help")
    assert rc == 0 and err == "" and out.startswith("usage: provision.py ")
    assert "exit codes:" in out
    for line in EXIT_CODE_LINES:
        assert line in out
    for name in provision.COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", list(provision.COMMANDS))
def test_help_of_each_command_is_its_own(no_device, capsys, command):
    rc, out, err = run(capsys, command, "--help")
    assert rc == 0 and err == ""
    assert out.startswith("usage: provision.py %s " % command)
    assert provision.COMMANDS[command][2] in out
    assert "exit codes:" not in out  # the top level's, not repeated twelve times
    parser = provision.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:  # every option of this command is shown
        for flag in action.option_strings:
            assert flag in out


@pytest.mark.parametrize("argv0, name", [
    ("/home/u/totp-token/host_tools/provision.py", "provision.py"),
    ("/home/u/.local/bin/totp-token", "totp-token"),
    ("/usr/lib/python3/site-packages/pytest/__main__.py", "provision.py"),
    ("-c", "provision.py"), ("", "provision.py")])
def test_usage_names_the_program_as_run(argv0, name):
    assert provision.program_name(argv0) == name


@pytest.mark.parametrize("launch", [
    [os.path.join("host_tools", "provision.py")],
    ["-m", "host_tools.provision"],
])
def test_runs_as_script_and_module(launch, tmp_path):
    # From another directory too, for the script form: it finds the repo itself.
    cwd = REPO if launch[0] == "-m" else str(tmp_path)
    cmd = [sys.executable] + [os.path.join(REPO, launch[0]) if launch[0] != "-m" else "-m"] \
        + launch[1:]
    env = dict(os.environ)
    env.pop("TOKEN_PORT", None)
    done = subprocess.run(cmd + ["--json", "add", "x", "--secret", "JBSWY3D1"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr == ""
    assert json.loads(done.stdout)["error"] == "bad_input"
    done = subprocess.run(cmd + ["--help"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "exit codes:" in done.stdout


def test_output_into_a_closed_pipe_is_not_a_crash():
    """`provision.py ... | head -1`: the reader may go away before the output;
    the command was done all the same, so no traceback and exit 0."""
    repo = REPO
    proc = subprocess.Popen([sys.executable, os.path.join(repo, "host_tools", "provision.py"),
                             "completion", "bash"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader leaves before anything is printed
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_config_help_says_it_covers_the_lock_and_typing(no_device, capsys):
    """Issue 17: config's help said "lock settings" while half its options
    are about typing the code; each group of options is named in it."""
    summary = provision.COMMANDS["config"][2]
    assert "lock" in summary and "typing" in summary, summary
    rc, out, err = run(capsys, "config", "--help")
    assert rc == 0
    groups = out.split("\n\n")
    lock = [g for g in groups if g.startswith("the lock")]
    typing = [g for g in groups if g.startswith("typing the code")]
    assert len(lock) == 1 and "--tries" in lock[0] and "--private-list" in lock[0], out
    assert len(typing) == 1 and "--layout" in typing[0] and "--tries" not in typing[0], out


# ---- favourites ----

FAV_ACCOUNTS = [
    {"index": 0, "name": "zed", "issuer": "Zulu", "kind": "totp", "algorithm": "SHA1",
     "digits": 6, "period": 30, "favourite": True},
    {"index": 1, "name": "bob", "issuer": "Bank", "kind": "totp", "algorithm": "SHA1",
     "digits": 6, "period": 30},
    {"index": 2, "name": "amy", "issuer": "Alpha", "kind": "totp", "algorithm": "SHA1",
     "digits": 6, "period": 30},
]


def test_list_marks_favourites_in_text_and_json(token, capsys):
    token({"list": {"total": 3, "accounts": FAV_ACCOUNTS}, "info": {"capacity": 64}})
    rc, out, err = run(capsys, "list")
    lines = out.splitlines()
    assert rc == 0 and lines[1].split()[:3] == ["1*", "Zulu", "zed"]
    assert lines[2].split()[0] == "2" and "* favourite: first on the button (1)" in lines
    rc, out, err = run(capsys, "--json", "list")
    data = json.loads(out)["data"]
    assert [a["favourite"] for a in data["accounts"]] == [True, False, False]
    assert data["favourites"] == 1


def test_favourite_names_the_account_exactly_and_unknown_names_send_nothing(token, capsys):
    fake = token({"list": {"total": 3, "accounts": FAV_ACCOUNTS},
                  "favourite": {"index": 1, "favourite": True, "favourites": 2}})
    rc, out, err = run(capsys, "--json", "favourite", "Alpha:amy", "--no-backup")
    assert rc == 0, out
    assert fake.sent("favourite") == {"name": "amy", "issuer": "Alpha"}
    data = json.loads(out)["data"]
    assert (data["position"], data["favourites"], data["label"]) == (2, 2, "Alpha:amy")
    rc, out, err = run(capsys, "favourite", "Zulu:zed", "--off", "--no-backup")
    assert rc == 0 and "no longer a favourite: Zulu:zed" in out
    assert fake.requests[-1] == ("favourite", {"name": "zed", "issuer": "Zulu", "on": False})
    sent = len(fake.requests)
    rc, out, err = run(capsys, "--json", "favourite", "nobody", "--no-backup")
    assert rc == 1 and json.loads(out)["error"] == "not_found"
    assert [cmd for cmd, _ in fake.requests[sent:]] == ["info", "list"]  # no favourite sent


def test_sort_keeps_the_favourites_first(token, capsys):
    order = [dict(a) for a in FAV_ACCOUNTS]

    def move(args):
        at = next(i for i, a in enumerate(order) if (a["issuer"], a["name"]) ==
                  (args["issuer"], args["name"]))
        order.insert(args["to"], order.pop(at))
        return {"index": args["to"]}

    def listed(args):
        return {"total": len(order), "accounts": [dict(a, index=i) for i, a in enumerate(order)]}

    token({"list": listed, "move": move})
    rc, out, err = run(capsys, "--json", "sort")
    assert rc == 0, out
    assert [a["name"] for a in order] == ["zed", "amy", "bob"]
