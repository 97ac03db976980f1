"""`import`, `restore` and `export`: accounts in from other apps' files or
the backup, and out of the backup (never out of the token, which never gives
a secret back).

Whatever can fail without the token (files, options) fails before a port is
opened, with exit 2; whatever needs the token's answer (a name clash, a full
token, whether it is the simulator) is checked before anything is asked, and
the backup password before anything is written. Nothing here prints a
secret, except `export --uri`, which exists to show them.
"""
import os

from host_tools import formats, terminal
from host_tools.backup import vault
from host_tools.backup.plan import (make_plan, pairs, report, same_as_token, uncertain,
                                   write_all)
from host_tools.cli.backup_file import (BACKUP_PASSWORD_ENV, DEFAULT_BACKUP_HELP, backup_arguments,
                                        backup_line, backup_path, backup_to_compare,
                                        include_deleted_option, merge, open_backup,
                                        read_backup_for, save_backup, sim_note)
from host_tools.cli.common import (ask_hidden, confirm, plural, reason, slots_text,
                                   stdin_is_tty, step_text, table)
from host_tools.errors import (EXIT_INTERRUPTED, EXIT_REFUSED, EXIT_USAGE, CommandError,
                               FormatError, PasswordError)
from host_tools.formats import image, otpauth
from host_tools.formats.base import Parsed
from host_tools.progress import Progress


IMPORT_PASSWORD_ENV = "TOKEN_IMPORT_PASSWORD"


# ---- reading import files ----

def _source(path):
    # formats.load takes a str that looks like content ("{...", "otpauth:...")
    # for the content itself; "./" keeps a file name from ever looking like that.
    if "\n" in path:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise CommandError("cannot read %s: %s" % (path, reason(e)), "bad_file") from None
    return path if os.path.isabs(path) else os.path.join(os.curdir, path)


def _about(path, message):
    return message if path in message else "%s: %s" % (path, message)


def _load_file(path, password, kind, asked):
    """Parsed accounts of one file; asked is a password typed for an earlier
    file, tried first so several exports of one app need it once."""
    source = _source(path)
    try:
        try:
            return formats.load(source, password, kind), asked
        except PasswordError:
            if password is not None or not stdin_is_tty():
                raise
        if asked is not None:
            try:
                return formats.load(source, asked, kind), asked
            except PasswordError:
                pass
        asked = ask_hidden("Password for %s: " % path)
        return formats.load(source, asked, kind), asked
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


# ---- the write, with its preview and report ----

def _notes(plan):
    return (["skipped: %s: %s" % pair for pair in plan.skipped + plan.rejected]
            + ["renamed: %s -> %s" % pair for pair in plan.renamed])


def preview(plan, used, capacity):
    rows = [(a.issuer, a.name, a.kind, a.algorithm, a.digits,
             step_text(a.kind, a.period, a.counter)) for a in plan.write]
    lines = table(("issuer", "name", "type", "algorithm", "digits", "period/counter"),
                  rows) if rows else []
    lines += _notes(plan)
    if plan.to_backup:
        lines.append("%s the token has %s the backup, which lacks %s" % (
            plural(len(plan.to_backup), "account"),
            "goes into" if len(plan.to_backup) == 1 else "go into",
            "it" if len(plan.to_backup) == 1 else "them"))
    lines.append("%s to write; the token has %s" % (
        plural(len(plan.write), "account"), slots_text(used, capacity)))
    return lines


def filled_line(accounts):
    one = len(accounts) == 1
    return ("saved %s the token has to the backup, which lacked %s (the token can't confirm "
            "a secret: check a code if unsure)" % (plural(len(accounts), "account"),
                                                   "it" if one else "them"))


