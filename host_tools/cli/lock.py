"""`pin ...` and `config`: the token's lock; and the PIN prompt every command uses.

The PIN is asked only when the token wants it: from $TOKEN_PIN, else without
echo at the terminal, else one line from stdin (scripts).
"""
import os
import sys

from firmware import rules
from firmware.keyboard import keymap
from firmware.protocol import frames
from host_tools import guessing
from host_tools.cli.common import read_line
from host_tools.errors import EXIT_REFUSED, CommandError, UsageError
from host_tools.pinauth import PinError, check_pin


def _valid(pin, what="PIN"):
    try:
        return check_pin(pin.strip())
    except PinError as e:
        raise UsageError("%s: %s" % (what, e), "bad_pin") from None


def pin_provider():
    """A callable for TokenClient(pin=...): the current PIN, asked once."""
    cache = []

    def provide():
        if not cache:
            env = os.environ.get("TOKEN_PIN")
            text = env if env is not None else read_line("token PIN: ")
            if not text.strip():
                raise UsageError("the token has a PIN: give it with $TOKEN_PIN or at the prompt",
                             "pin_required")
            cache.append(_valid(text))
        return cache[0]
    return provide


def _pin_typed_by_a_person():
    return os.environ.get("TOKEN_PIN") is None and sys.stdin is not None and sys.stdin.isatty()


def last_try_guard(allowed):
    """A callable for TokenClient.on_last_try. A PIN from $TOKEN_PIN or a pipe
    is never tried as the last try unless `allowed` (--allow-last-try): a
    script with a wrong PIN in a loop would otherwise erase the token. A
    person at the prompt is warned."""
    def guard():
        if _pin_typed_by_a_person():
            sys.stderr.write("One try left: a wrong PIN now erases the token.\n")
            sys.stderr.flush()
            return
        if not allowed:
            raise CommandError("one PIN try is left and a wrong PIN would erase the token: "
                               "nothing was tried. Enter the PIN at the prompt, or give "
                               "--allow-last-try to spend the last try from $TOKEN_PIN or stdin",
                               "last_try", EXIT_REFUSED)
    return guard


_HOLD_FOR = {"pin-set": "setting the PIN", "pin-remove": "removing the PIN",
             "wipe": "the wipe", "reboot-maintenance": "the restart into maintenance"}


def ask_for_hold(cmd):
    """The token waits for a hand on it (frames.CONFIRMED, TOUCHED): say so."""
    if cmd in frames.TOUCHED:
        sys.stderr.write("Press the token's button to send the code (%d s)...\n"
                         % frames.CONFIRM_S)
        sys.stderr.flush()
        return
    sys.stderr.write("Confirm %s on the token: hold its button (a short press cancels; "
                     "%d s)...\n" % (_HOLD_FOR.get(cmd, cmd), frames.CONFIRM_S))
    sys.stderr.flush()


RESEAL_S_PER_ACCOUNT = 0.03  # an RP2040 (make bench, section lock)


def say_resealing(client):
    """A new PIN brings a new data key: say what the wait is for."""
    n = client.status().get("accounts") or 0
    if n:
        sys.stderr.write("The token reseals its %d account%s under the new key (about %d s on "
                         "an RP2040; its screen shows how far it is)...\n"
                         % (n, "" if n == 1 else "s", max(1, round(n * RESEAL_S_PER_ACCOUNT))))
        sys.stderr.flush()


def read_new_pin():
    """A new PIN: twice at the terminal, once from a pipe or $TOKEN_NEW_PIN."""
    env = os.environ.get("TOKEN_NEW_PIN")
    if env is not None:
        return _valid(env, "new PIN")
    interactive = sys.stdin is not None and sys.stdin.isatty()
    first = _valid(read_line("new PIN (%d-%d digits): " % (rules.PIN_MIN, rules.PIN_MAX)),
                   "new PIN")
    if interactive and read_line("new PIN again: ").strip() != first:
        raise UsageError("the two PINs differ; nothing was changed", "pin_mismatch")
    return first


# ---- pin ----

def pin_arguments(p):
    sub = p.add_subparsers(dest="pin_action", metavar="ACTION", required=True)
    s = sub.add_parser("set", help="turn the lock on with a first PIN",
                       description="Turn the lock on: the token then asks for this PIN on its "
                                   "button after power-up and idle time, and every command "
                                   "that changes it needs the PIN too.")
    s.add_argument("--tries", type=int, metavar="N",
                   help="wrong PINs before the token erases itself (%d-%d, default 8)"
                        % (rules.TRIES_MIN, rules.TRIES_MAX))
    sub.add_parser("change", help="change the PIN (asks for the current one)")
    sub.add_parser("remove", help="turn the lock off (asks for the current PIN)")


def _dump_warning(pin, data, auth):
    """The honest cost of a flash dump for this PIN's length (host_tools/guessing.py),
    on the terminal and as `offline_guessing` in the JSON."""
    words = guessing.warning(len(pin), auth.get("iterations") or guessing.REFERENCE_ITERATIONS)
    if words is None:
        return ""
    data["offline_guessing"] = words
    return "\nnote: " + words


