"""host_tools/formats/ (the import formats and their registry): every format a user brings.

All fixtures are built here (tests/fixtures_import.py) from the documented
formats; secrets are the RFC seeds or seeded random bytes. A secret that
arrives intact is proved by pyotp: the imported account's codes equal the
codes computed from the source secret.
"""
import base64
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

import fixtures_import as fx
from host_tools import formats
from host_tools.errors import FormatError, PasswordError
from host_tools.formats import migration
from host_tools.formats import twofas as twofas_format
from host_tools.formats.base import Parsed

RFC1 = b"12345678901234567890"
RFC256 = b"12345678901234567890123456789012"
RFC512 = b"1234567890" * 6 + b"1234"
_rng = random.Random(20240601)  # seeded: a failure reproduces
SECRET = _rng.randbytes(20)
SECRET16 = _rng.randbytes(16)  # base32 of 16 bytes ends in '=' padding
SECRET32 = _rng.randbytes(32)
LONG = _rng.randbytes(65)  # one byte more than a slot holds
B32 = fx.b32(SECRET)


def fields(account):
    return (account.name, account.issuer, account.kind, account.algorithm, account.digits,
            account.period if account.kind != "hotp" else account.counter)


def assert_same_codes(account, secret, kind="totp", algorithm="SHA1", digits=6, period=30,
                      counter=0):
    assert fx.account_codes(account) == fx.codes(secret, kind, algorithm, digits, period,
                                                 counter)


# ---- otpauth:// URIs ----

def u(template, secret, text=None):
    # "$S" marks the secret, so percent signs in the URIs stay literal.
    return template.replace("$S", fx.b32(secret) if text is None else text)


URIS = [
    # (uri, secret, name, issuer, kind, algorithm, digits, period or counter)
    (u("otpauth://totp/ACME%20Co:john.doe%40example.com?secret=$S&issuer=ACME%20Co"
       "&algorithm=SHA256&digits=8&period=60", RFC256),
     RFC256, "john.doe@example.com", "ACME Co", "totp", "SHA256", 8, 60),
    (u("otpauth://hotp/Corp:carol?secret=$S&issuer=Corp&counter=42&algorithm=SHA512&digits=7",
       RFC512), RFC512, "carol", "Corp", "hotp", "SHA512", 7, 42),
    (u("otpauth://totp/Example%3Aalice%40google.com?secret=$S&issuer=Example", SECRET),
     SECRET, "alice@google.com", "Example", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/alice?secret=$S", RFC1),
     RFC1, "alice", "", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/GitHub:bob?secret=$S", SECRET, B32.lower()),
     SECRET, "bob", "GitHub", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/spaced?secret=$S", SECRET,
       "%20".join(B32[i:i + 4] for i in range(0, 32, 4))),
     SECRET, "spaced", "", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/padded?secret=$S", SECRET16, base64.b32encode(SECRET16).decode()),
     SECRET16, "padded", "", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/padded2?secret=$S", SECRET16,
       base64.b32encode(SECRET16).decode().replace("=", "%3D")),
     SECRET16, "padded2", "", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/Steam:gamer?secret=$S&issuer=Steam", SECRET),
     SECRET, "gamer", "Steam", "steam", "SHA1", 5, 30),
    (u("otpauth://totp/Valve:gamer?secret=$S&encoder=steam", SECRET),
     SECRET, "gamer", "Valve", "steam", "SHA1", 5, 30),
    (u("otpauth://totp/?secret=$S&issuer=GitHub", SECRET),  # no account: the issuer names it
     SECRET, "GitHub", "", "totp", "SHA1", 6, 30),
    (u("otpauth://totp/M%C3%BCller%20GmbH:j%C3%BCrgen?secret=$S&period=45", SECRET32),
     SECRET32, "jürgen", "Müller GmbH", "totp", "SHA1", 6, 45),
]


@pytest.mark.parametrize("uri, secret, name, issuer, kind, algorithm, digits, extra", URIS)
def test_uri_round_trip(uri, secret, name, issuer, kind, algorithm, digits, extra):
    parsed = formats.load(uri)
    assert parsed.rejected == []
    (account,) = parsed.accounts
    assert fields(account) == (name, issuer, kind, algorithm, digits, extra)
    if kind == "hotp":
        assert_same_codes(account, secret, kind, algorithm, digits, counter=extra)
    else:
        assert_same_codes(account, secret, kind, algorithm, digits, period=extra)


