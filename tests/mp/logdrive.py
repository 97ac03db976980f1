# Drives firmware/flash/eventlog.py from plain data, so the same cases run under
# CPython and (through tests/mp/worker.py) inside MicroPython, on a file of
# the host's filesystem.
import os

import eventlog


class Now:
    """A settable clock for the log: (seconds, uptime flag)."""

    def __init__(self):
        self.t = 1800000000
        self.up = 0

    def __call__(self):
        return self.t, self.up


def _size(path):
    return os.stat(path)[6]


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def ring_bound(path, n):
    """n events of every kind, flushed as they come; the file must stay one
    size and hold the newest entries, in order, after a reopen too."""
    _remove(path)
    now = Now()
    log = eventlog.EventLog(path, now)
    sizes = []
    for i in range(n):
        now.t += 7
        code = (eventlog.SYNC, eventlog.ERROR, eventlog.CLOCK_LOST, eventlog.BOOT,
                eventlog.WIPE)[i % 5]
        log.event(code, i, -i, i * 3, "e%d" % (i % 97))
        if i % 3 == 2:
            log.flush(True)
        if i % 1000 == 0:
            sizes.append(_size(path))
    log.flush(True)
    sizes.append(_size(path))
    got, more = log.entries(limit=1000)
    seqs = [e[0] for e in got]
    log2 = eventlog.EventLog(path, now)
    again, _ = log2.entries(limit=1000)
    log2.event(eventlog.BOOT)
    log2.flush(True)
    after, _ = log2.entries(limit=1000)
    return {"sizes": sizes, "count": len(got), "first": seqs[0], "last": seqs[-1],
            "sorted": seqs == sorted(seqs), "contiguous": seqs == list(range(seqs[0], seqs[-1] + 1)),
            "reopened_same": [e[0] for e in again] == seqs, "next": log2.seq,
            "after_last": after[-1][0], "after_count": len(after),
            "suppressed": log.suppressed,
            "dropped": log.lost, "capacity": eventlog.ENTRIES, "file_bytes": eventlog.FILE_BYTES}


def torn_slot(path):
    """Damage one entry's bytes (a write torn by a power cut): that entry is
    skipped, every other one still reads."""
    _remove(path)
    log = eventlog.EventLog(path, Now())
    for i in range(10):
        log.event(eventlog.SYNC, i)
        log.flush(True)
    with open(path, "r+b") as f:
        f.seek(40 * 5 + 12)  # entry 5 (slot 5 = file slot 5, seq 5)
        f.write(b"\xde\xad")
    log2 = eventlog.EventLog(path, Now())
    got, _ = log2.entries(limit=100)
    log2.event(eventlog.BOOT)
    log2.flush(True)
    return {"seqs": [e[0] for e in got], "next": log2.seq}


def queue_behaviour(path):
    """Coalesced adds, repeated errors, the error cap, a full queue."""
    _remove(path)
    now = Now()
    log = eventlog.EventLog(path, now)
    for i in range(50):  # an import: one entry
        log.event(eventlog.ADD, 1, i + 1)
    for i in range(5):  # the same bad frame five times: one entry, c = 5
        log.event(eventlog.ERROR, 2, 0, 0, "bad_frame")
    log.flush(True)
    merged, _ = log.entries(limit=100)
    for i in range(20):  # more than the queue holds, without a flush
        log.event(eventlog.SYNC, i)
    queued = log.pending()
    log.flush(True)
    log.flush(True)
    after, _ = log.entries(limit=200)
    for i in range(100):  # distinct errors: capped per boot
        log.event(eventlog.ERROR, 0, 0, 0, "E%d" % i)
        log.flush(True)
    return {"merged": merged, "queued": queued, "queue": eventlog.QUEUE,
            "events": [e[3] for e in after],
            "dropped_entry": [e for e in after if e[3] == "dropped"],
            "suppressed": log.suppressed,
            "errors_logged": len([e for e in log.entries(limit=200)[0] if e[3] == "error"])}


def failing_flash(path):
    """A log whose directory is gone: events and flushes never raise, the
    failures are counted."""
    log = eventlog.EventLog(path, Now())
    for i in range(30):
        log.event(eventlog.ERROR, 0, 0, 0, "X%d" % i)
        log.flush(True)
    got, _ = log.entries(limit=100)
    return {"failures": log.failures, "readable": len(got)}


def text_and_names(path):
    """Texts are at most 8 printable ASCII bytes; names only when allowed."""
    _remove(path)
    log = eventlog.EventLog(path, Now())
    off = log.name_text("alice@example.com")
    log.event(eventlog.ERROR, 0, 0, 0, "\x1b[31m\xe9t\xe9 very long")
    log.set_names(True)
    on = log.name_text("alice@example.com")
    log.event(eventlog.ADD, 1, 1, 0, on)
    log.flush(True)
    reopened = eventlog.EventLog(path, Now())
    got, _ = reopened.entries(limit=10)
    reopened.clear()
    cleared, _ = reopened.entries(limit=10)
    return {"off": off, "on": on, "texts": [e[7] for e in got], "names": reopened.names,
            "cleared": [e[3] for e in cleared], "seq_after_clear": cleared[0][0],
            "last_before_clear": got[-1][0], "size": _size(path)}


def flush_timing(path):
    """The loop's flushes: at most one a second, and with hold_ms only once
    the oldest queued entry has waited that long. [ms, written?] pairs."""
    _remove(path)
    t = [0]
    log = eventlog.EventLog(path, Now(), lambda: t[0], lambda a, b: a - b)
    out = []

    def at(ms, hold=0):
        t[0] = ms
        log.flush(hold_ms=hold)
        out.append([ms, log.pending() == 0])

    log.event(eventlog.BOOT)
    at(0)           # the first write may go at once
    log.event(eventlog.SYNC)
    at(500)         # too soon after the last write
    at(1000)        # a second on: written
    t[0] = 3000
    log.event(eventlog.SYNC)
    at(3000, 2500)  # queued just now: waits for a rollover
    at(5400, 2500)  # still not 2.5 s
    at(5600, 2500)  # no rollover came: written anyway
    return out