def run_pin(args, connect):
    action = args.pin_action
    if action == "set" and args.tries is not None:
        _in_range("--tries", args.tries, rules.TRIES_MIN, rules.TRIES_MAX)
    with connect() as client:
        auth = client.info().get("auth") or {}
        if action == "set":
            if auth.get("pin"):
                raise CommandError("a PIN is already set: use `pin change`", "pin_set",
                                   EXIT_REFUSED)
            pin = read_new_pin()
            say_resealing(client)
            data = client.pin_set(pin, args.tries)
            text = "PIN set: the token locks at power-up; %d wrong tries erase it" % (
                data.get("tries_left") or 0)
            text += _dump_warning(pin, data, auth)
        elif action == "change":
            if not auth.get("pin"):
                raise CommandError("no PIN is set: use `pin set`", "no_pin", EXIT_REFUSED)
            client.authenticate()  # the current PIN, before asking for the new one
            pin = read_new_pin()
            say_resealing(client)
            data = client.pin_change(pin)
            text = "PIN changed" + _dump_warning(pin, data, auth)
        else:
            if not auth.get("pin"):
                raise CommandError("no PIN is set", "no_pin", EXIT_REFUSED)
            data = client.pin_remove()
            text = "PIN removed: the token no longer locks"
    return data, text


# ---- config ----

def config_arguments(p):
    lock = p.add_argument_group("the lock (with a PIN set)")
    lock.add_argument("--lock-after", type=int, metavar="SECONDS",
                   help="lock again after this long without a press (0 = only at power-up; "
                        "at most %d)" % rules.LOCK_MAX_S)
    lock.add_argument("--tries", type=int, metavar="N",
                   help="wrong PINs before the token erases itself (%d-%d)"
                        % (rules.TRIES_MIN, rules.TRIES_MAX))
    private = lock.add_mutually_exclusive_group()
    private.add_argument("--private-list", dest="list_private", action="store_true",
                         default=None, help="`list`, `show` and `code` need the PIN too (names are private)")
    private.add_argument("--public-list", dest="list_private", action="store_false",
                         help="`list` works without the PIN (the default)")
    kbd = p.add_argument_group("typing the code (boards with native USB: the token is also a keyboard)")
    kbd.add_argument("--typing", choices=("on", "off"),
                     help="a double press on a code types it into the focused field (default off: "
                          "on makes each single press wait 0.35 s for a second one)")
    kbd.add_argument("--layout", choices=keymap.LAYOUTS,
                     help="the computer's keyboard layout (default us); Steam codes and "
                          "--top-row digits follow it")
    digits = kbd.add_mutually_exclusive_group()
    digits.add_argument("--keypad", dest="keypad", action="store_true", default=None,
                        help="type digits on the numeric keypad, the same on every layout "
                             "(the default; Num Lock is turned on for it and back off)")
    digits.add_argument("--top-row", dest="keypad", action="store_false",
                        help="type digits with the top-row keys of --layout")
    enter = kbd.add_mutually_exclusive_group()
    enter.add_argument("--enter", dest="enter", action="store_true", default=None,
                       help="press Enter after the code")
    enter.add_argument("--no-enter", dest="enter", action="store_false",
                       help="no Enter after the code (the default)")
    kbd.add_argument("--type-interval", type=int, metavar="MS",
                     help="pause between key reports, %d-%d ms (default 20; raise it for slow "
                          "computers)" % (rules.MIN_INTERVAL_MS, rules.MAX_INTERVAL_MS))


def _in_range(option, value, low, high, unit=""):
    if not low <= value <= high:
        raise UsageError("%s must be %d-%d%s" % (option, low, high, unit))


def run_config(args, connect):
    settings = {}
    # The token's ranges, checked here so nothing is sent and the message
    # names the option the user typed.
    if args.lock_after is not None:
        _in_range("--lock-after", args.lock_after, 0, rules.LOCK_MAX_S, " seconds")
        settings["lock_after_s"] = args.lock_after
    if args.tries is not None:
        _in_range("--tries", args.tries, rules.TRIES_MIN, rules.TRIES_MAX)
        settings["tries_max"] = args.tries
    if args.list_private is not None:
        settings["list_private"] = args.list_private
    if args.typing is not None:
        settings["typing"] = args.typing == "on"
    for name in ("layout", "keypad", "enter"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.type_interval is not None:
        _in_range("--type-interval", args.type_interval, rules.MIN_INTERVAL_MS,
                  rules.MAX_INTERVAL_MS, " ms")
        settings["interval_ms"] = args.type_interval
    with connect() as client:
        if settings:
            data = client.config(**settings)
        else:
            info = client.info()
            data = {k: v for k, v in (info.get("auth") or {}).items()
                    if k in ("tries_max", "lock_after_s", "list_private")}
            data["keyboard"] = info.get("keyboard")
    text = "\n".join("%s: %s" % (k, _shown(v)) for k, v in sorted(data.items()))
    return data, text


def _shown(value):
    if isinstance(value, dict):  # the keyboard's settings on one line
        return ", ".join("%s=%s" % (k, v) for k, v in sorted(value.items()))
    return str(value)
