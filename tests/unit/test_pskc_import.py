"""Issue 18: `import` reads PSKC (host_tools/formats/pskcfile.py): a token
vendor's seed file (RFC 6030's own figure 7, encrypted with a PBKDF2
password), and our exports for MFA servers back (pre-shared key, password,
plaintext). A wrong password or key, an altered value, a file that can't
be checked, an XML bomb, a key the token can't hold: each refused clearly,
with nothing imported."""
import io
import os
import re

import pskc
import pytest

import fixtures_import as fx
from host_tools import exports, formats
from host_tools.cli import transfer
from host_tools.errors import CommandError, FormatError, PasswordError
from host_tools.exports import Record, number_credentials

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURE7 = os.path.join(HERE, "data", "rfc6030_figure7.pskcxml")
RFC_SEED = b"12345678901234567890"
PSK = "0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse battery staple"


def _records():
    return number_credentials([
        Record(serial="TT8P8VEHB84E", user="alice@example.com", name="alice", issuer="Example",
               kind="totp", algorithm="SHA1", digits=6, secret=RFC_SEED),
        Record(serial="TT8P8VEHB84E", user="alice@example.com", name="alice-vpn", issuer="VPN",
               kind="hotp", algorithm="SHA256", digits=8, counter=9, secret=os.urandom(32)),
        Record(serial="TT61PZ75F77H", user="bob@example.com", name="bob", issuer="",
               kind="totp", algorithm="SHA512", digits=7, period=60, secret=os.urandom(64)),
    ])


def _export(tmp_path, records=None, **protection):
    path = str(tmp_path / "fleet.pskc")
    exports.write("pskc", path, records or _records(), **protection)
    with open(path, "rb") as f:
        return f.read()


def _vendor_file(*keys, **encryption):
    """A PSKC file as another writer (python-pskc itself) makes it."""
    doc = pskc.PSKC()
    for fields in keys:
        doc.add_key(**fields)
    if encryption:
        doc.encryption.setup_preshared_key(**encryption)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def test_a_vendors_seed_file_rfc6030_figure7():
    with open(FIGURE7, "rb") as f:
        data = f.read()
    assert formats.detect(data) == "pskc"
    parsed = formats.load(data, "qwerty")
    assert parsed.rejected == []
    (a,) = parsed.accounts
    assert (a.name, a.issuer, a.kind, a.algorithm, a.digits, a.counter) == (
        "987654321", "Example-Issuer", "hotp", "SHA1", 8, 0)
    assert fx.account_codes(a) == fx.codes(RFC_SEED, "hotp", digits=8)
    with pytest.raises(PasswordError) as e:
        formats.load(data, "qwertz")
    assert "wrong password for this PSKC file" in str(e.value)
    with pytest.raises(PasswordError) as e:
        formats.load(data)
    assert "encrypted with a password" in str(e.value)


@pytest.mark.parametrize("protection", [{"psk": PSK}, {"password": PASSWORD},
                                        {"plaintext": True}], ids=["psk", "password", "plain"])
def test_our_exports_come_back_as_the_same_accounts(tmp_path, protection):
    records = _records()
    data = _export(tmp_path, records, **protection)
    parsed = formats.load(data, protection.get("psk") or protection.get("password"))
    assert parsed.rejected == []
    for a, r in zip(parsed.accounts, records):
        assert (a.name, a.issuer, a.kind, a.algorithm, a.digits) == (r.name, r.issuer, r.kind,
                                                                     r.algorithm, r.digits)
        assert (a.period if a.kind == "totp" else a.counter) == (
            r.period if r.kind == "totp" else r.counter)
        assert fx.account_codes(a) == fx.codes(r.secret, r.kind, r.algorithm, r.digits,
                                               r.period, r.counter)
    assert len(parsed.accounts) == 3


def test_a_pre_shared_key_file_wants_the_key_and_only_the_right_one(tmp_path):
    data = _export(tmp_path, psk=PSK)
    with pytest.raises(PasswordError) as e:
        formats.load(data)
    assert "pre-shared key" in str(e.value)
    with pytest.raises(PasswordError) as e:
        formats.load(data, PASSWORD)  # a password where the key's hex digits go
    assert "pre-shared key, not a password" in str(e.value) and PASSWORD not in str(e.value)
    other = "f" * 32
    with pytest.raises(PasswordError) as e:
        formats.load(data, other)
    assert "wrong pre-shared key" in str(e.value) and other not in str(e.value)
    spaced = " ".join(re.findall("..", PSK.upper()))  # as people copy it
    assert len(formats.load(data, spaced).accounts) == 3


