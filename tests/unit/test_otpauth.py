"""host_tools/formats/otpauth.py: base32 secrets, otpauth:// URIs, account validation."""
import base64
import os

import pytest
from hypothesis import given, strategies as st

from host_tools.formats.otpauth import Account, parse_base32

RFC_SHA1 = b"12345678901234567890"  # RFC 4226 / 6238 test seed
RFC_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


# ---- parse_base32 ----

@pytest.mark.parametrize("text, expected", [
    (RFC_B32, RFC_SHA1),
    (RFC_B32.lower(), RFC_SHA1),
    ("gezd gnbv gy3t qojq  GEZD GNBV GY3T QOJQ", RFC_SHA1),
    ("  " + RFC_B32 + " ", RFC_SHA1),
    ("MZXW6===", b"foo"),  # padding present
    ("MZXW6", b"foo"),  # padding missing
    ("MZXW6=", b"foo"),  # padding partial
    ("mzxw6 ===", b"foo"),
    ("JBSWY3DPEHPK3PXP", b"Hello!\xde\xad\xbe\xef"),
])
def test_parse_base32_accepts(text, expected):
    assert parse_base32(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "secret is empty"),
    ("   ", "secret is empty"),
    ("====", "secret is empty"),
    ("JBSWY3D1", "character 8 is not A-Z or 2-7"),
    ("JBSW Y3D8", "character 9 is not A-Z or 2-7"),  # positions count the spaces
    ("JBSW-Y3DP", "character 5 is not A-Z or 2-7"),  # hyphens are not accepted
    ("JBS=WY3DP", "character 4 is not A-Z or 2-7"),  # '=' only at the end
    ("JBSWY3DPÄ", "character 9 is not A-Z or 2-7"),
    ("A", "1 characters do not make whole bytes"),
    ("ABC", "3 characters do not make whole bytes"),
    ("ABCDEF", "6 characters do not make whole bytes"),
])
def test_parse_base32_rejects_without_echoing(text, message):
    with pytest.raises(ValueError) as e:
        parse_base32(text)
    assert message in str(e.value)
    secretish = text.strip(" =")
    if len(secretish) > 1:
        assert secretish not in str(e.value)


@given(st.binary(min_size=1, max_size=64), st.booleans(), st.booleans(), st.booleans())
def test_parse_base32_round_trips_as_people_paste(secret, lower, spaced, unpadded):
    text = base64.b32encode(secret).decode()
    if unpadded:
        text = text.rstrip("=")
    if lower:
        text = text.lower()
    if spaced:
        text = " ".join(text[i:i + 4] for i in range(0, len(text), 4))
    assert parse_base32(text) == secret


# ---- Account.from_uri ----

S = RFC_B32

def uri(template):
    # "$S" marks the secret, so percent signs in the URIs stay literal.
    return template.replace("$S", S)


URIS = [
    # (uri, name, issuer, kind, algorithm, digits, period, counter)
    ("otpauth://totp/alice@example.com?secret=$S",
     "alice@example.com", "", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/ACME%20Co:john.doe@email.com?secret=$S&issuer=ACME%20Co"
     "&algorithm=SHA1&digits=6&period=30",
     "john.doe@email.com", "ACME Co", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/Example%3Aalice%40google.com?secret=$S&issuer=Example",
     "alice@google.com", "Example", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/Example:%20alice?secret=$S",  # optional space after the colon
     "alice", "Example", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/alice?secret=$S&issuer=ACME+Co",  # '+' in a query is a space
     "alice", "ACME Co", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/ACME%20Co:alice?secret=$S&issuer=ACME+Co",
     "alice", "ACME Co", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/M%C3%BCller%20GmbH:j%C3%BCrgen?secret=$S",
     "jürgen", "Müller GmbH", "totp", "SHA1", 6, 30, 0),
    ("otpauth://totp/Big:bob?secret=" + S.lower() + "&algorithm=sha512&digits=8&period=60",
     "bob", "Big", "totp", "SHA512", 8, 60, 0),
    ("otpauth://totp/x?secret=MZXW6%3D%3D%3D&algorithm=SHA256&digits=7",
     "x", "", "totp", "SHA256", 7, 30, 0),
    ("OTPAUTH://TOTP/x?SECRET=$S",
     "x", "", "totp", "SHA1", 6, 30, 0),
    ("otpauth://hotp/Corp:carol?secret=$S&counter=42&digits=8",
     "carol", "Corp", "hotp", "SHA1", 8, 30, 42),
    ("otpauth://hotp/dave?secret=$S&counter=0&period=60",  # period ignored for hotp
     "dave", "", "hotp", "SHA1", 6, 60, 0),
    ("otpauth://totp/Valve:gamer?secret=$S&encoder=steam",
     "gamer", "Valve", "steam", "SHA1", 5, 30, 0),
    ("otpauth://totp/Steam:gamer?secret=$S&issuer=Steam&digits=6",
     "gamer", "Steam", "steam", "SHA1", 5, 30, 0),
    ("otpauth://steam/gamer?secret=$S",
     "gamer", "", "steam", "SHA1", 5, 30, 0),
    ("otpauth://totp/a?secret=$S&image=https%3A%2F%2Fx.example%2Flogo.png",
     "a", "", "totp", "SHA1", 6, 30, 0),
]


