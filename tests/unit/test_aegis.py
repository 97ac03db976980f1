"""host_tools/formats/aegis.py and backup/vault.py: Aegis vaults, plain and encrypted, and the host-side backup.

Reading is checked against vaults built here from the format description
(Aegis's published vault format), not against our own writer, and
the writer's output is decrypted here by the same description. Most tests use
scrypt n=1024 to stay fast; one uses Aegis's real n=32768.
"""
import base64
import hashlib
import json
import os
import stat
import uuid

import pyotp
import pyotp.contrib
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from hypothesis import given, settings, strategies as st

from host_tools.backup import vault
from host_tools.errors import FormatError, PasswordError
from host_tools.formats import aegis
from host_tools.formats.base import Parsed
from host_tools.formats.otpauth import Account

FAST_N = 1024
PASSWORD = "correct horse battery staple"
RFC_SHA1 = b"12345678901234567890"
RFC_SHA256 = b"12345678901234567890123456789012"
RFC_SHA512 = RFC_SHA256 * 2
TIMES = (0, 59, 1111111109, 2000000000, 20000000000)


def sample_accounts():
    return [
        Account(name="alice@example.com", issuer="GitHub", secret=RFC_SHA1),
        Account(name="bob", issuer="Example", secret=RFC_SHA256, algorithm="SHA256",
                digits=8, period=60),
        Account(name="carol", issuer="", secret=RFC_SHA512, algorithm="SHA512", digits=7,
                period=15),
        Account(name="long period", issuer="Bank", secret=b"\x00\xff" * 10, digits=8,
                period=86400),
        Account(name="counter", issuer="VPN", secret=RFC_SHA1, kind="hotp", counter=42),
        Account(name="counter 8", issuer="VPN", secret=RFC_SHA256, kind="hotp",
                algorithm="SHA256", digits=8, counter=2**40),
        Account(name="counter 0", issuer="SSH", secret=b"k", kind="hotp",
                algorithm="SHA512", digits=7, counter=0),
        Account(name="gamer", issuer="Steam", secret=b"steam-secret-bytes!!", kind="steam"),
        Account(name="ünïcödé", issuer="Bänk", secret=b"\x01" * 64),
    ]


def fields(account):
    return (account.name, account.issuer, bytes(account.secret), account.kind,
            account.algorithm, account.digits,
            account.counter if account.kind == "hotp" else account.period)


# The token accepts secrets shorter than pyotp's 112-bit policy (many services
# issue 80-bit ones); the oracle must compute those codes too.
class HOTP(pyotp.HOTP):
    min_secret_length_bits = 8


class TOTP(pyotp.TOTP):
    min_secret_length_bits = 8


class Steam(pyotp.contrib.Steam):
    min_secret_length_bits = 8


