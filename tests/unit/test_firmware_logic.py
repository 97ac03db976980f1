"""Firmware logic (time arithmetic, frames, button, clock, layout, the PIN
gate over the command families) under CPython and under the MicroPython unix
port, from the same cases."""
import calendar
import os
import sys

import pytest

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import drive  # noqa: E402
import frames  # noqa: E402
import layout  # noqa: E402
from tests.pin_gate import GATED, OPEN, PRIVATE  # noqa: E402


@pytest.fixture(params=["cpython", "micropython"])
def call(request, mp_worker):
    """call(module, fn, *args) on the chosen interpreter."""
    if request.param == "cpython":
        mods = {"drive": drive, "layout": layout}

        def run(module, fn, *args):
            return getattr(mods[module], fn)(*args)
        return run
    return mp_worker.call


# -- calendar ----------------------------------------------------------------

INSTANTS = [0, 951782400, 951868799, 1709251199, 1709251200, 2147483647, 2147483648,
            4102444799, 4102444800, 4107542400, 7258118399, 1111111111]


@pytest.mark.parametrize("t", INSTANTS)
def test_unix_roundtrip_matches_cpython_calendar(call, t):
    fields, back = call("drive", "unix_roundtrip", t)
    import time
    tm = time.gmtime(t)
    assert fields == [tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      tm.tm_wday + 1]
    assert back == t == calendar.timegm(tm)


# -- frames ----------------------------------------------------------------------

FRAME_CASES = [
    (b'TOK> {"v":1,"id":5,"cmd":"info","args":{}}', [5, "info", {}]),
    (b'TOK> {"id":6,"cmd":"list"}', [6, "list", {}]),
    (b'TOK> {"v":1,"id":7,"cmd":"add","args":{"name":"x"},"auth":{"mac":"00"}}',
     [7, "add", {"name": "x"}]),
    (b'hello', ["error", "bad_frame", None]),
    (b'TOK> {"id":1,"cmd":"info"', ["error", "bad_json", None]),
    (b'TOK> [1,2,3]', ["error", "bad_json", None]),
    (b'TOK> {"id":"x","cmd":"info"}', ["error", "bad_frame", None]),
    (b'TOK> {"id":3,"cmd":5}', ["error", "bad_frame", 3]),
    (b'TOK> {"id":3,"cmd":"info","args":[]}', ["error", "bad_frame", 3]),
    (b'TOK> {"id":3,"cmd":"info","v":2}', ["error", "bad_frame", 3]),
    (b'TOK> {"id":1,"cmd":"info\xff"}', ["error", "bad_frame", None]),
    (b'TOK> ' + b'[' * 400, ["error", "bad_json", None]),
    (b'TOK> ' + b'x' * 1100, ["error", "frame_too_long", None]),
    # Stray bytes before a frame (what mpremote leaves, a modem probe, a torn
    # frame from a killed tool) cost nothing: the frame is found after them.
    (b'\r\x03\x03\r\x01TOK> {"v":1,"id":8,"cmd":"status","args":{}}', [8, "status", {}]),
    (b'AT\rATZ\r\xff\x00TOK> {"id":9,"cmd":"info"}', [9, "info", {}]),
    (b'TOK> {"id":3,"cmd":"add","arTOK> {"id":4,"cmd":"list"}', [4, "list", {}]),
    (b'TOK> {"id":5,"cmd":"add","args":{"name":"TOK> x"}}', [5, "add", {"name": "TOK> x"}]),
    (b'\x01' * 40 + b'TOK> {"id":6,"cmd":"info"}', [6, "info", {}]),
    (b'\x03\x03TOK> {"id":1,"cmd":"info"', ["error", "bad_json", None]),
    (b'\x03TOK> {"id":1,"cmd":"info\xff"}', ["error", "bad_frame", None]),
    (b'\x03TOK> ' + b'x' * 1100, ["error", "frame_too_long", None]),
]


@pytest.mark.parametrize("line,expected", FRAME_CASES)
def test_decode_request(call, line, expected):
    assert call("drive", "decode_request", line) == expected


