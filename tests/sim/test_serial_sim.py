"""Issue 18: each token has a serial number, from its chip's unique id,
shown by `info` (the reply, the CLI's text and --json) and on the
maintenance screen; a wipe, a factory reset and a restart keep it, and two
tokens differ. Both runtimes."""
import contextlib
import io
import re

import pytest

from firmware import rules
from host_tools import provision
from host_tools.simulator import SimulatedToken
from tests.forensics import add, cli, confirm_factory_reset
from tests.waiting import REPLY_GUARD_S, screen

RUNTIMES = pytest.mark.parametrize("runtime", ["micropython", "circuitpython"], ids=["mp", "cp"])


def _info_text(tok):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = provision.main(["--port", tok.port, "--timeout", str(REPLY_GUARD_S), "info"])
    assert code == 0
    return out.getvalue()


def _serial(tok):
    code, doc = cli(tok, "info")
    assert code == 0, doc
    return doc["data"]["serial"]


@RUNTIMES
def test_the_serial_survives_a_wipe_a_factory_reset_and_restarts(runtime, tmp_path):
    tok = SimulatedToken(data_dir=str(tmp_path / "tok"), runtime=runtime, reset_hold_s=2,
                         reset_confirm_s=4)
    try:
        tok.start()
        serial = _serial(tok)
        assert re.fullmatch("TT[0-9A-HJKMNP-TV-Z]{10}", serial)
        assert serial == tok.serial  # the simulated chip's id, through the runtime
        assert re.search(r"^serial:\s+%s$" % serial, _info_text(tok), re.M)
        add(tok, "alice")
        assert cli(tok, "wipe", "--yes")[0] == 0
        tok.restart()
        assert _serial(tok) == serial
        add(tok, "bob")
        tok.stop()
        # The maintenance screen shows it too, and a factory reset keeps it.
        tok.start(held=True)
        screen(tok, "SN " + serial)
        confirm_factory_reset(tok)
        assert cli(tok, "list")[1]["data"]["count"] == 0
        assert _serial(tok) == serial
    finally:
        tok.close()


@RUNTIMES
def test_two_tokens_have_two_serials(runtime):
    with SimulatedToken(runtime=runtime) as one, SimulatedToken(runtime=runtime) as two:
        first, second = _serial(one), _serial(two)
    assert first != second
    assert {len(first), len(second)} == {len(rules.SERIAL_PREFIX) + rules.SERIAL_DIGITS}
