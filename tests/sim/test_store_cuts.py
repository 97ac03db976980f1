"""Power cuts in the account store (firmware/flash/store.py): every possible
cut during each change, under the MicroPython unix port on littlefs over the
RAM flash of tests/mp/ramblockdev.py. The store's behaviour scenarios and the
helpers shipped to MicroPython with this sweep are in tests/unit/test_store.py;
the sweep itself is minutes of MicroPython, so it sits with the slow tier."""
import pytest

from tests.unit.test_store import _mp


# Runs inside MicroPython only: _mp ships it after the littlefs prelude
# (fresh_dev, mount, RAMBlockDev) and the shared helpers (_keys, _add, ...).
def sweep(mod, op, torn):
    """Cut the power after every possible number of block writes during
    `op` (Store() load included); after each cut the store must load with
    every account intact and the touched one entirely old or entirely new."""
    root = "/flash/accounts"
    blocks = 48
    dev = fresh_dev(blocks)
    s = mod.Store(root, keys=_keys(root, dev))
    n0 = 16 if op == "add_new_bucket" else 18
    if op == "delete_bucket":
        n0 = 17  # index 16 is alone in bucket 1
    for i in range(n0):
        _add(s, "user%d" % i, "Iss%d" % (i % 4), kind=("totp", "hotp")[i % 2],
             counter=i, secret=os.urandom(10 + i))
    gone = []  # secrets that must not survive in the files once new
    ghost = os.urandom(30)
    if op == "load":  # leave an orphan and a half-written file to repair
        _add(s, "ghost", "", secret=ghost)
        _unlist_last(s)
        s = mod.Store(root, keys=_keys(root, dev))
        with open(_bf(root, "b000.new"), "wb") as f:
            f.write(os.urandom(500))
    old = _dump(s)
    if op in ("delete", "delete_bucket", "delete_nospace"):
        gone = [old[16 if op == "delete_bucket" else 5][2]]
    if op == "wipe":
        gone = [a[2] for a in old]
    base = dev.snapshot()
    newsec = os.urandom(32)

    class Store(mod.Store):
        renew_step = 1  # a mark after every bucket: every commit is cut once

    def full_once(st):
        # The next index write fails as if the flash were full until the
        # old index goes; returns what says whether it has.
        trap = [st._index.write]

        def write(n, parts, fav=None):
            st._index.write = trap.pop()
            raise mod.StoreError("storage_full", "no room on flash")
        st._index.write = write
        return trap

    def act():
        st = Store(root, keys=_keys(root, d))
        if op in ("add", "add_new_bucket"):
            st.add("newbie", "NewIss", newsec, "totp", "SHA256", 8, 60, 0)
        elif op == "add_many":  # 16: the rest of bucket 1 and a new bucket 2
            st.add_many([("new%d" % i, "NewIss", newsec[i:], ("totp", "hotp")[i % 2],
                          "SHA256", 8, 60, i) for i in range(16)])
        elif op == "delete":
            st.delete(5)
        elif op == "delete_nospace":
            trap = full_once(st)
            st.delete(5)
            assert not trap
        elif op == "delete_bucket":
            st.delete(16)
        elif op == "set_counter":
            st.set_counter(3, 777)
        elif op == "move":
            st.move(2, 15)
        elif op == "rename":
            st.rename(4, "renamed", "Other")
        elif op == "wipe":
            st.wipe()
        elif op == "renew":  # a new PIN: a new DK, every record resealed under it
            import keystore
            w, v = keystore.derive("2468", b"s" * 16, 10)
            st.keys.set_pin(b"s" * 16, w, v)
            st.renew()
        return st

    def boot(image):
        d = RAMBlockDev(4096, blocks)  # a new device each time: the cut one stays dead
        d.restore(image)
        mount(d)
        return d

    d = boot(base)
    d.writes = 0
    new = _dump(act())
    total = d.writes
    assert total > 0
    assert new != old or op in ("load", "renew")
    seen_old = 0
    seen_new = 0
    for n in range(total + 1):
        d = boot(base)
        d.cut_after(n, torn)
        where = "%s torn=%s cut after %d of %d writes" % (op, torn, n, total)
        try:
            act()
        except Exception as e:  # PowerCut, or what littlefs made of it
            assert d.dead, "%s: %r" % (where, e)  # nothing but the cut may stop it
        done = not d.dead
        assert done == (n == total), where
        d = boot(d.snapshot())
        st = mod.Store(root, keys=_open_keys(root, d))
        st.finish_rekey()  # as the token does once its keys are open (app.Token._settle)
        st.renew()
        assert st.keys.renewal_mark is None and st.keys._old_dk is None, where
        got = _dump(st)
        assert got == old or got == new, where
        assert not done or got == new, where
        assert st.damaged == 0, where
        for name in _tree(root):
            assert not name.endswith(".new"), where
        # (a renewal changes no account: the PIN says which side it is on)
        if (st.keys.pin if op == "renew" else got == new):
            for sec in gone:
                assert not _lingers(root, sec, st.keys), where
            seen_new += 1
        else:
            seen_old += 1
        assert not _lingers(root, ghost, st.keys), where
        # Still a working store: change it and read it back after a reset.
        _add(st, "after", "", secret=b"\x01")
        want = got + [("after", "", b"\x01", "totp", "SHA1", 6, 30, 0)]
        mount(d)
        st = mod.Store(root, keys=_open_keys(root, d))
        assert _dump(st) == want, where
    return {"writes": total, "old": seen_old, "new": seen_new}


SWEEP_OPS = ["add", "add_new_bucket", "add_many", "delete", "delete_bucket", "delete_nospace",
             "set_counter", "move", "rename", "wipe", "renew", "load"]


@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn"])
@pytest.mark.parametrize("op", SWEEP_OPS)
def test_power_cut_sweep(op, torn):
    r = _mp("sweep(store, %r, %r)" % (op, torn), [sweep], timeout=300, heapsize="32M")
    assert r["old"] + r["new"] == r["writes"] + 1
    if op != "load":
        assert r["old"] >= 1 and r["new"] >= 1  # both sides of the commit were hit
