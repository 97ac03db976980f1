"""PIN entry on the one button (firmware/screen/pinpad.py, issue 17): the
pad alone, the button's running hold, and the lock screen typed on by a
person in simulated time (tests/mp/pindrive.py: the real Button and
Screens), under CPython and under the MicroPython unix port."""
import os
import sys

import pytest

from firmware import rules
from host_tools.mpy import REPO
from host_tools.simulator import token
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import button  # noqa: E402
import pindrive  # noqa: E402
import pinpad  # noqa: E402

SHORT, LONG, REPEAT, RELEASE = button.SHORT, button.LONG, button.REPEAT, button.RELEASE
COLS_32 = 16  # a 128x32 panel: 16 columns of 8 px, 4 lines


@pytest.fixture(params=["cpython", "micropython"])
def call(request, mp_worker):
    if request.param == "cpython":
        return lambda fn, *args: getattr(pindrive, fn)(*args)
    return lambda fn, *args: mp_worker.call("pindrive", fn, *args)


def _held(down, up, end, step=5):
    return [[t, down <= t < up] for t in range(0, end, step)]


# -- the pad alone ------------------------------------------------------------------

def test_a_hold_counts_the_choice_up_and_letting_go_takes_it(call):
    rows = call("pad_run", ["hold", "step", "step", "step", "release"])
    assert rows[0] == [None, "0", "4-16 digits", "hold: count up", 0]
    assert rows[1][1:4] == ["0", "4-16 digits", "let go: take 0"]
    assert [r[3] for r in rows[2:5]] == ["let go: take 1", "let go: take 2", "let go: take 3"]
    assert rows[5] == [pinpad.ACCEPTED, "*0", "press: undo", "hold: count up", 1]


def test_the_choices_go_round_and_offer_unlock_only_from_the_fourth_digit(call):
    rows = call("pad_run", ["hold"] + ["step"] * 10 + ["release"] * 1)
    assert [r[1][-1] for r in rows[1:12]] == list("01234567890")  # no _ yet
    ops = ["hold", "release"] * 4 + ["hold"] + ["step"] * 11
    rows = call("pad_run", ops)
    assert rows[8][1:4] == ["****_", "press: undo", "hold: unlock"]
    assert rows[9][3] == "let go: unlock"
    assert [r[1][-1] for r in rows[10:21]] == list("0123456789_")


def test_letting_go_on_the_blank_checks_the_digits(call):
    # (from the fifth digit on, the count starts at _: one step more to 1)
    ops = ["hold", "step", "release"] * 4 + ["hold", "step", "step", "release", "hold", "release"]
    rows = call("pad_run", ops)
    assert rows[-2][0] == pinpad.SUBMIT and rows[-1] == "11111"


def test_never_more_digits_than_the_rule(call):
    ops = ["hold", "release"] * rules.PIN_MIN + ["hold", "step", "release"] * (
        rules.PIN_MAX - rules.PIN_MIN) + ["hold", "step", "step"]
    rows = call("pad_run", ops)
    assert rows[-4][4] == rules.PIN_MAX and rows[-4][1] == "~" + "*" * 10 + "_"
    assert rows[-2][0] is False and rows[-1][0] is False  # only _ is left
    assert rows[-1][3] == "let go: unlock"
    rows = call("pad_run", ops + ["release"])
    assert rows[-1] == "0" * rules.PIN_MAX


def test_a_short_press_undoes_the_last_digit(call):
    rows = call("pad_run", ["undo", "hold", "step", "release", "hold", "release", "undo",
                            "undo", "undo"])
    assert rows[1][0] is False and rows[1][4] == 0  # nothing to undo
    assert rows[6][1] == "**0"
    assert rows[7][0] is True and rows[7][1:] == ["*0", "press: undo", "hold: count up", 1]
    assert rows[8][0] is True and rows[8][1:] == ["0", "4-16 digits", "hold: count up", 0]
    assert rows[9][0] is False


def test_nothing_happens_without_a_hold(call):
    rows = call("pad_run", ["step", "release"])
    assert rows[1][0] is False and rows[2][0] == pinpad.NOTHING and rows[2][1] == "0"


def test_the_entry_line_masks_the_digits_and_cuts_from_the_left(call):
    rows = call("pad_run", ["hold", "step", "step", "step", "release"] * 12 + ["hold"])
    assert rows[-1][1] == "~" + "*" * 10 + "_"  # 12 columns: the newest end shows
    assert "3" not in "".join(r[1][:-1] for r in rows)  # a taken digit never shows


