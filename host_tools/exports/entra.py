"""Microsoft Entra ID's CSV of hardware OATH tokens (Entra admin center,
Multifactor authentication, OATH tokens, Upload):

    upn,serial number,secret key,time interval,manufacturer,model
    helga@contoso.com,TT8P8VEHB84E,JBSWY3DPEHPK3PXP...,30,totp-token,rpi_pico

The secret in Base32 (A-Z, 2-7, no padding, at most 128 characters), the
period 30 or 60 seconds. Entra takes TOTP with HMAC-SHA1 and 6 digits
only, so any other template is refused, before a token is provisioned
(template_problem) and again before the file is written. The file is
plaintext by nature: written only with the caller's explicit consent.
"""
import base64

from host_tools.exports.output import csv_problem, write_plaintext
from host_tools.exports.record import check_records

HEADER = ("upn", "serial number", "secret key", "time interval", "manufacturer", "model")
PERIODS = (30, 60)
MAX_SECRET_CHARS = 128


def template_problem(kind, algorithm, digits, period=30):
    """Why Entra can't take accounts of these settings, or None."""
    if kind != "totp" or algorithm != "SHA1" or digits != 6 or period not in PERIODS:
        return ("Microsoft Entra takes only TOTP, SHA1, 6 digits, every 30 or 60 seconds "
                "(not %s, %s, %s digits%s): use the PSKC or privacyIDEA export instead"
                % (kind.upper() if isinstance(kind, str) else kind, algorithm, digits,
                   ", every %s seconds" % period if kind == "totp" else ""))
    return None


def _template(r):
    return template_problem(r.kind, r.algorithm, r.digits, r.period)


def _problem(r):
    if not r.user:
        return "Entra needs the user's principal name (upn)"
    if len(_base32(r.secret)) > MAX_SECRET_CHARS:
        return "its secret is longer than Entra's %d Base32 characters" % MAX_SECRET_CHARS
    for value, what in ((r.user, "the upn"), (r.manufacturer, "the manufacturer"),
                        (r.model, "the model")):
        why = csv_problem(value, what)
        if why:
            return why
    return None


def _base32(secret):
    return base64.b32encode(bytes(secret)).decode("ascii").rstrip("=")


def check(records):
    """The records as a list, or ExportError unless Entra's CSV can hold
    every one of them (nothing is built or written)."""
    return check_records(records, _problem, _template)


def build(records):
    """The CSV (bytes, UTF-8, CRLF lines) for `records` (exports.Record)."""
    records = check(records)
    lines = [",".join(HEADER)]
    for r in records:
        lines.append(",".join((r.user, r.credential_id, _base32(r.secret), str(r.period),
                               r.manufacturer, r.model)))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def write(path, records, *, plaintext, overwrite=False):
    """Write the Entra CSV for `records` to `path` (mode 0600, whole or not
    at all). plaintext=True is the caller's consent to secrets in the clear
    on disk: it has no default, and anything but True refuses."""
    return write_plaintext(path, records, build, "entra", "the Entra CSV", plaintext, overwrite)
