"""The PIN lock end to end (docs/security.md): provision.py against the
simulator, the button on the lock screen, the retry counter across power
cuts, the erase on the last try, replayed and forged authentication, and the
flash image scanned for secrets. The host side of the exchange is built on
`cryptography` (host_tools/tokencrypto.py), the token's on its own code."""
import base64
import contextlib
import io
import json
import os
import time

import pyotp
import pytest
import serial

from firmware.protocol import frames
from host_tools import pinauth, provision
from host_tools.simulator import SimulatedToken
from tests.forensics import opened, pins_in_env
from tests.pin_gate import GATED, OPEN, PRIVATE
from tests.sim.test_e2e_sim import next_hotp
from tests.waiting import HANG_GUARD_S, REPLY_GUARD, REPLY_GUARD_S, power_cut, wait_for

PIN = "2468"
SEED = b"12345678901234567890"


def b32(raw):
    return base64.b32encode(raw).decode()


def cli(tok, *args, pin=None, new_pin=None, stdin=""):
    """provision.py in-process; the PIN from $TOKEN_PIN as a script gives it."""
    out = io.StringIO()
    old_stdin = os.sys.stdin
    try:
        os.sys.stdin = io.StringIO(stdin)
        with pins_in_env(pin, new_pin), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(io.StringIO()):
            code = provision.main(["--port", tok.port, "--json", "--timeout", REPLY_GUARD] + list(args))
    finally:
        os.sys.stdin = old_stdin
    doc = json.loads(out.getvalue().strip().splitlines()[-1])
    return code, (doc.get("data") if doc.get("ok") else doc)


def listing(tok, pin=None):
    code, data = cli(tok, "list", pin=pin)
    assert code == 0, data
    return [(a["issuer"], a["name"]) for a in data["accounts"]]


# How often the wrong-PIN sweep looks for a verdict between looks at the power
# (its loop is bounded by the hang guard, not by this).
READ_POLL_S = 0.5


def lock_info(tok):
    code, data = cli(tok, "info")  # (cli waits up to the reply guard)
    assert code == 0, data
    return data["auth"]


def code_on_screen(text):
    for line in text.splitlines():
        digits = line.replace(" ", "")
        if digits.isdigit() and len(digits) >= 6:
            return digits
    return None


@pytest.fixture
def ptok():
    """A token with one account and the PIN set."""
    t = SimulatedToken()
    t.start()
    t.set_time(1_900_000_000)
    assert cli(t, "add", "alice", "--issuer", "Ex", "--secret", b32(SEED))[0] == 0
    code, data = cli(t, "pin", "set", stdin=PIN + "\n")
    assert code == 0, data
    yield t
    t.close()


def test_a_pin_change_says_the_token_reseals_its_accounts(ptok):
    # A new PIN brings a new data key: the wait gets a reason and a size.
    err = io.StringIO()
    with pins_in_env(PIN, "97531864"), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(err):
        assert provision.main(["--port", ptok.port, "pin", "change"]) == 0
    assert "reseals its 1 account under the new key" in err.getvalue()
    assert listing(ptok, pin="97531864") == [("Ex", "alice")]


def test_pin_set_locks_the_token_after_power_up(ptok):
    info = lock_info(ptok)
    assert info["pin"] is True and info["tries_left"] == info["tries_max"] == 8
    assert info["scheme"] == "pin-x25519-1"
    ptok.restart()
    text = ptok.screen_text()
    assert "LOCKED" in text and code_on_screen(text) is None and "alice" not in text
    assert lock_info(ptok)["locked"] is True
    # The host's own PIN is independent of the screen: list stays open.
    assert listing(ptok) == [("Ex", "alice")]