def codes(account):
    """Codes pyotp computes from the account, at a few times or counters."""
    b32 = base64.b32encode(account.secret).decode()
    digest = getattr(hashlib, account.algorithm.lower())
    if account.kind == "hotp":
        otp = HOTP(b32, digits=account.digits, digest=digest)
        return [otp.at(account.counter + i) for i in range(3)]
    if account.kind == "steam":
        otp = Steam(b32)
        return [otp.at(t) for t in TIMES]
    if account.period <= 120:
        otp = TOTP(b32, digits=account.digits, digest=digest, interval=account.period)
        return [otp.at(t) for t in TIMES]
    # pyotp refuses periods over 120 s; TOTP is HOTP at time // period (RFC 6238).
    otp = HOTP(b32, digits=account.digits, digest=digest)
    return [otp.at(t // account.period) for t in TIMES]


# ---- an independent implementation of the format, for fixtures and checks ----

def b32(secret):
    return base64.b32encode(secret).decode().rstrip("=")


def entry(kind="totp", name="user", issuer="Issuer", secret=RFC_SHA1, algo="SHA1",
          digits=6, period=30, counter=None, **extra):
    info = {"secret": b32(secret) if isinstance(secret, bytes) else secret,
            "algo": algo, "digits": digits}
    if kind == "hotp":
        info["counter"] = 0 if counter is None else counter
    else:
        info["period"] = period
    e = {"type": kind, "uuid": str(uuid.uuid4()), "name": name, "issuer": issuer,
         "note": "", "favorite": False, "icon": None, "info": info}
    e.update(extra)
    return e


def plain_vault(entries, db_version=2):
    db = {"version": db_version, "entries": entries}
    if db_version >= 3:
        db["groups"] = []
    return {"version": 1, "header": {"slots": None, "params": None}, "db": db}


def encrypted_vault(db, password, n=FAST_N, extra_slots=(), password_slots=1):
    """Encrypt a db object the way the description says Aegis does."""
    master = os.urandom(32)
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, json.dumps(db).encode(), None)
    slots = list(extra_slots)
    for i in range(password_slots):
        # Extra password slots get other passwords, so only one of them opens.
        pw = password if i == password_slots - 1 else "other password %d" % i
        salt = os.urandom(32)
        key = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(pw.encode())
        knonce = os.urandom(12)
        wrapped = AESGCM(key).encrypt(knonce, master, None)
        slots.append({"type": 1, "uuid": str(uuid.uuid4()), "key": wrapped[:-16].hex(),
                      "key_params": {"nonce": knonce.hex(), "tag": wrapped[-16:].hex()},
                      "n": n, "r": 8, "p": 1, "salt": salt.hex(),
                      "repaired": True, "is_backup": False})
    return {"version": 1,
            "header": {"slots": slots,
                       "params": {"nonce": nonce.hex(), "tag": sealed[-16:].hex()}},
            "db": base64.b64encode(sealed[:-16]).decode()}


def decrypt_by_spec(vault, password):
    """Open an encrypted vault by the description, independently of aegis.py."""
    for slot in vault["header"]["slots"]:
        if slot["type"] != 1:
            continue
        key = Scrypt(salt=bytes.fromhex(slot["salt"]), length=32, n=slot["n"], r=slot["r"],
                     p=slot["p"]).derive(password.encode())
        kp = slot["key_params"]
        master = AESGCM(key).decrypt(bytes.fromhex(kp["nonce"]),
                                     bytes.fromhex(slot["key"]) + bytes.fromhex(kp["tag"]),
                                     None)
        params = vault["header"]["params"]
        plain = AESGCM(master).decrypt(bytes.fromhex(params["nonce"]),
                                       base64.b64decode(vault["db"])
                                       + bytes.fromhex(params["tag"]), None)
        return json.loads(plain)
    raise AssertionError("no password slot")


def load_obj(obj, password=None):
    return aegis.load(json.dumps(obj), password)


# ---- round trips ----

def test_round_trip_plain():
    accounts = sample_accounts()
    text = aegis.dump(accounts)
    parsed = aegis.load(text)
    assert isinstance(parsed, Parsed)
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == [fields(a) for a in accounts]
    assert [codes(a) for a in parsed.accounts] == [codes(a) for a in accounts]


def test_round_trip_encrypted():
    accounts = sample_accounts()
    text = aegis.dump(accounts, password=PASSWORD, scrypt_n=FAST_N)
    parsed = aegis.load(text, PASSWORD)
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == [fields(a) for a in accounts]
    assert [codes(a) for a in parsed.accounts] == [codes(a) for a in accounts]
    # Bytes in, and a non-ASCII password, work as well.
    text = aegis.dump(accounts[:1], password="pässwörd ключ", scrypt_n=FAST_N)
    loaded = aegis.load(text.encode(), "pässwörd ключ").accounts
    assert [fields(a) for a in loaded] == [fields(accounts[0])]


def test_plain_dump_has_the_documented_shape():
    accounts = sample_accounts()
    vault = json.loads(aegis.dump(accounts))
    assert vault["version"] == 1
    assert vault["header"] == {"slots": None, "params": None}
    assert vault["db"]["version"] == 2
    entries = vault["db"]["entries"]
    assert [e["type"] for e in entries] == [a.kind for a in accounts]
    assert len({e["uuid"] for e in entries}) == len(entries)
    for e, a in zip(entries, accounts):
        assert uuid.UUID(e["uuid"]).version == 4
        assert "=" not in e["info"]["secret"]
        assert e["info"]["secret"] == b32(a.secret)
        assert e["info"]["algo"] == a.algorithm
        assert e["info"]["digits"] == a.digits
        if a.kind == "hotp":
            assert e["info"]["counter"] == a.counter and "period" not in e["info"]
        else:
            assert e["info"]["period"] == a.period and "counter" not in e["info"]
        assert (e["name"], e["issuer"], e["note"], e["favorite"], e["icon"]) == \
            (a.name, a.issuer, "", False, None)


def test_dump_at_aegis_parameters_decrypts_by_the_spec():
    """The one test at the default n=32768: what Aegis itself will be asked to open."""
    accounts = sample_accounts()
    vault = json.loads(aegis.dump(accounts, password=PASSWORD))
    slots = vault["header"]["slots"]
    assert len(slots) == 1
    slot = slots[0]
    assert (slot["type"], slot["n"], slot["r"], slot["p"]) == (1, 32768, 8, 1)
    assert len(bytes.fromhex(slot["salt"])) == 32
    assert len(bytes.fromhex(slot["key"])) == 32
    assert len(bytes.fromhex(slot["key_params"]["nonce"])) == 12
    assert len(bytes.fromhex(slot["key_params"]["tag"])) == 16
    assert slot["repaired"] is True and slot["is_backup"] is False
    uuid.UUID(slot["uuid"])
    assert len(bytes.fromhex(vault["header"]["params"]["nonce"])) == 12
    assert isinstance(vault["db"], str)
    db = decrypt_by_spec(vault, PASSWORD)
    assert db["version"] == 2
    got = [(e["name"], e["issuer"],
            base64.b32decode(e["info"]["secret"] + "=" * (-len(e["info"]["secret"]) % 8)))
           for e in db["entries"]]
    assert got == [(a.name, a.issuer, a.secret) for a in accounts]


def test_fresh_randomness_per_dump():
    accounts = sample_accounts()[:2]
    one = json.loads(aegis.dump(accounts, PASSWORD, scrypt_n=FAST_N))
    two = json.loads(aegis.dump(accounts, PASSWORD, scrypt_n=FAST_N))
    assert one["db"] != two["db"]
    assert one["header"]["slots"][0]["salt"] != two["header"]["slots"][0]["salt"]
    assert one["header"]["slots"][0]["uuid"] != two["header"]["slots"][0]["uuid"]
    assert one["header"]["params"]["nonce"] != two["header"]["params"]["nonce"]


def test_dump_refuses_invalid_accounts():
    with pytest.raises(ValueError):
        aegis.dump([Account(name="", secret=b"x")])
    with pytest.raises(ValueError):
        aegis.dump([Account(name="x", secret=b"x", digits=10)])


def test_dump_never_holds_secret_in_clear_when_encrypted():
    accounts = sample_accounts()
    text = aegis.dump(accounts, PASSWORD, scrypt_n=FAST_N)
    vault = json.loads(text)
    outside = json.dumps({k: v for k, v in vault.items() if k != "db"})  # all but the ciphertext
    for a in accounts:
        # Short strings can turn up in the base64 ciphertext by chance ("bob"
        # did, once in a few hundred runs): those are checked outside it only.
        if len(a.secret) >= 10:
            assert b32(a.secret) not in text
        assert a.name not in outside
        if len(a.name) >= 8:
            assert a.name not in text


_names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10)


