"""The host backup as commands meet it: --backup and --no-backup, its
password ($TOKEN_BACKUP_PASSWORD or a prompt, never argv, where ps and shell
history would keep it), opening it before the token is written and saving
to it after. The file itself is host_tools.backup.vault's.

The token never gives a secret back, so this backup is the one copy a user
can recover from. Every change to the token (add, import, rename, delete)
updates it under its lock, so the two stay in step.
"""
import os

from host_tools.backup import vault
from host_tools.cli.common import (ask_hidden, display_path, env_flag, plural, reason,
                                   stdin_is_tty)
from host_tools.errors import EXIT_REFUSED, CommandError, FormatError, PasswordError
from host_tools.formats import aegis


BACKUP_PASSWORD_ENV = "TOKEN_BACKUP_PASSWORD"


NO_BACKUP_ENV = "TOKEN_NO_BACKUP"


DEFAULT_BACKUP_HELP = ("$TOKEN_BACKUP, else backup.aegis.json in "
                       "$XDG_DATA_HOME/totp-token (~/.local/share/totp-token)")


NO_BACKUP_PASSWORD = ("a backup password is needed: set %s, or pass --no-backup"
                      % BACKUP_PASSWORD_ENV)


SIM_NOTE = ("backup: not saved, this is a simulated token (--backup PATH or $TOKEN_BACKUP "
            "keeps one for it)")


def backup_arguments(p):
    p.add_argument("--backup", metavar="PATH",
                   help="the encrypted backup to update (default: %s); its password comes "
                        "from $%s or a prompt" % (DEFAULT_BACKUP_HELP, BACKUP_PASSWORD_ENV))
    p.add_argument("--no-backup", action="store_true",
                   help="don't update the backup (so does %s=1); the token never gives "
                        "secrets back, so without a backup a lost token means re-enrolling "
                        "every account" % NO_BACKUP_ENV)


def backup_path(args):
    return os.path.abspath(os.path.expanduser(getattr(args, "backup", None)
                                              or vault.default_backup_path()))


class Backup:
    """The backup a command will update, with a password already checked."""

    def __init__(self, path, password, exists):
        self.path = path
        self.password = password
        self.exists = exists


def backup_password(path, new, missing, given=None):
    """The password for the backup at path: `given` (a --password option), else
    $TOKEN_BACKUP_PASSWORD, else asked on the terminal (twice for a new file);
    without a terminal, CommandError(missing)."""
    if given is not None:
        if not given:
            raise CommandError("--password is empty", "password_required")
        return given
    if os.environ.get(BACKUP_PASSWORD_ENV):
        return os.environ[BACKUP_PASSWORD_ENV]
    if not stdin_is_tty():
        raise CommandError(missing, "password_required")
    shown = display_path(path)
    if new:
        password = ask_hidden("Backup password for %s (Aegis format, new file): " % shown)
        if password and ask_hidden("Type it again: ") != password:
            raise CommandError("the two backup passwords differ; nothing was sent to the token",
                               "password_mismatch")
    else:
        password = ask_hidden("Backup password for %s (Aegis format): " % shown)
    if not password:
        raise CommandError("the backup password is empty; nothing was sent to the token",
                           "password_required")
    return password


def read_backup(path, password):
    """Parsed accounts of the backup at path; CommandError (exit 2) if it can't be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CommandError("no backup at %s" % path, "no_backup") from None
    except OSError as e:
        raise CommandError("cannot read the backup at %s: %s" % (path, reason(e)),
                           "bad_backup") from None
    try:
        return aegis.load(data, password)
    except PasswordError as e:
        raise CommandError("cannot open the backup at %s: %s" % (path, e),
                           "bad_password") from None
    except FormatError as e:
        raise CommandError("the backup at %s can't be read: %s" % (path, e),
                           "bad_backup") from None


def _nearest_dir(path):
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    return parent or os.curdir


def sim_without_backup(args, info):
    """Whether the token is the simulator and no backup was named for it: the
    default backup is the user's own, where demo accounts must never land."""
    return ((info or {}).get("board") == "sim" and not getattr(args, "backup", None)
            and not os.environ.get(vault.BACKUP_ENV))


