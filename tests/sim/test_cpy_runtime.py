"""The CircuitPython runtime (firmware/runtime/circuitpython) under CPython:
the real adafruit drivers, through the stand-ins for CircuitPython's platform
modules (host_tools/simulator/cpy_hw), talking to the simulator's SSD1306 and
DS3231 models over its socket bus."""
import calendar
import os
import pty
import runpy
import select
import signal
import sys
import tempfile
import threading
import time
import tty
import types

import pytest

from firmware.protocol import frames
from host_tools import mpy
from host_tools.simulator import cpy_launch, fontfile
from host_tools.simulator.bus import WIRE_DIR, BusServer
from host_tools.simulator.ds3231_model import DS3231Model
from host_tools.simulator.screen_decode import decode_text, font8x8
from host_tools.simulator.ssd1306_model import SSD1306Model
from host_tools.simulator.wire import wirecodes
from tests.waiting import HANG_GUARD_S, REPLY_GUARD_S, power_cut, reset, screen, wait_for

OLED, RTC = 0x3C, 0x68
# The user's hand, not a wait: between releasing the button and pressing it
# again (the hold-to-erase confirmation wants a new press).
FINGER_LIFT_S = 0.3
# The behaviour: a wait this long on an empty data port ends with nothing.
NOTHING_YET_MS = 10
# Module names the stand-ins and the runtime take over while a test runs.
TAKEN = ("board", "busio", "digitalio", "keypad", "usb_cdc", "storage", "supervisor",
         "microcontroller", "micropython", "hal", "cpdisplay", "cpclock", "cpkeyboard",
         "tokenboard", "_simwire", "wirecodes",
         "circuitpython_typing", "circuitpython_typing.device_drivers", "typing_extensions")


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def cpy(tmp_path, monkeypatch):
    """The board's side of the wires in this process: models on a bus
    server, the stand-ins and the runtime importable; all undone after."""
    saved_modules = dict(sys.modules)
    saved_path = list(sys.path)
    for name in TAKEN:
        sys.modules.pop(name, None)
    sock_dir = tempfile.mkdtemp(prefix="tcpy-")
    oled = SSD1306Model()
    rtc = DS3231Model(clock=FakeClock())
    devices = {OLED: oled, RTC: rtc}
    bus = BusServer(os.path.join(sock_dir, "bus"), devices, threading.RLock())
    monkeypatch.setenv("TOKEN_SIM_BUS", bus.path)
    sys.path[:0] = [cpy_launch.CPY_HW, WIRE_DIR, cpy_launch.CPY_RUNTIME]
    board = types.SimpleNamespace(
        RUNTIME="circuitpython", NAME="cp_test", SDA="SDA", SCL="SCL", I2C_FREQ=400_000,
        BUTTON_PIN="BUTTON", BUTTON_ACTIVE_LOW=True, DATA_DIR=str(tmp_path / "data"),
        FONT_FILE=fontfile.write(str(tmp_path / "font8x8.bin")))
    env = types.SimpleNamespace(bus=bus, oled=oled, rtc=rtc, devices=devices, board=board,
                                tmp=tmp_path)
    try:
        yield env
    finally:
        bus.close()
        sys.path[:] = saved_path
        sys.modules.clear()
        sys.modules.update(saved_modules)
        os.rmdir(sock_dir)


def new_runtime(env):
    import hal as runtime
    return runtime.Runtime(env.board)


def oled_bytes(env):
    return env.bus.bytes_by_addr.get(OLED, 0)


# --- the font file ----------------------------------------------------------

def test_font_file_holds_micropythons_glyphs_in_ascii_order(tmp_path):
    path = fontfile.write(str(tmp_path / "f.bin"))
    data = open(path, "rb").read()
    assert len(data) == 95 * 8
    font = font8x8()
    for ch in "A~ 0":
        i = (ord(ch) - 32) * 8
        assert data[i:i + 8] == font[ch], ch


# --- the display ---------------------------------------------------------------

