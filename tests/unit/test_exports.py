"""Issue 18: the exports for MFA servers (host_tools/exports): PSKC read
back by python-pskc itself to the same keys and settings, under both
encryptions and in plaintext; Entra's CSV field by field against its
published format; privacyIDEA's OATH CSV; and the refusals: a template a
format can't carry, no plaintext consent, a bad record, a write that fails.
A refusal writes nothing (no file, no temporary file), a file is 0600, and
no secret is ever in a message or a repr."""
import base64
import os
import re
import stat

import pskc
import pytest
from pskc.exceptions import DecryptionError

from host_tools import exports
from host_tools.errors import ExportError
from host_tools.exports import Record, number_credentials, privacyidea

RFC_SEED = b"12345678901234567890"  # RFC 4226/6238
PASSWORD = "correct horse battery staple"


def _records():
    """Three people, four accounts: one token with two (a TOTP and an HOTP
    of another hash), every setting the PSKC must carry."""
    return number_credentials([
        Record(serial="TT8P8VEHB84E", user="alice@example.com", name="alice", issuer="Example",
               kind="totp", algorithm="SHA1", digits=6, secret=RFC_SEED, model="rpi_pico"),
        Record(serial="TT8P8VEHB84E", user="alice@example.com", name="alice-vpn", issuer="VPN",
               kind="hotp", algorithm="SHA256", digits=8, secret=os.urandom(32), counter=7),
        Record(serial="TT61PZ75F77H", user="bob@example.com", name="bob", issuer="Example",
               kind="totp", algorithm="SHA512", digits=8, period=60, secret=os.urandom(64)),
        Record(serial="TTSQTTE17R3H", user="carol@example.com", name="carol", issuer="",
               kind="hotp", algorithm="SHA1", digits=6, secret=os.urandom(20)),
    ])


def _entra_records():
    return number_credentials([
        Record(serial="TT8P8VEHB84E", user="alice@example.com", name="alice", issuer="Example",
               kind="totp", algorithm="SHA1", digits=6, secret=RFC_SEED, model="rpi_pico"),
        Record(serial="TT61PZ75F77H", user="bob@example.com", name="bob", issuer="Example",
               kind="totp", algorithm="SHA1", digits=6, period=60, secret=os.urandom(20)),
    ])


def _forms(secret):
    """How a secret could show in a file or a message."""
    return [secret.hex(), secret.hex().upper(), base64.b32encode(secret).decode().rstrip("="),
            base64.b64encode(secret).decode(), secret.decode("latin-1")]


def _nothing_written(folder):
    assert os.listdir(folder) == []  # neither the file nor a temporary one


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def _open_umask():
    # A permissive umask, so 0600 is the writer's doing, not the test's.
    old = os.umask(0)
    yield
    os.umask(old)


# ---- PSKC, read back by python-pskc --------------------------------------------

PROTECTIONS = {"psk": {"psk": "00112233445566778899aabbccddeeff"},
               "password": {"password": PASSWORD},
               "plaintext": {"plaintext": True}}


def _open_with(path, protection):
    doc = pskc.PSKC(path)
    if protection == "psk":
        doc.encryption.key = bytes.fromhex(PROTECTIONS["psk"]["psk"])
    elif protection == "password":
        doc.encryption.derive_key(PASSWORD)
    return doc


