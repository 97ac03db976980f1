"""Account importers for `provision.py import`.

load() reads a file (or text, or bytes), works out its format from the
content and hands it to one of:

  from_text     otpauth:// URIs and otpauth-migration:// exports, one per line
  from_image    screenshots or photos of QR codes (PNG, JPEG, ...)
  from_aegis    Aegis vault JSON, plain or encrypted (host_tools.aegis)
  from_2fas     2FAS backup JSON, plain or encrypted
  from_andotp   andOTP plain JSON backup

Each returns a Parsed: validated accounts plus (label, reason) for entries
the token can't hold. Malformed input raises FormatError, a missing or wrong
password PasswordError. No message ever contains a secret.
"""
import base64
import binascii
import io
import json
import os
import re
from urllib.parse import unquote, urlsplit

from host_tools.imported import FormatError, Parsed, PasswordError
from host_tools.migration import MD5_REASON, admit, combine_batches, parse_migration_uri
from host_tools.otpauth import STEAM_DIGITS, Account, parse_base32, scrub

KINDS = ("text", "image", "aegis", "2fas", "andotp")
# Names a user might type for --kind; otpauth-migration lines live in text files.
_KIND_ALIASES = {"uri": "text", "otpauth": "text", "migration": "text", "google": "text",
                 "qr": "image", "twofas": "2fas"}

_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
                b"II*\x00", b"MM\x00*")

TWOFAS_ITERATIONS = 10000


def load(path_or_text, password=None, kind=None):
    """Import accounts from a file path, from text, or from the bytes of a file.

    A str is taken as text when it already looks like content (an otpauth URI,
    JSON, several lines), otherwise as a path. kind (see KINDS) forces a
    format; by default it is detected from the content, not the file name."""
    data, source = _read(path_or_text)
    if kind is None:
        kind = detect(data, source)
    else:
        kind = _KIND_ALIASES.get(kind.lower(), kind.lower())
        if kind not in KINDS:
            raise FormatError("unknown import format %r (choose from %s)"
                              % (kind, ", ".join(KINDS)))
    if kind == "image":
        return from_image(data, source)
    text = _decode_text(data, source, kind)
    if kind == "text":
        return from_text(text, source)
    obj = _json(text, source)
    if kind == "aegis":
        return from_aegis(text, password)
    if kind == "2fas":
        return from_2fas(obj, password)
    return from_andotp(obj)


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
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    text = _decode_text(data, source, None).lstrip()
    if text[:1] == "[":
        return "andotp"
    if text[:1] == "{":
        obj = _json(text, source)
        if "db" in obj and "header" in obj:
            return "aegis"
        if "services" in obj or "servicesEncrypted" in obj:
            return "2fas"
        raise FormatError("%s is JSON but not an Aegis vault, 2FAS backup or andOTP backup"
                          % source)
    return "text"


def _decode_text(data, source, kind):
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError:
        if kind:
            raise FormatError("%s is not UTF-8 text, so it is not %s" % (source, kind)) \
                from None
        raise FormatError("%s is neither an image nor text (not a format this tool reads)"
                          % source) from None


def _json(text, source):
    if not isinstance(text, str):
        return text  # already parsed
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        # Position only: the document may hold secrets.
        raise FormatError("%s is corrupt JSON (%s at line %d column %d)"
                          % (source, e.msg, e.lineno, e.colno)) from None


# ---- otpauth:// and otpauth-migration:// text ----

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


def _add_decoded(parsed, batches, text, label, context):
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
        if _add_decoded(parsed, batches, line, label, "%s %s" % (source, label)):
            found += 1
        else:
            # Never echo the line: it may be a pasted secret.
            parsed.rejected.append((label, "not an otpauth:// or otpauth-migration:// URI"))
    if not found:
        raise FormatError("no otpauth:// or otpauth-migration:// URI found in %s" % source)
    return parsed.extend(combine_batches(batches))


# ---- QR images ----

def _open_image(data, source):
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decode now, so a truncated file fails here
        image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    except UnidentifiedImageError:
        raise FormatError("cannot read image %s (not an image format Pillow knows)"
                          % source) from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise FormatError("cannot read image %s (%s)" % (source, e)) from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels are often black underneath: put them on white paper.
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    return image.convert("L")


def _read_qr_codes(image):
    import zxingcpp
    codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if not codes:
        # Photos with uneven light read better with a global threshold.
        codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode,
                                       binarizer=zxingcpp.Binarizer.GlobalHistogram)
    # Reading order (top to bottom, left to right), so results don't depend on the decoder.
    return sorted(codes, key=lambda c: (c.position.top_left.y, c.position.top_left.x))


