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
import re
import sys

if not __package__:  # run as a script: make `host_tools` and `firmware` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from host_tools import __version__, backup_cli, completion, link, log_cli, pin_cli, terminal  # noqa: E402
from host_tools.backup_cli import CommandError  # noqa: E402
from host_tools.client import ERASED_MESSAGE, TokenClient, TokenError, check_fits  # noqa: E402
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
    # So would "--digits SECRET" ("invalid int value: 'SECRET'").
    message = re.sub(r"(invalid \w+ value: ).*", r"\1<hidden>", message)
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return message
    words = [w if w.startswith("-") else "<hidden>" for w in message[len(prefix):].split()]
    return prefix + " ".join(words)


def connect(args):
    """Open the token named by --port / $TOKEN_PORT / USB auto-detection.
    The one place that touches hardware, so tests replace it."""
    port = args.port or link.find_port()
    client = TokenClient(link.SerialLink(port), timeout=args.timeout, pin=pin_cli.pin_provider())
    _clients.append(client)
    return client


# Clients opened by this run: main() reports a token that said it erased itself.
_clients = []


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
    # The secret is only asked for once the token has said the name is free and
    # there is room: a clash must not cost the user their typing.
    try:
        account = _account_from_uri(args) if args.uri is not None else _account_from_options(args)
        if account is not None:
            account.validate()
            check_fits("add", account.to_args())
    except ValueError as e:
        raise UsageError(str(e)) from None
    with connect(args) as client:
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
        backup = backup_cli.open_backup(args, info)
        data = client.add(account)
    index = data.get("index")
    position = index + 1 if isinstance(index, int) else None
    data = dict(data, label=account.label, position=position)
    text = "added %s (%s/%s on the token)" % (account.label, position, data.get("count"))
    if backup is None:
        note = backup_cli.sim_note(args, info)
        return data, text + ("\n" + note if note else "")
    # The token first: a backup of an account the token refused would be wrong.
    data["backup"] = backup_cli.save_backup(backup, [account], "added to the token", data)
    return data, text + "\n" + backup_cli.backup_line(data["backup"])


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
    uri = _read_hidden("otpauth URI: ") if args.uri == "-" else args.uri
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
    if args.secret is None and not ask and sys.stdin is not None and sys.stdin.isatty():
        _check_label(args.name, args.issuer or "")
        return None
    secret = args.secret if args.secret is not None else _read_hidden("secret (base32): ")
    account = Account(name=args.name, issuer=args.issuer or "", secret=parse_base32(secret),
                      kind="hotp" if args.hotp else "steam" if args.steam else "totp",
                      algorithm=args.algorithm or "SHA1", digits=args.digits)
    if args.period is not None:
        account.period = args.period
    if args.counter is not None:
        account.counter = args.counter
    return account


def _check_label(name, issuer):
    # A stand-in secret, so the label gets every check before the token is asked.
    Account(name=name, issuer=issuer, secret=b"\0").validate()


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
        accounts = _positions(client.list_accounts())
        capacity = client.info().get("capacity")
    rows = [(a.get("index", -1) + 1, a.get("issuer", ""), a.get("name", ""), a.get("kind", ""),
             a.get("algorithm", ""), a.get("digits", ""), _step(a)) for a in accounts]
    lines = _table(("#", "issuer", "name", "type", "algorithm", "digits", "period/counter"),
                   rows) if rows else ["no accounts"]
    lines.append(backup_cli.slots_text(len(accounts), capacity))
    return {"accounts": accounts, "count": len(accounts), "capacity": capacity}, "\n".join(lines)


def _positions(accounts):
    # People count from 1, as the screen's 3/12; "index" stays 0-based for scripts.
    return [dict(a, position=a["index"] + 1) if isinstance(a.get("index"), int) else a
            for a in accounts]


def _step(account):
    if "counter" in account:
        return "counter %s" % account["counter"]
    return "%ss" % account.get("period", "")


_table = backup_cli.table


# ---- delete ----

def _delete(args):
    return backup_cli.run_delete(args, lambda: connect(args))


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
        accounts = _positions(client.list_accounts())
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


# ---- maintenance ----

MAINTENANCE_TEXT = ("the token is restarting into its maintenance REPL: run `make deploy` "
                    "(or mpremote) now; the next reset or replug starts the firmware again")


def _maintenance(args):
    with connect(args) as client:
        data = client.reboot_maintenance()
    return data, MAINTENANCE_TEXT


# ---- devices ----

PROBE_TIMEOUT_S = 1.5  # per port: a token answers `info` in milliseconds


