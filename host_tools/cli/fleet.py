"""`fleet`: tokens for a team (host_tools/fleet does the work; docs/fleet.md).

Everything that needs no token is checked first, and nothing is written
when it fails: the people file, the template against the token's rules
and the output format, the protection, the server, the journal and an
export from an earlier run. Then each token plugged in (all at once, or
one by one after a prompt) gets the next person. Secrets and PINs are
never printed; the admin token, pre-shared key and password come from the
environment, a prompt or a 0600 file.
"""
import os
import sys
import threading
import time

from firmware import rules
from firmware.protocol import frames
from host_tools import exports, fleet, link
from host_tools.cli.common import display_path, plural, read_line, stdin_is_tty, table
from host_tools.client import TokenClient
from host_tools.errors import EXIT_DEVICE, CommandError, ExportError, UsageError
from host_tools.exports.pskcfile import MIN_PASSWORD
from host_tools.formats.pskcfile import parse_psk
from host_tools.fleet.pins import DEFAULT_DIGITS
from host_tools.privacyidea import TOKEN_ENV, PrivacyIDEA
from host_tools.privatefile import write_private
from host_tools.progress import Progress, before_prompt

PASSWORD_ENV = "TOKEN_EXPORT_PASSWORD"
FIND_S = 10.0  # one by one: how long a token just plugged in may take to show up

DESCRIPTION = """
For each token plugged in: the next person of PEOPLE.csv without a token,
their accounts with secrets made on this computer, the token's clock set,
a PIN if asked (the token waits for a hold on its button), and the secrets
into one export file (always every finished token, written whole, 0600) or
straight into privacyIDEA. A journal beside PEOPLE.csv (no secrets) records
who got which token: run the same command again to go on after a stop, with
more tokens, or to finish a token that failed; no token is provisioned twice
and no person gets two.

PEOPLE.csv: a first line naming the columns, then one person a line:
  user          user principal name or user id (required; also upn)
  display_name  printed beside the PIN (optional; also name)
  accounts      which of --accounts this person gets, ';'-separated
                (optional; empty: all)

examples:
  fleet people.csv --issuer Contoso --format entra --out entra.csv --plaintext
  fleet people.csv --issuer Contoso --out fleet.pskc --psk-file /media/usb/fleet.psk
  PRIVACYIDEA_TOKEN=... fleet people.csv --issuer Contoso \\
        --privacyidea https://mfa.example.org --realm staff --pin generate"""


