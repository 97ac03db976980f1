# Stands for CircuitPython's `usb_hid` module on the simulated board. Only the
# keyboard is wired: its input reports go to the simulator's bus server as the
# MicroPython sim board's keyboard op (wire/wirecodes.py OP_HID), and
# the LED output report the host sets comes back in each answer. The module
# opens a bus connection of its own (the server serves each on its thread).
# TOKEN_SIM_KEYBOARD=0 is a board without native USB: there CircuitPython has
# no usb_hid at all, so the import fails as it would there.
import os
import struct
import time

if os.getenv("TOKEN_SIM_KEYBOARD") == "0":
    raise ImportError("no module named 'usb_hid'")

_BUSY_WAIT_S = 2.0  # CircuitPython waits this long for a busy endpoint, then raises

_sock = None


def _wire():
    try:
        import _simwire  # on the simulated board's path (cpy_launch.py)
    except ImportError:
        from host_tools.simulator.cpy_hw import _simwire  # loaded on its own (tests)
    return _simwire


def _bus():
    global _sock
    if _sock is None:
        _sock = _wire().open_bus()  # its own connection, beside the I2C one
    return _sock


def _exchange(report):
    """One keyboard op: (status, LED byte)."""
    s = _bus()
    s.sendall(struct.pack("<BBH", _wire().wirecodes.OP_HID, 0, len(report)) + bytes(report))
    reply = b""
    while len(reply) < 2:
        chunk = s.recv(2 - len(reply))
        if not chunk:
            raise OSError(5, "the simulator's bus went away")  # EIO
        reply += chunk
    return reply[0], reply[1]


class Device:
    """A HID device as boot.py enables it; the keyboard talks to the host."""

    KEYBOARD = None  # set below, as CircuitPython's class attributes
    MOUSE = None
    CONSUMER_CONTROL = None

    def __init__(self, *, report_descriptor=b"", usage_page, usage, report_ids=(0,),
                 in_report_lengths=(0,), out_report_lengths=(0,)):
        self.report_descriptor = bytes(report_descriptor)
        self.usage_page = usage_page
        self.usage = usage
        self.report_ids = tuple(report_ids)
        self.in_report_lengths = tuple(in_report_lengths)
        self.out_report_lengths = tuple(out_report_lengths)
        self._wired = False  # only the keyboard reaches the simulated host
        self._out = None  # the LED report last handed out
        self._last = None

    def send_report(self, report, report_id=None):
        want = self.in_report_lengths[0]
        if len(report) != want:
            raise ValueError("Buffer incorrect size. Should be %d bytes." % want)
        if not self._wired:
            return
        deadline = time.monotonic() + _BUSY_WAIT_S
        while True:
            status, leds = _exchange(report)
            if status != _wire().wirecodes.HID_BUSY:
                break
            if time.monotonic() >= deadline:
                raise OSError("USB busy")
            time.sleep(0.001)  # the host polls the endpoint later
        if status:
            raise OSError("USB error")

    def get_last_received_report(self, report_id=None):
        """The host's LED report (1 byte) when it sent one since the last
        call, else None. The first call gives the state the host set when
        the keyboard was enumerated."""
        if not self._wired:
            return None
        _, leds = _exchange(b"")
        report = bytes((leds,))
        if report == self._out:
            return None
        self._out = self._last = report
        return report

    @property
    def last_received_report(self):  # the older name
        self.get_last_received_report()
        return self._last


Device.KEYBOARD = Device(usage_page=0x01, usage=0x06, report_ids=(0,),
                         in_report_lengths=(8,), out_report_lengths=(1,))
Device.KEYBOARD._wired = True
Device.MOUSE = Device(usage_page=0x01, usage=0x02, report_ids=(0,),
                      in_report_lengths=(4,), out_report_lengths=(0,))
Device.CONSUMER_CONTROL = Device(usage_page=0x0C, usage=0x01, report_ids=(0,),
                                 in_report_lengths=(2,), out_report_lengths=(0,))

# What CircuitPython enables when boot.py says nothing.
devices = (Device.KEYBOARD, Device.MOUSE, Device.CONSUMER_CONTROL)
_boot_device = 0


def enable(requested_devices, boot_device=0):
    """boot.py: the HID devices the board offers from the next USB connection
    (here: at once, as boot.py runs before code.py in the same process)."""
    global devices, _boot_device
    for d in requested_devices:
        if not isinstance(d, Device):
            raise ValueError("devices must be usb_hid.Device objects")
    devices = tuple(requested_devices)
    _boot_device = boot_device


def disable():
    enable(())


def get_boot_device():
    return _boot_device
