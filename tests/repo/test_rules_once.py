"""Issue 16: each request-size rule is written once, in firmware/rules.py,
and both sides read it: a copy elsewhere fails here, and the token really
serves the page size the host asks for."""
import json
import os
import re

from firmware import rules
from host_tools.client import TokenClient
from host_tools.link import SerialLink
from host_tools import mpy
from host_tools.mpy import REPO
from host_tools.simulator import SimulatedToken
from tests.waiting import REPLY_GUARD_S

RULES = ("LIST_PAGE", "ADD_MANY", "PIN_MIN", "PIN_MAX", "TRIES_MIN", "TRIES_MAX", "LOCK_MAX_S",
         "MIN_INTERVAL_MS", "MAX_INTERVAL_MS")


def _python_files():
    for top in ("firmware", "host_tools", "boards"):
        for d, _, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(d, name)


def test_no_second_definition_of_a_request_size():
    copies = []
    for path in _python_files():
        if path.endswith(os.path.join("firmware", "rules.py")):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name in RULES:
            # A number of its own (or a const of one) is a copy; a name
            # bound to rules' value is not.
            if re.search(r"^\s*%s\s*=\s*(const\()?\d" % name, text, re.M):
                copies.append("%s: %s" % (os.path.relpath(path, REPO), name))
    assert copies == []


def test_the_token_serves_list_pages_of_the_rule_and_the_host_reads_them_all():
    with SimulatedToken() as tok:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as client:
            n = rules.LIST_PAGE * 2 + 3
            wanted = [{"name": "u%02d" % i, "secret": os.urandom(20).hex()} for i in range(n)]
            for at in range(0, n, 8):  # 8 such accounts fit one request line
                client.request("add-many", accounts=wanted[at:at + 8])
            page = client.request("list", start=0, limit=rules.LIST_PAGE * 4)
            assert len(page["accounts"]) == rules.LIST_PAGE and page["total"] == n
            assert [a["name"] for a in client.list_accounts()] == ["u%02d" % i for i in range(n)]


def test_nothing_cites_a_file_the_repository_does_not_have():
    # REFERENCE.md is the developers' notes beside the repository, not in it.
    cites = []
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            if "REFERENCE.md" in f.read():
                cites.append(os.path.relpath(path, REPO))
    assert cites == []


def test_exit_codes_are_named_in_one_place():
    # host_tools/errors.py names them; elsewhere a bare number is a copy.
    bare = re.compile(r"exit_code\s*=\s*\d|Error\.__init__\(self, [^)]*, \d+\)")
    found = []
    for path in _python_files():
        if path.endswith(os.path.join("host_tools", "errors.py")):
            continue
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if bare.search(line):
                    found.append("%s:%d" % (os.path.relpath(path, REPO), i))
    assert found == []


def test_the_firmware_folders_are_listed_once():
    # host_tools/mpy.py (PORTABLE_DIRS, firmware_dirs) is the list; the
    # build, the simulators and the tests' import paths read it.
    listing = re.compile(r'firmware/\*\.py|"firmware", "\*\.py"|FIRMWARE, (mpy\.)?RUNTIME_MP')
    found = []
    paths = list(_python_files()) + [os.path.join(REPO, "Makefile")]
    for top in ("tests",):
        for d, _, files in os.walk(os.path.join(REPO, top)):
            paths += [os.path.join(d, n) for n in files if n.endswith(".py")]
    for path in paths:
        if path.endswith(os.path.join("host_tools", "mpy.py")):
            continue
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if listing.search(line) and "listing = re.compile" not in line:
                    found.append("%s:%d" % (os.path.relpath(path, REPO), i))
    assert found == []


def test_the_type_check_reads_the_same_folders():
    # pyright's configs are JSON, so they cannot import the list: they must
    # name exactly the folders host_tools/mpy.py gives each runtime.
    for target, runtime in (("rp2", "micropython"), ("esp32", "micropython"),
                            ("circuitpython", "circuitpython")):
        path = os.path.join(REPO, "typecheck", target + ".json")
        with open(path, encoding="utf-8") as f:
            config = json.loads("".join(line for line in f if not line.lstrip().startswith("//")))
        typecheck = os.path.dirname(path)
        want = [os.path.relpath(d, typecheck) for d in mpy.firmware_dirs(runtime)]
        assert [os.path.dirname(p) for p in config["include"]] \
            == want[:-1] + [want[-1] + "/**"], target
        assert config["executionEnvironments"][0]["extraPaths"][:-1] == want[1:], target


def test_the_token_and_the_host_carry_the_one_release():
    import host_tools
    from firmware.protocol import frames
    assert host_tools.__version__ == frames.RELEASE
    with SimulatedToken() as tok:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as client:
            assert client.info()["version"] == frames.RELEASE
    found = []
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            if re.search(r'^\s*(__version__|VERSION)\s*=\s*"', f.read(), re.M):
                found.append(os.path.relpath(path, REPO))
    assert found == []