def test_button_unlock_shows_codes_equal_to_pyotp(ptok):
    ptok.restart()
    ptok.press()  # wakes the screen, or undoes nothing: no digit is in yet
    ptok.enter_pin("1", submit=False)  # a digit, then a correction
    assert "PIN *0" in ptok.screen_text().splitlines()
    ptok.press()  # a short press undoes the "1"
    assert "PIN 0" in ptok.screen_text().splitlines()
    ptok.enter_pin(PIN)
    text = ptok.screen_text()
    assert "alice" in text, text
    t0 = ptok.rtc_time()
    want = {pyotp.TOTP(b32(SEED)).at(int(t)) for t in (t0 - 1, t0, t0 + 1)}
    assert code_on_screen(text) in want, text
    assert lock_info(ptok)["tries_left"] == 8


def test_wrong_pin_on_the_button_costs_a_try_and_shows_it(ptok):
    ptok.restart()
    ptok.enter_pin("1111")
    text = ptok.screen_text()
    assert "wrong PIN" in text and "7/8" in text, text
    assert lock_info(ptok)["tries_left"] == 7
    ptok.enter_pin(PIN)
    assert "alice" in ptok.screen_text()
    assert lock_info(ptok)["tries_left"] == 8


def test_the_last_wrong_pin_on_the_button_erases_the_token(ptok):
    # The erase a button try ends in is the same one a host try ends in
    # (app.Token._erased): keys, records, then the free flash.
    assert cli(ptok, "config", "--tries", "3", pin=PIN)[0] == 0
    ptok.restart()
    for _ in range(3):
        ptok.enter_pin("1111")
    wait_for(lambda: "ERASED" in ptok.screen_text(), "the erased screen")
    info = lock_info(ptok)  # (answered once the free-flash scrub is done)
    assert info["erased"] and not info["pin"], info
    assert listing(ptok) == []
    assert opened(ptok, [PIN, "1111"]) == set()


PRIVILEGED = [
    ("add", "bob", "--secret", b32(os.urandom(20))),
    ("delete", "alice", "--yes"),
    ("rename", "alice", "carol", "--no-backup"),
    ("move", "alice", "--to", "1"),
    ("sort",),
    ("sync-time",),
    ("calibrate",),
    ("wipe", "--yes"),
    ("pin", "change"),
    ("pin", "remove"),
    ("config", "--tries", "5"),
]


@pytest.mark.parametrize("args", PRIVILEGED, ids=lambda a: " ".join(a[:2]))
def test_privileged_commands_need_the_pin(ptok, args):
    # A second account, out of order, so that `sort` has a move to make.
    assert cli(ptok, "add", "aaa", "--secret", b32(os.urandom(20)), pin=PIN)[0] == 0
    before = listing(ptok)
    t_before = ptok.rtc_time()
    code, err = cli(ptok, *args, new_pin="13579")
    assert code != 0 and err["error"] in ("pin_required", "auth_required"), err
    assert listing(ptok) == before
    assert abs(ptok.rtc_time() - t_before) < 5  # the clock was not set
    assert lock_info(ptok)["pin"] is True and lock_info(ptok)["tries_max"] == 8


def test_the_running_token_holds_back_every_gated_command(ptok):
    # The composition app.py runs on the simulator (MicroPython), spoken to
    # without a login: every gated command (tests/pin_gate.py) is refused
    # before its arguments are read, and none is unknown.
    raw = Raw(ptok.port)
    try:
        for private_list in (False, True):
            if private_list:
                assert raw.req("config", list_private=True)["error"] == "auth_required"
                assert cli(ptok, "config", "--private-list", pin=PIN)[0] == 0
            for cmd in sorted(GATED | PRIVATE | OPEN):
                reply = raw.req(cmd)
                held = cmd in GATED or (private_list and cmd in PRIVATE)
                error = reply.get("error")
                assert (error == "auth_required") == held, (cmd, private_list, reply)
                assert error != "unknown_command", (cmd, reply)
    finally:
        raw.s.close()
    assert listing(ptok, pin=PIN) == [("Ex", "alice")]
    assert lock_info(ptok)["pin"] is True