def test_uri_file_with_comments_blank_lines_and_crlf(tmp_path):
    lines = ["# exported by hand", "", "  " + URIS[0][0] + "  ", "# another", URIS[1][0],
             "", URIS[8][0]]
    path = tmp_path / "accounts.dat"  # the extension says nothing; content decides
    path.write_bytes("\r\n".join(lines).encode())
    parsed = formats.load(str(path))
    assert [a.label for a in parsed.accounts] == [
        "ACME Co:john.doe@example.com", "Corp:carol", "Steam:gamer"]
    assert parsed.rejected == []
    assert formats.load(path).accounts == parsed.accounts  # a pathlib.Path works too


# ---- Google Authenticator exports ----

def _migration_accounts():
    extra = fx.f_fixed32(20) + fx.f_fixed64(21) + fx.f_varint(22, 7) + fx.f_bytes(23, "x")
    return [
        # Unspecified enums (0) mean SHA1, 6 digits, TOTP.
        fx.otp_parameters(RFC1, "alice@example.com", "Example", 0, 0, 0),
        fx.otp_parameters(RFC256, "bob", "Big", fx.ALGO["SHA256"], fx.DIGITS[8], extra=extra),
        fx.otp_parameters(RFC512, "Corp:carol", "", fx.ALGO["SHA512"], fx.DIGITS[8]),
        fx.otp_parameters(SECRET, "dave", "Bank", type_=fx.TYPE["hotp"], counter=7),
        fx.otp_parameters(SECRET32, "Shop:erin", "Shop"),  # label repeats the issuer
        fx.otp_parameters(SECRET16, "Müller", "Café"),
    ]


MIGRATION_EXPECTED = [
    (("alice@example.com", "Example", "totp", "SHA1", 6, 30), RFC1),
    (("bob", "Big", "totp", "SHA256", 8, 30), RFC256),
    (("carol", "Corp", "totp", "SHA512", 8, 30), RFC512),
    (("dave", "Bank", "hotp", "SHA1", 6, 7), SECRET),
    (("erin", "Shop", "totp", "SHA1", 6, 30), SECRET32),
    (("Müller", "Café", "totp", "SHA1", 6, 30), SECRET16),
]


def check_migration(accounts):
    assert [fields(a) for a in accounts] == [f for f, _ in MIGRATION_EXPECTED]
    for account, (f, secret) in zip(accounts, MIGRATION_EXPECTED):
        assert account.secret == secret
        assert_same_codes(account, secret, f[2], f[3], f[4],
                          counter=f[5] if f[2] == "hotp" else 0)


@pytest.mark.parametrize("style", ["percent", "raw", "nopad", "spaces", "urlsafe"])
def test_migration_round_trip(style):
    extra = fx.f_fixed64(9) + fx.f_bytes(10, "future field")
    data = fx.payload(_migration_accounts(), batch_id=-5, extra=extra)
    parsed, batch = migration.parse_migration_uri(fx.migration_uri(data, style))
    assert batch == (1, 0, -5)
    assert parsed.rejected == []
    check_migration(parsed.accounts)
    assert fields(formats.load(fx.migration_uri(data, style)).accounts[3]) == \
        MIGRATION_EXPECTED[3][0]