def test_add_defaults_are_the_tokens_own():
    # The host leaves out what the token assumes: both read firmware/rules.py.
    from host_tools.batching import compact_args
    from host_tools.formats.otpauth import Account
    a = Account("x", b"k" * 20)
    assert {k: getattr(a, k) for k in rules.ADD_DEFAULTS} == rules.ADD_DEFAULTS
    assert a.digits == rules.default_digits("totp")
    assert set(compact_args(a)) == {"name", "secret"}
    found = []
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if re.search(r'"steam"\s+else\s+6|_ADD_DEFAULTS\s*=', line) \
                        and not path.endswith(os.path.join("firmware", "rules.py")):
                    found.append("%s:%d" % (os.path.relpath(path, REPO), i))
    assert found == []


def _numbers_bound(path):
    """(name, line) of each name bound to a number literal (alone or in a
    tuple) in the file, and of each argument whose default is one."""
    import ast
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)

    def number(node):
        if isinstance(node, ast.Tuple):
            return all(number(e) for e in node.elts)
        return isinstance(node, ast.Constant) and type(node.value) is int

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and number(node.value):
            for target in node.targets:
                for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(t, ast.Name):
                        yield t.id.lstrip("_"), node.lineno
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args[len(node.args.args) - len(node.args.defaults):]
            for arg, default in zip(args, node.args.defaults):
                if number(default):
                    yield arg.arg, node.lineno


def _all_python_files():
    yield from _python_files()
    for d, _, files in os.walk(os.path.join(REPO, "tests")):
        yield from (os.path.join(d, n) for n in files if n.endswith(".py"))


def test_the_simulators_wire_codes_and_the_button_timings_are_written_once():
    # host_tools/simulator/wire/wirecodes.py holds the bus's codes for the
    # host and both board processes; firmware/screen/button.py the timings
    # the simulator's finger holds a press for (the host's and the tests'
    # copies are looked for: the factory screen's boot-time debounce is a
    # firmware value of its own).
    from firmware.screen import button
    from host_tools.simulator.wire import wirecodes
    from host_tools.simulator import token
    codes = {k for k in vars(wirecodes) if k.isupper()}
    timings = {"DEBOUNCE_MS", "LONG_MS", "debounce_ms", "long_ms",
               "DEBOUNCE_S", "LONG_MS_FIRMWARE"}  # the last two: the host's, in seconds
    home = os.path.join("host_tools", "simulator", "wire", "wirecodes.py")
    copies = []
    for path in _all_python_files():
        rel = os.path.relpath(path, REPO)
        for name, line in _numbers_bound(path):
            if (name in codes and rel != home) or \
                    (name in timings and not rel.startswith("firmware" + os.sep)):
                copies.append("%s:%d: %s" % (rel, line, name))
    assert copies == []
    assert token.DEBOUNCE_S * 1000 == button.DEBOUNCE_MS
    assert token.LONG_MS_FIRMWARE * 1000 == button.LONG_MS


def test_the_exit_codes_of_a_board_process_are_named():
    # A bare sys.exit(97) / os._exit(99) is a copy of wirecodes.py's.
    import ast
    from host_tools.simulator.wire import wirecodes
    numbers = {wirecodes.RESET_EXIT, wirecodes.HOST_GONE_EXIT}
    found = []
    for path in _all_python_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("exit", "_exit") and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in numbers:
                found.append("%s:%d" % (os.path.relpath(path, REPO), node.lineno))
    assert found == []


def test_board_files_are_data():
    # Pins, addresses and sizes only (os.getenv for the simulated ones): what
    # replaces hardware lives with the simulator (mp_hw/, cpy_hw/).
    import ast
    import glob
    found = []
    for path in sorted(glob.glob(os.path.join(REPO, "boards", "*.py"))):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            if isinstance(node, ast.Import) and [a.name for a in node.names] == ["os"]:
                continue
            found.append("%s:%d: %s" % (os.path.basename(path), node.lineno,
                                        type(node).__name__))
    assert found == []


def test_a_boards_flat_folder_has_each_module_name_once():
    # A board gets its runtime's modules and the portable ones in one
    # folder: a name twice, or a module named like a folder (a package on
    # the host), would shadow another. The CircuitPython runtime's also
    # keep clear of CircuitPython's modules (those cpy_hw stands for) and
    # the adafruit libraries.
    import collections
    folders = {os.path.basename(d) for d in mpy.PORTABLE_DIRS[1:]} | {"runtime"}
    stand_ins = {n[:-3] if n.endswith(".py") else n
                 for n in os.listdir(os.path.join(REPO, "host_tools", "simulator", "cpy_hw"))}
    for runtime in ("micropython", "circuitpython"):
        names = [name[:-3] for _, name in mpy.firmware_sources(runtime)]
        twice = [n for n, k in collections.Counter(names).items() if k > 1]
        assert twice == [] and folders.isdisjoint(names), runtime
    ours = [n[:-3] for _, n in mpy.firmware_sources("circuitpython")]
    assert [n for n in ours if n in stand_ins or n.startswith("adafruit_")] == []
