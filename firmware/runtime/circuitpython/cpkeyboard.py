# The CircuitPython runtime's USB keyboard (hal.py's keyboard): the HID
# keyboard boot.py enabled through usb_hid, or None on a board without
# native USB.


class HidKeyboard:
    """The token's USB keyboard (usb_hid, enabled in boot.py): 8-byte boot
    reports out, the host's lock LEDs in."""

    def __init__(self, device):
        self._device = device
        self._leds = None  # unknown until the host sends its LED report

    def send(self, report):
        try:
            self._device.send_report(report)
            return True
        except OSError:  # the host is not polling (busy, or not configured)
            return False

    def leds(self):
        report = self._device.get_last_received_report()
        if report is not None:  # None: nothing new since the last call
            self._leds = report[0]
        return self._leds


def keyboard():
    try:
        import usb_hid
    except ImportError:
        return None  # no native USB on this board: no keyboard
    for device in usb_hid.devices:
        if device.usage_page == 0x01 and device.usage == 0x06:  # generic desktop, keyboard
            return HidKeyboard(device)
    return None
