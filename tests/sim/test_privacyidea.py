"""Issue 18, against a real privacyIDEA 3.14 (tests/privacyidea_server.py),
on both runtimes: accounts provisioned on a simulated token the usual way
(provision.py add, random secrets), the same secrets given to privacyIDEA
with host_tools/privacyidea.py (enrolled with /token/init, or loaded with
/token/load from an OATH CSV and from PSKC files written here with
python-pskc), and the codes read off the token's screen checked by POST
/validate/check. privacyIDEA checks TOTP codes by this computer's clock:
the token's is set from it first (sync-time). "Another token" is another
account of the simulated token: to privacyIDEA each account is a token of
its own, with its own serial."""
import base64
import hashlib
import os
import re
import secrets
import time

import pskc
import pyotp
import pytest

from host_tools.errors import EXIT_REFUSED, ServerError
from host_tools.privacyidea import Check, PrivacyIDEA
from host_tools.simulator import SimulatedToken
from tests.forensics import cli
from tests.privacyidea_server import REALM
from tests.sim.test_e2e_sim import code_on_screen, next_hotp
from tests.waiting import HANG_GUARD_S, screen

RUN = secrets.token_hex(3).upper()  # serials unique to this session
# name: (kind, algorithm, digits, period or start counter, key bytes)
ACCOUNTS = {
    "direct": ("totp", "SHA1", 6, 30, 20),
    "other": ("totp", "SHA1", 6, 30, 20),
    "door": ("hotp", "SHA1", 6, 0, 20),
    "csv-totp": ("totp", "SHA256", 8, 60, 32),
    "csv-hotp": ("hotp", "SHA512", 6, 5, 64),
    "pskc-key": ("totp", "SHA1", 6, 30, 20),
    "pskc-pass": ("hotp", "SHA256", 8, 0, 32),
}
PSKC_TOTP = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
PSKC_HOTP = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"


class Fleet:
    """One simulated token with every account of ACCOUNTS, and the keys."""

    def __init__(self, tok, runtime):
        self.tok = tok
        self.tag = runtime[:2].upper()
        self.keys = {}
        # The HOTP counter of each account's next code.
        self.counters = {n: a[3] for n, a in ACCOUNTS.items() if a[0] == "hotp"}
        for name, (kind, algorithm, digits, value, size) in ACCOUNTS.items():
            key = os.urandom(size)
            args = ["add", "--no-backup", name, "--secret", base64.b32encode(key).decode(),
                    "--algorithm", algorithm, "--digits", str(digits)]
            args += ["--hotp", "--counter", str(value)] if kind == "hotp" else ["--period", str(value)]
            code, doc = cli(tok, *args)
            assert code == 0, doc
            self.keys[name] = key

    def serial(self, name):
        return "%s%s-%s" % (self.tag, RUN, name)

    def enrol(self, server, name, **extra):
        kind, algorithm, digits, value, _ = ACCOUNTS[name]
        when = {"period": value} if kind == "totp" else {}
        return server.enrol(self.serial(name), self.keys[name], kind=kind, digits=digits,
                            algorithm=algorithm, **when, **extra)

    def code(self, name):
        """The code the token's screen shows for `name`: a TOTP account's
        current code, or an HOTP account's next one (a hold on the button)."""
        code, doc = cli(self.tok, "show", name)
        assert code == 0, doc
        if ACCOUNTS[name][0] == "totp":
            text = screen(self.tok, lambda t: name in t and code_on_screen(t))
            return code_on_screen(text)
        screen(self.tok, lambda t: name in t)
        next_hotp(self.tok)
        want = "HOTP #%d" % self.counters[name]
        self.counters[name] += 1
        return code_on_screen(screen(self.tok, lambda t: name in t and want in t))

    def wrong_code(self, name):
        """A code of the right length that the key gives for no time step
        (or counter) near now."""
        kind, algorithm, digits, value, _ = ACCOUNTS[name]
        b32 = base64.b32encode(self.keys[name]).decode()
        digest = getattr(hashlib, algorithm.lower())
        if kind == "totp":
            otp = pyotp.TOTP(b32, digits=digits, digest=digest, interval=value)
            t = int(self.tok.rtc.unix_time())
            near = {otp.at(t + d * value) for d in range(-20, 21)}
        else:
            otp = pyotp.HOTP(b32, digits=digits, digest=digest)
            near = {otp.at(c) for c in range(value + 100)}
        n = 0
        while str(n).zfill(digits) in near:
            n += 1
        return str(n).zfill(digits)


@pytest.fixture(scope="module", params=["micropython", "circuitpython"], ids=["mp", "cp"])
def fleet(request):
    with SimulatedToken(runtime=request.param) as tok:
        code, doc = cli(tok, "sync-time")  # privacyIDEA checks TOTP by this computer's clock
        assert code == 0, doc
        yield Fleet(tok, request.param)


