"""A part missing at boot: the firmware keeps running, says what is wrong on
whatever still works, and answers `status` (with `fault`) so the host can
tell the user. Before, main.py ended and left a board at the REPL."""
import contextlib
import io
import base64
import os

from host_tools import provision
from host_tools.client import TokenClient
from host_tools.errors import DeviceError
from host_tools.link import SerialLink
from host_tools.simulator import SimulatedToken
from tests.waiting import REPLY_GUARD, REPLY_GUARD_S, screen


def _cli(tok, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = provision.main(["--port", tok.port, "--timeout", REPLY_GUARD] + list(args))
    return rc, out.getvalue(), err.getvalue()


def test_no_display_on_the_bus_keeps_the_token_serving():
    with SimulatedToken(display=None) as tok:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            assert c.status()["fault"] == "display not found at 0x3C"
            assert c.info()["fault"] == "display not found at 0x3C"
            # Everything else still works, as it would with the display back.
            c.request("add", name="n", secret="3132333435363738393031323334353637383930")
            assert [a["name"] for a in c.list_accounts()] == ["n"]
        rc, out, err = _cli(tok, "status")
        assert rc == 0, err
        assert out.splitlines()[0] == "FAULT: display not found at 0x3C"
        assert tok.running


def test_no_rtc_on_the_bus_halts_with_the_reason_on_screen_and_serial():
    with SimulatedToken(rtc=False) as tok:
        with TokenClient(SerialLink(tok.port), timeout=REPLY_GUARD_S) as c:
            assert c.status()["fault"] == "RTC not found at 0x68"
            assert c.info()["fault"] == "RTC not found at 0x68"
            assert c.info()["serial"] == tok.serial  # which token of a fleet is halted
            try:
                c.request("add", name="n", secret=base64.b16encode(os.urandom(10)).decode())
                raise AssertionError("a halted token took an account")
            except DeviceError as e:
                assert e.code == "fault" and "RTC not found at 0x68" in e.message
        text = screen(tok, "FAULT")
        assert "RTC not found" in text
        rc, out, err = _cli(tok, "status")
        assert rc == 0 and "FAULT: RTC not found at 0x68" in out
        assert tok.running