@pytest.mark.parametrize("protection", list(PROTECTIONS))
def test_python_pskc_reads_back_every_key_and_setting(tmp_path, protection):
    records = _records()
    path = str(tmp_path / "fleet.pskc")
    summary = exports.write("pskc", path, records, **PROTECTIONS[protection])
    assert summary == {"format": "pskc", "path": path, "records": 4, "protection": protection,
                       "bytes": os.path.getsize(path)}
    assert _mode(path) == 0o600
    doc = _open_with(path, protection)
    assert len(doc.keys) == len(records) == len(doc.devices)  # one KeyPackage per account
    for key, r in zip(doc.keys, records):
        assert key.secret == r.secret
        assert key.algorithm == "urn:ietf:params:xml:ns:keyprov:pskc:" + r.kind
        assert key.algorithm_suite == r.algorithm  # what privacyIDEA reads as its hash
        assert (key.response_length, key.response_encoding) == (r.digits, "DECIMAL")
        if r.kind == "totp":
            assert (key.time_interval, key.counter) == (r.period, None)
        else:
            assert (key.counter, key.time_interval) == (r.counter, None)
        assert (key.manufacturer, key.serial, key.model) == ("totp-token", r.credential_id,
                                                            r.model)
        assert key.id == r.credential_id
        assert (key.issuer or "", key.friendly_name, key.key_userid) == (r.issuer, r.name,
                                                                          r.user)
    assert [k.serial for k in doc.keys] == ["TT8P8VEHB84E", "TT8P8VEHB84E-2", "TT61PZ75F77H",
                                            "TTSQTTE17R3H"]
    text = open(path, "rb").read().decode("latin-1")
    if protection == "plaintext":
        assert doc.encryption.algorithm is None and not doc.encryption.is_encrypted
        return
    for r in records:
        for form in _forms(r.secret):
            assert form not in text
    assert doc.encryption.algorithm.endswith("#aes128-cbc")
    assert doc.mac.algorithm.endswith("#hmac-sha1")
    deriv = doc.encryption.derivation
    if protection == "password":
        # No PRF named: PKCS #5's default, HMAC-SHA1 (what privacyIDEA uses).
        assert deriv.algorithm.endswith("#pbkdf2") and deriv.pbkdf2_prf is None
        assert "PRF" not in text
        assert deriv.pbkdf2_key_length == 16 and deriv.pbkdf2_iterations >= 100000
        assert len(deriv.pbkdf2_salt) == 16
    else:
        assert deriv.algorithm is None and doc.encryption.key_name == "Pre-shared key"


@pytest.mark.parametrize("protection", ["psk", "password"])
def test_the_wrong_key_fails_python_pskcs_mac_check(tmp_path, protection):
    path = str(tmp_path / "fleet.pskc")
    exports.write("pskc", path, _records(), **PROTECTIONS[protection])
    doc = pskc.PSKC(path)
    if protection == "psk":
        doc.encryption.key = bytes(16)
    else:
        doc.encryption.derive_key(PASSWORD + "!")
    with pytest.raises(DecryptionError):
        doc.keys[0].secret


def test_a_fresh_psk_is_32_hex_digits_and_new_each_time():
    one, two = exports.new_psk(), exports.new_psk()
    assert re.fullmatch("[0-9a-f]{32}", one) and one != two


@pytest.mark.parametrize("options, code", [
    ({}, "no_protection"),
    ({"psk": exports.new_psk(), "password": PASSWORD}, "no_protection"),
    ({"password": PASSWORD, "plaintext": True}, "no_protection"),
    ({"psk": "0011"}, "bad_psk"),
    ({"psk": "zz" * 16}, "bad_psk"),
    ({"psk": "00" * 32}, "bad_psk"),  # AES-256: privacyIDEA imports AES-128 only
    ({"password": "short"}, "weak_password"),
])
def test_pskc_needs_exactly_one_protection_that_a_server_takes(tmp_path, options, code):
    with pytest.raises(ExportError) as e:
        exports.write("pskc", str(tmp_path / "x.pskc"), _records(), **options)
    assert e.value.code == code and e.value.exit_code == 2
    _nothing_written(tmp_path)


# ---- Entra ID's CSV ----------------------------------------------------------------

def test_entra_csv_field_by_field(tmp_path):
    records = _entra_records()
    path = str(tmp_path / "entra.csv")
    summary = exports.write("entra", path, records, plaintext=True)
    assert summary["protection"] == "plaintext" and summary["records"] == 2
    assert _mode(path) == 0o600
    raw = open(path, "rb").read()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.decode("utf-8").split("\r\n")[:-1]
    # The header exactly as Microsoft publishes it.
    assert lines[0] == "upn,serial number,secret key,time interval,manufacturer,model"
    assert len(lines) == 1 + len(records)
    for line, r in zip(lines[1:], records):
        upn, serial, key, interval, manufacturer, model = line.split(",")
        assert upn == r.user and serial == r.serial
        assert re.fullmatch("[A-Z2-7]+", key) and len(key) <= 128  # Base32, no padding
        assert base64.b32decode(key + "=" * (-len(key) % 8)) == r.secret
        assert interval == str(r.period) and interval in ("30", "60")
        assert (manufacturer, model) == ("totp-token", r.model)
    assert lines[1].split(",")[2] == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC seed, Base32