@st.composite
def accounts(draw):
    kind = draw(st.sampled_from(["totp", "hotp", "steam"]))
    a = Account(name=draw(_names), issuer=draw(st.one_of(st.just(""), _names)),
                secret=draw(st.binary(min_size=1, max_size=64)), kind=kind,
                algorithm=draw(st.sampled_from(["SHA1", "SHA256", "SHA512"])))
    if kind == "steam":
        a.algorithm = "SHA1"
    else:
        a.digits = draw(st.integers(6, 8))
    if kind == "hotp":
        a.counter = draw(st.integers(0, 2**63 - 1))
    else:
        a.period = draw(st.integers(1, 86400))
    return a


@settings(max_examples=60, deadline=None)
@given(st.lists(accounts(), max_size=5))
def test_round_trip_property(accs):
    parsed = aegis.load(aegis.dump(accs))
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == [fields(a) for a in accs]


# ---- reading vaults built here from the description ----

def spec_entries():
    return [entry(name="alice", issuer="GitHub", secret=RFC_SHA1),
            entry(name="bob", issuer="", secret=RFC_SHA256, algo="SHA256", digits=8,
                  period=60),
            entry(kind="hotp", name="vpn", issuer="Corp", secret=RFC_SHA512, algo="SHA512",
                  digits=7, counter=5),
            entry(kind="steam", name="gamer", issuer="Steam", secret=b"steamy", digits=5)]


