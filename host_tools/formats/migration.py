"""Google Authenticator exports: otpauth-migration://offline?data=BASE64.

`data` is a protobuf MigrationPayload (Google Authenticator's export QR). Reading the
wire format takes a few dozen lines, so there is no protobuf dependency and no
generated code. A large export is split over several QR codes; parse each with
parse_migration_uri() and join them with combine_batches().

Error messages name the entry and the problem, never the data (it holds the
secrets).
"""
import base64
import binascii
from urllib.parse import unquote, urlsplit

from host_tools.errors import FormatError
from host_tools.formats.base import MD5_REASON, Parsed, admit
from host_tools.formats.otpauth import Account

WHAT = "Google Authenticator export"

# Wire types; 3 and 4 (groups) are long deprecated and never written by exporters.
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {_VARINT: "a number", _FIXED64: "a 64-bit value", _LEN: "bytes",
               _FIXED32: "a 32-bit value"}

_ALGORITHMS = {0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512"}
_DIGITS = {0: 6, 1: 6, 2: 8}
_TYPES = {0: "totp", 1: "hotp", 2: "totp"}
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _error(message):
    return FormatError("%s: %s" % (WHAT, message))


def _varint(buf, pos):
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise _error("the data is truncated (a number runs past the end)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            # Protobuf keeps the low 64 bits of an over-long varint.
            return value & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise _error("the data is corrupt (a number is longer than 10 bytes)")


def _fields(buf, where):
    """Yield (field number, wire type, value) of one message; value is an int
    for varints, bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _error("the data is corrupt (field number 0 in %s)" % where)
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        else:
            if wire == _LEN:
                size, pos = _varint(buf, pos)
            elif wire == _FIXED64:
                size = 8
            elif wire == _FIXED32:
                size = 4
            else:
                raise _error("the data is corrupt (wire type %d in %s is not one "
                             "protobuf exporters write)" % (wire, where))
            if pos + size > len(buf):
                raise _error("the data is truncated (%s ends early)" % where)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        yield number, wire, value


def _expect(wire, expected, field, where):
    # A known field with another wire type means we are not reading a MigrationPayload.
    if wire != expected:
        raise _error("the data is corrupt (%s of %s holds %s, expected %s)"
                     % (field, where, _WIRE_NAMES[wire], _WIRE_NAMES[expected]))


def _signed64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _decode_data(raw):
    """The payload bytes from the data= value as it appears in the URI."""
    # Percent-decoding only: here '+' is a base64 character, not a space.
    text = unquote(raw).strip()
    # Somebody decoded it as a form already and '+' became ' '.
    text = text.replace(" ", "+")
    # Some tools write the URL-safe alphabet; it maps one to one.
    text = text.replace("-", "+").replace("_", "/")
    text = text.rstrip("=")
    if not text:
        raise _error("data= is empty")
    for pos, ch in enumerate(text, 1):
        if ch not in _B64_ALPHABET:
            raise _error("data= is not valid base64 (character %d)" % pos)
    if len(text) % 4 == 1:
        raise _error("data= is not valid base64 (%d characters cannot be whole bytes; "
                     "was it cut off?)" % len(text))
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise _error("data= is not valid base64") from None


def _text(value, field, entry):
    try:
        return value.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("%s of entry %d is not valid UTF-8" % (field, entry)) from None


def _label(issuer, name, fallback):
    if name and issuer:
        return "%s:%s" % (issuer, name)
    return name or issuer or fallback


def _otp_parameters(buf, entry, parsed):
    where = "entry %d" % entry
    fields = {}
    for number, wire, value in _fields(buf, where):
        if number in (1, 2, 3):
            _expect(wire, _LEN, "field %d" % number, where)
        elif number in (4, 5, 6, 7):
            _expect(wire, _VARINT, "field %d" % number, where)
        fields[number] = value  # protobuf: the last occurrence wins
    try:
        name = _text(fields.get(2, b""), "name", entry)
        issuer = _text(fields.get(3, b""), "issuer", entry)
    except ValueError as e:
        parsed.rejected.append((where, str(e)))
        return
    if not issuer and ":" in name:
        issuer, name = (part.strip() for part in name.split(":", 1))
    elif issuer and name.startswith(issuer + ":"):
        # The app keeps the scanned label, which often repeats the issuer.
        name = name[len(issuer) + 1:].strip()
    label = _label(issuer, name, where)

    algorithm, digits, kind = fields.get(4, 0), fields.get(5, 0), fields.get(6, 0)
    if algorithm == 4:
        parsed.rejected.append((label, MD5_REASON))
        return
    if algorithm not in _ALGORITHMS:
        parsed.rejected.append((label, "unknown algorithm code %d" % algorithm))
        return
    if digits not in _DIGITS:
        parsed.rejected.append((label, "unknown digits code %d (expected 6 or 8 digits)"
                                % digits))
        return
    if kind not in _TYPES:
        parsed.rejected.append((label, "unknown OTP type code %d (expected TOTP or HOTP)"
                                % kind))
        return
    account = Account(name=name, issuer=issuer, secret=fields.get(1, b""),
                      kind=_TYPES[kind], algorithm=_ALGORITHMS[algorithm],
                      digits=_DIGITS[digits], period=30)
    if account.kind == "hotp":
        account.counter = _signed64(fields.get(7, 0))
    admit(parsed, account, label)


def parse_migration_uri(uri):
    """Parse one otpauth-migration:// URI (one QR code of an export).

    Returns (Parsed, (batch_size, batch_index, batch_id)), batch_index counting
    from 0. Raises FormatError when the URI or its data is malformed; entries
    the token can't hold are in Parsed.rejected."""
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "otpauth-migration":
        raise _error("not an otpauth-migration:// URI")
    raw = None
    for piece in parts.query.split("&"):
        key, _, value = piece.partition("=")
        if key.lower() == "data":
            if raw is not None:
                raise _error("the URI gives data= more than once")
            raw = value
    if raw is None:
        raise _error("the URI has no data= parameter")
    payload = _decode_data(raw)

    parsed = Parsed()
    batch_size, batch_index, batch_id = 1, 0, 0
    entries = 0
    for number, wire, value in _fields(payload, "the payload"):
        if number == 1:
            _expect(wire, _LEN, "field 1", "the payload")
            entries += 1
            _otp_parameters(value, entries, parsed)
        elif number in (2, 3, 4, 5):
            _expect(wire, _VARINT, "field %d" % number, "the payload")
            if number == 3:
                batch_size = value or 1  # 0: an old app that never splits
            elif number == 4:
                batch_index = value
            elif number == 5:
                batch_id = _signed64(value)
    if not entries:
        raise _error("the data holds no accounts (is this a Google Authenticator export?)")
    if batch_index >= batch_size:
        raise _error("the data claims to be part %d of %d" % (batch_index + 1, batch_size))
    return parsed, (batch_size, batch_index, batch_id)


def _numbers(parts):
    parts = [str(n) for n in parts]
    return parts[0] if len(parts) == 1 else "%s and %s" % (", ".join(parts[:-1]), parts[-1])


def combine_batches(parts):
    """Join the parts of one or more exports, given as parse_migration_uri()
    results in any order. Exact duplicates (a code scanned twice) are ignored;
    a missing part raises FormatError naming it."""
    batches = {}  # batch_id -> (batch_size, {batch_index: Parsed}), in first-seen order
    for parsed, (size, index, batch_id) in parts:
        if batch_id not in batches:
            batches[batch_id] = (size, {})
        known_size, got = batches[batch_id]
        if size != known_size:
            raise _error("the parts of one export disagree on its size (%d and %d parts)"
                         % (known_size, size))
        if index in got:
            old = got[index]
            if old.accounts != parsed.accounts or old.rejected != parsed.rejected:
                raise _error("part %d of %d appears twice with different accounts"
                             % (index + 1, size))
            continue
        got[index] = parsed
    result = Parsed()
    for size, got in batches.values():
        missing = [i + 1 for i in range(size) if i not in got]
        if missing:
            raise _error("%s %s of %d %s missing (scan every QR code of the export)"
                         % ("part" if len(missing) == 1 else "parts", _numbers(missing),
                            size, "is" if len(missing) == 1 else "are"))
        for i in range(size):
            result.extend(got[i])
    return result
