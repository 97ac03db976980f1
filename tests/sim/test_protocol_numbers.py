"""Numbers in the protocol: non-finite and absurd values are refused at the
door (service.py), and a bad value already stored (drift.py's clock.json)
can't break `status` or `calibrate`."""
import json
import os
import sys
import time

import pytest

from host_tools.mpy import REPO
sys.path.insert(0, os.path.join(REPO, "tests", "mp"))

import drive  # noqa: E402
from firmware.protocol import frames  # noqa: E402
from host_tools.link import SerialLink  # noqa: E402
from tests.waiting import REPLY_GUARD_S


@pytest.fixture(params=["cpython", "micropython"])
def call(request, mp_worker):
    if request.param == "cpython":
        return lambda module, fn, *args: getattr(drive, fn)(*args)
    return mp_worker.call


def _strict_json(value):
    # What a host needs: plain JSON, no bare inf or nan.
    return json.dumps(value, allow_nan=False)


STORED = [
    '{"syncs": [[1800000000, inf, 0]], "ppm": inf}',  # what json.dump(inf) writes on MicroPython
    '{"syncs": [[1800000000, 1e400, 0], [1800086400, 5, 0]], "ppm": 1e400}',
    '{"syncs": [[1800000000, 5, 0]], "ppm": -1e400}',
    '{"syncs": [[1800000000, 5, 0]], "ppm": 1e300}',
    '{"syncs": [["x", 5, 0]], "ppm": 1.0}',
    '{"syncs": [[1800000000, 5]], "ppm": 1.0}',
    '{"syncs": 7, "ppm": 1.0}',
    '{"syncs": [[1800000000, 5, 999]], "ppm": "fast"}',
    '[1, 2]',
    '',
]


@pytest.mark.parametrize("text", STORED, ids=range(len(STORED)))
def test_bad_stored_drift_is_dropped(call, tmp_path, text):
    path = str(tmp_path / "clock.json")
    summary, target, n = call("drive", "drift_from_file", path, text, 1800090000)
    _strict_json(summary)
    assert summary["drift_ppm"] is None and target is None


def test_good_stored_drift_is_kept(call, tmp_path):
    path = str(tmp_path / "clock.json")
    text = '{"syncs": [[1800000000, null, 0], [1800086400, 86.4, 0]], "ppm": 1.0}'
    summary, target, n = call("drive", "drift_from_file", path, text, 1800090000)
    assert summary["drift_ppm"] == 1.0 and target == 10 and n == 2


def test_absurd_measurement_is_not_a_drift(call, tmp_path):
    path = str(tmp_path / "clock.json")
    # 1 h apart: 3.6 ms is 1 ppm; 3.6e6 ms (an hour off) is no crystal's drift.
    measured, ppm = call("drive", "drift_record", path, [None, 3.6, 3.6e6])
    assert measured[1] == pytest.approx(1.0) and measured[2] is None
    assert ppm == pytest.approx(1.0)


@pytest.fixture(scope="module")
def sim():
    from host_tools.simulator import SimulatedToken
    t = SimulatedToken()
    t.start()
    yield t
    t.close()


def _raw(link, line, timeout=REPLY_GUARD_S):
    """Send one raw request line; its reply (the token echoes our id 1)."""
    link.reset_input()
    link.write(line + b"\n")
    deadline = time.monotonic() + timeout
    while True:
        got = link.readline(deadline)
        assert got is not None, "no reply to %r" % line
        reply = frames.decode_reply(got)
        if reply is not None and reply.get("id") == 1:
            return reply


def _req(cmd, args_json):
    return b'TOK> {"v":1,"id":1,"cmd":"%s","args":%s}' % (cmd.encode(), args_json.encode())


@pytest.mark.parametrize("offset", ["1e400", "-1e400", "1e300", "-9e15", '"5"', "true", "[1]"])
def test_set_time_refuses_non_finite_and_absurd_offsets(sim, offset):
    now_ms = int(time.time() * 1000)
    link = SerialLink(sim.port)
    try:
        reply = _raw(link, _req("set-time", '{"unix_ms": %d, "offset_ms": %s}' % (now_ms, offset)))
        assert not reply["ok"] and reply["error"] == "bad_args", reply
        for cmd in ("status", "calibrate", "info"):
            reply = _raw(link, _req(cmd, "{}"))
            assert reply.get("error") != "internal", reply
        # Still plain JSON, and the clock history untouched.
        reply = _raw(link, _req("status", "{}"))
        _strict_json(reply)
        assert reply["data"]["clock"]["drift"]["drift_ppm"] is None
        # A sane measurement is still taken.
        reply = _raw(link, _req("set-time", '{"unix_ms": %d, "offset_ms": 12.5}' % now_ms))
        assert reply["ok"], reply
    finally:
        link.close()


@pytest.mark.parametrize("cmd,args", [
    ("list", '{"start": 1e400}'), ("list", '{"limit": 1e400}'), ("list", '{"start": -1}'),
    ("list", '{"start": 100000}'), ("set-time", '{"unix_ms": 1e400}'),
    ("add", '{"name": "n", "secret": "3132", "digits": 1e400}'),
    ("add", '{"name": "n", "secret": "3132", "period": 1e400}'),
    ("add", '{"name": "n", "secret": "3132", "kind": "hotp", "counter": 1e400}'),
    ("add", '{"name": "n", "secret": "3132", "kind": "hotp", "counter": 1e30}'),
    ("move", '{"name": "n", "to": 1e400}'),
])
def test_every_numeric_argument_is_checked(sim, cmd, args):
    link = SerialLink(sim.port)
    try:
        reply = _raw(link, _req(cmd, args))
        assert not reply["ok"] and reply["error"] in ("bad_args", "not_found"), reply
    finally:
        link.close()