# -- the button's running hold -----------------------------------------------------------

def test_a_held_button_repeats_after_its_long_press_and_reports_the_release(call):
    events = call("button_repeats", _held(100, 2100, 2400), 400)
    kinds = [e for _, e in events]
    assert kinds == [LONG, REPEAT, REPEAT, REPEAT, RELEASE]
    times = [t for t, _ in events]
    # A running hold starts at its first step (400 ms), before LONG_MS (700) would.
    assert 500 <= times[0] <= 510
    assert [b - a for a, b in zip(times, times[1:4])] == [400, 400, 400]
    assert 2120 <= times[4] <= 2140  # the debounced release
    # A short press is still one SHORT; without repeat_ms a hold is one LONG.
    assert [e for _, e in call("button_repeats", _held(100, 300, 600), 400)] == [SHORT]
    assert [e for _, e in call("button_repeats", _held(100, 2000, 2300), 0)] == [LONG]


def test_a_hold_stops_running_when_repeats_are_turned_off(call):
    # (the lock screen went away under the finger: the hold reports nothing more)
    events = call("button_repeats", _held(100, 2000, 2300), 400, 1300)
    assert [e for _, e in events] == [LONG, REPEAT]


def test_a_stall_is_no_time_held(call):
    # The loop stalled 1 s mid-hold: that second runs no digits (held
    # throughout, the same press gives LONG and four steps).
    samples = [s for s in _held(100, 2500, 2800) if not 1000 < s[0] < 2000]
    events = call("button_repeats", samples, 400)
    assert [e for _, e in events] == [LONG, REPEAT, REPEAT, RELEASE]
    steady = call("button_repeats", _held(100, 2500, 2800), 400)
    assert [e for _, e in steady] == [LONG] + [REPEAT] * 4 + [RELEASE]


# -- the lock screen, typed on -----------------------------------------------------------

def test_a_pin_is_a_hold_a_digit_and_one_to_unlock(call):
    presses, held_ms, _, checked, unlocked, lines = call("type_pin", "2468")
    assert checked == ["2468"] and unlocked and presses == 5
    # Each hold shows its first choice after one step, then one a step.
    assert held_ms >= 5 * pinpad.STEP_MS + (2 + 4 + 6 + 8 + 1) * pinpad.STEP_MS
    assert "No accounts yet" in lines  # (the fake token holds none)


def test_a_wrong_pin_says_so_and_spends_a_try(call):
    _, _, _, checked, unlocked, lines = call("type_pin", "1111", "2468")
    assert checked == ["1111"] and not unlocked
    assert lines == ["LOCKED 7/8 tries", "PIN 0", "wrong PIN", "hold: count up"]


def test_an_undo_then_the_pin(call):
    steps = [["hold", "let go: take 9"], ["tap"]] + \
        [["hold", "let go: take %s" % d] for d in "2468"] + [["hold", "let go: unlock"]]
    screens, checked = call("script", steps)
    assert screens[0][1:] == ["PIN *0", "press: undo", "hold: count up"]
    assert screens[1][1:] == ["PIN 0", "4-16 digits", "hold: count up"]
    assert screens[5][1:] == ["PIN ****_", "press: undo", "hold: unlock"]
    assert checked == ["2468"]


def test_every_lock_screen_line_fits_a_128x32_panel(call):
    # What the screen says in every state a PIN goes through, and the notes:
    # four lines of at most 16 characters, none cut by layout.fit.
    steps = [["hold", "let go: take %d" % d] for d in range(10)] + [["tap"]] + \
        [["hold", "let go: unlock"]]
    screens, _ = call("script", steps, "012345678")
    seen = [line for lines in screens for line in lines]
    for note in ("wrong PIN", "wrong PIN (USB)", "USB: PIN right"):
        seen.append(note)
    seen += [pinpad.taking(d) for d in range(10)] + [pinpad.taking(pinpad.BLANK)]
    assert all(len(line) <= COLS_32 for line in seen), [s for s in seen if len(s) > COLS_32]
    assert all(len(lines) == 4 for lines in screens[:-1])


def test_the_simulated_finger_reads_what_the_pad_writes():
    assert token.TAKE_DIGIT % 7 == pinpad.taking(7)
    assert token.TAKE_UNLOCK == pinpad.taking(pinpad.BLANK)
