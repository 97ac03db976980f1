"""Issue 15: a power cut at every flash write of each command that changes
keys or records, on both runtimes.

The command runs once on a saved token while the simulator keeps the flash
dump as it stands just before each write lands: exactly what a power cut at
that write leaves on the chip. Every one of those dumps is scanned
(host_tools/flashscan.py: every key-page copy under the zero key, each PIN
used and each stored V, against every record copy): someone without the
current PIN opens nothing, and what each PIN opens only ever moves forward
(a removed account never opens again, a replaced PIN never opens again).

Booting from a dump is what costs time, so that is done at the writes where
what the dump opens changes (just before and just after), at the first and
last write and at a few between: the token cuts at that write, boots, and
then works and has lost nothing it had not been told to drop; once the owner
has unlocked (the unlock finishes a rekey a cut interrupted), an account no
longer listed opens for nobody, the owner included."""
import base64
import os
import shutil
import time

import pytest

from host_tools import flashscan
from host_tools.simulator import SimulatedToken, SimulatorError
from tests.forensics import add, cli, opened
from tests.waiting import HANG_GUARD_S, power_cut, screen, wait_for

PIN, NEW_PIN, WRONG = "24681357", "97531864", "11223344"
RUNTIMES = ["micropython", "circuitpython"]
KEYS = ([], [PIN], [NEW_PIN], [WRONG])  # no PIN, the first PIN, the new one, a wrong one
WINDOW = 2  # writes between programming a key page and erasing the old one
RELEASE_SEEN_S = 0.1  # past the maintenance screen's 50 ms debounce (bootmodes/factory.py)
BETWEEN = 2  # boots at evenly spaced writes besides the ones where the dump changes


def _listed(tok, pin):
    code, doc = cli(tok, "list", pin=pin)
    assert code == 0, doc
    return {a["name"] for a in doc["data"]["accounts"]}


def _opens(dump, ctx):
    """For each of KEYS, the names of the accounts `dump` opens, as a string."""
    names = {secret: name for name, secret in ctx.items()}
    return tuple("".join(sorted(names.get(s, "?") for s in flashscan.opened_secrets(dump, pins)))
                 for pins in KEYS)


def _moves_forward(states):
    """No state comes back once the dumps have moved on from it."""
    left = set()
    for before, now in zip(states, states[1:]):
        if now != before:
            assert now not in left, "the dumps went back to %r" % (now,)
            left.add(before)


def _old_page_goes_at_once(dumps, written):
    """A commit programs the new key page, then erases the one before: two
    copies stand on the flash for at most WINDOW writes in a row."""
    run = 0
    for i, n in enumerate(written):
        two = len(flashscan.scan(dumps[n]).key_pages) > 1
        run = run + 1 if two and i and written[i - 1] == n - 1 else int(two)
        assert run <= WINDOW, "write %d: the replaced key page is still on the flash" % n


