"""host_tools/client.py (with batching.py, pinsession.py and clockmath.py) against a
fake link, and host_tools/link.py over a pty."""
import os
import time
import types
from collections import deque

import pytest

from firmware import rules
from firmware.protocol import frames
from host_tools import batching
from host_tools import client as client_module
from host_tools.batching import check_fits
from host_tools.client import TokenClient
from host_tools.errors import (DeviceError, LinkLostError, NoDeviceError, NotTokenError,
                               PortBusyError, RequestTooLongError, TokenError)
from host_tools.link import SerialLink
from host_tools.formats.otpauth import Account
from host_tools.mpy import REPO
from tests.waiting import REPLY_GUARD_S

RFC_SHA1 = b"12345678901234567890"


class Refused(Exception):
    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


class FakeToken:
    """A link whose other end is a tiny token built on firmware/protocol/frames.py.

    `noise(line)` returns lines sent before the reply (REPL echo and such);
    `reply=False` makes it send only those."""

    port = "/dev/ttyFAKE"

    def __init__(self, accounts=0, capacity=64, noise=None, reply=True):
        self.accounts = [{"index": i, "name": "user%d" % i, "issuer": "", "kind": "totp",
                          "algorithm": "SHA1", "digits": 6, "period": 30}
                         for i in range(accounts)]
        self.capacity = capacity
        self.noise = noise or (lambda line: [])
        self.reply = reply
        self.inbox = deque()
        self.requests = []  # (id, cmd, args) as the token decoded them
        self.resets = 0
        self.closed = False
        self.device_ms = lambda: 1_700_000_000_000
        self.time_set = []
        self.offsets_reported = []

    # -- the link interface --
    def write(self, data):
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        line = data[:-1]
        self.inbox.extend(self.noise(line))
        if self.reply:
            self.inbox.append(self.answer(line).rstrip(b"\n"))

    def readline(self, deadline):
        assert deadline > time.monotonic() - 60
        return self.inbox.popleft() if self.inbox else None

    def reset_input(self):
        self.resets += 1
        self.inbox.clear()

    def close(self):
        self.closed = True

    # -- the token --
    def answer(self, line):
        try:
            req_id, cmd, args = frames.decode_request(line)
        except frames.FrameError as e:
            return frames.encode_error(e.req_id, e.code, e.message)
        self.requests.append((req_id, cmd, args))
        handler = getattr(self, "cmd_" + cmd.replace("-", "_"), None)
        if handler is None:
            return frames.encode_error(req_id, frames.E_UNKNOWN_CMD, "unknown command")
        try:
            return frames.encode_ok(req_id, handler(**args))
        except Refused as e:
            return frames.encode_error(req_id, e.code, "refused: " + e.code)

    def cmd_info(self):
        return {"firmware": "token", "protocol": 1, "capacity": self.capacity}

    def cmd_add(self, name, secret, issuer="", kind="totp", algorithm="SHA1", digits=6,
                period=30, counter=0, show=True):  # the token's defaults
        if any(a["name"] == name and a["issuer"] == issuer for a in self.accounts):
            raise Refused(frames.E_NAME_TAKEN)
        if len(self.accounts) >= self.capacity:
            raise Refused(frames.E_STORE_FULL)
        self.accounts.append({"index": len(self.accounts), "name": name, "issuer": issuer})
        return {"index": len(self.accounts) - 1, "count": len(self.accounts)}

    def cmd_list(self, start=0, limit=16):
        assert limit <= 16
        return {"total": len(self.accounts), "accounts": self.accounts[start:start + limit]}

    def cmd_delete(self, name, issuer=None):
        raise Refused(frames.E_NOT_FOUND)

    def cmd_get_time(self):
        return {"unix_ms": self.device_ms(), "lost": False}

    def cmd_set_time(self, unix_ms, trim="auto", offset_ms=None):
        self.time_set.append(unix_ms)
        self.offsets_reported.append(offset_ms)
        return {"unix_ms": unix_ms, "before_ms": self.device_ms()}

    def cmd_wipe(self, confirm=None):
        if confirm != "wipe":
            raise Refused(frames.E_BAD_ARGS)
        return {"deleted": len(self.accounts)}


