"""The key area (firmware/flash/keyarea.py, keypages.py) and the keys in it
(firmware/flash/keystore.py), below the simulator: on littlefs over a RAM flash
under the MicroPython unix port, the pages are two blocks of that flash
erased in place, as on a board; a power cut can land at every block write
and erase. What must hold: after every cut the area loads as the old state
or the new one, and once a commit is through (or the next load has finished
it) the old state is nowhere on the chip; no copy of the data key opens
with a PIN that was replaced. The same scenarios run under CPython with the
pages in files."""
import inspect
import os

import pytest

from host_tools.mpy import REPO, run_json

MP_DIR = os.path.join(REPO, "tests", "mp")


# ---------------------------------------------------------------------------
# Shared helpers (shipped to MicroPython as source).

def _new_keys(pages, legacy=None):
    import keyarea
    import keystore
    return keystore.Keystore(keyarea.KeyArea(pages), 10, legacy)


def _dks(image, w):
    """Every data key that some copy of a key page in `image` opens with W."""
    import crypto
    found = []
    i = image.find(b"TKKA")
    while i >= 0:
        page = image[i:i + 4096]
        if len(page) == 4096:
            try:
                found.append(crypto.unseal(w, page[72:128], b"dk"))
            except crypto.CryptoError:
                pass
        i = image.find(b"TKKA", i + 1)
    return found


def _pages_on(image):
    """Valid key pages anywhere in image."""
    import hashlib
    n = 0
    i = image.find(b"TKKA")
    while i >= 0:
        page = image[i:i + 4096]
        if len(page) == 4096 and hashlib.sha256(page[:4092]).digest()[:4] == page[4092:]:
            n += 1
        i = image.find(b"TKKA", i + 1)
    return n


# ---------------------------------------------------------------------------
# Scenarios: scenario(env); env.pages() gives the two pages (on the same
# flash across env.reboot()), env.image() the whole flash as bytes.

def _old_dks(image, w):
    """Every DK that some page copy holds in its renewal slot under W."""
    import crypto
    found = []
    i = image.find(b"TKKA")
    while i >= 0:
        page = image[i:i + 4096]
        if len(page) == 4096 and any(page[4008:4064]):
            try:
                found.append(crypto.unseal(w, page[4008:4064], b"dk"))
            except crypto.CryptoError:
                pass
        i = image.find(b"TKKA", i + 1)
    return found


def scenario_fresh_then_pin(env):
    import keystore
    k = _new_keys(env.pages())
    assert k.created and not k.pin and k.data_key is not None
    dk = k.data_key
    b3 = k.seal_keys(3)
    assert b3 is not None and k.seal_keys(3) is b3  # cached
    assert k.seal_keys(4) != b3
    zero = bytes(32)
    assert _dks(env.image(), zero) == [dk]
    w, v = keystore.derive("24681357", b"s" * 16, 10)
    k.set_pin(b"s" * 16, w, v)
    # A new PIN, a new DK; the old one waits beside it, under the new W,
    # while the records are resealed (store.renew), then goes.
    dk1 = k.data_key
    assert dk1 != dk and k.renewal_mark == 0
    assert k.seal_keys(3) == b3 and k.renewal_keys(3) != b3
    img = env.image()
    assert _dks(img, zero) == [] and _old_dks(img, zero) == [], \
        "a copy of a DK under the zero key outlived pin set"
    assert _dks(img, w) == [dk1] and _old_dks(img, w) == [dk]
    k.renewed(2)
    assert k.renewal_mark == 2 and k.seal_keys(1) == k.renewal_keys(1)
    assert k.seal_keys(3) == b3 and k.other_keys(3) == k.renewal_keys(3)
    k.end_renewal()
    img = env.image()
    assert _old_dks(img, w) == [] and _dks(img, w) == [dk1]
    assert _pages_on(img) == 1
    b3 = k.seal_keys(3)
    env.reboot()
    k = _new_keys(env.pages())
    assert k.pin and k.data_key is None and not k.created
    assert k.seal_keys(3) is None  # locked
    k.unlock_with_pin("24681357")
    assert k.data_key == dk1 and k.seal_keys(3) == b3 and k.renewal_mark is None
    w2, v2 = keystore.derive("1357", b"t" * 16, 10)
    k.set_pin(b"t" * 16, w2, v2)
    dk2 = k.data_key
    img = env.image()
    assert _dks(img, w) == [] and _old_dks(img, w) == []
    assert _dks(img, w2) == [dk2] and _old_dks(img, w2) == [dk1]
    try:
        k.remove_pin()
        raise AssertionError("the PIN went while the records were half resealed")
    except keystore.AuthError as e:
        assert e.code == "busy"
    env.reboot()  # a cut mid-renewal: the next unlock has both DKs again
    k = _new_keys(env.pages())
    k.unlock_with_pin("1357")
    assert k.data_key == dk2 and k.renewal_mark == 0 and k.other_keys(3) is not None
    k.end_renewal()
    k.remove_pin()
    assert _dks(env.image(), w2) == [] and _dks(env.image(), zero) == [dk2]
    return "ok"