def test_wrong_pin_from_the_host_says_how_many_tries_are_left(ptok):
    code, err = cli(ptok, "add", "bob", "--secret", b32(os.urandom(20)), pin="0000")
    assert code == 1 and err["error"] == "wrong_pin"
    assert "7 tries left" in err["message"]
    code, err = cli(ptok, "wipe", "--yes", pin="0001")
    assert "6 tries left" in err["message"]
    assert listing(ptok) == [("Ex", "alice")]
    code, data = cli(ptok, "add", "bob", "--secret", b32(os.urandom(20)), pin=PIN)
    assert code == 0, data
    assert lock_info(ptok)["tries_left"] == 8
    assert listing(ptok) == [("Ex", "alice"), ("", "bob")]


def test_pin_change_and_remove(ptok):
    code, data = cli(ptok, "pin", "change", pin=PIN, new_pin="97531")
    assert code == 0, data
    code, err = cli(ptok, "config", "--lock-after", "60", pin=PIN)
    assert err["error"] == "wrong_pin"
    code, data = cli(ptok, "config", "--lock-after", "60", pin="97531")
    assert code == 0 and data["lock_after_s"] == 60
    ptok.restart()
    ptok.enter_pin("97531")
    assert "alice" in ptok.screen_text()
    code, data = cli(ptok, "pin", "remove", pin="97531")
    assert code == 0, data
    assert lock_info(ptok)["pin"] is False
    ptok.restart()
    assert "alice" in ptok.screen_text()  # no lock screen any more
    assert cli(ptok, "add", "bob", "--secret", b32(os.urandom(20)))[0] == 0


def test_bad_pins_are_refused_before_the_token(ptok):
    for bad in ("123", "12345678901234567", "12a4", ""):
        code, err = cli(ptok, "add", "bob", "--secret", b32(os.urandom(20)), pin=bad)
        assert code == 2, err
    assert lock_info(ptok)["tries_left"] == 8


def test_private_list_needs_the_pin(ptok):
    assert cli(ptok, "config", "--private-list", pin=PIN)[0] == 0
    code, err = cli(ptok, "list")
    assert code != 0 and err["error"] in ("pin_required", "auth_required")
    assert listing(ptok, pin=PIN) == [("Ex", "alice")]


# ---- the raw protocol: old hosts, replays, forgeries ----

class Raw:
    def __init__(self, port):
        self.s = serial.Serial(port, 115200, timeout=REPLY_GUARD_S)
        self.id = 0

    def send_line(self, line):
        self.s.write(line)
        while True:
            reply = frames.decode_reply(self.s.readline())
            if reply is not None:
                return reply

    def req(self, cmd, **args):
        self.id += 1
        return self.send_line(frames.encode_request(self.id, cmd, args))

    def login(self, pin=PIN):
        ch = self.req("auth-challenge")["data"]
        args, session = pinauth.answer_challenge(pin, ch)
        reply = self.req("auth", **args)
        return args, session, reply

    def close(self):
        self.s.close()


def test_old_host_gets_auth_required_not_a_crash(ptok):
    raw = Raw(ptok.port)
    try:
        r = raw.req("add", name="x", secret="00" * 10)
        assert r["ok"] is False and r["error"] == "auth_required"
        r = raw.req("set-time", unix_ms=2_000_000_000_000)
        assert r["error"] == "auth_required"
        assert raw.req("status")["ok"] and raw.req("info")["ok"]
    finally:
        raw.close()
    assert listing(ptok) == [("Ex", "alice")]


def test_add_many_needs_the_pin_and_an_import_brings_it(ptok, tmp_path):
    raw = Raw(ptok.port)
    try:
        r = raw.req("add-many", accounts=[{"name": "x", "secret": "00" * 10},
                                          {"name": "y", "secret": "00" * 10}])
        assert r["ok"] is False and r["error"] == "auth_required"
    finally:
        raw.close()
    assert listing(ptok) == [("Ex", "alice")]
    path = tmp_path / "many.txt"
    path.write_text("".join("otpauth://totp/Many:m%d?secret=%s\n" % (i, b32(os.urandom(10)))
                            for i in range(12)))
    code, err = cli(ptok, "import", str(path), "--yes", "--no-backup")
    assert code != 0 and err["error"] in ("pin_required", "auth_required"), err
    assert listing(ptok) == [("Ex", "alice")]
    code, data = cli(ptok, "import", str(path), "--yes", "--no-backup", pin=PIN)
    assert code == 0, data
    assert listing(ptok, pin=PIN) == [("Ex", "alice")] + [("Many", "m%d" % i) for i in range(12)]


