"""The accounts on the token: `add`, `list`, `rename`, `favourite`, `delete`,
`move` and `sort`. add, rename, favourite and delete keep the host backup in
step (backup_file.py).

Every command checks its input before a port is opened, so bad input never
reaches the device; a name clash is found before a secret or a password is
asked for. Secrets are never printed."""
import argparse
import sys

from host_tools.backup import vault
from host_tools.batching import check_fits
from host_tools.cli.backup_file import (SIM_NOTE, backup_arguments, backup_in_step,
                                        backup_line, open_backup, rename_in_backup,
                                        save_backup, sim_note)
from host_tools.cli.common import (account_arguments, confirm, plural, positions, read_hidden,
                                   reason, slots_text, stdin_is_tty, table)
from host_tools.errors import EXIT_REFUSED, CommandError, UsageError
from host_tools.formats.otpauth import Account, parse_base32


# ---- add ----

def add_arguments(p):
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="account name, e.g. alice@example.com (optional with --uri)")
    p.add_argument("--secret", metavar="BASE32",
                   help="shared secret; leave out to type it unseen or pipe it on stdin, "
                        "which keeps it out of shell history and ps")
    p.add_argument("--uri", metavar="URI",
                   help="an otpauth:// key URI instead of the options below; "
                        "'-' reads it from stdin")
    p.add_argument("--issuer", help="who issued it, e.g. GitHub")
    p.add_argument("--digits", type=int, metavar="{6,7,8}", help="code length (default 6)")
    p.add_argument("--period", type=int, metavar="SECONDS", help="time step (default 30)")
    p.add_argument("--algorithm", type=str.upper, metavar="{SHA1,SHA256,SHA512}",
                   help="HMAC hash (default SHA1)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--hotp", action="store_true", help="counter-based (RFC 4226)")
    kind.add_argument("--steam", action="store_true", help="Steam Guard codes")
    p.add_argument("--counter", type=int, metavar="N", help="HOTP start counter (default 0)")
    p.description += ("\n\nThe account is also saved to an encrypted backup on this computer\n"
                      "(see --backup), since the token never gives secrets back.")
    backup_arguments(p)


def run_add(args, connect):
    # The secret is only asked for once the token has said the name is free and
    # there is room: a clash must not cost the user their typing.
    try:
        account = _account_from_uri(args) if args.uri is not None else _account_from_options(args)
        if account is not None:
            account.validate()
            check_fits("add", account.to_args())
    except ValueError as e:
        raise UsageError(str(e)) from None
    with connect() as client:
        info = client.info()
        _check_room(client.list_accounts(), info.get("capacity"),
                    account.issuer if account else args.issuer or "",
                    account.name if account else args.name)
        if account is None:
            try:
                account = _account_from_options(args, ask=True)
                account.validate()
            except ValueError as e:
                raise UsageError(str(e)) from None
            check_fits("add", account.to_args())
        # Settled before the write: a wrong password must stop us here.
        backup = open_backup(args, info)
        data = client.add(account)
    index = data.get("index")
    position = index + 1 if isinstance(index, int) else None
    data = dict(data, label=account.label, position=position)
    text = "added %s (%s/%s on the token)" % (account.label, position, data.get("count"))
    if backup is None:
        note = sim_note(args, info)
        return data, text + ("\n" + note if note else "")
    # The token first: a backup of an account the token refused would be wrong.
    data["backup"] = save_backup(backup, [account], "added to the token", data)
    return data, text + "\n" + backup_line(data["backup"])


def _check_room(accounts, capacity, issuer, name):
    label = "%s:%s" % (issuer, name) if issuer else name
    for at, meta in enumerate(accounts, 1):
        if (meta.get("issuer", ""), meta.get("name", "")) == (issuer, name):
            raise CommandError("%s is already on the token (%d/%d): choose another name or "
                               "--issuer, or rename that one first; nothing was added"
                               % (label, at, len(accounts)), "name_taken", EXIT_REFUSED)
    if isinstance(capacity, int) and len(accounts) >= capacity:
        raise CommandError("the token is full (%d accounts): delete one first; nothing was "
                           "added" % capacity, "store_full", EXIT_REFUSED)


def _account_from_uri(args):
    fixed = [opt for opt in ("secret", "digits", "period", "algorithm", "counter", "hotp",
                             "steam") if getattr(args, opt) not in (None, False)]
    if fixed:
        raise UsageError("--uri sets the account itself; only NAME and --issuer can go "
                         "with it (drop --%s)" % fixed[0])
    uri = read_hidden("otpauth URI: ") if args.uri == "-" else args.uri
    account = Account.from_uri(uri)
    if args.name:
        account.name = args.name
    if args.issuer is not None:
        account.issuer = args.issuer
    return account


