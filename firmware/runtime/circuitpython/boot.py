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

usb_cdc.enable(console=True, data=True)

button = digitalio.DigitalInOut(getattr(pins, tokenboard.BUTTON_PIN))
button.switch_to_input(pull=digitalio.Pull.UP if tokenboard.BUTTON_ACTIVE_LOW
                       else digitalio.Pull.DOWN)
held = button.value != tokenboard.BUTTON_ACTIVE_LOW
button.deinit()  # keypad takes the pin in code.py

MAINTENANCE_FLAG = "maintenance"  # factory.MAINTENANCE_FLAG, in the data folder
try:
    os.remove(tokenboard.DATA_DIR + "/" + MAINTENANCE_FLAG)  # boot.py may write the drive
    requested = True
except OSError:
    requested = False

if held or requested:
    storage.enable_usb_drive()
    storage.remount("/", readonly=True)  # read-only to Python = writable by the host
else:
    storage.disable_usb_drive()
    storage.remount("/", readonly=False)
