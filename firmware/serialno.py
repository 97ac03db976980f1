# The token's serial number, as the token works it out: rules.serial_number
# of the chip's unique id, which the runtime reads (machine.unique_id(),
# microcontroller.cpu.uid). None on a port without one. Worked out at boot
# by whoever shows it (app.Device, the maintenance and fault screens).
import rules
from digests import sha256


def from_uid(uid):
    return rules.serial_number(uid, sha256)


def of(rt):
    try:
        uid = rt.unique_id()
    except Exception:
        return None  # never a reason not to start
    return from_uid(uid) if uid else None
