"""The diagnostic log, the data inventory and the factory reset, end to end:
provision.py against the unmodified firmware in the simulator, and the
flash image read back afterwards with littlefs under MicroPython."""
import base64
import json
import os
import secrets
import shutil
import time

import serial

from host_tools import inventory
from host_tools.mpy import run_json
from host_tools.simulator import SimulatedToken
from tests.forensics import confirm_factory_reset
from tests.sim.test_e2e_sim import cli
from tests.waiting import power_cut, screen

from host_tools.mpy import REPO
MP_DIR = os.path.join(REPO, "tests", "mp")
# A reply the test does not check is let go after this long (see bad_frames).
ANY_REPLY_S = 1
# The loop writes the log once the link has been quiet for half a second, at
# the next rollover: time for that to happen before the cuts aim at an add.
LOG_SETTLE_S = 2.0


def flash_files(tok, tmp_path):
    """{path: bytes} of every file on the token's flash (the token stopped).
    Read from a copy: mounting must not touch the image under test."""
    copy = str(tmp_path / "copy.img")
    shutil.copy(tok.flash_image, copy)
    src = '''
import os, vfs, json
from ramblockdev import FileBlockDev
vfs.mount(vfs.VfsLfs2(FileBlockDev(%r, 4096, %d)), "/flash")
out = {}
def walk(d):
    for name in os.listdir(d):
        p = d + "/" + name
        if os.stat(p)[0] & 0x4000:
            out[p] = None
            walk(p)
        else:
            with open(p, "rb") as f:
                out[p] = f.read().hex()
walk("/flash")
print(json.dumps(out))
''' % (copy, os.path.getsize(copy) // 4096)
    got = run_json(src, extra_path=[MP_DIR])
    return {k: (None if v is None else bytes.fromhex(v)) for k, v in got.items()}


def forms(secret):
    """Every spelling of a secret that could leak."""
    b32 = base64.b32encode(secret).decode()
    out = [secret, secret.hex().encode(), secret.hex().upper().encode(), b32.encode(),
           b32.rstrip("=").encode(), b32.lower().encode(), secret[:8]]
    return out


def leaks(blob, secret_list, names):
    found = []
    low = blob.lower()
    for s in secret_list:
        for f in forms(s):
            if f in blob or f.lower() in low:
                found.append(("secret", s.hex()[:6]))
    for n in names:
        if n[:5].lower().encode() in low:
            found.append(("name", n))
    return found


def bad_frames(port, lines):
    # Each line's reply, if one comes within ANY_REPLY_S, is read and let go:
    # what is checked is the log, so a late reply costs nothing.
    with serial.Serial(port, 115200, timeout=ANY_REPLY_S) as s:
        for line in lines:
            s.write(line + b"\n")
            s.readline()


def add(tok, name, secret, issuer="LogTest"):
    return cli(tok, "add", name, "--secret", base64.b32encode(secret).decode(),
               "--issuer", issuer)


def cli_with_pin(tok, pin, *args, stdin=""):
    """cli() with $TOKEN_PIN set (None: unset) and `stdin` as standard input."""
    import io
    import sys
    saved, old_in = os.environ.pop("TOKEN_PIN", None), sys.stdin
    if pin is not None:
        os.environ["TOKEN_PIN"] = pin
    sys.stdin = io.StringIO(stdin)
    try:
        return cli(tok, *args)
    finally:
        sys.stdin = old_in
        os.environ.pop("TOKEN_PIN", None)
        if saved is not None:
            os.environ["TOKEN_PIN"] = saved


def session(tok, tmp_path):
    """Adds, an import, syncs, errors, lost clock and power cuts. Returns
    (secrets, names) used."""
    secs, names = [], []
    assert cli(tok, "sync-time")[0] == 0
    for i in range(3):
        s = secrets.token_bytes(20)
        name = "qzx%dwv" % i
        assert add(tok, name, s)[0] == 0
        secs.append(s)
        names.append(name)
    # An import of several accounts at once.
    uris = []
    for i in range(4):
        s = secrets.token_bytes(32)
        name = "imq%djk" % i
        uris.append("otpauth://totp/Imp:%s?secret=%s&issuer=Imp&algorithm=SHA256"
                    % (name, base64.b32encode(s).decode().rstrip("=")))
        secs.append(s)
        names.append(name)
    path = tmp_path / "uris.txt"
    path.write_text("\n".join(uris) + "\n")
    code, out = cli(tok, "import", str(path), "--yes")
    assert code == 0, out
    # The PIN: set, two wrong tries from the host, the right one, removed.
    # PIN digits must never reach the log; the PINs join `names` for leaks().
    pin, wrong = "73915", "48260"
    code, out = cli_with_pin(tok, None, "pin", "set", stdin=pin + "\n")
    assert code == 0, out
    for _ in range(2):
        assert cli_with_pin(tok, wrong, "sync-time")[1]["error"] == "wrong_pin"
    assert cli_with_pin(tok, pin, "sync-time")[0] == 0
    assert cli_with_pin(tok, pin, "pin", "remove")[0] == 0
    names += [pin, wrong]
    # Errors: garbage on the link, a refused duplicate, a delete.
    bad_frames(tok.port, [b"hello", b'TOK> {"id":1,"cmd":"info"', b"TOK> " + secs[0].hex().encode()])
    assert add(tok, names[0], secs[0])[0] == 1
    assert cli(tok, "delete", names[1], "--issuer", "LogTest", "--yes")[0] == 0
    # Power cuts in the middle of adds, then the token starts again. (What
    # the loop has not yet written goes with them: it writes once the link
    # has been quiet for half a second, at the next rollover.)
    time.sleep(LOG_SETTLE_S)
    for n in (1, 3, 6):
        s = secrets.token_bytes(16)
        secs.append(s)
        names.append("pcq%dzz" % n)
        tok.cut_power_at_write(n)
        add(tok, names[-1], s)
        assert power_cut(tok)
        tok.restart()
    # The clock lost, found lost at start, then synced again.
    tok.stop()
    tok.lose_clock()
    tok.start()
    assert cli(tok, "sync-time")[0] == 0
    tok.advance(3600)
    assert cli(tok, "sync-time")[0] == 0
    return secs, names


def test_log_holds_no_secret_and_no_name_after_a_session(tok, tmp_path):
    secs, names = session(tok, tmp_path)
    code, data = cli(tok, "log")
    assert code == 0, data
    events = [e["event"] for e in data["entries"]]
    for want in ("boot", "sync", "add", "delete", "error", "clock-lost", "clock-ok",
                 "pin-failed", "pin-set"):
        assert want in events, (want, " ".join(events))
    adds = [e for e in data["entries"] if e["event"] == "add"]
    # Counts, not names: every add before the power cuts is counted (the
    # import's arrive merged into entries with a count when they come fast).
    assert sum(e["a"] for e in adds) >= 7 and all(e["text"] == "" for e in adds), adds
    assert data["failures"] == 0
    text = json.dumps(data).encode()
    assert leaks(text, secs, names) == []
    tok.stop()
    files = flash_files(tok, tmp_path)
    log = files["/flash/data/log"]
    assert leaks(log, secs, names) == []
    # The scan can fail: the same secrets and names are in the account files.
    buckets = b"".join(v for k, v in files.items() if "/b0" in k)
    assert leaks(buckets, secs[:1], names[:1]) != []


def test_names_reach_the_log_only_when_turned_on(tok):
    s = secrets.token_bytes(20)
    assert add(tok, "offname", s)[0] == 0
    code, data = cli(tok, "log", "--names", "on")
    assert code == 0 and data["names"] is True
    assert add(tok, "onname", secrets.token_bytes(20))[0] == 0
    code, data = cli(tok, "log", "--names", "off")
    texts = [e["text"] for e in data["entries"]]
    assert "onname" in texts and "offname" not in texts
    events = [(e["event"], e["a"]) for e in data["entries"]]
    assert ("log-config", 1) in events and ("log-config", 0) in events


def test_log_clear_needs_confirmation_and_keeps_numbering(tok):
    code, err = cli(tok, "log", "--clear")
    assert code == 2 and err["error"] == "confirm_required"
    code, before = cli(tok, "log")
    last = before["entries"][-1]["seq"]
    code, _ = cli(tok, "log", "--clear", "--yes")
    assert code == 0
    code, after = cli(tok, "log")
    assert [e["event"] for e in after["entries"]] == ["log-cleared"]
    assert after["entries"][0]["seq"] == last + 1


def test_power_cut_during_a_log_write_leaves_it_readable(tok):
    assert cli(tok, "sync-time")[0] == 0
    time.sleep(LOG_SETTLE_S)
    code, before = cli(tok, "log")
    seqs = [e["seq"] for e in before["entries"]]
    # The next flash write is the log's (nothing else writes while idle):
    # an error entry written by the loop.
    tok.cut_power_at_write(1)
    bad_frames(tok.port, [b"garbage"])
    assert power_cut(tok)
    tok.restart()
    code, after = cli(tok, "log")
    assert code == 0, after
    got = [e["seq"] for e in after["entries"]]
    assert got[:len(seqs)] == seqs  # everything written before the cut is there
    assert after["entries"][-1]["event"] == "boot"


def test_inventory_lists_every_file_the_firmware_creates(tok, tmp_path):
    secs, names = session(tok, tmp_path)
    cli(tok, "calibrate")
    cli(tok, "log", "--names", "on")
    assert cli(tok, "config", "--layout", "de")[0] == 0  # the keyboard's settings file
    cli(tok, "wipe", "--yes")
    add(tok, "after", secrets.token_bytes(20))
    code, data = cli(tok, "data")
    assert code == 0, data
    listed = {r["file"] for r in data["token"]["files"]}
    for row in data["token"]["files"]:
        assert row["holds"] != "not written by this firmware version", row
    # The inventory's patterns know every file the token has written, and its
    # `files` command shows exactly what is on the flash.
    tok.stop()
    on_flash = {p[len("/flash/data/"):] for p in flash_files(tok, tmp_path)
                if p.startswith("/flash/data/")}
    top = {name.split("/")[0] for name in on_flash}
    assert top == listed
    for name in top:
        assert inventory.token_item(name) is not None, name
    # Below bk/ only the store's own groups and buckets (firmware/flash/store.py).
    import re
    for name in on_flash - top:
        assert re.fullmatch(r"bk/g\d{3}(/b\d{3}(\.new)?)?", name), name
    assert {"index", "log", "clock.json", "bk", "ka", "kb", "keyloc", "keyboard.json"} <= on_flash
    assert "keys" not in on_flash  # older firmware's key file: only read, once, at an update


def test_inventory_knows_the_crash_leftovers():
    for name in ("bk", "index", "keys", "ka", "kb", "keyloc", "clock.json", "log", "keys.new", "log.new", "keyboard.json",
                 "index.new", "wipe.tmp"):
        assert inventory.token_item(name) is not None, name
    assert inventory.token_item("secrets.txt") is None


def _factory(tmp_path):
    return SimulatedToken(data_dir=str(tmp_path / "tok"), reset_hold_s=2, reset_confirm_s=4)


def _provisioned(tok, n=3):
    tok.start()
    assert cli(tok, "sync-time")[0] == 0
    secs, names = [], []
    for i in range(n):
        s = secrets.token_bytes(20)
        name = "frq%dxw" % i
        assert add(tok, name, s)[0] == 0
        secs.append(s)
        names.append(name)
    return secs, names


def _hold_to_reset_screen(tok):
    tok.start(held=True)
    screen(tok, "MAINTENANCE")
    screen(tok, "FACTORY RESET")
    screen(tok, "PRESS to ERASE")


def test_factory_reset_leaves_nothing_behind(tmp_path):
    tok = _factory(tmp_path)
    try:
        secs, names = _provisioned(tok)
        tok.stop()
        with open(tok.flash_image, "rb") as f:
            image = f.read()
        assert leaks(image, secs, names) != []  # the scan sees them before
        _hold_to_reset_screen(tok)
        confirm_factory_reset(tok)
        code, data = cli(tok, "list")
        assert code == 0 and data["count"] == 0
        code, log = cli(tok, "log")
        assert [e["event"] for e in log["entries"]][:2] == ["factory-reset", "boot"]
        tok.stop()
        with open(tok.flash_image, "rb") as f:
            image = f.read()
        assert leaks(image, secs, names) == []
        left = {p for p in flash_files(tok, tmp_path) if p.startswith("/flash/data/")}
        # The log (its factory-reset entry) and a fresh key area (a new random
        # data key, no PIN) made by the boot after the erase.
        # The store's (empty) bucket directory is back too.
        assert left == {"/flash/data/log", "/flash/data/ka", "/flash/data/kb",
                        "/flash/data/keyloc", "/flash/data/bk"}
    finally:
        tok.close()


def test_factory_reset_not_confirmed_erases_nothing(tmp_path):
    tok = _factory(tmp_path)
    try:
        _provisioned(tok, 2)
        tok.stop()
        _hold_to_reset_screen(tok)
        tok.hold_button(False)  # and no press
        screen(tok, "Nothing erased")
        tok.wait_ready()
        code, data = cli(tok, "list")
        assert code == 0 and data["count"] == 2
    finally:
        tok.close()


def test_released_at_the_countdown_gives_the_repl_and_keeps_everything(tmp_path):
    tok = _factory(tmp_path)
    try:
        _provisioned(tok, 2)
        tok.stop()
        tok.start(held=True)
        screen(tok, "Release: REPL")
        tok.hold_button(False)
        tok.wait_ready()  # main.start returned: the REPL's turn
        assert tok.maintenance
        tok.restart()
        code, data = cli(tok, "list")
        assert code == 0 and data["count"] == 2
    finally:
        tok.close()
