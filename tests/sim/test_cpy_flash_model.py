"""What the simulated CircuitPython board's flash holds: microcontroller.nvm
(cpy_hw/microcontroller.py: a sector erased and programmed whole), the
CIRCUITPY drive's ghost log (cpy_launch.SimDrive: the old bytes a FAT drive
leaves in freed clusters) and SimulatedToken.flash_dump()."""
import builtins
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import threading

import pytest

from host_tools import provision
from host_tools.simulator import SimulatedToken, cpy_launch
from host_tools.simulator.bus import WIRE_DIR, BusServer
from tests.waiting import HANG_GUARD_S, REPLY_GUARD

SIZE = 4096


def _stand_in():
    """cpy_hw/microcontroller.py as a module of its own (not `microcontroller`:
    nothing else in this process sees it)."""
    spec = importlib.util.spec_from_file_location(
        "cpy_microcontroller_under_test", os.path.join(cpy_launch.CPY_HW, "microcontroller.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- microcontroller.nvm ---------------------------------------------------------

def test_nvm_is_one_blank_sector_until_written(tmp_path):
    mc = _stand_in()
    nvm = mc.ByteArray(str(tmp_path / "nvm.bin"), notice=lambda: None)
    assert len(nvm) == SIZE == cpy_launch.NVM_SIZE == mc.NVM_SIZE
    assert nvm[0] == 0xFF and nvm[-1] == 0xFF
    assert nvm[0:SIZE] == bytearray(b"\xff" * SIZE)
    assert isinstance(nvm[10:20], bytearray)
    assert not (tmp_path / "nvm.bin").exists()  # reading writes nothing
    with pytest.raises(IndexError):
        nvm[SIZE]


def test_nvm_slice_write_lands_in_the_file_and_survives_a_new_process(tmp_path):
    mc = _stand_in()
    path = tmp_path / "nvm.bin"
    notices = []
    nvm = mc.ByteArray(str(path), notice=lambda: notices.append(1))
    nvm[100:104] = b"TKKA"
    assert notices == [1]  # one announced write
    assert nvm[98:106] == b"\xff\xffTKKA\xff\xff"
    on_chip = path.read_bytes()
    assert len(on_chip) == SIZE and on_chip[100:104] == b"TKKA"
    assert on_chip.count(b"\xff") == SIZE - 4
    nvm[5] = 0x12  # an index write is a sector write too
    assert notices == [1, 1]
    again = mc.ByteArray(str(path), notice=lambda: None)  # after a power cycle
    assert again[100:104] == b"TKKA" and again[5] == 0x12
    # the whole sector rewritten: the old bytes are gone from the file
    again[0:SIZE] = b"\xff" * SIZE
    assert path.read_bytes() == b"\xff" * SIZE


def test_nvm_slice_write_must_keep_the_length(tmp_path):
    mc = _stand_in()
    notices = []
    nvm = mc.ByteArray(str(tmp_path / "nvm.bin"), notice=lambda: notices.append(1))
    with pytest.raises(ValueError):
        nvm[0:4] = b"abc"
    with pytest.raises(ValueError):
        nvm[0:4] = b"abcde"
    with pytest.raises(NotImplementedError):
        nvm[0:8:2] = b"abcd"
    with pytest.raises(ValueError):
        nvm[0] = 256
    assert notices == [] and not (tmp_path / "nvm.bin").exists()  # nothing written
    nvm[SIZE - 2:] = memoryview(b"ok")  # any buffer
    assert nvm[SIZE - 2:SIZE] == b"ok"


def test_keypages_bytespage_erases_and_programs_the_nvm(tmp_path):
    import keypages  # firmware/, on the path (conftest)
    mc = _stand_in()
    nvm = mc.ByteArray(str(tmp_path / "nvm.bin"), notice=lambda: None)
    page = keypages.BytesPage(nvm)
    data = bytes(range(256)) * 16
    page.program(data)
    buf = bytearray(SIZE)
    page.read_into(buf)
    assert buf == data and (tmp_path / "nvm.bin").read_bytes() == data
    page.erase()
    page.read_into(buf)
    assert buf == b"\xff" * SIZE and (tmp_path / "nvm.bin").read_bytes() == b"\xff" * SIZE


NVM_WRITER = """
import microcontroller
microcontroller.nvm[0:4] = b"AAAA"
microcontroller.nvm[0:4] = b"BBBB"
print("both written")
"""


def test_a_power_cut_before_an_nvm_write_leaves_the_old_bytes(tmp_path):
    """Through the simulator's bus: the stand-in, as the launcher sets it up
    ($TOKEN_SIM_NVM), announces each write; the host cuts power at the
    second one, and the process is killed before it lands."""
    sock_dir = tempfile.mkdtemp(prefix="tnvm-")
    bus = BusServer(os.path.join(sock_dir, "bus"), {}, threading.RLock())
    nvm = tmp_path / "nvm.bin"
    env = dict(os.environ, TOKEN_SIM_BUS=bus.path, TOKEN_SIM_NVM=str(nvm),
               PYTHONPATH=os.pathsep.join([cpy_launch.CPY_HW, WIRE_DIR]))
    proc = subprocess.Popen([sys.executable, "-P", "-c", NVM_WRITER], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bus.on_power_cut = proc.kill
    bus.cut_after = 1  # the first write goes through, the second is cut
    try:
        out, err = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        bus.close()
        os.rmdir(sock_dir)
    assert bus.power_cut and bus.flash_writes == 2, err
    assert b"both written" not in out
    assert nvm.read_bytes() == b"AAAA" + b"\xff" * (SIZE - 4)


def test_the_stand_in_has_no_nvm_without_a_file_for_it(monkeypatch):
    monkeypatch.delenv("TOKEN_SIM_NVM", raising=False)
    assert not hasattr(_stand_in(), "nvm")  # hal.key_pages falls back to files


# --- the drive's ghost log --------------------------------------------------------------

@pytest.fixture
def drive(tmp_path, monkeypatch):
    """A SimDrive installed in this process (its file calls patched), all undone after."""
    for name in ("rename", "replace", "remove", "unlink", "rmdir", "mkdir", "truncate",
                 "statvfs"):
        monkeypatch.setattr(os, name, getattr(os, name))  # restored at teardown
    monkeypatch.setattr(builtins, "open", builtins.open)
    root = tmp_path / "sim" / "data"
    root.mkdir(parents=True)
    notices = []
    d = cpy_launch.SimDrive(str(root), lambda: notices.append(1))
    d.notices = notices
    cpy_launch.install_drive(d)
    return d


def _put(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _ghosts(drive):
    try:
        with open(drive.ghosts, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def test_the_ghost_log_lies_beside_the_drive_not_on_it(drive, tmp_path):
    assert drive.ghosts == str(tmp_path / "sim" / "drive-ghosts.bin")
    assert drive.ghosts == cpy_launch.ghost_path(str(tmp_path / "sim"))
    assert not drive.ours(drive.ghosts)


def test_removing_a_file_leaves_its_bytes_in_the_ghost_log(drive):
    a = os.path.join(drive.root, "a")
    _put(a, b"old secret A")
    assert _ghosts(drive) == b""  # a new file drops nothing
    os.remove(a)
    assert not os.path.exists(a)
    assert _ghosts(drive) == b"old secret A"
    _put(a, b"second")
    os.unlink(a)
    assert _ghosts(drive) == b"old secret Asecond"


def test_renaming_over_a_file_leaves_the_old_one_in_the_ghost_log(drive):
    target = os.path.join(drive.root, "index")
    _put(target, b"old index")
    _put(target + ".new", b"new index")
    os.rename(target + ".new", target)
    assert open(target, "rb").read() == b"new index"
    assert _ghosts(drive) == b"old index"
    _put(target + ".new", b"newer")
    os.replace(target + ".new", target)
    assert _ghosts(drive) == b"old indexnew index"
    os.rename(target, target + ".moved")  # onto nothing: nothing dropped
    assert _ghosts(drive) == b"old indexnew index"


def test_rewriting_a_file_anew_leaves_the_old_contents(drive):
    b = os.path.join(drive.root, "bucket")
    _put(b, b"first contents")
    _put(b, b"second")
    assert open(b, "rb").read() == b"second"
    assert _ghosts(drive) == b"first contents"
    with open(b, "w") as f:  # text mode truncates too
        f.write("x")
    assert _ghosts(drive) == b"first contentssecond"


def test_an_in_place_overwrite_leaves_nothing_behind(drive):
    page = os.path.join(drive.root, "kb")
    _put(page, b"\xff" * 64)
    before = len(drive.notices)
    with open(page, "r+b") as f:
        f.write(b"KEY1" * 16)
    with open(page, "r+b") as f:
        f.seek(8)
        f.write(b"zz")
    assert open(page, "rb").read()[:12] == b"KEY1KEY1zzY1"
    assert _ghosts(drive) == b""
    assert len(drive.notices) == before + 2  # still announced writes
    with open(page, "ab") as f:  # appending drops nothing either
        f.write(b"tail")
    assert _ghosts(drive) == b""


def test_truncating_leaves_the_cut_tail(drive):
    f_path = os.path.join(drive.root, "log")
    _put(f_path, b"keep|cut this")
    with open(f_path, "r+b") as f:
        f.truncate(5)
    assert open(f_path, "rb").read() == b"keep|"
    assert _ghosts(drive) == b"cut this"
    os.truncate(f_path, 2)
    assert _ghosts(drive) == b"cut thisep|"
    with open(f_path, "r+b") as f:
        f.seek(1)
        f.truncate()  # at the position
    assert _ghosts(drive) == b"cut thisep|e"


def test_removing_a_directory_or_a_missing_file_drops_nothing(drive):
    sub = os.path.join(drive.root, "bk")
    os.mkdir(sub)
    os.rmdir(sub)
    with pytest.raises(FileNotFoundError):
        os.remove(os.path.join(drive.root, "nothing"))
    assert _ghosts(drive) == b""


def test_a_cut_at_the_notice_drops_nothing_and_changes_nothing(tmp_path, monkeypatch):
    for name in ("rename", "replace", "remove", "unlink", "rmdir", "mkdir", "truncate",
                 "statvfs"):
        monkeypatch.setattr(os, name, getattr(os, name))
    monkeypatch.setattr(builtins, "open", builtins.open)
    root = tmp_path / "data"
    root.mkdir()
    (root / "a").write_bytes(b"still here")

    class PowerCut(Exception):
        pass

    def cut():
        raise PowerCut  # the process dies here on the simulator

    d = cpy_launch.SimDrive(str(root), cut, ghosts=str(tmp_path / "g.bin"))
    cpy_launch.install_drive(d)
    for call in (lambda: os.remove(str(root / "a")),
                 lambda: open(str(root / "a"), "wb")):
        with pytest.raises(PowerCut):
            call()
    assert (root / "a").read_bytes() == b"still here"
    assert not (tmp_path / "g.bin").exists()


# --- flash_dump ------------------------------------------------------------------------

def test_flash_dump_is_nvm_then_the_drive_files_then_the_ghosts(tmp_path):
    sim = tmp_path / "sim"
    data = sim / "data"
    (data / "bk" / "g000").mkdir(parents=True)
    assert cpy_launch.flash_dump(str(sim)) == b"\xff" * SIZE  # a blank board
    (data / "index").write_bytes(b"IX")
    (data / "bk" / "g000" / "b000").write_bytes(b"B0")
    (data / "alpha").write_bytes(b"AL")
    (sim / "nvm.bin").write_bytes(b"N" * SIZE)
    (sim / "drive-ghosts.bin").write_bytes(b"GHOST")
    (sim / "firmware.log").write_bytes(b"not flash")
    # files in sorted path order: alpha, bk/g000/b000, index
    assert cpy_launch.flash_dump(str(sim)) == b"N" * SIZE + b"AL" + b"B0" + b"IX" + b"GHOST"
    tok = SimulatedToken(data_dir=str(sim), runtime="circuitpython")
    assert tok.flash_dump() == cpy_launch.flash_dump(str(sim))
    mp = SimulatedToken(data_dir=str(tmp_path / "mp"))
    with open(mp.flash_image, "wb") as f:
        f.write(b"littlefs image")
    assert mp.flash_dump() == b"littlefs image"


def _cli(tok, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(["--port", tok.port, "--json", "--timeout", REPLY_GUARD] + list(args))
    return rc, out.getvalue(), err.getvalue()


def _record_at(dump, name):
    """Offsets of store records (firmware/flash/records.py: magic 0x54, version 3, ...,
    name length at 5, the name at 20) that hold `name`."""
    found = []
    i = dump.find(name)
    while i >= 0:
        r = i - 20
        if r >= 0 and dump[r] == 0x54 and dump[r + 1] == 3 and dump[r + 5] == len(name):
            found.append(r)
        i = dump.find(name, i + 1)
    return found


def test_flash_dump_of_a_circuitpython_token_holds_the_added_record(tmp_path):
    name = b"forensic-probe"
    tok = SimulatedToken(data_dir=str(tmp_path / "sim"), runtime="circuitpython")
    try:
        tok.start()
        assert _record_at(tok.flash_dump(), name) == []
        rc, out, err = _cli(tok, "add", name.decode(), "--issuer", "Example",
                            "--secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "--no-backup")
        assert rc == 0 and json.loads(out)["ok"], out + err + tok.log_tail()
        dump = tok.flash_dump()
        assert _record_at(dump, name), "no record of the account in the dump"
        # the key area's first page is in microcontroller.nvm, not a drive file
        with open(cpy_launch.nvm_path(tok.data_dir), "rb") as f:
            assert len(f.read()) == SIZE
        assert dump[:4] == b"TKKA"
        assert not os.path.exists(os.path.join(cpy_launch.drive_dir(tok.data_dir), "ka"))
    finally:
        tok.close()