def fleet_arguments(p):
    p.description += "\n" + DESCRIPTION
    p.add_argument("people", metavar="PEOPLE.csv", help="the people, one a line (see above)")
    tokens = p.add_argument_group("the tokens")
    tokens.add_argument("--one-by-one", action="store_true",
                        help="one token at a time: plug it in, press Enter, and the next "
                             "(default: every token plugged in at once; --port, repeated, "
                             "names them)")
    tokens.add_argument("--wipe-first", action="store_true",
                        help="delete the accounts a token already holds (a hold on its "
                             "button confirms); without it such a token is refused")
    tokens.add_argument("--pin", choices=("none", "generate"), default="none",
                        help="generate: a PIN per token, set on it and written to the PIN "
                             "file for the person's letter; none (the default): the person "
                             "sets one later with `pin set`")
    tokens.add_argument("--pin-digits", type=int, default=DEFAULT_DIGITS, metavar="N",
                        help="digits of a generated PIN (%d-%d, default %d)"
                             % (rules.PIN_MIN, rules.PIN_MAX, DEFAULT_DIGITS))
    tokens.add_argument("--pins", metavar="FILE",
                        help="the PIN file (default: PEOPLE.pins.csv)")
    tokens.add_argument("--journal", metavar="FILE",
                        help="the journal (default: PEOPLE.journal.json)")
    tokens.add_argument("--release", metavar="SERIAL",
                        help="forget an unfinished token, so its person can get another "
                             "one; touches no token")
    t = p.add_argument_group("the template: what each token gets")
    t.add_argument("--issuer", default="", help="the issuer, e.g. Contoso (a pattern, as --name)")
    t.add_argument("--name", default="{user}", metavar="PATTERN",
                   help="the account's name: {user}, {local} (before the @), "
                        "{display_name}, {account} (default {user})")
    t.add_argument("--accounts", metavar="KEY,KEY",
                   help="several accounts per token, one per key (put {account} in "
                        "--issuer or --name); default one")
    kind = t.add_mutually_exclusive_group()
    kind.add_argument("--totp", action="store_true", help="time-based (the default)")
    kind.add_argument("--hotp", action="store_true", help="counter-based")
    t.add_argument("--algorithm", type=str.upper, default="SHA1", metavar="{SHA1,SHA256,SHA512}",
                   help="HMAC hash (default SHA1; secrets of 20, 32, 64 bytes)")
    t.add_argument("--digits", type=int, default=6, metavar="{6,7,8}", help="default 6")
    t.add_argument("--period", type=int, default=30, metavar="SECONDS", help="TOTP, default 30")
    t.add_argument("--counter", type=int, default=0, metavar="N", help="HOTP start, default 0")
    o = p.add_argument_group("where the secrets go: a file, or privacyIDEA")
    o.add_argument("--format", choices=exports.KINDS,
                   help="pskc (the default), entra or privacyidea-csv")
    o.add_argument("--out", metavar="FILE", help="the export file")
    o.add_argument("--psk", metavar="HEX",
                   help="PSKC: encrypt under this pre-shared AES-128 key (32 hex digits; "
                        "ps and the shell's history see it: --psk-file does not)")
    o.add_argument("--psk-file", metavar="FILE",
                   help="PSKC: encrypt under the pre-shared key in FILE; a new key is made "
                        "there (0600) if it is missing. Keep it apart from OUT (another "
                        "disk, a USB stick): a key beside the file opens it")
    o.add_argument("--password", action="store_true",
                   help="PSKC: encrypt under a password (PBKDF2) from $%s or a prompt"
                        % PASSWORD_ENV)
    o.add_argument("--plaintext", action="store_true",
                   help="consent to every secret in the clear in OUT (needed for entra and "
                        "privacyidea-csv: they have no encryption)")
    o.add_argument("--privacyidea", metavar="URL",
                   help="enrol each account there instead (https://, or http:// to this "
                        "computer); the admin token from $%s" % TOKEN_ENV)
    o.add_argument("--realm", help="privacyIDEA: the people's realm (default: the server's)")


# ---- the options, checked before anything is touched ----

def _template(args):
    keys = tuple(k.strip() for k in (args.accounts or "").split(",") if k.strip())
    return fleet.Template(issuer=args.issuer, name=args.name,
                          kind="hotp" if args.hotp else "totp", algorithm=args.algorithm,
                          digits=args.digits, period=args.period, counter=args.counter,
                          accounts=keys)


def _paths(args):
    stem = os.path.splitext(args.people)[0]
    return (os.path.abspath(args.journal or stem + ".journal.json"),
            os.path.abspath(args.pins or stem + ".pins.csv"))


