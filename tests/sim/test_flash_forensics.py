"""Issue 15: a flash dump opens nothing without the current PIN. The whole
flash image of a simulated token (both runtimes: littlefs on MicroPython;
nvm, the drive and the drive's freed clusters on CircuitPython) is scanned
by host_tools/flashscan.py after each command that changes keys or records,
trying the zero key, every PIN used so far and every stored V against every
record copy on the chip."""
import pytest
import serial

from host_tools import flashscan, pinauth
from host_tools import tokencrypto as tc
from host_tools.simulator import SimulatedToken
from tests.forensics import add, cli, opened
from tests.rawwire import request
from tests.waiting import REPLY_GUARD_S

PINS = ["24681357", "97531864", "11223344"]


@pytest.fixture(params=["micropython", "circuitpython"])
def tok(request):
    t = SimulatedToken(runtime=request.param)
    t.start()
    t.set_time(1_900_000_000)
    yield t
    t.close()


def test_scanner_opens_what_a_token_without_pin_leaves_open(tok):
    # The scan must be able to find something: without a PIN the key is on
    # the flash beside the secrets (docs/security.md says so).
    a, b = add(tok, "a"), add(tok, "b")
    report = flashscan.scan(tok.flash_dump())
    assert report.key_pages and report.records >= 2
    assert {a, b} <= {o.secret for o in report.opened}
    assert a.hex() not in repr(report) and b.hex() not in repr(report)


def test_dump_after_each_change_opens_only_what_the_current_pin_opens(tok):
    a, b = add(tok, "a"), add(tok, "b")
    p1, p2, wrong = PINS
    assert cli(tok, "pin", "set", new_pin=p1)[0] == 0
    # the zero-key copy of DK from before the PIN is gone from the chip
    assert opened(tok, []) == set()
    assert opened(tok, [p1]) == {a, b}

    c = add(tok, "c", pin=p1)
    assert cli(tok, "delete", "a", "--yes", pin=p1)[0] == 0
    assert opened(tok, []) == set()
    assert opened(tok, [p1]) == {b, c}  # the deleted one is gone even with the PIN

    assert cli(tok, "pin", "change", pin=p1, new_pin=p2)[0] == 0
    assert opened(tok, [p1, wrong]) == set()  # the old PIN opens nothing
    assert opened(tok, [p2]) == {b, c}

    assert cli(tok, "wipe", "--yes", pin=p2)[0] == 0
    assert opened(tok, [p1, p2]) == set()

    d = add(tok, "d", pin=p2)
    assert opened(tok, [p2]) == {d}
    assert cli(tok, "pin", "remove", pin=p2)[0] == 0
    # no PIN: open by design, and only what is there now
    assert opened(tok, [p1, p2]) == {d}


def test_a_dump_from_before_the_pin_or_under_an_old_pin_opens_nothing_added_since(tok):
    # Someone read the flash once (before the PIN, or knowing the PIN of
    # then) and reads it again later: what was added after `pin set` or
    # `pin change` must stay shut to what they had.
    p1, p2 = PINS[0], PINS[1]
    a = add(tok, "a")
    before_pin = tok.flash_dump()
    assert cli(tok, "pin", "set", new_pin=p1)[0] == 0
    b = add(tok, "b", pin=p1)
    now = flashscan.opened_secrets(tok.flash_dump(), [], earlier=[before_pin])
    assert b not in now
    under_p1 = tok.flash_dump()
    assert cli(tok, "pin", "change", pin=p1, new_pin=p2)[0] == 0
    c = add(tok, "c", pin=p2)
    now = flashscan.opened_secrets(tok.flash_dump(), [p1], earlier=[before_pin, under_p1])
    assert c not in now
    assert opened(tok, [p2]) == {a, b, c}  # and the owner loses nothing


def test_last_try_erase_leaves_nothing_to_open(tok):
    p1 = PINS[0]
    a = add(tok, "a")
    assert cli(tok, "pin", "set", "--tries", "3", new_pin=p1)[0] == 0
    for _ in range(2):
        assert cli(tok, "sync-time", pin="0000")[1]["error"] == "wrong_pin"
    code, doc = cli(tok, "--allow-last-try", "sync-time", pin="0000")
    assert doc["error"] == "erased", doc
    assert cli(tok, "info")[0] == 0  # answered once the scrub is done
    assert opened(tok, [p1, "0000"]) == set()
    assert a not in tok.flash_dump()


def _recorded_login(tok, pin):
    """What someone listening on the USB cable sees of one login: the
    token's challenge reply and the host's `auth` arguments."""
    with serial.Serial(tok.port, 115200, timeout=REPLY_GUARD_S) as s:
        challenge = request(s, 1, "auth-challenge")["data"]
        args, _ = pinauth.answer_challenge(pin, challenge)
        assert request(s, 2, "auth", **args)["ok"]
    return challenge, args


def test_a_recorded_login_and_a_dump_open_nothing(tok):
    # Issue 15 #3: with V on the flash, a session key made from V and the
    # challenge alone opened W from a recorded login. Now it also needs
    # the X25519 secret of that login, which only ever existed in RAM.
    pin = PINS[0]
    add(tok, "a")
    assert cli(tok, "pin", "set", new_pin=pin)[0] == 0
    challenge, args = _recorded_login(tok, pin)
    dump = tok.flash_dump()
    c, theirs, ours = (bytes.fromhex(x) for x in (challenge["challenge"], challenge["public"],
                                                   args["public"]))
    sealed = bytes.fromhex(args["key"])
    tried = 0
    at = dump.find(b"TKKA")
    while at >= 0:
        v = dump[at + 40:at + 72]  # flashscan's page layout
        for sk in (tc.hmac_sha256(v, b"session" + c),  # the old scheme
                   tc.hmac_sha256(v, b"session" + c + theirs + ours),
                   *(tc.hmac_sha256(v, b"session" + c + theirs + ours + z)
                     for z in (bytes(32), theirs, ours)), v):
            tried += 1
            with pytest.raises(tc.CryptoError):
                tc.unseal(sk, sealed, c)
        at = dump.find(b"TKKA", at + 1)
    assert tried >= 6
    assert opened(tok, []) == set()
