"""The command line (`totp-token`, or `python host_tools/provision.py`): a
thin dispatch table over the command modules in host_tools/cli/.

    python -m host_tools.provision [--port P] [--json] [--timeout S] COMMAND ...

Every command checks its input before a port is opened, so bad input never
reaches the device. main(argv) returns the exit code; output goes to
sys.stdout / sys.stderr. Secrets are never printed.
"""
import argparse
import difflib
import json
import os
import re
import sys

if not __package__:
    # Run as a script (`python host_tools/provision.py`, as the README shows):
    # the one place that puts the repository on sys.path, so `host_tools` and
    # `firmware` import as packages. Installed or run with -m, it needs nothing.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from host_tools import __version__, completion, link, terminal  # noqa: E402
from host_tools.cli import (accounts, backup_cmd, clock, codes, device, fleet,  # noqa: E402
                            lock, log, transfer)
from host_tools.client import TokenClient  # noqa: E402
from host_tools.errors import (ERASED_MESSAGE, EXIT_INTERRUPTED, EXIT_OK,  # noqa: E402
                               CommandError, TokenError, UsageError)

EPILOG = """exit codes:
  0  done
  1  the token refused (name_taken, store_full, not_found, ...), or would have:
     an import that clashes or doesn't fit writes nothing; or the backup
     failed after the token was written; or `backup check` found accounts
     the backup misses
  2  bad input or usage (a file, a password, a missing --yes), or a cancelled
     import; nothing was written to the token
  3  no token found, the device is not running token firmware, or the link was lost
  an import or restore that stops part way (1, 3, or 130 for Ctrl-C) keeps the
  accounts already written, reports which were and which were not, and import
  still saves them to the backup"""


class _Parser(argparse.ArgumentParser):
    # Errors become exceptions so main() can report them as text or JSON alike.
    top = None  # the top-level parser, with the argv main() is parsing

    def error(self, message):
        top = self.top or self
        message = _unknown_option(top, getattr(top, "argv", ())) or _unknown_command(message) \
            or _redact(message)
        raise UsageError("%s (see %s --help)" % (message, self.prog), "usage")


def _suggest(word, choices):
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown_option(top, argv):
    """'unknown option --prot: did you mean --port?' for the first option in
    argv no parser knows. argparse reports it as an unrecognized argument, or,
    before the command, as an invalid command (the option's value took the
    command's place)."""
    known = set()
    for parser in _all_parsers(top):
        known.update(parser._option_string_actions)
    for word in argv:
        if word == "--":
            break
        name = word.split("=", 1)[0]
        if name.startswith("-") and len(name) > 1 and not _is_number(name) \
                and name not in known and not any(k.startswith(name) for k in known):
            hint = _suggest(name, sorted(known))
            return "unknown option %s%s" % (name, ": did you mean %s?" % hint if hint else "")
    return None


def _unknown_command(message):
    m = re.match(r"argument COMMAND: invalid choice: '([^']*)'", message)
    if not m:
        return None
    hint = _suggest(m.group(1), list(COMMANDS))
    return "unknown command '%s'%s" % (m.group(1), ": did you mean '%s'?" % hint if hint else "")


def _is_number(word):
    try:
        float(word)
        return True
    except ValueError:
        return False


def _all_parsers(top):
    subs = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return [top] + [p for a in subs for p in a.choices.values()]


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
    say = None if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    client = TokenClient(link.open_waiting(port, args.wait, say), timeout=args.timeout,
                         pin=lock.pin_provider())
    client.on_confirm = lock.ask_for_hold
    client.on_last_try = lock.last_try_guard(getattr(args, "allow_last_try", False))
    _clients.append(client)
    return client


# Clients opened by this run: main() reports a token that said it erased itself.
_clients = []


def _no_arguments(p):
    pass


def _completion_arguments(p):
    p.description += ("\n\n  bash: eval \"$(totp-token completion bash)\"     in ~/.bashrc"
                      "\n  zsh:  eval \"$(totp-token completion zsh)\"      in ~/.zshrc, "
                      "after compinit"
                      "\n  fish: totp-token completion fish | source     in "
                      "~/.config/fish/config.fish"
                      "\n\nIt completes both totp-token and provision.py.")
    p.add_argument("shell", nargs="?", choices=list(completion.SHELLS),
                   help="the shell to print the script for: bash, zsh or fish")
    p.add_argument("--ports", action="store_true",
                   help="print the ports --port can take, one a line (the scripts ask this "
                        "at each Tab after --port)")


def _completion(args, connect):
    if args.ports:
        ports = completion.ports()
        return {"ports": ports}, "\n".join(ports)
    if not args.shell:
        raise UsageError("completion needs a shell: bash, zsh or fish", "usage")
    # The script asks this same program for the ports, however the user
    # starts it (an alias, the venv's python, the installed command).
    lister = [sys.executable, os.path.abspath(__file__)]
    script = completion.SHELLS[args.shell](build_parser(), lister)
    return {"shell": args.shell, "script": script}, script.rstrip("\n")