def sim_note(args, info):
    """What to say when the simulator's accounts go into no backup, or None."""
    off = getattr(args, "no_backup", False) or env_flag(NO_BACKUP_ENV)
    return SIM_NOTE if not off and sim_without_backup(args, info) else None


def _backup_off(args, info):
    return getattr(args, "no_backup", False) or env_flag(NO_BACKUP_ENV) \
        or sim_without_backup(args, info)


def open_backup(args, info=None, opened=None):
    """The backup `add` or `import` will update, settled before the token is
    written: path, password (checked against the file when it exists) and a
    directory we can write. None when the user opted out, or for the
    simulator without a backup of its own (info: the token's `info` reply).
    opened: the same backup, already read (backup_to_compare), so its
    password is not asked twice."""
    if _backup_off(args, info):
        return None
    path = backup_path(args)
    if os.path.isdir(path):
        raise CommandError("the backup path %s is a directory; pass --backup FILE" % path,
                           "bad_backup")
    exists = os.path.exists(path)
    if opened is not None:
        password = opened.password
    else:
        password = backup_password(path, not exists, NO_BACKUP_PASSWORD)
    if exists and opened is None:
        read_backup(path, password)  # a wrong password stops us here, not after the write
    parent = _nearest_dir(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError("cannot write the backup at %s: %s is not writable (pass "
                           "--backup PATH, or --no-backup)" % (path, parent), "bad_backup")
    return Backup(path, password, exists)


def merge(backup, accounts):
    in_file = vault.merge_backup(backup.path, accounts, backup.password)
    return {"path": backup.path, "saved": len(accounts), "total": len(in_file)}


def save_backup(backup, accounts, done, data=None):
    """Merge accounts the token now holds into the backup; returns what to
    report. done says what already happened on the token, for the error."""
    try:
        return merge(backup, accounts)
    except (OSError, ValueError) as e:  # FormatError is a ValueError
        raise CommandError("%s, but the backup at %s failed: %s" % (done, backup.path, reason(e)),
                           "backup_failed", EXIT_REFUSED, data) from None


def backup_line(info):
    return ("backup: %s saved to %s (encrypted, open it in Aegis with the backup password)"
            % (plural(info["saved"], "account"), info["path"]))


def rename_in_backup(backup, old, new):
    """Rename the entry (issuer, name) old to new in the backup file; False if
    the backup has no such entry."""
    return vault.rename_backup_entry(backup.path, backup.password, old, new)


def _read_existing(path):
    password = backup_password(path, False, NO_BACKUP_PASSWORD)
    backup = Backup(path, password, True)
    backup.accounts = read_backup(path, password).accounts
    return backup


def _password_at_hand():
    return bool(os.environ.get(BACKUP_PASSWORD_ENV)) or stdin_is_tty()


def backup_in_step(args, info):
    """The backup a rename or delete must follow, its password checked and its
    accounts read; None when there is none (or it is off, or the token is the
    simulator without one of its own). Without the password at hand it stops
    the command before the token changes, so the two never drift apart."""
    if _backup_off(args, info):
        return None
    path = backup_path(args)
    if not os.path.isfile(path):
        return None
    if not _password_at_hand():
        raise CommandError("the backup at %s must follow this change, but its password is "
                           "not at hand: set %s, or pass --no-backup to change the token "
                           "alone; nothing was changed" % (path, BACKUP_PASSWORD_ENV),
                           "password_required")
    return _read_existing(path)


def backup_to_compare(args, info):
    """The backup whose secrets an import compares with its entries (the
    token never gives one back), read; None when there is none to read: off,
    the simulator without one, no file yet, or its password not at hand
    (an import with nothing new to write needs none, and goes on)."""
    if _backup_off(args, info):
        return None
    path = backup_path(args)
    if not os.path.isfile(path) or not _password_at_hand():
        return None
    return _read_existing(path)


def read_backup_for(args, path):
    """(parsed accounts, password) of the backup at path."""
    if not os.path.exists(path):
        raise CommandError("no backup at %s" % path, "no_backup")
    password = backup_password(path, False, "the backup is encrypted: set %s, or pass "
                               "--password" % BACKUP_PASSWORD_ENV, args.password)
    return read_backup(path, password), password


def include_deleted_option(p):
    p.add_argument("--include-deleted", action="store_true",
                   help="also the accounts deleted from the token, which the backup keeps "
                        "marked as deleted")
