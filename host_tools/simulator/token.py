"""SimulatedToken: the unmodified firmware on the MicroPython unix port, with
register-level SSD1306 and DS3231 models on an emulated I2C bus, a littlefs
flash image in a file, and its USB serial on a pseudo-terminal that
provision.py opens like a board's port.

    tok = SimulatedToken()
    tok.start()
    print(tok.port)        # pass to provision.py --port
    tok.press(); print(tok.screen_text())
    tok.stop()
"""
import hashlib
import json
import os
import pty
import shlex
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tty

from firmware import rules
from firmware.protocol import frames
from firmware.screen import button
from host_tools import mpy, simstate
from host_tools.simulator.bus import WIRE_DIR, BusServer
from host_tools.simulator.ds3231_model import DS3231Model
from host_tools.simulator.hid_keyboard import HidKeyboardSink
from host_tools.simulator.screen_decode import decode_text, render_png
from host_tools.simulator.ssd1306_model import SSD1306Model
from host_tools.simulator.wire.wirecodes import RESET_EXIT

OLED_ADDR = 0x3C
RTC_ADDR = 0x68
SHORT_PRESS_S = 0.12
LONG_PRESS_S = 1.0
DEBOUNCE_S = button.DEBOUNCE_MS / 1000
LONG_MS_FIRMWARE = button.LONG_MS / 1000  # a press this long is a long press
# The simulated MicroPython board's hooks (make_i2c, ...): the module the
# firmware is given as its board, on top of boards/sim.py's data.
MP_HW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp_hw")
PRESS_WORK_S = 120.0  # the longest a press's own work may hold the loop (an erase)
CONFIRM_PROMPT = "hold: yes"  # firmware/screen/screens.py, while a request waits for a hold
# firmware/screen/pinpad.py taking(): the lock screen's last line while a hold
# would take a digit, or unlock, on letting go (tests/unit/test_pinpad.py
# holds the two to the same text).
TAKE_DIGIT = "let go: take %d"
TAKE_UNLOCK = "let go: unlock"
MAINTENANCE_BANNER = b"maintenance REPL"  # firmware/runtime/micropython/main.py, when it stays at the REPL


class SimulatorError(RuntimeError):
    pass


def mp_board_path(firmware_path=None):
    """The simulated MicroPython board's import path: the firmware (its
    source folders, or one compiled folder), the board hooks, the bus's
    codes, then boards/ for sim.py."""
    return list(firmware_path or mpy.firmware_dirs()) + [MP_HW, WIRE_DIR, mpy.BOARDS]


# How long a boot may take before it counts as hung. Only a hang waits it out,
# and a boot may legitimately be long: after a cut it finishes an interrupted
# scrub (the free flash filled) or erase first, slower still on a busy machine.
BOOT_GUARD_S = 120.0


