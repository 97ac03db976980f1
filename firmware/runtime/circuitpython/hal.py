# The CircuitPython runtime's hal (docs/runtime.md): the Runtime the app is
# given, built from a board file that names `board.*` pins as strings. The
# button through keypad.Keys, the protocol on usb_cdc.data (the second USB
# serial port, enabled in boot.py), ticks from supervisor.ticks_ms(); the
# parts with drivers of their own sit beside it: cpdisplay.py (the SSD1306),
# cpclock.py (the DS3231), cpkeyboard.py (the USB keyboard).
import os
import time

import board as pins  # CircuitPython's pin objects; `board` below is our board file
import busio
import keypad
import supervisor
import usb_cdc

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NAME = "circuitpython"

# supervisor.ticks_ms() wraps at 2**29 (it starts a minute before the wrap).
_TICKS_PERIOD = const(1 << 29)
_TICKS_MAX = const((1 << 29) - 1)
_TICKS_HALF = const(1 << 28)

# microcontroller.ResetReason -> the short names MicroPython's runtime gives.
_CAUSES = (("POWER_ON", "pwron"), ("BROWNOUT", "brownout"), ("SOFTWARE", "soft"),
           ("DEEP_SLEEP_ALARM", "deepsleep"), ("RESET_PIN", "hard"), ("WATCHDOG", "wdt"),
           ("RESCUE_DEBUG", "rescue"))


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & _TICKS_MAX) - _TICKS_HALF


def ticks_add(t, d):
    return (t + d) & _TICKS_MAX


class Serial:
    """The protocol's byte stream on usb_cdc.data, never blocking."""

    def __init__(self, port):
        self.port = port
        port.timeout = 0
        port.write_timeout = 0

    def wait(self, timeout_ms):
        port = self.port
        if port.in_waiting:
            return True
        deadline = ticks_add(supervisor.ticks_ms(), timeout_ms)
        while True:
            left = ticks_diff(deadline, supervisor.ticks_ms())
            if left <= 0:
                return False
            time.sleep(min(left, 5) / 1000)  # no select on usb_cdc: poll
            if port.in_waiting:
                return True

    def read_into(self, buf):
        if not self.port.in_waiting:
            return 0
        return self.port.readinto(buf) or 0

    def writable(self):
        return self.port.connected

    def write(self, mv):
        n = self.port.write(mv)
        return n if n else None

    def flush(self):
        pass  # USB sends on its own; the port's flush() would block with no host


class Runtime:
    def __init__(self, board):
        self.name = NAME
        self.board = board
        self._bus = None
        self._power_pin = None
        self._font = None
        import cpkeyboard
        self.keyboard = cpkeyboard.keyboard()
        self.data_dir = self._storage(board.DATA_DIR)
        self._keys = keypad.Keys((getattr(pins, board.BUTTON_PIN),),
                                 value_when_pressed=not board.BUTTON_ACTIVE_LOW, pull=True)
        self._event = keypad.Event()
        self._held = False
        self._serial = None

    @property
    def serial(self):
        """On usb_cdc.data; made when first used (boot.py's maintenance
        screen needs none, and the data port only exists after boot.py)."""
        if self._serial is None:
            port = usb_cdc.data
            if port is None:  # boot.py did not enable the data port: share the console
                port = usb_cdc.console
                self.announce("totp-token: usb_cdc.data is off (boot.py); protocol on the console")
            self._serial = Serial(port)
        return self._serial

    # -- time -----------------------------------------------------------------
    def ticks_ms(self):
        return supervisor.ticks_ms()

    def ticks_diff(self, a, b):
        return ticks_diff(a, b)

    def ticks_add(self, t, d):
        return ticks_add(t, d)

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)

    # -- storage ----------------------------------------------------------------
    def _storage(self, path):
        try:
            os.stat(path)
        except OSError:
            os.mkdir(path)  # boot.py remounted the drive writable for us
        return path

    def key_pages(self, root):
        """The key area's two pages (keypages.py): microcontroller.nvm, a
        flash sector of its own, and a file of the drive overwritten in
        place (FAT writes a file's clusters where they are). Without nvm
        big enough, both in files."""
        import keypages
        import microcontroller
        nvm = getattr(microcontroller, "nvm", None)
        if nvm is not None and len(nvm) >= keypages.PAGE:
            return keypages.BytesPage(nvm), keypages.FilePage(root + "/kb")
        return keypages.file_pages(root)

    # -- the button -------------------------------------------------------------
    def button(self):
        """The level, from keypad's debounced events (none missed between calls)."""
        ev = self._event
        events = self._keys.events
        while events.get_into(ev):
            self._held = ev.pressed
        return self._held

    # -- I2C devices ------------------------------------------------------------
    def _i2c(self):
        if self._bus is None:
            b = self.board
            power = getattr(b, "I2C_POWER", None)
            if power:  # boards that switch the I2C connector's supply
                import digitalio
                self._power_pin = digitalio.DigitalInOut(getattr(pins, power))
                self._power_pin.switch_to_output(value=True)
            self._bus = busio.I2C(getattr(pins, b.SCL), getattr(pins, b.SDA),
                                  frequency=getattr(b, "I2C_FREQ", 400000))
        return self._bus

    def font(self):
        if self._font is None:
            import cpdisplay
            self._font = cpdisplay.load_font(getattr(self.board, "FONT_FILE", None)
                                             or cpdisplay.FONT_FILE)
        return self._font

    def display(self, width, height, addr):
        import cpdisplay
        return cpdisplay.Display(self._i2c(), width, height, addr, self.font())

    def no_display(self, width, height):
        import cpdisplay
        return cpdisplay.NoDisplay(width, height, self.font())

    def rtc(self, addr):
        import cpclock
        return cpclock.Clock(self._i2c(), addr)

    # -- the rest ---------------------------------------------------------------
    def unique_id(self):
        """The chip's unique id (bytes; the serial number is made from it,
        serialno.py); None on a port without one."""
        import microcontroller
        uid = getattr(microcontroller.cpu, "uid", None)
        return bytes(uid) if uid else None

    def reset(self):
        import microcontroller
        microcontroller.reset()

    def reset_cause(self):
        """(code, short name) of why the board started; (0, "unknown") when
        CircuitPython can't tell."""
        import microcontroller
        reason = microcontroller.cpu.reset_reason
        for i, (attr, name) in enumerate(_CAUSES):
            if reason == getattr(microcontroller.ResetReason, attr, None):
                return i + 1, name
        return 0, "unknown"

    def guard_console(self, on):
        pass  # boot.py leaves the console port off outside maintenance (no Ctrl-C to send)

    def mem_alloc(self):
        import gc
        f = getattr(gc, "mem_alloc", None)
        return f() if f else 0

    def heap_lock(self):
        import micropython
        f = getattr(micropython, "heap_lock", None)
        if f:
            f()

    def heap_unlock(self):
        import micropython
        f = getattr(micropython, "heap_unlock", None)
        if f:
            f()

    def announce(self, text):
        print(text)
