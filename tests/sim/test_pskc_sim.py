"""Issue 18: a PSKC file (here our own export for an MFA server, under a
pre-shared key) imported onto a simulated token: the token then shows the
codes pyotp computes from the file's secrets; the wrong key imports
nothing. Both runtimes."""
import base64
import os

import pyotp
import pytest

from host_tools import exports
from host_tools.exports import Record, number_credentials
from host_tools.simulator import SimulatedToken
from tests.forensics import cli
from tests.sim.test_e2e_sim import code_on_screen, next_hotp, screen_matches
from tests.waiting import screen

PSK = exports.new_psk()


def _totp(r):
    otp = pyotp.TOTP(base64.b32encode(r.secret).decode(), digits=r.digits,
                     digest=r.algorithm.lower(), interval=r.period)
    return lambda t: otp.at(int(t))


@pytest.mark.parametrize("runtime", ["micropython", "circuitpython"], ids=["mp", "cp"])
def test_a_pskc_import_gives_the_codes_pyotp_computes(runtime, tmp_path):
    records = number_credentials([
        Record(serial="TT0000000001", user="a@example.com", name="mail", issuer="Example",
               kind="totp", algorithm="SHA1", digits=6, secret=os.urandom(20)),
        Record(serial="TT0000000001", user="a@example.com", name="vpn", issuer="Corp",
               kind="totp", algorithm="SHA256", digits=6, period=60, secret=os.urandom(32)),
        Record(serial="TT0000000002", user="b@example.com", name="door", issuer="",
               kind="hotp", algorithm="SHA1", digits=6, counter=5, secret=os.urandom(20)),
    ])
    path = str(tmp_path / "seeds.pskc")
    exports.write("pskc", path, records, psk=PSK)
    with SimulatedToken(runtime=runtime) as tok:
        assert cli(tok, "sync-time")[0] == 0
        code, doc = cli(tok, "import", path, "--yes", "--password", "f" * 32)
        assert code == 2 and doc["error"] == "bad_password", doc
        assert "wrong pre-shared key" in doc["message"]
        assert cli(tok, "list")[1]["data"]["count"] == 0  # nothing imported
        code, doc = cli(tok, "import", path, "--yes", "--password", PSK)
        assert code == 0, doc
        for r in records[:2]:
            assert cli(tok, "show", "%s:%s" % (r.issuer, r.name))[0] == 0
            screen(tok, r.name)
            ok, text = screen_matches(tok, _totp(r))
            assert ok, (r.name, text)
        assert cli(tok, "show", "door")[0] == 0
        screen(tok, "door")
        next_hotp(tok)
        hotp = pyotp.HOTP(base64.b32encode(records[2].secret).decode())
        assert code_on_screen(screen(tok, "HOTP #5")) == hotp.at(5)
