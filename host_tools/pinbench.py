"""`make bench` section pin: how many presses, and how long, a random
6-digit PIN takes on the token's one button, now and with the wheel before
issue 17.

Counted, not computed: tests/mp/pindrive.py types each PIN on the lock
screen's real button.Button and screens.Screens (with pinpad.PinPad) on the
MicroPython unix port, in simulated time, with a finger that holds until the
screen says what it waits for and lifts a reaction time later. The old wheel
is the pinpad.py of OLD_COMMIT, read from git and driven the same way.
"""
import os
import random
import statistics
import subprocess
import tempfile

from host_tools import mpy

OLD_COMMIT = "f03d86c2b5029f830d0414919c7e2abfc2370fed"  # the last one with the _ 0..9 < wheel
PINS = 1000
DIGITS = 6
_BATCH = 100  # PINs a call: the unix port's default heap holds that many results
TARGET_PRESSES = 8  # a hold a digit and one to unlock (the wheel took 40 on average)


def _old_pinpad(dest):
    """The old pinpad.py as dest/pinpad_old.py; False without the history."""
    try:
        text = subprocess.run(["git", "show", OLD_COMMIT + ":firmware/screen/pinpad.py"],
                              cwd=mpy.REPO, capture_output=True, text=True, check=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    with open(os.path.join(dest, "pinpad_old.py"), "w") as f:
        f.write(text)
    return True


def _figures(rows):
    """[[presses, ms held, ms in all], ...] -> (mean, worst) of each."""
    return [(statistics.mean(col), max(col)) for col in zip(*rows)]


def measure(pins):
    """(figures now, figures before or None) for these PINs."""
    with tempfile.TemporaryDirectory() as tmp:
        have_old = _old_pinpad(tmp)
        worker = mpy.Worker(extra_path=[tmp])
        def typed(old):
            rows = []
            for at in range(0, len(pins), _BATCH):
                rows += worker.call("pindrive", "many", pins[at:at + _BATCH], old)
            return _figures(rows)
        try:
            now = typed(False)
            before = typed(True) if have_old else None
        finally:
            worker.close()
    return now, before


def bench_pin(row):
    rng = random.Random(os.urandom(8))
    pins = ["".join(rng.choice("0123456789") for _ in range(DIGITS)) for _ in range(PINS)]
    print("PIN entry on the button: %d random %d-digit PINs typed on the lock screen "
          "(MicroPython unix port; a finger that lets go 0.25 s after it sees its digit, taps 0.12 s)" % (PINS, DIGITS))
    now, before = measure(pins)

    def rows(label, figs, target):
        (p, pw), (h, hw), (a, aw) = figs
        row("presses, %s" % label, "mean %.1f, worst %d" % (p, pw), target)
        row("  seconds held", "mean %.1f s, worst %.1f s" % (h / 1000, hw / 1000), "")
        row("  seconds in all (0.15 s between presses)",
            "mean %.1f s, worst %.1f s" % (a / 1000, aw / 1000), "")
    rows("now (hold, let go)", now, "<= %d" % TARGET_PRESSES)
    if before is None:
        print("  (the wheel before: no git history here to read it from; it took a short press")
        print("   per step of _ 0 .. 9 and a hold per digit: 40 presses for 6 digits on average)")
    else:
        rows("before (the _ 0..9 < wheel)", before, "")