def _account_from_options(args, ask=False):
    """The account the options describe; None when its secret must still be
    asked for on the terminal (ask=True asks)."""
    if not args.name:
        raise UsageError("add needs a NAME (or --uri)")
    if args.counter is not None and not args.hotp:
        raise UsageError("--counter is for --hotp accounts")
    if args.hotp and args.period is not None:
        raise UsageError("--period is for time-based accounts, not --hotp")
    if args.steam and (args.digits, args.period, args.algorithm) != (None, None, None):
        raise UsageError("--steam fixes digits, period and algorithm; drop those options")
    if args.secret is None and not ask:
        # Asked for (terminal) or read (pipe) only once the token has said
        # the name is free: the same check first, wherever the secret comes from.
        check_label(args.name, args.issuer or "")
        return None
    secret = args.secret if args.secret is not None else read_hidden("secret (base32): ")
    account = Account(name=args.name, issuer=args.issuer or "", secret=parse_base32(secret),
                      kind="hotp" if args.hotp else "steam" if args.steam else "totp",
                      algorithm=args.algorithm or "SHA1", digits=args.digits)
    if args.period is not None:
        account.period = args.period
    if args.counter is not None:
        account.counter = args.counter
    return account


def check_label(name, issuer):
    # A stand-in secret, so the label gets every check an added account gets,
    # before the token is asked.
    Account(name=name, issuer=issuer, secret=b"\0").validate()


# ---- list ----

def run_list(args, connect):
    with connect() as client:
        accounts = [dict(a, favourite=a.get("favourite") is True)
                    for a in positions(client.list_accounts())]
        capacity = client.info().get("capacity")
    rows = [("%d%s" % (a.get("index", -1) + 1, "*" if a["favourite"] else ""),
             a.get("issuer", ""), a.get("name", ""), a.get("kind", ""),
             a.get("algorithm", ""), a.get("digits", ""), _step(a)) for a in accounts]
    lines = table(("#", "issuer", "name", "type", "algorithm", "digits", "period/counter"),
                  rows) if rows else ["no accounts"]
    favourites = sum(1 for a in accounts if a["favourite"])
    if favourites:
        lines.append("* favourite: first on the button (%d)" % favourites)
    lines.append(slots_text(len(accounts), capacity))
    return ({"accounts": accounts, "count": len(accounts), "favourites": favourites,
             "capacity": capacity}, "\n".join(lines))


def _step(account):
    if "counter" in account:
        return "counter %s" % account["counter"]
    return "%ss" % account.get("period", "")


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
    # A part left unchanged stands in as a valid one.
    try:
        check_label("x" if name is None else name, "" if issuer is None else issuer)
    except ValueError as e:
        raise CommandError(str(e)) from None


def run_rename(args, connect):
    if args.new_name is None and args.new_issuer is None:
        raise CommandError("rename needs NEW, --new-issuer, or both")
    if not args.name.strip():
        raise CommandError("OLD is empty")
    _check_new_label(args.new_name, args.new_issuer)
    request = {"name": args.name, "new_name": args.new_name, "new_issuer": args.new_issuer}
    check_fits("rename", {k: v for k, v in request.items() if v is not None})
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
    _follow(backup, lambda: rename_in_backup(backup, old, new), "renamed", labels[0],
            data, lines)
    return data, "\n".join(lines)


def _follow(backup, change, done, label, data, lines):
    """The backup follows a change the token made: change() edits its entry
    (False: there is none, said as a warning). A failure is the command's,
    with the token already changed."""
    if backup is None:
        return
    try:
        found = change()
    except (OSError, ValueError) as e:
        raise CommandError("%s on the token, but the backup at %s failed: %s"
                           % (done, backup.path, reason(e)), "backup_failed", EXIT_REFUSED,
                           data) from None
    data["backup"] = {"path": backup.path, "updated": found}
    if found:
        lines.append("backup: %s in %s too" % (done, backup.path))
    else:
        warning = "%s is not in the backup at %s; only the token was changed" % (
            label, backup.path)
        data["warnings"].append(warning)
        lines.append("warning: " + warning)


# ---- favourite ----

def favourite_arguments(p):
    p.description += ("\n\nFavourites come first on the token's button, in the order they were\n"
                      "marked; --off puts the account right after them. The host backup\n"
                      "keeps the mark (Aegis's favourite), so `restore` brings it back; when\n"
                      "there is a backup its password must be at hand, as for rename.")
    account_arguments(p)
    p.add_argument("--off", action="store_true", help="no longer a favourite")
    backup_arguments(p)


