# The simulator's register-level models of the SSD1306 display and the
# DS3231 clock. The firmware is tested against these, so they must behave
# like the chips: a model that forgives a wrong command hides a firmware bug.
import calendar
import datetime
import json

import pytest

from host_tools.simulator.ds3231_model import (
    DS3231Model, civil_from_days, days_from_civil)
from host_tools.simulator.ssd1306_model import SSD1306Model

# micropython-lib ssd1306 init_display() for a 128x64 panel, one byte per
# [0x80, byte] transaction, exactly as that driver sends it.
MPY_LIB_INIT_128x64 = [
    0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, 63, 0xC8, 0xD3, 0x00, 0xDA, 0x12,
    0xD5, 0x80, 0xD9, 0xF1, 0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x14,
    0xAF,
]


def mpy_lib_init(model, height=64):
    seq = list(MPY_LIB_INIT_128x64)
    seq[6] = height - 1
    seq[11] = 0x12 if height == 64 else 0x02
    for b in seq:
        model.i2c_write(bytes([0x80, b]))


def ready_display(width=128, height=64):
    m = SSD1306Model(width, height)
    mpy_lib_init(m, height)
    return m


def cmds(model, *ops):
    model.i2c_write(bytes([0x00] + list(ops)))


def data(model, payload):
    model.i2c_write(bytes([0x40]) + bytes(payload))


def lit_points(pixels):
    return {(x, y) for y, row in enumerate(pixels) for x, v in enumerate(row) if v}


# --- SSD1306: command parsing ---

def test_micropython_lib_init_sequence_sets_up_the_panel():
    m = ready_display()
    assert m.display_on and m.charge_pump
    assert m.contrast == 0xFF and m.multiplex == 63
    assert m.seg_remap and m.com_scan_reversed
    assert m.addressing_mode == 0 and m.start_line == 0
    assert m.pending_command is None
    assert m.unknown_commands == [] and m.config_warnings() == []


def test_arguments_are_not_mistaken_for_opcodes():
    m = SSD1306Model()
    # 0x40 is the contrast value, not "start line 0"; 0xAF is the display
    # offset (masked to 6 bits), not "display on".
    cmds(m, 0x81, 0x40, 0x22, 0x01, 0x06, 0xD3, 0xAF)
    assert m.contrast == 0x40
    assert (m.page_start, m.page_end) == (1, 6)
    assert m.display_offset == 0x2F and not m.display_on
    assert m.pending_command is None


def test_command_arguments_collect_across_transactions():
    m = SSD1306Model()
    m.i2c_write(bytes([0x80, 0x81]))
    assert m.pending_command == 0x81
    m.i2c_write(bytes([0x80, 0x10]))
    assert m.contrast == 0x10 and m.pending_command is None


def test_scroll_commands_consume_their_arguments():
    m = SSD1306Model()
    cmds(m, 0x26, 0, 0, 0, 7, 0, 0xFF, 0x29, 0, 0, 0, 7, 1, 0xA3, 0, 64, 0xAF)
    assert m.display_on and m.unknown_commands == []


def test_co_bit_alternates_commands_and_data():
    m = SSD1306Model()
    cmds(m, 0x20, 0x00)
    # Co=1 D/C=1: one data byte; Co=1 D/C=0: one command; then a data stream.
    m.i2c_write(bytes([0xC0, 0x55, 0x80, 0xA7, 0x80, 0xAF, 0x40, 1, 2, 3]))
    assert m.ram[0:4] == bytes([0x55, 1, 2, 3])
    assert m.inverted and m.display_on
    assert m.data_bytes == 4


def test_unknown_opcodes_are_recorded_not_raised():
    m = SSD1306Model()
    cmds(m, 0xFE, 0xAF, 0xD6)
    assert m.unknown_commands == [0xFE, 0xD6]
    assert m.display_on


# --- SSD1306: addressing ---