def from_image(data, source="the image"):
    """Every QR code in a screenshot or photo (PNG, JPEG, GIF, BMP, TIFF, WebP)."""
    codes = _read_qr_codes(_open_image(data, source))
    if not codes:
        raise FormatError("no QR code found in %s" % source)
    parsed, batches, found = Parsed(), [], 0
    for number, code in enumerate(codes, 1):
        label = "QR code %d" % number
        context = "%s %s" % (source, label) if len(codes) > 1 else source
        if _add_decoded(parsed, batches, code.text.strip(), label, context):
            found += 1
        else:
            parsed.rejected.append((label, "not an otpauth:// or otpauth-migration:// URI"))
    if not found:
        raise FormatError("%s has %d QR code%s but none holds an otpauth:// or "
                          "otpauth-migration:// URI" % (source, len(codes),
                                                         "" if len(codes) == 1 else "s"))
    return parsed.extend(combine_batches(batches))


# ---- Aegis ----

def from_aegis(text, password=None):
    """An Aegis vault, plain or encrypted; the work is host_tools.aegis's."""
    from host_tools import aegis  # imported late: only Aegis users need it
    if not isinstance(text, str):
        text = json.dumps(text)
    return aegis.load(text, password)


# ---- fields shared by 2FAS and andOTP ----

def _number(value):
    # JSON exporters sometimes write numbers as strings ("6").
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def _account(name, issuer, secret, kind, algorithm, digits, period, counter):
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
        account.digits = _number(digits)
    if period is not None:
        account.period = _number(period)
    if kind == "hotp" and counter is not None:
        account.counter = _number(counter)
    return account


def _text_field(value):
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _split_issuer(issuer, name):
    # "Issuer:account" in the name field, as some apps store the scanned label.
    if not issuer and isinstance(name, str) and ":" in name:
        issuer, name = (part.strip() for part in name.split(":", 1))
    return issuer, name


def _add_entry(parsed, number, issuer, name, build):
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


# ---- 2FAS ----

def _twofas_b64(text, what):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("2FAS backup: the %s in servicesEncrypted is not valid base64"
                          % what) from None


def _twofas_decrypt(blob, password):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    if not isinstance(blob, str) or blob.count(":") != 2:
        raise FormatError("2FAS backup: servicesEncrypted must be three base64 parts "
                          "(data:salt:iv)")
    if password is None:
        raise PasswordError("this 2FAS backup is encrypted: pass --password")
    ciphertext, salt, iv = (_twofas_b64(part, what) for part, what in
                            zip(blob.split(":"), ("data", "salt", "iv")))
    if len(ciphertext) < 16:
        raise FormatError("2FAS backup: the encrypted data is truncated")
    if not 8 <= len(iv) <= 128 or not salt:
        raise FormatError("2FAS backup: the salt or iv in servicesEncrypted is malformed")
    if isinstance(password, str):
        password = password.encode("utf-8")
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt,
                     iterations=TWOFAS_ITERATIONS).derive(password)
    try:
        plain = AESGCM(key).decrypt(iv, ciphertext, None)
    except InvalidTag:
        # GCM can't tell a wrong password from altered data; the password is far likelier.
        raise PasswordError("wrong password for this 2FAS backup") from None
    try:
        return json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError("2FAS backup: the decrypted services are not JSON") from None


def from_2fas(text, password=None):
    """A 2FAS backup (JSON text or the parsed object), plain or encrypted."""
    backup = _json(text, "2FAS backup")
    if not isinstance(backup, dict) or not ("services" in backup
                                            or "servicesEncrypted" in backup):
        raise FormatError("2FAS backup: expected a JSON object with services or "
                          "servicesEncrypted")
    if backup.get("servicesEncrypted"):
        services = _twofas_decrypt(backup["servicesEncrypted"], password)
    else:
        services = backup.get("services")
    if not isinstance(services, list):
        raise FormatError("2FAS backup: services must be a list")
    parsed = Parsed()
    for number, service in enumerate(services, 1):
        if not isinstance(service, dict):
            parsed.rejected.append(("entry %d" % number, "not a 2FAS service object"))
            continue
        otp = service.get("otp") or {}
        if not isinstance(otp, dict):
            parsed.rejected.append(("entry %d" % number, "otp is not an object"))
            continue
        issuer = _text_field(otp.get("issuer") or service.get("name"))
        name = _text_field(otp.get("account"))
        if not name:
            issuer, name = _split_issuer("", _text_field(otp.get("label")))
            issuer = issuer or _text_field(otp.get("issuer") or service.get("name"))
        _add_entry(parsed, number, issuer, name, lambda: _account(
            name, issuer, service.get("secret"), otp.get("tokenType"), otp.get("algorithm"),
            otp.get("digits"), otp.get("period"), otp.get("counter")))
    return parsed


# ---- andOTP ----

def from_andotp(text):
    """An andOTP plain backup (JSON text or the parsed list)."""
    entries = _json(text, "andOTP backup")
    if not isinstance(entries, list):
        raise FormatError("andOTP backup: expected a JSON list of accounts")
    parsed = Parsed()
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            parsed.rejected.append(("entry %d" % number, "not an andOTP account object"))
            continue
        issuer, name = _split_issuer(_text_field(entry.get("issuer")),
                                     _text_field(entry.get("label")))
        _add_entry(parsed, number, issuer, name, lambda: _account(
            name, issuer, entry.get("secret"), entry.get("type"), entry.get("algorithm"),
            entry.get("digits"), entry.get("period"), entry.get("counter")))
    return parsed
