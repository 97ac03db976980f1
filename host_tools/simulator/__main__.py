"""Run the simulated token in a terminal.

    python -m host_tools.simulator [--demo] [--data DIR] [--display 128x32]

The OLED is drawn in the terminal (in braille, with a plain-text line of
what it says below); the serial port to give provision.py is printed above
it. Keys: space or n = short press, b or l = long press, h = hold the button
down until h again (the lock screen counts a PIN digit up while it is held),
s = screenshot (PNG), q = quit.
"""
import argparse
import os
import select
import signal
import sys
import termios
import time
import tty

from host_tools.client import TokenClient
from host_tools.errors import DeviceError
from host_tools.link import SerialLink
from host_tools.formats.otpauth import Account, parse_base32
from host_tools.simulator.screen_decode import decode_pixels, render_braille
from host_tools.simulator.token import SimulatedToken

# Test secrets only: the RFC 4226/6238 seeds and the Steam example.
DEMO_ACCOUNTS = [
    Account(name="alice@example.com", issuer="Example", secret=b"12345678901234567890"),
    Account(name="alice", issuer="Acme VPN", secret=b"12345678901234567890123456789012",
            algorithm="SHA256", digits=8, period=60),
    Account(name="root", issuer="Lab", secret=b"1234567890" * 6 + b"1234",
            algorithm="SHA512", digits=7, period=45),
    Account(name="player", issuer="Steam", secret=parse_base32("BASE32SECRET3232"),
            kind="steam", digits=5),
    Account(name="door", issuer="Office", secret=b"12345678901234567890", kind="hotp",
            counter=0),
]

KEYS = "space/n: press   b/l: long press   h: hold/let go   s: screenshot   q: quit"
HOLDING = "holding the button: h lets go"


def provision_demo(tok):
    """Give a fresh token the demo accounts and the host's time, through the
    same protocol library provision.py uses, and start it on account 1/N.
    A token with a PIN (the user ran `pin set` on it) is left locked unless
    $TOKEN_PIN is given. Returns what to tell the user about it, or ""."""
    pin = os.environ.get("TOKEN_PIN") or None
    with TokenClient(SerialLink(tok.port), pin=(lambda: pin) if pin else None) as client:
        auth = client.info().get("auth") or {}
        if auth.get("pin") and (pin is None or (auth.get("tries_left") or 0) <= 1):
            why = "enter the PIN on its button" if pin is None else \
                "one try left: $TOKEN_PIN not used, enter the PIN on its button"
            return ("This token has a PIN: it starts locked (%s). Its clock was not synced "
                    "(TOKEN_PIN=... make demo syncs it)." % why)
        try:
            fresh = client.status()["accounts"] == 0
            if fresh:
                for acc in DEMO_ACCOUNTS:
                    client.add(acc)
            client.sync_time()
        except DeviceError as e:  # a wrong $TOKEN_PIN: the demo still runs
            return "The clock was not synced: %s" % e
    if fresh:
        tok.restart()  # each add showed the account it added: start on 1/N
    return "The token has a PIN: clock synced with $TOKEN_PIN." if pin and auth.get("pin") else ""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m host_tools.simulator",
                                description="Run the simulated TOTP token.")
    p.add_argument("--demo", action="store_true",
                   help="add demo accounts (test secrets) to an empty token and sync its clock")
    p.add_argument("--data", default=None,
                   help="directory for the flash image and RTC state (kept between runs; "
                        "default: a temporary directory)")
    p.add_argument("--display", default="128x64", choices=["128x64", "128x32"])
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (for scripts)")
    p.add_argument("--screenshot", default="token-screen.png",
                   help="where the s key writes the PNG (its full path is shown)")
    return p.parse_args(argv)


def _python():
    """The interpreter to suggest: this one, relative when that's shorter."""
    rel = os.path.relpath(sys.executable)
    return rel if len(rel) < len(sys.executable) else sys.executable