def test_any_junk_prefix_costs_no_frame(call):
    """Random stray bytes (no newline) before a frame, as one line."""
    import random
    rnd = random.Random(8)
    frame = frames.encode_request(77, "status").rstrip(b"\n")
    for _ in range(40):
        junk = bytes(rnd.choice([b for b in range(256) if b != 10])
                     for _ in range(rnd.randint(1, 60)))
        assert call("drive", "decode_request", junk + frame) == [77, "status", {}], junk


def test_a_largest_frame_after_stray_bytes_still_fits_the_reader(call):
    frame = b'TOK> {"id":2,"cmd":"x","args":{"n":"' + b"a" * 2000
    frame = frame[:frames.MAX_REQUEST - 3] + b'"}}'
    assert len(frame) == frames.MAX_REQUEST
    out = call("drive", "reader_run", b"\r\x03\x03\r\x01" + frame + b"\n",
               frames.MAX_LINE)
    assert call("drive", "decode_request", out[0])[:2] == [2, "x"]


def test_line_reader_limits_and_recovers(call):
    noise = bytes(b for b in range(256) if b != 10) * 3
    data = b"a" * 600 + b"\nTOK> ok\r\n\n" + noise + b"\nlast\n"
    out = call("drive", "reader_run", data, 512)
    assert out[0] is None  # the oversized line, reported once
    assert out[1] == b"TOK> ok"
    assert out[2] == b""
    assert out[3] is None  # 768 bytes of binary noise: too long again
    assert out[4] == b"last"
    assert len(out) == 5


# -- button ------------------------------------------------------------------------

def _samples(spans, end, step=5):
    """spans of [down_ms, up_ms] -> samples every `step` ms."""
    out = []
    for t in range(0, end, step):
        out.append([t, any(a <= t < b for a, b in spans)])
    return out


def test_button_short_long_and_bounce(call):
    # bounce at 100-110 (shorter than debounce), a short press 200-400, a long one 1000-2000
    samples = _samples([[100, 110], [200, 400], [1000, 2000]], 2500)
    events = call("drive", "button_run", samples)
    assert [e for _, e in events] == [1, 2]  # SHORT once, LONG once (no SHORT on its release)
    short_t, long_t = events[0][0], events[1][0]
    assert 400 <= short_t <= 440
    assert 1700 <= long_t <= 1740  # reported while still held


def test_button_release_seen_after_a_stall_is_a_short_press(call):
    # The loop saw the press for 30 ms (debounced), then stalled 800 ms and
    # read the pin again only once the finger was up. It never saw the button
    # held past LONG_MS, so the press is short, however late the release shows.
    samples = [[0, True], [5, True], [30, True], [830, False], [835, False], [860, False]]
    events = call("drive", "button_run", samples)
    assert events == [[860, 1]]  # one SHORT, at the debounced release; no LONG


def test_button_counts_only_the_time_it_watched(call):
    # Debounced at 30 ms, then the loop stalled until 830 ms. It did not watch
    # the button meanwhile, so that time is no hold: still down, the press
    # becomes long only after 700 ms of prompt readings (30 + 670 after 830).
    held = [[0, True], [5, True], [30, True]] + [[t, True] for t in range(830, 1700, 5)] \
        + [[1700, False], [1730, False]]
    assert call("drive", "button_run", held) == [[1500, 2]]  # LONG, watched 700 ms
    # The same stall, lifted right after the late reading: a short press.
    lifted = [[0, True], [5, True], [30, True], [830, True], [835, False], [840, False], [865, False]]
    assert call("drive", "button_run", lifted) == [[865, 1]]
    # A stall just after the first reading of the press: the late reading
    # decides nothing, and the debounce counts only watched time.
    early = [[0, False], [10, True], [810, True]] + [[t, True] for t in range(815, 841, 5)] \
        + [[t, False] for t in range(845, 900, 5)]
    assert call("drive", "button_run", early) == [[870, 1]]
    # Released before it was watched for the debounce time: no press at all.
    lost = [[0, False], [10, True], [810, True], [815, True], [820, False], [900, False], [905, False]]
    assert call("drive", "button_run", lost) == []