def _devices(args):
    """The tokens and simulators this computer can see, each asked `info`."""
    rows = []
    for found in link.candidates():
        dev = dict(found, board=None, version=None, state="ok")
        try:
            with TokenClient(link.SerialLink(found["port"]),
                             timeout=min(args.timeout, PROBE_TIMEOUT_S)) as client:
                info = client.info()
            dev["board"] = info.get("board")
            dev["version"] = info.get("version")
        except TokenError as e:  # busy, at the REPL, not answering: say so, go on
            dev["state"] = e.code
            dev["message"] = e.message
        rows.append(dev)
    if not rows:
        return {"devices": []}, "no tokens or simulators found"
    table = _table(("port", "kind", "board", "firmware", "state"),
                   [(d["port"], d["description"], d["board"] or "-", d["version"] or "-",
                     "ok" if d["state"] == "ok" else _STATE_WORDS.get(d["state"], d["state"]))
                    for d in rows])
    return {"devices": rows}, "\n".join(table)


_STATE_WORDS = {"port_busy": "in use by another program", "not_token": "not token firmware",
                "no_answer": "no answer", "no_device": "cannot open"}


# ---- wipe ----

def _wipe_arguments(p):
    p.add_argument("--yes", action="store_true", help="really delete every account")
    p.add_argument("--scrub", action="store_true",
                   help="also overwrite all free flash, so no old copy of a key or record "
                        "survives anywhere (before giving the token away; takes a while)")


def _wipe(args):
    if not args.yes:
        raise UsageError("wipe deletes every account on the token; add --yes to confirm",
                         "confirm_required")
    with connect(args) as client:
        data = client.wipe(scrub=args.scrub)
    return data, "wiped: %s accounts deleted%s" % (
        data.get("deleted"), ", free flash overwritten" if args.scrub else "")


def _no_arguments(p):
    pass


def _completion_arguments(p):
    p.add_argument("shell", choices=["bash"],
                   help="bash (zsh too, after `autoload -U bashcompinit && bashcompinit`)")


def _completion(args):
    script = completion.bash(build_parser())
    return {"shell": args.shell, "script": script}, script.rstrip("\n")


COMMANDS = {
    "add": (_add_arguments, _add, "store an account (TOTP, HOTP or Steam)"),
    "list": (_no_arguments, _list, "list the stored accounts (never their secrets)"),
    "delete": (backup_cli.delete_arguments, _delete,
               "delete one account (asks first; the backup keeps it, marked deleted)"),
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
    "pin": (pin_cli.pin_arguments, lambda args: pin_cli.run_pin(args, connect),
            "set, change or remove the token's PIN"),
    "config": (pin_cli.config_arguments, lambda args: pin_cli.run_config(args, connect),
               "show or change the token's lock settings"),
    "maintenance": (_no_arguments, _maintenance,
                    "restart the token into its MicroPython REPL once, for `make deploy`"),
    "devices": (_no_arguments, _devices,
                "list the tokens and running simulators this computer can see"),
    "completion": (_completion_arguments, _completion,
                   "print a shell completion script: eval \"$(totp-token completion bash)\""),
    "log": (log_cli.log_arguments, lambda args: log_cli.run_log(args, lambda: connect(args)),
            "show the token's diagnostic log (no secrets); --follow, --clear"),
    "data": (log_cli.data_arguments, lambda args: log_cli.run_data(args, lambda: connect(args)),
             "what the token and this computer store, and how to delete each"),
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


def program_name(argv0=None):
    """The name the user ran us by, for usage lines: the console command
    (totp-token) or provision.py, however it was started (python -m, a test)."""
    name = os.path.basename(sys.argv[0] if argv0 is None else argv0 or "")
    return name if name in ("provision.py", "totp-token") else "provision.py"


def build_parser():
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=program_name(),
                     description="Provision the TOTP token over USB serial.",
                     epilog=EPILOG, formatter_class=fmt)
    _global_arguments(parser, top=True)
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (add_arguments, handler, help_text) in COMMANDS.items():
        # The exit codes are the top-level --help's epilog only: each command's
        # own help is its options.
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  formatter_class=fmt)
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
    _say_if_erased(as_json)
    return EXIT_OK


_terminal = terminal.safe


def _say_if_erased(as_json):
    # Plainly, on every command, not a vague "no accounts" (the Nitrokey lesson).
    if any(c.erased for c in _clients) and not as_json:
        print("note: " + ERASED_MESSAGE, file=sys.stderr)
    del _clients[:]


def _fail(code, message, exit_code, as_json, data=None, report=()):
    """data: what a command did before it failed (an import stopped part way),
    in the JSON; report says the same for people, on stdout."""
    if code != "erased":
        _say_if_erased(as_json)
    else:
        del _clients[:]
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
