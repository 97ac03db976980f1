"""Accounts as a user brings them: base32 secrets and otpauth:// key URIs,
parsed (Account.from_uri) and built (to_uri) here, together.

Pure data and parsing, no I/O. Error messages never contain the secret (nor
the URI, which carries it), because they end up on terminals and in logs.
"""
import base64
import dataclasses
import re
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from firmware import rules

# The token's rules, defined once in firmware/rules.py.
KINDS = rules.KINDS
ALGORITHMS = rules.ALGORITHMS
MAX_NAME = rules.MAX_TEXT  # bytes of UTF-8, the token's fixed slot size
MAX_ISSUER = rules.MAX_TEXT
MAX_SECRET = rules.MAX_SECRET
MIN_PERIOD = rules.MIN_PERIOD
MAX_PERIOD = rules.MAX_PERIOD
MAX_COUNTER = rules.MAX_COUNTER
STEAM_DIGITS = rules.STEAM_DIGITS

_B32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# Parameters a key URI may carry; only these names are ever repeated back.
_KNOWN_PARAMS = ("secret", "issuer", "algorithm", "digits", "period", "counter", "encoder",
                 "image", "color")
# A value this short is no secret worth the name (5 bytes at most), and
# echoing it ("six", "MD5", "motp") helps; anything longer is never echoed.
_ECHO_MAX = 8
# The shortest secret text (10 bytes in base32) looked for inside a label.
_SECRET_TEXT_MIN = 16


def parse_base32(text):
    """Decode a base32 secret as people paste it: any case, spaces anywhere,
    '=' padding present or missing. Raises ValueError naming only positions."""
    chars = []
    for pos, ch in enumerate(text, 1):
        if ch != " ":
            chars.append((pos, ch.upper()))
    while chars and chars[-1][1] == "=":
        chars.pop()
    if not chars:
        raise ValueError("secret is empty")
    for pos, ch in chars:
        if ch not in _B32_ALPHABET:
            # Position only: even one character of a secret is not ours to print.
            raise ValueError(
                "secret is not valid base32 (character %d is not A-Z or 2-7)" % pos)
    body = "".join(ch for _, ch in chars)
    if len(body) % 8 in (1, 3, 6):
        raise ValueError(
            "secret is not valid base32 (%d characters do not make whole bytes; "
            "is part of it missing?)" % len(body))
    return base64.b32decode(body + "=" * (-len(body) % 8))