def _check_options(args):
    if args.pin_digits and not rules.PIN_MIN <= args.pin_digits <= rules.PIN_MAX:
        raise UsageError("--pin-digits must be %d-%d" % (rules.PIN_MIN, rules.PIN_MAX))
    if args.privacyidea:
        for option in ("format", "out", "psk", "psk_file"):
            if getattr(args, option):
                raise UsageError("--privacyidea enrols on the server: it writes no file "
                                 "(drop --%s)" % option.replace("_", "-"))
        if args.password or args.plaintext:
            raise UsageError("--privacyidea writes no file: drop --password / --plaintext")
        return
    if args.realm:
        raise UsageError("--realm goes with --privacyidea")
    if not args.out:
        raise UsageError("fleet needs where the secrets go: --out FILE (with --format), "
                         "or --privacyidea URL", "no_output")
    kind = args.format or "pskc"
    chosen = [o for o in ("psk", "psk_file", "password", "plaintext") if getattr(args, o)]
    if kind in exports.PLAINTEXT_ONLY:
        if chosen != ["plaintext"]:
            raise ExportError("the %s format has no encryption: every secret would be in %s in "
                              "the clear. Give --plaintext to consent (and no --psk or "
                              "--password), or use --format pskc" % (kind, args.out),
                              "plaintext_refused")
    elif len(chosen) > 1:
        raise UsageError("choose one protection for the PSKC file: --psk, --psk-file, "
                         "--password or --plaintext")
    elif not chosen:
        # No default: a key made beside the file would open it, which is the
        # clear text with one more step; the user says where the key lives.
        raise ExportError("say how %s is protected: --password (PBKDF2; nothing else is "
                          "written), --psk-file FILE (a pre-shared key, made if missing: keep "
                          "it apart from the export), --psk HEX, or --plaintext" % args.out,
                          "no_protection")


def _sink(args):
    """Where the secrets go; a file's protection is settled by _protect."""
    if args.privacyidea:
        return fleet.ServerSink(PrivacyIDEA(args.privacyidea), args.realm)
    return fleet.FileSink(args.format or "pskc", args.out)


def _protect(sink, args, resuming):
    """Settle the file's protection (the password is asked here, after
    every other check); the pre-shared key's file to make, if any."""
    if not isinstance(sink, fleet.FileSink):
        return None
    if sink.kind != "pskc" or args.plaintext:
        sink.protection = {"plaintext": True}
    elif args.psk:
        sink.protection = {"psk": _psk(args.psk, "--psk")}
    elif args.password:
        sink.protection = {"password": _password(args.out, resuming)}
    else:
        path = os.path.abspath(args.psk_file)
        try:
            with open(path, encoding="ascii") as f:
                sink.protection = {"psk": _psk(f.read(), path)}
        except FileNotFoundError:
            sink.protection = {"psk": exports.new_psk()}
            return path
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError("cannot read %s: %s" % (path, getattr(e, "strerror", None) or e),
                             "bad_psk") from None
    return None


def _psk(text, where):
    try:
        return parse_psk(text.strip(), (16,)).hex()
    except ValueError as e:
        raise UsageError("%s: %s" % (where, e), "bad_psk") from None


def _password(out, resuming):
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not stdin_is_tty():
            raise UsageError("--password: give it in $%s (or run at a terminal)" % PASSWORD_ENV,
                             "no_password")
        password = read_line("password for %s: " % out)
        if not resuming and read_line("the same again: ") != password:
            raise UsageError("the two passwords differ; nothing was written", "password_mismatch")
    if len(password) < MIN_PASSWORD:
        raise UsageError("the PSKC password must be at least %d characters" % MIN_PASSWORD,
                         "weak_password")
    return password


# ---- the tokens ----

def _ports(args):
    ports = getattr(args, "ports", None) or ([args.port] if args.port else [])
    if not ports and os.environ.get("TOKEN_PORT"):
        ports = [os.environ["TOKEN_PORT"]]
    return ports


def _opener(args):
    def open_client(port):
        return TokenClient(link.open_waiting(port, args.wait), timeout=args.timeout)
    return open_client


def _next_port(args, run, say):
    """One by one: wait for Enter, then the one token plugged in."""
    named = _ports(args)

    def next_port(to_do):
        before_prompt()
        unfinished = run.unfinished()
        sys.stderr.write("Plug in the next token (%d to do%s), then press Enter (q: stop): "
                         % (to_do, "; to finish: " + ", ".join(unfinished) if unfinished
                            else ""))
        sys.stderr.flush()
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line or line.strip().lower() in ("q", "quit"):
            return None
        if named:
            return named[0]
        deadline = time.monotonic() + FIND_S
        while True:
            found = [c["port"] for c in link.candidates()]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                say("%d tokens are plugged in (%s): leave one, or name it with --port"
                    % (len(found), ", ".join(found)))
                return next_port(to_do)
            if time.monotonic() >= deadline:
                say("no token found yet: plug it in (or name it with --port)")
                return next_port(to_do)
            time.sleep(0.2)
    return next_port