@pytest.mark.parametrize("template, name, issuer, kind, algorithm, digits, period, counter",
                         URIS)
def test_from_uri(template, name, issuer, kind, algorithm, digits, period, counter):
    a = Account.from_uri(uri(template))
    assert (a.name, a.issuer, a.kind, a.algorithm, a.digits) == (
        name, issuer, kind, algorithm, digits)
    if kind == "hotp":
        assert a.counter == counter
    else:
        assert a.period == period
    assert a.secret == (b"foo" if "MZXW6" in template else RFC_SHA1)
    a.validate()


@pytest.mark.parametrize("template, message", [
    ("https://totp/x?secret=$S", "not an otpauth:// URI"),
    ("otpauth://motp/x?secret=$S", "type must be totp, hotp or steam"),
    ("otpauth://totp/x?issuer=A", "no secret= parameter"),
    ("otpauth://totp/x?secret=$S&secret=$S", "secret= more than once"),
    ("otpauth://totp/x?secret=GEZDGNBVGY3TQOJ1", "character 16 is not A-Z or 2-7"),
    ("otpauth://totp/ACME:x?secret=$S&issuer=Other",
     "label says issuer 'ACME' but issuer= says 'Other'"),
    ("otpauth://hotp/x?secret=$S", "hotp URI needs a counter="),
    ("otpauth://hotp/x?secret=$S&counter=-1", "counter= must be a whole number"),
    ("otpauth://totp/x?secret=$S&digits=six", "digits= must be a whole number"),
    ("otpauth://totp/x?secret=$S&period=%C2%B2", "period= must be a whole number"),
    ("otpauth://totp/x?secret=$S&SECRET=$S", "secret= more than once"),
    ("otpauth://totp/Steam:x?secret=$S&period=60", "30-second period"),
])
def test_from_uri_errors_never_show_the_secret(template, message):
    with pytest.raises(ValueError) as e:
        Account.from_uri(uri(template))
    assert message in str(e.value)
    assert S[:16] not in str(e.value) and "GEZDGNBVGY3TQOJ1" not in str(e.value)


def test_from_uri_leaves_limits_to_validate():
    # A caller may rename before validating, so from_uri itself accepts a long name.
    a = Account.from_uri(uri("otpauth://totp/" + "n" * 41 + "?secret=$S"))
    with pytest.raises(ValueError, match="name is too long"):
        a.validate()
    a.name = "short"
    a.validate()


# ---- validate ----

def account(**fields):
    base = dict(name="alice", issuer="ACME", secret=os.urandom(20))
    base.update(fields)
    return Account(**base)