@dataclasses.dataclass
class Account:
    name: str
    # repr=False: an Account printed while debugging must not show the key.
    secret: bytes = dataclasses.field(default=b"", repr=False)
    # The defaults are the token's own (firmware/rules.py ADD_DEFAULTS).
    issuer: str = rules.ADD_DEFAULTS["issuer"]
    kind: str = rules.ADD_DEFAULTS["kind"]
    algorithm: str = rules.ADD_DEFAULTS["algorithm"]
    digits: int = None  # None: the kind's usual length (rules.default_digits)
    period: int = rules.ADD_DEFAULTS["period"]
    counter: int = rules.ADD_DEFAULTS["counter"]
    # First on the button (`favourite`); kept in the backup as Aegis's
    # "favorite". Not part of what makes two accounts the same one.
    favourite: bool = dataclasses.field(default=False, compare=False)

    def __post_init__(self):
        if self.digits is None:
            self.digits = rules.default_digits(self.kind)

    @property
    def label(self):
        return "%s:%s" % (self.issuer, self.name) if self.issuer else self.name

    @classmethod
    def from_uri(cls, uri):
        """Parse otpauth://TYPE/LABEL?secret=...; the Key Uri Format of Google Authenticator's wiki.

        Raises ValueError for a malformed URI. Field limits are checked by
        validate(), so a caller may still rename before validating."""
        try:
            return cls._from_uri(uri)
        except ValueError as e:
            # The messages below echo only short, known parts; this is the net
            # under them: no form of anything given as a secret gets through.
            raise ValueError(scrub(str(e), uri)) from None

    @classmethod
    def _from_uri(cls, uri):
        parts = urlsplit(uri.strip())
        if parts.scheme.lower() != "otpauth":
            raise ValueError("not an otpauth:// URI")
        kind = parts.netloc.lower()
        if kind not in KINDS:
            # The part after otpauth:// may be a pasted secret: echoed only when short.
            raise ValueError("otpauth URI type must be totp, hotp or steam%s"
                             % _not(parts.netloc))
        params = _query(parts.query)
        path = unquote(parts.path.lstrip("/"))
        if "secret=" in path.lower() or "secret=" in parts.fragment.lower():
            raise ValueError("the URI's label holds 'secret=': is its '?' missing, or "
                             "encoded as %3F?")
        label_issuer, name = _split_label(path)
        issuer = params.get("issuer", "").strip()
        if "secret" not in params:
            raise ValueError("the URI has no secret= parameter")
        secret = parse_base32(params["secret"])
        for text in (label_issuer, name, issuer):
            if holds_secret(text, secret):
                raise ValueError("the URI's label or issuer holds the secret itself")
        if label_issuer and issuer and label_issuer != issuer:
            raise ValueError("the URI's label says issuer %r but issuer= says %r"
                             % (label_issuer, issuer))
        issuer = issuer or label_issuer
        algorithm = params.get("algorithm", "SHA1").upper()
        if algorithm not in ALGORITHMS + ("MD5",):  # MD5 gets its own reason later
            raise ValueError("algorithm must be SHA1, SHA256 or SHA512%s"
                             % _not(params["algorithm"]))
        account = cls(name=name, issuer=issuer, secret=secret, kind=kind, algorithm=algorithm)
        if kind == "totp" and (params.get("encoder", "").lower() == "steam"
                               or issuer.lower() == "steam"):
            account.kind = "steam"
        if account.kind == "steam":
            account.digits = STEAM_DIGITS  # Steam codes are always 5 characters
        elif "digits" in params:
            account.digits = _uri_int(params, "digits")
        if "period" in params:
            account.period = _uri_int(params, "period")
            if account.kind == "steam" and account.period != 30:
                raise ValueError("Steam codes use a 30-second period, not %d" % account.period)
        if kind == "hotp":
            if "counter" not in params:
                raise ValueError("an hotp URI needs a counter= parameter")
            account.counter = _uri_int(params, "counter")
        return account

    def validate(self):
        """Check every field against what the token accepts; ValueError if not."""
        _check_text("name", self.name, 1, MAX_NAME)
        _check_text("issuer", self.issuer, 0, MAX_ISSUER)
        if not isinstance(self.secret, (bytes, bytearray)):
            raise ValueError("secret must be bytes")
        if not self.secret:
            raise ValueError("secret is empty")
        # A label is shown everywhere (screen, list, reports): never the key.
        if holds_secret(self.name, self.secret) or holds_secret(self.issuer, self.secret):
            raise ValueError("the name or issuer holds the secret itself")
        if len(self.secret) > MAX_SECRET:
            raise ValueError("secret is too long: %d bytes, the token holds at most %d"
                             % (len(self.secret), MAX_SECRET))
        if self.kind not in KINDS:
            raise ValueError("kind must be totp, hotp or steam, not %r" % (self.kind,))
        if self.algorithm not in ALGORITHMS:
            raise ValueError("algorithm must be SHA1, SHA256 or SHA512, not %r"
                             % (self.algorithm,))
        lo, hi = rules.digits_range(self.kind)
        if self.kind == "steam":
            if self.digits != STEAM_DIGITS:
                raise ValueError("steam codes have 5 characters, not %r" % (self.digits,))
        else:
            allowed = [str(d) for d in range(lo, hi + 1)]
            _check_int("digits", self.digits, lo, hi,
                       " or ".join((", ".join(allowed[:-1]), allowed[-1])))
        if self.kind == "hotp":
            _check_int("counter", self.counter, 0, MAX_COUNTER, "0 to 2**63-1")
        else:
            _check_int("period", self.period, MIN_PERIOD, MAX_PERIOD,
                       "%d to %d seconds" % (MIN_PERIOD, MAX_PERIOD))

    def to_args(self):
        """The arguments of the protocol's `add` (docs/protocol.md); validates first
        so nothing invalid reaches the wire."""
        self.validate()
        # The names as the token will store them (a surrogate pair joined).
        args = {"name": rules.check_text(self.name, "name", 1).decode(),
                "issuer": rules.check_text(self.issuer, "issuer", 0).decode(),
                "secret": bytes(self.secret).hex(),
                "kind": self.kind, "algorithm": self.algorithm, "digits": self.digits}
        if self.kind == "hotp":
            args["counter"] = self.counter
        else:
            args["period"] = self.period
        return args