def test_migration_batches_in_any_order_with_duplicates():
    otps = _migration_accounts()
    uris = [fx.migration_uri(fx.payload(otps[i:i + 2], 3, i // 2, batch_id=77))
            for i in (0, 2, 4)]
    parts = [migration.parse_migration_uri(u) for u in (uris[2], uris[0], uris[2], uris[1])]
    check_migration(migration.combine_batches(parts).accounts)
    # The same through a text file: all parts in one file are combined.
    parsed = formats.load("\n".join([uris[1], "# part 3", uris[2], uris[0], uris[1]]))
    check_migration(parsed.accounts)
    assert migration.combine_batches([]).accounts == []


def test_migration_two_exports_in_one_file_and_uris_first():
    one = fx.migration_uri(fx.payload(_migration_accounts()[:1], batch_id=1))
    two = fx.migration_uri(fx.payload(_migration_accounts()[1:2], batch_id=2))
    parsed = formats.load("\n".join([one, URIS[3][0], two]))
    assert [a.label for a in parsed.accounts] == ["alice", "Example:alice@example.com",
                                                  "Big:bob"]


# ---- QR images ----

def test_qr_png_and_jpeg_screenshots(tmp_path):
    image = fx.qr_image(URIS[0][0])
    for fmt, suffix in (("PNG", ".png"), ("JPEG", ".txt")):  # content decides, not suffix
        path = tmp_path / ("shot" + suffix)
        path.write_bytes(fx.encoded(image, fmt, **({"quality": 85} if fmt == "JPEG" else {})))
        parsed = formats.load(str(path))
        (account,) = parsed.accounts
        assert fields(account) == URIS[0][2:]
        assert_same_codes(account, RFC256, "totp", "SHA256", 8, 60)


def test_qr_two_codes_in_one_image():
    data = fx.payload(_migration_accounts())
    sheet = fx.side_by_side(fx.qr_image(URIS[1][0]), fx.qr_image(fx.migration_uri(data), 3))
    parsed = formats.load(fx.encoded(sheet))
    assert parsed.rejected == []
    assert fields(parsed.accounts[0]) == URIS[1][2:]
    check_migration(parsed.accounts[1:])


def test_qr_export_split_over_two_codes_in_one_image():
    otps = _migration_accounts()
    codes = [fx.qr_image(fx.migration_uri(fx.payload(otps[i:i + 3], 2, i // 3, batch_id=9)), 3)
             for i in (3, 0)]  # part 2 on the left
    check_migration(formats.load(fx.encoded(fx.side_by_side(*codes))).accounts)


def test_qr_photo_like():
    parsed = formats.load(fx.photo_like(fx.qr_image(URIS[1][0], 3)))
    (account,) = parsed.accounts
    assert fields(account) == URIS[1][2:]
    assert_same_codes(account, RFC512, "hotp", "SHA512", 7, counter=42)


def test_qr_on_transparent_background():
    # Screenshot tools often save white as transparent black: it must read as white.
    qr = fx.qr_image(URIS[2][0])
    rgba = Image.new("RGBA", qr.size, (0, 0, 0, 0))
    rgba.putalpha(qr.point(lambda v: 255 if v < 128 else 0))
    (account,) = formats.load(fx.encoded(rgba)).accounts
    assert account.secret == SECRET


# ---- 2FAS ----

TWOFAS_SERVICES = [
    fx.twofas_service(fx.b32(RFC256), "ACME", "john@acme.test", digits=8, period=60,
                      algorithm="SHA256"),
    fx.twofas_service(fx.b32(RFC512), "Bank", "me", issuer="Bank AG", algorithm="SHA512",
                      token_type="HOTP", counter=5),
    fx.twofas_service(B32, "Steam", "gamer", digits=5, token_type="STEAM"),
    fx.twofas_service(fx.b32(SECRET32).lower(), "GitLab"),  # no account: the name names it
]
TWOFAS_EXPECTED = [
    (("john@acme.test", "ACME", "totp", "SHA256", 8, 60), RFC256),
    (("me", "Bank AG", "hotp", "SHA512", 6, 5), RFC512),
    (("gamer", "Steam", "steam", "SHA1", 5, 30), SECRET),
    (("GitLab", "", "totp", "SHA1", 6, 30), SECRET32),
]


def check_twofas(parsed):
    assert parsed.rejected == []
    assert [fields(a) for a in parsed.accounts] == [f for f, _ in TWOFAS_EXPECTED]
    for account, (f, secret) in zip(parsed.accounts, TWOFAS_EXPECTED):
        assert_same_codes(account, secret, f[2], f[3], f[4], period=f[5],
                          counter=f[5] if f[2] == "hotp" else 0)


def test_2fas_plain():
    check_twofas(formats.load(fx.twofas_backup(TWOFAS_SERVICES)))


def test_2fas_encrypted(tmp_path):
    path = tmp_path / "2fas-backup.2fas"
    path.write_text(fx.twofas_backup(TWOFAS_SERVICES, password="correct horse"))
    check_twofas(formats.load(str(path), password="correct horse"))
    check_twofas(twofas_format.from_2fas(path.read_text(), password=b"correct horse"))


# ---- andOTP ----

def test_andotp():
    entries = [
        fx.andotp_entry(fx.b32(RFC1), "alice", "Example"),
        fx.andotp_entry(fx.b32(RFC256), "Corp:bob", digits=8, period=15, algorithm="SHA256"),
        fx.andotp_entry(fx.b32(RFC512), "carol", "Bank", algorithm="SHA512", type_="HOTP",
                        counter=99),
        fx.andotp_entry(B32, "gamer", "Steam", digits=5, type_="STEAM"),
        fx.andotp_entry(B32, "other", "Steam", digits=6, type_="STEAM"),  # Steam is always 5
    ]
    parsed = formats.load(json.dumps(entries, indent=2))
    assert parsed.rejected == []
    expected = [(("alice", "Example", "totp", "SHA1", 6, 30), RFC1),
                (("bob", "Corp", "totp", "SHA256", 8, 15), RFC256),
                (("carol", "Bank", "hotp", "SHA512", 6, 99), RFC512),
                (("gamer", "Steam", "steam", "SHA1", 5, 30), SECRET),
                (("other", "Steam", "steam", "SHA1", 5, 30), SECRET)]
    assert [fields(a) for a in parsed.accounts] == [f for f, _ in expected]
    for account, (f, secret) in zip(parsed.accounts, expected):
        assert_same_codes(account, secret, f[2], f[3], f[4], period=f[5],
                          counter=f[5] if f[2] == "hotp" else 0)


# ---- detection and kind= ----

def test_detection_by_content():
    png = fx.encoded(fx.qr_image(URIS[3][0]))
    assert formats.detect(png) == "image"
    assert formats.detect(fx.encoded(fx.qr_image(URIS[3][0]), "JPEG")) == "image"
    assert formats.detect(fx.encoded(fx.qr_image(URIS[3][0]), "GIF")) == "image"
    assert formats.detect(fx.twofas_backup([]).encode()) == "2fas"
    assert formats.detect(b'{"servicesEncrypted": "a:b:c"}') == "2fas"
    assert formats.detect(fx.aegis_vault([]).encode()) == "aegis"
    assert formats.detect(b"\xef\xbb\xbf [ ]") == "andotp"  # BOM and spaces first
    assert formats.detect(URIS[3][0].encode()) == "text"


def test_kind_forces_a_format():
    text = json.dumps([fx.andotp_entry(B32, "x")])
    assert len(formats.load(text, kind="andotp").accounts) == 1
    assert len(formats.load(URIS[3][0], kind="uri").accounts) == 1
    with pytest.raises(FormatError, match="2FAS backup: expected a JSON object"):
        formats.load(text, kind="2fas")
    with pytest.raises(FormatError, match="cannot read image the input"):
        formats.load(URIS[3][0], kind="image")


def test_file_names_in_messages(tmp_path):
    blank = tmp_path / "blank.png"
    blank.write_bytes(fx.encoded(Image.new("L", (200, 200), 255)))
    with pytest.raises(FormatError, match="^no QR code found in .*blank.png$"):
        formats.load(str(blank))
    with pytest.raises(FormatError, match="cannot read .*missing.txt"):
        formats.load(str(tmp_path / "missing.txt"))


# ---- the catalog of malformed input ----

def uri(tail, label="Bad:x"):
    return "otpauth://%s?secret=%s" % (label, B32) if tail is None else \
        "otpauth://%s?%s" % (label, tail)


GOOD = "otpauth://totp/Good:ok?secret=" + B32
GOOD_OTP = fx.otp_parameters(SECRET, "ok", "Good")


def with_good(line):
    return GOOD + "\n" + line


def mig(*otps, **batch):
    return fx.migration_uri(fx.payload(list(otps), **batch))


def raw_mig(data):
    return fx.migration_uri(data)


def b64_cut(n):
    # A cut whose length leaves 4k+1 characters: no way to make whole bytes.
    text = base64.b64encode(fx.payload([GOOD_OTP])).decode().rstrip("=")
    text = text[:len(text) - n]
    while len(text) % 4 != 1:
        text = text[:-1]
    return "otpauth-migration://offline?data=" + text


def mig_bad(otp, **batch):
    return with_good(mig(otp, **batch))


def twofas(*services, password=None):
    return fx.twofas_backup([fx.twofas_service(B32, "Good", "ok")] + list(services), password)


def twofas_blob(blob):
    return json.dumps({"services": [], "servicesEncrypted": blob})


def twofas_sealed(plain, password="pw"):
    return twofas_blob(fx.twofas_encrypt(plain, password))


def andotp(*entries):
    return json.dumps([fx.andotp_entry(B32, "ok", "Good")] + list(entries))


def qr(text):
    return fx.encoded(fx.qr_image(text))


PNG = fx.encoded(fx.qr_image(GOOD))

# (id, build() -> (input, load kwargs), outcome, message substring)
# outcome: "format" FormatError, "password" PasswordError, "rejected" the one bad
# entry is rejected while the good one imports.
CATALOG = [
    # Google Authenticator exports
    ("mig truncated base64", lambda: (b64_cut(3), {}), "format",
     "Google Authenticator export: data= is not valid base64"),
    ("mig base64 bad character", lambda: ("otpauth-migration://offline?data=AAAA!AAA", {}),
     "format", "not valid base64 (character 5)"),
    ("mig protobuf truncated", lambda: (raw_mig(fx.payload([GOOD_OTP])[:-12]), {}),
     "format", "the data is truncated"),
    ("mig protobuf wire type 7", lambda: (raw_mig(b"\x0f\x01\x02"), {}), "format",
     "wire type 7"),
    ("mig protobuf field 0", lambda: (raw_mig(b"\x02\x01\x02"), {}), "format",
     "field number 0"),
    ("mig protobuf wrong wire type", lambda: (raw_mig(fx.f_varint(1, 5)), {}), "format",
     "field 1 of the payload holds a number, expected bytes"),
    ("mig protobuf endless varint", lambda: (raw_mig(b"\x10" + b"\xff" * 11), {}), "format",
     "longer than 10 bytes"),
    ("mig garbage bytes", lambda: (raw_mig(b"\x0a\x05\x0a\xff\xff\xff\xff"), {}), "format",
     "truncated"),
    ("mig no data", lambda: ("otpauth-migration://offline?version=1", {}), "format",
     "the URI has no data= parameter"),
    ("mig empty data", lambda: ("otpauth-migration://offline?data=", {}), "format",
     "data= is empty"),
    ("mig no accounts", lambda: (raw_mig(fx.f_varint(2, 1)), {}), "format",
     "holds no accounts"),
    ("mig missing part", lambda: (mig(GOOD_OTP, batch_size=3, batch_index=0) + "\n"
                                  + mig(GOOD_OTP, batch_size=3, batch_index=2), {}),
     "format", "part 2 of 3 is missing"),
    ("mig missing parts", lambda: (mig(GOOD_OTP, batch_size=4, batch_index=0), {}),
     "format", "parts 2, 3 and 4 of 4 are missing"),
    ("mig part out of range", lambda: (mig(GOOD_OTP, batch_size=3, batch_index=3), {}),
     "format", "claims to be part 4 of 3"),
    ("mig conflicting parts", lambda: (
        mig(GOOD_OTP, batch_size=2, batch_index=0) + "\n"
        + mig(fx.otp_parameters(SECRET32, "x"), batch_size=2, batch_index=0), {}),
     "format", "part 1 of 2 appears twice with different accounts"),
    ("mig disagreeing sizes", lambda: (
        mig(GOOD_OTP, batch_size=2, batch_index=0) + "\n"
        + mig(GOOD_OTP, batch_size=3, batch_index=1), {}),
     "format", "disagree on its size"),
    ("mig MD5", lambda: (mig_bad(fx.otp_parameters(SECRET, "m", algorithm=4)), {}),
     "rejected", "MD5 is not supported by the token"),
    ("mig unknown algorithm", lambda: (mig_bad(fx.otp_parameters(SECRET, "m", algorithm=9)),
                                       {}), "rejected", "unknown algorithm code 9"),
    ("mig unknown digits", lambda: (mig_bad(fx.otp_parameters(SECRET, "m", digits=3)), {}),
     "rejected", "unknown digits code 3"),
    ("mig unknown type", lambda: (mig_bad(fx.otp_parameters(SECRET, "m", type_=5)), {}),
     "rejected", "unknown OTP type code 5"),
    ("mig empty secret", lambda: (mig_bad(fx.otp_parameters(b"", "m")), {}), "rejected",
     "secret is empty"),
    ("mig long secret", lambda: (mig_bad(fx.otp_parameters(LONG, "m")), {}), "rejected",
     "secret is too long: 65 bytes, the token holds at most 64"),
    ("mig name not UTF-8", lambda: (mig_bad(fx.otp_parameters(SECRET, b"\xff\xfe")), {}),
     "rejected", "name of entry 1 is not valid UTF-8"),
    ("mig long name", lambda: (mig_bad(fx.otp_parameters(SECRET, "n" * 41)), {}), "rejected",
     "name is too long: 41 bytes in UTF-8, the token holds at most 40"),
    ("mig negative counter", lambda: (mig_bad(fx.otp_parameters(SECRET, "h", type_=1,
                                                                counter=-1)), {}),
     "rejected", "counter must be 0 to 2**63-1, not -1"),
    # otpauth:// lines
    ("uri issuer disagreement", lambda: (with_good(uri(None, "totp/ACME:x") + "&issuer=Other"),
                                         {}),
     "rejected", "the URI's label says issuer 'ACME' but issuer= says 'Other'"),
    ("uri 10 digits", lambda: (with_good(uri(None, "totp/x") + "&digits=10"), {}), "rejected",
     "digits must be 6, 7 or 8, not 10"),
    ("uri period 0", lambda: (with_good(uri(None, "totp/x") + "&period=0"), {}), "rejected",
     "period must be 1 to 86400 seconds, not 0"),
    ("uri period too long", lambda: (with_good(uri(None, "totp/x") + "&period=86401"), {}),
     "rejected", "period must be 1 to 86400 seconds, not 86401"),
    ("uri hotp no counter", lambda: (with_good(uri(None, "hotp/x")), {}), "rejected",
     "an hotp URI needs a counter= parameter"),
    ("uri MD5", lambda: (with_good(uri(None, "totp/x") + "&algorithm=md5"), {}), "rejected",
     "MD5 is not supported by the token"),
    ("uri SHA224", lambda: (with_good(uri(None, "totp/x") + "&algorithm=SHA224"), {}),
     "rejected", "algorithm must be SHA1, SHA256 or SHA512, not 'SHA224'"),
    ("uri unknown type", lambda: (with_good(uri(None, "motp/x")), {}), "rejected",
     "type must be totp, hotp or steam"),
    ("uri bad base32", lambda: (with_good(uri("secret=GEZDGNBV1Y3TQOJQ", "totp/x")), {}),
     "rejected", "secret is not valid base32 (character 9 is not A-Z or 2-7)"),
    ("uri empty secret", lambda: (with_good(uri("secret=", "totp/x")), {}), "rejected",
     "secret is empty"),
    ("uri long secret", lambda: (with_good(uri("secret=" + fx.b32(LONG), "totp/x")), {}),
     "rejected", "secret is too long: 65 bytes"),
    ("uri long issuer", lambda: (with_good(uri(None, "totp/" + "i" * 41 + ":x")), {}),
     "rejected", "issuer is too long: 41 bytes in UTF-8, the token holds at most 40"),
    ("uri long UTF-8 name", lambda: (with_good(uri(None, "totp/" + "%C3%A9" * 21)), {}),
     "rejected", "name is too long: 42 bytes in UTF-8"),
    ("uri junk line", lambda: (with_good(B32), {}), "rejected",
     "not an otpauth:// or otpauth-migration:// URI"),
    ("text without URIs", lambda: ("hello\nworld\n", {}), "format",
     "no otpauth:// or otpauth-migration:// URI found in the input"),
    ("empty text", lambda: (b"", {}), "format", "no otpauth:// or otpauth-migration:// URI"),
    # 2FAS
    ("2fas wrong password", lambda: (twofas(password="right"), {"password": "wrong"}),
     "password", "wrong password for this 2FAS backup"),
    ("2fas missing password", lambda: (twofas(password="right"), {}), "password",
     "this 2FAS backup is encrypted: pass --password"),
    ("2fas blob two parts", lambda: (twofas_blob("AAAA:AAAA"), {"password": "pw"}), "format",
     "2FAS backup: servicesEncrypted must be three base64 parts"),
    ("2fas blob bad base64", lambda: (twofas_blob("AA!A:AAAA:AAAAAAAAAAAAAAAA"),
                                      {"password": "pw"}),
     "format", "2FAS backup: the data in servicesEncrypted is not valid base64"),
    ("2fas blob truncated", lambda: (twofas_blob("AAAA:AAAA:AAAAAAAAAAAAAAAA"),
                                     {"password": "pw"}),
     "format", "2FAS backup: the encrypted data is truncated"),
    ("2fas decrypts to non-JSON", lambda: (twofas_sealed(b"\x00not json"),
                                           {"password": "pw"}),
     "format", "2FAS backup: the decrypted services are not JSON"),
    ("2fas services not a list", lambda: ('{"services": {"a": 1}}', {}), "format",
     "2FAS backup: services must be a list"),
    ("2fas empty secret", lambda: (twofas(fx.twofas_service("", "Empty")), {}), "rejected",
     "secret is empty"),
    ("2fas bad base32", lambda: (twofas(fx.twofas_service("ABC!", "Bad")), {}), "rejected",
     "secret is not valid base32"),
    ("2fas unknown type", lambda: (twofas(fx.twofas_service(B32, "M", token_type="MOTP")),
                                   {}),
     "rejected", "unknown type 'MOTP'"),
    ("2fas MD5", lambda: (twofas(fx.twofas_service(B32, "M", algorithm="MD5")), {}),
     "rejected", "MD5 is not supported by the token"),
    ("2fas 10 digits", lambda: (twofas(fx.twofas_service(B32, "D", digits=10)), {}),
     "rejected", "digits must be 6, 7 or 8, not 10"),
    ("2fas period 0", lambda: (twofas(fx.twofas_service(B32, "P", period=0)), {}),
     "rejected", "period must be 1 to 86400 seconds, not 0"),
    ("2fas service not an object", lambda: (
        json.dumps({"services": [fx.twofas_service(B32, "Good", "ok"), "oops"]}), {}),
     "rejected", "not a 2FAS service object"),
    # andOTP
    ("andotp entry not an object", lambda: (json.dumps(json.loads(andotp()) + [3]), {}),
     "rejected", "not an andOTP account object"),
    ("andotp missing secret", lambda: (andotp({"label": "x", "type": "TOTP"}), {}),
     "rejected", "secret is empty"),
    ("andotp secret not text", lambda: (andotp({"label": "x", "secret": 1234}), {}),
     "rejected", "secret must be base32 text"),
    ("andotp unknown type", lambda: (andotp(fx.andotp_entry(B32, "x", type_="MOTP")), {}),
     "rejected", "unknown type 'MOTP'"),
    ("andotp long name", lambda: (andotp(fx.andotp_entry(B32, "n" * 41)), {}), "rejected",
     "name is too long: 41 bytes in UTF-8"),
    ("andotp period too long", lambda: (andotp(fx.andotp_entry(B32, "p", period=90000)), {}),
     "rejected", "period must be 1 to 86400 seconds, not 90000"),
    # JSON in general
    ("corrupt JSON", lambda: (twofas()[:-20], {}), "format", "the input is corrupt JSON"),
    ("unknown JSON object", lambda: ('{"accounts": []}', {}), "format",
     "is JSON but not an Aegis vault, 2FAS backup or andOTP backup"),
    ("andotp forced on an object", lambda: ('{"a": 1}', {"kind": "andotp"}), "format",
     "andOTP backup: expected a JSON list"),
    # images and bytes
    ("image without QR code", lambda: (fx.encoded(Image.new("RGB", (120, 80), "white")), {}),
     "format", "no QR code found in the input"),
    ("truncated PNG", lambda: (PNG[:len(PNG) // 2], {}), "format", "cannot read image"),
    ("non-image bytes as image", lambda: (b"hello", {"kind": "image"}), "format",
     "cannot read image the input"),
    ("binary garbage", lambda: (bytes(range(256)), {}), "format",
     "the input is neither an image nor text"),
    ("QR code of a web address", lambda: (qr("https://example.com/"), {}), "format",
     "has 1 QR code but none holds an otpauth"),
    ("QR code of a corrupt export", lambda: (qr("otpauth-migration://offline?data=AAAAA"), {}),
     "format", "Google Authenticator export: data= is not valid base64"),
    ("unknown kind", lambda: (GOOD, {"kind": "lastpass"}), "format",
     "unknown import format 'lastpass'"),
]

SECRET_FORMS = [f(s) for s in (SECRET, LONG) for f in (
    lambda s: fx.b32(s)[:16], lambda s: fx.b32(s)[:16].lower(), lambda s: s.hex()[:16],
    lambda s: base64.b64encode(s).decode()[:16])]


@pytest.mark.parametrize("build, outcome, message",
                         [pytest.param(*case[1:], id=case[0]) for case in CATALOG])
def test_malformed_input(build, outcome, message):
    data, kwargs = build()
    if outcome == "rejected":
        parsed = formats.load(data, **kwargs)
        assert len(parsed.accounts) == 1 and parsed.accounts[0].label == "Good:ok"
        assert len(parsed.rejected) == 1, parsed.rejected
        label, reason = parsed.rejected[0]
        assert message in reason
        assert label  # the user can tell which entry it was
        said = label + " " + reason
    else:
        expected = PasswordError if outcome == "password" else FormatError
        with pytest.raises(expected) as e:
            formats.load(data, **kwargs)
        if outcome == "format":
            assert not isinstance(e.value, PasswordError)
        assert message in str(e.value)
        said = str(e.value)
    for form in SECRET_FORMS:
        assert form not in said


def test_catalog_is_broad():
    assert len(CATALOG) >= 30
    assert len({case[0] for case in CATALOG}) == len(CATALOG)


def test_rejected_labels_name_the_entry():
    text = "\n".join([GOOD, uri(None, "totp/ACME:x") + "&issuer=Other", "junk", "",
                      uri(None, "totp/Big:" + "n" * 41)])
    parsed = formats.load(text)
    assert [label for label, _ in parsed.rejected] == [
        "line 2 (ACME:x)", "line 3", "line 5 (Big:" + "n" * 41 + ")"]


# ---- robustness: nothing but FormatError, whatever the bytes ----

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_migration_reader_never_crashes(data):
    try:
        parsed, batch = migration.parse_migration_uri(fx.migration_uri(data))
    except FormatError:
        return
    assert isinstance(parsed, Parsed) and batch[1] < batch[0]
    for account in parsed.accounts:
        account.validate()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=40))
def test_migration_reader_on_cut_and_flipped_payloads(seed, cut):
    data = bytearray(fx.payload(_migration_accounts(), batch_id=seed))
    rng = random.Random(seed)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    try:
        migration.parse_migration_uri(fx.migration_uri(bytes(data[:-cut])))
    except FormatError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_load_never_crashes(data):
    try:
        formats.load(data.encode() if isinstance(data, str) else data)
    except FormatError:
        pass


# ---- Aegis: delegated to host_tools.formats.aegis (kept apart: that module is separate work) ----

def test_aegis_vaults_go_through_host_tools_aegis():
    entries = [fx.aegis_entry(fx.b32(RFC256), "alice", "ACME", algo="SHA256", digits=8,
                              period=60),
               fx.aegis_entry(fx.b32(RFC1), "bob", "Bank", type_="hotp", counter=3),
               fx.aegis_entry(B32, "gamer", "Steam", type_="steam", digits=5),
               fx.aegis_entry(B32, "old", "Legacy", algo="MD5")]
    expected = [(("alice", "ACME", "totp", "SHA256", 8, 60), RFC256),
                (("bob", "Bank", "hotp", "SHA1", 6, 3), RFC1),
                (("gamer", "Steam", "steam", "SHA1", 5, 30), SECRET)]
    plain = fx.aegis_vault(entries)
    sealed = fx.aegis_vault(entries, password="hunter2")
    for parsed in (formats.load(plain), formats.load(sealed, password="hunter2"),
                   formats.load(plain.encode(), kind="aegis")):
        assert [fields(a) for a in parsed.accounts] == [f for f, _ in expected]
        for account, (f, secret) in zip(parsed.accounts, expected):
            assert_same_codes(account, secret, f[2], f[3], f[4], period=f[5],
                              counter=f[5] if f[2] == "hotp" else 0)
        assert len(parsed.rejected) == 1 and "MD5" in parsed.rejected[0][1]
    with pytest.raises(PasswordError):
        formats.load(sealed)
    with pytest.raises(PasswordError):
        formats.load(sealed, password="wrong")
    with pytest.raises(FormatError):
        formats.load('{"version": 1, "header": {}, "db": 5}')
