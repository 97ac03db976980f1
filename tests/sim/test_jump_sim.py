"""Reaching an account on the token alone, and favourites (issue 17), on both
runtimes: the jump menu a hold opens, driven by a user who reads the
simulated OLED (tests/mp/navuser.py), and `provision.py favourite`."""
import json
import os
import random
import sys

import pytest
import serial

from host_tools import navbench
from host_tools.backup import vault
from host_tools.simulator import SimulatedToken
from tests.forensics import cli
from tests.rawwire import request
from tests.waiting import REPLY_GUARD_S, screen

MP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mp")
RUNTIMES = ["micropython", "circuitpython"]
PIN = "97531"


def _in_process_counts(tmp_path, accs, targets):
    """The same user on the same screens state machine, driven in this
    process (tests/mp/navdrive.py), for the same accounts in the same order."""
    if MP_DIR not in sys.path:
        sys.path.insert(0, MP_DIR)
    import navdrive
    navdrive.setup(str(tmp_path / "accounts"), [list(a) for a in accs], 0, 64, 64)
    return navdrive.reach_all(0, [list(t) for t in targets])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_any_account_through_the_menu_on_the_token_alone(runtime, tmp_path):
    accs = navbench.accounts(48, seed=11)
    rng = random.Random(runtime)
    targets = [list(a[:2]) for a in rng.sample(accs[1:], 3)]
    on_token = navbench.drive_simulated(accs, targets, runtime=runtime)
    assert min(on_token) > 0, on_token  # each reached, by reading the screen
    # The simulator's firmware and the screens driven alone agree press for
    # press: the bench's fast path (all 1000 accounts) is this same path.
    assert on_token == _in_process_counts(tmp_path, accs, targets)


@pytest.fixture(params=RUNTIMES)
def backed_up(request, tmp_path, monkeypatch):
    """A token whose adds go into a backup of this test's own."""
    monkeypatch.delenv("TOKEN_NO_BACKUP", raising=False)
    monkeypatch.setenv("TOKEN_BACKUP", str(tmp_path / "backup.aegis.json"))
    with SimulatedToken(runtime=request.param, idle_s=3600) as tok:
        assert cli(tok, "sync-time")[0] == 0
        for name, issuer in (("zed", "Zulu"), ("amy", "Alpha"), ("max", "Mike"), ("sam", "")):
            code, doc = cli(tok, "add", name, "--issuer", issuer,
                            "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
            assert code == 0, doc
        yield tok


def _listed(tok):
    code, doc = cli(tok, "list")
    assert code == 0, doc
    return [(a["issuer"], a["name"], a["favourite"], a["position"])
            for a in doc["data"]["accounts"]]


def test_favourites_come_first_survive_a_reboot_and_go_into_the_backup(backed_up, tmp_path):
    tok = backed_up
    code, doc = cli(tok, "favourite", "Mike:max")
    assert code == 0, doc
    assert doc["data"]["position"] == 1 and doc["data"]["favourites"] == 1
    assert doc["data"]["backup"]["updated"] is True
    assert cli(tok, "favourite", "sam")[0] == 0
    want = [("Mike", "max", True, 1), ("", "sam", True, 2),
            ("Zulu", "zed", False, 3), ("Alpha", "amy", False, 4)]
    assert _listed(tok) == want
    # The screen shows the new favourite, 1/4... and the button's round
    # starts with the favourites.
    screen(tok, "2/4")
    tok.press()
    screen(tok, "3/4")
    tok.restart()
    assert _listed(tok) == want
    for _ in range(4):
        if "1/4" in tok.screen_text():
            break
        tok.press()
    assert "Mike" in screen(tok, "1/4")
    # list marks them, with and without --json.
    import contextlib
    import io
    from host_tools import provision
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert provision.main(["--port", tok.port, "list"]) == 0
    rows = out.getvalue().splitlines()
    assert rows[1].split()[:3] == ["1*", "Mike", "max"] and rows[3].split()[0] == "3"
    assert "* favourite: first on the button (2)" in rows
    # The backup keeps the mark (Aegis's own "favorite"): restored on a spare.
    password = os.environ["TOKEN_BACKUP_PASSWORD"]
    backup = str(tmp_path / "backup.aegis.json")
    assert {a.label: a.favourite for a in vault.read_backup(backup, password)} == {
        "Zulu:zed": False, "Alpha:amy": False, "Mike:max": True, "sam": True}
    with SimulatedToken(idle_s=3600) as spare:
        code, doc = cli(spare, "restore", backup, "--yes")
        assert code == 0, doc
        assert doc["data"]["favourites"] == ["Mike:max", "sam"]
        assert [(i, n, f) for i, n, f, _ in _listed(spare)][:2] == [
            ("Mike", "max", True), ("", "sam", True)]
    # --off: the first after the favourites, and the backup follows.
    code, doc = cli(tok, "favourite", "Mike:max", "--off")
    assert code == 0 and doc["data"]["position"] == 2 and doc["data"]["favourites"] == 1, doc
    assert _listed(tok)[:2] == [("", "sam", True, 1), ("Mike", "max", False, 2)]
    assert not {a.label: a.favourite for a in vault.read_backup(backup, password)}["Mike:max"]


def test_bad_favourite_requests_change_nothing(backed_up):
    tok = backed_up
    before = _listed(tok)
    code, doc = cli(tok, "favourite", "nobody")
    assert code == 1 and doc["error"] == "not_found", doc
    code, doc = cli(tok, "favourite", "Zulu:zed", "--off")  # not one: nothing to undo
    assert code == 0 and doc["data"]["position"] == 1 and doc["data"]["favourites"] == 0, doc
    code, doc = cli(tok, "favourite", "")
    assert code == 2, doc
    with serial.Serial(tok.port, 115200, timeout=REPLY_GUARD_S) as port:
        reply = request(port, 5, "favourite", name="zed", issuer="Zulu", on="yes")
        assert reply["error"] == "bad_args", reply
        reply = request(port, 6, "move", name="zed", issuer="Zulu", to=9)
        assert reply["error"] == "bad_args", reply
    assert _listed(tok) == before


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_favourite_needs_the_pin(runtime, monkeypatch):
    with SimulatedToken(runtime=runtime, idle_s=3600) as tok:
        assert cli(tok, "add", "amy", "--issuer", "Alpha", "--secret",
                   "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--no-backup")[0] == 0
        assert cli(tok, "add", "zed", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                   "--no-backup")[0] == 0
        assert cli(tok, "pin", "set", new_pin=PIN)[0] == 0
        with serial.Serial(tok.port, 115200, timeout=REPLY_GUARD_S) as port:
            reply = request(port, 7, "favourite", name="zed")
        assert reply["ok"] is False and reply["error"] == "auth_required", reply
        code, doc = cli(tok, "list", pin=PIN)
        assert [a.get("favourite") for a in doc["data"]["accounts"]] == [False, False]
        code, doc = cli(tok, "favourite", "zed", "--no-backup", pin=PIN)
        assert code == 0, json.dumps(doc)
        code, doc = cli(tok, "list", pin=PIN)
        assert [a["name"] for a in doc["data"]["accounts"] if a["favourite"]] == ["zed"]
