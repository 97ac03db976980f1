"""The jump menu (firmware/screen/jump.py) and its alphabetical order
(firmware/flash/alphaorder.py), on CPython and inside the MicroPython unix
port: the row sizes, the order against an independent sort, and the menu
driven through the real screens, store and ui by a user who reads the screen
(tests/mp/navdrive.py, tests/mp/navuser.py)."""
import importlib
import os
import random
import sys

import pytest

from host_tools import navbench

MP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mp")
if MP_DIR not in sys.path:
    sys.path.insert(0, MP_DIR)

SHORT, LONG = 1, 2  # button.SHORT, button.LONG


@pytest.fixture(params=["cpython", "micropython"])
def call(request, tmp_path):
    """call(module, function, *args) in either interpreter; `root` a new folder."""
    if request.param == "cpython":
        def run(module, fn, *args):
            return getattr(importlib.import_module(module), fn)(*args)
    else:
        worker = request.getfixturevalue("mp_worker")

        def run(module, fn, *args):
            return worker.call(module, fn, *args)
    run.root = str(tmp_path / "accounts")
    return run


# ---- row sizes ----

def test_rows_halve_from_the_top_and_hold_every_account(call):
    for n in (1, 2, 5, 6, 7, 17, 100, 640, 1000, 3840):
        for first in (0, 1):
            sizes = call("jump", "split", n, first)
            assert sum(sizes) == n and min(sizes) >= 1 and len(sizes) <= 6, (n, first, sizes)
            assert sizes == sorted(sizes, reverse=True), sizes
    # What the menu promises: 1000 accounts within 12 presses of its top.
    assert call("jump", "presses_needed", 1000, 0) == 12
    assert call("jump", "presses_needed", 100, 0) == 8


def test_each_row_fits_the_presses_left_after_reaching_it():
    import jump
    for n in range(1, 400):
        b = jump.presses_needed(n)
        for i, size in enumerate(jump.split(n)):
            # Row i costs i + 1 presses; what it holds must be reachable in the rest.
            assert size == 1 or jump.presses_needed(size) <= b - i - 1, (n, i, size)


# ---- the order ----

def _reference_key(issuer, name):
    # The order docs/protocol.md and alphaorder.py describe, written afresh:
    # issuer then name (no issuer: the name), ASCII letters without case,
    # digits before letters, punctuation and spaces alike before both,
    # bytes beyond ASCII after z.
    def codes(text):
        out = []
        for b in text.encode():
            ch = chr(b)
            if ch.isascii() and ch.isalpha():
                out.append(20 + ord(ch.lower()) - ord("a"))
            elif ch.isdigit():
                out.append(10 + b - ord("0"))
            elif b < 128:
                out.append(5)
            else:
                out.append(60)
        return out
    if issuer:
        return codes(issuer) + [1] + codes(name)
    return codes(name) + [1]


WORDS = ["GitHub", "github", "Git", "Gitea", "Go Daddy", "Go", "go-daddy", "Zoë", "Zoe",
         "zz", "a1", "a 1", "A-1", "AWS", "aws", "Amazon Web Services", "", "9lives", "Ämter",
         "x" * 40]


def _labels(rng, n):
    out = set()
    while len(out) < n:
        out.add((rng.choice(WORDS), rng.choice(WORDS[:-1] + ["n%d" % rng.randrange(30)]) or "n"))
    return sorted(out)


def test_order_matches_an_independent_sort_through_adds_renames_and_deletes(call):
    rng = random.Random(5)
    labels = _labels(rng, 60)
    rng.shuffle(labels)
    accounts = [[i, n, "totp"] for i, n in labels]
    call("navdrive", "setup", call.root, accounts, 0, 64, 200)
    call("navdrive", "press", LONG)  # the first jump sorts them all

    def check():
        got = [tuple(x) for x in call("navdrive", "alpha")]
        want = sorted(got, key=lambda l: _reference_key(*l))
        # Labels alike in the order may come either way round: compare keys.
        assert [_reference_key(*l) for l in got] == [_reference_key(*l) for l in want]
        assert sorted(got) == sorted(tuple(x[:2]) for x in call("navdrive", "order"))

    check()
    for k in range(12):  # a few waiting to be sorted in...
        call("navdrive", "add", "New%d" % k, "m%d" % (11 - k))
    call("navdrive", "rename", accounts[3][0], accounts[3][1], "Aardvark", "a")
    call("navdrive", "delete", accounts[5][0], accounts[5][1])
    check()
    for k in range(40):  # ...and more than a tenth: sorted all over again
        call("navdrive", "add", "Bulk", "b%02d" % k)
    check()


def test_labels_alike_past_what_the_sort_keeps_are_sorted_whole(call):
    # alphaorder keeps the first 21 codes of each label for its sort: these
    # share 30, so the sort reads them again, whole (more than fit one read
    # at once, too: then one by one).
    rng = random.Random(9)
    long_issuer = "Amazon Web Services East"
    accounts = [[long_issuer, "admin-%02d" % i, "totp"] for i in range(60)]
    accounts += [["x" * 40, "n%d" % i, "totp"] for i in range(5)]
    rng.shuffle(accounts)
    call("navdrive", "setup", call.root, accounts, 0, 64, 80)
    call("navdrive", "press", LONG)
    got = [tuple(x) for x in call("navdrive", "alpha")]
    assert got == sorted(got, key=lambda l: _reference_key(*l))


