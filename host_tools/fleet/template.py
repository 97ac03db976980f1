"""What every token of a fleet gets: the accounts of a template, named
from patterns, with secrets made on this computer.

    Template(issuer="Contoso", name="{user}")                  one account each
    Template(issuer="Contoso {account}", name="{local}",
             accounts=("vpn", "mail"))                         two; a person's
                                                               accounts column
                                                               picks among them

Patterns take {user} (the user principal name or id), {local} (the user
before any '@'), {display_name} and {account} (the account's key). Each
person's accounts are checked against the token's rules (names and issuers
of 1-40 bytes, one request line) before any token is touched.
"""
import dataclasses
import re
import secrets
import string

from firmware import rules
from host_tools.batching import batches, check_fits, compact_args
from host_tools.errors import TokenError, UsageError
from host_tools.formats.otpauth import Account

PLACEHOLDERS = ("user", "local", "display_name", "account")
# Secrets as long as the hash's output (RFC 4226 recommends 160 bits for SHA-1).
SECRET_BYTES = {"SHA1": 20, "SHA256": 32, "SHA512": 64}
KINDS = ("totp", "hotp")  # what MFA servers take
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def _fail(message, code="bad_template"):
    raise UsageError(message, code)


def _fields(pattern, what):
    try:
        names = [f for _, f, spec, conv in string.Formatter().parse(pattern) if f is not None]
        bad = [f for _, f, spec, conv in string.Formatter().parse(pattern)
               if f is not None and (spec or conv)]
    except ValueError as e:
        _fail("%s %r: %s (a literal brace is {{ or }})" % (what, pattern, e))
    for name in names:
        if name not in PLACEHOLDERS:
            _fail("%s %r: unknown {%s} (patterns take %s)" % (
                what, pattern, name, ", ".join("{%s}" % p for p in PLACEHOLDERS)))
    if bad:
        _fail("%s %r: placeholders take no format spec" % (what, pattern))
    return set(names)


@dataclasses.dataclass(frozen=True)
class Template:
    issuer: str = ""
    name: str = "{user}"
    kind: str = "totp"
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    counter: int = 0
    accounts: tuple = ()  # account keys; (): one account, {account} empty

    def check(self):
        """UsageError unless the template itself is sound (each person's
        accounts are checked by plan())."""
        if self.kind not in KINDS:
            _fail("a fleet's tokens get TOTP or HOTP accounts, not %r" % (self.kind,))
        used = _fields(self.issuer, "the issuer") | _fields(self.name, "the name pattern")
        for key in self.accounts:
            if not _KEY.match(key):
                _fail("account key %r: 1-32 letters, digits, '_', '.' or '-'" % (key,))
        if len(set(self.accounts)) != len(self.accounts):
            _fail("an account key is listed twice")
        if len(self.accounts) > 1 and "account" not in used:
            _fail("%d accounts per token need {account} in the issuer or the name pattern, "
                  "or they would all be called the same" % len(self.accounts))
        if len(self.accounts) > rules.ADD_MANY:
            _fail("at most %d accounts per token in a fleet" % rules.ADD_MANY)
        try:
            self.account("x", "x", b"\0" * self.secret_bytes).validate()
        except ValueError as e:
            _fail(str(e))
        return self

    @property
    def secret_bytes(self):
        return SECRET_BYTES.get(self.algorithm, 20)

    @property
    def most_accounts(self):
        return max(1, len(self.accounts))

    def as_dict(self):
        """As the journal keeps it (JSON: lists, not tuples)."""
        return dict(dataclasses.asdict(self), accounts=list(self.accounts))

    def keys_for(self, person):
        """The account keys `person` gets, in the template's order."""
        if not self.accounts:
            if person.accounts:
                _fail("%s (line %d) names accounts, but the template has none: list them "
                      "with --accounts" % (person.user, person.line))
            return ("",)
        if not person.accounts:
            return self.accounts
        unknown = [k for k in person.accounts if k not in self.accounts]
        if unknown:
            _fail("%s (line %d): account %r is not one of the template's (%s)"
                  % (person.user, person.line, unknown[0], ", ".join(self.accounts)))
        return tuple(k for k in self.accounts if k in person.accounts)

    def labels(self, person, keys=None):
        """[(key, issuer, name)] of the accounts `person` gets."""
        values = {"user": person.user, "local": person.user.split("@", 1)[0],
                  "display_name": person.display_name}
        out = []
        for key in self.keys_for(person) if keys is None else keys:
            values["account"] = key
            out.append((key, self.issuer.format(**values).strip(),
                        self.name.format(**values).strip()))
        return out

    def account(self, issuer, name, secret):
        return Account(name=name, issuer=issuer, secret=secret, kind=self.kind,
                       algorithm=self.algorithm, digits=self.digits, period=self.period,
                       counter=self.counter)

    def plan(self, person, keys=None):
        """[(key, Account)] for `person`, each with a fresh secret from this
        computer's CSPRNG."""
        return [(key, self.account(issuer, name, secrets.token_bytes(self.secret_bytes)))
                for key, issuer, name in self.labels(person, keys)]

    def check_person(self, person):
        """UsageError unless the token can take `person`'s accounts."""
        labels = self.labels(person)
        where = "%s (line %d)" % (person.user, person.line)
        if len({(i, n) for _, i, n in labels}) != len(labels):
            _fail("%s: two accounts get the same issuer and name" % where)
        accounts = []
        for key, issuer, name in labels:
            account = self.account(issuer, name, b"\0" * self.secret_bytes)
            try:
                account.validate()
            except ValueError as e:
                hint = " (a shorter pattern, e.g. {local}?)" if "bytes" in str(e) else ""
                _fail("%s: %s%s" % (where, e, hint))
            accounts.append(account)
        try:
            for batch in batches(accounts):
                check_fits("add-many", {"accounts": [compact_args(a) for a in batch]})
        except TokenError as e:
            _fail("%s: %s" % (where, e.message))
        return labels