def _stopped(error, written, not_written, backup_note, data, in_flight=1):
    """The CommandError for a write that stopped part way."""
    if isinstance(error, KeyboardInterrupt):
        code, exit_code, why = "interrupted", EXIT_INTERRUPTED, "interrupted"
    else:
        code, exit_code, why = error.code, error.exit_code, error.message
    message = "stopped after writing %d of %d accounts: %s" % (
        len(written), len(written) + len(not_written), why)
    if uncertain(error):
        # The request in flight: one add, or an add-many of several.
        maybe = [a.label for a in not_written[:in_flight]]
        data["uncertain"] = maybe
        message += "; %s may or may not have reached the token: run list" % ", ".join(maybe)
    if written:
        message += "; the %d written stay on the token" % len(written)
    message += backup_note
    report = ["written: %s" % (", ".join(a.label for a in written) or "none"),
              "not written: %s" % ", ".join(a.label for a in not_written)]
    if data.get("backup"):
        report.append(backup_line(data["backup"]))
    return CommandError(message, code, exit_code, data, report)


DELETED_REASON = "deleted from the token (restore --include-deleted brings it back)"


def provision_accounts(args, connect, parsed, open_backup_for=None, verb="import",
                       compare_with=None):
    """The body of import and restore: plan against the token's accounts,
    refuse clashes and overflow before asking anything, confirm, write with a
    progress bar, then update the backup with what was written.
    open_backup_for(info, opened): the backup to update (or None), asked for
    once the plan stands, so a clash costs no password prompt.
    compare_with(info): the backup read (or None) whose secrets tell whether
    an entry under a label the token has is the token's account; asked only
    when there is such an entry. The written accounts
    the file marks favourite (an Aegis vault: the backup's own, or Aegis's)
    are made favourites, in its order, so the token and backup agree."""
    with connect() as client:
        on_token = client.list_accounts()
        info = client.info()
        capacity = info.get("capacity")
        deleted = getattr(args, "include_deleted", False)
        incoming = parsed.accounts + (parsed.deleted if deleted else [])
        opened = known = None
        if compare_with is not None and same_as_token(incoming, on_token):
            opened = compare_with(info)
            if opened is not None:
                known = {(a.issuer, a.name): a.secret for a in opened.accounts}
        plan = make_plan(incoming, on_token, args.rename_duplicates, known)
        plan.rejected[:0] = parsed.rejected
        if not deleted:
            plan.skipped += [(a.label, DELETED_REASON) for a in parsed.deleted]
        used = len(on_token)
        data = report(plan)
        data.update(count=used, capacity=capacity, backup=None, dry_run=bool(args.dry_run),
                    backed_up=[])
        if plan.clashes:
            data["clashes"] = pairs(plan.clashes)
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
        if not plan.write and plan.to_backup:
            # Nothing for the token; the backup (read for the comparison) is
            # the only file written, and nothing is taken from it: no question.
            data["backup"] = save_backup(opened, plan.to_backup, "nothing was written to "
                                         "the token", data)
            data["backed_up"] = [a.label for a in plan.to_backup]
            return data, "\n".join(lines + [filled_line(plan.to_backup),
                                            backup_line(data["backup"])])
        if not plan.write:
            return data, "\n".join(lines + ["nothing to %s" % verb])
        backup = open_backup_for(info, opened) if open_backup_for else None
        note = sim_note(args, info) if open_backup_for is not None else None
        if not args.json:
            print(terminal.safe("\n".join(lines)), flush=True)
        if not args.yes:
            confirm("Write %s to the token?" % plural(len(plan.write), "account"))
        progress = Progress(len(plan.write), "%sing" % verb.rstrip("e"),
                            enabled=not args.json)
        written, not_written, error, in_flight = write_all(client, plan.write, progress)
        marked = _mark_favourites(client, written) if error is None else []
    data.update(report(plan, written, not_written), count=used + len(written))
    if marked or verb == "restore":
        data["favourites"] = [a.label for a in marked]
    done = "%s %s to the token" % ("imported" if verb == "import" else "restored",
                                   plural(len(written), "account"))
    backup_note = ""
    if backup is not None and error is None:
        data["backup"] = save_backup(backup, written + plan.to_backup, done, data)
        data["backed_up"] = [a.label for a in plan.to_backup]
    elif backup is not None:
        # Stopped part way: what reached the token still goes into the backup,
        # and so does an add that may have landed, or its secret could be lost:
        # a backup entry too many does no harm.
        keep = written + (not_written[:in_flight] if uncertain(error) else []) \
            + plan.to_backup
        try:
            data["backup"] = merge(backup, keep) if keep else None
            data["backed_up"] = [a.label for a in plan.to_backup]
        except (OSError, ValueError) as e:
            backup_note = "; the backup at %s failed too: %s" % (backup.path, reason(e))
    if error is not None:
        raise _stopped(error, written, not_written, backup_note, data, in_flight)
    text = [done + " (%s)" % slots_text(used + len(written), capacity)]
    if data["backed_up"]:
        text.append(filled_line(plan.to_backup))
    if marked:
        text.append("favourites: %s, first on the button" % ", ".join(a.label for a in marked))
    if data["backup"]:
        text.append(backup_line(data["backup"]))
    elif note:
        text.append(note)
    return data, "\n".join(text)


