"""Issue 15 #7: on MicroPython, Ctrl-C must be a plain byte from main.py's
first line, before the imports that take a while at boot, and the REPL is
given back only on the maintenance paths. main.py runs here under CPython
with a `micropython` stand-in that records each kbd_intr call in order with
every import, so the order is the thing checked."""
import builtins
import os
import sys
import types

import pytest
from host_tools.mpy import REPO

MAIN = os.path.join(REPO,
                    "firmware", "runtime", "micropython", "main.py")


@pytest.fixture
def recorded(monkeypatch):
    events = []
    fake = types.ModuleType("micropython")
    fake.kbd_intr = lambda c: events.append(("kbd_intr", c))
    monkeypatch.setitem(sys.modules, "micropython", fake)
    real_import = builtins.__import__

    def importing(name, globals=None, *a, **k):
        # only main.py's own imports (not pytest plugins importing lazily meanwhile)
        if name != "micropython" and (globals or {}).get("__name__") == "not_main":
            events.append(("import", name))
        return real_import(name, globals, *a, **k)
    monkeypatch.setattr(builtins, "__import__", importing)
    return events


def run_main():
    code = compile(open(MAIN).read(), MAIN, "exec")
    ns = {"__name__": "not_main"}
    exec(code, ns)
    return ns


def test_ctrl_c_is_off_before_anything_else_is_imported(recorded):
    ns = run_main()
    assert recorded[0] == ("kbd_intr", -1)
    assert callable(ns["start"])


def _runtime(tmp_path, held):
    class Runtime:
        data_dir = str(tmp_path)

        def __init__(self, board):
            pass

        def button(self):
            return held

        def sleep_ms(self, ms):
            pass
    Runtime.button = property(lambda self: (lambda: held))
    return types.SimpleNamespace(Runtime=Runtime)


def test_maintenance_request_gives_the_repl_back(recorded, tmp_path, monkeypatch, capsys):
    import factory
    monkeypatch.setitem(sys.modules, "hal", _runtime(tmp_path, held=False))
    (tmp_path / factory.MAINTENANCE_FLAG).write_text("")
    ns = run_main()
    del recorded[:]
    ns["start"](types.SimpleNamespace())
    assert ("kbd_intr", 3) in recorded
    assert "maintenance REPL" in capsys.readouterr().out


def test_normal_boot_keeps_ctrl_c_off(recorded, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "hal", _runtime(tmp_path, held=False))
    started = []
    monkeypatch.setitem(sys.modules, "app", types.SimpleNamespace(
        main=lambda rt, board: started.append(True)))
    ns = run_main()
    del recorded[:]
    ns["start"](types.SimpleNamespace())
    assert started == [True]
    assert ("kbd_intr", 3) not in recorded
