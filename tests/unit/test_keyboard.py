"""Typing the code as a USB keyboard: firmware/keyboard/keymap.py and firmware/keyboard/typer.py
(on CPython and on the MicroPython unix port, from the same cases) checked by
the host-side decoder (host_tools/simulator/hid_keyboard.py), whose layout
tables are written apart from the firmware's; the simulator's keyboard bus
op (mp_hw/simboard.py, bus.py) and the CircuitPython usb_hid stand-in."""
import hashlib
import hmac
import importlib.util
import os
import random
import struct
import sys
import tempfile
import threading

import pyotp
import pytest

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import kbddrive  # noqa: E402
import keymap  # noqa: E402
import typer  # noqa: E402

from host_tools import mpy  # noqa: E402
from host_tools.simulator import hid_keyboard  # noqa: E402
from host_tools.simulator.bus import BusServer  # noqa: E402
from host_tools.simulator.hid_keyboard import HidKeyboardSink, decode  # noqa: E402
from host_tools.simulator.token import mp_board_path  # noqa: E402

LAYOUTS = list(keymap.LAYOUTS)
NUM = hid_keyboard.LED_NUM_LOCK
CAPS = hid_keyboard.LED_CAPS_LOCK
STEAM_CHARS = "23456789BCDFGHJKMNPQRTVWXY"
RNG = random.Random(1010)
SECRETS = [pyotp.random_base32(32) for _ in range(3)]
TIMES = [RNG.randrange(1_000_000_000, 4_000_000_000) for _ in range(3)]


def steam_code(secret_b32, t):
    """Steam Guard, computed here from hmac (not the firmware's otp.py)."""
    key = pyotp.TOTP(secret_b32).byte_secret()
    mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    off = mac[-1] & 15
    v = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    out = ""
    for _ in range(5):
        out += STEAM_CHARS[v % 26]
        v //= 26
    return out


def digit_codes():
    return [pyotp.TOTP(s, digits=d).at(t) for s, t in zip(SECRETS, TIMES) for d in (6, 7, 8)]


def steam_codes():
    return [steam_code(s, t) for s, t in zip(SECRETS, TIMES)]


def here(fn, *args):
    """kbddrive.fn(*args) on CPython."""
    return getattr(kbddrive, fn)(*args)


@pytest.fixture(params=["cpython", "micropython"])
def run(request, mp_worker):
    """run(fn, *args) from tests/mp/kbddrive.py on the chosen interpreter."""
    if request.param == "cpython":
        return here
    return lambda fn, *args: mp_worker.call("kbddrive", fn, *args)


def reports_of(blob):
    return [blob[i:i + 8] for i in range(0, len(blob), 8)]


def typed(run, text, layout, leds=0, **kw):
    """Type `text`; [reports, result, times]; fails if start refused."""
    started, blob, times, result, _tries, busy = run(
        "type_run", text, layout, kw.get("enter", False), leds, kw.get("refuse", b""),
        kw.get("interval", 20), kw.get("letters", "us"))
    assert started and not busy
    return reports_of(blob), result, times


# -- every layout, every kind of code ------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_digit_codes_arrive_as_typed_on_each_layout(run, layout):
    for code in digit_codes():
        reports, result, _ = typed(run, code, layout)
        assert result is True
        assert decode(reports, layout) == code
        assert reports[-1] == bytes(8)  # nothing left held


@pytest.mark.parametrize("layout", LAYOUTS)
def test_steam_codes_arrive_as_typed_on_each_layout(run, layout):
    codes = steam_codes() + [STEAM_CHARS[:13], STEAM_CHARS[13:]]
    for code in codes:
        reports, result, _ = typed(run, code, layout)
        assert result is True
        assert decode(reports, layout) == code


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_capital_and_digit_matches_the_hosts_table(layout):
    """Beyond the Steam alphabet: the whole table against the decoder."""
    text = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    reports = []
    for chunk in (text[:13], text[13:26], text[26:]):
        reports += typed(here, chunk, layout)[0]
    assert decode(reports, layout) == text


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_same_reports_on_both_interpreters(mp_worker, layout):
    for code in digit_codes()[:3] + steam_codes()[:1]:
        ours = kbddrive.type_run(code, layout, True, CAPS)
        theirs = mp_worker.call("kbddrive", "type_run", code, layout, True, CAPS)
        assert theirs == ours


def test_the_firmware_tables_are_the_same_on_both_interpreters(mp_worker):
    for layout in LAYOUTS:
        assert mp_worker.call("kbddrive", "keys", layout, STEAM_CHARS + "01") == \
            kbddrive.keys(layout, STEAM_CHARS + "01")


# -- the keypad and Num Lock ---------------------------------------------------

