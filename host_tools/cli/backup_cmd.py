"""`backup check`: the host backup against the token's accounts. The token
never gives a secret back, so an account missing from the backup is lost
with the token; this says which ones before that happens, and how to fill
the gap (their original export, imported again)."""
import os

from host_tools.cli.backup_file import (BACKUP_PASSWORD_ENV, DEFAULT_BACKUP_HELP, backup_path,
                                        read_backup_for, sim_without_backup)
from host_tools.cli.common import plural
from host_tools.errors import EXIT_REFUSED, CommandError

SHOWN = 5  # names listed in the text; --json lists them all


def backup_arguments(p):
    p.add_argument("action", choices=["check"],
                   help="check: which accounts on the token the backup lacks, and the reverse")
    p.add_argument("--backup", metavar="PATH",
                   help="the backup to check (default: %s)" % DEFAULT_BACKUP_HELP)
    p.add_argument("--password", metavar="P",
                   help="the backup's password (visible to ps: prefer $%s or the prompt)"
                        % BACKUP_PASSWORD_ENV)


def _some(labels):
    shown = ", ".join(labels[:SHOWN])
    more = len(labels) - SHOWN
    return shown + (" and %d more (--json lists them all)" % more if more > 0 else "")


def _them(items):
    return "it" if len(items) == 1 else "them"


def run_backup(args, connect):
    path = backup_path(args)
    if not os.path.isfile(path):  # before the port: nothing to compare with
        raise CommandError("no backup at %s (add, import and restore keep one; --backup PATH "
                           "names another)" % path, "no_backup")
    with connect() as client:
        info = client.info()
        if sim_without_backup(args, info):
            # Its accounts never go into the user's own backup: nothing to compare.
            raise CommandError("this is a simulated token, whose accounts go into no backup "
                               "unless one is named: pass --backup PATH or set $TOKEN_BACKUP",
                               "no_backup")
        on_token = client.list_accounts()
    parsed, _ = read_backup_for(args, path)
    return compare(path, on_token, parsed)


def compare(path, on_token, parsed):
    token_keys = [(a.get("issuer", ""), a.get("name", "")) for a in on_token]
    in_backup = {(a.issuer, a.name) for a in parsed.accounts}
    label = {k: "%s:%s" % k if k[0] else k[1] for k in token_keys}
    missing = [label[k] for k in token_keys if k not in in_backup]
    here = set(token_keys)
    extra = [a.label for a in parsed.accounts if (a.issuer, a.name) not in here]
    deleted = [a.label for a in parsed.deleted if (a.issuer, a.name) not in here]
    data = {"path": path, "on_token": len(token_keys), "in_backup": len(parsed.accounts),
            "missing": missing, "not_on_token": extra, "deleted": deleted}
    lines = []
    if missing:
        lines += ["%d of the %s on the token %s not in the backup: %s" % (
                      len(missing), plural(len(token_keys), "account"),
                      "is" if len(missing) == 1 else "are", _some(missing)),
                  "  Their secrets never leave the token: import their original export again "
                  "(provision.py import FILE), which saves to the backup what the token has "
                  "and it lacks; if they went to another backup, check that one (--backup PATH)."]
    elif not token_keys:
        lines.append("the token has no accounts")
    elif len(token_keys) == 1:
        lines.append("the one account on the token is in the backup at %s" % path)
    else:
        lines.append("all %s on the token are in the backup at %s" % (
            plural(len(token_keys), "account"), path))
    if extra:
        lines += ["%s in the backup %s not on the token: %s" % (
                      plural(len(extra), "account"), "is" if len(extra) == 1 else "are",
                      _some(extra)),
                  "  provision.py restore puts %s back on the token (it skips what is "
                  "already there)." % _them(extra)]
    if deleted:
        lines.append("%s deleted from the token %s kept in the backup, marked (restore "
                     "--include-deleted brings %s back)." % (
                         plural(len(deleted), "account"), "is" if len(deleted) == 1 else "are",
                         _them(deleted)))
    if missing:
        raise CommandError("the backup at %s misses %d of the %s on the token" % (
            path, len(missing), plural(len(token_keys), "account")),
            "backup_incomplete", EXIT_REFUSED, data, lines)
    return data, "\n".join(lines)
