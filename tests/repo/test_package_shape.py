"""The host package's shape (issue 8): it imports as a package, with one
sys.path shim in the script entry point, and the import formats sit behind
one registry, so a new format is one module plus one line."""
import ast
import glob
import importlib
import os

from host_tools import formats

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
HOST = os.path.join(REPO, "host_tools")


def _touches_sys_path(path):
    # The AST, not the text: MicroPython boot code held in strings may set its own path.
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    return any(isinstance(node, ast.Attribute) and node.attr == "path"
               and isinstance(node.value, ast.Name) and node.value.id == "sys"
               for node in ast.walk(tree))


def test_only_the_script_entry_point_touches_sys_path():
    files = glob.glob(os.path.join(HOST, "**", "*.py"), recursive=True)
    assert len(files) > 20
    touching = sorted(os.path.relpath(p, REPO) for p in files if _touches_sys_path(p))
    assert touching == [os.path.join("host_tools", "provision.py")]


def test_every_format_module_is_registered_once():
    modules = [os.path.basename(p)[:-3] for p in
               glob.glob(os.path.join(HOST, "formats", "*.py"))]
    with_format = [importlib.import_module("host_tools.formats." + m) for m in modules]
    declared = {m.FORMAT for m in with_format if hasattr(m, "FORMAT")}
    assert declared == set(formats.FORMATS) and len(formats.FORMATS) == len(declared)
    assert formats.KINDS == ("text", "image", "aegis", "2fas", "andotp", "pskc")


def test_format_names_and_aliases_pick_one_format_each():
    names = [n for f in formats.FORMATS for n in (f.kind,) + f.aliases]
    assert len(names) == len(set(names))
    for f in formats.FORMATS:
        for name in (f.kind,) + f.aliases:
            assert formats._BY_NAME[name] is f


# ---- which host module may import which (issue 16) ----

TRANSPORT = "host_tools.link"
# The protocol library: requests and replies, the PIN session, request sizes, the clock.
PROTOCOL = ("host_tools.client", "host_tools.pinsession", "host_tools.pinauth",
            "host_tools.batching", "host_tools.clockmath")


def _imported(module):
    """The host_tools modules `module` imports, at any depth of its code
    (a function-level import counts too), read from its AST."""
    path = os.path.join(REPO, *module.split(".")) + ".py"
    if not os.path.exists(path):
        path = path[:-3] + os.sep + "__init__.py"
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package up
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(base + "." + a.name for a in node.names)  # from pkg import module
    return {m for m in found if m.split(".")[0] == "host_tools" and _is_module(m)}


def _is_module(name):
    path = os.path.join(REPO, *name.split("."))
    return os.path.exists(path + ".py") or os.path.exists(os.path.join(path, "__init__.py"))


def _reach(module):
    """Every host_tools module that importing `module` imports, directly or not."""
    seen, todo = set(), [module]
    while todo:
        for m in _imported(todo.pop()) - seen:
            seen.add(m)
            todo.append(m)
    return seen


def test_the_transport_does_not_import_the_protocol_library():
    assert "host_tools.errors" in _reach(TRANSPORT)  # the reading works: its errors are found
    assert not _reach(TRANSPORT) & set(PROTOCOL)


def test_the_protocol_library_knows_nothing_of_the_cli():
    for module in PROTOCOL + (TRANSPORT, "host_tools.errors"):
        cli = {m for m in _reach(module)
               if m.startswith("host_tools.cli") or m == "host_tools.provision"}
        assert not cli, (module, cli)