@pytest.mark.parametrize("leds", [NUM, 0, NUM | CAPS, CAPS])
def test_keypad_digits_any_host_layout_num_lock_put_back(run, leds):
    for code in digit_codes():
        reports, result, _ = typed(run, code, "keypad", leds)
        assert result is True
        for host in LAYOUTS:  # the keypad is the same on every layout
            assert decode(reports, host, leds) == code
        sink = HidKeyboardSink(leds=leds)
        for r in reports:
            assert sink.receive(r)
        assert sink.leds == leds  # Num Lock as the user had it
        presses = sum(r[2] == keymap.NUM_LOCK for r in reports)
        assert presses == (0 if leds & NUM else 2)


def test_keypad_without_num_lock_is_not_digits():
    """The decoder really models Num Lock: the keypad with it off moves the
    cursor, so a typer that forgot to turn it on would be caught."""
    reports, _, _ = typed(here, "123", "keypad", NUM)
    assert decode(reports, "us", NUM) == "123"
    assert decode(reports, "us", 0) == "{End}{Down}{PgDn}"


def test_unknown_host_leds_press_no_lock_key():
    """leds=None (a host that never sent its LED report, e.g. macOS, where
    the Num Lock usage is Clear): no lock key at all."""
    reports, result, _ = typed(here, "1234", "keypad", None)
    assert result is True
    assert all(r[2] not in (keymap.NUM_LOCK, keymap.CAPS_LOCK) for r in reports)
    assert decode(reports, "us", NUM) == "1234"


def test_keypad_mode_steam_code_letters_from_the_letters_layout(run):
    code = "2QW9Y"
    for letters in ("fr", "de", "us"):
        reports, _, _ = typed(run, code, "keypad", 0, letters=letters)
        assert decode(reports, letters, 0) == code
    reports, _, _ = typed(run, code, "keypad", 0, letters="us")
    assert decode(reports, "fr", 0) != code  # the wrong table shows


# -- Caps Lock, Enter ------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_caps_lock_on_is_turned_off_for_the_code_and_back_on(run, layout):
    for code in steam_codes()[:1] + digit_codes()[:1]:
        reports, _, _ = typed(run, code, layout, CAPS)
        assert decode(reports, layout, CAPS) == code
        sink = HidKeyboardSink(leds=CAPS)
        for r in reports:
            sink.receive(r)
        assert sink.leds == CAPS


def test_without_the_caps_toggle_the_decoder_sees_the_damage():
    """The decoder models Caps Lock: Shift+letter under Caps is lower case."""
    reports, _, _ = typed(here, "BCD", "us", 0)
    assert decode(reports, "us", CAPS) == "bcd"
    reports, _, _ = typed(here, "123", "fr", 0)
    assert "{Caps" in decode(reports, "fr", CAPS)


@pytest.mark.parametrize("layout", ["keypad", "us", "fr"])
def test_enter_after_the_code(run, layout):
    code = digit_codes()[0]
    reports, _, _ = typed(run, code, layout, 0, enter=True)
    host = "us" if layout == "keypad" else layout
    assert decode(reports, host, 0) == code + "\n"
    reports, _, _ = typed(run, code, layout, 0, enter=False)
    assert "\n" not in decode(reports, host, 0)


# -- pacing, a full endpoint, giving up, cancel -------------------------------------

def test_reports_are_paced_by_the_interval(run):
    for interval in (0, 5, 20):
        _, _, times = typed(run, "123456", "us", 0, interval=interval)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(times) == 12 and min(gaps) >= interval
        assert max(gaps) <= max(interval, 1)  # the ticks here move 1 ms per step


def test_a_full_endpoint_loses_nothing(run):
    rng = random.Random(77)
    for code, layout, leds in (("12345678", "keypad", 0), ("2BQ7Y", "fr", CAPS),
                               ("0099", "de", 0)):
        clean, _, _ = typed(run, code, layout, leds)
        refuse = bytes(rng.random() < 0.5 for _ in range(60))
        busy, result, _ = typed(run, code, layout, leds, refuse=refuse)
        assert result is True
        assert busy == clean
        assert decode(busy, "us" if layout == "keypad" else layout, leds) == code


def test_a_host_that_takes_nothing_ends_in_give_up(run):
    started, blob, _, result, tries, busy = run("type_run", "123", "us", False, 0,
                                                b"\x01" * 10000, 20, "us", 500)
    assert started and result is False and not busy
    assert blob == b"" and tries > 1


def test_giving_up_with_a_key_down_releases_it_later(run):
    result, blob, _tries = run("stuck_release", 1, 30, 10)
    assert result is False
    reports = reports_of(blob)
    assert reports[0][2] == 0x1E and reports[-1] == bytes(8)