def test_panel_ram_holds_what_the_runtime_drew_and_the_decoder_reads_it(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    d.fb.fill(0)
    d.fb.text("No accounts yet", 0, 0, 1)
    d.fb.text("287082", 16, 24, 1)
    d.fb.fill_rect(0, 60, 64, 4, 1)
    d.show()
    assert bytes(cpy.oled.ram) == bytes(d.drv.buffer[1:])
    assert cpy.oled.display_on
    assert cpy.oled.unknown_commands == []  # the model knows all the driver sends
    assert decode_text(bytes(cpy.oled.ram)) == "No accounts yet\n287082"


def test_text_off_the_page_grid_lands_on_the_right_pixels(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    d.fb.text("Ag", 3, 13, 1)  # y = 13 straddles pages 1 and 2
    d.show()
    pixels = cpy.oled.pixels()
    font = font8x8()
    for i, ch in enumerate("Ag"):
        for col in range(8):
            for row in range(8):
                want = font[ch][col] >> row & 1
                assert pixels[13 + row][3 + 8 * i + col] == want, (ch, col, row)


def test_glyph_gives_the_font_columns(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    assert bytes(d.glyph("7")) == font8x8()["7"]
    assert bytes(d.glyph("\x01")) == bytes(8)


def test_show_sends_only_the_changed_pages(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    assert d.show() == 0  # the driver sent the blank frame at start
    d.fb.text("59", 0, 56, 1)  # the countdown's page only
    cpy.bus.reset_counters()
    cpy.oled.reset_counters()
    assert d.show() == 1
    assert cpy.oled.pages_written == {7}
    # one window command write (7 bytes) and one page (0x40 + 128), each
    # with its address byte
    assert oled_bytes(cpy) == (1 + 7) + (1 + 1 + 128)
    cpy.bus.reset_counters()
    assert d.show() == 0 and oled_bytes(cpy) == 0
    assert bytes(cpy.oled.ram) == bytes(d.drv.buffer[1:])


def test_neighbouring_changed_pages_go_out_as_one_write(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    d.fb.pixel(127, 23, 1)  # last column of page 2: the byte the write borrows
    d.show()
    d.fb.fill_rect(0, 24, 10, 16, 1)  # pages 3 and 4
    cpy.bus.reset_counters()
    cpy.oled.reset_counters()
    assert d.show() == 2
    assert cpy.oled.pages_written == {3, 4}
    assert cpy.oled.transactions == 2
    assert oled_bytes(cpy) == (1 + 7) + (1 + 1 + 2 * 128)
    assert d.drv.buffer[1 + 2 * 128 + 127] == 0x80  # restored after the write
    assert bytes(cpy.oled.ram) == bytes(d.drv.buffer[1:])


def test_force_resends_every_page_and_the_count_adds_up(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    assert d.show(force=True) == 8
    d.fb.text("x", 0, 0, 1)
    d.show()
    assert d.pages_sent == 9


def test_power_and_contrast_reach_the_panel(cpy):
    d = new_runtime(cpy).display(128, 64, OLED)
    d.contrast(0x20)
    assert cpy.oled.contrast == 0x20
    d.power(False)
    assert not cpy.oled.display_on and not d.on
    d.power(True)
    assert cpy.oled.display_on and d.on


def test_no_panel_on_the_bus_is_an_oserror_and_no_display_draws_nowhere(cpy):
    del cpy.devices[OLED]
    rt = new_runtime(cpy)
    with pytest.raises(OSError):
        rt.display(128, 64, OLED)
    nd = rt.no_display(128, 64)
    nd.fb.text("hi", 0, 0, 1)
    assert nd.show() == 0 and bytes(nd.glyph("A")) == font8x8()["A"]


def test_a_32_row_panel(cpy):
    cpy.oled.__init__(128, 32)
    d = new_runtime(cpy).display(128, 32, OLED)
    d.fb.text("ok", 0, 24, 1)
    assert d.show() == 1
    assert decode_text(bytes(cpy.oled.ram), 128, 32) == "ok"


# --- the clock chip -----------------------------------------------------------------

def test_time_written_is_the_chips_time_and_reads_back(cpy):
    clock = new_runtime(cpy).rtc(RTC)
    clock.write_time(2031, 7, 14, 9, 26, 53, 1)  # a Monday
    assert cpy.rtc.unix_time() == calendar.timegm((2031, 7, 14, 9, 26, 53))
    cpy.rtc.advance(70)
    clock.read_time()
    assert (clock.year, clock.month, clock.day, clock.hour, clock.minute, clock.second) == \
        (2031, 7, 14, 9, 28, 3)
    assert clock.read_seconds() == 3
    with pytest.raises(ValueError):
        clock.write_time(2200, 1, 1, 0, 0, 0, 3)


def test_the_next_century_and_its_rollover(cpy):
    clock = new_runtime(cpy).rtc(RTC)
    clock.write_time(2150, 6, 1, 12, 0, 0, 3)
    assert cpy.rtc.unix_time() == calendar.timegm((2150, 6, 1, 12, 0, 0))
    clock.write_time(2099, 12, 31, 23, 59, 58, 4)
    clock.read_time()
    assert (clock.year, clock.month, clock.day) == (2099, 12, 31)
    cpy.rtc.advance(3)  # the chip sets the century bit itself
    clock.read_time()
    assert (clock.year, clock.month, clock.day, clock.second) == (2100, 1, 1, 1)


def test_writing_the_time_leaves_the_lost_power_flag_to_the_app(cpy):
    cpy.rtc.lose_clock()
    clock = new_runtime(cpy).rtc(RTC)
    assert clock.lost_power()
    clock.write_time(2030, 1, 1, 0, 0, 0, 2)
    assert clock.lost_power() and cpy.rtc.osf
    clock.clear_lost_power()
    assert not clock.lost_power() and not cpy.rtc.osf


def test_aging_and_temperature_round_trip(cpy):
    clock = new_runtime(cpy).rtc(RTC)
    clock.set_aging(-17)
    assert cpy.rtc.aging == -17 and clock.aging() == -17
    with pytest.raises(ValueError):
        clock.set_aging(128)
    cpy.rtc.set_temperature(-3.25)
    assert clock.temperature() == -3.25
    cpy.rtc.set_temperature(24.5)
    assert clock.temperature() == 24.5


def test_no_clock_chip_is_an_oserror(cpy):
    del cpy.devices[RTC]
    with pytest.raises(OSError):
        new_runtime(cpy).rtc(RTC)


# --- the button ----------------------------------------------------------------

def _until(predicate):
    return wait_for(predicate, "the awaited state", every_s=0.005)


def test_keypad_events_follow_the_button_pin(cpy):
    import board
    import keypad
    keys = keypad.Keys((board.BUTTON,), value_when_pressed=False)
    assert keys.events.get() is None
    cpy.bus.button_down = True
    ev = _until(keys.events.get)
    assert ev.pressed and ev.key_number == 0
    cpy.bus.button_down = False
    ev = keypad.Event()
    _until(lambda: keys.events.get_into(ev))
    assert ev.released


def test_runtime_button_is_the_held_level(cpy):
    rt = new_runtime(cpy)
    assert rt.button() is False
    cpy.bus.button_down = True
    _until(rt.button)
    assert rt.button() is True  # still held: no new event, same level
    cpy.bus.button_down = False
    _until(lambda: not rt.button())


# --- the data port ------------------------------------------------------------------

@pytest.fixture
def pty_port(monkeypatch):
    master, slave = pty.openpty()
    tty.setraw(slave)
    monkeypatch.setenv("TOKEN_SIM_CDC_FD", str(master))
    old = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("blocked"))
    signal.alarm(20)  # a blocking call fails the test instead of hanging it
    try:
        yield slave
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.close(master)
        os.close(slave)


def test_usb_cdc_data_is_off_until_enabled_then_reads_without_blocking(cpy, pty_port):
    import usb_cdc
    assert usb_cdc.data is None
    usb_cdc.enable(console=True, data=True)
    port = usb_cdc.data
    assert port.timeout is None  # CircuitPython's default: wait
    port.timeout = 0
    assert port.read(8) == b"" and port.in_waiting == 0
    os.write(pty_port, b"hello")
    _until(lambda: port.in_waiting == 5)
    buf = bytearray(3)
    assert port.readinto(buf) == 3 and buf == b"hel"
    assert port.read(10) == b"lo"
    os.write(pty_port, b"junk")
    _until(lambda: port.in_waiting)
    port.reset_input_buffer()
    assert port.in_waiting == 0
    assert port.write(b"reply\n") == 6
    assert os.read(pty_port, 100) == b"reply\n"


def test_a_full_port_takes_what_fits_and_returns(cpy, pty_port):
    import usb_cdc
    usb_cdc.enable(data=True)
    usb_cdc.data.write_timeout = 0
    big = bytes(1 << 20)  # more than any pty buffers: nobody reads the other end
    n = usb_cdc.data.write(big)
    assert 0 < n < len(big)
    assert usb_cdc.data.write(big) < len(big)  # still full (the pty may have moved a little)


def test_runtime_serial_on_the_data_port(cpy, pty_port):
    import usb_cdc
    usb_cdc.enable(console=True, data=True)
    rt = new_runtime(cpy)
    assert rt.serial.port is usb_cdc.data and usb_cdc.data.timeout == 0
    buf = bytearray(16)
    assert rt.serial.read_into(buf) == 0
    assert rt.serial.wait(NOTHING_YET_MS) is False
    os.write(pty_port, b'{"id":1}\n')
    assert rt.serial.wait(HANG_GUARD_S * 1000) is True  # (at once, once the line is in)
    got = b""
    while not got.endswith(b"\n"):
        n = rt.serial.read_into(buf)
        got += bytes(buf[:n])
    assert got == b'{"id":1}\n'
    assert rt.serial.write(memoryview(b"ok\n")) == 3
    assert os.read(pty_port, 10) == b"ok\n"


# --- ticks, storage, boot ----------------------------------------------------------

def test_ticks_wrap_at_2_to_the_29_as_on_circuitpython(cpy):
    import hal as runtime
    import supervisor
    top = (1 << 29) - 1
    assert runtime.ticks_add(top, 2) == 1
    assert runtime.ticks_diff(5, top - 4) == 10
    assert runtime.ticks_diff(top - 4, 5) == -10
    assert runtime.ticks_diff(runtime.ticks_add(1234, 1 << 27), 1234) == 1 << 27
    assert 0 <= supervisor.ticks_ms() <= top


def test_runtime_makes_its_data_dir_and_reset_ends_the_process(cpy):
    rt = new_runtime(cpy)
    assert os.path.isdir(rt.data_dir) and rt.name == "circuitpython"
    assert type(rt.keyboard).__name__ == "HidKeyboard"  # usb_hid: the sim board has native USB
    code = ("import sys; sys.path[:0] = %r\nimport microcontroller\nmicrocontroller.reset()\n"
            "print('still here')" % [cpy_launch.CPY_HW, WIRE_DIR])
    import subprocess
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    assert proc.returncode == wirecodes.RESET_EXIT and "still here" not in proc.stdout


def test_reset_cause_names_circuitpythons_reset_reason(cpy):
    import microcontroller
    rt = new_runtime(cpy)
    assert rt.reset_cause() == (0, "unknown")  # what the simulator says, as MicroPython's
    microcontroller.cpu.reset_reason = microcontroller.ResetReason.WATCHDOG
    assert rt.reset_cause()[1] == "wdt"
    microcontroller.cpu.reset_reason = microcontroller.ResetReason.POWER_ON
    assert rt.reset_cause() == (1, "pwron")


@pytest.mark.parametrize("flag", [False, True])
def test_boot_hides_the_drive_unless_maintenance_was_asked(cpy, flag):
    # (the button held at plug-in: test_launcher_held_button_*)
    import storage
    import usb_cdc
    sys.modules["tokenboard"] = cpy.board
    held = False
    os.makedirs(cpy.board.DATA_DIR)
    flag_path = os.path.join(cpy.board.DATA_DIR, "maintenance")
    if flag:
        open(flag_path, "w").close()
    runpy.run_path(os.path.join(cpy_launch.CPY_RUNTIME, "boot.py"))
    # the console (REPL) port only when the drive goes to the host
    assert usb_cdc.enabled == {"console": flag, "data": True}
    assert not os.path.exists(flag_path)  # once only
    if held or flag:
        assert storage.usb_drive_enabled and storage.getmount("/").readonly
    else:
        assert storage.calls == [("disable_usb_drive",), ("remount", "/", False)]
        assert not storage.usb_drive_enabled and not storage.getmount("/").readonly


# --- the launcher: boot.py and code.py in a CPython process ------------------------

# A stand-in app with the seam's entry point (app.main(rt, board)): it draws,
# answers requests over rt.serial, shows presses and resets on "reset".
FAKE_APP = '''
import frames


def main(rt, board):
    d = rt.display(board.DISPLAY_WIDTH, board.DISPLAY_HEIGHT, board.DISPLAY_ADDR)
    clock = rt.rtc(board.RTC_ADDR)
    d.fb.fill(0)
    d.fb.text("No accounts yet", 0, 0, 1)
    d.show()
    buf = bytearray(64)
    line = b""
    presses = 0
    was = False
    while True:
        held = rt.button()
        if held and not was:
            presses += 1
            d.fb.fill_rect(0, 16, 128, 8, 0)
            d.fb.text("presses %d" % presses, 0, 16, 1)
            d.show()
        was = held
        if not rt.serial.wait(20):
            continue
        n = rt.serial.read_into(buf)
        line += bytes(buf[:n])
        while b"\\n" in line:
            one, line = line.split(b"\\n", 1)
            req_id, cmd, args = frames.decode_request(one)
            if cmd == "reset":
                rt.reset()
            if cmd == "write":
                with open(rt.data_dir + "/note", "wb") as f:
                    f.write(b"kept")
            clock.read_time()
            rt.serial.write(frames.encode_ok(req_id, {"cmd": cmd, "year": clock.year,
                                                      "sent": d.pages_sent}))
'''


@pytest.fixture
def fake_firmware(tmp_path):
    """The portable firmware with the stand-in app in place of the real one."""
    import shutil
    fw = tmp_path / "fw"
    fw.mkdir()
    for path in mpy.portable_sources():  # flattened, as on a board
        shutil.copy(path, str(fw))
    (fw / "app.py").write_text(FAKE_APP)
    return str(fw)


def _request(tok, req_id, cmd):
    os.write(tok._slave_fd, frames.encode_request(req_id, cmd))
    buf = b""
    deadline = time.monotonic() + REPLY_GUARD_S
    while time.monotonic() < deadline:
        r, _, _ = select.select([tok._slave_fd], [], [], 0.1)
        if r:
            buf += os.read(tok._slave_fd, 4096)
        while b"\n" in buf:
            one, buf = buf.split(b"\n", 1)
            reply = frames.decode_reply(one)
            if reply and reply.get("id") == req_id:
                return reply
    raise AssertionError("no reply; log:\n" + tok.log_tail())


def test_launcher_boots_code_py_on_the_simulator(fake_firmware, tmp_path):
    from host_tools.simulator import SimulatedToken
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython",
                         firmware_dir=fake_firmware)
    try:
        tok.start()
        tok.set_time(calendar.timegm((2033, 3, 4, 5, 6, 7)))
        assert screen(tok, "No accounts yet")
        reply = _request(tok, 7, "status")
        assert reply["ok"] and reply["data"]["cmd"] == "status" and reply["data"]["year"] == 2033
        # boot.py gives the firmware no console port: no Ctrl-C can reach a REPL
        assert "usb_cdc: console port off, data port on" in tok.log_tail()
        assert "console port on" not in tok.log_tail()
        assert os.path.isdir(os.path.join(tok.data_dir, "data"))
        tok.press()
        assert "presses 1" in screen(tok, "presses 1")
        # a reset ends the process with RESET_EXIT: the simulator starts it again
        os.write(tok._slave_fd, frames.encode_request(8, "reset"))
        reset(tok)
        assert _request(tok, 9, "again")["ok"]
    finally:
        tok.close()


def test_launcher_held_button_leaves_the_drive_to_the_host(fake_firmware, tmp_path):
    from host_tools.simulator import SimulatedToken
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython",
                         firmware_dir=fake_firmware)
    try:
        tok.start(held=True)
        screen(tok, "MAINTENANCE")  # boot.py's maintenance screen
        tok.hold_button(False)
        tok.wait_ready()  # the banner on the data port
        assert tok.maintenance and tok.running  # code.py ended; the board stays up
        _until(lambda: "Code done running" in tok.log_tail())
        assert "the CIRCUITPY drive is the host's" in tok.log_tail()
        assert "No accounts yet" not in tok.screen_text()  # the firmware never started
        # the REPL only here, after a hand on the button at plug-in
        assert "usb_cdc: console port on, data port on" in tok.log_tail()
    finally:
        tok.close()


def test_launcher_power_cut_lands_before_a_drive_write(fake_firmware, tmp_path):
    from host_tools.simulator import SimulatedToken
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython",
                         firmware_dir=fake_firmware)
    note = os.path.join(tok.data_dir, "data", "note")
    try:
        tok.start()
        before = tok.flash_writes
        assert _request(tok, 1, "write")["ok"]
        assert open(note, "rb").read() == b"kept"
        assert tok.flash_writes == before + 2  # the file made, its bytes
        os.remove(note)
        tok.cut_power_at_write(1)
        os.write(tok._slave_fd, frames.encode_request(2, "write"))
        assert power_cut(tok)
        assert not os.path.exists(note)  # the write never landed
    finally:
        tok.close()


# --- the real firmware on the CircuitPython runtime -----------------------------------

FULL_FRAME_ADAFRUIT = 6 * 3 + (1 + 1 + 1024)  # adafruit_ssd1306's own show()


def test_the_firmware_boots_and_answers_on_the_circuitpython_runtime(tmp_path):
    from host_tools.client import TokenClient
    from host_tools.formats.otpauth import Account
    from host_tools.link import SerialLink
    from host_tools.simulator import SimulatedToken
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython")
    try:
        tok.start()
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            c.sync_time()
            screen(tok, "No accounts yet")
            status = c.status()
            assert status["accounts"] == 0 and status["clock"]["lost"] is False
            assert status["fault"] is None  # display and clock chip found
            for name in ("alice", "bob"):
                c.add(Account(name=name, issuer="Example", secret=os.urandom(20)))
            screen(tok, "bob")
            tok.reset_i2c_counters()
            tok.press()
            screen(tok, "alice")
            # the press redrew what changed, not the whole frame
            assert 0 < tok.i2c_bytes() < FULL_FRAME_ADAFRUIT
        tok.restart()  # the accounts are on the (simulated) CIRCUITPY drive
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            assert sorted(a["name"] for a in c.list_accounts()) == ["alice", "bob"]
    finally:
        tok.close()


def test_launcher_held_button_factory_reset_then_the_firmware_runs(fake_firmware, tmp_path):
    from host_tools.simulator import SimulatedToken
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython",
                         firmware_dir=fake_firmware, reset_hold_s=1, reset_confirm_s=5)
    data = os.path.join(tok.data_dir, "data")
    os.makedirs(data)
    with open(os.path.join(data, "accounts"), "wb") as f:
        f.write(b"secret stuff")
    try:
        tok.start(held=True)
        screen(tok, "PRESS to ERASE")
        tok.hold_button(False)
        time.sleep(FINGER_LIFT_S)  # a finger lifts and comes down again
        tok.hold_button(True)
        screen(tok, "ERASED")
        tok.hold_button(False)
        tok.wait_ready()
        assert not tok.maintenance
        screen(tok, "No accounts yet")
        assert not os.path.exists(os.path.join(data, "accounts"))
    finally:
        tok.close()


def test_the_simulated_drive_has_a_size(tmp_path):
    notices = []
    drive = cpy_launch.SimDrive(str(tmp_path), lambda: notices.append(1), capacity=8 * 512)
    (tmp_path / "a").write_bytes(bytes(1000))  # two blocks, and the folder's one
    assert drive.used() == 3 * 512
    st = drive.statvfs()
    assert (st[0], st[2], st[3]) == (512, 8, 5)
    drive.room_for(5 * 512)
    with pytest.raises(OSError) as e:
        drive.room_for(5 * 512 + 1)
    assert e.value.errno == 28
    assert drive.ours(str(tmp_path / "a")) and not drive.ours(str(tmp_path) + "x")
