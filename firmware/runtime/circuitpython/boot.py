# CircuitPython runs this once at power-up, before USB starts.
#
# - Two USB serial ports: the console (REPL, tracebacks) and `data`, the
#   token's protocol, so a stray Ctrl-C from the host is never a REPL break.
# - The CIRCUITPY drive holds the store: in normal operation the USB host does
#   not see it at all, and the firmware has it read-write.
# - Button held at plug-in, or a maintenance request from the host (the flag
#   file `provision.py maintenance` leaves before it resets the token): the
#   drive is the host's again, read-write for updates, and code.py does not
#   start the firmware. The flag goes first: the next boot runs the firmware.
import os

import board as pins
import digitalio
import storage
import usb_cdc

import tokenboard

MAINTENANCE_FLAG = "maintenance"  # factory.MAINTENANCE_FLAG, in the data folder


def button_held(board):
    button = digitalio.DigitalInOut(getattr(pins, board.BUTTON_PIN))
    button.switch_to_input(pull=digitalio.Pull.UP if board.BUTTON_ACTIVE_LOW
                           else digitalio.Pull.DOWN)
    held = button.value != board.BUTTON_ACTIVE_LOW
    button.deinit()  # keypad takes the pin in code.py
    return held


def maintenance_requested(board):
    try:
        os.remove(board.DATA_DIR + "/" + MAINTENANCE_FLAG)  # boot.py may write the drive
    except OSError:
        return False
    return True


def boot(board):
    usb_cdc.enable(console=True, data=True)
    if button_held(board) or maintenance_requested(board):
        storage.enable_usb_drive()
        storage.remount("/", readonly=True)  # read-only to Python = writable by the host
    else:
        storage.disable_usb_drive()
        storage.remount("/", readonly=False)


boot(tokenboard)
