"""The package as users install it: one supported-Python range (pyproject.toml)
that the interpreter and the README agree with, the files a wheel would hold,
the `totp-token` command and `--version`."""
import os
import re
import subprocess
import sys
import tomllib

import host_tools

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in


def _pyproject():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _minimum_python():
    spec = _pyproject()["project"]["requires-python"]
    m = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert m, "requires-python should be a plain lower bound '>=3.N', not %r" % spec
    return (3, int(m.group(1)))


def test_running_python_satisfies_requires_python():
    assert sys.version_info[:2] >= _minimum_python(), sys.version


def test_readme_states_the_same_python_range():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lo = "%d.%d" % _minimum_python()
    assert "Python %s or newer" % lo in readme
    # No other range may linger anywhere (e.g. an old "Python 3.10-3.13").
    stated = set(re.findall(r"Python (3\.\d+)", readme))
    assert stated == {lo}, stated


def _build(tmp_path):
    """What a wheel would hold, with the venv's own setuptools and offline:
    egg_info gives the metadata (entry points), build_py the package tree."""
    meta, lib = tmp_path / "meta", tmp_path / "lib"
    meta.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()",
         "-q", "egg_info", "--egg-base", str(meta), "build_py", "--build-lib", str(lib)],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (info,) = meta.glob("*.egg-info")
    return info, lib


def test_package_metadata_and_console_command(tmp_path):
    info, lib = _build(tmp_path)
    entry_points = (info / "entry_points.txt").read_text()
    assert re.search(r"^\[console_scripts\]\s*^totp-token = host_tools\.provision:main$",
                     entry_points, re.M), entry_points
    pkg_info = (info / "PKG-INFO").read_text()
    assert "\nVersion: %s\n" % host_tools.__version__ in pkg_info
    assert "\nRequires-Python: >=%d.%d\n" % _minimum_python() in pkg_info
    built = {p.relative_to(lib).as_posix() for p in lib.rglob("*.py")}
    assert {"host_tools/provision.py", "host_tools/client.py", "firmware/protocol/frames.py",
            "host_tools/simulator/token.py"} <= built


def test_built_package_runs_outside_the_checkout(tmp_path):
    _, lib = _build(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(lib))
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.provision", "--version"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == host_tools.__version__
    # and it really ran the built copy, firmware.protocol.frames included
    where = subprocess.run(
        [sys.executable, "-c", "import host_tools.client, firmware.protocol.frames as f; print(f.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(lib))


def test_provision_script_still_runs_and_prints_the_version():
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "host_tools", "provision.py"), "--version"],
        cwd="/", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == host_tools.__version__