def repl_noise(line):
    # What MicroPython's REPL sends back for a line it can't run.
    return [line, b"Traceback (most recent call last):",
            b'  File "<stdin>", line 1', b"SyntaxError: invalid syntax", b">>> "]


# ---- request / reply matching ----

def test_request_returns_data_with_incrementing_ids():
    token = FakeToken()
    client = TokenClient(token)
    assert client.info()["capacity"] == 64
    assert client.request("info")["firmware"] == "token"
    assert [r[0] for r in token.requests] == [1, 2]
    assert token.resets == 2  # stale input dropped before every request


def test_skips_replies_with_other_ids():
    def stale(line):
        req_id = frames.decode_request(line)[0]
        return [frames.encode_ok(req_id - 1, {"capacity": -1}).rstrip(b"\n"),
                frames.encode_ok(req_id + 100, {"capacity": -2}).rstrip(b"\n"),
                frames.encode_error(None, frames.E_BAD_JSON, "x").rstrip(b"\n")]
    client = TokenClient(FakeToken(noise=stale))
    assert client.info()["capacity"] == 64
    assert client.info()["capacity"] == 64


def test_skips_repl_noise_and_request_echo():
    noise = [b"", b">>> ", b"MPY: soft reboot", b"TOK< {broken json", b"TOK< [1, 2]",
             b"TOK< {\"id\": 1}", b"\xff\xfe garbage"]
    token = FakeToken(noise=lambda line: [line] + repl_noise(line) + noise)
    assert TokenClient(token).info()["capacity"] == 64


def test_only_repl_noise_means_not_token_firmware():
    token = FakeToken(noise=repl_noise, reply=False)
    with pytest.raises(NotTokenError) as e:
        TokenClient(token, timeout=0.5).info()
    assert e.value.code == "not_token" and e.value.exit_code == 3
    assert "/dev/ttyFAKE answered, but not as token firmware" in e.value.message
    assert "REPL" in e.value.message


def test_silence_means_did_not_answer():
    with pytest.raises(NotTokenError) as e:
        TokenClient(FakeToken(reply=False), timeout=0.5).info()
    assert e.value.code == "no_answer" and e.value.exit_code == 3
    assert "/dev/ttyFAKE did not answer within 0.5 s" in e.value.message


def test_silence_after_a_reply_is_a_timeout_of_that_request():
    token = FakeToken()
    client = TokenClient(token, timeout=0.5)
    client.info()
    token.reply = False
    with pytest.raises(NotTokenError) as e:
        client.status()
    assert e.value.code == "no_answer"
    assert "did not answer 'status'" in e.value.message


def test_each_request_gets_its_own_deadline(monkeypatch):
    # The client's clock is ours: deadlines are checked exactly, not against
    # however long a busy machine took between two lines.
    t0 = time.monotonic()
    now = [t0]
    monkeypatch.setattr(client_module, "time",
                        types.SimpleNamespace(monotonic=lambda: now[0], time=time.time))
    seen = []

    class Recorder(FakeToken):
        def readline(self, deadline):
            seen.append(deadline)
            return FakeToken.readline(self, deadline)
    client = TokenClient(Recorder(), timeout=2.5)
    client.info()
    now[0] += 7.0
    client.info()
    assert seen == [t0 + 2.5, (t0 + 7.0) + 2.5]