@pytest.fixture(scope="module")
def server(privacyidea):
    return privacyidea.admin()


def test_an_enrolled_totp_code_off_the_screen_is_accepted_once(fleet, server):
    assert fleet.enrol(server, "direct", user="alice", realm=REALM,
                       description="test token") == fleet.serial("direct")
    record = server.token(fleet.serial("direct"))
    assert (record["tokentype"], record["otplen"], record["info"]["hashlib"],
            record["info"]["timeStep"]) == ("totp", 6, "sha1", "30")
    assert record["username"] == "alice" and record["realms"] == [REALM]
    assert record["description"] == "test token"
    code = fleet.code("direct")
    assert server.validate(fleet.serial("direct"), code) == Check(True, "matching 1 tokens")
    replayed = server.validate(fleet.serial("direct"), code)
    assert not replayed.accepted and "previous otp used again" in replayed.message
    assert not server.validate(fleet.serial("direct"), fleet.wrong_code("direct")).accepted


def test_another_tokens_code_is_rejected(fleet, server):
    fleet.enrol(server, "other", user="carol")  # the default realm
    assert server.token(fleet.serial("other"))["realms"] == [REALM]
    theirs = fleet.code("direct")
    assert not server.validate(fleet.serial("other"), theirs).accepted
    assert server.validate(fleet.serial("other"), fleet.code("other")).accepted


def test_hotp_is_accepted_after_a_skipped_code_within_the_look_ahead(fleet, server):
    fleet.enrol(server, "door", user="bob", realm=REALM)
    skipped = fleet.code("door")  # counter 0: never sent
    code = fleet.code("door")  # counter 1
    assert server.validate(fleet.serial("door"), code).accepted
    assert not server.validate(fleet.serial("door"), code).accepted  # replayed
    assert not server.validate(fleet.serial("door"), skipped).accepted  # behind the counter now
    assert server.validate(fleet.serial("door"), fleet.code("door")).accepted


def test_an_oath_csv_loads_and_its_codes_are_accepted(fleet, server, tmp_path):
    # privacyIDEA's OATH CSV: serial, hex key, totp|hotp, digits, period or
    # counter. It has no algorithm column: it reads SHA-256 from a 32-byte
    # key and SHA-512 from a 64-byte one.
    path = tmp_path / "tokens.csv"
    lines = []
    for name in ("csv-totp", "csv-hotp"):
        kind, _, digits, value, _ = ACCOUNTS[name]
        lines.append("%s, %s, %s, %d, %d\n" % (fleet.serial(name), fleet.keys[name].hex(),
                                               kind, digits, value))
    path.write_text("".join(lines))
    assert server.load_file(str(path), "oathcsv") == 2
    totp, hotp = (server.token(fleet.serial(n)) for n in ("csv-totp", "csv-hotp"))
    assert (totp["tokentype"], totp["otplen"], totp["info"]["hashlib"],
            totp["info"]["timeStep"]) == ("totp", 8, "sha256", "60")
    assert (hotp["tokentype"], hotp["info"]["hashlib"], hotp["count"]) == ("hotp", "sha512", 5)
    for name in ("csv-totp", "csv-hotp"):
        assert server.validate(fleet.serial(name), fleet.code(name)).accepted, name


def _pskc(fleet, name, serial=None):
    """A PSKC document holding account `name`, as privacyIDEA needs it:
    DeviceInfo (its serial becomes the token's), the algorithm URN,
    <ResponseFormat Length> and <Suite>, the time step or counter."""
    kind, algorithm, digits, value, _ = ACCOUNTS[name]
    doc = pskc.PSKC()
    key = doc.add_key(id=serial or fleet.serial(name), serial=serial or fleet.serial(name),
                      manufacturer="TOTP token project", model="test",
                      secret=fleet.keys[name], response_length=digits, algorithm_suite=algorithm,
                      algorithm=PSKC_TOTP if kind == "totp" else PSKC_HOTP)
    if kind == "totp":
        key.time_interval = value
    else:
        key.counter = value
    return doc


def _loaded_nothing(server, serial, path, **secret):
    with pytest.raises(ServerError) as e:
        server.load_file(str(path), "pskc", **secret)
    assert e.value.exit_code == EXIT_REFUSED
    for value in secret.values():
        assert (value.hex() if isinstance(value, bytes) else value) not in str(e.value)
    assert server.token(serial) is None
    return e.value


