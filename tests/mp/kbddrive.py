# Drives firmware/keyboard/typer.py from plain data, so the same cases run under
# CPython and (through tests/mp/worker.py) inside MicroPython. Time is a
# counter that moves 1 ms per step; the host is a preallocated log.
import keymap
import typer

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython: nothing to lock
    def heap_lock():
        pass

    def heap_unlock():
        pass


def _diff(a, b):
    return a - b


class _Host:
    """Takes reports into a preallocated log. refuse: one byte per attempt,
    nonzero = the endpoint is full then; attempts past its end are taken."""

    def __init__(self, refuse, cap=64):
        self.log = bytearray(8 * cap)
        self.times = [0] * cap
        self.n = 0
        self.tries = 0
        self.refuse = refuse
        self.now = 0

    def send(self, r):
        t = self.tries
        self.tries = t + 1
        if t < len(self.refuse) and self.refuse[t]:
            return False
        base = 8 * self.n
        for j in range(8):
            self.log[base + j] = r[j]
        self.times[self.n] = self.now
        self.n += 1
        return True


def _run(t, host, limit, cancel_after=-1, lock=False):
    steps = 0
    if lock:
        heap_lock()
    try:
        while steps < limit:
            if cancel_after >= 0 and host.n == cancel_after:
                t.cancel()
                cancel_after = -1
            more = t.step(host.now)
            steps += 1
            if not more:
                break
            host.now += 1
    finally:
        if lock:
            heap_unlock()
    return steps


def type_run(text, layout, enter=False, leds=0, refuse=b"", interval=20, letters="us",
             give_up=2000, cancel_after=-1, limit=100000):
    """[started, reports (8 bytes each, joined), [ms each was taken], result,
    attempts, busy at the end]."""
    host = _Host(refuse)
    t = typer.Typer(host.send, _diff, interval, give_up)
    started = t.start(text, layout, enter, leds, letters)
    if started:
        _run(t, host, limit, cancel_after)
    return [started, bytes(host.log[:8 * host.n]), host.times[:host.n], t.result,
            host.tries, t.busy]


def type_no_alloc(text, layout, leds, refuse):
    """The same run with the heap locked around every step (MicroPython):
    a step that allocated would raise MemoryError here."""
    host = _Host(refuse)
    t = typer.Typer(host.send, _diff, 3, 2000)
    t.start(text, layout, False, leds)
    _run(t, host, 10000, lock=True)
    return [bytes(host.log[:8 * host.n]), t.result]


def stuck_release(refuse_from, refuse_n, give_up):
    """The host stops taking reports right after a key-down: the typer gives
    up, and its later steps release the key once the host takes again.
    [result, reports, attempts]."""
    refuse = bytearray(refuse_from + refuse_n)
    for i in range(refuse_from, refuse_from + refuse_n):
        refuse[i] = 1
    host = _Host(bytes(refuse))
    t = typer.Typer(host.send, _diff, 1, give_up)
    t.start("12", "us", False, 0)
    _run(t, host, 100000)
    result = t.result
    for _ in range(refuse_n + 2):  # the app's loop keeps calling step
        host.now += 1
        t.step(host.now)
    return [result, bytes(host.log[:8 * host.n]), host.tries]


def keys(layout, text):
    """keymap.key for each character: [modifier, usage] pairs ([0, 0]: none)."""
    li = keymap.layout_index(layout)
    out = []
    for ch in text:
        k = keymap.key(li, ord(ch))
        out.append([k >> 8, k & 0xFF])
    return out
