"""Accounts in and out, for provision.py: `import`, `restore`, `export`,
`rename`, and the host-side backup that `add` and `import` keep.

The token never gives a secret back, so the one copy a user can recover from
is the one the host keeps when it provisions: a password-encrypted Aegis
vault (host_tools.aegis), updated right after the token accepted the
accounts. Its password comes from $TOKEN_BACKUP_PASSWORD or a prompt, never
from argv, where ps and shell history would keep it.

Whatever can fail without the token (files, options) fails before a port is
opened, with exit 2; whatever needs the token's answer (a name clash, a full
token, whether it is the simulator) is checked before anything is asked, and
the backup password before anything is written. Every change to the token
(add, import, rename, delete) updates the backup under its lock, so the two
stay in step. Nothing here prints a secret, except `export --uri`, which
exists to show them.
"""
import base64
import dataclasses
import getpass
import os
import re
import sys
import unicodedata
from urllib.parse import quote, urlencode

from host_tools import aegis, importers, terminal
from host_tools.client import RequestTooLongError, TokenError, check_fits
from host_tools.imported import FormatError, Parsed, PasswordError
from host_tools.otpauth import MAX_NAME, Account
from host_tools.progress import Progress

EXIT_REFUSED, EXIT_USAGE, EXIT_DEVICE = 1, 2, 3  # as provision.py's
EXIT_INTERRUPTED = 130

BACKUP_PASSWORD_ENV = "TOKEN_BACKUP_PASSWORD"
IMPORT_PASSWORD_ENV = "TOKEN_IMPORT_PASSWORD"
NO_BACKUP_ENV = "TOKEN_NO_BACKUP"

DEFAULT_BACKUP_HELP = ("$TOKEN_BACKUP, else backup.aegis.json in "
                       "$XDG_DATA_HOME/totp-token (~/.local/share/totp-token)")
NO_BACKUP_PASSWORD = ("a backup password is needed: set %s, or pass --no-backup"
                      % BACKUP_PASSWORD_ENV)
SIM_NOTE = ("backup: not saved, this is a simulated token (--backup PATH or $TOKEN_BACKUP "
            "keeps one for it)")


class CommandError(Exception):
    """A command that failed: message and machine code as every error has,
    the exit code, `data` for the JSON error (what was done before it failed)
    and `report`, the same for people, printed on stdout."""

    def __init__(self, message, code="bad_input", exit_code=EXIT_USAGE, data=None,
                 report=None):
        Exception.__init__(self, message)
        self.message = message
        self.code = code
        self.exit_code = exit_code
        self.data = data
        self.report = report or []


def stdin_is_tty():
    return sys.stdin is not None and sys.stdin.isatty()


def _ask_hidden(prompt):
    try:
        return getpass.getpass(prompt)
    except EOFError:  # Ctrl-D at the prompt
        return ""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "no", "false")


def display_path(path):
    """path with the home directory as ~, as people write it."""
    home = os.path.expanduser("~")
    if home not in ("", "~", os.sep) and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def _reason(error):
    # An OSError's str() repeats the errno; its strerror reads better.
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def table(header, rows):
    """Columns padded to their widest cell, header first."""
    widths = [max(len(str(row[i])) for row in (header,) + tuple(rows))
              for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in (header,) + tuple(rows)]


def step_text(kind, period=None, counter=None):
    return "counter %s" % counter if kind == "hotp" else "%ss" % period


# ---- the backup ----

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
                                              or aegis.default_backup_path()))


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
        password = _ask_hidden("Backup password for %s (Aegis format, new file): " % shown)
        if password and _ask_hidden("Type it again: ") != password:
            raise CommandError("the two backup passwords differ; nothing was sent to the token",
                               "password_mismatch")
    else:
        password = _ask_hidden("Backup password for %s (Aegis format): " % shown)
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
        raise CommandError("cannot read the backup at %s: %s" % (path, _reason(e)),
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
            and not os.environ.get(aegis.BACKUP_ENV))


def sim_note(args, info):
    """What to say when the simulator's accounts go into no backup, or None."""
    off = getattr(args, "no_backup", False) or _env_flag(NO_BACKUP_ENV)
    return SIM_NOTE if not off and sim_without_backup(args, info) else None


