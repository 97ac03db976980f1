# CircuitPython runs this after boot.py: the token's firmware, on the
# CircuitPython runtime, with the board file copied here as tokenboard.py.
import storage

import hal
import tokenboard

if storage.getmount("/").readonly:
    # boot.py gave the drive to the host (button held at plug-in, or asked
    # for). Said on both ports: the console has the REPL, and a host tool on
    # the data port learns why nothing answers.
    import usb_cdc
    line = ("totp-token: maintenance REPL on the console port, the CIRCUITPY drive "
            "is the host's (firmware not started; the next reset runs it)")
    print(line)
    if usb_cdc.data is not None:
        usb_cdc.data.write(line.encode() + b"\r\n")
else:
    import app
    app.main(hal.Runtime(tokenboard), tokenboard)
