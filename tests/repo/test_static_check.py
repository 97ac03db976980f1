"""Static check against the real platform APIs (issue 9): pyright reads the
pure firmware modules (host_tools/mpy.py PORTABLE_DIRS) and each runtime
(firmware/runtime/<name>/) against the published stubs of every target
(typecheck/<target>.json), so a module, attribute or call that a port does
not have fails here instead of on a board. `make venv` installs pyright, its
node and the stubs (requirements-typecheck.txt, typecheck/stubs-*.txt)."""
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
TYPECHECK = os.path.join(REPO, "typecheck")
KNOWN = os.path.join(TYPECHECK, "known-errors.txt")
# One target per stub set that `make venv` installs (typecheck/stubs-<target>.txt).
TARGETS = sorted(os.path.basename(p)[len("stubs-"):-len(".txt")]
                 for p in glob.glob(os.path.join(TYPECHECK, "stubs-*.txt")))


def pyright(root, target):
    """The errors pyright reports with root/typecheck/<target>.json, as
    (path relative to root, line, rule, first line of the message)."""
    stubs = os.path.join(root, ".venv", "stubs", target, "lib", "site-packages")
    assert os.path.isdir(stubs), "no stubs for %s in %s: run `make venv`" % (target, stubs)
    config = os.path.join(root, "typecheck", target + ".json")
    proc = subprocess.run([sys.executable, "-m", "pyright", "--outputjson", "-p", config],
                          cwd=root, capture_output=True, text=True, timeout=240)
    # 0: no errors, 1: errors; anything else is pyright failing to run.
    assert proc.returncode in (0, 1), proc.stderr + proc.stdout
    report = json.loads(proc.stdout)
    assert report["summary"]["filesAnalyzed"] > 0, proc.stderr
    return [(os.path.relpath(d["file"], root), d["range"]["start"]["line"] + 1,
             d.get("rule", "syntax"), d["message"].splitlines()[0])
            for d in report["generalDiagnostics"] if d["severity"] == "error"]


def known_errors(target):
    """typecheck/known-errors.txt: "target path rule: message" per occurrence."""
    known = collections.Counter()
    with open(KNOWN, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                t, path, rest = line.split(" ", 2)
                rule, message = rest.split(": ", 1)
                if t == target:
                    known[(path, rule, message)] += 1
    return known


def test_each_port_of_the_issue_is_a_target_with_a_config():
    assert {"rp2", "esp32", "circuitpython"} <= set(TARGETS)
    for target in TARGETS:
        assert os.path.isfile(os.path.join(TYPECHECK, target + ".json")), target


@pytest.mark.parametrize("target", TARGETS)
def test_firmware_uses_only_what_the_target_has(target):
    errors = pyright(REPO, target)
    found = collections.Counter((path, rule, msg) for path, _, rule, msg in errors)
    known = known_errors(target)
    new = found - known
    fixed = known - found
    report = ["%s:%d %s: %s" % e for e in errors if (e[0], e[2], e[3]) in new]
    report += ["no longer found, delete from typecheck/known-errors.txt: %s %s %s: %s"
               % ((target,) + k) for k in fixed.elements()]
    assert not new and not fixed, "\n".join(report)


# Probe modules for the test below, in a copy of the tree. A line marked
# "# flagged: <targets>" must be reported for exactly those targets, and an
# unmarked line for none: that shows the rules catch a missing module, a
# missing attribute and a wrong call, and that each target reads its own stubs
# (time.ticks_ms is fine on MicroPython and an error on CircuitPython), even
# under a blanket `# type: ignore`. Each
# runtime folder holds lines that would be errors for the other runtime's
# targets, so checking a folder under the wrong target fails too.
PROBES = {
    "firmware/probe_pure.py": """\
import time
time.sleep(1)
time.ticks_ms()                        # flagged: circuitpython
time.ticks_add(0, 1)  # type: ignore   # flagged: circuitpython
time.sleep_ms()                        # flagged: rp2 esp32 circuitpython
import machine                         # flagged: circuitpython
machine.Pin.nonexistent()              # flagged: rp2 esp32
machine.Pin(2).value()
import rp2                             # flagged: esp32 circuitpython
import esp32                           # flagged: rp2 circuitpython
import dataclasses                     # flagged: rp2 esp32
no_such_name                           # flagged: rp2 esp32 circuitpython
import gc
gc.mem_free()
gc.get_objects()                       # flagged: rp2 esp32 circuitpython
""",
    "firmware/runtime/micropython/probe_mp.py": """\
import machine
import select
i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5), freq=400000)
i2c.writeto(0x3C, b"\\x00")
i2c.writeto(0x3C)                      # flagged: rp2 esp32
i2c.write_to(0x3C, b"\\x00")           # flagged: rp2 esp32
select.poll().ipoll(0)
""",
    "firmware/runtime/circuitpython/probe_cp.py": """\
import board
import busio
import supervisor
import usb_cdc
import adafruit_ssd1306
i2c = busio.I2C(getattr(board, "GP5"), getattr(board, "GP4"))
supervisor.ticks_ms()
supervisor.ticks_us()                  # flagged: circuitpython
usb_cdc.data.read(1)
adafruit_ssd1306.SSD1306_I2C(128, 64, i2c, addr=0x3C)
adafruit_ssd1306.SSD1306_I2C(128, 64)  # flagged: circuitpython
""",
}


@pytest.mark.parametrize("target", TARGETS)
def test_the_check_reports_what_a_target_lacks(target, tmp_path):
    shutil.copytree(TYPECHECK, tmp_path / "typecheck")
    os.symlink(os.path.join(REPO, ".venv"), tmp_path / ".venv")
    expected = set()
    for path, text in PROBES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        for n, line in enumerate(text.splitlines(), 1):
            m = re.search(r"# flagged: (.*)", line)
            if m and target in m.group(1).split():
                expected.add((path, n))
    errors = pyright(str(tmp_path), target)
    reported = {(path, line) for path, line, _, _ in errors}
    report = ["unexpected %s:%d %s: %s" % e for e in errors if e[:2] not in expected]
    report += ["not reported %s:%d" % e for e in sorted(expected - reported)]
    assert reported == expected, "\n".join(report)


def test_firmware_silences_the_check_only_rule_by_rule_with_a_reason():
    # `# pyright: ignore` without a rule would hide every error on its line,
    # and a file-level `# pyright:` setting a whole module; `# type: ignore`
    # is switched off in typecheck/base.json.
    seen = 0
    for top, _, files in os.walk(os.path.join(REPO, "firmware")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(top, name)
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if "pyright:" in line:
                        seen += 1
                        assert re.search(r"# pyright: ignore\[\w+(, \w+)*\] \S", line), \
                            "%s:%d: %s" % (path, n, line.strip())
    assert seen >= 2  # crypto.py's port-specific imports
