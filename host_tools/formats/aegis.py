"""Aegis vault files, read and written: a user's export, and the format of
the token's host-side backup (host_tools.backup.vault keeps that file).
Format notes: Aegis's published vault format (its docs/vault.md); the
fields read here are the ones its encrypted export carries.

Error messages and rejection reasons never contain a secret.
"""
import base64
import binascii
import json
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from host_tools.errors import FormatError, PasswordError
from host_tools.formats.base import Format, Parsed
from host_tools.formats.otpauth import Account, parse_base32

VAULT_VERSION = 1
DB_VERSION = 2  # what we write; Aegis reads it and upgrades it on save
DB_VERSIONS = (1, 2, 3)  # what we read: the entry format is the same in all three

SCRYPT_N = 32768  # Aegis's own parameters, so its app opens our vaults as fast as its own
SCRYPT_R = 8
SCRYPT_P = 1
# A vault is untrusted input: its scrypt parameters decide how much memory we
# spend (128 * r * n bytes), so cap them well above what Aegis writes.
_MAX_SCRYPT_MEMORY = 1 << 30
_MAX_SCRYPT_P = 16

_SLOT_PASSWORD = 1
_KEY_LEN = 32
_NONCE_LEN = 12
_TAG_LEN = 16

# An entry deleted from the token stays in the backup with this note first, so
# its secret can still be recovered (`restore --include-deleted`) and the Aegis
# app shows why it is there; restore leaves it out by default.
DELETED_NOTE = "deleted from the token"


# ---- reading ----

def load(text, password=None):
    """Parse an Aegis vault (str or bytes), plain or password-encrypted.

    Returns Parsed: entries the token can hold as validated Accounts, the
    rest in rejected with a reason. Raises FormatError for a file that is not
    an Aegis vault or is damaged, PasswordError when the password is missing
    or opens no slot."""
    db = open_db(text, password)
    return parse_entries(db)


def open_db(text, password):
    """The vault's database object, decrypted if need be."""
    vault = _json(text, "not an Aegis vault: the file is not JSON")
    if not isinstance(vault, dict):
        raise FormatError("not an Aegis vault: the top level is not a JSON object")
    for key in ("version", "header", "db"):
        if key not in vault:
            raise FormatError("not an Aegis vault: it has no %r member" % key)
    version = vault["version"]
    if not _is_int(version) or version != VAULT_VERSION:
        raise FormatError("not an Aegis vault this tool reads: vault version %r "
                          "(only version 1 is known)" % (version,))
    header = vault["header"]
    if not isinstance(header, dict) or "slots" not in header or "params" not in header:
        raise FormatError("not an Aegis vault: the header needs 'slots' and 'params'")
    slots, params = header["slots"], header["params"]
    if slots is None and params is None:
        # Aegis's own test for a plain vault: an empty header.
        db = vault["db"]
        if not isinstance(db, dict):
            raise FormatError("not an Aegis vault: a plain vault's 'db' must be an object")
    else:
        db = _decrypt_db(vault["db"], slots, params, password)
    _check_db(db)
    return db


def _decrypt_db(blob, slots, params, password):
    if not isinstance(slots, list) or not isinstance(params, dict):
        raise FormatError("not an Aegis vault: the header's slots or params are malformed")
    if not isinstance(blob, str):
        raise FormatError("not an Aegis vault: an encrypted vault's 'db' must be base64 text")
    # Check the ciphertext's framing before the slow key derivation, so a
    # damaged file is reported as such without asking for a password first.
    nonce = _hex(params.get("nonce"), "params.nonce")
    tag = _hex(params.get("tag"), "params.tag")
    if len(tag) != _TAG_LEN or not 8 <= len(nonce) <= 128:
        raise FormatError("not an Aegis vault: params.nonce or params.tag has the wrong length")
    try:
        ciphertext = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError("the Aegis vault is damaged: 'db' is not valid base64") from None
    if password is None:
        raise PasswordError("this Aegis vault is encrypted: a password is needed")
    master = _unwrap_master_key(slots, password)
    try:
        plain = AESGCM(master).decrypt(nonce, ciphertext + tag, None)
    except InvalidTag:
        # The password opened a slot, so the key is right: the data is damaged.
        raise FormatError("the Aegis vault is damaged: its contents fail the "
                          "integrity check") from None
    return _json(plain, "the Aegis vault is damaged: the decrypted contents are not JSON")