_HOLD = {"pin-set": "setting its PIN", "wipe": "the wipe"}


def _events(say, bar):
    lock = threading.Lock()  # the tokens' threads share the terminal and the bar

    def on_event(kind, out, detail):
        with lock:
            _event(kind, out, detail, say, bar)
    return on_event


def _event(kind, out, detail, say, bar):
    if kind == "hold":
        # Even with --json: the token waits for a hand, whoever reads the output.
        before_prompt()
        sys.stderr.write("%s on %s (%s): hold its button to confirm %s (%d s; a short press "
                         "cancels)\n" % (out.serial, out.port, out.user,
                                         _HOLD.get(detail, detail), frames.CONFIRM_S))
        sys.stderr.flush()
    elif kind == "end":
        if bar is not None:
            bar.step()  # at once: the table at the end says how each went
        elif say is not None:  # one by one: before the next one is plugged in
            say("%s on %s: %s" % (out.serial or "token", out.port, _state_text(out)))


def _state_text(out):
    if out.state == "done":
        return "done: %s's (its screen shows the account: label it, unplug it)" % out.user
    if out.state == "skipped":
        return "already done (%s)" % out.user
    return "%s: %s" % (out.state, out.message)


# ---- the command ----

def run_fleet(args, connect):
    journal_path, pins_path = _paths(args)
    if args.release:
        return _release(journal_path, pins_path, args)
    people = fleet.people.read(args.people)
    template = _template(args)
    _check_options(args)
    sink = _sink(args)
    fleet.preflight(people, template, sink)
    new_psk_file = _protect(sink, args, resuming=os.path.exists(journal_path))
    say = None if args.json else _to_stderr
    with fleet.Journal(journal_path, template.as_dict()) as journal:
        sink.open(journal, template)
        run = fleet.Fleet(people, template, journal, sink, _opener(args),
                          pins=fleet.PinFile(pins_path),  # an earlier run's PINs too
                          pin_digits=args.pin_digits if args.pin == "generate" else None,
                          wipe_first=args.wipe_first)
        if not run.to_do():
            data = _summary(args, run, [], sink, journal_path, pins_path)
            return data, "everyone in %s has a token (%s): nothing to do" % (
                args.people, display_path(journal_path))
        ports = _ports(args)
        if not args.one_by_one and not ports:
            ports = [c["port"] for c in link.candidates()]
            if not ports:
                raise CommandError("no tokens found: plug them in, or name them with --port "
                                   "(repeated)", "no_device", EXIT_DEVICE)
        if new_psk_file:  # the key exists before any secret is encrypted under it
            _write_psk(new_psk_file, sink.protection["psk"])
        _loud(args, sink, say)
        if args.one_by_one:
            run.on_event = _events(say, None)
            outcomes = run.one_by_one(_next_port(args, run, _to_stderr))
        else:
            with Progress(len(ports), "provisioning", enabled=not args.json) as bar:
                run.on_event = _events(say, bar)
                outcomes = run.parallel(ports)
        data = _summary(args, run, outcomes, sink, journal_path, pins_path)
    return _finish(data, outcomes, args)


def _to_stderr(text):
    before_prompt()
    print(text, file=sys.stderr, flush=True)


def _write_psk(path, psk_hex):
    try:
        write_private(path, (psk_hex + "\n").encode("ascii"), overwrite=False)
    except OSError as e:
        raise UsageError("cannot write the pre-shared key's file %s: %s; nothing written"
                         % (path, e.strerror or e), "cannot_write") from None


def _loud(args, sink, say):
    if isinstance(sink, fleet.FileSink) and "plaintext" in sink.protection:
        # Loud even with --json: stderr is not the JSON.
        sys.stderr.write("WARNING: %s will hold every secret in the clear (--plaintext): "
                         "import it, then delete it\n" % display_path(sink.path))
    if args.pin == "generate":
        sys.stderr.write("note: the PINs go into %s in the clear, for the letters; the tokens "
                         "wait for a hold on their button to set them\n"
                         % display_path(_paths(args)[1]))
    sys.stderr.flush()


