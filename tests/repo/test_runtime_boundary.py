"""The runtime seam (docs/runtime.md): only firmware/runtime/<name>/ touches
the platform. Every other firmware module runs unchanged on MicroPython,
CircuitPython and CPython, so it may import only what all three have, and
may not call what only one of them has (time.ticks_ms is MicroPython's)."""
import ast
import glob
import os

import pytest

from host_tools import mpy

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
PORTABLE = mpy.portable_sources()
RUNTIME_DIRS = sorted(glob.glob(os.path.join(REPO, "firmware", "runtime", "*")))

# Modules every runtime has (CPython too, for the tests and the simulator).
SHARED = {"binascii", "gc", "hashlib", "json", "micropython", "os", "struct", "errno",
          "time"}
# Optional capabilities the code falls back from: AES in crypto.py (cryptolib
# on MicroPython, aesio on CircuitPython, else our aes.py); store.py asks
# MicroPython's vfs whether the data is on littlefs (records written in
# place), else copies whole buckets.
OPTIONAL = {"cryptolib", "aesio", "vfs"}
# Platform-only calls on shared modules: each runtime offers its own.
PLATFORM_ATTRS = {("time", "ticks_ms"), ("time", "ticks_diff"), ("time", "ticks_add"),
                  ("time", "ticks_us"), ("time", "sleep_ms"), ("time", "sleep_us"),
                  ("micropython", "heap_lock"), ("micropython", "heap_unlock"),
                  ("micropython", "kbd_intr"), ("sys", "stdin"), ("sys", "stdout")}


def _imports(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            yield (node.module or "").split(".")[0], node.lineno


def _platform_calls(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in PLATFORM_ATTRS:
                yield "%s.%s" % (node.value.id, node.attr), node.lineno


def _ours():
    return {os.path.basename(p)[:-3] for p in PORTABLE}


@pytest.mark.parametrize("path", PORTABLE, ids=os.path.basename)
def test_portable_module_imports_no_platform_module(path):
    ours = _ours()
    bad = ["line %d: import %s" % (line, name) for name, line in _imports(path)
           if name not in SHARED | OPTIONAL | ours]
    assert not bad, "%s reaches past the runtime seam: %s" % (os.path.basename(path), bad)


@pytest.mark.parametrize("path", PORTABLE, ids=os.path.basename)
def test_portable_module_calls_no_platform_only_function(path):
    bad = ["line %d: %s" % (line, what) for what, line in _platform_calls(path)]
    assert not bad, "%s calls what only one runtime has: %s" % (os.path.basename(path), bad)


def test_the_check_catches_a_platform_import(tmp_path):
    bad = tmp_path / "leaky.py"
    bad.write_text("import time\nimport machine\nfrom busio import I2C\nt = time.ticks_ms()\n")
    names = {n for n, _ in _imports(str(bad))}
    assert names - SHARED - OPTIONAL - _ours() == {"machine", "busio"}
    assert [w for w, _ in _platform_calls(str(bad))] == ["time.ticks_ms"]


def test_no_portable_module_imports_a_runtime_module():
    """Drivers and hal live only in runtime folders, so no portable module
    can import one by name (each runtime has its own)."""
    runtime_modules = set()
    for d in RUNTIME_DIRS:
        runtime_modules |= {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(d, "*.py"))}
    assert {"hal", "ssd1306", "ds3231"} <= runtime_modules
    assert not runtime_modules & _ours(), "a module is both portable and per-runtime"
    for path in PORTABLE:
        used = {n for n, _ in _imports(path)} & runtime_modules
        assert not used, (os.path.basename(path), used)
