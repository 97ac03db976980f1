# The MicroPython runtime: everything the app needs from the board, built
# from the constants of a board file (docs/runtime.md). Our own drivers on
# machine.I2C, the button on machine.Pin, the protocol on the USB REPL port.
# The board module may provide make_i2c() / make_button() / make_keyboard() /
# mount_storage() / flash_device() / unique_id() / reset() itself: the simulator's does
# (host_tools/simulator/mp_hw/simboard.py), to replace the hardware at the
# lowest layer.
import sys
import time

import micropython

NAME = "micropython"
_CAUSES = ("PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET", "SOFT_RESET")


class StdioSerial:
    """The protocol on the REPL's USB serial port (sys.stdin / sys.stdout)."""

    def __init__(self):
        import select
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._rpoll = select.poll()
        self._rpoll.register(sys.stdin, select.POLLIN)
        try:
            self._wpoll = select.poll()
            self._wpoll.register(sys.stdout, select.POLLOUT)
        except Exception:
            self._wpoll = None  # a port that can't be polled for output: writes unchecked
        self._one = bytearray(1)

    def wait(self, timeout_ms):
        # ipoll reuses its result tuple: no garbage from polling 100 times a second.
        for _ in self._rpoll.ipoll(timeout_ms):
            return True
        return False

    def read_into(self, buf):
        """What is waiting now, up to len(buf). A read of n bytes blocks until
        all n arrive on these ports, so only what poll vouches for is read:
        one byte per poll."""
        one = self._one
        ipoll = self._rpoll.ipoll
        readinto = self._in.readinto
        n = 0
        size = len(buf)
        while n < size:  # (a tight loop: about 0.1 ms a byte on an RP2040)
            for _ in ipoll(0):
                break
            else:
                return n
            try:
                if not readinto(one):
                    return n
            except OSError:
                return n
            buf[n] = one[0]
            n += 1
        return n

    def writable(self):
        if self._wpoll is None:
            return True
        for _ in self._wpoll.ipoll(0):
            return True
        return False

    def write(self, data):
        n = self._out.write(data)
        if n is not None and not isinstance(n, int):
            n = len(data)  # some ports don't say; they took it or timed out
        return n

    def flush(self):
        if hasattr(self._out, "flush"):
            self._out.flush()


class Runtime:
    name = NAME

    def __init__(self, board):
        self.board = board
        self.ticks_ms = time.ticks_ms
        self.ticks_diff = time.ticks_diff
        self.ticks_add = time.ticks_add
        self.sleep_ms = time.sleep_ms
        self.mem_alloc = _mem_alloc
        self.heap_lock = micropython.heap_lock
        self.heap_unlock = micropython.heap_unlock
        self._i2c = None
        self._serial = None
        if hasattr(board, "mount_storage"):
            self.data_dir = board.mount_storage()
        else:
            self.data_dir = board.DATA_DIR  # real boards mount littlefs at / already
        if hasattr(board, "make_button"):
            self.button = board.make_button()
        else:
            self.button = _pin_button(board)
        if hasattr(board, "make_keyboard"):
            self.keyboard = board.make_keyboard()
        else:
            import usbkbd  # None without runtime USB (MicroPython < 1.23, no native USB)
            self.keyboard = usbkbd.keyboard()

    @property
    def i2c(self):
        if self._i2c is None:
            b = self.board
            if hasattr(b, "make_i2c"):
                self._i2c = b.make_i2c()
            else:
                from machine import I2C, Pin
                self._i2c = I2C(b.I2C_ID, scl=Pin(b.SCL), sda=Pin(b.SDA), freq=b.I2C_FREQ)
        return self._i2c

    @property
    def serial(self):
        if self._serial is None:
            self._serial = StdioSerial()
        return self._serial

    def key_pages(self, root):
        """The key area's two pages (keypages.py): two blocks of the flash
        that littlefs is on, each owned by a one-block file of `root`."""
        import keypages
        bdev = self.board.flash_device() if hasattr(self.board, "flash_device") else _flash_device()
        if bdev is None:
            return keypages.file_pages(root)  # no block device to reach (not a board)
        return keypages.littlefs_pages(bdev, root)

    def display(self, width, height, addr):
        from ssd1306 import SSD1306
        return SSD1306(self.i2c, width, height, addr)

    def no_display(self, width, height):
        return NoDisplay(width, height)

    def rtc(self, addr):
        from ds3231 import DS3231
        return DS3231(self.i2c, addr)

    def unique_id(self):
        """The chip's unique id (bytes; the serial number is made from it,
        serialno.py): the flash chip's id on an RP2040, the MAC on an ESP32.
        None on a port without one (the unix port)."""
        if hasattr(self.board, "unique_id"):
            return self.board.unique_id()
        try:
            import machine
            return bytes(machine.unique_id())
        except (ImportError, AttributeError, OSError):
            return None

    def reset(self):
        if hasattr(self.board, "reset"):
            self.board.reset()
        else:
            import machine
            machine.reset()

    def reset_cause(self):
        """(code, short name) of why the board started; (0, "unknown") where
        the port can't tell (the unix port, the simulator)."""
        try:
            import machine
            c = machine.reset_cause()
        except Exception:
            return 0, "unknown"
        for name in _CAUSES:
            if getattr(machine, name, None) == c:
                return c, name[:-6].lower()  # "pwron", "wdt", ...
        return c, "other"

    def guard_console(self, on):
        # On: Ctrl-C is data on the serial link, not a REPL break.
        micropython.kbd_intr(-1 if on else 3)

    def announce(self, text):
        try:
            print(text)
        except Exception:
            pass


class NoDisplay:
    """Stands in for a display that did not answer: drawing goes into a
    frame buffer nobody sees, so the rest of the token keeps working."""

    def __init__(self, width, height):
        import framebuf
        self.width = width
        self.height = height
        self.fb = framebuf.FrameBuffer(bytearray(width * height // 8), width, height,
                                       framebuf.MONO_VLSB)
        self._glyph = bytearray(8)
        self.on = False
        self.pages_sent = 0

    def glyph(self, ch):
        return self._glyph

    def show(self, force=False):
        return 0

    def power(self, on):
        self.on = on

    def contrast(self, value):
        pass


def _flash_device():
    """The block device the filesystem is on: the rp2 flash, the esp32
    `vfs` partition; None where there is none."""
    try:
        import rp2  # pyright: ignore[reportMissingImports] rp2 port only
        return rp2.Flash()
    except ImportError:
        pass
    try:
        import flashbdev  # pyright: ignore[reportMissingImports] the esp32 port's own, frozen
        return flashbdev.bdev
    except ImportError:
        return None


def _pin_button(board):
    from machine import Pin
    if board.BUTTON_ACTIVE_LOW:
        pin = Pin(board.BUTTON_PIN, Pin.IN, Pin.PULL_UP)
        return lambda: pin.value() == 0
    pin = Pin(board.BUTTON_PIN, Pin.IN, Pin.PULL_DOWN)
    return lambda: pin.value() == 1


def _mem_alloc():
    import gc
    return gc.mem_alloc()