def run_favourite(args, connect):
    if not args.name.strip():
        raise UsageError("NAME is empty")
    on = not args.off
    with connect() as client:
        backup = backup_in_step(args, client.info())
        target = find_account(client.list_accounts(), args.name, args.issuer)
        key = _key(target)
        reply = client.favourite(key[1], issuer=key[0], on=on)
    label = _label(key)
    index = reply.get("index")
    count = reply.get("favourites")
    data = dict(reply, label=label, backup=None, warnings=[],
                position=index + 1 if isinstance(index, int) else None)
    counted = plural(count, "favourite") if isinstance(count, int) else "the favourites"
    if on:
        lines = ["favourite: %s (%s of %s, first on the button)"
                 % (label, data["position"], counted)]
    else:
        lines = ["no longer a favourite: %s (now %s on the button, after %s)"
                 % (label, data["position"], counted)]
    _follow(backup, lambda: vault.set_favourite(backup.path, backup.password, key, on),
            "marked" if on else "unmarked", label, data, lines)
    return data, "\n".join(lines)


# ---- delete ----

def delete_arguments(p):
    p.description += ("\n\nThe host backup keeps the account's entry, secret included, marked\n"
                      "as deleted: `restore` leaves it out, `restore --include-deleted`\n"
                      "brings it back.")
    account_arguments(p)
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
            confirm("Delete %s (%d/%d) from the token?" % (label, position, len(accounts)),
                    "cancelled: nothing was deleted")
        data = client.delete(key[1], issuer=key[0])
    data = dict(data, label=label, position=position, backup=None)
    left = data.get("count")
    lines = ["deleted %s (%d/%d; %s left)" % (label, position, len(accounts), plural(
        left, "account") if isinstance(left, int) else "%s accounts" % left)]
    if kept:
        try:
            vault.mark_deleted(backup.path, backup.password, key)
        except (OSError, ValueError) as e:
            raise CommandError("deleted from the token, but the backup at %s failed: %s"
                               % (backup.path, reason(e)), "backup_failed", EXIT_REFUSED,
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


# ---- move / sort ----

def move_arguments(p):
    p.add_argument("name", metavar="NAME", help="account name, or its label issuer:name")
    p.add_argument("--to", type=_position, required=True, metavar="POS",
                   help="its new place in the button order, 1 = first (as the screen's 3/12)")
    p.add_argument("--issuer", help="pick the account with this issuer")


def _position(text):
    value = int(text)  # argparse turns a ValueError into a usage error
    if value < 1:
        raise argparse.ArgumentTypeError("positions start at 1")
    return value


def run_move(args, connect):
    if not args.name.strip():
        raise UsageError("NAME is empty")
    with connect() as client:
        count = len(client.list_accounts())
        if args.to > count:
            raise CommandError("position %d is past the last account (%d)" % (args.to, count),
                               "bad_position", EXIT_REFUSED)
        data = client.move(args.name, args.to - 1, issuer=args.issuer)
        moved = client.list_accounts()[data["index"]]
    label = "%s:%s" % (moved["issuer"], moved["name"]) if moved["issuer"] else moved["name"]
    return (dict(data, position=data["index"] + 1, count=count, label=label),
            "moved %s to %d/%d" % (label, data["index"] + 1, count))


def sort_token(client, key=None):
    """Reorder the token by (issuer, name), case-insensitively, with the
    fewest moves. Returns the number of moves made. The favourites stay
    first (the token keeps them there), sorted among themselves."""
    key = key or (lambda a: (a["issuer"].casefold(), a["name"].casefold()))
    current = client.list_accounts()
    wanted = sorted(current, key=lambda a: (a.get("favourite") is not True, key(a)))
    order = [(a["issuer"], a["name"]) for a in current]
    moves = 0
    for pos, acc in enumerate(wanted):
        label = (acc["issuer"], acc["name"])
        at = order.index(label)
        if at != pos:
            client.move(acc["name"], pos, issuer=acc["issuer"])
            order.insert(pos, order.pop(at))
            moves += 1
    return moves


def run_sort(args, connect):
    with connect() as client:
        moves = sort_token(client)
        accounts = positions(client.list_accounts())
    rows = [(a.get("index", -1) + 1, a.get("issuer", ""), a.get("name", "")) for a in accounts]
    lines = ["sorted by issuer, then name: %d move%s" % (moves, "" if moves == 1 else "s")]
    if rows:
        lines += table(("#", "issuer", "name"), rows)
    return {"moves": moves, "accounts": accounts}, "\n".join(lines)