SPEC_EXPECTED = [
    ("alice", "GitHub", RFC_SHA1, "totp", "SHA1", 6, 30),
    ("bob", "", RFC_SHA256, "totp", "SHA256", 8, 60),
    ("vpn", "Corp", RFC_SHA512, "hotp", "SHA512", 7, 5),
    ("gamer", "Steam", b"steamy", "steam", "SHA1", 5, 30),
]


@pytest.mark.parametrize("db_version", [1, 2, 3])
def test_reads_plain_vault_by_the_spec(db_version):
    parsed = load_obj(plain_vault(spec_entries(), db_version))
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == SPEC_EXPECTED


def test_reads_encrypted_vault_by_the_spec():
    db = {"version": 3, "entries": spec_entries(), "groups": []}
    vault = encrypted_vault(db, PASSWORD)
    parsed = load_obj(vault, PASSWORD)
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == SPEC_EXPECTED
    # RFC 6238 appendix B (SHA1 seed), last 6 of the 8 digits, from the loaded secret.
    totp = pyotp.TOTP(b32(parsed.accounts[0].secret))
    assert (totp.at(59), totp.at(1111111109), totp.at(2000000000)) == \
        ("287082", "081804", "279037")


def test_skips_other_slot_types_and_other_passwords():
    biometric = {"type": 2, "uuid": str(uuid.uuid4()), "key": "00" * 32,
                 "key_params": {"nonce": "00" * 12, "tag": "00" * 16}}
    raw = {"type": 0, "uuid": str(uuid.uuid4()), "key": "11" * 32,
           "key_params": {"nonce": "11" * 12, "tag": "11" * 16}}
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD,
                            extra_slots=[biometric, raw], password_slots=2)
    assert [fields(a) for a in load_obj(vault, PASSWORD).accounts] == SPEC_EXPECTED
    assert len(load_obj(vault, "other password 0").accounts) == 4


def test_secret_with_padding_or_lower_case_is_read():
    padded = base64.b32encode(b"foo").decode()  # MZXW6===
    parsed = load_obj(plain_vault([entry(secret=padded), entry(name="u2", secret="mzxw6")]))
    assert [a.secret for a in parsed.accounts] == [b"foo", b"foo"]


# ---- errors ----

def test_missing_password():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    with pytest.raises(PasswordError, match="encrypted: a password is needed"):
        load_obj(vault)


def test_wrong_password():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    with pytest.raises(PasswordError, match="wrong password"):
        load_obj(vault, "not it")
    with pytest.raises(PasswordError, match="wrong password"):
        load_obj(vault, PASSWORD.upper())


def test_only_biometric_slot():
    vault = encrypted_vault({"version": 2, "entries": []}, PASSWORD)
    vault["header"]["slots"][0]["type"] = 2
    with pytest.raises(PasswordError, match="no password slot"):
        load_obj(vault, PASSWORD)


def test_corrupt_base64_db():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    vault["db"] = vault["db"][:5] + "!*" + vault["db"][7:]
    with pytest.raises(FormatError, match="base64") as e:
        load_obj(vault, PASSWORD)
    assert not isinstance(e.value, PasswordError)


def test_flipped_tag_byte():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    tag = bytearray.fromhex(vault["header"]["params"]["tag"])
    tag[3] ^= 0x01
    vault["header"]["params"]["tag"] = tag.hex()
    with pytest.raises(FormatError, match="damaged") as e:
        load_obj(vault, PASSWORD)
    assert not isinstance(e.value, PasswordError)


def test_flipped_ciphertext_byte():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    ct = bytearray(base64.b64decode(vault["db"]))
    ct[0] ^= 0x80
    vault["db"] = base64.b64encode(bytes(ct)).decode()
    with pytest.raises(FormatError, match="damaged") as e:
        load_obj(vault, PASSWORD)
    assert not isinstance(e.value, PasswordError)


def test_flipped_slot_tag_opens_nothing():
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    kp = vault["header"]["slots"][0]["key_params"]
    kp["tag"] = ("%02x" % (int(kp["tag"][:2], 16) ^ 0xFF)) + kp["tag"][2:]
    with pytest.raises(PasswordError, match="wrong password"):
        load_obj(vault, PASSWORD)


@pytest.mark.parametrize("text", [
    "", "not json", "[1, 2]", "null", '"text"', b"\xff\xfe\x00garbage", "[" * 100000,
])
def test_not_json_or_not_an_object(text):
    with pytest.raises(FormatError, match="not an Aegis vault"):
        aegis.load(text)


