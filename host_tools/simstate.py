"""Where running simulators say which port they are on.

The simulator's pseudo-terminal gets a new name every run, so a running one
writes a small state file (its pid and port) that port auto-detection and
`provision.py devices` read; it is removed when the simulator stops. A file
whose process is gone (killed) is ignored and cleaned up.

The directory: $TOKEN_SIM_STATE_DIR, else $XDG_RUNTIME_DIR/totp-token/simulators
(per user, cleared at logout), else totp-token-<uid>/simulators in the temp
directory.
"""
import json
import os
import tempfile

ENV = "TOKEN_SIM_STATE_DIR"


def state_dir(env=None):
    env = os.environ if env is None else env
    if env.get(ENV):
        return env[ENV]
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "totp-token", "simulators")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), "totp-token-%s" % uid, "simulators")


def register(port, data_dir=None, env=None):
    """Announce a simulator of this process on `port`; returns the file to
    pass to unregister()."""
    directory = state_dir(env)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = "%d-%s.json" % (os.getpid(), os.path.basename(port))
    path = os.path.join(directory, name)
    doc = {"pid": os.getpid(), "port": port, "board": "sim", "data_dir": data_dir}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)  # readers never see half a file
    return path


def unregister(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def running(env=None):
    """The simulators that are up: [{pid, port, board, data_dir}], by port."""
    directory = state_dir(env)
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    found = []
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path) as f:
                doc = json.load(f)
            pid, port = int(doc["pid"]), str(doc["port"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours
        if not _alive(pid) or not os.path.exists(port):
            unregister(path)  # left by a simulator that was killed
            continue
        found.append(doc)
    return sorted(found, key=lambda d: d["port"])


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