def test_real_timeout_over_a_silent_pty():
    master, slave = os.openpty()
    try:
        with SerialLink(os.ttyname(slave)) as link:
            client = TokenClient(link, timeout=0.3)
            start = time.monotonic()
            with pytest.raises(NotTokenError, match="did not answer"):
                client.info()
            # It waited its timeout (how much longer depends on the machine's load).
            assert time.monotonic() - start >= 0.3
            # The request did go out, framed.
            assert os.read(master, 1000).startswith(frames.REQ_PREFIX)
    finally:
        os.close(master)
        os.close(slave)


class TornOnce(FakeToken):
    """Stray bytes reach the token with the first `torn` frames, and a token
    that can't skip them answers an id-null bad_frame."""

    def __init__(self, torn=1, code=frames.E_BAD_FRAME, **kw):
        FakeToken.__init__(self, **kw)
        self.torn = torn
        self.code = code
        self.writes = 0

    def answer(self, line):
        self.writes += 1
        if self.writes <= self.torn:
            return frames.encode_error(None, self.code, "not a request frame")
        return FakeToken.answer(self, line)


@pytest.mark.parametrize("code", [frames.E_BAD_FRAME, frames.E_BAD_JSON])
def test_an_id_null_frame_error_resends_once(code):
    token = TornOnce(code=code)
    client = TokenClient(token, timeout=30)
    assert client.info()["capacity"] == 64
    assert token.writes == 2 and [r[1] for r in token.requests] == ["info"]
    assert client.info()["capacity"] == 64  # the next request is not resent
    assert token.writes == 3


def test_a_second_frame_error_is_not_resent_again():
    token = TornOnce(torn=5)
    with pytest.raises(NotTokenError, match="did not answer 'info'"):
        TokenClient(token, timeout=0.5).info()
    assert token.writes == 2


def test_the_reply_behind_a_junk_lines_error_is_taken_without_a_resend():
    def junk_line_first(line):
        return [frames.encode_error(None, frames.E_BAD_FRAME, "x").rstrip(b"\n")]
    token = FakeToken(noise=junk_line_first)
    writes = []
    write = token.write
    token.write = lambda data: (writes.append(data), write(data))
    assert TokenClient(token).info()["capacity"] == 64
    assert len(writes) == 1


@pytest.mark.parametrize("where", ["readline", "write", "reset_input"])
def test_link_lost_propagates(where):
    lost = LinkLostError("lost the link to the token on /dev/ttyFAKE")
    token = FakeToken()

    def boom(*args):
        raise lost
    setattr(token, where, boom)
    with pytest.raises(LinkLostError) as e:
        TokenClient(token).info()
    assert e.value is lost and e.value.exit_code == 3


# ---- device errors ----

def test_device_error_carries_the_code():
    token = FakeToken()
    client = TokenClient(token)
    account = Account(name="alice", issuer="ACME", secret=RFC_SHA1)
    assert client.add(account) == {"index": 0, "count": 1}
    with pytest.raises(DeviceError) as e:
        client.add(account)
    assert e.value.code == "name_taken" and e.value.exit_code == 1
    assert e.value.message == "refused: name_taken"
    with pytest.raises(DeviceError) as e:
        client.delete("nobody")
    assert e.value.code == "not_found"
    assert isinstance(e.value, TokenError)


def test_device_error_without_details_still_names_something():
    def bare(line):
        req_id = frames.decode_request(line)[0]
        return [b'TOK< {"id": %d, "ok": false}' % req_id]
    with pytest.raises(DeviceError) as e:
        TokenClient(FakeToken(noise=bare, reply=False)).info()
    assert e.value.code == "internal" and e.value.message


def test_full_store():
    token = FakeToken(accounts=2, capacity=2)
    with pytest.raises(DeviceError) as e:
        TokenClient(token).add(Account(name="x", secret=RFC_SHA1))
    assert e.value.code == "store_full"


# ---- commands on the wire ----