def test_cancel_releases_and_restores_num_lock(run):
    for after in range(1, 8):
        started, blob, _, result, _, busy = run("type_run", "123456", "keypad", False, 0,
                                                b"", 20, "us", 2000, after)
        reports = reports_of(blob)
        assert result is False and not busy
        assert reports[-1] == bytes(8)
        sink = HidKeyboardSink(leds=0)
        for r in reports:
            sink.receive(r)
        assert sink.leds == 0  # Num Lock back off
        text = decode(reports, "us", 0)
        assert "123456".startswith(text) and len(text) < 6


def test_the_typer_allocates_nothing_per_step(mp_worker):
    blob, result = mp_worker.call("kbddrive", "type_no_alloc", "12345678", "keypad", 0,
                                  b"\x01\x00\x01\x01")
    assert result is True
    assert decode(reports_of(blob), "us", 0) == "12345678"


@pytest.mark.parametrize("text,layout", [("12a4", "us"), ("12!", "fr"), ("1234", "dvorak"),
                                         ("", "us"), ("1" * 17, "us"), ("ABC", "keypad")])
def test_untypeable_text_is_refused_whole(run, text, layout):
    started, blob, _, result, tries, busy = run("type_run", text, layout, False, 0, b"", 20,
                                                "us" if layout != "keypad" else "xx")
    assert not started and blob == b"" and tries == 0 and not busy


# -- the check can fail ---------------------------------------------------------------

@pytest.mark.parametrize("layout,bad_spec,code", [
    ("fr", b"\x00A\x14Q\x04Z\x1aW\x1dM\x33", "123456"),  # AZERTY digits without Shift
    ("de", b"\x00", "2Y7KB"),  # QWERTZ without the Y/Z swap
    ("be", b"\x01A\x14Q\x04Z\x1aW\x1dM\x10", "M2345"),  # M on the US M key (a comma)
])
def test_the_decoder_catches_a_wrong_firmware_table(monkeypatch, layout, bad_spec, code):
    good = typed(here, code, layout)[0]
    assert decode(good, layout) == code
    specs = list(keymap._SPECS)
    specs[keymap.layout_index(layout)] = bad_spec
    monkeypatch.setattr(keymap, "_SPECS", tuple(specs))
    bad = typed(here, code, layout)[0]
    assert decode(bad, layout) != code


def test_a_held_key_is_one_character():
    """Two downs of the same key without a release between are one press."""
    down = bytes((0, 0, 0x1E, 0, 0, 0, 0, 0))
    assert decode([down, down, bytes(8), down, bytes(8)], "us") == "11"


# -- the simulator's lowest layer ---------------------------------------------------

@pytest.fixture
def bus():
    d = tempfile.mkdtemp(prefix="tkbd-")
    path = os.path.join(d, "bus")
    server = BusServer(path, {}, threading.RLock())
    yield server
    server.close()
    os.rmdir(d)


MP_TYPE = """
import simboard, typer, time
kb = simboard.make_keyboard()
t = typer.Typer(kb.send, time.ticks_diff, 2)
print(t.start(%r, %r, %r, kb.leds()))
while t.step(time.ticks_ms()):
    time.sleep_ms(1)
print(t.result, kb.leds())
"""


def test_sim_board_keyboard_over_the_bus(bus, monkeypatch):
    """The sim board's SimKeyboard (MicroPython, mp_hw/simboard.py) through the bus op into the
    sink, with a busy endpoint and Num Lock off on the host."""
    monkeypatch.setenv("TOKEN_SIM_BUS", bus.path)
    bus.keyboard.refuse = 5
    code = digit_codes()[1]
    out = mpy.run_script(MP_TYPE % (code, "keypad", True), extra_path=mp_board_path()).stdout
    assert out.split() == ["True", "True", "0"]
    assert bus.keyboard.refused == 5
    assert bus.keyboard.text("de") == code + "\n"
    assert bus.keyboard.leds == 0
    assert bus.hid_reports == len(bus.keyboard.reports)