def test_button_double_press_when_asked(call):
    # Two quick presses (the second starts 100 ms after the first ends), then
    # a lone short press, then a short press followed by a long one.
    samples = _samples([[100, 200], [300, 400], [1000, 1100],
                        [2000, 2100], [2200, 3200]], 4000)
    events = call("drive", "button_run", samples, 25, 700, 350)
    assert [e for _, e in events] == [3, 1, 1, 2]  # DOUBLE, SHORT, SHORT + LONG
    assert 400 <= events[0][0] <= 440  # the pair: on the second release
    assert 1450 <= events[1][0] <= 1490  # the lone press: once the window has passed
    # Without double_ms the same presses are all single.
    plain = call("drive", "button_run", samples)
    assert [e for _, e in plain] == [1, 1, 1, 1, 2]


# -- clock ----------------------------------------------------------------------------

@pytest.mark.parametrize("phase", [0, 137, 501, 999])
def test_clock_anchor_follows_rollover_within_a_ms(call, phase):
    out, news, lost = call("drive", "clock_run", 1800000000, phase, 400, 7)
    assert not lost
    # after the boot alignment every sample is within 1 ms of the truth
    errors = [abs(seen - true) for seen, true in out]
    assert max(errors) <= 1, errors
    assert 2 <= news <= 3  # 2.8 s of polling: two or three new seconds


def test_clock_recovers_the_phase_after_an_outside_jump(call):
    # At step 100 (0.7 s) the RTC jumps 1000 s and its rollover phase moves.
    out, news, lost = call("drive", "clock_run", 1800000000, 100, 600, 7, None, None, 100)
    errors = [abs(seen - true) for seen, true in out]
    assert max(errors[:100]) <= 1
    assert max(errors[100 + 2 * 1000 // 7:]) <= 1, errors  # back within 1 ms in two seconds
    assert out[-1][1] // 1000 > 1800001000


def test_clock_set_lands_on_a_whole_second(call):
    target = 1900000000123  # ms: asks for .123 past a second
    out, news, lost = call("drive", "clock_run", 1800000000, 400, 200, 7, target, 10)
    seen, true = out[12]
    assert abs(seen - true) <= 1
    assert abs(true - (target + (out[12][1] - out[10][1]))) < 1000  # it's the new time
    assert true // 1000 >= 1900000000


# -- layout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,args,expected", [
    ("group_code", ["123456"], "123 456"),
    ("group_code", ["1234567"], "123 4567"),
    ("group_code", ["12345678"], "1234 5678"),
    ("group_code", ["2TC8B"], "2TC8B"),
    ("fit", ["alice@example.com", 16], "alice@example.c~"),
    ("fit", ["short", 16], "short"),
    ("ascii_safe", ["Bücher☃"], "B?cher?"),
    ("header", ["GitLab", "bob", 2, 12, 16], ["GitLab", "3/12"]),
    ("header", ["", "bob", 0, 1, 16], ["bob", "1/1"]),
    ("header", ["A very long issuer name", "x", 99, 100, 16], ["A very ~", "100/100"]),
    ("big_pitch", [7, 128], 16),
    ("big_pitch", [9, 128], 14),
    ("bar_width", [30, 30, 100], 100),
    ("bar_width", [15, 30, 100], 50),
    ("bar_width", [0, 30, 100], 0),
    ("bar_width", [1, 7, 100], 14),
])
def test_layout(call, fn, args, expected):
    got = call("layout", fn, *args)
    assert (list(got) if isinstance(got, tuple) else got) == expected


# -- drift ------------------------------------------------------------------------------------

