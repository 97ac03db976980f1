"""PSKC (RFC 6030) key containers: a token vendor's seed file (or our own
export for an MFA server) onto the token, read with the python-pskc library.

HOTP and TOTP keys are taken (the algorithm URN's last part), with the
hash from <Suite> ("SHA1", "HMAC-SHA256", ...; none means SHA1), the
digits from <ResponseFormat Length> (DECIMAL only), the time step or the
counter (<Time>, the token's own count of steps when the file was made,
says nothing the token needs: it counts from the Unix epoch, as servers do).
Anything else (OCRA, a Yubico AES key, hexadecimal responses) is listed as
skipped, with the reason.

Encrypted files: a password (PBKDF2) or a pre-shared key, which is given
as the password too (its hex digits). A wrong one is refused as such:
python-pskc checks each value's MAC, and a CBC-encrypted file without MACs
is refused, since nothing could then tell a wrong key from the right one.
XML with a DOCTYPE is refused before parsing (PSKC has none; entities are
how XML bombs go off).
"""
import io

from host_tools.errors import FormatError, PasswordError
from host_tools.formats.base import Format, Parsed, admit
from host_tools.formats.otpauth import Account

URNS = {"hotp": "urn:ietf:params:xml:ns:keyprov:pskc:hotp",
        "totp": "urn:ietf:params:xml:ns:keyprov:pskc:totp"}
PSK_BYTES = (16, 24, 32)  # AES-128, -192, -256
_HEAD = 4096  # where a KeyContainer shows itself: after a declaration, comments


def parse_psk(value, sizes=PSK_BYTES):
    """A pre-shared key as bytes, from its hex digits (spaces, ':' and '-'
    allowed) or the bytes themselves; ValueError never shows the key."""
    if isinstance(value, str):
        digits = "".join(c for c in value if c not in " :-")
        try:
            value = bytes.fromhex(digits)
        except ValueError:
            value = b""
    if not isinstance(value, (bytes, bytearray)) or len(value) not in sizes:
        raise ValueError("a pre-shared key is %s hex digits" % " or ".join(
            str(2 * n) for n in sizes))
    return bytes(value)


def _detect(content):
    head = content.data[:_HEAD].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"KeyContainer" in head


def _open(data, source):
    from pskc import PSKC
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormatError("%s declares a DOCTYPE or entities, which no PSKC file has: "
                          "not read" % source)
    try:
        return PSKC(io.BytesIO(data))
    except Exception as e:  # python-pskc's ParseError, or a bad number or base64 in it
        raise FormatError("%s is not a valid PSKC file (%s)"
                          % (source, type(e).__name__ if not str(e) else e)) from None


def _unlock(doc, password):
    """Give python-pskc the key that opens the file, and check it opens
    every value (the MACs): PasswordError if not."""
    from pskc.exceptions import DecryptionError, KeyDerivationError
    enc = doc.encryption
    derived = enc.derivation.algorithm is not None
    what = "a password" if derived else "a pre-shared key (give its hex digits as the password)"
    if password is None:
        raise PasswordError("this PSKC file is encrypted with %s" % what)
    if derived:
        try:
            enc.derive_key(password)
        except KeyDerivationError as e:
            raise FormatError("this PSKC file's key derivation is not supported (%s)" % e) \
                from None
    else:
        try:
            enc.key = parse_psk(password)
        except ValueError as e:
            raise PasswordError("this PSKC file is encrypted with a pre-shared key, not a "
                                "password: %s" % e) from None
    if enc.algorithm and enc.algorithm.endswith("-cbc") and not _all_macced(doc):
        raise FormatError("this PSKC file is encrypted in CBC mode without a MAC on each value "
                          "(RFC 6030 6.1.1 requires one), so a wrong key could not be told "
                          "from the right one: not read")
    for key in doc.keys:
        try:
            key.check()
        except DecryptionError as e:
            if "Unsupported" in str(e) or "No algorithm" in str(e):
                raise FormatError("this PSKC file's encryption is not supported (%s)" % e) \
                    from None
            raise PasswordError("wrong %s for this PSKC file (or the file was altered): "
                                "its values do not decrypt and check" %
                                ("password" if derived else "pre-shared key")) from None


def _all_macced(doc):
    from pskc.key import EncryptedValue
    for key in doc.keys:
        for field in ("secret", "counter", "time_offset", "time_interval", "time_drift"):
            value = getattr(key, "_" + field, None)
            if isinstance(value, EncryptedValue) and not value.mac_value:
                return False
    return True


def _kind(algorithm):
    # ".../pskc:totp" (RFC 6030), ".../pskc#totp" (its drafts)
    last = (algorithm or "").replace("#", ":").rsplit(":", 1)[-1].lower()
    return last if last in URNS else None


def _hash(suite):
    name = (suite or "SHA1").strip().upper().replace("HMAC-", "").replace("-", "")
    return name if name in ("SHA1", "SHA256", "SHA512") else None


def _account(key):
    """The Account for one key, or ValueError saying why the token can't take it."""
    kind = _kind(key.algorithm)
    if kind is None:
        raise ValueError("algorithm %s is not HOTP or TOTP" % (key.algorithm or "(none)"))
    algorithm = _hash(key.algorithm_suite)
    if algorithm is None:
        raise ValueError("hash %r is not SHA1, SHA256 or SHA512" % key.algorithm_suite)
    if key.response_encoding not in (None, "DECIMAL"):
        raise ValueError("%s responses (the token shows decimal codes)" % key.response_encoding)
    if key.secret is None:
        raise ValueError("no secret in the file (a reference to a key kept elsewhere?)")
    name = key.friendly_name or key.userid or key.serial or key.id or ""
    issuer = key.issuer or ""
    account = Account(name=name.strip(), issuer=issuer.strip(), secret=bytes(key.secret),
                      kind=kind, algorithm=algorithm)
    if key.response_length is not None:
        account.digits = key.response_length
    if kind == "totp" and key.time_interval is not None:
        account.period = key.time_interval
    if kind == "hotp" and key.counter is not None:
        account.counter = key.counter
    return account


def opened(data, password=None, source="the input"):
    """The python-pskc document of a PSKC file's bytes, every value
    decrypted and its MAC checked (PasswordError for a wrong password or
    pre-shared key, given as its hex digits)."""
    doc = _open(data, source)
    if not doc.keys:
        raise FormatError("%s is a PSKC file without keys" % source)
    if doc.encryption.is_encrypted:
        _unlock(doc, password)
    return doc


def from_pskc(data, password=None, source="the input"):
    """The accounts in a PSKC file's bytes (plain or encrypted)."""
    doc = opened(data, password, source)
    parsed = Parsed()
    for number, key in enumerate(doc.keys, 1):
        label = key.serial or key.id or "key %d" % number
        try:
            account = _account(key)
        except ValueError as e:
            parsed.rejected.append((label, str(e)))
            continue
        admit(parsed, account, label)
    return parsed


FORMAT = Format("pskc", _detect,
                lambda content, password=None: from_pskc(content.data, password, content.source),
                binary=True)