def test_add_sends_the_protocol_arguments():
    token = FakeToken()
    TokenClient(token).add(Account(name="bob", issuer="Corp", secret=RFC_SHA1, kind="hotp",
                                   algorithm="SHA256", digits=8, counter=5))
    assert token.requests[0][1:] == ("add", {
        "name": "bob", "issuer": "Corp", "secret": RFC_SHA1.hex(), "kind": "hotp",
        "algorithm": "SHA256", "digits": 8, "counter": 5})


def test_add_refuses_invalid_accounts_before_sending():
    token = FakeToken()
    with pytest.raises(ValueError, match="digits"):
        TokenClient(token).add(Account(name="x", secret=RFC_SHA1, digits=9))
    assert token.requests == [] and token.inbox == deque()


def test_largest_valid_account_fits_a_frame():
    # Each 2-byte letter costs 6 bytes as a JSON escape; the limit leaves room.
    account = Account(name="ж" * 20, issuer="ж" * 20, secret=os.urandom(64),
                      algorithm="SHA512", digits=8, period=86400)
    account.validate()
    check_fits("add", account.to_args())


def test_request_longer_than_a_frame_is_refused_before_sending():
    token = FakeToken()
    with pytest.raises(RequestTooLongError) as e:
        TokenClient(token).request("delete", name="x" * 1100)
    assert e.value.exit_code == 2 and e.value.code == "frame_too_long"
    assert token.requests == [] and token.resets == 0


def test_delete_wipe_and_set_time_arguments():
    token = FakeToken(accounts=3)
    client = TokenClient(token)
    with pytest.raises(DeviceError):
        client.delete("alice", issuer="ACME")
    with pytest.raises(DeviceError):
        client.delete("ACME:alice")
    assert client.wipe() == {"deleted": 3}
    client.set_time(1234.0)
    assert [r[1:] for r in token.requests] == [
        ("delete", {"name": "alice", "issuer": "ACME"}),
        ("delete", {"name": "ACME:alice"}),
        ("wipe", {"confirm": "wipe"}),
        ("set-time", {"unix_ms": 1234, "trim": "auto"}),
    ]


P = rules.LIST_PAGE


@pytest.mark.parametrize("total, pages", [(0, 1), (1, 1), (P, 1), (P + 1, 2), (5 * P, 5)])
def test_list_pages_until_total(total, pages):
    token = FakeToken(accounts=total)
    accounts = TokenClient(token).list_accounts()
    assert [a["index"] for a in accounts] == list(range(total))
    assert [r[2] for r in token.requests] == [
        {"start": P * i, "limit": P} for i in range(pages)]


def test_list_stops_when_the_store_shrinks_mid_way():
    class Shrinking(FakeToken):
        def cmd_list(self, start=0, limit=16):
            data = FakeToken.cmd_list(self, start, limit)
            del self.accounts[16:]  # someone deleted accounts between pages
            data["total"] = 40
            return data
    accounts = TokenClient(Shrinking(accounts=40)).list_accounts()
    assert len(accounts) == 16


def test_close_and_context_manager_close_the_link():
    token = FakeToken()
    with TokenClient(token) as client:
        client.info()
    assert token.closed


# ---- sync_time ----

