"""A real privacyIDEA 3.14 for the tests (issue 18): the MFA server nobody
here wrote, that the fleet's exports and host_tools/privacyidea.py must
satisfy.

It runs from .venv-privacyidea (`make test` installs it from
requirements-privacyidea.txt) through tests/privacyidea_boot.py, on SQLite
in a temporary directory: pi.cfg with keys made for this run, set up with
pi-manage's own commands (tables, encryption key, audit keys, an admin, a
flat-file user resolver and a realm of test users), served on 127.0.0.1 at
a free port. One server serves the whole test run (shared(): every xdist
worker that asks attaches to it; the last one out stops it, and it stops by
itself when the run's process is gone). Setup about 4 s, start about 2 s
on a quiet 2-core machine (3 s of CPU; up to 13 s and 7 s on busy cores).
"""
import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from host_tools.mpy import REPO
from host_tools.privacyidea import PrivacyIDEA
from tests.waiting import HANG_GUARD_S, wait_for

VENV = os.path.join(REPO, ".venv-privacyidea")
BOOT = os.path.join(REPO, "tests", "privacyidea_boot.py")
REALM = "team"
USERS = ("alice", "bob", "carol", "dave", "erin")
ADMIN = "admin"


def python():
    """The privacyIDEA venv's interpreter; a clear failure when it is missing."""
    if not os.path.exists(os.path.join(VENV, "bin", "pi-manage")):
        raise RuntimeError("privacyIDEA is not installed in %s: run `make privacyidea` "
                           "(`make test` does)" % VENV)
    return os.path.join(VENV, "bin", "python")


class PrivacyIDEAServer:
    """One privacyIDEA in `workdir`, serving until process `owner` ends:
    .setup(), .start(), .stop(); .url, .admin() a logged-in client; the
    figures .setup_s and .start_s."""

    def __init__(self, workdir, owner=None):
        self.dir = str(workdir)
        self.owner = owner or os.getpid()
        self.cfg = self._path("pi.cfg")
        self.log = self._path("server.log")
        self.admin_password = secrets.token_urlsafe(16)
        self.url = self.pid = None
        self.setup_s = self.start_s = None
        self._proc = None
        self._env = dict(os.environ, PRIVACYIDEA_CONFIGFILE=self.cfg)

    def __enter__(self):
        self.setup()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _path(self, name):
        return os.path.join(self.dir, name)

    def setup(self):
        started = time.monotonic()
        # A config file is Python to privacyIDEA: repr() quotes each value.
        config = {
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + self._path("pi.sqlite"),
            "PI_ENCFILE": self._path("enckey"),
            "PI_AUDIT_KEY_PRIVATE": self._path("audit-private.pem"),
            "PI_AUDIT_KEY_PUBLIC": self._path("audit-public.pem"),
            "PI_PEPPER": secrets.token_hex(16),
            "SECRET_KEY": secrets.token_hex(32),
            "PI_LOGFILE": self._path("privacyidea.log"),
            "PI_LOGLEVEL": 30,  # warnings
            # The cheapest argon2 (privacyIDEA's own TestingConfig): the
            # admin's password hash costs ~1 s per login and app start otherwise.
            "PI_HASH_ALGO_PARAMS": {"argon2__rounds": 1, "argon2__memory_cost": 8,
                                    "argon2__parallelism": 1},
        }
        with open(self.cfg, "w") as f:
            f.writelines("%s = %r\n" % item for item in config.items())
        # The users: a passwd-style flat file (privacyIDEA's passwdresolver), offline.
        with open(self._path("users"), "w") as f:
            f.writelines("%s:x:%d:%d:%s Example::/bin/false\n" % (u, 2000 + i, 2000 + i,
                                                                   u.title())
                         for i, u in enumerate(USERS))
        with open(self._path("users-config.json"), "w") as f:
            json.dump({"resolver": {"people": {"resolvername": "people",
                                               "type": "passwdresolver",
                                               "data": {"fileName": self._path("users")}}},
                       "realm": {REALM: {"default": True, "resolver": [{"name": "people"}]}}}, f)
        steps = [["setup", "create_tables"], ["setup", "create_enckey"],
                 ["setup", "create_audit_keys"],
                 ["admin", "add", ADMIN, "-p", self.admin_password],
                 ["config", "import", "-i", self._path("users-config.json")]]
        with open(self.log, "ab") as log:
            done = subprocess.run([python(), "-I", BOOT, "setup"], input=json.dumps(steps).encode(),
                                  stdout=log, stderr=subprocess.STDOUT, env=self._env,
                                  cwd=self.dir, timeout=HANG_GUARD_S)
        if done.returncode != 0:
            raise RuntimeError("privacyIDEA's setup failed:\n" + self._log_tail())
        self.setup_s = time.monotonic() - started

    def start(self):
        started = time.monotonic()
        port_file = self._path("port")
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                [python(), "-I", BOOT, "serve", port_file, str(self.owner)],
                stdout=log, stderr=subprocess.STDOUT, env=self._env, cwd=self.dir)
        self.pid = self._proc.pid

        def listening():
            if self._proc.poll() is not None:
                raise RuntimeError("privacyIDEA stopped at its start:\n" + self._log_tail())
            return os.path.exists(port_file)
        wait_for(listening, "privacyIDEA listening")
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%s" % f.read().strip()
        wait_for(lambda: answers(self.url), "privacyIDEA answering at %s" % self.url)
        self.start_s = time.monotonic() - started

    def stop(self):
        if self._proc is not None:
            stop(self.pid, self.url)
            self._proc.wait(HANG_GUARD_S)  # reaped: no zombie left
            self._proc = None

    def admin(self):
        return admin(self.url, self.admin_password)

    def _log_tail(self):
        with open(self.log, "rb") as f:
            return f.read()[-4000:].decode(errors="replace")