def test_horizontal_mode_wraps_inside_the_column_and_page_window():
    m = SSD1306Model()
    cmds(m, 0x20, 0x00, 0x21, 10, 12, 0x22, 2, 3)
    data(m, [1, 2, 3, 4, 5, 6, 7])
    at = lambda page, col: m.ram[page * 128 + col]  # noqa: E731
    assert [at(2, 10), at(2, 11), at(2, 12)] == [7, 2, 3]  # 7th byte wrapped to the start
    assert [at(3, 10), at(3, 11), at(3, 12)] == [4, 5, 6]
    assert at(2, 13) == 0 and at(4, 10) == 0
    assert (m.page, m.col) == (2, 11)


def test_vertical_mode_fills_pages_first():
    m = SSD1306Model()
    cmds(m, 0x20, 0x01, 0x21, 0, 127, 0x22, 0, 1)
    data(m, [1, 2, 3])
    assert (m.ram[0], m.ram[128], m.ram[1]) == (1, 2, 3)


def test_page_mode_uses_page_and_column_nibble_commands():
    m = SSD1306Model()
    cmds(m, 0x20, 0x02, 0xB3, 0x05, 0x12)  # page 3, column 0x25
    data(m, [9, 8])
    assert m.ram[3 * 128 + 37: 3 * 128 + 39] == bytes([9, 8])
    cmds(m, 0x0F, 0x17)  # column 127
    data(m, [5, 6])
    assert m.ram[3 * 128 + 127] == 5 and m.ram[3 * 128] == 6  # wrapped in the page
    assert m.ram[4 * 128] == 0


def test_page_commands_do_nothing_in_horizontal_mode():
    m = SSD1306Model()
    cmds(m, 0x20, 0x00, 0xB5, 0x13)
    data(m, [1])
    assert m.ram[0] == 1


def test_full_frame_and_partial_update_counters():
    m = ready_display()
    m.reset_counters()
    cmds(m, 0x21, 0, 127, 0x22, 0, 7)
    data(m, bytes(range(256)) * 4)
    assert m.transactions == 2
    assert m.bytes_received == 7 + 1025 and m.data_bytes == 1024
    assert m.pages_written == set(range(8))
    m.reset_counters()
    cmds(m, 0x21, 0, 127, 0x22, 3, 3)
    data(m, [0xFF] * 128)
    assert m.pages_written == {3} and m.page_data_bytes[3] == 128
    assert m.bytes_received == 7 + 129


# --- SSD1306: what the panel shows ---

def test_pixels_follow_ram_when_upright():
    m = ready_display()
    m.ram[1 * 128 + 5] = 0b100  # page 1, bit 2 -> (5, 10)
    assert lit_points(m.pixels()) == {(5, 10)}


def test_dark_when_off_or_without_charge_pump():
    m = SSD1306Model()
    m.ram[0] = 0xFF
    cmds(m, 0xAF)
    assert lit_points(m.pixels()) == set()  # charge pump never enabled
    cmds(m, 0x8D, 0x14)
    assert len(lit_points(m.pixels())) == 8
    cmds(m, 0xAE)
    assert lit_points(m.pixels()) == set()


def test_invert_and_entire_on():
    m = ready_display()
    m.ram[0] = 1
    cmds(m, 0xA7)
    px = m.pixels()
    assert px[0][0] == 0 and px[0][1] == 1 and px[63][127] == 1
    cmds(m, 0xA6, 0xA5)
    assert all(all(row) for row in m.pixels())


def test_a0_and_c0_mirror_the_image():
    m = ready_display()
    m.ram[0 * 128 + 3] = 0b10  # (3, 1) upright
    cmds(m, 0xA0)
    assert lit_points(m.pixels()) == {(124, 1)}
    cmds(m, 0xA1, 0xC0)
    assert lit_points(m.pixels()) == {(3, 62)}