def _unwrap_master_key(slots, password):
    if isinstance(password, str):
        password = password.encode("utf-8")  # Aegis derives from the UTF-8 bytes
    if not isinstance(password, (bytes, bytearray)):
        raise TypeError("password must be str or bytes")
    tried = 0
    for i, slot in enumerate(slots):
        if not isinstance(slot, dict):
            raise FormatError("not an Aegis vault: slot %d is not an object" % i)
        # Raw (0) and biometric (2) slots need keys held on the phone: skip them.
        if slot.get("type") != _SLOT_PASSWORD:
            continue
        tried += 1
        key = _slot_key(slot, i, password)
        wrapped = _hex(slot.get("key"), "slot %d key" % i)
        key_params = slot.get("key_params")
        if not isinstance(key_params, dict):
            raise FormatError("not an Aegis vault: slot %d has no key_params" % i)
        nonce = _hex(key_params.get("nonce"), "slot %d nonce" % i)
        tag = _hex(key_params.get("tag"), "slot %d tag" % i)
        if len(tag) != _TAG_LEN or not 8 <= len(nonce) <= 128:
            raise FormatError("not an Aegis vault: slot %d nonce or tag has the wrong length" % i)
        try:
            master = AESGCM(key).decrypt(nonce, wrapped + tag, None)
        except InvalidTag:
            continue  # not this slot's password; another slot may still open
        if len(master) != _KEY_LEN:
            raise FormatError("the Aegis vault is damaged: its master key is not 32 bytes")
        return master
    if not tried:
        raise PasswordError("this Aegis vault has no password slot, so a password "
                            "can't open it (export it from Aegis with a password)")
    raise PasswordError("wrong password for this Aegis vault")


def _slot_key(slot, i, password):
    n, r, p = slot.get("n"), slot.get("r"), slot.get("p")
    if not (_is_int(n) and _is_int(r) and _is_int(p)):
        raise FormatError("not an Aegis vault: slot %d scrypt parameters are not numbers" % i)
    if (n < 2 or n & (n - 1) or r < 1 or not 1 <= p <= _MAX_SCRYPT_P
            or 128 * r * n > _MAX_SCRYPT_MEMORY):
        raise FormatError("slot %d asks for unsupported scrypt parameters "
                          "(n=%d, r=%d, p=%d)" % (i, n, r, p))
    salt = _hex(slot.get("salt"), "slot %d salt" % i)
    return Scrypt(salt=salt, length=_KEY_LEN, n=n, r=r, p=p).derive(bytes(password))


def _check_db(db):
    if not isinstance(db, dict):
        raise FormatError("not an Aegis vault: the database is not a JSON object")
    version = db.get("version")
    if not _is_int(version) or version not in DB_VERSIONS:
        raise FormatError("not an Aegis vault this tool reads: database version %r "
                          "(known: 1 to 3)" % (version,))
    if not isinstance(db.get("entries"), list):
        raise FormatError("not an Aegis vault: the database's 'entries' is not a list")


def parse_entries(db):
    parsed = Parsed()
    for i, entry in enumerate(db["entries"], 1):
        label = _label(entry, i)
        try:
            account = entry_account(entry)
            account.validate()
        except ValueError as e:
            parsed.rejected.append((label, str(e)))
        else:
            (parsed.deleted if is_deleted(entry) else parsed.accounts).append(account)
    return parsed


def is_deleted(entry):
    """Whether a raw entry carries the deleted-from-the-token mark."""
    note = entry.get("note") if isinstance(entry, dict) else None
    return isinstance(note, str) and note.startswith(DELETED_NOTE)


def entry_account(entry):
    """One database entry as an Account; ValueError (reason) if it can't be one."""
    if not isinstance(entry, dict):
        raise ValueError("the entry is not a JSON object")
    kind = entry.get("type")
    if kind not in ("totp", "hotp", "steam"):
        # Aegis also has motp and yandex, which the token doesn't compute.
        raise ValueError("type %r is not supported by the token" % (kind,))
    info = entry.get("info")
    if not isinstance(info, dict):
        raise ValueError("the entry has no 'info' object")
    for key in ("secret", "algo", "digits", "counter" if kind == "hotp" else "period"):
        if key not in info:
            raise ValueError("the entry's info has no %r" % key)
    if not isinstance(info["secret"], str):
        raise ValueError("secret is not base32 text")
    algo = info["algo"]
    if isinstance(algo, str):
        algo = algo.upper()
    if algo == "MD5":
        raise ValueError("MD5 is not supported by the token")
    account = Account(name=entry.get("name", ""), issuer=entry.get("issuer", ""),
                      secret=parse_base32(info["secret"]), kind=kind, algorithm=algo,
                      digits=info["digits"], favourite=entry.get("favorite") is True)
    if kind == "hotp":
        account.counter = info["counter"]
    else:
        account.period = info["period"]
    return account