def test_drift_estimate_trim_and_persistence(call, tmp_path, request):
    path = str(tmp_path / ("drift-%s.json" % request.node.callspec.id))
    day = 86400
    t0 = 1800000000
    events = [
        ["sync", t0, None, 0],  # first sync after a lost clock: nothing to measure
        ["summary", t0 + 60],
        ["sync", t0 + 600, 5, 0],  # ten minutes: too short to trust
        ["sync", t0 + 600 + 7 * day, 2419.2, 0],  # +4 ppm over a week
        ["target", 0],
        ["trim", 0, 40],
        ["summary", t0 + 600 + 8 * day],
        ["sync", t0 + 600 + 14 * day, 6.0, 40],  # after the trim: 0.01 ppm left
        ["target", 40],
        ["reload"],
        ["summary", t0 + 600 + 14 * day + 3600],
    ]
    out = call("drive", "drift_run", path, events)
    assert out[0] is None
    assert out[1] == [60, None, None]
    assert out[2] is None
    assert out[3] == pytest.approx(4.0, abs=1e-3)
    assert out[4] == 40
    assert out[5] == pytest.approx(0.0, abs=1e-3)
    assert out[6][0] == day and abs(out[6][2]) < 1
    assert out[7] == pytest.approx(6.0 * 1000 / (7 * day), abs=1e-3)
    assert out[8] == 40  # 0.01 ppm is less than one step
    assert out[9] == 4  # the four syncs survive a restart
    assert out[10][0] == 3600


def test_drift_negative_and_clamped(call, tmp_path, request):
    path = str(tmp_path / ("drift-neg-%s.json" % request.node.callspec.id))
    out = call("drive", "drift_run", path, [
        ["sync", 1800000000, 0, 0], ["sync", 1800000000 + 7 * 86400, -3628.8, 0],
        ["target", 0], ["target", -100]])
    assert out[1] == pytest.approx(-6.0, abs=1e-3)
    assert out[2] == -60 and out[3] == -128


# -- the big code on screen (MicroPython only: it draws with framebuf) -------------------------

@pytest.mark.parametrize("code", ["44444444", "14495344", "123456", "1234567", "4M4W4", "2TC8B"])
@pytest.mark.parametrize("height", [64, 32])
def test_big_code_fits_the_screen_and_reads_back(mp_worker, code, height):
    from host_tools.simulator.screen_decode import decode_text
    ram = mp_worker.call("drive", "render_code", code, 128, height)
    text = decode_text(ram, 128, height)
    assert text.replace(" ", "") == code, text
    assert (" " in text) == (len(code) >= 6 and code.isdigit())


@pytest.mark.parametrize("size", [1, 3, 32, 700])
def test_line_reader_fed_in_chunks_reads_as_byte_by_byte(call, size):
    # The serial loop reads up to 32 bytes a pass and hands them over at once.
    noise = bytes(b for b in range(256) if b != 10) * 3
    data = (b"a" * 600 + b"\nTOK> ok\r\n\n" + noise + b"\nlast\n" + b"x" * 511 + b"\n"
            + b"y" * 513 + b"\n\r\npartial")
    want = call("drive", "reader_run", data, 512)
    assert call("drive", "reader_chunks", data, 512, size) == want
    assert want[-3:] == [b"x" * 511, None, b""]  # 513 bytes: over the limit


# -- the PIN gate over every command family ---------------------------------------------------

def test_each_family_declares_what_the_gate_holds_back(call):
    table, stray = call("drive", "command_gate")
    assert stray == [], "declared by a family that does not serve it: %s" % stray
    assert set(table) == GATED | PRIVATE | OPEN
    for cmd, row in table.items():
        assert len(row["served_by"]) == 1, (cmd, row)  # one family serves each
        home = row["served_by"]
        assert row["privileged_in"] == (home if cmd in GATED else []), (cmd, row)
        assert row["private_in"] == (home if cmd in PRIVATE else []), (cmd, row)
        assert row["held"] == (cmd in GATED), (cmd, row)
        assert row["held_private"] == (cmd in GATED | PRIVATE), (cmd, row)
        assert row["held_no_pin"] is False, (cmd, row)
        assert row["signed_held"] is False, (cmd, row)
        assert row["signed_checked"] == (1 if cmd in GATED | PRIVATE else 0), (cmd, row)
