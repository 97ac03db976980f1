"""The host-side backup: the one copy of the secrets a user can recover from.

Secrets never leave the token over USB, so the only copy is written on the
host when accounts are provisioned, as a password-encrypted Aegis vault
(host_tools.formats.aegis), so the Aegis app can open it if the token is
lost. Every change re-reads the file and writes it under a lock, atomically.
"""
import contextlib
import datetime
import os

try:
    import fcntl
except ImportError:  # Windows: no flock; one writer at a time is then up to the user
    fcntl = None

from host_tools.formats import aegis
from host_tools.privatefile import write_private

BACKUP_ENV = "TOKEN_BACKUP"


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
        return aegis.load(f.read(), password).accounts


def write_backup(path, accounts, password, scrypt_n=aegis.SCRYPT_N):
    """Replace the backup with these accounts, encrypted with the password."""
    _require_password(password)
    with locked(path):
        _write_atomic(path, aegis.dump(accounts, password, scrypt_n))


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
        return {"version": aegis.DB_VERSION, "entries": []}
    return aegis.open_db(existing, password)


def merge_backup(path, accounts, password, scrypt_n=aegis.SCRYPT_N):
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
            if key in new and (not aegis.is_deleted(entry) or _same_secret(entry, new[key])):
                entries.append(aegis.entry_json(new.pop(key)))
            else:
                # Kept raw, so entries we can't parse (and Aegis-only fields) survive.
                entries.append(entry)
        entries.extend(aegis.entry_json(a) for a in new.values())
        db["entries"] = entries
        _write_atomic(path, aegis.seal(db, password, scrypt_n))
    return aegis.parse_entries(db).accounts


def _same_secret(entry, account):
    try:
        return aegis.entry_account(entry).secret == bytes(account.secret)
    except ValueError:
        return False


def rename_backup_entry(path, password, old, new, scrypt_n=aegis.SCRYPT_N):
    """Give the entry labelled old = (issuer, name) the label new, editing the
    raw entry so Aegis-only fields survive. Entries marked deleted keep their
    label. Returns False when the backup has no such entry (nothing is
    written then)."""
    def rename(entry):
        entry["issuer"], entry["name"] = new
    return _edit_live_entry(path, password, old, rename, scrypt_n)


def set_favourite(path, password, key, on, scrypt_n=aegis.SCRYPT_N):
    """Set Aegis's "favorite" on the live entry labelled key = (issuer,
    name). Returns False when there is no such entry."""
    def mark(entry):
        entry["favorite"] = bool(on)
    return _edit_live_entry(path, password, key, mark, scrypt_n)


def mark_deleted(path, password, key, when=None, scrypt_n=aegis.SCRYPT_N):
    """Mark the live entry labelled key = (issuer, name) as deleted from the
    token, keeping its secret. Returns False when there is no such entry."""
    when = when or datetime.date.today().isoformat()

    def mark(entry):
        old = entry.get("note") if isinstance(entry.get("note"), str) else ""
        entry["note"] = "%s on %s (provision.py delete)%s" % (
            aegis.DELETED_NOTE, when, "\n" + old if old else "")
    return _edit_live_entry(path, password, key, mark, scrypt_n)


def _edit_live_entry(path, password, key, change, scrypt_n):
    """change(entry) on the raw entries labelled key that are not marked
    deleted, under the lock; False, and nothing written, when there is none."""
    _require_password(password)
    with locked(path):
        with open(path, "rb") as f:
            db = aegis.open_db(f.read(), password)
        found = False
        for entry in db["entries"]:
            if _entry_key(entry) == tuple(key) and not aegis.is_deleted(entry):
                change(entry)
                found = True
        if found:
            _write_atomic(path, aegis.seal(db, password, scrypt_n))
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
    """Written whole or not at all (privatefile.py), so a crash leaves either
    the old backup or the new one, never half of one."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    write_private(path, text.encode("utf-8"))