def test_128x32_panel_shows_pages_0_to_3_only():
    m = ready_display(128, 32)
    assert m.config_warnings() == []
    m.ram[3 * 128 + 0] = 0x80  # row 31
    m.ram[4 * 128 + 1] = 0x01  # row 32: not on this panel
    px = m.pixels()
    assert len(px) == 32 and len(px[0]) == 128
    assert lit_points(px) == {(0, 31)}


def test_config_warnings_catch_a_128x64_setup_on_a_128x32_panel():
    m = SSD1306Model(128, 32)
    mpy_lib_init(m, 64)
    assert any("multiplex" in w for w in m.config_warnings())
    assert any("COM pins" in w for w in m.config_warnings())


# --- DS3231 ---

class FakeClock:
    """A host monotonic clock the test moves by hand."""

    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def rtc_at(when=None):
    clock = FakeClock()
    m = DS3231Model(clock=clock)
    if when is not None:
        m.set_time(calendar.timegm(when.timetuple()))
    return m, clock


def read_regs(m, reg, n):
    m.i2c_write(bytes([reg]))
    return list(m.i2c_read(n))


def dt(*a):
    return datetime.datetime(*a)


def test_power_up_defaults():
    m, _ = rtc_at()
    assert read_regs(m, 0x00, 7) == [0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]
    assert read_regs(m, 0x0E, 5) == [0x1C, 0x88, 0x00, 0x19, 0x00]
    assert m.osf and m.aging == 0
    assert m.unix_time() == 946684800


@pytest.mark.parametrize("when, regs", [
    (dt(2000, 1, 1, 0, 0, 0), [0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00]),
    (dt(2024, 2, 29, 23, 59, 59), [0x59, 0x59, 0x23, 4, 0x29, 0x02, 0x24]),
    (dt(2038, 1, 19, 3, 14, 8), [0x08, 0x14, 0x03, 2, 0x19, 0x01, 0x38]),
    (dt(2099, 12, 31, 23, 59, 59), [0x59, 0x59, 0x23, 4, 0x31, 0x12, 0x99]),
    (dt(2100, 1, 1, 0, 0, 0), [0x00, 0x00, 0x00, 5, 0x01, 0x81, 0x00]),
    (dt(2199, 12, 31, 23, 59, 59), [0x59, 0x59, 0x23, 2, 0x31, 0x92, 0x99]),
])
def test_bcd_time_registers_at_known_instants(when, regs):
    m, _ = rtc_at(when)
    assert read_regs(m, 0x00, 7) == regs


@pytest.mark.parametrize("when, after", [
    (dt(2024, 2, 29, 23, 59, 59), [0x00, 0x00, 0x00, 5, 0x01, 0x03, 0x24]),
    (dt(2099, 12, 31, 23, 59, 59), [0x00, 0x00, 0x00, 5, 0x01, 0x81, 0x00]),
    (dt(2100, 2, 28, 23, 59, 59), [0x00, 0x00, 0x00, 1, 0x01, 0x83, 0x00]),  # 2100 not leap
    (dt(2023, 12, 31, 23, 59, 59), [0x00, 0x00, 0x00, 1, 0x01, 0x01, 0x24]),
])
def test_rollover_one_second_later(when, after):
    m, clock = rtc_at(when)
    clock.t += 1.0
    assert read_regs(m, 0x00, 7) == after


def test_2038_instant_is_2_to_the_31():
    m, _ = rtc_at(dt(2038, 1, 19, 3, 14, 8))
    assert m.unix_time() == 2 ** 31


def test_calendar_arithmetic_matches_datetime():
    epoch = datetime.date(1970, 1, 1)
    for day in range(days_from_civil(2000, 1, 1), days_from_civil(2200, 1, 1), 37):
        d = epoch + datetime.timedelta(days=day)
        assert civil_from_days(day) == (d.year, d.month, d.day)
        assert days_from_civil(d.year, d.month, d.day) == day