def test_replayed_and_forged_authentication_is_refused(ptok):
    raw = Raw(ptok.port)
    try:
        args, session, reply = raw.login()
        assert reply["ok"], reply
        # A signed request works once...
        raw.id += 1
        line = session.sign(raw.id, "add", {"name": "bob", "secret": "11" * 20})
        assert raw.send_line(line)["ok"]
        # ...and its replay is refused, as is a forged MAC and a request
        # smuggled after a valid auth member.
        again = raw.send_line(line)
        assert again["error"] == "auth_failed", again
        raw.id += 1
        forged = session.sign(raw.id, "wipe", {"confirm": "wipe"})
        forged = forged[:-5] + (b"0" if forged[-5:-4] != b"0" else b"1") + forged[-4:]
        assert raw.send_line(forged)["error"] in ("auth_failed", "bad_frame")
        raw.id += 1
        good = session.sign(raw.id, "move", {"name": "bob", "to": 0})
        smuggled = good[:-1] + b',"cmd":"wipe","args":{"confirm":"wipe"}}\n'
        assert raw.send_line(smuggled)["ok"] is False
        # The captured auth exchange, replayed: its challenge is spent.
        r = raw.req("auth", **args)
        assert r["error"] == "auth_failed", r
        # A fresh challenge answered with the old proof: a wrong try.
        raw.req("auth-challenge")
        r = raw.req("auth", **args)
        assert r["ok"] is False
    finally:
        raw.close()
    assert listing(ptok) == [("Ex", "alice"), ("", "bob")]


# ---- the retry counter: power cuts, restarts, the last try ----

def test_retry_counter_survives_power_cuts_at_every_write_of_a_check(ptok):
    """Cut the power at each flash write of a wrong-PIN check in turn. A
    verdict (the reply) may only ever be seen with the try already spent on
    flash; a cut before the verdict may keep the try or spend it."""
    left = lock_info(ptok)["tries_left"]
    logged = _pin_failures(ptok)
    for n in range(1, 40):
        raw = Raw(ptok.port)
        try:
            ch = raw.req("auth-challenge")["data"]
            args, _ = pinauth.answer_challenge("0000", ch)
            ptok.cut_power_at_write(n)
            raw.s.write(frames.encode_request(99, "auth", args))
            seen = None
            try:
                raw.s.timeout = READ_POLL_S  # a look at the verdict, then at the power
            except serial.SerialException:  # the power went already: the pty hung up
                pass
            deadline = time.monotonic() + HANG_GUARD_S  # a verdict or the cut ends it
            while seen is None and time.monotonic() < deadline and ptok.proc.poll() is None:
                try:
                    seen = frames.decode_reply(raw.s.readline())
                except serial.SerialException:  # the power went: the pty hung up
                    break
        finally:
            raw.close()
        if seen is not None:  # the check ran to its verdict: n was past its writes
            assert seen["error"] == "wrong_pin"
            ptok.cut_power_at_write(10 ** 6)
            assert lock_info(ptok)["tries_left"] == left - 1
            ptok.restart()
            assert lock_info(ptok)["tries_left"] == left - 1
            assert n > 1  # the try's own write came first
            return
        assert power_cut(ptok)
        ptok.restart()
        now = lock_info(ptok)["tries_left"]
        assert now in (left, left - 1)
        if now < left:
            # Issue 15 #6: the spent try is in the audit log too, however
            # soon after the check the power went.
            failed = _pin_failures(ptok)
            # (a cut after the entry's own write may add a "cut short" one at boot)
            assert failed >= logged + 1, "a try spent at write %d left no pin-failed entry" % n
            logged = failed
            # The right PIN gives the tries back, so the sweep never runs
            # into the last-try erase however many writes a check takes.
            assert cli(ptok, "sync-time", pin=PIN)[0] == 0
            now = lock_info(ptok)["tries_left"]
        left = now
    pytest.fail("a wrong-PIN check took 40 flash writes")