def open_backup(args, info=None):
    """The backup `add` or `import` will update, settled before the token is
    written: path, password (checked against the file when it exists) and a
    directory we can write. None when the user opted out, or for the
    simulator without a backup of its own (info: the token's `info` reply)."""
    if getattr(args, "no_backup", False) or _env_flag(NO_BACKUP_ENV):
        return None
    if sim_without_backup(args, info):
        return None
    path = backup_path(args)
    if os.path.isdir(path):
        raise CommandError("the backup path %s is a directory; pass --backup FILE" % path,
                           "bad_backup")
    exists = os.path.exists(path)
    password = backup_password(path, not exists, NO_BACKUP_PASSWORD)
    if exists:
        read_backup(path, password)  # a wrong password stops us here, not after the write
    parent = _nearest_dir(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError("cannot write the backup at %s: %s is not writable (pass "
                           "--backup PATH, or --no-backup)" % (path, parent), "bad_backup")
    return Backup(path, password, exists)


def _merge(backup, accounts):
    in_file = aegis.merge_backup(backup.path, accounts, backup.password)
    return {"path": backup.path, "saved": len(accounts), "total": len(in_file)}


def save_backup(backup, accounts, done, data=None):
    """Merge accounts the token now holds into the backup; returns what to
    report. done says what already happened on the token, for the error."""
    try:
        return _merge(backup, accounts)
    except (OSError, ValueError) as e:  # FormatError is a ValueError
        raise CommandError("%s, but the backup at %s failed: %s" % (done, backup.path, _reason(e)),
                           "backup_failed", EXIT_REFUSED, data) from None


def backup_line(info):
    return ("backup: %s saved to %s (encrypted, open it in Aegis with the backup password)"
            % (_plural(info["saved"], "account"), info["path"]))


def rename_in_backup(backup, old, new):
    """Rename the entry (issuer, name) old to new in the backup file; False if
    the backup has no such entry."""
    return aegis.rename_backup_entry(backup.path, backup.password, old, new)


# ---- reading import files ----

def _source(path):
    # importers.load takes a str that looks like content ("{...", "otpauth:...")
    # for the content itself; "./" keeps a file name from ever looking like that.
    if "\n" in path:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise CommandError("cannot read %s: %s" % (path, _reason(e)), "bad_file") from None
    return path if os.path.isabs(path) else os.path.join(os.curdir, path)


def _about(path, message):
    return message if path in message else "%s: %s" % (path, message)


def _load_file(path, password, kind, asked):
    """Parsed accounts of one file; asked is a password typed for an earlier
    file, tried first so several exports of one app need it once."""
    source = _source(path)
    try:
        try:
            return importers.load(source, password, kind), asked
        except PasswordError:
            if password is not None or not stdin_is_tty():
                raise
        if asked is not None:
            try:
                return importers.load(source, asked, kind), asked
            except PasswordError:
                pass
        asked = _ask_hidden("Password for %s: " % path)
        return importers.load(source, asked, kind), asked
    except PasswordError as e:
        hint = "" if password is not None or asked is not None else \
            " (give it with --password or $%s)" % IMPORT_PASSWORD_ENV
        raise CommandError(_about(path, str(e)) + hint, "bad_password") from None
    except FormatError as e:
        raise CommandError(_about(path, str(e)), "bad_file") from None


def load_files(paths, password=None, kind=None):
    """Every account in the files, and (label, reason) for entries the token
    can't hold, labelled with their file when there are several."""
    out = Parsed()
    asked = None
    for path in paths:
        parsed, asked = _load_file(path, password, kind, asked)
        prefix = "%s: " % os.path.basename(path) if len(paths) > 1 else ""
        out.accounts.extend(parsed.accounts)
        out.rejected.extend((prefix + label, reason) for label, reason in parsed.rejected)
    return out


# ---- planning an import against what the token holds ----

class Plan:
    def __init__(self):
        self.write = []     # Accounts to write, in order
        self.skipped = []   # (label, reason): already on the token, or twice in the import
        self.rejected = []  # (label, reason): the token can't hold them
        self.renamed = []   # (label in the file, label it gets)
        self.clashes = []   # (label, reason): same label, different account


def _same_settings(account, meta):
    """Whether the token's account (as `list` shows it) is this one. The token
    never shows a secret, so the label and settings are all there is to compare;
    an HOTP counter moves with use, so it is left out."""
    if (account.kind, account.algorithm, account.digits) != \
            (meta.get("kind"), meta.get("algorithm"), meta.get("digits")):
        return False
    return account.kind == "hotp" or account.period == meta.get("period")


def _trim_utf8(text, limit):
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def _free_name(account, taken):
    n = 2
    while True:
        suffix = " (%d)" % n
        # The suffix must survive the token's 40-byte name limit: shorten the name instead.
        name = _trim_utf8(account.name, MAX_NAME - len(suffix)).rstrip() + suffix
        if (account.issuer, name) not in taken:
            return name
        n += 1


def _fits(account):
    """None, or why the token can't take the account in one request line."""
    try:
        check_fits("add", account.to_args())
    except RequestTooLongError as e:
        return e.message
    return None


def make_plan(incoming, on_token, rename_duplicates):
    existing = {(a.get("issuer", ""), a.get("name", "")): a for a in on_token}
    taken = set(existing)
    plan = Plan()
    first = {}  # label -> the account that claimed it earlier in this import
    for account in incoming:
        key = (account.issuer, account.name)
        if key in existing:
            if _same_settings(account, existing[key]):
                plan.skipped.append((account.label, "already on the token"))
                continue
            why = "on the token with other settings"
        elif key in first:
            if first[key].to_args() == account.to_args():
                plan.skipped.append((account.label, "twice in the import"))
                continue
            why = "twice in the import, with another secret or settings"
        else:
            why = None
        if why is not None:
            if not rename_duplicates:
                plan.clashes.append((account.label, why))
                continue
            old = account.label
            account = dataclasses.replace(account, name=_free_name(account, taken))
            key = (account.issuer, account.name)
            plan.renamed.append((old, account.label))
        too_long = _fits(account)
        if too_long:
            plan.rejected.append((account.label, too_long))
            continue
        taken.add(key)
        first[key] = account
        plan.write.append(account)
    return plan


def _pairs(items):
    return [{"label": label, "reason": reason} for label, reason in items]


def _report(plan, written=(), not_written=()):
    return {"to_write": [a.label for a in plan.write],
            "written": [a.label for a in written],
            "not_written": [a.label for a in not_written],
            "skipped": _pairs(plan.skipped), "rejected": _pairs(plan.rejected),
            "renamed": [{"from": old, "to": new} for old, new in plan.renamed]}


def _notes(plan):
    return (["skipped: %s: %s" % pair for pair in plan.skipped + plan.rejected]
            + ["renamed: %s -> %s" % pair for pair in plan.renamed])


def preview(plan, used, capacity):
    rows = [(a.issuer, a.name, a.kind, a.algorithm, a.digits,
             step_text(a.kind, a.period, a.counter)) for a in plan.write]
    lines = table(("issuer", "name", "type", "algorithm", "digits", "period/counter"),
                  rows) if rows else []
    lines += _notes(plan)
    lines.append("%s to write; the token has %s" % (
        _plural(len(plan.write), "account"), slots_text(used, capacity)))
    return lines


def slots_text(used, capacity):
    if isinstance(capacity, int):
        return "%d of %d slots used, %d free" % (used, capacity, capacity - used)
    return "%d slots used" % used


def _confirm(question, cancelled="cancelled: nothing was written"):
    sys.stderr.write("%s [y/N] " % question)
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError(cancelled, "cancelled")


def _write_all(client, accounts, progress):
    """Add the accounts in order, stopping at the first failure; returns
    (written, not written, the error or None). Ctrl-C stops it the same way,
    so what reached the token still gets into the backup."""
    written = []
    with progress:
        for i, account in enumerate(accounts):
            try:
                client.add(account)
            except (TokenError, KeyboardInterrupt) as e:
                return written, accounts[i:], e
            written.append(account)
            progress.step()
    return written, [], None


def _uncertain(error):
    """Whether the add that failed may still have landed: the link went (or
    Ctrl-C came) before its reply, which says nothing about the write."""
    return isinstance(error, KeyboardInterrupt) or error.exit_code == EXIT_DEVICE


def _stopped(error, written, not_written, backup_note, data):
    """The CommandError for a write that stopped part way."""
    if isinstance(error, KeyboardInterrupt):
        code, exit_code, why = "interrupted", EXIT_INTERRUPTED, "interrupted"
    else:
        code, exit_code, why = error.code, error.exit_code, error.message
    message = "stopped after writing %d of %d accounts: %s" % (
        len(written), len(written) + len(not_written), why)
    if _uncertain(error):
        message += "; %s may or may not have reached the token: run list" % not_written[0].label
    if written:
        message += "; the %d written stay on the token" % len(written)
    message += backup_note
    report = ["written: %s" % (", ".join(a.label for a in written) or "none"),
              "not written: %s" % ", ".join(a.label for a in not_written)]
    if data.get("backup"):
        report.append(backup_line(data["backup"]))
    return CommandError(message, code, exit_code, data, report)


DELETED_REASON = "deleted from the token (restore --include-deleted brings it back)"


def provision_accounts(args, connect, parsed, open_backup_for=None, verb="import"):
    """The body of import and restore: plan against the token's accounts,
    refuse clashes and overflow before asking anything, confirm, write with a
    progress bar, then update the backup with what was written.
    open_backup_for(info): the backup to update (or None), asked for once the
    plan stands, so a clash costs no password prompt."""
    with connect() as client:
        on_token = client.list_accounts()
        info = client.info()
        capacity = info.get("capacity")
        deleted = getattr(args, "include_deleted", False)
        plan = make_plan(parsed.accounts + (parsed.deleted if deleted else []), on_token,
                         args.rename_duplicates)
        plan.rejected[:0] = parsed.rejected
        if not deleted:
            plan.skipped += [(a.label, DELETED_REASON) for a in parsed.deleted]
        used = len(on_token)
        data = _report(plan)
        data.update(count=used, capacity=capacity, backup=None, dry_run=bool(args.dry_run))
        if plan.clashes:
            data["clashes"] = _pairs(plan.clashes)
            raise CommandError(
                "name clash, nothing was written: %s. Add --rename-duplicates to store "
                "them as \"name (2)\", \"name (3)\"..., or rename the token's accounts first"
                % "; ".join("%s (%s)" % pair for pair in plan.clashes),
                "name_taken", EXIT_REFUSED, data)
        if isinstance(capacity, int) and used + len(plan.write) > capacity:
            raise CommandError("token full: %d free slots, %d to %s; nothing was written"
                               % (capacity - used, len(plan.write), verb),
                               "store_full", EXIT_REFUSED, data)
        lines = preview(plan, used, capacity)
        if args.dry_run:
            return data, "\n".join(lines + ["dry run: nothing was written"])
        if not plan.write:
            return data, "\n".join(lines + ["nothing to %s" % verb])
        backup = open_backup_for(info) if open_backup_for else None
        note = sim_note(args, info) if open_backup_for is not None else None
        if not args.json:
            print(terminal.safe("\n".join(lines)), flush=True)
        if not args.yes:
            _confirm("Write %s to the token?" % _plural(len(plan.write), "account"))
        progress = Progress(len(plan.write), "%sing" % verb.rstrip("e"),
                            enabled=not args.json)
        written, not_written, error = _write_all(client, plan.write, progress)
    data.update(_report(plan, written, not_written), count=used + len(written))
    done = "%s %s to the token" % ("imported" if verb == "import" else "restored",
                                   _plural(len(written), "account"))
    backup_note = ""
    if backup is not None and error is None:
        data["backup"] = save_backup(backup, written, done, data)
    elif backup is not None:
        # Stopped part way: what reached the token still goes into the backup,
        # and so does an add that may have landed, or its secret could be lost:
        # a backup entry too many does no harm.
        keep = written + (not_written[:1] if _uncertain(error) else [])
        try:
            data["backup"] = _merge(backup, keep) if keep else None
        except (OSError, ValueError) as e:
            backup_note = "; the backup at %s failed too: %s" % (backup.path, _reason(e))
    if error is not None:
        raise _stopped(error, written, not_written, backup_note, data)
    text = [done + " (%s)" % slots_text(used + len(written), capacity)]
    if data["backup"]:
        text.append(backup_line(data["backup"]))
    elif note:
        text.append(note)
    return data, "\n".join(text)


# ---- import ----

IMPORT_DETAILS = """\
Formats (detected from the content): otpauth:// URIs one per line, Google
Authenticator exports (otpauth-migration://, as text or QR), QR code images,
Aegis vaults, 2FAS backups, andOTP backups; plain or password-encrypted.

Nothing is written until every file has been read and checked: entries the
token can't hold (MD5, 10 digits, ...) are listed as skipped, accounts already
on the token (same issuer, name and settings; the token never shows secrets,
so those are all there is to compare) are skipped, and a label used by a
different account stops the import unless --rename-duplicates. If there are
more accounts than free slots nothing is written. If the token stops part way
(exit 1 refused, 3 link lost), the accounts written so far stay on it and are
reported, with the ones not written.

The written accounts are added to the encrypted host backup (see --backup)."""


def import_arguments(p):
    p.description += "\n\n" + IMPORT_DETAILS
    p.add_argument("files", nargs="+", metavar="FILE", help="export files or QR images")
    p.add_argument("--password", metavar="P",
                   help="the files' password, if encrypted (visible to ps: prefer $%s, "
                        "or the prompt you get on a terminal)" % IMPORT_PASSWORD_ENV)
    p.add_argument("--format", type=str.lower, choices=importers.KINDS, metavar="KIND",
                   help="read every file as KIND (%s) instead of detecting it"
                        % ", ".join(importers.KINDS))
    _write_options(p)
    backup_arguments(p)


def _write_options(p):
    p.add_argument("--yes", action="store_true", help="write without asking first")
    p.add_argument("--rename-duplicates", action="store_true",
                   help="store an account whose issuer and name is taken by another as "
                        "\"name (2)\", \"name (3)\", ... instead of stopping")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be written, and write nothing")


def _need_confirmation(args, verb):
    # Checked first, so a script that forgot --yes fails before any prompt or write.
    if not args.yes and not args.dry_run and not stdin_is_tty():
        raise CommandError("%s asks before writing and there is no terminal to ask on: "
                           "add --yes to %s without asking" % (verb, verb), "confirm_required")


def _no_accounts(parsed, what):
    data = {"rejected": _pairs(parsed.rejected)}
    reasons = "; ".join("%s: %s" % pair for pair in parsed.rejected[:5])
    more = "; ..." if len(parsed.rejected) > 5 else ""
    return CommandError("nothing to import: no account in %s can go on the token (%s%s)"
                        % (what, reasons, more), "nothing_to_import", EXIT_USAGE, data)


def run_import(args, connect):
    _need_confirmation(args, "import")
    password = args.password
    if password is None and os.environ.get(IMPORT_PASSWORD_ENV):
        password = os.environ[IMPORT_PASSWORD_ENV]
    parsed = load_files(args.files, password, args.format)
    if not parsed.accounts:
        raise _no_accounts(parsed, ", ".join(args.files))
    opener = None if args.dry_run else (lambda info: open_backup(args, info))
    return provision_accounts(args, connect, parsed, opener, "import")


# ---- restore ----

RESTORE_DETAILS = """\
Reads an encrypted backup (the one `add` and `import` keep, or any Aegis vault)
and writes its accounts as `import` does: duplicates skipped, clashes and
overflow refused before writing, a stop part way reported. Restoring the same
backup onto a second token makes a spare that shows the same codes (HOTP
counters come back as they were when backed up; the order is the backup's, see
`sort` and `move`). Accounts deleted from the token stay in the backup, marked,
and are left out unless --include-deleted; those it brings back lose the mark.
Otherwise the backup read is not changed. Its password: --password,
$TOKEN_BACKUP_PASSWORD, or a prompt."""


def restore_arguments(p):
    p.description += "\n\n" + RESTORE_DETAILS
    p.add_argument("backup_file", nargs="?", metavar="BACKUP",
                   help="the backup (default: %s)" % DEFAULT_BACKUP_HELP)
    p.add_argument("--password", metavar="P",
                   help="the backup's password (visible to ps: prefer $%s or the prompt)"
                        % BACKUP_PASSWORD_ENV)
    _include_deleted_option(p)
    _write_options(p)


def _include_deleted_option(p):
    p.add_argument("--include-deleted", action="store_true",
                   help="also the accounts deleted from the token, which the backup keeps "
                        "marked as deleted")


def _read_backup_for(args, path):
    """(parsed accounts, password) of the backup at path."""
    if not os.path.exists(path):
        raise CommandError("no backup at %s" % path, "no_backup")
    password = backup_password(path, False, "the backup is encrypted: set %s, or pass "
                               "--password" % BACKUP_PASSWORD_ENV, args.password)
    return read_backup(path, password), password


def run_restore(args, connect):
    _need_confirmation(args, "restore")
    path = os.path.abspath(os.path.expanduser(args.backup_file or aegis.default_backup_path()))
    parsed, password = _read_backup_for(args, path)
    if not parsed.accounts and not (args.include_deleted and parsed.deleted):
        raise _no_accounts(parsed, path)
    data, text = provision_accounts(args, connect, parsed, None, "restore")
    back = [a for a in parsed.deleted if a.label in data.get("written", ())]
    if args.include_deleted and back:
        # Back on the token, so no longer deleted: the same secret replaces the mark.
        try:
            aegis.merge_backup(path, back, password)
        except (OSError, ValueError) as e:
            raise CommandError("restored to the token, but the backup at %s failed: %s"
                               % (path, _reason(e)), "backup_failed", EXIT_REFUSED,
                               data) from None
    return data, text


# ---- export ----

EXPORT_DETAILS = """\
Works only from the encrypted backup on this computer, never from the token:
the token never gives a secret back. --uri prints each account's otpauth://
URI on stdout (they hold the secrets: mind your terminal's scrollback);
--qr DIR writes one QR code PNG per account (readable only by you), for an
authenticator app to scan. The backup's password: --password,
$TOKEN_BACKUP_PASSWORD, or a prompt."""


def export_arguments(p):
    p.description += "\n\n" + EXPORT_DETAILS
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--uri", action="store_true", help="print otpauth:// URIs, one per line")
    out.add_argument("--qr", metavar="DIR", help="write a QR code PNG per account into DIR")
    p.add_argument("--backup", metavar="PATH",
                   help="the backup to read (default: %s)" % DEFAULT_BACKUP_HELP)
    p.add_argument("--password", metavar="P",
                   help="the backup's password (visible to ps: prefer $%s or the prompt)"
                        % BACKUP_PASSWORD_ENV)
    p.add_argument("--name", metavar="NAME",
                   help="only this account: its name, or its label issuer:name")
    _include_deleted_option(p)


def to_uri(account):
    """The otpauth:// URI that Account.from_uri reads back as this account."""
    kind = "hotp" if account.kind == "hotp" else "totp"
    if account.issuer and ":" not in account.issuer:
        label = quote(account.issuer, safe="") + ":" + quote(account.name, safe="")
    elif ":" in account.name:
        # A bare "a:b" would read as issuer a; the empty issuer keeps it a name.
        label = ":" + quote(account.name, safe="")
    else:
        label = quote(account.name, safe="")
    params = {"secret": base64.b32encode(bytes(account.secret)).decode().rstrip("=")}
    if account.issuer:
        params["issuer"] = account.issuer
    params["algorithm"] = account.algorithm
    params["digits"] = account.digits
    if account.kind == "hotp":
        params["counter"] = account.counter
    else:
        params["period"] = account.period
    if account.kind == "steam":
        params["encoder"] = "steam"
    return "otpauth://%s/%s?%s" % (kind, label, urlencode(params, quote_via=quote))


def safe_file_name(account):
    """issuer_name as a file name any system takes: ASCII letters, digits, . _ -"""
    text = "%s_%s" % (account.issuer, account.name) if account.issuer else account.name
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return text[:80] or "account"


def _pick(accounts, name):
    found = [a for a in accounts if a.label == name] or [a for a in accounts if a.name == name]
    if not found:
        raise CommandError("no account %r in the backup" % name, "not_found")
    if len(found) > 1:
        raise CommandError("%r names %d accounts in the backup (%s): give issuer:name"
                           % (name, len(found), ", ".join(a.label for a in found)), "ambiguous")
    return found


def _write_qr(directory, account, used):
    import zxingcpp
    from PIL import Image
    base = safe_file_name(account)
    name, n = base + ".png", 2
    while name in used:
        name, n = "%s-%d.png" % (base, n), n + 1
    used.add(name)
    path = os.path.join(directory, name)
    code = zxingcpp.create_barcode(to_uri(account), zxingcpp.BarcodeFormat.QRCode)
    image = Image.fromarray(code.to_image(scale=8))
    # The image holds the secret: created readable by the user alone.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        image.save(f, "PNG")
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_TRUNC
    return path


def run_export(args):
    path = backup_path(args)
    parsed, _ = _read_backup_for(args, path)
    everyone = parsed.accounts + (parsed.deleted if args.include_deleted else [])
    accounts = _pick(everyone, args.name) if args.name else everyone
    if not accounts:
        raise CommandError("the backup at %s holds no account to export" % path, "no_accounts")
    if args.uri:
        uris = [to_uri(a) for a in accounts]
        data = {"accounts": [{"label": a.label, "uri": u} for a, u in zip(accounts, uris)],
                "count": len(accounts)}
        return data, "\n".join(uris)
    directory = os.path.abspath(os.path.expanduser(args.qr))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        used = set()
        files = [_write_qr(directory, a, used) for a in accounts]
    except OSError as e:
        raise CommandError("cannot write QR codes to %s: %s" % (directory, _reason(e)),
                           "bad_output") from None
    data = {"files": [{"label": a.label, "path": f} for a, f in zip(accounts, files)],
            "count": len(files)}
    return data, "\n".join(["wrote %s to %s (each holds a secret: delete them once scanned)"
                            % (_plural(len(files), "QR code"), directory)]
                           + ["  %s  %s" % (os.path.basename(f), a.label)
                              for a, f in zip(accounts, files)])


# ---- rename ----

def rename_arguments(p):
    p.description += ("\n\nThe account's entry in the host backup is renamed too. When there is\n"
                      "a backup, its password must be at hand ($TOKEN_BACKUP_PASSWORD, or a\n"
                      "prompt on a terminal), or nothing is changed (--no-backup changes the\n"
                      "token alone).")
    p.add_argument("name", metavar="OLD", help="the account's name, or its label issuer:name")
    p.add_argument("new_name", nargs="?", metavar="NEW", help="its new name")
    p.add_argument("--issuer", help="pick the account with this issuer")
    p.add_argument("--new-issuer", metavar="J", help="its new issuer ('' for none)")
    backup_arguments(p)


def _check_new_label(name, issuer):
    # A stand-in account, so the new label gets the same checks as an added one.
    probe = Account(name="x" if name is None else name,
                    issuer="" if issuer is None else issuer, secret=b"\0")
    try:
        probe.validate()
    except ValueError as e:
        raise CommandError(str(e)) from None


def backup_in_step(args, info):
    """The backup a rename or delete must follow, its password checked and its
    accounts read; None when there is none (or it is off, or the token is the
    simulator without one of its own). Without the password at hand it stops
    the command before the token changes, so the two never drift apart."""
    if args.no_backup or _env_flag(NO_BACKUP_ENV) or sim_without_backup(args, info):
        return None
    path = backup_path(args)
    if not os.path.isfile(path):
        return None
    if not os.environ.get(BACKUP_PASSWORD_ENV) and not stdin_is_tty():
        raise CommandError("the backup at %s must follow this change, but its password is "
                           "not at hand: set %s, or pass --no-backup to change the token "
                           "alone; nothing was changed" % (path, BACKUP_PASSWORD_ENV),
                           "password_required")
    password = backup_password(path, False, NO_BACKUP_PASSWORD)
    backup = Backup(path, password, True)
    backup.accounts = read_backup(path, password).accounts
    return backup


def run_rename(args, connect):
    if args.new_name is None and args.new_issuer is None:
        raise CommandError("rename needs NEW, --new-issuer, or both")
    if not args.name.strip():
        raise CommandError("OLD is empty")
    _check_new_label(args.new_name, args.new_issuer)
    request = {"name": args.name, "new_name": args.new_name, "new_issuer": args.new_issuer}
    check_fits("rename", {k: v for k, v in request.items() if v is not None})
    warning = None
    with connect() as client:
        backup = backup_in_step(args, client.info())
        before = {a.get("index"): a for a in client.list_accounts()}
        reply = client.rename(args.name, issuer=args.issuer, new_name=args.new_name,
                              new_issuer=args.new_issuer)
    meta = before.get(reply.get("index"), {})
    old = (meta.get("issuer", ""), meta.get("name", args.name))
    new = (old[0] if args.new_issuer is None else args.new_issuer,
           old[1] if args.new_name is None else args.new_name)
    labels = ["%s:%s" % key if key[0] else key[1] for key in (old, new)]
    index = reply.get("index")
    data = {"index": index, "position": index + 1 if isinstance(index, int) else None,
            "from": labels[0], "to": labels[1], "backup": None, "warnings": []}
    lines = ["renamed %s to %s" % tuple(labels)]
    if backup is not None:
        try:
            found = rename_in_backup(backup, old, new)
        except (OSError, ValueError) as e:
            raise CommandError("renamed on the token, but the backup at %s failed: %s"
                               % (backup.path, _reason(e)), "backup_failed", EXIT_REFUSED,
                               data) from None
        data["backup"] = {"path": backup.path, "updated": found}
        if found:
            lines.append("backup: renamed in %s too" % backup.path)
        else:
            warning = ("%s is not in the backup at %s; only the token was changed"
                       % (labels[0], backup.path))
    if warning:
        data["warnings"].append(warning)
        lines.append("warning: " + warning)
    return data, "\n".join(lines)


# ---- delete ----

def delete_arguments(p):
    p.description += ("\n\nThe host backup keeps the account's entry, secret included, marked\n"
                      "as deleted: `restore` leaves it out, `restore --include-deleted`\n"
                      "brings it back.")
    p.add_argument("name", metavar="NAME", help="account name, or its label issuer:name")
    p.add_argument("--issuer", help="pick the account with this issuer")
    p.add_argument("--yes", action="store_true", help="delete without asking first")
    backup_arguments(p)


def _key(meta):
    return (meta.get("issuer", ""), meta.get("name", ""))


def find_account(accounts, name, issuer=None):
    """The one account (as `list` gives it) that NAME picks, by the token's own
    rule: with issuer, exactly (issuer, name); without, name equal to NAME, or
    issuer:name equal to NAME split at any of its colons."""
    if issuer is not None:
        found = [a for a in accounts if _key(a) == (issuer, name)]
    else:
        pairs = {(name[:i], name[i + 1:]) for i, ch in enumerate(name) if ch == ":" and i}
        found = [a for a in accounts if a.get("name") == name or _key(a) in pairs]
    if not found:
        raise CommandError("no account %s on the token (see list)" % name, "not_found",
                           EXIT_REFUSED)
    if len(found) > 1:
        raise CommandError("%s names %d accounts (%s): give the issuer"
                           % (name, len(found), ", ".join(_label(_key(a)) for a in found)),
                           "ambiguous", EXIT_REFUSED)
    return found[0]


def _label(key):
    return "%s:%s" % key if key[0] else key[1]


def run_delete(args, connect):
    if not args.name.strip():
        raise CommandError("NAME is empty")
    if not args.yes and not stdin_is_tty():
        raise CommandError("delete asks first and there is no terminal to ask on: add --yes "
                           "to delete without asking", "confirm_required")
    with connect() as client:
        info = client.info()
        accounts = client.list_accounts()
        target = find_account(accounts, args.name, args.issuer)
        key, label = _key(target), _label(_key(target))
        position = accounts.index(target) + 1
        backup = backup_in_step(args, info)
        kept = backup is not None and key in {(a.issuer, a.name) for a in backup.accounts}
        if not args.yes:
            sys.stderr.write("%s\n" % (
                "the backup keeps its secret, marked as deleted (restore --include-deleted "
                "brings it back)" if kept else
                "it is in no backup: its secret will be gone for good"))
            _confirm("Delete %s (%d/%d) from the token?" % (label, position, len(accounts)),
                     "cancelled: nothing was deleted")
        data = client.delete(key[1], issuer=key[0])
    data = dict(data, label=label, position=position, backup=None)
    left = data.get("count")
    lines = ["deleted %s (%d/%d; %s left)" % (label, position, len(accounts), _plural(
        left, "account") if isinstance(left, int) else "%s accounts" % left)]
    if kept:
        try:
            aegis.mark_deleted(backup.path, backup.password, key)
        except (OSError, ValueError) as e:
            raise CommandError("deleted from the token, but the backup at %s failed: %s"
                               % (backup.path, _reason(e)), "backup_failed", EXIT_REFUSED,
                               data) from None
        data["backup"] = {"path": backup.path, "marked_deleted": True}
        lines.append("backup: kept in %s, marked as deleted (restore --include-deleted "
                     "brings it back)" % backup.path)
    elif backup is not None:
        data["backup"] = {"path": backup.path, "marked_deleted": False}
        lines.append("warning: %s was not in the backup at %s" % (label, backup.path))
    elif sim_note(args, info):
        lines.append(SIM_NOTE)
    return data, "\n".join(lines)