def test_read_auto_increments_and_wraps_after_0x12():
    m, _ = rtc_at(dt(2024, 5, 6, 7, 8, 9))
    m.set_temperature(30.0)
    assert read_regs(m, 0x11, 4) == [30, 0x00, 0x09, 0x08]
    assert list(m.i2c_read(1)) == [0x07]  # pointer kept moving: hours next


def test_write_auto_increments_and_wraps_and_skips_read_only():
    m, _ = rtc_at()
    m.i2c_write(bytes([0x10, 0x05, 0xAA, 0xBB, 0x30]))
    assert m.aging == 5
    assert read_regs(m, 0x11, 2) == [0x19, 0x00]  # temperature untouched
    assert read_regs(m, 0x00, 1) == [0x30]


def test_burst_write_of_all_seven_registers():
    m, clock = rtc_at()
    m.i2c_write(bytes([0x00, 0x56, 0x34, 0x12, 0x03, 0x15, 0x86, 0x25]))
    assert m.unix_time() == calendar.timegm((2125, 6, 15, 12, 34, 56))
    assert read_regs(m, 0x00, 7) == [0x56, 0x34, 0x12, 0x03, 0x15, 0x86, 0x25]
    clock.t += 86400
    assert read_regs(m, 0x03, 2) == [0x04, 0x16]  # weekday counts on from what was written
    assert m.invalid_writes == []


def test_twelve_hour_mode_is_honoured():
    m, clock = rtc_at()
    m.i2c_write(bytes([0x00, 0x00, 0x30, 0x40 | 0x20 | 0x11, 0x01, 0x01, 0x01, 0x24]))  # 11:30 PM
    assert m.unix_time() == calendar.timegm((2024, 1, 1, 23, 30, 0))
    clock.t += 3600
    assert read_regs(m, 0x02, 1) == [0x40 | 0x12]  # 12 AM, next day
    clock.t += 12 * 3600
    assert read_regs(m, 0x02, 1) == [0x40 | 0x20 | 0x12]  # 12 PM


def test_writing_seconds_restarts_the_subsecond_chain():
    m, clock = rtc_at(dt(2024, 1, 1, 0, 0, 0))
    clock.t += 0.6
    m.i2c_write(bytes([0x00, 0x10]))
    assert m.unix_time() == calendar.timegm((2024, 1, 1, 0, 0, 10))
    clock.t += 0.99
    assert read_regs(m, 0x00, 1) == [0x10]
    clock.t += 0.02
    assert read_regs(m, 0x00, 1) == [0x11]


def test_writing_other_time_registers_keeps_the_fraction():
    m, clock = rtc_at(dt(2024, 1, 1, 0, 0, 0))
    clock.t += 0.6
    m.i2c_write(bytes([0x01, 0x20]))  # minutes only
    assert m.unix_time() == pytest.approx(calendar.timegm((2024, 1, 1, 0, 20, 0)) + 0.6)
    clock.t += 0.41
    assert read_regs(m, 0x00, 2) == [0x01, 0x20]


def test_drift_of_4_ppm_over_a_week():
    m, clock = rtc_at(dt(2024, 1, 1))
    m.set_drift_ppm(4.0)
    start = m.unix_time()
    clock.t += 7 * 86400
    assert m.unix_time() - start - 7 * 86400 == pytest.approx(2.4192, abs=1e-4)


@pytest.mark.parametrize("aging, expected_gain", [(20, 1.2096), (-10, 3.024), (40, 0.0)])
def test_aging_offset_trims_the_drift(aging, expected_gain):
    m, clock = rtc_at(dt(2024, 1, 1))
    m.set_drift_ppm(4.0)
    m.i2c_write(bytes([0x10, aging & 0xFF]))
    assert m.aging == aging
    start = m.unix_time()
    clock.t += 7 * 86400
    assert m.unix_time() - start - 7 * 86400 == pytest.approx(expected_gain, abs=1e-4)


def test_advance_moves_time_by_hand():
    m, _ = rtc_at(dt(2024, 1, 1))
    start = m.unix_time()
    m.advance(90.5)
    assert m.unix_time() == start + 90.5


