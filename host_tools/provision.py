"""Provisioning CLI for the token: a thin dispatch table over client.py.

    python -m host_tools.provision [--port P] [--json] [--timeout S] COMMAND ...

Every command checks its input before a port is opened, so bad input never
reaches the device. main(argv) returns the exit code; output goes to
sys.stdout / sys.stderr. Secrets are never printed.
"""
import argparse
import datetime
import getpass
import json
import os
import sys

if not __package__:  # run as a script: make `host_tools` and `firmware` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from host_tools import backup_cli, link, terminal  # noqa: E402
from host_tools.backup_cli import CommandError  # noqa: E402
from host_tools.client import TokenClient, TokenError, check_fits  # noqa: E402
from host_tools.otpauth import Account, parse_base32  # noqa: E402

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_DEVICE = 0, 1, 2, 3

EPILOG = """exit codes:
  0  done
  1  the token refused (name_taken, store_full, not_found, ...), or would have:
     an import that clashes or doesn't fit writes nothing; or the backup
     failed after the token was written
  2  bad input or usage (a file, a password, a missing --yes), or a cancelled
     import; nothing was written to the token
  3  no token found, the device is not running token firmware, or the link was lost
  an import or restore that stops part way (1, 3, or 130 for Ctrl-C) keeps the
  accounts already written, reports which were and which were not, and import
  still saves them to the backup"""


class UsageError(CommandError):
    """Bad input or usage: exit 2."""

    def __init__(self, message, code="bad_input"):
        CommandError.__init__(self, message, code, EXIT_USAGE)


class _Parser(argparse.ArgumentParser):
    # Errors become exceptions so main() can report them as text or JSON alike.
    def error(self, message):
        raise UsageError("%s (see %s --help)" % (_redact(message), self.prog), "usage")


def _redact(message):
    # `add NAME SECRET` is an easy slip; argparse would echo the secret back.
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return message
    words = [w if w.startswith("-") else "<hidden>" for w in message[len(prefix):].split()]
    return prefix + " ".join(words)


def connect(args):
    """Open the token named by --port / $TOKEN_PORT / USB auto-detection.
    The one place that touches hardware, so tests replace it."""
    port = args.port or link.find_port()
    return TokenClient(link.SerialLink(port), timeout=args.timeout)


# ---- add ----

def _add_arguments(p):
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
    backup_cli.backup_arguments(p)


def _add(args):
    try:
        account = _account_from_uri(args) if args.uri is not None else _account_from_options(args)
        account.validate()
    except ValueError as e:
        raise UsageError(str(e)) from None
    check_fits("add", account.to_args())
    backup = backup_cli.open_backup(args)  # settled now: a wrong password must stop us here
    with connect(args) as client:
        data = client.add(account)
    data = dict(data, label=account.label)
    text = "added %s (slot %s, %s accounts on the token)" % (
        account.label, data.get("index"), data.get("count"))
    if backup is None:
        return data, text
    # The token first: a backup of an account the token refused would be wrong.
    data["backup"] = backup_cli.save_backup(backup, [account], "added to the token", data)
    return data, text + "\n" + backup_cli.backup_line(data["backup"])


def _account_from_uri(args):
    fixed = [opt for opt in ("secret", "digits", "period", "algorithm", "counter", "hotp",
                             "steam") if getattr(args, opt) not in (None, False)]
    if fixed:
        raise UsageError("--uri sets the account itself; only NAME and --issuer can go "
                         "with it (drop --%s)" % fixed[0])
    uri = _read_hidden("otpauth URI: ") if args.uri == "-" else args.uri
    account = Account.from_uri(uri)
    if args.name:
        account.name = args.name
    if args.issuer is not None:
        account.issuer = args.issuer
    return account


def _account_from_options(args):
    if not args.name:
        raise UsageError("add needs a NAME (or --uri)")
    if args.counter is not None and not args.hotp:
        raise UsageError("--counter is for --hotp accounts")
    if args.hotp and args.period is not None:
        raise UsageError("--period is for time-based accounts, not --hotp")
    if args.steam and (args.digits, args.period, args.algorithm) != (None, None, None):
        raise UsageError("--steam fixes digits, period and algorithm; drop those options")
    secret = args.secret if args.secret is not None else _read_hidden("secret (base32): ")
    account = Account(name=args.name, issuer=args.issuer or "", secret=parse_base32(secret),
                      kind="hotp" if args.hotp else "steam" if args.steam else "totp",
                      algorithm=args.algorithm or "SHA1", digits=args.digits)
    if args.period is not None:
        account.period = args.period
    if args.counter is not None:
        account.counter = args.counter
    return account


