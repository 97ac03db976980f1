# CircuitPython runs this once at power-up, before USB starts.
#
# - USB serial: `data`, the token's protocol, always; the console (REPL) port
#   only in maintenance, so no program on the computer can break into a REPL
#   while the firmware runs (a Ctrl-C on the console would stop code.py).
# - The CIRCUITPY drive holds the store: in normal operation the USB host does
#   not see it at all, and the firmware has it read-write.
# - Button held at plug-in: the maintenance screen (firmware/bootmodes/factory.py), as
#   on MicroPython. Released early, or a maintenance request from the host
#   (the flag file `provision.py maintenance` leaves before it resets the
#   token): the drive is the host's again, read-write for updates, and code.py
#   does not start the firmware (the flag goes first: the next boot runs it).
#   Held on: the factory reset, confirmed by a press; then the firmware runs.
# - A USB keyboard (usb_hid) on boards with native USB: a double press types the code.
import os
import time

import board as pins
import digitalio
import storage
import usb_cdc

import factory
import tokenboard


def button_held(board):
    """Held now and still 50 ms later (a bounce is not a hold)."""
    button = digitalio.DigitalInOut(getattr(pins, board.BUTTON_PIN))
    button.switch_to_input(pull=digitalio.Pull.UP if board.BUTTON_ACTIVE_LOW
                           else digitalio.Pull.DOWN)
    held = button.value != board.BUTTON_ACTIVE_LOW
    if held:
        time.sleep(0.05)
        held = button.value != board.BUTTON_ACTIVE_LOW
    button.deinit()  # keypad takes the pin next
    return held


def maintenance_screen(board):
    """factory.maintenance on this runtime: "repl" (leave the firmware off;
    here, give the drive to the host) or "boot"."""
    import hal
    rt = hal.Runtime(board)
    return factory.maintenance(rt, board, rt.button)


def maintenance_requested(board):
    try:
        os.remove(board.DATA_DIR + "/" + factory.MAINTENANCE_FLAG)  # boot.py may write
    except OSError:
        return False
    return True


def enable_keyboard():
    """The token types codes as a USB keyboard (boards with native USB)."""
    try:
        import usb_hid
    except ImportError:
        return  # no native USB: `info` says the keyboard is not supported
    usb_hid.enable((usb_hid.Device.KEYBOARD,))


def boot(board):
    to_host = maintenance_requested(board)
    if not to_host and button_held(board):
        to_host = maintenance_screen(board) == "repl"
    # The console (REPL) port exists only in maintenance: in normal operation
    # a Ctrl-C on it could stop code.py and give the REPL to any program on
    # the computer. Tracebacks go to the diagnostic log instead.
    usb_cdc.enable(console=to_host, data=True)
    enable_keyboard()
    if to_host:
        storage.enable_usb_drive()
        storage.remount("/", readonly=True)  # read-only to Python = writable by the host
    else:
        storage.disable_usb_drive()
        storage.remount("/", readonly=False)


boot(tokenboard)
