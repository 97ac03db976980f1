"""Issue 18: `provision.py fleet` on simulated tokens running the real
firmware, against a real privacyIDEA 3.14 (tests/privacyidea_server.py).

MicroPython runtime, the whole path: three tokens at once into a PSKC file
under a generated pre-shared key, one HOTP token into a PSKC file under a
password, one into privacyIDEA's OATH CSV, one enrolled straight into
privacyIDEA; the files loaded with /token/load; each token's code read off
its screen and accepted by /validate/check, a wrong, a replayed and another
token's code rejected, HOTP accepted after a skipped code. python-pskc
reads the files back to the keys the tokens hold. A token unplugged part
way, a full one, one already holding accounts, a wrong PSKC password.
CircuitPython runtime, the smaller check: one token one by one, enrolled
into privacyIDEA, and a token unplugged part way then finished."""
import base64
import contextlib
import hashlib
import io
import json
import os
import stat

import pskc
import pyotp
import pytest

from host_tools import fleet, provision
from host_tools.client import TokenClient
from host_tools.exports import readback
from host_tools.link import SerialLink
from host_tools.simulator import SimulatedToken
from tests.forensics import cli
from tests.privacyidea_server import REALM
from tests.sim.test_e2e_sim import code_on_screen, next_hotp
from tests.waiting import REPLY_GUARD, REPLY_GUARD_S, screen

ISSUER = "Team"


def fleet_cli(tokens, folder, *args, stdin="", env=None):
    """(exit code, JSON) of `provision.py --json --port P... fleet people.csv
    ARGS` run in `folder`."""
    ports = [a for tok in tokens for a in ("--port", tok.port)]
    out = io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    cwd = os.getcwd()
    os.chdir(str(folder))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), \
                _stdin(stdin):
            code = provision.main(["--json", "--timeout", REPLY_GUARD] + ports
                                  + ["fleet", "people.csv", "--issuer", ISSUER] + list(args))
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


@contextlib.contextmanager
def _stdin(text):
    import sys
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def people(folder, *users):
    (folder / "people.csv").write_text("user,display_name\n" + "".join(
        "%s,%s\n" % (u, u.title()) for u in users))


def totp_code(tok, name):
    """The code the token shows for its account `name`."""
    code, doc = cli(tok, "show", name)
    assert code == 0, doc
    return code_on_screen(screen(tok, lambda t: name in t and code_on_screen(t)))


def hotp_code(tok, name, counter):
    """The next HOTP code: a hold on the button, shown with its counter."""
    code, doc = cli(tok, "show", name)
    assert code == 0, doc
    screen(tok, lambda t: name in t)
    next_hotp(tok)
    return code_on_screen(screen(tok, lambda t: name in t and "HOTP #%d" % counter in t))


def near(secret, code, tok, digits=6, algorithm="SHA1", period=30):
    """Whether `secret` gives `code` at the token's time, a step either way."""
    otp = pyotp.TOTP(base64.b32encode(secret).decode(), digits=digits, interval=period,
                     digest=getattr(hashlib, algorithm.lower()))
    t = tok.rtc.unix_time()
    return code in {otp.at(t + d * period) for d in (-1, 0, 1)}


def wrong(code):
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def listed(tok):
    code, doc = cli(tok, "list")
    assert code == 0, doc
    return [(a["issuer"], a["name"]) for a in doc["data"]["accounts"]]


@pytest.fixture(scope="module")
def server(privacyidea):
    return privacyidea.admin()


@pytest.fixture(scope="module")
def six():
    tokens = [SimulatedToken(runtime="micropython").start() for _ in range(6)]
    yield tokens
    for tok in tokens:
        tok.close()


# ---- MicroPython: the whole path ----