def test_an_altered_value_fails_its_mac(tmp_path):
    data = _export(tmp_path, psk=PSK)
    macs = re.findall(rb"<pskc:ValueMAC>([^<]+)</pskc:ValueMAC>", data)
    assert len(macs) == 3
    forged = data.replace(macs[1], b"A" * (len(macs[1]) - 1) + b"=")
    with pytest.raises(PasswordError) as e:
        formats.load(forged, PSK)
    assert "or the file was altered" in str(e.value)


def test_cbc_without_macs_is_refused_as_unverifiable(tmp_path):
    data = _vendor_file({"serial": "1", "algorithm": exports.pskcfile.URNS["totp"],
                         "secret": RFC_SEED}, key=bytes.fromhex(PSK))
    naked = re.sub(rb"<pskc:MACMethod.*?</pskc:MACMethod>", b"", data, flags=re.S)
    naked = re.sub(rb"<pskc:ValueMAC>[^<]*</pskc:ValueMAC>", b"", naked)
    with pytest.raises(FormatError) as e:
        formats.load(naked, PSK)
    assert "without a MAC" in str(e.value)


def test_keys_the_token_cant_hold_are_listed_with_the_reason():
    totp = exports.pskcfile.URNS["totp"]
    data = _vendor_file(
        {"serial": "ok1", "algorithm": totp, "secret": RFC_SEED, "algorithm_suite": "HMAC-SHA256",
         "response_length": 8, "time_interval": 60},
        {"serial": "ocra", "algorithm": "urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1:HOTP-SHA1-6",
         "secret": RFC_SEED},
        {"serial": "md5", "algorithm": totp, "secret": RFC_SEED, "algorithm_suite": "MD5"},
        {"serial": "hex", "algorithm": totp, "secret": RFC_SEED, "response_encoding": "HEXADECIMAL"},
        {"serial": "now", "algorithm": totp, "secret": RFC_SEED, "time_offset": 57000000},
        {"serial": "ten", "algorithm": totp, "secret": RFC_SEED, "response_length": 10},
    )
    parsed = formats.load(data)
    assert [a.name for a in parsed.accounts] == ["ok1", "now"]  # <Time>: the state then
    a = parsed.accounts[0]
    assert (a.algorithm, a.digits, a.period) == ("SHA256", 8, 60)
    reasons = dict(parsed.rejected)
    assert "is not HOTP or TOTP" in reasons["ocra"]
    assert "'MD5' is not SHA1, SHA256 or SHA512" in reasons["md5"]
    assert "HEXADECIMAL responses" in reasons["hex"]
    assert "digits" in reasons["ten"]


@pytest.mark.parametrize("data, words", [
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b'<KeyContainer Version="1.0">&lol2;</KeyContainer>', "DOCTYPE"),
    (b'<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0"><KeyPackage>',
     "not a valid PSKC file"),
    (b'<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0"/>',
     "without keys"),
    (b'<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="2.0"/>',
     "not a valid PSKC file"),
])
def test_malformed_files_are_refused_clearly(data, words):
    assert formats.detect(data) == "pskc"
    with pytest.raises(FormatError) as e:
        formats.load(data)
    assert words in str(e.value)


def test_the_import_command_reads_pskc_and_says_what_is_wrong(tmp_path):
    path = tmp_path / "vendor.pskc"
    path.write_bytes(_export(tmp_path, password=PASSWORD))
    parsed = transfer.load_files([str(path)], PASSWORD)
    assert len(parsed.accounts) == 3
    with pytest.raises(CommandError) as e:
        transfer.load_files([str(path)], "not the password")
    assert e.value.code == "bad_password" and "vendor.pskc" in e.value.message
    with pytest.raises(CommandError) as e:
        transfer.load_files([str(tmp_path / "missing.pskc")], PASSWORD)
    assert e.value.code == "bad_file" and "cannot read" in e.value.message