@pytest.mark.parametrize("mutate", [
    lambda v: v.pop("header"),
    lambda v: v.pop("db"),
    lambda v: v.pop("version"),
    lambda v: v.update(version=2),
    lambda v: v.update(version=True),
    lambda v: v.update(header=None),
    lambda v: v.update(header={"slots": None}),
    lambda v: v.update(db=[]),  # db itself a list, not an object
    lambda v: v.update(db="aGVsbG8="),  # encrypted-looking db in a plain header
    lambda v: v["db"].update(entries={"0": {}}),  # entries not a list
    lambda v: v["db"].pop("entries"),
    lambda v: v["db"].update(version=4),
    lambda v: v["db"].pop("version"),
], ids=["no header", "no db", "no version", "version 2", "version bool", "header null",
        "header no params", "db list", "db string", "entries dict", "no entries",
        "db version 4", "db no version"])
def test_wrong_structure(mutate):
    vault = plain_vault(spec_entries())
    mutate(vault)
    with pytest.raises(FormatError, match="not an Aegis vault") as e:
        load_obj(vault)
    assert not isinstance(e.value, PasswordError)


@pytest.mark.parametrize("mutate", [
    lambda v: v["header"].update(params=None),
    lambda v: v["header"].update(slots={"type": 1}),
    lambda v: v["header"]["params"].update(nonce="zz"),
    lambda v: v["header"]["params"].pop("tag"),
    lambda v: v["header"]["params"].update(tag="00"),
    lambda v: v.update(db={"version": 2, "entries": []}),  # plain db, encrypted header
    lambda v: v["header"]["slots"][0].update(salt=None),
    lambda v: v["header"]["slots"][0].update(n=1000),  # not a power of two
    lambda v: v["header"]["slots"][0].update(n=2**30),  # would take 1 TiB of memory
    lambda v: v["header"]["slots"][0].update(r="8"),
    lambda v: v["header"]["slots"][0].pop("key_params"),
    lambda v: v["header"]["slots"].insert(0, "slot"),
])
def test_malformed_encrypted_header(mutate):
    vault = encrypted_vault({"version": 2, "entries": spec_entries()}, PASSWORD)
    mutate(vault)
    with pytest.raises(FormatError) as e:
        load_obj(vault, PASSWORD)
    assert not isinstance(e.value, PasswordError)


def test_decrypted_db_not_json_or_wrong_shape():
    vault = encrypted_vault([1, 2], PASSWORD)  # db encrypts a list, not an object
    with pytest.raises(FormatError, match="not an Aegis vault"):
        load_obj(vault, PASSWORD)
    vault = encrypted_vault({"version": 2, "entries": "none"}, PASSWORD)
    with pytest.raises(FormatError, match="entries"):
        load_obj(vault, PASSWORD)


def odd_entries():
    """Entries the token can't hold, each with the reason expected; between good ones."""
    no_secret = entry(name="nosecret", issuer="A")
    del no_secret["info"]["secret"]
    no_info = entry(name="noinfo", issuer="A")
    del no_info["info"]
    no_period = entry(name="noperiod", issuer="A")
    del no_period["info"]["period"]
    return [
        (no_secret, "A:nosecret", "no 'secret'"),
        (entry(name="md5", issuer="Old", algo="MD5"), "Old:md5",
         "MD5 is not supported by the token"),
        (entry(name="ten", issuer="Big", digits=10), "Big:ten", "digits"),
        (entry(kind="yandex", name="ya", issuer="Yandex"), "Yandex:ya",
         "type 'yandex' is not supported"),
        (entry(kind="motp", name="m"), "Issuer:m", "type 'motp'"),
        (no_info, "A:noinfo", "no 'info'"),
        (no_period, "A:noperiod", "no 'period'"),
        (entry(name="badb32", secret="SECRET1!"), "Issuer:badb32", "not valid base32"),
        (entry(name="numsecret", secret=12345), "Issuer:numsecret", "base32 text"),
        (entry(name="", issuer="NoName"), "NoName:", "name is empty"),
        (entry(name="x" * 41), "Issuer:" + "x" * 41, "name is too long"),
        (entry(name="big", secret=b"\x01" * 65), "Issuer:big", "secret is too long"),
        (entry(name="md4", algo="MD4"), "Issuer:md4", "algorithm"),
        (entry(name="float", digits=6.0), "Issuer:float", "digits"),
        (entry(name="p0", period=0), "Issuer:p0", "period"),
        (entry(kind="hotp", name="negc", counter=-1), "Issuer:negc", "counter"),
        (entry(kind="steam", name="st6", digits=6), "Issuer:st6", "steam"),
        (entry(name=7, issuer=None), None, "text"),  # None: labelled by position
        ("just a string", None, "not a JSON object"),
    ]