def _label(entry, index):
    # Only text fields make a label; anything else is named by position.
    if isinstance(entry, dict):
        name, issuer = entry.get("name"), entry.get("issuer")
        name = name if isinstance(name, str) else ""
        issuer = issuer if isinstance(issuer, str) else ""
        if name or issuer:
            return "%s:%s" % (issuer, name) if issuer else name
    return "entry %d" % index


# ---- writing ----

def dump(accounts, password=None, scrypt_n=SCRYPT_N):
    """A vault (JSON text, db version 2) holding the accounts, encrypted with one
    password slot when a password is given. Every account is validated first."""
    db = {"version": DB_VERSION, "entries": [entry_json(a) for a in accounts]}
    return seal(db, password, scrypt_n)


def entry_json(account):
    account.validate()
    info = {"secret": base64.b32encode(bytes(account.secret)).decode("ascii").rstrip("="),
            "algo": account.algorithm, "digits": account.digits}
    if account.kind == "hotp":
        info["counter"] = account.counter
    else:
        info["period"] = account.period
    # The optional members Aegis writes itself, so its app shows the entry as usual.
    return {"type": account.kind, "uuid": str(uuid.uuid4()), "name": account.name,
            "issuer": account.issuer, "note": "", "favorite": bool(account.favourite),
            "icon": None,
            "info": info}


def seal(db, password, scrypt_n):
    if password is None:
        vault = {"version": VAULT_VERSION, "header": {"slots": None, "params": None}, "db": db}
        return json.dumps(vault, indent=4, ensure_ascii=False)
    if isinstance(password, str):
        password = password.encode("utf-8")
    if not isinstance(password, (bytes, bytearray)) or not password:
        raise ValueError("the vault password must be non-empty text")
    master = os.urandom(_KEY_LEN)
    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(master).encrypt(nonce, json.dumps(db, ensure_ascii=False).encode("utf-8"),
                                    None)
    # cryptography appends the tag; Aegis stores it apart, in the header.
    ciphertext, tag = sealed[:-_TAG_LEN], sealed[-_TAG_LEN:]
    vault = {"version": VAULT_VERSION,
             "header": {"slots": [_password_slot(master, bytes(password), scrypt_n)],
                        "params": {"nonce": nonce.hex(), "tag": tag.hex()}},
             "db": base64.b64encode(ciphertext).decode("ascii")}
    return json.dumps(vault, indent=4, ensure_ascii=False)


def _password_slot(master, password, scrypt_n):
    salt = os.urandom(32)
    key = Scrypt(salt=salt, length=_KEY_LEN, n=scrypt_n, r=SCRYPT_R, p=SCRYPT_P).derive(password)
    nonce = os.urandom(_NONCE_LEN)
    sealed = AESGCM(key).encrypt(nonce, master, None)
    return {"type": _SLOT_PASSWORD, "uuid": str(uuid.uuid4()),
            "key": sealed[:-_TAG_LEN].hex(),
            "key_params": {"nonce": nonce.hex(), "tag": sealed[-_TAG_LEN:].hex()},
            "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex(),
            # repaired: derived from the true UTF-8 bytes (old Aegis versions weren't).
            "repaired": True, "is_backup": False}


# ---- helpers ----

def _json(data, message):
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormatError(message + " (not UTF-8 text)") from None
    if not isinstance(data, str):
        raise TypeError("expected str or bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        # json's own message gives a position only, but the decrypted text
        # holds secrets, so say nothing about where it broke.
        raise FormatError(message) from None


def _hex(value, what):
    if not isinstance(value, str):
        raise FormatError("not an Aegis vault: %s is missing or not hex text" % what)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise FormatError("not an Aegis vault: %s is not hex" % what) from None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _load(content, password=None):
    content.json  # corrupt JSON is named by its file, as every format's is
    return load(content.text, password)


def _detect(content):
    if content.text.lstrip()[:1] != "{":
        return False
    obj = content.json
    return "db" in obj and "header" in obj


FORMAT = Format("aegis", _detect, _load)