def test_osf_set_at_power_up_cleared_by_zero_never_set_by_one():
    m, _ = rtc_at()
    assert m.osf
    m.i2c_write(bytes([0x0F, 0x80 | 0x08]))
    assert m.osf  # writing 1 leaves it as it was
    m.i2c_write(bytes([0x0F, 0x08]))
    assert not m.osf and read_regs(m, 0x0F, 1) == [0x08]
    m.i2c_write(bytes([0x0F, 0x88]))
    assert not m.osf  # and writing 1 cannot set it
    m.i2c_write(bytes([0x0F, 0x00]))
    assert read_regs(m, 0x0F, 1) == [0x00]  # EN32kHz is plain read/write


def test_lose_clock_sets_osf_and_resets_time():
    m, _ = rtc_at(dt(2024, 6, 1, 12))
    m.i2c_write(bytes([0x0F, 0x08]))
    m.lose_clock()
    assert m.osf
    assert read_regs(m, 0x00, 7) == [0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]
    assert m.unix_time() == 946684800


def test_conv_bit_reads_back_clear():
    m, _ = rtc_at()
    m.i2c_write(bytes([0x0E, 0x1C | 0x20]))
    assert read_regs(m, 0x0E, 1) == [0x1C]


@pytest.mark.parametrize("celsius, regs", [
    (25.25, [0x19, 0x40]), (-3.75, [0xFC, 0x40]), (25.0, [0x19, 0x00]),
    (-0.1, [0xFF, 0xC0]), (21.6, [0x15, 0x80]),
])
def test_temperature_encoding(celsius, regs):
    m, _ = rtc_at()
    m.set_temperature(celsius)
    assert read_regs(m, 0x11, 2) == regs


def test_out_of_range_fields_are_recorded_not_raised():
    m, _ = rtc_at()
    m.i2c_write(bytes([0x04, 0x31, 0x02]))  # 31 February
    assert m.invalid_writes and "date" in m.invalid_writes[0]["fields"]


def test_state_survives_a_simulator_restart_and_keeps_running():
    m, clock = rtc_at(dt(2024, 3, 10, 8, 0, 0))
    m.set_drift_ppm(10.0)
    m.i2c_write(bytes([0x10, 0xFB]))  # aging -5: +0.5 ppm
    m.i2c_write(bytes([0x0F, 0x08]))  # firmware cleared OSF
    m.i2c_write(bytes([0x02, 0x40 | 0x08]))  # 12 h mode, 8 AM
    clock.t += 0.25
    saved = json.loads(json.dumps(m.to_state()))
    t_saved = m.unix_time()

    clock2 = FakeClock(50.0)
    m2 = DS3231Model(clock=clock2)
    m2.from_state(saved, now_wall=saved["saved_wall"] + 3600)
    assert m2.unix_time() == pytest.approx(t_saved + 3600 * (1 + 10.5e-6), abs=1e-6)
    assert not m2.osf and m2.aging == -5 and m2.drift_ppm == 10.0
    assert read_regs(m2, 0x02, 2) == [0x40 | 0x09, 7]  # 9 AM, still Sunday (7)
    clock2.t += 7 * 86400
    assert m2.unix_time() - t_saved - 3600 - 7 * 86400 == pytest.approx(
        (3600 + 7 * 86400) * 10.5e-6, abs=1e-5)


def test_state_keeps_osf_when_the_clock_was_never_set():
    m, _ = rtc_at()
    m2 = DS3231Model(clock=FakeClock()).from_state(m.to_state())
    assert m2.osf


def test_advance_applies_the_chip_rate():
    m = DS3231Model(clock=lambda: 0.0)
    m.set_time(1800000000)
    m.set_drift_ppm(4.0)
    m.advance(7 * 86400)
    assert abs(m.unix_time() - (1800000000 + 7 * 86400 * (1 + 4e-6))) < 1e-6