def admin(url, password):
    """A client logged in as the admin (POST /auth gives its JWT)."""
    return PrivacyIDEA.login(url, ADMIN, password, timeout=HANG_GUARD_S)


def answers(url):
    """Whether anything answers HTTP at url (an error is an answer too)."""
    try:
        with urllib.request.urlopen(url + "/healthz/", timeout=HANG_GUARD_S):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def stop(pid, url):
    """Stop the server `pid` (started by this process or another) and wait
    until its port is closed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not answers(url), "privacyIDEA stopping")


class Shared:
    """What a worker knows of the shared server: .url, .admin(), the
    figures .setup_s and .start_s (of the worker that started it)."""

    def __init__(self, doc):
        self.url = doc["url"]
        self.setup_s, self.start_s = doc["setup_s"], doc["start_s"]
        self._password = doc["admin_password"]

    def admin(self):
        return admin(self.url, self._password)


@contextlib.contextmanager
def _locked(path):
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def shared(root, owner):
    """The one server of a test run, kept in `root` (a directory every
    worker of the run sees): the first worker to ask sets it up and starts
    it, each one counts itself in while it uses it, the last one out stops
    it. `owner` is the run's process: the server ends with it regardless."""
    lock, state = os.path.join(root, "privacyidea.lock"), os.path.join(root, "privacyidea.json")
    with _locked(lock):
        doc = None
        if os.path.exists(state):
            with open(state) as f:
                doc = json.load(f)
        if doc is None or not answers(doc["url"]):
            server = PrivacyIDEAServer(tempfile.mkdtemp(prefix="privacyidea-", dir=root), owner)
            server.setup()
            server.start()
            doc = {"url": server.url, "pid": server.pid, "admin_password": server.admin_password,
                   "setup_s": server.setup_s, "start_s": server.start_s, "users": 0}
        doc["users"] += 1
        _write(state, doc)
    try:
        yield Shared(doc)
    finally:
        with _locked(lock):
            with open(state) as f:
                doc = json.load(f)
            doc["users"] -= 1
            if doc["users"] > 0:
                _write(state, doc)
            else:
                os.unlink(state)
                stop(doc["pid"], doc["url"])


def _write(path, doc):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    # By hand (docs/fleet.md): a server to try things on, until Enter.
    with tempfile.TemporaryDirectory() as d, PrivacyIDEAServer(d) as s:
        secret = os.path.join(d, "admin-password")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(s.admin_password)
        print("privacyIDEA at %s (setup %.1f s, start %.1f s); admin %r, password in %s; "
              "Enter stops it" % (s.url, s.setup_s, s.start_s, ADMIN, secret), file=sys.stderr)
        input()