def test_odd_entries_are_rejected_and_the_rest_import():
    odd = odd_entries()
    good = entry(name="good", issuer="Fine", secret=RFC_SHA256, algo="SHA256")
    entries = [e for e, _, _ in odd]
    vault = plain_vault([good] + entries + [entry(name="good2", issuer="Fine")])
    parsed = load_obj(vault)
    assert [a.label for a in parsed.accounts] == ["Fine:good", "Fine:good2"]
    # Positions count from 1 and include the good entry before them.
    assert [label for label, _ in parsed.rejected] == \
        [label or "entry %d" % i for i, (_, label, _) in enumerate(odd, 2)]
    for (label, reason), (_, _, expected) in zip(parsed.rejected, odd):
        assert expected in reason, (label, reason)


def test_rejections_and_errors_never_show_the_secret():
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    bad = [entry(name="md5", secret=secret, algo="MD5"),
           entry(name="bad", secret=secret[:-1] + "1"),
           entry(name="ten", secret=secret, digits=10)]
    parsed = load_obj(plain_vault(bad))
    assert len(parsed.rejected) == 3
    for label, reason in parsed.rejected:
        assert secret[:8] not in label + reason
    vault = encrypted_vault({"version": 2, "entries": bad}, PASSWORD)
    vault["header"]["params"]["tag"] = "00" * 16
    with pytest.raises(FormatError) as e:
        load_obj(vault, PASSWORD)
    assert secret[:8] not in str(e.value) and PASSWORD not in str(e.value)


def test_password_given_for_plain_vault_is_ignored():
    parsed = load_obj(plain_vault(spec_entries()), PASSWORD)
    assert len(parsed.accounts) == 4


# ---- the backup file ----

def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_backup_creates_private_file_readable_with_password(tmp_path):
    path = tmp_path / "new" / "dir" / "backup.aegis.json"
    accounts = sample_accounts()
    vault.write_backup(str(path), accounts, PASSWORD, scrypt_n=FAST_N)
    assert mode(path) == 0o600
    assert mode(path.parent) & 0o077 == 0
    assert [fields(a) for a in vault.read_backup(str(path), PASSWORD)] == \
        [fields(a) for a in accounts]
    with pytest.raises(PasswordError, match="wrong password"):
        vault.read_backup(str(path), "guess")
    with pytest.raises(PasswordError):
        vault.read_backup(str(path), None)
    # Same file as the Aegis app would see it: decryptable by the description.
    db = decrypt_by_spec(json.loads(path.read_text()), PASSWORD)
    assert len(db["entries"]) == len(accounts)
    # no temporary left behind; the lock file stays (see vault.locked)
    assert sorted(os.listdir(path.parent)) == ["backup.aegis.json", "backup.aegis.json.lock"]


def test_write_backup_needs_a_password(tmp_path):
    path = tmp_path / "b.json"
    for pw in (None, ""):
        with pytest.raises(ValueError):
            vault.write_backup(str(path), sample_accounts(), pw, scrypt_n=FAST_N)
    assert not path.exists()