def _pin_failures(tok):
    code, data = cli(tok, "log", pin=PIN)
    assert code == 0, data
    return sum(1 for e in data["entries"] if e["event"] == "pin-failed")


def test_counter_survives_restart(ptok):
    cli(ptok, "sync-time", pin="1357")
    ptok.restart()
    assert lock_info(ptok)["tries_left"] == 7


def test_last_wrong_try_erases_and_says_so(ptok):
    assert cli(ptok, "config", "--tries", "3", pin=PIN)[0] == 0
    secret = os.urandom(20)
    assert cli(ptok, "add", "bob", "--secret", b32(secret), pin=PIN)[0] == 0
    for i, pin in enumerate(("1111", "2222")):
        code, err = cli(ptok, "sync-time", pin=pin)
        assert err["error"] == "wrong_pin" and ("%d tr" % (2 - i)) in err["message"], err
    # From $TOKEN_PIN the last try is never spent unless asked for (issue 15).
    code, err = cli(ptok, "sync-time", pin="3333")
    assert code == 1 and err["error"] == "last_try" and "--allow-last-try" in err["message"]
    assert lock_info(ptok)["tries_left"] == 1
    assert ("", "bob") in listing(ptok)
    code, err = cli(ptok, "--allow-last-try", "sync-time", pin="3333")
    assert err["error"] == "erased" and "erased itself" in err["message"]
    info = lock_info(ptok)  # once it has overwritten its free flash
    assert info["erased"] is True and info["pin"] is False
    code, data = cli(ptok, "list")
    assert data["accounts"] == []
    assert "ERASED" in ptok.screen_text()
    raw = Raw(ptok.port)
    try:
        assert raw.req("status").get("erased") is True
    finally:
        raw.close()
    ptok.stop()
    _assert_no_secret(ptok.flash_image, [SEED, secret])
    ptok.start()
    # Set up again: the note goes once an account is added.
    assert cli(ptok, "add", "carol", "--secret", b32(os.urandom(20)))[0] == 0
    assert lock_info(ptok)["erased"] is False


# ---- no secret on flash in any form ----

def _forms(secret):
    return [secret, secret.hex().encode(), secret.hex().upper().encode(),
            base64.b32encode(secret).rstrip(b"="), base64.b32encode(secret).lower().rstrip(b"=")]


def _assert_no_secret(image, secrets):
    with open(image, "rb") as f:
        flash = f.read()
    for s in secrets:
        for form in _forms(s):
            assert form not in flash, "a secret is on flash in clear"


@pytest.mark.parametrize("with_pin", [False, True])
def test_flash_image_holds_no_secret_in_clear(with_pin):
    secrets = [os.urandom(n) for n in (10, 20, 32, 64)]
    with SimulatedToken() as tok:
        tok.set_time(1_900_000_000)
        if with_pin:
            assert cli(tok, "pin", "set", stdin=PIN + "\n")[0] == 0
        for i, s in enumerate(secrets):
            code, data = cli(tok, "add", "user%d" % i, "--secret", b32(s), pin=PIN)
            assert code == 0, data
        code, data = cli(tok, "add", "hotp", "--hotp", "--secret", b32(SEED), pin=PIN)
        assert code == 0, data
        assert cli(tok, "delete", "user0", "--yes", pin=PIN)[0] == 0
        assert cli(tok, "rename", "user1", "renamed", "--no-backup", pin=PIN)[0] == 0
        tok.stop()
        _assert_no_secret(tok.flash_image, secrets + [SEED])
        # And the codes still come out right from the sealed records.
        tok.start()
        if with_pin:
            tok.enter_pin(PIN)
        for _ in range(5):
            if "hotp" in tok.screen_text():
                break
            tok.press()
        next_hotp(tok)
        text = tok.screen_text()
        assert pyotp.HOTP(b32(SEED)).at(0) in text.replace(" ", ""), text