def to_uri(account):
    """The otpauth:// URI that Account.from_uri reads back as this account."""
    kind = "hotp" if account.kind == "hotp" else "totp"
    if account.issuer and ":" not in account.issuer:
        label = quote(account.issuer, safe="") + ":" + quote(account.name, safe="")
    elif ":" in account.name:
        # A bare "a:b" would read as issuer a; the empty issuer keeps it a name.
        label = ":" + quote(account.name, safe="")
    else:
        label = quote(account.name, safe="")
    params = {"secret": base64.b32encode(bytes(account.secret)).decode().rstrip("=")}
    if account.issuer:
        params["issuer"] = account.issuer
    params["algorithm"] = account.algorithm
    params["digits"] = account.digits
    if account.kind == "hotp":
        params["counter"] = account.counter
    else:
        params["period"] = account.period
    if account.kind == "steam":
        params["encoder"] = "steam"
    return "otpauth://%s/%s?%s" % (kind, label, urlencode(params, quote_via=quote))


def secret_forms(secret):
    """The texts a secret is written as: base32 (with and without padding) and
    hex, upper case; compare against upper-cased text."""
    raw = bytes(secret)
    b32 = base64.b32encode(raw).decode("ascii")
    return {b32, b32.rstrip("="), raw.hex().upper()}


def holds_secret(text, secret):
    """Whether text contains the secret written out (base32 or hex, any case)."""
    if not isinstance(text, str) or not isinstance(secret, (bytes, bytearray)):
        return False
    folded = text.upper().replace(" ", "")
    return any(len(form) >= _SECRET_TEXT_MIN and form in folded
               for form in secret_forms(secret))


_SECRET_VALUE = re.compile(r"secret\s*=\s*([^&?#/\s]*)", re.IGNORECASE)


def scrub(message, uri):
    """message with every form of every secret= value in uri cut out: the last
    guard before text about a malformed URI is shown."""
    text = uri
    for _ in range(3):  # %253F is %3F is ?
        text = unquote(text)
    for value in _SECRET_VALUE.findall(text):
        forms = {value, value.rstrip("=")}
        try:
            forms |= secret_forms(parse_base32(value))
        except ValueError:
            pass
        for form in sorted(forms, key=len, reverse=True):
            if len(form) >= _ECHO_MAX:
                message = re.sub(re.escape(form), "<hidden>", message, flags=re.IGNORECASE)
    return message


def _not(value):
    """", not 'value'" for a short value, else nothing: a long one may be a secret."""
    if isinstance(value, str) and len(value) <= _ECHO_MAX and value.isprintable():
        return ", not %r" % value
    return ""


def _query(query):
    params = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        key = key.lower()
        # SECRET= after secret= would otherwise silently win.
        if len(values) > 1 or key in params:
            raise ValueError("the URI gives %s more than once"
                             % (key + "=" if key in _KNOWN_PARAMS else "a parameter"))
        params[key] = values[0]
    return params


def _split_label(label):
    # Decoded before splitting, so an encoded %3A separates issuer and name too.
    if ":" in label:
        issuer, name = label.split(":", 1)
        return issuer.strip(), name.strip()
    return "", label.strip()


def _uri_int(params, key):
    value = params[key].strip()
    if not (value.isascii() and value.isdigit()):
        raise ValueError("%s= must be a whole number%s" % (key, _not(params[key])))
    if len(value) > 20:  # past any limit; and a long number may be a secret
        raise ValueError("%s= is far too large" % key)
    return int(value)


def _check_text(field, text, lo, hi):
    # The token's own rule (firmware/rules.py), with a friendlier size message.
    if isinstance(text, str):
        if lo and not text:
            raise ValueError("%s is empty" % field)
        exact = not any("\ud800" <= ch <= "\udfff" for ch in text)
        size = len(text.encode("utf-8", "surrogatepass"))
        if exact and size > hi:
            raise ValueError("%s is too long: %d bytes in UTF-8, the token holds at most %d"
                             % (field, size, hi))
    rules.check_text(text, field, lo, hi)


def _check_int(field, value, lo, hi, allowed):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        shown = repr(value)  # short ones only: a long number may be a secret's digits
        raise ValueError("%s must be %s%s" % (field, allowed, ", not " + shown
                                              if len(shown) <= _ECHO_MAX + 2 else ""))
