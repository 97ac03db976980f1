"""No bare short deadline in a wait on a simulated token (tests/waiting.py).
A fixed few seconds that a quiet machine always makes is what a busy 2-core
one misses (test_typing_sim once failed at a 3 s screen wait): the tests of
the simulator tier, the repository tier and the shared helpers wait through
tests/waiting.py, whose guard only stops a hang. A time that is the behaviour
under test is a named constant, which this check lets through."""
import ast
import glob
import os

from host_tools.mpy import REPO
from tests.waiting import HANG_GUARD_S

# The simulator's own waits, each with a short default deadline of its own.
SIM_WAITS = ("wait_for_text", "wait_power_cut", "wait_reset")


def _number(node):
    """The number a literal says (a numeric string too, as "--timeout" takes), or None."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return None
        if isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node.value, str):
            try:
                return float(node.value)
            except ValueError:
                return None
    return None


def _short(node):
    value = _number(node)
    return value is not None and 0 < value < HANG_GUARD_S


def bare_deadlines(source, name="<source>"):
    """["name:line: what"] for each bare short deadline in `source`."""
    found = []

    def note(node, what):
        found.append("%s:%d: %s" % (name, node.lineno, what))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SIM_WAITS:
                given = node.args + [k.value for k in node.keywords]
                named = [a for a in given if isinstance(a, (ast.Name, ast.Attribute))]
                if not named:
                    note(node, "%s() with its own short deadline (use tests/waiting.py)"
                         % func.attr)
            if isinstance(func, ast.Attribute) and func.attr in ("join", "wait") \
                    and node.args and _short(node.args[0]):
                note(node, "%s(%r)" % (func.attr, node.args[0].value))
            for k in node.keywords:
                if k.arg in ("timeout", "within") and _short(k.value):
                    note(node, "%s=%r" % (k.arg, k.value.value))
            for a, b in zip(node.args, node.args[1:]):
                if isinstance(a, ast.Constant) and a.value == "--timeout" and _short(b):
                    note(node, "--timeout %r" % b.value)
        elif isinstance(node, (ast.List, ast.Tuple)):
            for a, b in zip(node.elts, node.elts[1:]):
                if isinstance(a, ast.Constant) and a.value == "--timeout" and _short(b):
                    note(node, "--timeout %r" % b.value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args[len(node.args.args) - len(node.args.defaults):]
            pairs = list(zip(args, node.args.defaults)) + [
                (a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d]
            for arg, default in pairs:
                if arg.arg in ("timeout", "within") and _short(default):
                    note(node, "%s(%s=%r)" % (node.name, arg.arg, default.value))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "timeout" \
                        and _short(node.value):
                    note(node, ".timeout = %r" % node.value.value)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            clock = node.left
            if isinstance(clock, ast.Call) and isinstance(clock.func, ast.Attribute) \
                    and clock.func.attr in ("monotonic", "time") and _short(node.right):
                note(node, "a deadline %r s from now" % node.right.value)
    return found


def _checked_files():
    tests = os.path.join(REPO, "tests")
    files = glob.glob(os.path.join(tests, "sim", "*.py")) + \
        glob.glob(os.path.join(tests, "repo", "*.py")) + glob.glob(os.path.join(tests, "*.py"))
    return sorted(f for f in files if os.path.basename(f) not in ("waiting.py", "test_waits.py"))


def test_the_check_reads_every_simulator_test():
    names = {os.path.relpath(f, REPO) for f in _checked_files()}
    assert {"tests/sim/test_typing_sim.py", "tests/sim/test_e2e_sim.py",
            "tests/forensics.py", "tests/repo/test_rules_once.py"} <= names


def test_no_simulator_wait_has_a_bare_short_deadline():
    found = []
    for path in _checked_files():
        with open(path, encoding="utf-8") as f:
            found += bare_deadlines(f.read(), os.path.relpath(path, REPO))
    assert found == []


PROBE = '''
import time
def helper(tok, timeout=5.0):
    pass
def test_probe(tok, link):
    tok.wait_for_text("typed", timeout=3)
    tok.wait_for_text("LOCKED")
    assert tok.wait_power_cut()
    cli(tok, "--timeout", "20", "status")
    argv = ["--port", tok.port, "--timeout", "2"]
    TokenClient(link, timeout=10)
    link.timeout = 0.5
    deadline = time.monotonic() + 15
    thread.join(30)
    proc.wait(30)
'''

ALLOWED = '''
import time
from tests.waiting import HANG_GUARD_S, REPLY_GUARD, REPLY_GUARD_S, screen
QUIET_S = 2
def helper(tok, timeout=REPLY_GUARD_S):
    pass
def test_probe(tok, link):
    screen(tok, "typed")
    tok.wait_power_cut(QUIET_S)
    tok.wait_reset(2, timeout=HANG_GUARD_S)
    cli(tok, "--timeout", REPLY_GUARD, "status")
    TokenClient(link, timeout=REPLY_GUARD_S)
    link.timeout = 0
    deadline = time.monotonic() + HANG_GUARD_S
    subprocess.run(["x"], timeout=300)
    thread.join(HANG_GUARD_S)
    rt.serial.wait(0)
'''


def test_the_check_finds_each_kind_of_bare_deadline():
    found = bare_deadlines(PROBE, "probe")
    lines = sorted(int(f.split(":")[1]) for f in found)
    # Each line of the probe from helper() on holds one; line 6 two.
    assert lines == [3, 6, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], found


def test_names_and_the_guard_pass_the_check():
    assert bare_deadlines(ALLOWED) == []
