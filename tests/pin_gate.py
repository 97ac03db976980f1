"""Every serial command, sorted by what the PIN gate (firmware/protocol/
service.py) does with it. Each command family declares its own privileged
(and private) commands next to its handlers; tests/unit/test_firmware_logic.py
reads those declarations and the real gate through app.Token's own
composition, and tests/sim/test_pin.py asks the running token, so a command left
undeclared, declared by the wrong family, or served past the gate fails. A
new command is sorted in here first."""

GATED = {"add", "add-many", "delete", "rename", "move", "favourite",  # accountcmd
         "set-time", "calibrate",                             # clockcmd
         "wipe", "pin-change", "pin-remove",                  # lockcmd
         "config", "reboot-maintenance",                      # devicecmd
         "log-clear", "log-config"}                           # diagcmd
PRIVATE = {"list", "show", "code", "log"}  # behind the PIN too once config --private-list is on
OPEN = {"info", "status", "get-time", "auth-challenge", "auth", "logout", "pin-set", "files"}
