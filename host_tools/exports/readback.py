"""An export read back: the secrets a file that exports.write wrote holds,
by credential id. `provision.py fleet` keeps a finished token's secrets
nowhere else, so a run that goes on after an interruption reads them here
before it writes the file again with more tokens in it.

Errors are ExportError, never with a secret: `cannot_read`, `bad_password`
(a PSKC file the password or pre-shared key does not open), `bad_export_file`
(not what the writer writes).
"""
import base64
import csv
import io

from host_tools.errors import ExportError, FormatError, PasswordError
from host_tools.exports import entra
from host_tools.formats.pskcfile import opened


def secrets_in(kind, path, psk=None, password=None):
    """{credential id: secret bytes} of the export `path` in format `kind`.
    psk: the PSKC pre-shared key's hex digits; password: its PBKDF2 password."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ExportError("cannot read %s: %s" % (path, e.strerror or e), "cannot_read") from None
    try:
        if kind == "pskc":
            return _pskc(data, psk if psk is not None else password, path)
        text = data.decode("utf-8")
        return _entra(text) if kind == "entra" else _oath_csv(text)
    except PasswordError as e:
        raise ExportError("%s: %s" % (path, e), "bad_password") from None
    except (FormatError, UnicodeDecodeError, ValueError) as e:
        raise ExportError("%s is not an export this tool wrote (%s)"
                          % (path, e if isinstance(e, FormatError) else type(e).__name__),
                          "bad_export_file") from None


def _pskc(data, password, path):
    doc = opened(data, password, path)
    return {key.serial or key.id: bytes(key.secret) for key in doc.keys}


def _entra(text):
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != entra.HEADER:
        raise FormatError("its first line is not Entra's header")
    out = {}
    for row in rows[1:]:
        if row:
            secret = row[2] + "=" * (-len(row[2]) % 8)
            out[row[1]] = base64.b32decode(secret)
    return out


def _oath_csv(text):
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            out[fields[0]] = bytes.fromhex(fields[1])
    return out