def test_a_pskc_under_a_preshared_key_loads_and_a_failed_mac_imports_nothing(fleet, server,
                                                                           tmp_path):
    psk = os.urandom(16)
    doc = _pskc(fleet, "pskc-key")
    doc.encryption.setup_preshared_key(key=psk)  # AES-128-CBC, HMAC-SHA1 MAC (RFC 6030 6.1)
    path = tmp_path / "key.pskcxml"
    doc.write(str(path))
    assert fleet.keys["pskc-key"].hex() not in path.read_text()

    # A wrong key: privacyIDEA refuses the file (or, if the padding
    # happens to decrypt, fails its MAC check): nothing imported.
    _loaded_nothing(server, fleet.serial("pskc-key"), path, psk=os.urandom(16))
    # The right key on a changed file: HTTP 200 with n_imported 0.
    stray = fleet.serial("pskc-key") + "x"
    changed = _pskc(fleet, "pskc-key", serial=stray)
    changed.encryption.setup_preshared_key(key=psk)
    changed_path = tmp_path / "changed.pskcxml"
    changed.write(str(changed_path))
    text = changed_path.read_text()
    mac = re.search(r"<pskc:ValueMAC>([^<]+)</pskc:ValueMAC>", text)
    forged = base64.b64encode(bytes(20)).decode()
    changed_path.write_text(text.replace(mac.group(1), forged))
    error = _loaded_nothing(server, stray, changed_path, psk=psk)
    assert error.code == "nothing_imported" and "MAC" in error.message

    assert server.load_file(str(path), "pskc", psk=psk.hex()) == 1
    record = server.token(fleet.serial("pskc-key"))
    assert (record["tokentype"], record["otplen"], record["info"]["hashlib"],
            record["description"]) == ("totp", 6, "sha1", "TOTP token project")
    assert server.validate(fleet.serial("pskc-key"), fleet.code("pskc-key")).accepted


def test_a_pskc_under_a_password_loads_and_a_wrong_one_imports_nothing(fleet, server, tmp_path):
    password = secrets.token_urlsafe(12)
    doc = _pskc(fleet, "pskc-pass")
    # PBKDF2 with privacyIDEA's one PRF, HMAC-SHA1 (RFC 6030 6.2).
    doc.encryption.setup_pbkdf2(password, prf="hmac-sha1", iterations=12000)
    path = tmp_path / "pass.pskcxml"
    doc.write(str(path))
    _loaded_nothing(server, fleet.serial("pskc-pass"), path,
                    password=secrets.token_urlsafe(12))
    assert server.load_file(str(path), "pskc", password=password) == 1
    record = server.token(fleet.serial("pskc-pass"))
    assert (record["tokentype"], record["otplen"], record["info"]["hashlib"]) == \
        ("hotp", 8, "sha256")
    assert server.validate(fleet.serial("pskc-pass"), fleet.code("pskc-pass")).accepted


# ---- the client against the real server, no token needed ----

def test_enrolling_a_serial_again_is_refused_unless_replacing(privacyidea, server):
    serial = "RE%s-again" % RUN
    first, second = os.urandom(20), os.urandom(20)
    server.enrol(serial, first)
    with pytest.raises(ServerError) as e:
        server.enrol(serial, second)
    assert e.value.code == "serial_exists" and e.value.exit_code == EXIT_REFUSED
    assert server.validate(serial, pyotp.TOTP(base64.b32encode(first).decode()).now()).accepted
    server.enrol(serial, second, replace=True)
    # The next time step's code: the token took this one already.
    later = pyotp.TOTP(base64.b32encode(second).decode()).at(time.time(), counter_offset=1)
    assert server.validate(serial, later).accepted


def test_a_wrong_admin_token_or_password_is_refused_and_never_repeated(privacyidea):
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYWRtaW4ifQ." + secrets.token_urlsafe(32)
    key = os.urandom(20)
    with pytest.raises(ServerError) as e:
        PrivacyIDEA(privacyidea.url, token=forged, timeout=HANG_GUARD_S).enrol("BAD1", key)
    assert e.value.code == "server_auth" and e.value.status == 401
    assert forged not in str(e.value) and forged.split(".")[2] not in str(e.value)
    assert key.hex() not in str(e.value)
    password = secrets.token_urlsafe(16)
    with pytest.raises(ServerError) as e:
        PrivacyIDEA.login(privacyidea.url, "admin", password, timeout=HANG_GUARD_S)
    assert e.value.code == "server_auth" and password not in str(e.value)


def test_an_unknown_user_is_a_clear_refusal_without_the_key(server):
    key = os.urandom(20)
    with pytest.raises(ServerError) as e:
        server.enrol("NOUSER%s" % RUN, key, user="mallory", realm=REALM)
    assert e.value.code == "server_refused" and e.value.status == 400
    assert "user can not be found" in e.value.message
    text = str(e.value)
    assert key.hex() not in text.lower() and base64.b32encode(key).decode()[:16] not in text