def test_three_tokens_at_once_into_a_pskc_under_a_preshared_key(six, server, tmp_path):
    tokens, users = six[:3], ("alice", "bob", "carol")
    people(tmp_path, *users)
    keys = tmp_path / "elsewhere"  # the key apart from the file, as an admin keeps it
    keys.mkdir()
    code, doc = fleet_cli(tokens, tmp_path, "--out", "team.pskc", "--psk-file", str(keys / "team.psk"))
    assert code == 0, doc
    data = doc["data"]
    assert [(t["serial"], t["user"], t["state"]) for t in data["tokens"]] == \
        [(tok.serial, u, "done") for tok, u in zip(tokens, users)]
    assert data["people"] == {"total": 3, "done": 3, "left": []}
    path, psk_path = tmp_path / "team.pskc", keys / "team.psk"
    assert data["psk_file"] == str(psk_path)
    for p in (path, psk_path, tmp_path / "people.journal.json"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    psk = psk_path.read_text().strip()
    assert psk not in json.dumps(doc)

    # python-pskc reads it back: DeviceInfo, the settings, and the keys the tokens hold.
    container = pskc.PSKC(str(path))
    container.encryption.key = bytes.fromhex(psk)
    keys = {k.serial: k for k in container.keys}
    assert set(keys) == {tok.serial for tok in tokens}
    codes = {}
    for tok, user in zip(tokens, users):
        key = keys[tok.serial]
        assert (key.manufacturer, key.userid, key.friendly_name, key.issuer) == \
            ("totp-token", user, user, ISSUER)
        assert (key.algorithm_suite, key.response_length, key.time_interval, len(key.secret)) \
            == ("SHA1", 6, 30, 20)
        assert listed(tok) == [(ISSUER, user)]
        codes[tok.serial] = totp_code(tok, user)
        assert near(key.secret, codes[tok.serial], tok)

    assert server.load_file(str(path), "pskc", psk=psk) == 3
    first, second = tokens[0].serial, tokens[1].serial
    for serial, code in codes.items():
        assert server.validate(serial, code).accepted, serial
    assert not server.validate(first, codes[first]).accepted  # replayed
    assert not server.validate(first, wrong(totp_code(tokens[0], "alice"))).accepted
    assert not server.validate(second, totp_code(tokens[0], "alice")).accepted  # another's


def test_an_hotp_token_into_a_pskc_under_a_password(six, server, tmp_path):
    tok = six[3]
    people(tmp_path, "dave")
    password = base64.b32encode(os.urandom(10)).decode()
    code, doc = fleet_cli([tok], tmp_path, "--hotp", "--algorithm", "SHA256", "--digits", "8",
                          "--out", "hotp.pskc", "--password",
                          env={"TOKEN_EXPORT_PASSWORD": password})
    assert code == 0, doc
    assert doc["data"]["protection"] == "password" and password not in json.dumps(doc)
    path = str(tmp_path / "hotp.pskc")
    container = pskc.PSKC(path)
    container.encryption.derive_key(password)
    (key,) = container.keys
    assert (key.serial, key.algorithm_suite, key.response_length, key.counter, len(key.secret)) \
        == (tok.serial, "SHA256", 8, 0, 32)

    # A wrong password: privacyIDEA imports nothing, and neither does import on a token.
    with pytest.raises(Exception) as e:
        server.load_file(path, "pskc", password=password + "x")
    assert getattr(e.value, "code", None) in ("server_refused", "nothing_imported")
    before = listed(tok)
    code, doc = cli(tok, "import", path, "--password", password + "x", "--yes")
    assert code == 2 and doc["error"] == "bad_password" and password not in doc["message"]
    assert listed(tok) == before

    assert server.load_file(path, "pskc", password=password) == 1
    hotp = pyotp.HOTP(base64.b32encode(key.secret).decode(), digits=8, digest=hashlib.sha256)
    skipped = hotp_code(tok, "dave", 0)
    assert skipped == hotp.at(0)
    code = hotp_code(tok, "dave", 1)
    assert server.validate(tok.serial, code).accepted  # after a skipped one
    assert not server.validate(tok.serial, code).accepted  # replayed
    assert not server.validate(tok.serial, skipped).accepted  # behind the counter now


def test_a_token_into_privacyideas_oath_csv(six, server, tmp_path):
    tok = six[4]
    people(tmp_path, "erin")
    code, doc = fleet_cli([tok], tmp_path, "--algorithm", "SHA512", "--format",
                          "privacyidea-csv", "--out", "team.csv", "--plaintext")
    assert code == 0, doc
    (line,) = (tmp_path / "team.csv").read_text().splitlines()
    assert line.startswith(tok.serial + ", ") and line.endswith(", totp, 6, 30")
    assert server.load_file(str(tmp_path / "team.csv"), "oathcsv") == 1
    assert server.token(tok.serial)["info"]["hashlib"] == "sha512"
    assert server.validate(tok.serial, totp_code(tok, "erin")).accepted


def _enrol_directly(tok, server, folder, user, *more, stdin=""):
    people(folder, user)
    code, doc = fleet_cli([tok], folder, "--privacyidea", server.url, "--realm", REALM, *more,
                          stdin=stdin, env={"PRIVACYIDEA_TOKEN": server._token})
    assert code == 0, doc
    assert server._token not in json.dumps(doc)
    assert doc["data"]["output"]["enrolled"] == 1
    record = server.token(tok.serial)
    assert (record["username"], record["realms"], record["tokentype"]) == (user, [REALM], "totp")
    code = totp_code(tok, user)
    assert server.validate(tok.serial, code).accepted
    assert not server.validate(tok.serial, code).accepted
    return doc


def test_a_token_enrolled_straight_into_privacyidea(six, server, tmp_path):
    tok = six[5]
    _enrol_directly(tok, server, tmp_path, "alice")
    # Run again: nobody is left, and nothing is touched.
    code, doc = fleet_cli([tok], tmp_path, "--privacyidea", server.url, "--realm", REALM,
                          env={"PRIVACYIDEA_TOKEN": server._token})
    assert code == 0 and doc["data"]["tokens"] == [], doc


def test_a_full_token_and_one_with_accounts_are_refused_untouched(server, tmp_path):
    with SimulatedToken(capacity=2) as small, SimulatedToken() as used:
        assert cli(used, "add", "mine", "--secret", base64.b32encode(os.urandom(20)).decode(),
                   "--no-backup")[0] == 0
        people(tmp_path, "alice", "bob")
        code, doc = fleet_cli([small, used], tmp_path, "--accounts", "vpn,mail,erp",
                              "--issuer", "Team {account}", "--out", "f.pskc", "--plaintext")
        assert code == 1, doc
        states = {t["serial"]: (t["state"], t["code"], t["user"]) for t in doc["data"]["tokens"]}
        assert states == {small.serial: ("refused", "store_full", None),
                          used.serial: ("refused", "not_empty", None)}
        assert small.serial in doc["message"] or "see the table" in doc["message"]
        assert listed(small) == [] and listed(used) == [("", "mine")]
        assert doc["data"]["people"]["left"] == ["alice", "bob"]
        assert not (tmp_path / "f.pskc").exists()


# ---- both runtimes: unplugged part way, finished by the next run ----

@pytest.mark.parametrize("runtime", ["micropython", "circuitpython"], ids=["mp", "cp"])
def test_a_token_unplugged_part_way_is_named_and_finished_next_time(runtime, tmp_path):
    with SimulatedToken(runtime=runtime) as one, SimulatedToken(runtime=runtime) as two:
        people(tmp_path, "alice", "bob")
        template = fleet.Template(issuer=ISSUER)
        found = fleet.people.read(str(tmp_path / "people.csv"))
        sink = fleet.FileSink("pskc", str(tmp_path / "f.pskc"), plaintext=True)

        def unplug(kind, out, step):
            if kind == "step" and step == "clock" and out.serial == two.serial:
                two.stop()  # pulled out after its accounts, before its clock
        with fleet.Journal(str(tmp_path / "people.journal.json"), template.as_dict()) as j:
            sink.open(j, template)
            run = fleet.Fleet(found, template, j, sink, lambda port: TokenClient(
                SerialLink(port), timeout=REPLY_GUARD_S), on_event=unplug)
            first, lost = run.parallel([one.port, two.port])
        assert first.state == "done" and lost.state == "failed", (first, lost)
        assert lost.serial == two.serial and lost.step == "clock" and lost.user == "bob"
        assert two.serial in lost.message and "run fleet again" in lost.message
        assert set(readback.secrets_in("pskc", str(tmp_path / "f.pskc"))) == {one.serial}

        two.start()  # plugged in again (another port), holding bob's half-made account
        assert listed(two) == [(ISSUER, "bob")]
        code, doc = fleet_cli([one, two], tmp_path, "--format", "pskc", "--out", "f.pskc",
                              "--plaintext")
        assert code == 0, doc
        assert [(t["state"], t["user"]) for t in doc["data"]["tokens"]] == \
            [("skipped", "alice"), ("done", "bob")]
        assert listed(one) == [(ISSUER, "alice")] and listed(two) == [(ISSUER, "bob")]
        held = readback.secrets_in("pskc", str(tmp_path / "f.pskc"))
        assert set(held) == {one.serial, two.serial}
        assert near(held[one.serial], totp_code(one, "alice"), one)
        assert near(held[two.serial], totp_code(two, "bob"), two)


def test_circuitpython_one_by_one_straight_into_privacyidea(server, tmp_path):
    with SimulatedToken(runtime="circuitpython") as tok:
        doc = _enrol_directly(tok, server, tmp_path, "bob", "--one-by-one", stdin="\n")
        assert [t["state"] for t in doc["data"]["tokens"]] == ["done"]