def _summary(args, run, outcomes, sink, journal_path, pins_path):
    finished = {e["user"].casefold() for e in run.journal.tokens.values() if e["state"] == "done"}
    done = sum(1 for p in run.people if p.key in finished)
    left = [p.user for p in run.left()]
    data = {"tokens": [o.as_dict() for o in outcomes],
            "people": {"total": len(run.people), "done": done, "left": left},
            "unfinished": run.unfinished(),
            "journal": journal_path, "output": sink.describe()}
    if isinstance(sink, fleet.FileSink):
        data["protection"] = next(iter(sink.protection))
        data["psk_file"] = os.path.abspath(args.psk_file) \
            if data["protection"] == "psk" and not args.psk else None
    if args.pin == "generate":
        data["pins_file"] = pins_path
    return data


def _finish(data, outcomes, args):
    rows = [(o.serial or "-", o.port, o.user or "-", ", ".join(o.accounts) or "-",
             "yes" if o.pin else "-", o.state) for o in outcomes]
    lines = table(("serial", "port", "user", "accounts", "PIN", "state"), rows) if rows \
        else ["no token provisioned"]
    lines += [_problem_line(o) for o in outcomes if o.state in ("failed", "refused", "stopped")]
    lines += _where(data)
    bad = [o for o in outcomes if o.state in ("failed", "refused", "stopped")]
    if not bad:
        return data, "\n".join(lines)
    first = next((o for o in bad if o.state == "stopped"), bad[0])
    raise CommandError("%s of %s not provisioned: %s" % (
        len(bad), plural(len(outcomes), "token"), first.message if len(bad) == 1
        else "see the table"), first.code or "failed", first.exit_code or 1, data, lines)


def _problem_line(o):
    return "%s on %s: %s" % (o.serial or "token", o.port, o.message)


def _where(data):
    out = data.get("output") or {}
    lines = []
    if "path" in out:
        protection = {"psk": "encrypted under the pre-shared key%s" % (
            " in %s (give it to the server's admin apart from the file)"
            % display_path(data["psk_file"]) if data.get("psk_file") else ""),
            "password": "encrypted under the password",
            "plaintext": "IN THE CLEAR: import it, then delete it"}[data["protection"]]
        lines.append("%s: %s, %s, %s" % (display_path(out["path"]), out["format"],
                                         plural(out["records"], "account"), protection))
    elif "privacyidea" in out:
        lines.append("privacyIDEA %s: %s enrolled%s" % (
            out["privacyidea"], plural(out["enrolled"], "account"),
            " in realm %s" % out["realm"] if out.get("realm") else ""))
    if data.get("pins_file"):
        lines.append("PINs: %s (give each person theirs apart from the token, then delete "
                     "the file)" % display_path(data["pins_file"]))
    people = data["people"]
    lines.append("%d of %d people have their token%s (journal %s)" % (
        people["done"], people["total"],
        "; left: %s" % ", ".join(people["left"][:5]) + (" ..." if len(people["left"]) > 5
                                                        else "") if people["left"] else "",
        display_path(data["journal"])))
    if data["unfinished"]:
        lines.append("to finish (plug in again and run the same command): %s"
                     % ", ".join(data["unfinished"]))
    return lines


def _release(journal_path, pins_path, args):
    if not os.path.exists(journal_path):
        raise UsageError("no journal at %s" % journal_path, "not_found")
    with fleet.Journal(journal_path) as journal:
        entry = journal.release(args.release)
    fleet.PinFile(pins_path).drop(args.release)
    return ({"released": args.release, "user": entry["user"], "journal": journal_path},
            "released %s: %s gets the next token plugged in (wipe this one before it is "
            "used again: it may hold half of their accounts)" % (args.release, entry["user"]))