def _mark_favourites(client, written):
    """Mark the written accounts that the backup marks favourite, in order."""
    marked = []
    for account in written:
        if account.favourite:
            client.favourite(account.name, issuer=account.issuer)
            marked.append(account)
    return marked


# ---- import ----

IMPORT_DETAILS = """\
Formats (detected from the content): otpauth:// URIs one per line, Google
Authenticator exports (otpauth-migration://, as text or QR), QR code images,
Aegis vaults, 2FAS backups, andOTP backups, PSKC key containers (RFC 6030:
a token vendor's seed file); plain or password-encrypted. A PSKC file
encrypted with a pre-shared key takes the key's hex digits as its password.

Nothing is written until every file has been read and checked: entries the
token can't hold (MD5, 10 digits, ...) are listed as skipped, accounts already
on the token (same issuer, name and settings) are skipped, and a label used by
an account with other settings stops the import unless --rename-duplicates.
The token never gives a secret back, so an entry's secret is compared with the
host backup's copy of the token's: another secret is said per entry and the
token's account kept, unless --rename adds it as "name (2)" beside it. An
account the token has and the backup lacks goes into the backup (importing the
original export again is how a backup that misses accounts is filled; see
`backup check`). If there are more accounts than free slots nothing is
written. If the token stops part way (exit 1 refused, 3 link lost), the
accounts written so far stay on it and are reported, with the ones not written.

The written accounts are added to the encrypted host backup (see --backup);
an Aegis vault's favourites become the token's (first on the button)."""


def import_arguments(p):
    p.description += "\n\n" + IMPORT_DETAILS
    p.add_argument("files", nargs="+", metavar="FILE", help="export files or QR images")
    p.add_argument("--password", metavar="P",
                   help="the files' password, if encrypted (visible to ps: prefer $%s, "
                        "or the prompt you get on a terminal)" % IMPORT_PASSWORD_ENV)
    p.add_argument("--format", type=str.lower, choices=formats.KINDS, metavar="KIND",
                   help="read every file as KIND (%s) instead of detecting it"
                        % ", ".join(formats.KINDS))
    _write_options(p)
    backup_arguments(p)


def _write_options(p):
    p.add_argument("--yes", action="store_true", help="write without asking first")
    p.add_argument("--rename", "--rename-duplicates", dest="rename_duplicates",
                   action="store_true",
                   help="store an account whose issuer and name is taken by another (other "
                        "settings, or another secret than the backup's) as \"name (2)\", "
                        "\"name (3)\", ... instead of stopping or skipping it")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be written, and write nothing")


def _need_confirmation(args, verb):
    # Checked first, so a script that forgot --yes fails before any prompt or write.
    if not args.yes and not args.dry_run and not stdin_is_tty():
        raise CommandError("%s asks before writing and there is no terminal to ask on: "
                           "add --yes to %s without asking" % (verb, verb), "confirm_required")


