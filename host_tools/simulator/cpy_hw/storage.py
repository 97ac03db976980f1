# Stands for CircuitPython's `storage` module: the calls boot.py makes are
# recorded (`calls`), and getmount("/").readonly answers as the last remount
# left it. Files themselves live in a host directory (the board's DATA_DIR).
calls = []


class _Mount:
    def __init__(self):
        self.readonly = True  # CircuitPython's default: the host writes, Python reads
        self.label = "CIRCUITPY"


_root = _Mount()
usb_drive_enabled = True


def remount(mount_path, readonly=False, *, disable_concurrent_write_protection=False):
    calls.append(("remount", mount_path, readonly))
    if mount_path == "/":
        _root.readonly = readonly


def disable_usb_drive():
    global usb_drive_enabled
    calls.append(("disable_usb_drive",))
    usb_drive_enabled = False


def enable_usb_drive():
    global usb_drive_enabled
    calls.append(("enable_usb_drive",))
    usb_drive_enabled = True


def getmount(mount_path):
    if mount_path != "/":
        raise OSError(22, "no mount at %s" % mount_path)
    return _root