class FakeClock:
    """Host wall clock; the fake token advances it while requests are in flight,
    half of each round trip on the way there and half on the way back."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def clocked_token(clock, offset_ms, rtts_ms, lost=False):
    token = FakeToken()
    rtts = deque(rtts_ms)
    state = {"offset": offset_ms}

    def answer(line):
        half = rtts.popleft() / 2000
        clock.now += half
        reply = FakeToken.answer(token, line)
        clock.now += half
        return reply

    def get_time():
        return {"unix_ms": round(clock.now * 1000 + state["offset"]),
                "lost": lost and not token.time_set}

    def set_time(unix_ms, trim="auto", offset_ms=None):
        token.time_set.append(unix_ms)
        token.offsets_reported.append(offset_ms)
        state["offset"] = unix_ms - clock.now * 1000  # the token now holds this time
        return {"unix_ms": unix_ms, "before_ms": None}
    token.answer = answer
    token.cmd_get_time = get_time
    token.cmd_set_time = set_time
    return token


def test_sync_time_arithmetic():
    clock = FakeClock(1_700_000_000.0)
    # Five get-time samples (fastest is 4 ms), set-time (4 ms), five more samples.
    # Even round trips put the token's whole-ms reading exactly at the midpoint.
    token = clocked_token(clock, offset_ms=1500, rtts_ms=[10, 4, 20, 6, 8, 4, 8, 6, 12, 4, 30])
    result = TokenClient(token).sync_time(clock=clock)
    assert result["offset_before_ms"] == 1500.0
    assert result["rtt_ms"] == 4.0
    # Sent: host time at sending + rtt/2 = the host's time when it arrives.
    sent_at = 1_700_000_000.0 + (10 + 4 + 20 + 6 + 8) / 1000
    assert token.time_set == [round(sent_at * 1000 + 2)]
    assert result["written_ms"] == token.time_set[0]
    assert result["offset_after_ms"] == 0.0
    assert [r[1] for r in token.requests] == ["get-time"] * 5 + ["set-time"] + ["get-time"] * 5
    assert token.offsets_reported == [1500.0]  # for the token's drift estimate


class PinnedClient:
    """A client of a token with a PIN, for clockmath: the PIN exchange takes
    15 ms of host time, and set-time is refused outside a session (as the
    real client would then log in and resend the same, now stale, time)."""

    def __init__(self, clock):
        self.clock, self.session, self.pin, self.calls = clock, None, lambda: "1234", []
        self.token_ms = clock() * 1000 + 700  # 700 ms fast

    def info(self):
        self.calls.append("info")
        return {"auth": {"pin": True}}

    def authenticate(self):
        self.calls.append("auth")
        self.clock.now += 0.015
        self.session = object()
        return True

    def get_time(self):
        self.calls.append("get-time")
        return {"unix_ms": round(self.token_ms + (self.clock() - self.start) * 1000)}

    def set_time(self, unix_ms, offset_ms, trim):
        if self.session is None:  # the client logs in, then resends this unix_ms
            self.authenticate()
        self.calls.append("set-time")
        self.token_ms, self.start = unix_ms, self.clock()
        return {"unix_ms": unix_ms}


def test_sync_time_with_a_pin_logs_in_before_it_reads_the_clock():
    """Issue 17: with a PIN, sync-time landed 12-16 ms off: the time to send
    was worked out before the PIN exchange that set-time needed."""
    from host_tools import clockmath
    clock = FakeClock(1_700_000_000.0)
    client = PinnedClient(clock)
    client.start = clock()
    result = clockmath.sync_time(client, clock=clock, samples=1)
    assert client.calls.index("auth") < client.calls.index("get-time"), client.calls
    assert abs(result["offset_after_ms"]) <= 1, result


def test_sync_time_uses_the_fastest_sample():
    clock = FakeClock(1_000_000.0)
    # A slow sample with the token late by 50 ms would skew an average; the fast one wins.
    token = clocked_token(clock, offset_ms=-250, rtts_ms=[100, 2, 100, 100, 100, 2] + [2] * 5)
    result = TokenClient(token).sync_time(clock=clock)
    assert result["offset_before_ms"] == -250.0 and result["rtt_ms"] == 2.0


def test_sync_time_with_lost_clock():
    clock = FakeClock(1_700_000_000.0)
    token = clocked_token(clock, offset_ms=0, rtts_ms=[4] * 11, lost=True)
    result = TokenClient(token).sync_time(clock=clock)
    assert result["offset_before_ms"] is None
    assert result["offset_after_ms"] == 0.0


def test_clock_offset_asymmetric_trip_is_half_the_difference():
    # The token reads its clock 3 ms after sending, the reply takes 1 ms: the
    # midpoint estimate is off by (3 - 1) / 2 = 1 ms, which is what rtt/2 buys.
    clock = FakeClock(1_000.0)
    token = FakeToken()

    def answer(line):
        clock.now += 0.003
        reply = FakeToken.answer(token, line)
        clock.now += 0.001
        return reply
    token.answer = answer
    token.cmd_get_time = lambda: {"unix_ms": round(clock.now * 1000), "lost": False}
    offset, rtt = TokenClient(token).clock_offset(clock=clock, samples=3)
    assert (offset, rtt) == (1.0, 4.0)


# ---- SerialLink over a pseudo-terminal ----

@pytest.fixture
def pty_link():
    master, slave = os.openpty()
    link = SerialLink(os.ttyname(slave))
    os.close(slave)  # pyserial holds its own descriptor
    yield master, link
    link.close()
    try:
        os.close(master)
    except OSError:
        pass


def test_serial_link_lines(pty_link):
    master, link = pty_link
    os.write(master, b"first\r\nsec")
    assert link.readline(time.monotonic() + 1) == b"first"
    assert link.readline(time.monotonic() + 0.1) is None  # partial line kept
    os.write(master, b"ond\n\n")
    assert link.readline(time.monotonic() + 1) == b"second"
    assert link.readline(time.monotonic() + 1) == b""
    link.write(b"TOK> {}\n")
    assert os.read(master, 100) == b"TOK> {}\n"


def test_a_device_gone_is_a_lost_link_at_every_call(pty_link):
    """Issue 18 (a token pulled out during `fleet`): with the device's end
    gone, pyserial's flush raises termios.error, which is no OSError; the
    link must say the link was lost, as it does for a read or a write."""
    master, link = pty_link
    os.close(master)
    for call in (link.reset_input, lambda: link.write(b"x\n"),
                 lambda: link.readline(time.monotonic() + 1)):
        with pytest.raises(LinkLostError):
            call()


def test_serial_link_reset_drops_pending_input(pty_link):
    master, link = pty_link
    os.write(master, b"stale\npart")
    time.sleep(0.05)
    link.readline(time.monotonic() + 0.1)
    link.reset_input()
    os.write(master, b"fresh\n")
    assert link.readline(time.monotonic() + 1) == b"fresh"


def test_serial_link_caps_endless_lines(pty_link):
    master, link = pty_link
    os.write(master, b"x" * 3000)
    os.write(master, b"y" * 7000)
    os.write(master, b"z\n")
    first = link.readline(time.monotonic() + 2)
    assert first == b"x" * 3000 + b"y" * 5192  # cut at MAX_LINE, the rest follows
    assert link.readline(time.monotonic() + 2) == b"y" * 1808 + b"z"


def test_serial_link_lost_when_the_device_vanishes(pty_link):
    master, link = pty_link
    os.close(master)  # like unplugging: reads now fail
    with pytest.raises(LinkLostError, match="lost the link to the token on /dev/pts/"):
        link.readline(time.monotonic() + 1)


def test_a_port_in_use_is_refused_by_name(pty_link):
    master, link = pty_link
    with pytest.raises(PortBusyError) as e:
        SerialLink(link.port)
    assert e.value.code == "port_busy" and e.value.exit_code == 3
    assert e.value.message == "the port %s is in use by another program" % link.port
    link.close()
    SerialLink(link.port).close()  # free again once the first program let go


def test_a_port_in_use_by_another_process(pty_link, tmp_path):
    """flock is per open file: a second process is kept out just the same."""
    import subprocess
    import sys
    master, link = pty_link
    code = ("import sys\nfrom host_tools.link import SerialLink\nfrom host_tools.errors "
            "import PortBusyError\ntry:\n    SerialLink(sys.argv[1])\nexcept PortBusyError:\n"
            "    sys.exit(7)\n")
    repo = REPO
    proc = subprocess.run([sys.executable, "-c", code, link.port], cwd=repo, timeout=60)
    assert proc.returncode == 7


def test_serial_link_open_failure_names_port_and_reason(tmp_path):
    missing = str(tmp_path / "ttyACM9")
    with pytest.raises(NoDeviceError) as e:
        SerialLink(missing)
    assert e.value.message == "cannot open %s: No such file or directory" % missing
    assert e.value.exit_code == 3 and e.value.code == "no_device"


def test_sync_time_fails_when_the_clock_stays_lost():
    clock = FakeClock(1_700_000_000.0)
    token = clocked_token(clock, offset_ms=0, rtts_ms=[4] * 11)
    token.cmd_get_time = lambda: {"unix_ms": 0, "lost": True}
    with pytest.raises(DeviceError) as e:
        TokenClient(token).sync_time(clock=clock)
    assert e.value.code == "clock_lost" and e.value.exit_code == 1


# ---- compact adds and add-many batches ----

def _service_account(args):
    import accountcmd  # firmware/protocol/accountcmd.py: the token's own reading of an add
    return accountcmd.parse_account(args)


@pytest.mark.parametrize("account", [
    Account(name="alice", issuer="ACME", secret=RFC_SHA1),
    Account(name="bare", secret=RFC_SHA1),
    Account(name="steam", issuer="Valve", secret=RFC_SHA1, kind="steam", digits=5),
    Account(name="count", secret=RFC_SHA1, kind="hotp", counter=7),
    Account(name="zero", secret=RFC_SHA1, kind="hotp", counter=0),
    Account(name="long", secret=RFC_SHA1, algorithm="SHA512", digits=8, period=60),
], ids=lambda a: a.name)
def test_compact_add_args_mean_the_same_to_the_token(account):
    # Members left out are the ones the token assumes: it reads the same account.
    compact = batching.compact_args(account)
    assert _service_account(compact) == _service_account(account.to_args())
    assert len(frames.encode_request(1, "add", compact)) < \
        len(frames.encode_request(1, "add", account.to_args()))


def test_batches_keep_order_and_fit_a_request_line():
    accounts = [Account(name="user%03d@example.com" % i, issuer="Issuer %d" % (i % 7),
                        secret=os.urandom(20)) for i in range(40)]
    accounts += [Account(name="n" * 40, issuer="i" * 40, secret=os.urandom(64))
                 for _ in range(12)]
    out = batching.batches(accounts)
    assert [a for b in out for a in b] == accounts
    assert len(out) > 1 and all(1 <= len(b) <= rules.ADD_MANY for b in out)
    for b in out:
        check_fits("add-many", {"accounts": [batching.compact_args(a)
                                             for a in b], "show": False})
    assert max(len(b) for b in out[-3:]) < max(len(b) for b in out[:2])  # long ones: fewer


def test_a_busy_port_is_waited_for_and_opened_once_free(pty_link):
    """Issue 17: two commands at once used to fail at once with "port in
    use": the second waits for the first (provision.py --wait, 10 s by
    default), saying who holds the port when the system can tell."""
    import threading
    from host_tools.link import open_waiting
    master, link = pty_link
    said = []
    threading.Timer(0.5, link.close).start()
    second = open_waiting(link.port, wait_s=REPLY_GUARD_S, on_wait=said.append)
    second.close()
    assert len(said) == 1 and link.port in said[0], said
    assert "pid %d" % os.getpid() in said[0], said  # the holder, from /proc


def test_a_port_still_busy_after_the_wait_fails_as_before(pty_link):
    from host_tools.link import open_waiting
    master, link = pty_link
    with pytest.raises(PortBusyError) as e:
        open_waiting(link.port, wait_s=0.3)
    assert e.value.code == "port_busy" and e.value.exit_code == 3
    assert "in use by another program" in e.value.message
    assert "pid %d" % os.getpid() in e.value.message
    with pytest.raises(PortBusyError):
        open_waiting(link.port, wait_s=0)  # --wait 0: at once, as before
    link.close()
