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
    assert formats.KINDS == ("text", "image", "aegis", "2fas", "andotp")


def test_format_names_and_aliases_pick_one_format_each():
    names = [n for f in formats.FORMATS for n in (f.kind,) + f.aliases]
    assert len(names) == len(set(names))
    for f in formats.FORMATS:
        for name in (f.kind,) + f.aliases:
            assert formats._BY_NAME[name] is f