def scenario_wrong_pin_and_log(env):
    import keystore
    k = _new_keys(env.pages())
    w, v = keystore.derive("2468", b"s" * 16, 10)
    k.set_pin(b"s" * 16, w, v)
    k.configure(tries_max=3)
    env.reboot()
    k = _new_keys(env.pages())
    seen = []
    k.listen(seen.append, None)
    for left in (2, 1):
        try:
            k.unlock_with_pin("1111")
            raise AssertionError("a wrong PIN opened the keys")
        except keystore.AuthError as e:
            assert e.code == "wrong_pin" and e.tries_left == left
    assert [e.code for e in seen] == ["wrong_pin", "wrong_pin"]
    assert not k.flags & keystore.F_ATTEMPT
    k.unlock_with_pin("2468")
    assert k.tries_left == 3
    # The last wrong try erases: a new DK, no PIN.
    k.lock_screen()
    for pin in ("1", "2"):
        try:
            k.unlock_with_pin(pin * 4)
        except keystore.AuthError:
            pass
    try:
        k.unlock_with_pin("3333")
        raise AssertionError("the last wrong try did not erase")
    except keystore.AuthError as e:
        assert e.code == "erased"
    assert k.erased and not k.pin and k.wiping and k.scrub_due
    assert _dks(env.image(), w) == []
    return "ok"


def scenario_rekey(env):
    k = _new_keys(env.pages())
    old = k.seal_keys(7)
    assert k.pending_bucket is None and k.next_keys() is None
    k.begin_rekey(7)
    env.reboot()
    k = _new_keys(env.pages())
    assert k.pending_bucket == 7
    nxt = k.next_keys()
    assert k.seal_keys(7) == old and nxt != old
    k.end_rekey()
    assert k.pending_bucket is None and k.seal_keys(7) == nxt
    env.reboot()
    k = _new_keys(env.pages())
    assert k.seal_keys(7) == nxt
    return "ok"


def scenario_legacy_key_file(env):
    """Older firmware's `keys` file: its DK, PIN and counter carry over."""
    import crypto
    import keystore
    import struct
    from digests import sha256
    dk = crypto.random_bytes(32)
    salt = b"q" * 16
    w, v = keystore.derive("97531", salt, 10)
    b = bytearray(1024)
    b[:4] = b"TKKY"
    b[4] = 1
    b[5] = keystore.F_PIN
    b[6] = 8
    b[7] = 6
    struct.pack_into(">II", b, 8, 10, 300)
    b[16:32] = salt
    b[32:88] = crypto.seal(w, dk, b"dk")
    b[88:120] = v
    b[1020:] = sha256(b[:1020]).digest()[:4]
    path = env.root + "/keys"
    with open(path, "wb") as f:
        f.write(b)
    k = _new_keys(env.pages(), path)
    assert k.migrated and k.pin and k.legacy and k.tries_left == 6 and k.verifier == v
    try:
        os.stat(path)
        raise AssertionError("the old key file stayed")
    except OSError:
        pass
    k.unlock_with_pin("97531")
    # a new DK for the bucket keys; the old one opens only the old records
    assert k.data_key != dk and k.seal_keys(0) is not None
    assert k.legacy_keys() == crypto.seal_keys(crypto.subkey(dk, b"records"))
    assert _old_dks(env.image(), w) == [dk] and _dks(env.image(), w) == [k.data_key]
    k.end_legacy()
    assert not k.legacy and k.scrub_due
    assert _old_dks(env.image(), w) == [] and _dks(env.image(), w) != [dk]
    return "ok"


SHARED = [_new_keys, _dks, _old_dks, _pages_on]
SCENARIOS = [scenario_fresh_then_pin, scenario_wrong_pin_and_log, scenario_rekey,
             scenario_legacy_key_file]


