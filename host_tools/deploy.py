"""`make deploy`: copy the built firmware (build/mpy) to a board with mpremote.

    python -m host_tools.deploy [--port auto] [--mpremote PATH] [BUILD_DIR]
    python -m host_tools.deploy --runtime circuitpython --board B --drive D
      (host_tools/deploy_circuitpython.py)

Before copying it removes the board's NAME.py files that would shadow the new
NAME.mpy ones (MicroPython imports a .py before a .mpy) and says which. When
mpremote can't reach the REPL it says what to do: the token firmware turns
Ctrl-C off, so a running token has to be restarted into its maintenance REPL.
"""
import argparse
import glob
import os
import subprocess
import sys

NOT_AT_REPL = """\
The token firmware is running, and it ignores Ctrl-C (on purpose), so mpremote
can't reach the MicroPython REPL. Either:
  - run `python host_tools/provision.py maintenance` (restarts the token into its
    maintenance REPL once), then `make deploy` again; or
  - unplug the token, hold its button while plugging it back in, then
    `make deploy` again."""

FAILED = """\
mpremote failed. Is the token plugged in, and is PORT right (make deploy
PORT=/dev/ttyACM0)? If it is running the token firmware, restart it into its
maintenance REPL: `python host_tools/provision.py maintenance`, or hold its
button while plugging it in."""


def stale_sources_code(modules, root="/"):
    """MicroPython code that removes ROOT/NAME.py for each NAME in `modules`
    and prints what it removed."""
    return ("import os\n"
            "r = %r\n"
            "m = %r\n"
            "g = sorted(f for f in os.listdir(r) if f.endswith('.py') and f[:-3] in m)\n"
            "for f in g:\n"
            "    os.remove(r + '/' + f)\n"
            "print('removed stale sources that would shadow the new .mpy files: '"
            " + (' '.join(g) if g else 'none'))\n" % (root.rstrip("/"), sorted(modules)))


# micropython-lib's USB keyboard (MicroPython 1.23+ with machine.USBDevice):
# the token types codes with it (firmware/runtime/micropython/usbkbd.py).
KEYBOARD_PACKAGE = "usb-device-keyboard@0.1.1"

NO_KEYBOARD = """\
The firmware is on the board, but downloading the USB keyboard package (%s,
from micropython.org: it needs the internet) failed; mpremote's words are above.
The token works without it; only typing codes is missing. Go on with
`make deploy KEYBOARD=off`, and install the package later, when online, with
`mpremote mip install %s`.""" % (KEYBOARD_PACKAGE, KEYBOARD_PACKAGE)


def command(mpremote, port, build, keyboard=False):
    mpys = sorted(glob.glob(os.path.join(build, "*.mpy")))
    if not mpys:
        raise SystemExit("no .mpy files in %s: run `make mpy` first" % build)
    modules = [os.path.basename(p)[:-len(".mpy")] for p in mpys]
    files = mpys + [os.path.join(build, "tokenboard.py"), os.path.join(build, "main.py")]
    # The package goes on before the reset: afterwards the firmware runs and
    # keeps mpremote out.
    extra = ["+", "mip", "install", KEYBOARD_PACKAGE] if keyboard else []
    return [mpremote, "connect", port, "exec", stale_sources_code(modules), "+",
            "cp"] + files + [":"] + extra + ["+", "reset"]


def board_has_native_usb(build):
    """The built board file's NATIVE_USB (a board without it can't be a keyboard)."""
    ns = {}
    try:
        with open(os.path.join(build, "tokenboard.py")) as f:
            exec(compile(f.read(), "tokenboard.py", "exec"), ns)  # data only
    except Exception:  # missing or not a board file: no keyboard
        return False
    return bool(ns.get("NATIVE_USB"))


def _default_mpremote():
    beside = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return beside if os.path.exists(beside) else "mpremote"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools.deploy",
                                description="Copy the built firmware to a board.")
    p.add_argument("--port", default="auto", help="mpremote's device (default: auto)")
    p.add_argument("--mpremote", default=_default_mpremote())
    p.add_argument("build", nargs="?", default=os.path.join("build", "mpy"))
    p.add_argument("--runtime", choices=("micropython", "circuitpython"), default="micropython")
    p.add_argument("--board", help="CircuitPython: the board file's name (boards/cp_*.py)")
    p.add_argument("--drive", help="CircuitPython: the mounted CIRCUITPY drive")
    p.add_argument("--circup", default="circup")
    p.add_argument("--keyboard", choices=("auto", "on", "off"), default="auto",
                   help="install the USB keyboard package (auto: when the board has native USB)")
    args = p.parse_args(argv)
    if args.runtime == "circuitpython":
        from host_tools import deploy_circuitpython as cpd
        if not args.board or not args.drive:
            p.error("--runtime circuitpython needs --board and --drive")
        try:
            cpd.deploy(args.drive, args.board, args.circup)
        except cpd.DeployError as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    keyboard = args.keyboard == "on" or (args.keyboard == "auto" and board_has_native_usb(args.build))
    cmd = command(args.mpremote, args.port, args.build, keyboard)
    try:
        # Progress goes straight through; the errors are kept to choose the advice.
        proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        print("mpremote not found: run `make venv`, or pass --mpremote", file=sys.stderr)
        return 2
    if proc.returncode == 0:
        return 0
    sys.stderr.write(proc.stderr)
    if "raw repl" in proc.stderr.lower():
        advice = NOT_AT_REPL
    elif keyboard and ("mip" in proc.stderr.lower() or KEYBOARD_PACKAGE in proc.stderr
                       or " requesting http" in proc.stderr):
        # mpremote names the failed download by its URL, which holds the package.
        advice = NO_KEYBOARD
    else:
        advice = FAILED
    print("\n" + advice, file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
