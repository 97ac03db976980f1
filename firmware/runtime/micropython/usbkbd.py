# The token's USB keyboard on MicroPython 1.23+, through runtime USB
# (machine.USBDevice: rp2 and samd since 1.23, esp32-s2/s3 later) and
# micropython-lib's usb-device-keyboard, which `make deploy` installs at a
# pinned version (mpremote mip install usb-device-keyboard@VERSION). The
# built-in CDC serial, the protocol's port, stays (builtin_driver=True).
#
#   kbd = usbkbd.keyboard()  None where the port or the package is missing
#   kbd.send(report)   True when the 8-byte report is queued for the host,
#                      False while the previous one is still pending or the
#                      host has not configured the keyboard
#   kbd.leds()         the host's LED report byte, None before it sent one
#
# keyboard() changes the USB device, so the host sees it leave and come back
# (the serial port drops for a moment) unless it runs in boot.py on a cold
# boot, before USB first comes up. A soft reset removes the keyboard again.
try:
    import machine
    import usb.device  # pyright: ignore[reportMissingImports] micropython-lib's, put on the board by make deploy
    from usb.device.keyboard import KeyboardInterface  # pyright: ignore[reportMissingImports] (the same package)
except ImportError:
    KeyboardInterface = None

_kbd = None


class UsbKeyboard:
    def __init__(self, itf):
        self._itf = itf
        # Queued transfers read this buffer until the host takes them: the
        # caller's report is copied in only when nothing is pending.
        self._buf = bytearray(8)

    def send(self, report):
        itf = self._itf
        if not itf.is_open() or itf.busy():
            return False
        b = self._buf
        for i in range(8):
            b[i] = report[i]
        return itf.send_report(b, 0)  # timeout 0: never waits

    def leds(self):
        return self._itf.led_mask


if KeyboardInterface is not None:
    class _Interface(KeyboardInterface):
        def __init__(self):
            super().__init__()
            self.led_mask = None

        def on_led_update(self, led_mask):
            self.led_mask = led_mask


def keyboard():
    """The keyboard, made once per boot; None where runtime USB or the
    package is missing (a board without native USB: "keyboard not supported")."""
    global _kbd
    if _kbd is None:
        if KeyboardInterface is None or not hasattr(machine, "USBDevice"):
            return None
        itf = _Interface()
        usb.device.get().init(itf, builtin_driver=True)
        _kbd = UsbKeyboard(itf)
    return _kbd