@pytest.mark.parametrize("change, what", [
    ({"kind": "hotp"}, "HOTP"),
    ({"algorithm": "SHA256", "secret": os.urandom(32)}, "SHA256"),
    ({"digits": 8}, "8 digits"),
    ({"period": 45}, "45 seconds"),
])
def test_entra_refuses_a_template_it_cant_take(tmp_path, change, what):
    fields = dict(kind="totp", algorithm="SHA1", digits=6, period=30)
    fields.update({k: v for k, v in change.items() if k != "secret"})
    why = exports.check_template("entra", fields["kind"], fields["algorithm"], fields["digits"],
                                 fields["period"])
    assert "Entra takes only TOTP, SHA1, 6 digits" in why and what in why
    assert exports.check_template("pskc", fields["kind"], fields["algorithm"], fields["digits"],
                                  fields["period"]) is None  # PSKC carries it
    r = Record(serial="TT8P8VEHB84E", user="a@example.com", name="a", issuer="",
               secret=change.get("secret", RFC_SEED), **fields)
    with pytest.raises(ExportError) as e:
        exports.write("entra", str(tmp_path / "entra.csv"), [r], plaintext=True)
    assert what in e.value.message and "PSKC" in e.value.message
    assert e.value.code == "unsupported_template"
    _nothing_written(tmp_path)


def test_entra_needs_the_upn_and_refuses_a_formula_or_a_comma(tmp_path):
    base = _entra_records()[0]
    for user, words in (("", "upn"), ("=HYPERLINK(1)", "formula"), ("a,b@example.com", "comma")):
        bad = Record(**{**base.__dict__, "user": user})
        with pytest.raises(ExportError) as e:
            exports.write("entra", str(tmp_path / "entra.csv"), [bad], plaintext=True)
        assert words in e.value.message
    _nothing_written(tmp_path)


# ---- privacyIDEA's OATH CSV ----------------------------------------------------------