class SimulatedToken:
    def __init__(self, data_dir=None, display=(128, 64), idle_s=60, capacity=1000,
                 heapsize=None, check_alloc=False, firmware_dir=None, boot_timeout=BOOT_GUARD_S,
                 announce=False, reset_hold_s=None, reset_confirm_s=None, rtc=True,
                 keyboard=True, runtime="micropython", auto_confirm=None):
        """data_dir keeps the flash image and the RTC state between runs
        (default: a new temporary directory, removed by stop()). announce:
        write a state file (simstate.py) so provision.py finds the port.
        display=None: no display on the bus (the firmware still expects a
        128x64 one at 0x3C); rtc=False: no DS3231 on the bus. keyboard=False:
        a board without native USB (mp_hw/simboard.py make_keyboard gives None).
        auto_confirm: a hand on the token that holds the button whenever the
        screen asks for a hold to confirm (frames.CONFIRMED: pin set, wipe,
        ...); default from $TOKEN_SIM_AUTO_CONFIRM ("1"), which the tests
        set, so only the tests of that confirmation press by themselves."""
        self._own_dir = data_dir is None
        # Absolute: the firmware runs with the data directory as its cwd.
        self.data_dir = os.path.abspath(data_dir or tempfile.mkdtemp(prefix="token-sim-"))
        os.makedirs(self.data_dir, exist_ok=True)
        self.display_size = display or (128, 64)
        self.has_display = display is not None
        self.has_rtc = rtc
        self.idle_s = idle_s
        self.capacity = capacity
        self.heapsize = heapsize
        self.check_alloc = check_alloc
        # A compiled firmware folder is flat; the sources keep the runtime apart.
        self.firmware_path = [firmware_dir] if firmware_dir else mpy.firmware_dirs()
        self.firmware_dir = firmware_dir
        self.runtime = runtime  # "circuitpython": the firmware under cpy_launch.py
        self.boot_timeout = boot_timeout
        self.announce = announce
        self._state_file = None
        self.maintenance = False  # the firmware stayed at the REPL this boot
        self.resets = 0  # resets the firmware asked for (reboot-maintenance)
        self.reset_error = None
        self._life = threading.RLock()  # start/stop vs. a reset's restart
        self.reset_s = (reset_hold_s, reset_confirm_s)  # firmware/bootmodes/factory.py waits
        self.lock = threading.RLock()
        self.oled = SSD1306Model(*self.display_size) if self.has_display else None
        self.rtc = DS3231Model()
        self._load_rtc()
        self.has_keyboard = keyboard
        if auto_confirm is None:
            auto_confirm = os.environ.get("TOKEN_SIM_AUTO_CONFIRM") == "1"
        self.auto_confirm = auto_confirm
        self.confirmations = 0  # holds the auto_confirm hand made
        # One finger at a time: the auto_confirm hand's hold can still be
        # going on when the confirmed request's reply reaches the test.
        self._finger = threading.Lock()
        # The host's end of the USB keyboard: what it received and its lock
        # LEDs outlive a restart of the firmware, as on a real computer.
        self.keyboard = HidKeyboardSink()
        self.proc = None
        self.bus = None
        self.port = None
        self._slave_fd = None
        self._sock_dir = None
        self.log_path = os.path.join(self.data_dir, "firmware.log")
        self.uid = self._chip_uid()

    # -- life cycle ---------------------------------------------------------

    @property
    def flash_image(self):
        return os.path.join(self.data_dir, "flash.img")

    def _chip_uid(self):
        """The simulated chip's unique id (machine.unique_id(),
        microcontroller.cpu.uid): 8 random bytes, as an RP2040's flash id,
        made once per data dir and kept beside the flash, not on it, so a
        wipe or a factory reset leaves it, and the serial number, as they are."""
        path = os.path.join(self.data_dir, "chip-uid")
        try:
            with open(path) as f:
                return bytes.fromhex(f.read().strip())
        except (OSError, ValueError):
            pass
        uid = os.urandom(8)
        with open(path, "w") as f:
            f.write(uid.hex())
        return uid

    @property
    def serial(self):
        """The serial number the firmware makes of this chip's id."""
        return rules.serial_number(self.uid, hashlib.sha256)

    def start(self, held=False):
        """Power up: start the firmware and wait until it answers on its port
        (or stays at its maintenance REPL). held=True: with the button held
        down (the maintenance screen); returns at once, the caller releases it
        with hold_button(False) and may wait_ready()."""
        with self._life:
            self._start(held)
        return self

    def _start(self, held=False):
        if self.proc is not None:
            raise SimulatorError("already running")
        self.maintenance = False
        # A fresh SSD1306 at power-up: RAM contents undefined (zero here), panel off.
        devices = {}
        self.oled = None
        if self.has_display:
            self.oled = devices[OLED_ADDR] = SSD1306Model(*self.display_size)
        if self.has_rtc:
            devices[RTC_ADDR] = self.rtc
        self._sock_dir = tempfile.mkdtemp(prefix="tsim-")  # short: sun_path is ~100 bytes
        sock_path = os.path.join(self._sock_dir, "bus")
        self.bus = BusServer(sock_path, devices, self.lock, keyboard=self.keyboard)
        self.bus.on_power_cut = self._kill
        self.bus.button_down = held
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave_fd = slave
        env = dict(os.environ)
        env.update({
            "TOKEN_SIM_BUS": sock_path,
            "TOKEN_SIM_FLASH": self.flash_image,
            "TOKEN_SIM_DISPLAY": "%dx%d" % self.display_size,
            "TOKEN_SIM_IDLE_S": str(self.idle_s),
            "TOKEN_SIM_CAPACITY": str(self.capacity),
            "TOKEN_SIM_CHECK_ALLOC": "1" if self.check_alloc else "0",
            "TOKEN_SIM_KEYBOARD": "1" if self.has_keyboard else "0",
            "TOKEN_SIM_UID": self.uid.hex(),
        })
        for key, value in zip(("TOKEN_SIM_RESET_HOLD_S", "TOKEN_SIM_RESET_CONFIRM_S"),
                              self.reset_s):
            if value is not None:
                env[key] = str(value)
        cmd = [mpy.micropython_exe()]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        # A crash traceback would go to the serial port, as on a board; copy
        # it to the log too so a failing test can show it. A reset ends the
        # process (RESET_EXIT) for _watch to start it again; when main.start
        # returns, the board stays at its REPL: a real MicroPython REPL on the port.
        boot = ("import sys\nsys.path[:0] = %r\nimport simboard\nimport main\n"
                "try:\n    main.start(simboard)\nexcept SystemExit:\n    raise\n"
                "except BaseException as e:\n"
                "    sys.print_exception(e, sys.stderr)\n    raise\n"
                "import os\nos.system(%r)\n"
                % (mp_board_path(self.firmware_path), shlex.quote(mpy.micropython_exe())))
        cmd += ["-c", boot]
        if self.runtime == "circuitpython":
            from host_tools.simulator import cpy_launch
            cmd = cpy_launch.command()
            env.update(cpy_launch.environment(self.data_dir,
                                              firmware=self.firmware_dir or mpy.FIRMWARE))
        log = open(self.log_path, "ab")
        try:
            # Its own process group: a power cut also ends a REPL it started.
            self.proc = subprocess.Popen(cmd, stdin=master, stdout=master, stderr=log,
                                         env=env, close_fds=True, cwd=self.data_dir,
                                         start_new_session=True)
        finally:
            os.close(master)  # the child holds it: when it dies the port hangs up
            log.close()
        if not held:
            self._wait_ready()
        threading.Thread(target=self._watch, args=(self.proc,), daemon=True).start()
        if self.auto_confirm:
            threading.Thread(target=self._hand, args=(self.proc,), daemon=True).start()
        if self.announce:
            self._state_file = simstate.register(self.port, self.data_dir)

    def _watch(self, proc):
        """The firmware asked for a reset: power-cycle it, as the chip would.
        The port is a new pseudo-terminal afterwards (see .port)."""
        if proc.wait() != RESET_EXIT:
            return
        with self._life:
            if self.proc is not proc:
                return  # stopped meanwhile
            self._stop()
            try:
                self._start()
            except SimulatorError as e:
                self.reset_error = e
            self.resets += 1

    def _hand(self, proc):
        """auto_confirm: hold the button when the screen asks for a hold."""
        last = None
        while self.proc is proc and proc.poll() is None:
            time.sleep(0.05)
            with self.lock:
                ram = bytes(self.oled.ram) if self.oled is not None and self.oled.display_on else b""
            if ram == last:
                continue
            last = ram
            if ram and CONFIRM_PROMPT in decode_text(ram, *self.display_size):
                try:
                    self.long_press()
                    self.confirmations += 1
                except (SimulatorError, OSError, AttributeError):
                    return  # powered off meanwhile
                last = None

    def wait_reset(self, resets=1, timeout=30.0):
        """Wait until the firmware has reset `resets` times in all and is up again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._life:
                if self.reset_error:
                    raise self.reset_error
                if self.resets >= resets and self.running:
                    return self
            time.sleep(0.02)
        raise SimulatorError("the firmware did not reset within %.0f s" % timeout)

    def wait_ready(self):
        """After start(held=True): wait until the firmware answers."""
        self._wait_ready()

    def hold_button(self, down=True):
        """Hold (or release) the button, as a finger would, until told otherwise."""
        self.bus.button_down = down

    def _wait_ready(self):
        """Ask `info` on the port until the firmware answers (it aligns to the
        RTC and loads the store first)."""
        deadline = time.monotonic() + self.boot_timeout
        fd = self._slave_fd
        buf = b""
        os.write(fd, frames.encode_request(0, "info"))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SimulatorError("firmware exited during boot:\n%s%s"
                                     % (buf.decode(errors="replace"), self.log_tail()))
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            try:
                buf += os.read(fd, 4096)
            except OSError:
                continue
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if MAINTENANCE_BANNER in line:
                    self.maintenance = True
                    return
                reply = frames.decode_reply(line)
                if reply is not None and reply.get("id") == 0:
                    return
        raise SimulatorError("firmware did not answer within %.0f s:\n%s"
                             % (self.boot_timeout, self.log_tail()))

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def _kill(self):
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.send_signal(signal.SIGKILL)

    def stop(self):
        """Power off: the process is killed as a board loses power; the flash
        image and the battery-backed RTC keep their state."""
        with self._life:
            self._stop()

    def _stop(self):
        if self._state_file:
            simstate.unregister(self._state_file)
            self._state_file = None
        if self.proc is not None:
            self._kill()
            self.proc.wait(10)
            self.proc = None
        if self.bus is not None:
            self.bus.close()
            self.bus = None
        if self._slave_fd is not None:
            os.close(self._slave_fd)
            self._slave_fd = None
        if self._sock_dir:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None
        self._save_rtc()

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        """stop(), and remove the data directory when it was a temporary one."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- power cut ------------------------------------------------------------

    def cut_power_at_write(self, n):
        """Arm a power cut: the firmware is killed at its n-th flash block
        write from now (n=1: the next one), before that write lands; None
        disarms it."""
        with self.lock:
            self.bus.cut_after = None if n is None else n - 1

    def dumps_before_writes(self, pick=lambda n: True):
        """From now on, the flash dump as it stands just before each picked
        write (n=1: the next one) lands: what a power cut at that write would
        leave. Returns the dict n -> dump that fills as the firmware writes."""
        dumps = {}
        start = self.bus.flash_writes

        def record(count):
            if pick(count - start):
                dumps[count - start] = self.flash_dump()
        self.bus.before_flash_write = record
        return dumps

    def wait_power_cut(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bus.power_cut and self.proc.poll() is not None:
                return True
            time.sleep(0.01)
        return False

    @property
    def flash_writes(self):
        return self.bus.flash_writes if self.bus else 0

    def flash_dump(self):
        """What a dump of the board's flash shows (cpy_launch.flash_dump on CircuitPython)."""
        if self.runtime == "circuitpython":
            from host_tools.simulator import cpy_launch
            return cpy_launch.flash_dump(self.data_dir)
        with open(self.flash_image, "rb") as f:
            return f.read()

    # -- the user's hands ------------------------------------------------------

    def _press(self, hold_s):
        with self._finger:
            self._press_now(hold_s)

    def _press_now(self, hold_s):
        if not self.running:
            raise SimulatorError("the token is not running")
        # A loaded machine can stall the firmware's loop at any moment, so
        # the pin itself lifts the finger, at the reading after which the
        # firmware must have watched it held past the debounce (or long-press)
        # time, and not much later (bus.press_until_seen).
        need = LONG_MS_FIRMWARE + 0.005 if hold_s >= LONG_PRESS_S else DEBOUNCE_S + 0.002
        self.bus.press_until_seen(need, PRESS_WORK_S)
        # Handled once the firmware must have watched the release for the
        # debounce time (the event), and read once more: the event's work and
        # redraw come after that reading, within the same turn. What a press
        # starts (at the long-press time, while still held, or at the
        # release) may keep the loop away from the pin a while: an unlock's
        # PBKDF2, the last try's erase. The wait allows that.
        self.bus.wait_watched(DEBOUNCE_S + 0.002, PRESS_WORK_S)

    def press(self):
        """A short press: next account (or wake the screen; on the lock
        screen, undo a digit)."""
        self._press(SHORT_PRESS_S)

    def double_press(self):
        """Two short presses, the second well within the firmware's double
        press window: types the code on screen when typing is on."""
        self._press(SHORT_PRESS_S)
        self._press(SHORT_PRESS_S)

    def long_press(self):
        """A long press (a hold): opens the jump menu; on it, takes the row."""
        self._press(LONG_PRESS_S)

    def hold_until(self, line):
        """Hold the button until a line of the screen reads `line`, and let
        go at once, as a person watching it would (the lock screen's digits
        count up while held: firmware/screen/pinpad.py). A dark screen gets
        a first press that wakes it, and does nothing else."""
        seen = {"ram": None, "found": False}

        def there(previous, now):
            with self.lock:
                ram = bytes(self.oled.ram) if self.oled.display_on else b""
            if ram != seen["ram"]:  # decode only what changed
                seen["ram"] = ram
                seen["found"] = bool(ram) and line in decode_text(ram, *self.display_size).splitlines()
            return seen["found"]
        with self._finger:
            if not self.running:
                raise SimulatorError("the token is not running")
            if not self.oled.display_on:  # (looked at once the finger is free)
                self._press_now(SHORT_PRESS_S)  # wakes the screen, and does nothing else
            self.bus.press_until(there, PRESS_WORK_S)
            # As after any press: the release debounced and its work done
            # (taking the digit; a PIN check's PBKDF2, the last try's erase).
            self.bus.wait_watched(DEBOUNCE_S + 0.002, PRESS_WORK_S)

    def enter_pin(self, pin, submit=True):
        """Type a PIN on the lock screen with the one button, as a person
        would (firmware/screen/pinpad.py): for each digit, hold until the
        screen says letting go takes it, and let go; then the same on the
        _ that unlocks."""
        if self.oled is None:
            raise SimulatorError("no display to read the PIN's digits from")
        for line in [TAKE_DIGIT % int(ch) for ch in pin] + ([TAKE_UNLOCK] if submit else []):
            self.hold_until(line)

    # -- the USB keyboard ---------------------------------------------------------

    def typed_text(self, layout="us"):
        """What a computer with keyboard layout `layout` received from the
        token's keyboard since the last clear_typed() ("\\n" for Enter)."""
        return self.keyboard.text(layout)

    def clear_typed(self):
        self.keyboard.clear()

    def set_host_leds(self, leds):
        """The computer's lock LEDs (hid_keyboard.LED_NUM_LOCK, ...)."""
        self.keyboard.set_leds(leds)

    # -- the screen ---------------------------------------------------------------

    def screen_text(self):
        """The screen decoded back to text from the display RAM ('' when the
        panel is off)."""
        with self.lock:
            if self.oled is None or not self.oled.display_on:
                return ""
            ram = bytes(self.oled.ram)
        return decode_text(ram, *self.display_size)

    def wait_for_text(self, predicate, timeout=5.0):
        """Poll the screen until predicate(text) (or a substring) holds."""
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda text: needle in text  # noqa: E731
        deadline = time.monotonic() + timeout
        text = self.screen_text()
        while not predicate(text):
            if time.monotonic() > deadline:
                raise TimeoutError("screen never matched; it shows:\n" + text)
            time.sleep(0.02)
            text = self.screen_text()
        return text

    def screenshot(self, path, scale=4):
        with self.lock:
            pixels = self.oled.pixels()
        render_png(pixels, path, scale)
        return path

    def pixels(self):
        with self.lock:
            return self.oled.pixels()

    # -- the clock -----------------------------------------------------------------

    def set_time(self, unix_seconds):
        """Set the simulated DS3231 (as if set correctly by someone else):
        its oscillator-stop flag is cleared."""
        with self.lock:
            self.rtc.set_time(unix_seconds, clear_osf=True)

    def advance(self, seconds):
        """`seconds` of simulated time pass at once (drift applies)."""
        with self.lock:
            self.rtc.advance(seconds)

    def set_drift_ppm(self, ppm):
        with self.lock:
            self.rtc.set_drift_ppm(ppm)

    def lose_clock(self):
        with self.lock:
            self.rtc.lose_clock()

    def rtc_time(self):
        with self.lock:
            return self.rtc.unix_time()

    # -- bus figures -----------------------------------------------------------------

    def i2c_bytes(self, addr=OLED_ADDR):
        with self.lock:
            return self.bus.bytes_by_addr.get(addr, 0)

    def reset_i2c_counters(self):
        self.bus.reset_counters()

    # -- persistence of the battery-backed RTC -----------------------------------------

    def _rtc_path(self):
        return os.path.join(self.data_dir, "rtc.json")

    def _load_rtc(self):
        try:
            with open(self._rtc_path()) as f:
                self.rtc.from_state(json.load(f))
        except (OSError, ValueError, KeyError):
            pass

    def _save_rtc(self):
        if not os.path.isdir(self.data_dir):
            return
        with self.lock:
            state = self.rtc.to_state()
        with open(self._rtc_path(), "w") as f:
            json.dump(state, f)
