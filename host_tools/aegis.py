"""Aegis vault files: importing a user's export and the token's host-side backup.

Secrets never leave the token over USB, so the only copy a user can recover
from is written on the host when accounts are provisioned. It is written as
a password-encrypted Aegis vault, so the Aegis app can open it if the token
is lost. Format notes: REFERENCE.md section 3.

Error messages and rejection reasons never contain a secret.
"""
import base64
import binascii
import contextlib
import datetime
import json
import os
import tempfile
import uuid

try:
    import fcntl
except ImportError:  # Windows: no flock; one writer at a time is then up to the user
    fcntl = None

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from host_tools.imported import FormatError, Parsed, PasswordError
from host_tools.otpauth import Account, parse_base32

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

BACKUP_ENV = "TOKEN_BACKUP"

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
    db = _open(text, password)
    return _parse_entries(db)


def _open(text, password):
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


def _parse_entries(db):
    parsed = Parsed()
    for i, entry in enumerate(db["entries"], 1):
        label = _label(entry, i)
        try:
            account = _entry_account(entry)
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


def _entry_account(entry):
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
                      digits=info["digits"])
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
    db = {"version": DB_VERSION, "entries": [_entry_json(a) for a in accounts]}
    return _seal(db, password, scrypt_n)


def _entry_json(account):
    account.validate()
    info = {"secret": base64.b32encode(bytes(account.secret)).decode("ascii").rstrip("="),
            "algo": account.algorithm, "digits": account.digits}
    if account.kind == "hotp":
        info["counter"] = account.counter
    else:
        info["period"] = account.period
    # The optional members Aegis writes itself, so its app shows the entry as usual.
    return {"type": account.kind, "uuid": str(uuid.uuid4()), "name": account.name,
            "issuer": account.issuer, "note": "", "favorite": False, "icon": None,
            "info": info}


def _seal(db, password, scrypt_n):
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


# ---- the host-side backup ----

def default_backup_path():
    """$TOKEN_BACKUP, else backup.aegis.json in the XDG data directory."""
    path = os.environ.get(BACKUP_ENV)
    if path:
        return os.path.expanduser(path)
    data = os.environ.get("XDG_DATA_HOME")
    if not data or not os.path.isabs(data):  # the XDG spec says to ignore relative paths
        data = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "totp-token", "backup.aegis.json")


def read_backup(path, password):
    """The accounts in a backup vault. Entries the token can't hold (e.g. added
    in the Aegis app) are left out here; merge_backup keeps them in the file."""
    with open(path, "rb") as f:
        return load(f.read(), password).accounts


def write_backup(path, accounts, password, scrypt_n=SCRYPT_N):
    """Replace the backup with these accounts, encrypted with the password."""
    _require_password(password)
    with locked(path):
        _write_atomic(path, dump(accounts, password, scrypt_n))


@contextlib.contextmanager
def locked(path):
    """Hold <path>.lock exclusively. Every change re-reads the backup and
    writes it under this lock, so two commands at once can't both write from
    the same old copy and lose each other's accounts. The lock file stays:
    removing it would let a third writer lock a different file."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_db(path, password):
    """The backup's database, or an empty one when there is no file yet.
    A wrong password raises here, before anything is written."""
    try:
        with open(path, "rb") as f:
            existing = f.read()
    except FileNotFoundError:
        return {"version": DB_VERSION, "entries": []}
    return _open(existing, password)


def merge_backup(path, accounts, password, scrypt_n=SCRYPT_N):
    """Add accounts to the backup (creating it if absent). An entry with the same
    (issuer, name) is replaced in place; every other entry is kept as it was.
    An entry marked deleted is replaced only by the same secret (it is back on
    the token); another secret under its label leaves it recoverable.
    Returns the accounts now in the backup."""
    _require_password(password)
    new = {}
    for account in accounts:
        account.validate()
        new[(account.issuer, account.name)] = account  # the last one given wins
    with locked(path):
        db = _read_db(path, password)
        entries = []
        for entry in db["entries"]:
            key = _entry_key(entry)
            if key in new and (not is_deleted(entry) or _same_secret(entry, new[key])):
                entries.append(_entry_json(new.pop(key)))
            else:
                # Kept raw, so entries we can't parse (and Aegis-only fields) survive.
                entries.append(entry)
        entries.extend(_entry_json(a) for a in new.values())
        db["entries"] = entries
        _write_atomic(path, _seal(db, password, scrypt_n))
    return _parse_entries(db).accounts


def _same_secret(entry, account):
    try:
        return _entry_account(entry).secret == bytes(account.secret)
    except ValueError:
        return False


def rename_backup_entry(path, password, old, new, scrypt_n=SCRYPT_N):
    """Give the entry labelled old = (issuer, name) the label new, editing the
    raw entry so Aegis-only fields survive. Entries marked deleted keep their
    label. Returns False when the backup has no such entry (nothing is
    written then)."""
    _require_password(password)
    with locked(path):
        with open(path, "rb") as f:
            db = _open(f.read(), password)
        found = False
        for entry in db["entries"]:
            if _entry_key(entry) == tuple(old) and not is_deleted(entry):
                entry["issuer"], entry["name"] = new
                found = True
        if found:
            _write_atomic(path, _seal(db, password, scrypt_n))
    return found


def mark_deleted(path, password, key, when=None, scrypt_n=SCRYPT_N):
    """Mark the live entry labelled key = (issuer, name) as deleted from the
    token, keeping its secret. Returns False when there is no such entry."""
    _require_password(password)
    when = when or datetime.date.today().isoformat()
    with locked(path):
        with open(path, "rb") as f:
            db = _open(f.read(), password)
        found = False
        for entry in db["entries"]:
            if _entry_key(entry) == tuple(key) and not is_deleted(entry):
                old = entry.get("note") if isinstance(entry.get("note"), str) else ""
                entry["note"] = "%s on %s (provision.py delete)%s" % (
                    DELETED_NOTE, when, "\n" + old if old else "")
                found = True
        if found:
            _write_atomic(path, _seal(db, password, scrypt_n))
    return found


def _entry_key(entry):
    if isinstance(entry, dict):
        return (entry.get("issuer", ""), entry.get("name", ""))
    return None


def _require_password(password):
    # The backup holds every secret; it is never written in the clear.
    if not password:
        raise ValueError("the backup needs a non-empty password")


def _write_atomic(path, text):
    """Write to a temporary file beside path, then rename over it, so a crash
    leaves either the old backup or the new one, never half of one."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    # mkstemp creates the file 0600, so the secrets are never readable by others.
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".%s." % os.path.basename(path),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(parent)


def _fsync_dir(parent):
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