def _no_accounts(parsed, what):
    data = {"rejected": pairs(parsed.rejected)}
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
    opener = None if args.dry_run else (lambda info, opened: open_backup(args, info, opened))
    return provision_accounts(args, connect, parsed, opener, "import",
                              lambda info: backup_to_compare(args, info))


# ---- restore ----

RESTORE_DETAILS = """\
Reads an encrypted backup (the one `add` and `import` keep, or any Aegis vault)
and writes its accounts as `import` does: duplicates skipped, clashes and
overflow refused before writing, a stop part way reported. Restoring the same
backup onto a second token makes a spare that shows the same codes (HOTP
counters come back as they were when backed up; the order is the backup's, see
`sort` and `move`; its favourites are favourites again, first on the button).
Accounts deleted from the token stay in the backup, marked, and are left out
unless --include-deleted; those it brings back lose the mark.
Otherwise the backup read is not changed. Its password: --password,
$TOKEN_BACKUP_PASSWORD, or a prompt."""


def restore_arguments(p):
    p.description += "\n\n" + RESTORE_DETAILS
    p.add_argument("backup_file", nargs="?", metavar="BACKUP",
                   help="the backup (default: %s)" % DEFAULT_BACKUP_HELP)
    p.add_argument("--password", metavar="P",
                   help="the backup's password (visible to ps: prefer $%s or the prompt)"
                        % BACKUP_PASSWORD_ENV)
    include_deleted_option(p)
    _write_options(p)


def run_restore(args, connect):
    _need_confirmation(args, "restore")
    path = os.path.abspath(os.path.expanduser(args.backup_file or vault.default_backup_path()))
    parsed, password = read_backup_for(args, path)
    if not parsed.accounts and not (args.include_deleted and parsed.deleted):
        raise _no_accounts(parsed, path)
    data, text = provision_accounts(args, connect, parsed, None, "restore")
    back = [a for a in parsed.deleted if a.label in data.get("written", ())]
    if args.include_deleted and back:
        # Back on the token, so no longer deleted: the same secret replaces the mark.
        try:
            vault.merge_backup(path, back, password)
        except (OSError, ValueError) as e:
            raise CommandError("restored to the token, but the backup at %s failed: %s"
                               % (path, reason(e)), "backup_failed", EXIT_REFUSED,
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
    include_deleted_option(p)


def _pick(accounts, name):
    found = [a for a in accounts if a.label == name] or [a for a in accounts if a.name == name]
    if not found:
        raise CommandError("no account %r in the backup" % name, "not_found")
    if len(found) > 1:
        raise CommandError("%r names %d accounts in the backup (%s): give issuer:name"
                           % (name, len(found), ", ".join(a.label for a in found)), "ambiguous")
    return found


def run_export(args, connect=None):
    path = backup_path(args)
    parsed, _ = read_backup_for(args, path)
    everyone = parsed.accounts + (parsed.deleted if args.include_deleted else [])
    accounts = _pick(everyone, args.name) if args.name else everyone
    if not accounts:
        raise CommandError("the backup at %s holds no account to export" % path, "no_accounts")
    if args.uri:
        uris = [otpauth.to_uri(a) for a in accounts]
        data = {"accounts": [{"label": a.label, "uri": u} for a, u in zip(accounts, uris)],
                "count": len(accounts)}
        return data, "\n".join(uris)
    directory = os.path.abspath(os.path.expanduser(args.qr))
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        used = set()
        files = [image.write_qr(directory, a, used) for a in accounts]
    except OSError as e:
        raise CommandError("cannot write QR codes to %s: %s" % (directory, reason(e)),
                           "bad_output") from None
    data = {"files": [{"label": a.label, "path": f} for a, f in zip(accounts, files)],
            "count": len(files)}
    return data, "\n".join(["wrote %s to %s (each holds a secret: delete them once scanned)"
                            % (plural(len(files), "QR code"), directory)]
                           + ["  %s  %s" % (os.path.basename(f), a.label)
                              for a, f in zip(accounts, files)])
