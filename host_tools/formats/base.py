"""What every import format shares: the Parsed result, the admit() rule
every format applies to an account, reading the input once (Content), and
the loosely typed JSON fields 2FAS and andOTP both use.

Entries the token can't hold are listed with the reason instead of failing
the whole file. No message ever contains a secret.
"""
import json

from host_tools.errors import FormatError
from host_tools.formats.otpauth import STEAM_DIGITS, Account, parse_base32

MD5_REASON = "MD5 is not supported by the token"


class Parsed:
    """accounts: list of host_tools.formats.otpauth.Account (validated);
    rejected: list of (label, reason) for entries the token can't hold;
    deleted: Accounts a backup keeps marked as deleted from the token
    (restore leaves them out unless asked)."""

    def __init__(self, accounts=None, rejected=None, deleted=None):
        self.accounts = list(accounts or [])
        self.rejected = list(rejected or [])
        self.deleted = list(deleted or [])

    def extend(self, other):
        self.accounts.extend(other.accounts)
        self.rejected.extend(other.rejected)
        self.deleted.extend(other.deleted)
        return self


def admit(parsed, account, label):
    """Validate `account` and add it to parsed.accounts, or add (label, reason)
    to parsed.rejected. Shared by every importer so all formats agree."""
    if not account.name and account.issuer:
        # The token needs a name; an issuer alone ("GitHub") is the best one there is.
        account.name, account.issuer = account.issuer, ""
    if account.algorithm == "MD5":
        parsed.rejected.append((label, MD5_REASON))
        return
    try:
        account.validate()
    except ValueError as e:
        parsed.rejected.append((label, str(e)))
        return
    parsed.accounts.append(account)


class Format:
    """One import format, as the registry (host_tools.formats) knows it.
    detect(content) says whether the content is this format; load(content,
    password) returns a Parsed. binary formats are detected from the raw
    bytes, before the content is decoded as text."""

    def __init__(self, kind, detect, load, aliases=(), binary=False):
        self.kind = kind
        self.detect = detect
        self.load = load
        self.aliases = tuple(aliases)
        self.binary = binary


class Content:
    """A file's bytes, decoded as text and JSON once, when a format asks.
    kind: the format forced by the user, for the decoding error's message."""

    def __init__(self, data, source="the input", kind=None):
        self.data = data
        self.source = source
        self.kind = kind
        self._text = self._json = None

    @property
    def text(self):
        if self._text is None:
            self._text = decode_text(self.data, self.source, self.kind)
        return self._text

    @property
    def json(self):
        if self._json is None:
            self._json = parse_json(self.text, self.source)
        return self._json


def decode_text(data, source, kind):
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError:
        if kind:
            raise FormatError("%s is not UTF-8 text, so it is not %s" % (source, kind)) \
                from None
        raise FormatError("%s is neither an image nor text (not a format this tool reads)"
                          % source) from None


def parse_json(text, source):
    if not isinstance(text, str):
        return text  # already parsed
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        # Position only: the document may hold secrets.
        raise FormatError("%s is corrupt JSON (%s at line %d column %d)"
                          % (source, e.msg, e.lineno, e.colno)) from None


def number(value):
    # JSON exporters sometimes write numbers as strings ("6").
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def account_from_fields(name, issuer, secret, kind, algorithm, digits, period, counter):
    """An Account from loosely typed JSON fields; ValueError says what is wrong."""
    kind = "TOTP" if kind is None else kind
    if not isinstance(kind, str) or kind.upper() not in ("TOTP", "HOTP", "STEAM"):
        raise ValueError("unknown type %r (the token knows TOTP, HOTP and STEAM)" % (kind,))
    kind = kind.lower()
    algorithm = "SHA1" if algorithm is None else algorithm
    if isinstance(algorithm, str):
        algorithm = algorithm.upper().replace("-", "")  # "SHA-256" means SHA256
    if algorithm == "MD5":
        raise ValueError(MD5_REASON)
    if secret is None or secret == "":
        raise ValueError("secret is empty")
    if not isinstance(secret, str):
        raise ValueError("secret must be base32 text")
    account = Account(name=name, issuer=issuer, secret=parse_base32(secret), kind=kind,
                      algorithm=algorithm)
    if kind == "steam":
        account.digits = STEAM_DIGITS  # always 5 characters, whatever the file says
    elif digits is not None:
        account.digits = number(digits)
    if period is not None:
        account.period = number(period)
    if kind == "hotp" and counter is not None:
        account.counter = number(counter)
    return account


def text_field(value):
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def split_issuer(issuer, name):
    # "Issuer:account" in the name field, as some apps store the scanned label.
    if not issuer and isinstance(name, str) and ":" in name:
        issuer, name = (part.strip() for part in name.split(":", 1))
    return issuer, name


def add_entry(parsed, number, issuer, name, build):
    where = "entry %d" % number
    if isinstance(name, str) and isinstance(issuer, str):
        label = "%s:%s" % (issuer, name) if issuer and name else (name or issuer or where)
    else:
        label = where
    try:
        account = build()
    except ValueError as e:
        parsed.rejected.append((label, str(e)))
        return
    admit(parsed, account, label)
