"""Issue 16: the README's repository map is the folder listing, one line per
folder. Every folder of code is on it and every folder on it exists, so the
map cannot drift from the tree."""
import os
import re

from host_tools.mpy import REPO

# Folders of code that are parts of a listed folder, not parts of the design.
INSIDE = ("host_tools/simulator/cpy_hw/", "tests/data")


def _mapped():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = text.split("## Repository", 1)[1].split("```", 2)[1]
    return {m.group(1).rstrip("/") for m in re.finditer(r"^(\S+/)\s", block, re.M)}


def _code_folders():
    found = set()
    for top in ("firmware", "boards", "host_tools", "tests", "typecheck", "docs"):
        for d, dirs, files in os.walk(os.path.join(REPO, top)):
            dirs[:] = [x for x in dirs if not x.startswith((".", "__"))]
            rel = os.path.relpath(d, REPO).replace(os.sep, "/")
            if rel.startswith(INSIDE) or rel.startswith("docs/"):
                continue
            if any(n.endswith((".py", ".json", ".md")) for n in files):
                found.add(rel)
    return found


def test_every_folder_of_code_is_on_the_map():
    missing = _code_folders() - _mapped()
    assert missing == set(), "add a line to the README's repository map for %s" % sorted(missing)


def test_every_folder_on_the_map_exists():
    gone = {d for d in _mapped() if not os.path.isdir(os.path.join(REPO, d))}
    assert gone == set(), gone