@pytest.mark.parametrize("fields, message", [
    (dict(name=""), "name is empty"),
    (dict(name="n" * 41), "name is too long: 41 bytes in UTF-8, the token holds at most 40"),
    (dict(name="é" * 21), "name is too long: 42 bytes"),  # bytes, not characters
    (dict(name="a\x07b"), "name contains a control character (character 2)"),
    (dict(name="a\x85"), "name contains a control character"),  # C1 control
    (dict(name="bad\udcff"), "name is not valid UTF-8"),  # undecodable argv byte
    (dict(name=b"alice"), "name must be text"),
    (dict(issuer="i" * 41), "issuer is too long: 41 bytes"),
    (dict(issuer="line\nbreak"), "issuer contains a control character (character 5)"),
    (dict(secret=b""), "secret is empty"),
    (dict(secret=bytes(65)), "secret is too long: 65 bytes, the token holds at most 64"),
    (dict(secret="GEZDGNBV"), "secret must be bytes"),
    (dict(kind="motp"), "kind must be totp, hotp or steam, not 'motp'"),
    (dict(algorithm="MD5"), "algorithm must be SHA1, SHA256 or SHA512, not 'MD5'"),
    (dict(algorithm="sha1"), "algorithm must be SHA1, SHA256 or SHA512"),
    (dict(digits=5), "digits must be 6, 7 or 8, not 5"),
    (dict(digits=9), "digits must be 6, 7 or 8, not 9"),
    (dict(digits=True), "digits must be 6, 7 or 8"),
    (dict(digits="6"), "digits must be 6, 7 or 8"),
    (dict(kind="steam", digits=6), "steam codes have 5 characters, not 6"),
    (dict(period=0), "period must be 1 to 86400 seconds, not 0"),
    (dict(period=86401), "period must be 1 to 86400 seconds, not 86401"),
    (dict(kind="steam", period=-30), "period must be 1 to 86400 seconds"),
    (dict(kind="hotp", counter=-1), "counter must be 0 to 2**63-1, not -1"),
    (dict(kind="hotp", counter=2**63), "counter must be 0 to 2**63-1"),
])
def test_validate_errors(fields, message):
    a = account(**fields)
    with pytest.raises(ValueError) as e:
        a.validate()
    assert message in str(e.value)
    with pytest.raises(ValueError):
        a.to_args()  # nothing invalid reaches the wire


@pytest.mark.parametrize("fields", [
    dict(name="n" * 40, issuer="i" * 40),
    dict(name="é" * 20, issuer=""),
    dict(secret=bytes(1)),
    dict(secret=os.urandom(64)),
    dict(digits=6), dict(digits=7), dict(digits=8),
    dict(period=1), dict(period=86400),
    dict(algorithm="SHA256"), dict(algorithm="SHA512"),
    dict(kind="hotp", counter=0), dict(kind="hotp", counter=2**63 - 1),
    dict(kind="hotp", period=0),  # hotp has no period to check
    dict(kind="totp", counter=-1),  # nor totp a counter
    dict(kind="steam"),
])
def test_validate_accepts_limits(fields):
    account(**fields).validate()


def test_defaults_and_label():
    a = Account(name="alice", secret=RFC_SHA1)
    assert (a.kind, a.algorithm, a.digits, a.period, a.counter, a.issuer) == (
        "totp", "SHA1", 6, 30, 0, "")
    assert a.label == "alice"
    assert Account(name="bob", issuer="ACME", secret=RFC_SHA1).label == "ACME:bob"
    assert Account(name="s", secret=RFC_SHA1, kind="steam").digits == 5


def test_repr_hides_the_secret():
    secret = os.urandom(20)
    text = repr(Account(name="alice", secret=secret))
    assert secret.hex() not in text and repr(secret) not in text and "secret" not in text


def test_to_args_totp():
    a = Account(name="alice", issuer="ACME", secret=RFC_SHA1, algorithm="SHA256",
                digits=8, period=60)
    assert a.to_args() == {"name": "alice", "issuer": "ACME", "secret": RFC_SHA1.hex(),
                           "kind": "totp", "algorithm": "SHA256", "digits": 8, "period": 60}


def test_to_args_hotp_and_steam():
    h = Account(name="h", secret=RFC_SHA1, kind="hotp", counter=7).to_args()
    assert h["counter"] == 7 and "period" not in h and h["kind"] == "hotp"
    s = Account(name="s", secret=RFC_SHA1, kind="steam").to_args()
    assert (s["kind"], s["digits"], s["period"]) == ("steam", 5, 30) and "counter" not in s
    assert s["secret"] == "3132333435363738393031323334353637383930"
