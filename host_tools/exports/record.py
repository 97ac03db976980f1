"""One account of one token, as an MFA server is told of it (Record), and
the checks every export makes before it writes a byte.

A Record's `serial` is the token's serial number (firmware/rules.py); its
`credential` is the name the server will know this account by: the serial
itself for a token's only (or first) account, the serial and -2, -3, ...
for further accounts on the same token (number_credentials), since a
server keys each OATH credential by one serial. The account's own rules
are the token's (otpauth.Account.validate). The secret never appears in a
repr or a message.
"""
import dataclasses

from host_tools.errors import ExportError
from host_tools.formats.otpauth import Account

MANUFACTURER = "totp-token"
MODEL = "totp-token"
EXPORT_KINDS = ("totp", "hotp")  # what MFA servers take (no Steam)
# What a server takes in a serial number: letters, digits, - _ . (no
# separator of any of the formats, nothing to misread).
_SERIAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
MAX_SERIAL = 64


@dataclasses.dataclass(frozen=True)
class Record:
    serial: str                 # the token's serial number
    user: str                   # who gets it: a user principal name or user id
    name: str                   # the account's name on the token
    issuer: str
    kind: str                   # "totp" or "hotp"
    algorithm: str              # "SHA1", "SHA256" or "SHA512"
    digits: int
    secret: bytes = dataclasses.field(repr=False)
    period: int = 30            # TOTP
    counter: int = 0            # HOTP: the next counter value the token will use
    credential: str = ""        # the server's name for it; "" = the serial
    manufacturer: str = MANUFACTURER
    model: str = MODEL

    @property
    def credential_id(self):
        return self.credential or self.serial

    @property
    def label(self):
        """How messages name it: never by its secret."""
        return "%s (%s)" % (self.credential_id, self.name)

    def account(self):
        return Account(name=self.name, issuer=self.issuer, secret=self.secret, kind=self.kind,
                       algorithm=self.algorithm, digits=self.digits, period=self.period,
                       counter=self.counter)


def number_credentials(records):
    """The records with credential ids set: a token's first account keeps
    the serial, the next ones get SERIAL-2, SERIAL-3, ... in order."""
    seen = {}
    out = []
    for r in records:
        n = seen[r.serial] = seen.get(r.serial, 0) + 1
        out.append(dataclasses.replace(r, credential=r.serial if n == 1 else
                                       "%s-%d" % (r.serial, n)))
    return out


def template_problem(kind, algorithm, digits, period=30):
    """Why no export for an MFA server can carry accounts of these settings
    (the token's rules, and TOTP or HOTP), or None."""
    if kind not in EXPORT_KINDS:
        return "%s accounts can't go to an MFA server (TOTP or HOTP only)" % (kind,)
    try:
        Account(name="x", secret=b"x", kind=kind, algorithm=algorithm, digits=digits,
                period=period).validate()
    except ValueError as e:
        return str(e)
    return None


def serial_problem(text, what):
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_SERIAL \
            or not set(text) <= _SERIAL_CHARS:
        return "%s must be 1-%d letters, digits, '-', '_' or '.'" % (what, MAX_SERIAL)
    return None


def check_records(records, problem=None, template=None):
    """The records as a list, or ExportError unless every one can be
    exported: the token's account rules, TOTP or HOTP, printable serials,
    each credential id once. A format adds its own rules: template(record)
    for settings it can't carry (code "unsupported_template"), problem(record)
    for the rest (both give a reason, or None). Messages name the record,
    never its secret."""
    records = list(records)
    if not records:
        raise ExportError("nothing to export: no records", "nothing_to_export")
    seen = set()
    for r in records:
        if not isinstance(r, Record):
            raise ExportError("export records must be exports.Record objects", "bad_records")
        why = (template_problem(r.kind, r.algorithm, r.digits, r.period)
               or (template and template(r)))
        if why:
            raise ExportError("cannot export %s: %s" % (_safe_label(r), why),
                              "unsupported_template")
        why = (serial_problem(r.serial, "the serial number")
               or serial_problem(r.credential_id, "the credential id")
               or _account_problem(r) or _text_problem(r) or (problem and problem(r)))
        if why:
            raise ExportError("cannot export %s: %s" % (_safe_label(r), why), "bad_records")
        if r.credential_id in seen:
            raise ExportError(
                "two accounts are both %s: the server keys each by its serial, so further "
                "accounts on one token need their own (number_credentials)"
                % r.credential_id, "duplicate_serial")
        seen.add(r.credential_id)
    return records


def _account_problem(r):
    try:
        r.account().validate()
    except ValueError as e:
        return str(e)
    return None


def _safe_label(r):
    # The label of a record whose serial may be what is wrong with it.
    if serial_problem(r.credential_id, ""):
        return "the account %r" % (r.name,)
    return r.label


def _text_problem(r):
    for value, what in ((r.user, "the user"), (r.manufacturer, "the manufacturer"),
                        (r.model, "the model")):
        if not isinstance(value, str):
            return "%s must be text" % what
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
            return "%s contains a control character" % what
    return None