def test_plain_records_from_older_firmware_are_sealed_at_boot(tmp_path, monkeypatch):
    """Accounts written before encryption at rest survive the update, and the
    plain copies littlefs kept in free blocks are overwritten (a small flash
    keeps that scrub short)."""
    monkeypatch.setenv("TOKEN_SIM_FLASH_BLOCKS", "64")
    secret = os.urandom(20)
    with SimulatedToken(data_dir=str(tmp_path)) as tok:
        tok.set_time(1_900_000_000)
        assert cli(tok, "add", "old", "--secret", b32(secret))[0] == 0
        tok.stop()
        # Turn the record back into a version-1 one (plain secret) and drop
        # the key file, as the old firmware left them.
        _downgrade(tok, secret)
        tok.start()
        assert listing(tok) == [("", "old")]
        assert "old" in tok.screen_text()
        t = tok.rtc_time()
        want = {pyotp.TOTP(b32(secret)).at(int(x)) for x in (t - 1, t, t + 1)}
        assert code_on_screen(tok.screen_text()) in want
        tok.stop()
        _assert_no_secret(tok.flash_image, [secret])


def _downgrade(tok, secret):
    """Rewrite the image with littlefs through the unix port: record -> v1."""
    from host_tools import mpy
    script = """
import vfs, os, hashlib, binascii, json
class Dev:
    def __init__(self, path):
        self.f = open(path, "r+b")
    def readblocks(self, b, buf, off=0):
        self.f.seek(b * 4096 + off); self.f.readinto(buf)
    def writeblocks(self, b, buf, off=None):
        self.f.seek(b * 4096 + (off or 0)); self.f.write(buf); self.f.flush()
    def ioctl(self, op, arg):
        if op == 4: return %d
        if op == 5: return 4096
        if op == 6:
            self.f.seek(arg * 4096); self.f.write(b"\\xff" * 4096); return 0
vfs.mount(vfs.VfsLfs2(Dev(%r)), "/f")
root = "/f/data"
bucket = root + "/bk/g000/b000"
with open(bucket, "rb") as f:
    rec = bytearray(f.read(192))
secret = binascii.unhexlify(%r)
rec[1] = 1
rec[100:164] = bytes(64)
rec[100:100 + len(secret)] = secret
rec[164:188] = bytes(24)
rec[188:192] = hashlib.sha256(rec[:188]).digest()[:4]
with open(bucket, "r+b") as f:
    f.write(rec)
for name in ("keys", "ka", "kb", "keyloc"):  # the old firmware had no key state
    try:
        os.remove(root + "/" + name)
    except OSError:
        pass
print(json.dumps(sorted(os.listdir(root))))
""" % (os.path.getsize(tok.flash_image) // 4096, tok.flash_image, secret.hex())
    names = mpy.run_json(script)
    assert not {"keys", "ka", "kb", "keyloc"} & set(names) and "bk" in names


def test_stray_bytes_before_a_signed_request_cost_nothing(ptok):
    """What mpremote leaves on the line must not break a request's MAC: it
    covers the frame from its TOK>, wherever that starts."""
    raw = Raw(ptok.port)
    try:
        _, session, reply = raw.login()
        assert reply["ok"], reply
        raw.id += 1
        line = session.sign(raw.id, "add", {"name": "bob", "secret": "22" * 20})
        r = raw.send_line(b"\r\x03\x03\r\x01" + line)
        assert r["ok"], r
    finally:
        raw.close()
    assert listing(ptok) == [("Ex", "alice"), ("", "bob")]
