"""The import formats, behind one registry: `provision.py import` reads
whatever FORMATS can detect. A new format is one module with a FORMAT
(base.Format: detect and load) and one line in FORMATS.

  text      otpauth:// and otpauth-migration:// URIs, one per line (text.py,
            otpauth.py, migration.py)
  image     screenshots or photos of QR codes (image.py)
  aegis     Aegis vault JSON, plain or encrypted (aegis.py)
  2fas      2FAS backup JSON, plain or encrypted (twofas.py)
  andotp    andOTP plain JSON backup (andotp.py)
  pskc      RFC 6030 PSKC key containers (a token vendor's seed file), plain
            or encrypted with a password or a pre-shared key (pskcfile.py)

Each load returns a base.Parsed: validated accounts plus (label, reason) for
entries the token can't hold. Malformed input raises FormatError, a missing
or wrong password PasswordError. No message ever contains a secret.
"""
import os

from host_tools.errors import FormatError
from host_tools.formats import aegis, andotp, image, pskcfile, text, twofas
from host_tools.formats.base import Content

# In the order --format lists them; detection tries the binary ones first.
FORMATS = (text.FORMAT, image.FORMAT, aegis.FORMAT, twofas.FORMAT, andotp.FORMAT,
           pskcfile.FORMAT)
KINDS = tuple(f.kind for f in FORMATS)
# Names a user might type for --format, as well as the kinds themselves.
_BY_NAME = {name: f for f in FORMATS for name in (f.kind,) + f.aliases}
_DETECT_ORDER = tuple(f for f in FORMATS if f.binary) + tuple(f for f in FORMATS
                                                               if not f.binary)


def load(path_or_text, password=None, kind=None):
    """Import accounts from a file path, from text, or from the bytes of a file.

    A str is taken as text when it already looks like content (an otpauth URI,
    JSON, several lines), otherwise as a path. kind (see KINDS) forces a
    format; by default it is detected from the content, not the file name."""
    data, source = _read(path_or_text)
    if kind is None:
        fmt = _detect(Content(data, source))
    else:
        fmt = _BY_NAME.get(kind.lower())
        if fmt is None:
            raise FormatError("unknown import format %r (choose from %s)"
                              % (kind.lower(), ", ".join(KINDS)))
    return fmt.load(Content(data, source, None if kind is None else fmt.kind), password)


def _read(path_or_text):
    if isinstance(path_or_text, (bytes, bytearray)):
        return bytes(path_or_text), "the input"
    if isinstance(path_or_text, str):
        head = path_or_text.lstrip()[:20].lower()
        if ("\n" in path_or_text or head[:1] in ("{", "[")
                or head.startswith(("otpauth:", "otpauth-migration:"))):
            return path_or_text.encode("utf-8"), "the input"
    path = os.fspath(path_or_text)
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except OSError as e:
        raise FormatError("cannot read %s: %s" % (path, e.strerror or e)) from None


def detect(data, source="the input"):
    """The format of a file's bytes, one of KINDS."""
    return _detect(Content(data, source)).kind


def _detect(content):
    for fmt in _DETECT_ORDER:
        if fmt.detect(content):
            return fmt
    raise FormatError("%s is JSON but not an Aegis vault, 2FAS backup or andOTP backup"
                      % content.source)