def test_write_backup_replaces_atomically(tmp_path, monkeypatch):
    path = tmp_path / "backup.aegis.json"
    vault.write_backup(str(path), sample_accounts()[:1], PASSWORD, scrypt_n=FAST_N)
    os.chmod(path, 0o644)  # a loose old mode must not survive the rewrite
    before = os.stat(path).st_ino
    vault.write_backup(str(path), sample_accounts()[:2], PASSWORD, scrypt_n=FAST_N)
    assert os.stat(path).st_ino != before  # a new file renamed over, not rewritten in place
    assert mode(path) == 0o600
    assert len(vault.read_backup(str(path), PASSWORD)) == 2

    # A failure at the rename leaves the old backup whole and no temporary file.
    old = path.read_bytes()
    seen = []

    def failing_replace(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(dst), mode(src)))
        raise OSError("disk trouble")

    monkeypatch.setattr(vault.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk trouble"):
        vault.write_backup(str(path), sample_accounts(), PASSWORD, scrypt_n=FAST_N)
    assert seen == [(str(tmp_path), "backup.aegis.json", 0o600)]
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["backup.aegis.json", "backup.aegis.json.lock"]


def test_merge_backup(tmp_path):
    path = str(tmp_path / "sub" / "backup.aegis.json")
    first = [Account(name="alice", issuer="GitHub", secret=b"old-github"),
             Account(name="bob", issuer="Bank", secret=b"bank", kind="hotp", counter=3),
             Account(name="alice", issuer="GitLab", secret=b"gitlab")]
    got = vault.merge_backup(path, first, PASSWORD, scrypt_n=FAST_N)  # creates the file
    assert mode(path) == 0o600
    assert [fields(a) for a in got] == [fields(a) for a in first]

    replacement = Account(name="alice", issuer="GitHub", secret=b"new-github",
                          algorithm="SHA256", digits=8)
    added = Account(name="carol", issuer="", secret=b"carol")
    got = vault.merge_backup(path, [replacement, added], PASSWORD, scrypt_n=FAST_N)
    expected = [replacement, first[1], first[2], added]  # replaced in place, new at the end
    assert [fields(a) for a in got] == [fields(a) for a in expected]
    assert [fields(a) for a in vault.read_backup(path, PASSWORD)] == \
        [fields(a) for a in expected]
    assert mode(path) == 0o600


def test_merge_backup_wrong_password_leaves_file_alone(tmp_path):
    path = tmp_path / "backup.aegis.json"
    vault.write_backup(str(path), sample_accounts()[:2], PASSWORD, scrypt_n=FAST_N)
    old = path.read_bytes()
    with pytest.raises(PasswordError):
        vault.merge_backup(str(path), sample_accounts()[2:3], "wrong", scrypt_n=FAST_N)
    assert path.read_bytes() == old


def test_merge_backup_keeps_entries_it_cannot_use(tmp_path):
    """Entries added in the Aegis app that the token can't hold survive a merge."""
    path = tmp_path / "backup.aegis.json"
    db = {"version": 3, "groups": [{"uuid": "g1", "name": "Work"}],
          "entries": [entry(name="md5", issuer="Old", algo="MD5", groups=["g1"]),
                      entry(name="keep", issuer="Fine", note="a note")]}
    path.write_text(json.dumps(encrypted_vault(db, PASSWORD)))
    got = vault.merge_backup(str(path), [Account(name="new", secret=b"n")], PASSWORD,
                             scrypt_n=FAST_N)
    assert [a.label for a in got] == ["Fine:keep", "new"]
    after = decrypt_by_spec(json.loads(path.read_text()), PASSWORD)
    assert after["version"] == 3 and after["groups"] == db["groups"]
    assert after["entries"][:2] == db["entries"]
    parsed = aegis.load(path.read_text(), PASSWORD)
    assert parsed.rejected == [("Old:md5", "MD5 is not supported by the token")]


def test_default_backup_path(monkeypatch, tmp_path):
    monkeypatch.setenv("TOKEN_BACKUP", str(tmp_path / "mine.json"))
    assert vault.default_backup_path() == str(tmp_path / "mine.json")
    monkeypatch.delenv("TOKEN_BACKUP")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert vault.default_backup_path() == \
        str(tmp_path / "data" / "totp-token" / "backup.aegis.json")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the XDG spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert vault.default_backup_path() == \
        str(tmp_path / "home" / ".local" / "share" / "totp-token" / "backup.aegis.json")


def test_rename_backup_entry_keeps_the_rest(tmp_path):
    path = str(tmp_path / "b.json")
    accs = [Account(name="alice", issuer="Ex", secret=os.urandom(20)),
            Account(name="bob", issuer="Ex", secret=os.urandom(20))]
    vault.write_backup(path, accs, "pw-one", scrypt_n=1024)
    assert vault.rename_backup_entry(path, "pw-one", ("Ex", "alice"), ("New", "al"), scrypt_n=1024)
    got = vault.read_backup(path, "pw-one")
    assert [(a.issuer, a.name, a.secret) for a in got] == [
        ("New", "al", accs[0].secret), ("Ex", "bob", accs[1].secret)]
    before = open(path).read()
    assert not vault.rename_backup_entry(path, "pw-one", ("Ex", "nobody"), ("A", "b"))
    assert open(path).read() == before  # nothing written when nothing matched
    with pytest.raises(PasswordError):
        vault.rename_backup_entry(path, "wrong", ("Ex", "bob"), ("A", "b"))
