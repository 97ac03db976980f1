"""2FAS backups: JSON, plain or encrypted (PBKDF2-SHA256 and AES-GCM)."""
import base64
import binascii
import json

from host_tools.errors import FormatError, PasswordError
from host_tools.formats.base import (Format, Parsed, account_from_fields, add_entry,
                                     parse_json, split_issuer, text_field)

TWOFAS_ITERATIONS = 10000


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
    backup = parse_json(text, "2FAS backup")
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
        issuer = text_field(otp.get("issuer") or service.get("name"))
        name = text_field(otp.get("account"))
        if not name:
            issuer, name = split_issuer("", text_field(otp.get("label")))
            issuer = issuer or text_field(otp.get("issuer") or service.get("name"))
        add_entry(parsed, number, issuer, name, lambda: account_from_fields(
            name, issuer, service.get("secret"), otp.get("tokenType"), otp.get("algorithm"),
            otp.get("digits"), otp.get("period"), otp.get("counter")))
    return parsed


def _detect(content):
    if content.text.lstrip()[:1] != "{":
        return False
    obj = content.json
    return "services" in obj or "servicesEncrypted" in obj


FORMAT = Format("2fas", _detect,
                lambda content, password=None: from_2fas(content.json, password),
                aliases=("twofas",))