# ---- the menu, through the screens ----

def _cursor(lines):
    return [l for l in lines[1:] if l.startswith(">")][0]


def test_the_menu_reaches_every_account_in_a_dozen_presses(call):
    accs = navbench.accounts(150, seed=3) + [("", "no issuer here", "totp"),
                                            ("Amazon Web Services", "x" * 30, "totp")]
    call("navdrive", "setup", call.root, [list(a) for a in accs], 0, 64, 160)
    counts = call("navdrive", "reach_all", 0, [list(a[:2]) for a in accs])
    # Every account, by reading the screen: at most one press to open the
    # menu, the menu's own bound, and one more where rows start at issuers.
    import jump
    assert min(counts) >= 0, [a for a, c in zip(accs, counts) if c < 0]
    assert max(counts) <= 1 + jump.presses_needed(len(accs)) + 1, max(counts)
    assert counts[0] == 0  # already on screen


def test_menu_screens_say_where_they_are_and_go_back(call):
    accs = navbench.accounts(40, seed=4)
    call("navdrive", "setup", call.root, [list(a) for a in accs], 0, 64, 48)
    first = call("navdrive", "start", 0)
    lines = call("navdrive", "press", LONG)
    assert lines[0].split() == ["All", "40"]
    rows = [l for l in lines[1:] if l]
    assert rows[0].startswith(">") and rows[-1] == " < back"
    # A range row names where it starts and how many it holds.
    start, count = rows[0][1:].split()
    inner = call("navdrive", "press", LONG)
    assert inner[0].split()[-1] == count and inner[0].startswith(start)
    # Down to the back row, and back up to the top; the top's back row: the account.
    while not _cursor(inner).endswith("< back"):
        inner = call("navdrive", "press", SHORT)
    assert call("navdrive", "press", LONG) == lines
    for _ in range(len(rows) - 1):
        call("navdrive", "press", SHORT)
    assert call("navdrive", "press", LONG) == first


def test_an_hotp_account_gets_its_code_from_the_menus_first_row(call):
    call("navdrive", "setup", call.root, [["Door", "front", "hotp"], ["Mail", "me", "totp"]],
         0, 64, 16)
    lines = call("navdrive", "start", 0)
    assert "hold twice: code" in lines
    lines = call("navdrive", "press", LONG)
    assert lines[1] == ">next code"
    lines = call("navdrive", "press", LONG)
    assert "HOTP #0" in lines and "Door" in lines[0]
    assert call("navdrive", "order")[0][3] == 1  # the counter moved on before the code showed
    # On a time-based account the menu has no such row.
    call("navdrive", "start", 1)
    assert "next code" not in " ".join(call("navdrive", "press", LONG))


def test_favourites_come_first_and_have_a_row_at_the_menus_foot(call):
    accs = [["Zeta", "z", "totp"], ["Alpha", "a", "totp"], ["Mid", "m", "totp"]]
    call("navdrive", "setup", call.root, accs, 0, 64, 16)
    assert call("navdrive", "favourite", "Mid", "m") == [0, 1]
    assert call("navdrive", "favourite", "Zeta", "z") == [1, 2]
    assert [o[:3] for o in call("navdrive", "order")] == [
        ["Mid", "m", True], ["Zeta", "z", True], ["Alpha", "a", False]]
    assert call("navdrive", "favourite", "Mid", "m", False) == [1, 1]
    assert [o[:3] for o in call("navdrive", "order")] == [
        ["Zeta", "z", True], ["Mid", "m", False], ["Alpha", "a", False]]
    call("navdrive", "start", 2)
    lines = call("navdrive", "press", LONG)
    rows = [l for l in lines[1:] if l]
    assert rows[-2].split() == ["*", "favourites", "1"] and rows[-1] == " < back"
    for _ in range(len(rows) - 2):
        call("navdrive", "press", SHORT)
    assert call("navdrive", "press", LONG)[0].startswith("Zeta")  # the first favourite


def test_a_short_panel_scrolls_the_menu_keeping_the_next_row_in_sight(call):
    accs = navbench.accounts(60, seed=6)
    call("navdrive", "setup", call.root, [list(a) for a in accs], 0, 32, 64)
    lines = call("navdrive", "press", LONG)
    assert len(lines) == 4 and lines[0].split()[0] == "All"
    seen = []
    for _ in range(8):
        lines = call("navdrive", "press", SHORT)
        marks = [l[:1] for l in lines[1:]]
        k = marks.index(">")
        seen.append(lines[1 + k])
        # The row after the cursor shows too (unless the cursor is on the last).
        assert k < 2 or lines[1 + k].endswith("< back"), lines
    assert any(s.endswith("< back") for s in seen)
    # A 32-pixel panel shows no name under an issuer: a person goes by the
    # issuer, so here the targets are accounts alone at theirs.
    alone = [a for a in accs if [b[0] for b in accs].count(a[0]) == 1 and a[0] != accs[0][0]]
    assert len(alone) >= 5
    counts = call("navdrive", "reach_all", 0, [list(a[:2]) for a in alone])
    assert min(counts) > 0
