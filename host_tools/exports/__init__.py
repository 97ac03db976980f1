"""What an MFA server gets: the accounts a fleet of tokens was given, as
a file its importer reads. One module per format, behind one registry:

  pskc             RFC 6030 PSKC, encrypted (pre-shared AES key or PBKDF2
                   password), or plaintext on request (pskcfile.py)
  entra            Microsoft Entra ID's hardware OATH token CSV (entra.py)
  privacyidea-csv  privacyIDEA's OATH CSV (privacyidea.py)

Every writer takes a list of record.Record, checks all of them before it
writes anything (ExportError says what is wrong, never with a secret), and
writes the file whole or not at all, mode 0600 (output.save). The CSV
formats hold the secrets in the clear by nature: their writers refuse
unless the caller passes plaintext=True.

    records = number_credentials([Record(...), ...])
    check_template("entra", "totp", "SHA1", 6, 30)   # None, or why not
    check("entra", records)                          # what write would refuse
    write("pskc", "fleet.pskc", records, psk=new_psk())
    readback.secrets_in("pskc", "fleet.pskc", psk=...)  # {credential id: secret}
"""
from host_tools.errors import ExportError
from host_tools.exports import entra, privacyidea, pskcfile, readback  # noqa: F401
from host_tools.exports.record import (MANUFACTURER, MODEL, Record,  # noqa: F401
                                       number_credentials)
from host_tools.exports.record import template_problem as _any_problem
from host_tools.exports.pskcfile import new_psk  # noqa: F401

WRITERS = {"pskc": pskcfile.write, "entra": entra.write, "privacyidea-csv": privacyidea.write}
_CHECKS = {"pskc": pskcfile.check, "entra": entra.check, "privacyidea-csv": privacyidea.check}
KINDS = tuple(WRITERS)
PLAINTEXT_ONLY = ("entra", "privacyidea-csv")  # no encrypted form exists
_TEMPLATE_RULES = {"pskc": _any_problem, "entra": entra.template_problem,
                   "privacyidea-csv": privacyidea.template_problem}


def _kind(kind):
    if kind not in WRITERS:
        raise ExportError("unknown export format %r (choose from %s)"
                          % (kind, ", ".join(KINDS)), "bad_export")
    return kind


def check_template(kind, otp_kind, algorithm, digits, period=30):
    """Why export format `kind` can't carry accounts with these settings
    (a reason to show before any token is provisioned), or None."""
    return _TEMPLATE_RULES[_kind(kind)](otp_kind, algorithm, digits, period)


def check(kind, records):
    """The records as a list, or the ExportError write() would raise for
    them in format `kind`; nothing is written."""
    return _CHECKS[_kind(kind)](records)


def write(kind, path, records, **options):
    """Write `records` to `path` in format `kind` (KINDS); options as the
    format's writer takes them (psk=, password=, plaintext=, overwrite=).
    Returns a summary dict: format, path, records, protection, bytes."""
    return WRITERS[_kind(kind)](path, records, **options)