def test_sim_board_without_keyboard(monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_KEYBOARD", "0")
    out = mpy.run_script("import simboard\nprint(simboard.make_keyboard())",
                         extra_path=mp_board_path())
    assert out.stdout.split() == ["None"]


CPY_HW = os.path.join(mpy.REPO, "host_tools", "simulator", "cpy_hw", "usb_hid.py")


def load_usb_hid():
    spec = importlib.util.spec_from_file_location("usb_hid_standin", CPY_HW)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_circuitpython_usb_hid_standin(bus, monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_BUS", bus.path)
    usb_hid = load_usb_hid()
    usb_hid.enable((usb_hid.Device.KEYBOARD,))
    kbd = [d for d in usb_hid.devices if d.usage_page == 0x01 and d.usage == 0x06][0]
    bus.keyboard.set_leds(CAPS)
    first = kbd.get_last_received_report()
    assert first == bytes((CAPS,))  # the host set it at enumeration
    assert kbd.get_last_received_report() is None  # nothing new since

    def send(report):
        try:
            kbd.send_report(report)
            return True
        except OSError:
            return False
    bus.keyboard.refuse = 3  # busy: send_report waits, as CircuitPython's does
    t = typer.Typer(send, lambda a, b: a - b, 0)
    assert t.start("4Q9", "keypad", False, first[0], "fr")
    now = 0
    while t.step(now):
        now += 1
    assert t.result is True
    assert bus.keyboard.text("fr") == "4Q9"
    assert bus.keyboard.leds == CAPS  # Num Lock and Caps Lock as they were
    assert kbd.get_last_received_report() is None  # toggled and back: the last is CAPS again
    with pytest.raises(ValueError):
        kbd.send_report(b"\x00" * 7)


def test_circuitpython_usb_hid_absent_without_native_usb(monkeypatch):
    monkeypatch.setenv("TOKEN_SIM_KEYBOARD", "0")
    with pytest.raises(ImportError):
        load_usb_hid()


def test_bus_serves_two_connections(bus, monkeypatch):
    """The firmware's board module and a stand-in module each with a socket."""
    monkeypatch.setenv("TOKEN_SIM_BUS", bus.path)
    a = load_usb_hid()
    b = load_usb_hid()
    for mod in (a, b):
        mod.Device.KEYBOARD.send_report(bytes((0, 0, 0x27, 0, 0, 0, 0, 0)))
        mod.Device.KEYBOARD.send_report(bytes(8))
    assert bus.keyboard.text("us") == "00"
    assert len(bus._conns) == 2


# -- the MicroPython runtime's wrapper, over a stand-in usb.device -----------------

USBKBD = os.path.join(mpy.FIRMWARE, "runtime", "micropython", "usbkbd.py")


class FakeKeyboardInterface:
    """usb.device.keyboard.KeyboardInterface as far as usbkbd uses it: one
    interrupt transfer pending at a time, reading the caller's buffer."""

    def __init__(self):
        self.open = True
        self.pending = None  # the buffer the transfer reads until the host polls
        self.taken = []

    def is_open(self):
        return self.open

    def busy(self):
        return self.open and self.pending is not None

    def send_report(self, buf, timeout_ms=100):
        assert timeout_ms == 0 and not self.busy()
        self.pending = buf
        return True

    def host_polls(self):
        if self.pending is not None:
            self.taken.append(bytes(self.pending))
            self.pending = None

    def on_set_report(self, data, _id, _type):
        self.on_led_update(data[0])


def load_usbkbd(monkeypatch, with_usb=True):
    import types
    machine = types.ModuleType("machine")
    if with_usb:
        machine.USBDevice = object
    inited = []
    usb = types.ModuleType("usb")
    device = types.ModuleType("usb.device")
    device.get = lambda: types.SimpleNamespace(init=lambda *i, **kw: inited.append((i, kw)))
    kbmod = types.ModuleType("usb.device.keyboard")
    kbmod.KeyboardInterface = FakeKeyboardInterface
    usb.device = device
    device.keyboard = kbmod
    for name, mod in (("machine", machine), ("usb", usb), ("usb.device", device),
                      ("usb.device.keyboard", kbmod)):
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location("usbkbd_under_test", USBKBD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, inited


def test_usbkbd_queues_a_copy_and_keeps_the_serial(monkeypatch):
    usbkbd, inited = load_usbkbd(monkeypatch)
    kbd = usbkbd.keyboard()
    assert usbkbd.keyboard() is kbd and len(inited) == 1
    assert inited[0][1] == {"builtin_driver": True}  # the CDC serial stays
    itf = inited[0][0][0]
    assert kbd.leds() is None  # the host has not said
    itf.on_set_report(bytes((NUM,)), 0, 2)
    assert kbd.leds() == NUM
    t = typer.Typer(kbd.send, lambda a, b: a - b, 0)
    assert t.start("70", "keypad", False, kbd.leds())
    polls = 0
    while t.step(polls):
        if polls % 3 == 2:  # the host polls every third step
            itf.host_polls()
        polls += 1
    itf.host_polls()
    assert decode(itf.taken, "us", NUM) == "70"
    itf.open = False  # unplugged / not configured
    assert kbd.send(bytes(8)) is False


def test_usbkbd_none_without_runtime_usb(monkeypatch):
    usbkbd, inited = load_usbkbd(monkeypatch, with_usb=False)
    assert usbkbd.keyboard() is None and inited == []
