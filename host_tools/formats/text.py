"""The text format: otpauth:// and otpauth-migration:// URIs, one per line.

A URI is parsed by otpauth.py (otpauth://) or migration.py (Google
Authenticator's otpauth-migration://); add_decoded() sends each to the right
one, for QR images too. Never echoes a line: it may be a pasted secret.
"""
import re
from urllib.parse import unquote, urlsplit

from host_tools.errors import FormatError
from host_tools.formats.base import Format, Parsed, admit
from host_tools.formats.migration import combine_batches, parse_migration_uri
from host_tools.formats.otpauth import Account, scrub

NOT_A_URI = "not an otpauth:// or otpauth-migration:// URI"


def _uri_label(uri):
    """The label (the path) of a URI that failed to parse, to name it in the
    report; "" when it can't be shown: a mangled URI ("...&secret=", "%3Fsecret=")
    can carry the secret in its path."""
    try:
        label = unquote(urlsplit(uri).path.lstrip("/")).strip()
    except ValueError:
        return ""
    if ("secret" in label.lower() or scrub(label, uri) != label or not label.isprintable()
            or _KEYLIKE.search(label)):
        return ""
    return label


# 16 or more base32 or hex characters in a row: in a URI that failed, as good
# as a pasted key ("otpauth:///<key>?..."), so the label is not shown.
_KEYLIKE = re.compile(r"[A-Za-z2-7=]{16,}|[0-9A-Fa-f]{16,}")


def _add_uri(parsed, uri, label):
    try:
        account = Account.from_uri(uri)
    except ValueError as e:
        name = _uri_label(uri)
        parsed.rejected.append(("%s (%s)" % (label, name) if name else label, str(e)))
        return
    admit(parsed, account, "%s (%s)" % (label, account.label) if account.label else label)


def add_decoded(parsed, batches, text, label, context):
    """One URI from a line or a QR code; False if it is not an otpauth URI.
    label names a rejected entry ("line 3"); context prefixes a FormatError."""
    scheme = text.split(":", 1)[0].lower()
    if scheme == "otpauth-migration":
        try:
            batches.append(parse_migration_uri(text))
        except FormatError as e:
            raise FormatError("%s: %s" % (context, e)) from None
    elif scheme == "otpauth":
        _add_uri(parsed, text, label)
    else:
        return False
    return True


def from_text(text, source="the input"):
    """otpauth:// and otpauth-migration:// URIs, one per line; blank lines and
    # comments are skipped. The parts of a Google Authenticator export are
    joined, and its accounts follow the otpauth:// ones."""
    parsed, batches, found = Parsed(), [], 0
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        label = "line %d" % number
        if add_decoded(parsed, batches, line, label, "%s %s" % (source, label)):
            found += 1
        else:
            # Never echo the line: it may be a pasted secret.
            parsed.rejected.append((label, NOT_A_URI))
    if not found:
        raise FormatError("no otpauth:// or otpauth-migration:// URI found in %s" % source)
    return parsed.extend(combine_batches(batches))


def _load(content, password=None):
    return from_text(content.text, content.source)


# Anything that is not JSON is read as URI lines: detected last.
FORMAT = Format("text", lambda content: content.text.lstrip()[:1] not in ("{", "["), _load,
                aliases=("uri", "otpauth", "migration", "google"))