def backup_hint(tok):
    """provision.py keeps no backup for a simulated token unless told where:
    the demo's accounts must never land in the user's own backup."""
    path = os.path.join(tok.data_dir, "backup.aegis.json")
    if not os.path.relpath(path).startswith(".."):
        path = os.path.relpath(path)
    return "Its accounts go into no backup of yours (to try one: TOKEN_BACKUP=%s)" % path


def take_screenshot(tok, path):
    """Save the screen as a PNG; the status line to show (where it went, by its
    absolute path, since the demo may run from anywhere)."""
    path = os.path.abspath(path)
    try:
        tok.screenshot(path)
    except OSError as e:
        return "screenshot not saved: %s" % (e.strerror or e)
    return "screenshot saved: %s" % path


def draw(tok, status=""):
    sys.stdout.write("\x1b[H\x1b[J")
    sys.stdout.write("Simulated token on port %s\r\n" % tok.port)
    sys.stdout.write("Try: %s host_tools/provision.py --port %s list\r\n%s\r\n\r\n"
                     % (_python(), tok.port, backup_hint(tok)))
    if tok.oled.display_on:
        pixels = tok.pixels()
        art = render_braille(pixels)
        # Braille is a picture: say the same in words, for a screen reader or a glance.
        said = " | ".join(decode_pixels(pixels).splitlines()) or "(nothing to read)"
    else:
        art = "(screen off: press to wake)"
        said = "(off: press to wake)"
    sys.stdout.write(art.replace("\n", "\r\n") + "\r\n" + "Screen: " + said + "\r\n\r\n"
                     + KEYS + "\r\n")
    if status:
        sys.stdout.write(status + "\r\n")
    sys.stdout.flush()


def interactive(tok, args, note=""):
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        end = time.monotonic() + args.seconds if args.seconds else None
        status = note
        while end is None or time.monotonic() < end:
            draw(tok, status)
            # While a hold counts a PIN digit up, the picture must keep up with
            # it: a digit stays 0.4 s, and the user lets go on the one seen.
            r, _, _ = select.select([fd], [], [], 0.05 if status == HOLDING else 0.25)
            if not r:
                continue
            key = os.read(fd, 1).decode(errors="ignore").lower()
            if key == "h":
                # A terminal sees no key come up: h puts the finger down, h lifts it.
                held = status != HOLDING
                tok.hold_button(held)
                status = HOLDING if held else ""
                continue
            if status == HOLDING:  # any other key lifts the finger first
                tok.hold_button(False)
                status = ""
            if key in (" ", "n"):
                tok.press()
            elif key in ("b", "l"):
                tok.long_press()
            elif key == "s":
                status = take_screenshot(tok, args.screenshot)
            elif key == "q":
                break
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def headless(tok, args, note=""):
    """No terminal (a script or CI): print the port and the screen as text."""
    print("Simulated token on port %s (Ctrl-C to stop)" % tok.port, flush=True)
    print("Try: %s host_tools/provision.py --port %s list" % (_python(), tok.port), flush=True)
    print(backup_hint(tok), flush=True)
    if note:
        print(note, flush=True)
    print(tok.screen_text(), flush=True)
    end = time.monotonic() + args.seconds if args.seconds else None
    while end is None or time.monotonic() < end:
        time.sleep(0.2)


def main(argv=None):
    args = parse_args(argv)
    w, h = (int(x) for x in args.display.split("x"))
    tok = SimulatedToken(data_dir=args.data, display=(w, h), announce=True)
    # A kill or a closed terminal (SIGHUP) ends us as q does: through the
    # finally below, so the firmware process stops too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *a: sys.exit(0))
    tok.start()
    try:
        note = ""
        if args.demo:
            note = provision_demo(tok)
        if sys.stdin.isatty() and sys.stdout.isatty():
            interactive(tok, args, note)
        else:
            headless(tok, args, note)
    except KeyboardInterrupt:
        pass
    finally:
        tok.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
