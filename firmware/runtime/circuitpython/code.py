# CircuitPython runs this after boot.py: the token's firmware, on the
# CircuitPython runtime, with the board file copied here as tokenboard.py.
import storage

import runtime
import tokenboard

if storage.getmount("/").readonly:
    # boot.py gave the drive to the host (button held at plug-in).
    print("totp-token: maintenance, the CIRCUITPY drive is the host's; firmware not started")
else:
    import app
    app.main(runtime.Runtime(tokenboard), tokenboard)
