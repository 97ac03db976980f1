"""The host backup under concurrent writers, and entries deleted from the token.

Writers are real processes, started together, each adding accounts to one
backup file through host_tools.backup.vault: none may be lost."""
import os
import subprocess
import sys
import textwrap

from host_tools.backup import vault
from host_tools.formats import aegis
from host_tools.formats.otpauth import Account

from host_tools.mpy import REPO  # the repository root, whichever tier this file is in
FAST_N = 1024
PASSWORD = "correct horse battery staple"

WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, %(repo)r)
    from host_tools.backup import vault
    from host_tools.formats import aegis
    from host_tools.formats.otpauth import Account
    path, go, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    while not os.path.exists(go):  # every writer starts at once
        time.sleep(0.001)
    for i in range(n):
        account = Account(name="w%%d-%%d" %% (me, i), issuer="Conc", secret=os.urandom(20))
        vault.merge_backup(path, [account], %(password)r, scrypt_n=%(n)d)
""") % {"repo": REPO, "password": PASSWORD, "n": FAST_N}


def test_concurrent_writers_lose_no_account(tmp_path):
    path = str(tmp_path / "backup.aegis.json")
    go = str(tmp_path / "go")
    writers, each = 8, 3
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, go, str(w), str(each)])
             for w in range(writers)]
    open(go, "w").close()
    for p in procs:
        assert p.wait(timeout=120) == 0
    got = {a.name for a in vault.read_backup(path, PASSWORD)}
    assert got == {"w%d-%d" % (w, i) for w in range(writers) for i in range(each)}
    assert os.path.exists(path + ".lock")
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert leftovers == []


def _accounts():
    return [Account(name="alice", issuer="Ex", secret=b"12345678901234567890"),
            Account(name="bob", issuer="Ex", secret=b"abcdefghijabcdefghij")]


def test_deleted_entry_is_kept_aside_and_back_with_the_same_secret(tmp_path):
    path = str(tmp_path / "b.json")
    alice, bob = _accounts()
    vault.merge_backup(path, [alice, bob], PASSWORD, scrypt_n=FAST_N)
    assert vault.mark_deleted(path, PASSWORD, ("Ex", "alice"), when="2026-01-02")
    assert not vault.mark_deleted(path, PASSWORD, ("Ex", "alice"))  # already marked
    with open(path, "rb") as f:
        parsed = aegis.load(f.read(), PASSWORD)
    assert [a.label for a in parsed.accounts] == ["Ex:bob"]
    assert [a.label for a in parsed.deleted] == ["Ex:alice"]
    assert parsed.deleted[0].secret == alice.secret  # still recoverable
    # A rename never picks up a deleted entry.
    assert not vault.rename_backup_entry(path, PASSWORD, ("Ex", "alice"), ("Ex", "al"))
    # A new account under the deleted one's label leaves the old secret recoverable...
    other = Account(name="alice", issuer="Ex", secret=b"zzzzzzzzzzzzzzzzzzzz")
    vault.merge_backup(path, [other], PASSWORD, scrypt_n=FAST_N)
    with open(path, "rb") as f:
        parsed = aegis.load(f.read(), PASSWORD)
    assert sorted(a.label for a in parsed.accounts) == ["Ex:alice", "Ex:bob"]
    assert [a.secret for a in parsed.deleted] == [alice.secret]
    # ...and the same secret coming back replaces the deleted entry.
    assert vault.mark_deleted(path, PASSWORD, ("Ex", "alice"))
    vault.merge_backup(path, [alice], PASSWORD, scrypt_n=FAST_N)
    with open(path, "rb") as f:
        parsed = aegis.load(f.read(), PASSWORD)
    assert [a.secret for a in parsed.deleted] == [other.secret]
    assert alice.secret in [a.secret for a in parsed.accounts]


CLI_WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, %(repo)r)
    sys.path.insert(0, os.path.join(%(repo)r, "tests", "unit"))  # test_provision_cli
    from host_tools import provision
    from host_tools.backup import vault
    from host_tools.formats import aegis
    from host_tools.client import TokenClient
    from test_provision_cli import FakeLink
    vault.merge_backup.__defaults__ = (%(n)d,)  # fast scrypt for new files' slots
    fake = FakeLink({"add": {"index": 0, "count": 1}})
    provision.connect = lambda args: TokenClient(fake, timeout=5)
    go, me, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(n):
        sys.stdin = open(os.devnull)
        rc = provision.main(["add", "p%%d-%%d" %% (me, i), "--secret",
                             "JBSWY3DPEHPK3PXP", "--issuer", "Cli"])
        assert rc == 0, rc
""") % {"repo": REPO, "n": FAST_N}


def test_concurrent_provision_adds_lose_no_account(tmp_path):
    # The case: several `provision.py add` at once, each saying "saved".
    path = str(tmp_path / "backup.aegis.json")
    go = str(tmp_path / "go")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEN_")}
    env.update(TOKEN_BACKUP=path, TOKEN_BACKUP_PASSWORD=PASSWORD)
    vault.write_backup(path, [], PASSWORD, scrypt_n=FAST_N)
    writers, each = 4, 3
    procs = [subprocess.Popen([sys.executable, "-c", CLI_WRITER, go, str(w), str(each)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for w in range(writers)]
    open(go, "w").close()
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.count(b"backup: 1 account saved") == each
    got = {a.name for a in vault.read_backup(path, PASSWORD)}
    assert got == {"p%d-%d" % (w, i) for w in range(writers) for i in range(each)}


def test_favourite_mark_is_aegis_own_and_survives_a_merge(tmp_path):
    path = str(tmp_path / "backup.aegis.json")
    a = Account(name="amy", issuer="Alpha", secret=os.urandom(20))
    b = Account(name="bob", issuer="", secret=os.urandom(20))
    vault.merge_backup(path, [a, b], PASSWORD, scrypt_n=FAST_N)
    assert vault.set_favourite(path, PASSWORD, ("", "bob"), True, scrypt_n=FAST_N)
    assert not vault.set_favourite(path, PASSWORD, ("", "nobody"), True, scrypt_n=FAST_N)
    with open(path, "rb") as f:
        db = aegis.open_db(f.read(), PASSWORD)
    assert [(e["name"], e["favorite"]) for e in db["entries"]] == [("amy", False), ("bob", True)]
    got = {x.label: x.favourite for x in vault.read_backup(path, PASSWORD)}
    assert got == {"Alpha:amy": False, "bob": True}
    # The mark is not part of what makes two accounts the same one.
    assert Account(name="bob", secret=b.secret, favourite=True) == b
    # A merge of the same account as read keeps its mark.
    vault.merge_backup(path, vault.read_backup(path, PASSWORD), PASSWORD, scrypt_n=FAST_N)
    assert {x.label: x.favourite for x in vault.read_backup(path, PASSWORD)}["bob"] is True
    assert vault.set_favourite(path, PASSWORD, ("", "bob"), False, scrypt_n=FAST_N)
    assert not {x.label: x.favourite for x in vault.read_backup(path, PASSWORD)}["bob"]
