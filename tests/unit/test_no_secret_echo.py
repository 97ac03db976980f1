"""No message shows a secret: malformed key URIs and import lines, each run
through the parser, the importer and the CLI (text and --json), and every
word printed searched for the secret in every form (base32 upper and lower,
with and without padding, hex)."""
import base64
import contextlib
import io
import os
import sys
from string import Template

import pytest

from host_tools import formats, provision
from host_tools.client import TokenClient
from host_tools.formats.otpauth import Account
from test_provision_cli import FakeLink

SECRET = os.urandom(17)  # 17 bytes: its base32 has padding
B32 = base64.b32encode(SECRET).decode()
FIELDS = {"S": B32.rstrip("="), "P": B32, "L": B32.rstrip("=").lower(), "H": SECRET.hex(),
          "E": B32.rstrip("=").replace("A", "%41")}

MALFORMED = [
    "otpauth://$S/x?secret=AA",
    "otpauth://$L/x?secret=$S",
    "otpauth:///$S?secret=AA",
    "otpauth://totp/Imp:hana&secret=$S",
    "otpauth://totp/Imp:hana%3Fsecret=$S",
    "otpauth://totp/Imp:hana%3fsecret%3d$S",
    "otpauth://totp/Imp:hana%253Fsecret%253D$S",
    "otpauth://totp/Imp:hana%3Fsecret=$S?secret=$S",
    "otpauth://totp/Imp:hana&amp;secret=$S",
    "otpauth://totp/Imp%3Ahana%26secret%3D$P",
    "otpauth://totp/Imp:hana#secret=$S",
    "otpauth://totp/x?issuer=A#secret=$S",
    "otpauth://totp/$S?secret=$S",
    "otpauth://totp/$L?secret=$S",
    "otpauth://totp/$H?secret=$S",
    "otpauth://totp/$S:x?secret=$S&issuer=B",
    "otpauth://totp/A:x?secret=$S&issuer=$S",
    "otpauth://totp/x?secret=$S&issuer=$L",
    "otpauth://totp/x?secret=$S&digits=$S",
    "otpauth://totp/x?secret=$S&period=$H",
    "otpauth://hotp/x?secret=$S&counter=$S",
    "otpauth://totp/x?secret=$S&algorithm=$S",
    "otpauth://totp/x?secret=${S}1",
    "otpauth://totp/x?secret=$S!",
    "otpauth://totp/x?secret=$H",
    "otpauth://totp/x?secret=$S&$S=1&$S=2",
    "otpauth://totp/x?secret=$L&secret=$L",
    "otpauth://totp/x?sEcReT=$S&SECRET=$P",
    "otpauth://totp/x?secret=$E&secret=$S",
    "otpauth://totp/x%00y?secret=$S",
    "otpauth://steam/x?secret=$S&period=$S",
    "otpauth://totp/" + "n" * 41 + "?secret=$S",
    "otpauth://totp/x?secret=" + base64.b32encode(os.urandom(65)).decode(),
    " otpauth://totp/Imp:hana&secret=$S ",
    "otpauth://totp?secret=$S",
    "otpauth://totp/x?secret=$S&digits=9&period=$S",
    "otpauth-migration://offline?data=$S",
    "$S",
    "secret=$S",
]
CASES = [Template(t).substitute(FIELDS) for t in MALFORMED]


def leaks(text):
    """The 16-character pieces of the secret's forms found in text."""
    folded = text.upper().replace(" ", "")
    found = []
    for form in (B32.rstrip("="), SECRET.hex().upper()):
        found += [form[i:i + 16] for i in range(len(form) - 15) if form[i:i + 16] in folded]
    return found


def cli(*argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = provision.main(list(argv))
    finally:
        sys.stdin = old
    return rc, out.getvalue() + err.getvalue()


@pytest.fixture(autouse=True)
def empty_token(monkeypatch):
    fake = FakeLink({"add": {"index": 0, "count": 1}})
    monkeypatch.setattr(provision, "connect", lambda args: TokenClient(fake, timeout=1))
    return fake


def test_the_table_is_broad():
    # Every case but two (a random 65-byte key; A written %41) holds the secret as such.
    assert len(CASES) >= 35 and sum(not leaks(case) for case in CASES) <= 2


@pytest.mark.parametrize("uri", CASES, ids=range(len(CASES)))
def test_parser_and_importer_never_echo_the_secret(uri):
    try:
        account = Account.from_uri(uri)
        account.validate()
    except ValueError as e:
        assert not leaks(str(e)), str(e)
    else:
        pytest.fail("accepted a malformed URI")
    try:
        parsed = formats.load(uri + "\notpauth://totp/Good:ok?secret=JBSWY3DPEHPK3PXP\n")
    except ValueError as e:  # FormatError
        assert not leaks(str(e)), str(e)
    else:
        assert [a.label for a in parsed.accounts] == ["Good:ok"]
        assert not leaks(repr(parsed.rejected)), parsed.rejected


@pytest.mark.parametrize("uri", CASES, ids=range(len(CASES)))
@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
def test_cli_never_echoes_the_secret(uri, as_json, tmp_path, empty_token):
    rc, said = cli(*as_json, "add", "--uri", uri, "--no-backup")
    assert rc == 2 and not leaks(said), said
    rc, said = cli(*as_json, "add", "--uri", "-", "--no-backup", stdin=uri + "\n")
    assert rc == 2 and not leaks(said), said
    path = tmp_path / "codes.txt"
    path.write_text(uri + "\n")
    rc, said = cli(*as_json, "import", str(path), "--yes", "--no-backup")
    assert rc == 2 and not leaks(said), said
    path.write_text(uri + "\notpauth://totp/Good:ok?secret=JBSWY3DPEHPK3PXP\n")
    rc, said = cli(*as_json, "import", str(path), "--dry-run")
    assert rc in (0, 2) and not leaks(said), said
    assert not [cmd for cmd, _ in empty_token.requests if cmd == "add"]
