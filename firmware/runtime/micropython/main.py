# Entry point on MicroPython. A board runs this file at boot; `make deploy`
# copies the chosen board file beside it as tokenboard.py. The simulator
# calls start() with its board module (host_tools/simulator/mp_hw/
# simboard.py). (CircuitPython starts from code.py.)
#
# Maintenance: hold the button while plugging the token in. A screen counts
# down: let go and the firmware does not start, the MicroPython REPL stays on
# the USB serial port (for mpremote); keep holding for the factory reset
# (firmware/bootmodes/factory.py). A running token can also be asked
# (`provision.py maintenance`, which leaves a one-shot flag file and resets
# it). From the first line on Ctrl-C is ignored, so a stray (or
# hostile) 0x03 can't drop anyone into a REPL.

try:
    # First, before any import that takes time: from here on a Ctrl-C on the
    # USB serial port is a plain byte, not a break into the REPL. The REPL is
    # given back only where the firmware is deliberately not started.
    import micropython
    micropython.kbd_intr(-1)
except KeyboardInterrupt:  # one that came in before the line above ran
    import micropython
    micropython.kbd_intr(-1)


def _to_repl(text):
    micropython.kbd_intr(3)
    print(text)


def maintenance_requested(rt):
    """True once after a reboot-maintenance request: the flag goes first, so
    the boot after this one runs the firmware again whatever happens."""
    import os
    import rules
    try:
        os.remove(rt.data_dir + "/" + rules.MAINTENANCE_FLAG)
    except OSError:
        return False
    return True


def start(board):
    import hal
    rt = hal.Runtime(board)
    if maintenance_requested(rt):
        _to_repl("totp-token: restarted into the maintenance REPL on request "
                 "(firmware not started; the next reset runs it)")
        return
    held = rt.button
    if held():
        rt.sleep_ms(50)
        if held():
            import factory
            if factory.maintenance(rt, board, held) == "repl":
                _to_repl("totp-token: button held at boot, maintenance REPL (firmware not started)")
                return
    import app
    app.main(rt, board)


if __name__ == "__main__":
    import tokenboard
    start(tokenboard)