class _HostEnv:
    """CPython: the pages are files (nothing is erased in place there; the
    image is the two files, which is all there is)."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def pages(self):
        import keypages
        return keypages.file_pages(self.root)

    def image(self):
        out = b""
        for name in ("ka", "kb"):
            with open(os.path.join(self.root, name), "rb") as f:
                out += f.read()
        return out

    def reboot(self):
        pass


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__[9:])
def test_cpython(scenario, tmp_path):
    assert scenario(_HostEnv(str(tmp_path / "data"))) == "ok"


MP_PRELUDE = '''
import os, vfs, json
from ramblockdev import RAMBlockDev
import keypages

class Env:
    """littlefs on a RAM flash; the pages are two of its blocks."""
    def __init__(self, blocks=32):
        self.dev = RAMBlockDev(4096, blocks)
        vfs.VfsLfs2.mkfs(self.dev)
        self.mount()
        self.root = "/flash/data"
        os.mkdir(self.root)

    def mount(self):
        try:
            vfs.umount("/flash")
        except OSError:
            pass
        vfs.mount(vfs.VfsLfs2(self.dev), "/flash")

    def pages(self):
        return keypages.littlefs_pages(self.dev, self.root)

    def image(self):
        return bytes(self.dev.data)

    def reboot(self):
        self.mount()
'''


def _mp(body, funcs=()):
    src = MP_PRELUDE + "\n".join(inspect.getsource(f) for f in list(SHARED) + list(funcs))
    src += "\nprint(json.dumps({'r': " + body + "}))\n"
    return run_json(src, extra_path=[MP_DIR], timeout=120)["r"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__[9:])
def test_micropython_littlefs(scenario):
    assert _mp("%s(Env())" % scenario.__name__, [scenario]) == "ok"


def mp_sweep(torn):
    """A commit (a PIN set, a rekey) cut at every block write and erase: the
    next load has the old state or the new, and the chip then holds exactly
    one valid page, with no copy of DK under a replaced key."""
    import keystore
    env = Env()
    k = _new_keys(env.pages())
    dk = k.data_key
    zero = bytes(32)
    w, v = keystore.derive("2468", b"s" * 16, 10)
    base = env.dev.snapshot()
    seen = {"old": 0, "new": 0}
    n = 0
    while True:
        env.dev.restore(base)
        env.mount()
        k = _new_keys(env.pages())
        env.dev.writes = 0
        env.dev.cut_after(n, torn)
        try:
            k.set_pin(b"s" * 16, w, v)
            done = not env.dev.dead
        except Exception:
            assert env.dev.dead
            done = False
        image = env.dev.snapshot()
        d = RAMBlockDev(4096, env.dev.count)
        d.restore(image)
        env.dev = d
        env.mount()
        k = _new_keys(env.pages())  # the load finishes or forgets the commit
        img = env.image()
        assert _pages_on(img) == 1, n
        if k.pin:
            seen["new"] += 1
            assert _dks(img, zero) == [] and _old_dks(img, zero) == [], n
            assert _old_dks(img, w) == [dk] and len(_dks(img, w)) == 1, n
        else:
            seen["old"] += 1
            assert _dks(img, zero) == [dk] and _dks(img, w) == [], n
        if done:
            assert k.pin
            return [n, seen]
        n += 1


@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn"])
def test_micropython_power_cut_sweep_of_a_commit(torn):
    n, seen = _mp("mp_sweep(%s)" % torn, [mp_sweep])
    assert n >= 2 and seen["old"] >= 1 and seen["new"] >= 1, (n, seen)


def mp_churn(env):
    k = _new_keys(env.pages())
    blocks = [p.block for p in k.area.pages]

    def held():
        return b"".join(bytes(env.dev.data[b * 4096:(b + 1) * 4096]) for b in blocks)
    before = held()
    for round in range(6):
        names = []
        try:
            for i in range(100):
                with open(env.root + "/f%d" % i, "wb") as f:
                    f.write(os.urandom(3000))
                names.append(i)
        except OSError:
            pass  # full
        for i in names:
            os.remove(env.root + "/f%d" % i)
    env.reboot()
    k2 = _new_keys(env.pages())
    return [held() == before, [p.block for p in k2.area.pages] == blocks,
            k2.data_key == k.data_key, k2.created]


def test_micropython_pages_are_blocks_owned_by_files():
    """littlefs never hands a page's block to anything else: after filling
    and emptying the flash many times, the pages are where they were."""
    assert _mp("mp_churn(Env())", [mp_churn]) == [True, True, True, False]