def test_privacyidea_csv_lines(tmp_path):
    records = [r for r in _records()]
    path = str(tmp_path / "pi.csv")
    exports.write("privacyidea-csv", path, records, plaintext=True)
    assert _mode(path) == 0o600
    lines = open(path, encoding="ascii").read().splitlines()
    assert len(lines) == len(records)
    for line, r in zip(lines, records):
        serial, key, kind, digits, step = (f.strip() for f in line.split(","))
        assert serial == r.credential_id and bytes.fromhex(key) == r.secret
        assert kind == r.kind and int(digits) == r.digits
        assert int(step) == (r.period if r.kind == "totp" else r.counter)
        # privacyIDEA reads the hash from the key's length: it must be this one.
        assert privacyidea.key_hash(len(key) // 2) == r.algorithm
    assert lines[0] == "TT8P8VEHB84E, %s, totp, 6, 30" % RFC_SEED.hex()


def test_privacyidea_csv_refuses_a_key_it_would_read_as_another_hash(tmp_path):
    r = Record(serial="TT8P8VEHB84E", user="", name="a", issuer="", kind="totp",
               algorithm="SHA256", digits=6, secret=RFC_SEED)  # 20 bytes: read as SHA1
    with pytest.raises(ExportError) as e:
        exports.write("privacyidea-csv", str(tmp_path / "pi.csv"), [r], plaintext=True)
    assert "20-byte key as SHA1, not SHA256" in e.value.message and "PSKC" in e.value.message
    assert e.value.code == "unsupported_template"
    _nothing_written(tmp_path)
    assert exports.check_template("privacyidea-csv", "totp", "SHA256", 6) is None  # 32-byte keys


# ---- consent, records, and what a failure leaves -----------------------------------------

@pytest.mark.parametrize("kind", ["entra", "privacyidea-csv"])
def test_a_plaintext_csv_needs_the_callers_explicit_consent(tmp_path, kind):
    path = str(tmp_path / "out.csv")
    with pytest.raises(TypeError):
        exports.write(kind, path, _entra_records())  # no default: the caller must say it
    for consent in (False, None, "yes", 1):
        with pytest.raises(ExportError) as e:
            exports.write(kind, path, _entra_records(), plaintext=consent)
        assert e.value.code == "plaintext_refused" and "--plaintext" in e.value.message
    _nothing_written(tmp_path)
    assert kind in exports.PLAINTEXT_ONLY


@pytest.mark.parametrize("kind", exports.KINDS)
def test_a_bad_record_anywhere_writes_nothing(tmp_path, kind):
    options = {"psk": exports.new_psk()} if kind == "pskc" else {"plaintext": True}
    good = _entra_records()
    bad_ones = [
        Record(**{**good[1].__dict__, "kind": "steam", "digits": 5}),
        Record(**{**good[1].__dict__, "secret": b""}),
        Record(**{**good[1].__dict__, "credential": "", "serial": "TT 1"}),
        Record(**{**good[1].__dict__, "name": "x" * 41}),
        Record(**{**good[1].__dict__, "credential": good[0].credential_id}),  # twice
    ]
    for bad in bad_ones:
        with pytest.raises(ExportError) as e:
            exports.write(kind, str(tmp_path / "out"), [good[0], bad], **options)
        for form in _forms(good[0].secret) + _forms(bad.secret or b"\x00" * 8):
            assert form not in e.value.message
        _nothing_written(tmp_path)
    with pytest.raises(ExportError) as e:
        exports.write(kind, str(tmp_path / "out"), [], **options)
    assert e.value.code == "nothing_to_export"
    _nothing_written(tmp_path)


def test_an_existing_file_is_kept_unless_overwriting_is_asked(tmp_path):
    path = tmp_path / "fleet.pskc"
    path.write_bytes(b"the old export")
    os.chmod(path, 0o644)
    with pytest.raises(ExportError) as e:
        exports.write("pskc", str(path), _records(), password=PASSWORD)
    assert e.value.code == "exists"
    assert path.read_bytes() == b"the old export"
    exports.write("pskc", str(path), _records(), password=PASSWORD, overwrite=True)
    assert _mode(str(path)) == 0o600 and len(pskc.PSKC(str(path)).keys) == 4
    assert sorted(os.listdir(tmp_path)) == ["fleet.pskc"]


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path, monkeypatch):
    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(ExportError) as e:
        exports.write("pskc", str(tmp_path / "fleet.pskc"), _records(), plaintext=True)
    assert e.value.code == "cannot_write" and "No space left" in e.value.message
    _nothing_written(tmp_path)
    with pytest.raises(ExportError) as e:
        exports.write("pskc", str(tmp_path / "no" / "such" / "dir.pskc"), _records(),
                      plaintext=True)
    assert e.value.code == "cannot_write"


def test_the_secret_never_shows_in_a_record():
    r = _records()[0]
    for form in _forms(r.secret):
        assert form not in repr(r) and form not in str(r)


def test_further_accounts_on_a_token_get_numbered_credentials():
    numbered = number_credentials(_records())
    assert [r.credential_id for r in numbered] == ["TT8P8VEHB84E", "TT8P8VEHB84E-2",
                                                   "TT61PZ75F77H", "TTSQTTE17R3H"]
    assert [r.serial for r in numbered] == [r.serial for r in _records()]


def test_templates_no_export_takes():
    for kind in ("pskc", "privacyidea-csv"):
        assert "TOTP or HOTP only" in exports.check_template(kind, "steam", "SHA1", 5)
        assert "digits" in exports.check_template(kind, "totp", "SHA1", 10)
    assert "not STEAM" in exports.check_template("entra", "steam", "SHA1", 5)
    with pytest.raises(ExportError):
        exports.check_template("csv", "totp", "SHA1", 6)
    with pytest.raises(ExportError):
        exports.write("yaml", "x", _records())


def test_bench_exports_part_runs(capsys):
    """`bench.py exports` reports each format's size per token."""
    from host_tools import bench
    assert bench.main(["exports"]) == 0
    out = capsys.readouterr().out
    for what in ("PSKC, pre-shared key", "PSKC, PBKDF2 password", "Entra ID CSV",
                 "privacyIDEA OATH CSV"):
        assert re.search(r"%s\s+\d+ B/token" % re.escape(what), out), out