def _boots_at(states, count, between=BETWEEN):
    """Which cuts to boot from: 1-based write numbers around every change."""
    picks = {1, count, *(count * k // (between + 1) for k in range(1, between + 1))}
    for n in range(1, len(states)):
        if states[n] != states[n - 1]:
            picks.update((n, n + 1))  # states[n] is the dump a cut at write n + 1 leaves
    return sorted(n for n in picks if 1 <= n <= count)


def _sweep(tmp_path, runtime, setup, act, check, first, last, pick=None, ready=None,
           between=BETWEEN, **sim):
    """setup(tok) -> ctx {name: secret} on a new token, saved; act(tok, ctx)
    once, the dump before every (or every picked) write kept; `first` and
    `last`: what KEYS open before and after the command. Then boot from a
    cut at the chosen writes and check(tok, ctx, done). ready(tok), when
    given, brings the token to where the command starts (e.g. a power-up
    with the button held) before the writes are counted."""
    base = str(tmp_path / "base")
    with SimulatedToken(data_dir=base, runtime=runtime, **sim) as tok:
        tok.set_time(1_900_000_000)
        ctx = setup(tok)
    work = str(tmp_path / "work")
    shutil.copytree(base, work)
    with SimulatedToken(data_dir=work, runtime=runtime, **sim) as tok:
        if ready:
            ready(tok)
        dumps = tok.dumps_before_writes(pick or (lambda n: True))
        act(tok, ctx)
        tok.bus.before_flash_write = None
        final = tok.flash_dump()
        check(tok, ctx, True)
    count = max(dumps)
    assert count >= 1, "the command wrote nothing"
    written = sorted(dumps)
    states = [_opens(dumps[n], ctx) for n in written] + [_opens(final, ctx)]
    assert states[0] == first, states[0]
    assert states[-1] == last, states[-1]
    for n, state in zip(written + ["end"], states):
        assert state[3] == state[0], "write %s: a wrong PIN opens more than none" % n
    _moves_forward(states)
    _old_page_goes_at_once(dumps, written)
    for i in _boots_at(states, len(written), between):
        n = written[i - 1]
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work)
        with SimulatedToken(data_dir=work, runtime=runtime, **sim) as tok:
            if ready:
                ready(tok)
            tok.cut_power_at_write(n)
            try:
                act(tok, ctx)
            except Exception:  # the pty hung up under the client: the power went
                pass
            assert power_cut(tok), "no cut at write %d" % n
            tok.restart()
            try:
                check(tok, ctx, False)
            except AssertionError as e:
                raise AssertionError("after a cut at write %d: %s" % (n, e)) from e
    return written


def _accounts(tok, names, pin=None):
    return {name: add(tok, name, pin=pin) for name in names}


def _pinned(*names):
    """A setup: accounts `names` added, then the PIN set."""
    def setup(tok):
        ctx = _accounts(tok, names)
        assert cli(tok, "pin", "set", new_pin=PIN)[0] == 0
        return ctx
    return setup


def _shut_to_others(tok, ctx, current, unsent=()):
    """Nobody without `current` opens anything; with it, what is listed,
    and (once the owner has unlocked) nothing that was removed. `unsent`:
    accounts whose add the cut stopped; the owner handed those secrets to
    the token, so a copy only the owner's PIN opens may stay behind."""
    others = [p for p in (PIN, NEW_PIN, WRONG) if p != current]
    assert opened(tok, others) == set()
    if current is not None:  # an unlock: the token finishes what the cut stopped
        code, doc = cli(tok, "--allow-last-try", "sync-time", pin=current)
        assert code == 0, doc
    listed = _listed(tok, current)
    got = opened(tok, [current])
    assert {ctx[name] for name in listed} <= got
    gone = {s for name, s in ctx.items() if name not in listed and name not in unsent}
    assert not gone & got, "an account no longer listed still opens"
    return listed


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_pin_set(tmp_path, runtime):
    def setup(tok):
        return _accounts(tok, ["a", "b"])

    def check(tok, ctx, done):
        pin = PIN if cli(tok, "info")[1]["data"]["auth"]["pin"] else None
        assert not done or pin
        if pin:  # the zero-key copies left the chip with the first commit
            assert opened(tok, []) == set()
            assert _shut_to_others(tok, ctx, PIN) == {"a", "b"}
        else:
            assert _listed(tok, None) == {"a", "b"}
    _sweep(tmp_path, runtime, setup, lambda tok, ctx: cli(tok, "pin", "set", new_pin=PIN),
           check, first=("ab", "ab", "ab", "ab"), last=("", "ab", "", ""))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_pin_change(tmp_path, runtime):
    setup = _pinned("a", "b")

    def check(tok, ctx, done):
        current = NEW_PIN if cli(tok, "sync-time", pin=PIN)[0] != 0 else PIN
        assert not done or current == NEW_PIN
        assert opened(tok, []) == set()
        assert _shut_to_others(tok, ctx, current) == {"a", "b"}
    _sweep(tmp_path, runtime, setup,
           lambda tok, ctx: cli(tok, "pin", "change", pin=PIN, new_pin=NEW_PIN), check,
           first=("", "ab", "", ""), last=("", "", "ab", ""))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_pin_remove(tmp_path, runtime):
    # Without a PIN the key is beside the secrets (docs/security.md): what
    # must hold is that the token is one or the other, and loses nothing.
    setup = _pinned("a", "b")

    def check(tok, ctx, done):
        pin = cli(tok, "info")[1]["data"]["auth"]["pin"]
        assert not done or not pin
        if pin:
            assert opened(tok, []) == set()
            assert _shut_to_others(tok, ctx, PIN) == {"a", "b"}
        else:
            assert _listed(tok, None) == {"a", "b"}
            assert opened(tok, []) == set(ctx.values())
    _sweep(tmp_path, runtime, setup, lambda tok, ctx: cli(tok, "pin", "remove", pin=PIN),
           check, first=("", "ab", "", ""), last=("ab", "ab", "ab", "ab"))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_add(tmp_path, runtime):
    setup = _pinned("a")

    secret = os.urandom(20)  # the same every round, so the check knows it

    def act(tok, ctx):
        ctx["n"] = secret
        cli(tok, "add", "n", "--secret", base64.b32encode(secret).decode(), pin=PIN)

    def check(tok, ctx, done):
        listed = _shut_to_others(tok, ctx, PIN, unsent=() if done else ("n",))
        assert "a" in listed and (not done or "n" in listed)
    _sweep(tmp_path, runtime, setup, act, check,
           first=("", "a", "", ""), last=("", "an", "", ""))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_delete(tmp_path, runtime):
    setup = _pinned("a", "b", "c")

    def check(tok, ctx, done):
        listed = _shut_to_others(tok, ctx, PIN)
        assert {"a", "c"} <= listed and (not done or "b" not in listed)
    _sweep(tmp_path, runtime, setup, lambda tok, ctx: cli(tok, "delete", "b", "--yes", pin=PIN),
           check, first=("", "abc", "", ""), last=("", "ac", "", ""))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_wipe(tmp_path, runtime):
    setup = _pinned("a", "b")

    def check(tok, ctx, done):
        listed = _shut_to_others(tok, ctx, PIN)
        assert listed in ({"a", "b"}, set()) and (not done or not listed)
    _sweep(tmp_path, runtime, setup, lambda tok, ctx: cli(tok, "wipe", "--yes", pin=PIN), check,
           first=("", "ab", "", ""), last=("", "", "", ""))


def _scrub_pick(n):
    # The scrub writes the whole free flash block by block, each write like
    # the one before: every write up to the start of the fill, then every 29th.
    return n <= 15 or n % 29 == 0


@pytest.fixture
def small_flash(monkeypatch):
    """A quarter of the flash (and of the CircuitPython drive): an erase
    fills all free space, at every boot that finishes it too, and the fill
    is the same code whatever its size."""
    monkeypatch.setenv("TOKEN_SIM_FLASH_BLOCKS", "88")
    monkeypatch.setenv("TOKEN_SIM_DRIVE_BYTES", str(256 * 1024))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_wipe_scrub(tmp_path, runtime):
    setup = _pinned("a")

    def check(tok, ctx, done):
        listed = _shut_to_others(tok, ctx, PIN)
        assert listed in ({"a"}, set()) and (not done or not listed)
        if done:  # the old record copies went with the free flash
            assert flashscan.scan(tok.flash_dump()).records == 0
    _sweep(tmp_path, runtime, setup,
           lambda tok, ctx: cli(tok, "wipe", "--scrub", "--yes", pin=PIN), check,
           first=("", "a", "", ""), last=("", "", "", ""), pick=_scrub_pick)


def _one_try_left(tok):
    """A setup: account "a", the PIN set with 3 tries, and 2 of them spent."""
    ctx = _accounts(tok, ["a"])
    assert cli(tok, "pin", "set", "--tries", "3", new_pin=PIN)[0] == 0
    for _ in range(2):
        assert cli(tok, "sync-time", pin=WRONG)[1]["error"] == "wrong_pin"
    return ctx


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_last_try_erase(tmp_path, runtime):
    """Issue 15 #4 too: whatever the cut, the token is either erased (and
    opens nothing) or still has its PIN with a try left that the right PIN
    uses; never a PIN with no tries that even the right PIN cannot open."""
    def check(tok, ctx, done):
        auth = cli(tok, "info")[1]["data"]["auth"]
        if auth["pin"]:
            assert not done and auth["tries_left"] >= 1, auth
            assert _shut_to_others(tok, ctx, PIN) == {"a"}
        else:
            assert auth["erased"], auth
            assert opened(tok, [PIN, WRONG]) == set()
            assert _listed(tok, None) == set()
    _sweep(tmp_path, runtime, _one_try_left,
           lambda tok, ctx: cli(tok, "--allow-last-try", "sync-time", pin=WRONG), check,
           first=("", "a", "", ""), last=("", "", "", ""))


def _erased_or_kept(tok, ctx, done, names):
    """After an erase the owner did not need the PIN for (the last try, the
    factory reset): either it is finished (no PIN, nothing listed, nothing
    opens) or nothing was erased yet and the right PIN still opens it all;
    never a token between the two."""
    auth = cli(tok, "info")[1]["data"]["auth"]
    if auth["pin"]:
        assert not done, auth
        assert _shut_to_others(tok, ctx, PIN) == set(names)
    else:
        assert opened(tok, [PIN, WRONG]) == set()
        assert _listed(tok, None) == set()


def _until_answered(tok):
    """Wait for the token to answer `info` again after the erase (its reply
    waits for the free-flash scrub) or for the power to go."""
    wait_for(lambda: not tok.running or cli(tok, "info")[0] == 0, "the erase to end")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_button_last_try_erase(tmp_path, runtime, small_flash):
    """The last wrong PIN typed on the button: the same erase as the host's
    (app.Token._erased), started by another path, so the scans run again,
    the free-flash fill sampled like wipe --scrub's, on a small flash; boots only around the
    changes (the boot path is the one
    test_cut_last_try_erase already walks at evenly spaced writes)."""
    def act(tok, ctx):
        try:
            tok.enter_pin("0000")  # the shortest PIN: a hold a digit, and one on _
        except (TimeoutError, SimulatorError):
            pass  # the power went during the erase letting go of the last hold started
        _until_answered(tok)

    def check(tok, ctx, done):
        _erased_or_kept(tok, ctx, done, ["a"])
        if done:
            assert cli(tok, "info")[1]["data"]["auth"]["erased"]
    _sweep(tmp_path, runtime, _one_try_left, act, check,
           first=("", "a", "", ""), last=("", "", "", ""), pick=_scrub_pick, between=0)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cut_factory_reset(tmp_path, runtime, small_flash):
    """The factory reset from the maintenance screen (no PIN asked: it is
    for a lost one), cut at every picked write; its fill of the free flash
    is sampled like wipe --scrub's, on a small flash."""
    def ready(tok):
        tok.stop()
        tok.start(held=True)
        screen(tok, "PRESS to ERASE")
        tok.hold_button(False)
        # Seen released (past factory.py's debounce) before the press that
        # confirms; else the screen waits out its whole window first.
        tok.bus.wait_pin_reads_after(time.monotonic() + RELEASE_SEEN_S, count=2,
                                     timeout=HANG_GUARD_S)

    def act(tok, ctx):
        tok.hold_button(True)
        wait_for(lambda: not tok.running or "ERASED" in tok.screen_text(), "the reset to end")
        tok.hold_button(False)
        if tok.running:
            tok.wait_ready()

    def check(tok, ctx, done):
        _erased_or_kept(tok, ctx, done, ["a", "b"])
    _sweep(tmp_path, runtime, _pinned("a", "b"), act, check,
           first=("", "ab", "", ""), last=("", "", "", ""), pick=_scrub_pick, ready=ready,
           between=0, reset_hold_s=1, reset_confirm_s=30)
