"""Issue 15: commands that change who owns the token wait for a hold on its
button (frames.CONFIRMED). Driven here by hand (auto_confirm off): a hold
runs the command, a short press refuses it and nothing changes."""
import base64
import contextlib
import io
import json
import os
import threading

from host_tools import provision
from host_tools.simulator import SimulatedToken
from tests.waiting import HANG_GUARD_S, REPLY_GUARD, screen


def run_cli(tok, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = provision.main(["--port", tok.port, "--json", "--timeout", REPLY_GUARD] + list(args))
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def in_background(tok, *args):
    result = {}
    t = threading.Thread(target=lambda: result.update(r=run_cli(tok, *args)))
    t.start()
    return t, result


def test_wipe_waits_for_a_hold_and_a_short_press_refuses_it():
    with SimulatedToken(auto_confirm=False) as tok:
        tok.set_time(1_900_000_000)
        secret = base64.b32encode(os.urandom(20)).decode()
        assert run_cli(tok, "add", "keep", "--secret", secret)[0] == 0
        t, result = in_background(tok, "wipe", "--yes")
        assert screen(tok, lambda s: "hold: yes" in s), tok.screen_text()
        tok.press()  # a short press: no
        t.join(HANG_GUARD_S)
        code, doc = result["r"]
        assert code != 0 and doc["error"] == "not_confirmed", doc
        assert run_cli(tok, "list")[1]["data"]["count"] == 1  # nothing changed
        t, result = in_background(tok, "wipe", "--yes")
        assert screen(tok, lambda s: "hold: yes" in s)
        tok.long_press()  # the hold: yes
        t.join(HANG_GUARD_S)
        assert result["r"][0] == 0, result
        assert run_cli(tok, "list")[1]["data"]["count"] == 0
        assert tok.confirmations == 0  # every hold above was the test's own