COMMANDS = {
    "add": (accounts.add_arguments, accounts.run_add,
            "store an account (TOTP, HOTP or Steam)"),
    "list": (_no_arguments, accounts.run_list, "list the stored accounts (never their secrets)"),
    "show": (codes.show_arguments, codes.run_show, "put an account on the token's screen"),
    "code": (codes.code_arguments, codes.run_code,
             "an account's code on this computer, after a press on the token"),
    "delete": (accounts.delete_arguments, accounts.run_delete,
               "delete one account (asks first; the backup keeps it, marked deleted)"),
    "import": (transfer.import_arguments, transfer.run_import,
               "add accounts from other apps' exports, otpauth:// URIs or QR images"),
    "restore": (transfer.restore_arguments, transfer.run_restore,
                "provision a new or wiped token from an encrypted backup"),
    "export": (transfer.export_arguments, transfer.run_export,
               "show the host backup's accounts as otpauth:// URIs or QR codes "
               "(from the backup file, never the token)"),
    "backup": (backup_cmd.backup_arguments, backup_cmd.run_backup,
               "check the host backup against the token: the accounts it misses"),
    "rename": (accounts.rename_arguments, accounts.run_rename,
               "rename an account, or change its issuer"),
    "move": (accounts.move_arguments, accounts.run_move,
             "move an account to another place in the button order"),
    "sort": (_no_arguments, accounts.run_sort,
             "order the accounts by issuer, then name (favourites first)"),
    "favourite": (accounts.favourite_arguments, accounts.run_favourite,
                  "make an account a favourite: first on the token's button (--off: no longer)"),
    "sync-time": (clock.sync_time_arguments, clock.run_sync_time,
                  "set the token's clock from this computer's (and measure its drift)"),
    "calibrate": (_no_arguments, clock.run_calibrate,
                  "trim the token's clock drift now (needs two syncs an hour or more apart)"),
    "status": (_no_arguments, device.run_status, "show storage, clock and health"),
    "info": (_no_arguments, device.run_info, "show the serial number, firmware, board and capabilities"),
    "wipe": (device.wipe_arguments, device.run_wipe, "delete every account (needs --yes)"),
    "pin": (lock.pin_arguments, lock.run_pin, "set, change or remove the token's PIN"),
    "config": (lock.config_arguments, lock.run_config,
               "show or change the token's settings: the lock and typing the code"),
    "maintenance": (_no_arguments, device.run_maintenance,
                    "restart the token into its MicroPython REPL once, for `make deploy`"),
    "devices": (_no_arguments, device.run_devices,
                "list the tokens and running simulators this computer can see"),
    "fleet": (fleet.fleet_arguments, fleet.run_fleet,
              "provision tokens for a team from a list of people, and hand their secrets "
              "to the MFA server"),
    "completion": (_completion_arguments, _completion,
                   "print a shell completion script (bash, zsh or fish)"),
    "log": (log.log_arguments, log.run_log,
            "show the token's diagnostic log (no secrets); --follow, --clear"),
    "data": (log.data_arguments, log.run_data,
             "what the token and this computer store, and how to delete each"),
}


def _global_arguments(p, top):
    # On the top parser and on each command, so `--json` works before or after
    # the command; SUPPRESS keeps a command's parser from resetting the top's value.
    def default(value):
        return value if top else argparse.SUPPRESS
    p.add_argument("--port", default=default(None), action=_PortOption,
                   help="serial port (default: $TOKEN_PORT, else auto-detect by USB VID/PID); "
                        "fleet takes it repeated, one per token")
    p.add_argument("--json", action="store_true", default=default(False),
                   help="machine-readable output on stdout, errors included")
    p.add_argument("--timeout", type=_seconds, default=default(3.0), metavar="S",
                   help="seconds to wait for each reply (default 3)")
    p.add_argument("--wait", type=_wait_seconds, default=default(WAIT_S), metavar="S",
                   help="while another program has the port, wait this long for it "
                        "(default %g; 0: fail at once)" % WAIT_S)
    p.add_argument("--allow-last-try", action="store_true", default=default(False),
                   help="let a PIN from $TOKEN_PIN or stdin spend the last try "
                        "(a wrong one then erases the token)")


class _PortOption(argparse.Action):
    """--port: the last one given is the port; every one given, in order,
    is args.ports (fleet provisions several tokens at once)."""

    def __call__(self, parser, namespace, value, option_string=None):
        namespace.port = value
        namespace.ports = list(getattr(namespace, "ports", None) or []) + [value]


WAIT_S = 10.0  # --wait: a second command waits for the first


def _wait_seconds(text):
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be 0-3600 seconds")
    return value


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
        sub.top = parser
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv  # known even when parsing itself fails
    try:
        parser = build_parser()
        parser.argv = argv
        args = parser.parse_args(argv)
        as_json = args.json
        # Each handler gets connect() for this run's options; looked up
        # here at call time, so tests can replace connect.
        data, text = args.handler(args, lambda: connect(args))
    except SystemExit as e:  # --help printed; argparse wants to exit
        return e.code if isinstance(e.code, int) else EXIT_OK
    except CommandError as e:  # UsageError included
        return _fail(e.code, e.message, e.exit_code, as_json, e.data, e.report)
    except TokenError as e:
        return _fail(e.code, e.message + _devices_hint(e), e.exit_code, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", "interrupted", EXIT_INTERRUPTED, as_json)
    try:
        print(json.dumps({"ok": True, "data": data}) if as_json else _terminal(text))
        sys.stdout.flush()
    except BrokenPipeError:
        # `provision.py list | head`: the reader left; the command itself was done.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    _say_if_erased(as_json)
    return EXIT_OK


_terminal = terminal.safe


def _devices_hint(error):
    # A port that can't be opened, or where nothing answers as a token, is
    # most often the wrong one: name the command that lists the right ones.
    if getattr(error, "port", None) is None:
        return ""
    return "; `%s devices` lists the tokens and simulators this computer sees" % program_name()


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