def _read_hidden(prompt):
    """A secret from the terminal without echo, or one line from a pipe."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            text = getpass.getpass(prompt)
        else:
            text = sys.stdin.readline() if sys.stdin is not None else ""
    except EOFError:  # Ctrl-D at the prompt
        text = ""
    text = text.strip("\r\n")
    if not text.strip():
        raise UsageError("nothing read from stdin: give the secret there, or use --secret")
    return text


# ---- list ----

def _list(args):
    with connect(args) as client:
        accounts = client.list_accounts()
        capacity = client.info().get("capacity")
    rows = [(a.get("index", -1) + 1, a.get("issuer", ""), a.get("name", ""), a.get("kind", ""),
             a.get("algorithm", ""), a.get("digits", ""), _step(a)) for a in accounts]
    lines = _table(("#", "issuer", "name", "type", "algorithm", "digits", "period/counter"),
                   rows) if rows else ["no accounts"]
    lines.append(backup_cli.slots_text(len(accounts), capacity))
    return {"accounts": accounts, "count": len(accounts), "capacity": capacity}, "\n".join(lines)


def _step(account):
    if "counter" in account:
        return "counter %s" % account["counter"]
    return "%ss" % account.get("period", "")


_table = backup_cli.table


# ---- delete ----

def _delete_arguments(p):
    p.add_argument("name", metavar="NAME", help="account name, or its label issuer:name")
    p.add_argument("--issuer", help="pick the account with this issuer")


def _delete(args):
    if not args.name.strip():
        raise UsageError("NAME is empty")
    with connect(args) as client:
        data = client.delete(args.name, args.issuer)
    return data, "deleted %s (%s accounts left)" % (args.name, data.get("count"))


# ---- import, restore, export, rename (host_tools/backup_cli.py) ----

def _import(args):
    return backup_cli.run_import(args, lambda: connect(args))


def _restore(args):
    return backup_cli.run_restore(args, lambda: connect(args))


def _export(args):
    return backup_cli.run_export(args)


def _rename(args):
    return backup_cli.run_rename(args, lambda: connect(args))


# ---- move / sort ----

def _move_arguments(p):
    p.add_argument("name", metavar="NAME", help="account name, or its label issuer:name")
    p.add_argument("--to", type=_position, required=True, metavar="POS",
                   help="its new place in the button order, 1 = first (as the screen's 3/12)")
    p.add_argument("--issuer", help="pick the account with this issuer")


def _position(text):
    value = int(text)  # argparse turns a ValueError into a usage error
    if value < 1:
        raise argparse.ArgumentTypeError("positions start at 1")
    return value


def _move(args):
    if not args.name.strip():
        raise UsageError("NAME is empty")
    with connect(args) as client:
        count = len(client.list_accounts())
        if args.to > count:
            raise CommandError("position %d is past the last account (%d)" % (args.to, count),
                               "bad_position", EXIT_REFUSED)
        data = client.move(args.name, args.to - 1, issuer=args.issuer)
        moved = client.list_accounts()[data["index"]]
    label = "%s:%s" % (moved["issuer"], moved["name"]) if moved["issuer"] else moved["name"]
    return (dict(data, position=data["index"] + 1, count=count, label=label),
            "moved %s to %d/%d" % (label, data["index"] + 1, count))


def _sort(args):
    with connect(args) as client:
        moves = client.sort()
        accounts = client.list_accounts()
    rows = [(a.get("index", -1) + 1, a.get("issuer", ""), a.get("name", "")) for a in accounts]
    lines = ["sorted by issuer, then name: %d move%s" % (moves, "" if moves == 1 else "s")]
    if rows:
        lines += _table(("#", "issuer", "name"), rows)
    return {"moves": moves, "accounts": accounts}, "\n".join(lines)


# ---- sync-time ----

def _sync_time_arguments(p):
    p.add_argument("--no-trim", action="store_true",
                   help="don't let the token adjust its RTC aging offset from the drift "
                        "measured since the last sync (it does so when that was a day or more ago)")


def _sync_time(args):
    with connect(args) as client:
        data = client.sync_time(trim="never" if args.no_trim else "auto")
    before = data["offset_before_ms"]
    lines = [
        "offset before: %s" % ("unknown (the token's clock was lost)" if before is None
                               else "%+.1f ms" % before),
        "offset after:  %+.1f ms" % data["offset_after_ms"],
        "round trip:    %.1f ms" % data["rtt_ms"]]
    if data.get("measured_ppm") is not None:
        lines.append("drift since the last sync: %+.2f ppm" % data["measured_ppm"])
    lines.extend(_trim_lines(data.get("trimmed")))
    return data, "\n".join(lines)


def _trim_lines(trimmed):
    if not trimmed:
        return []
    return ["aging offset trimmed: %+d -> %+d (%+.2f ppm left)"
            % (trimmed["from"], trimmed["to"], trimmed["drift_ppm"])]


def _calibrate(args):
    with connect(args) as client:
        data = client.calibrate()
    return data, "\n".join(_trim_lines(data.get("trimmed")) or
                           ["drift is within one aging step: nothing to trim"])


# ---- status / info ----

def _status(args):
    with connect(args) as client:
        data = client.status()
    lines = list(_flatten(data))
    if data.get("fault"):  # a part missing at boot: the first thing to read
        lines.insert(0, "FAULT: %s" % data["fault"])
    unix = (data.get("clock") or {}).get("unix")
    if isinstance(unix, (int, float)) and not data["clock"].get("lost"):
        when = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
        lines.append("clock (UTC): %s" % when.strftime("%Y-%m-%d %H:%M:%S"))
    return data, "\n".join(lines)


def _info(args):
    with connect(args) as client:
        data = client.info()
    return data, "\n".join(_flatten(data))


def _flatten(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, prefix + key + ".")
        else:
            yield "%s%s: %s" % (prefix, key, value if isinstance(value, str)
                                else json.dumps(value))


# ---- wipe ----

def _wipe_arguments(p):
    p.add_argument("--yes", action="store_true", help="really delete every account")


def _wipe(args):
    if not args.yes:
        raise UsageError("wipe deletes every account on the token; add --yes to confirm",
                         "confirm_required")
    with connect(args) as client:
        data = client.wipe()
    return data, "wiped: %s accounts deleted" % data.get("deleted")


def _no_arguments(p):
    pass


COMMANDS = {
    "add": (_add_arguments, _add, "store an account (TOTP, HOTP or Steam)"),
    "list": (_no_arguments, _list, "list the stored accounts (never their secrets)"),
    "delete": (_delete_arguments, _delete, "delete one account"),
    "import": (backup_cli.import_arguments, _import,
               "add accounts from other apps' exports, otpauth:// URIs or QR images"),
    "restore": (backup_cli.restore_arguments, _restore,
                "provision a new or wiped token from an encrypted backup"),
    "export": (backup_cli.export_arguments, _export,
               "show the host backup's accounts as otpauth:// URIs or QR codes "
               "(from the backup file, never the token)"),
    "rename": (backup_cli.rename_arguments, _rename,
               "rename an account, or change its issuer"),
    "move": (_move_arguments, _move, "move an account to another place in the button order"),
    "sort": (_no_arguments, _sort, "order the accounts by issuer, then name"),
    "sync-time": (_sync_time_arguments, _sync_time,
                  "set the token's clock from this computer's (and measure its drift)"),
    "calibrate": (_no_arguments, _calibrate,
                  "trim the token's clock drift now (needs two syncs an hour or more apart)"),
    "status": (_no_arguments, _status, "show storage, clock and health"),
    "info": (_no_arguments, _info, "show firmware, board and capabilities"),
    "wipe": (_wipe_arguments, _wipe, "delete every account (needs --yes)"),
}


def _global_arguments(p, top):
    # On the top parser and on each command, so `--json` works before or after
    # the command; SUPPRESS keeps a command's parser from resetting the top's value.
    def default(value):
        return value if top else argparse.SUPPRESS
    p.add_argument("--port", default=default(None),
                   help="serial port (default: $TOKEN_PORT, else auto-detect by USB VID/PID)")
    p.add_argument("--json", action="store_true", default=default(False),
                   help="machine-readable output on stdout, errors included")
    p.add_argument("--timeout", type=_seconds, default=default(3.0), metavar="S",
                   help="seconds to wait for each reply (default 3)")


def _seconds(text):
    value = float(text)  # argparse turns a ValueError into a usage error
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 600 seconds")
    return value


def build_parser():
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="provision", description="Provision the TOTP token over USB serial.",
                     epilog=EPILOG, formatter_class=fmt)
    _global_arguments(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (add_arguments, handler, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=EPILOG, formatter_class=fmt)
        _global_arguments(sub, top=False)
        add_arguments(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv  # known even when parsing itself fails
    try:
        args = build_parser().parse_args(argv)
        as_json = args.json
        data, text = args.handler(args)
    except SystemExit as e:  # --help printed; argparse wants to exit
        return e.code if isinstance(e.code, int) else EXIT_OK
    except CommandError as e:  # UsageError included
        return _fail(e.code, e.message, e.exit_code, as_json, e.data, e.report)
    except TokenError as e:
        return _fail(e.code, e.message, e.exit_code, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", "interrupted", 130, as_json)
    print(json.dumps({"ok": True, "data": data}) if as_json else _terminal(text))
    return EXIT_OK


_terminal = terminal.safe


def _fail(code, message, exit_code, as_json, data=None, report=()):
    """data: what a command did before it failed (an import stopped part way),
    in the JSON; report says the same for people, on stdout."""
    if as_json:
        doc = {"ok": False, "error": code, "message": message}
        if data is not None:
            doc["data"] = data
        print(json.dumps(doc))
    else:
        if report:
            print(_terminal("\n".join(report)))
        print(_terminal("error: %s" % message), file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
