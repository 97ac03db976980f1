"""Shared by the flash-forensics tests: run provision.py against a simulated
token as a user would, and ask host_tools/flashscan.py what a dump opens."""
import base64
import contextlib
import io
import json
import os
import time

from host_tools import flashscan, provision
from tests.waiting import REPLY_GUARD, screen

FINGER_LIFT_S = 0.3  # a finger lifts off the button and comes down again


@contextlib.contextmanager
def pins_in_env(pin=None, new_pin=None):
    """$TOKEN_PIN / $TOKEN_NEW_PIN set (or unset, for None) inside the block
    only, as a script would give them."""
    env = {"TOKEN_PIN": pin, "TOKEN_NEW_PIN": new_pin}
    saved = {k: os.environ.get(k) for k in env}

    def put(values):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    put(env)
    try:
        yield
    finally:
        put(saved)


def cli(tok, *args, pin=None, new_pin=None):
    """(exit code, the last JSON line) of `provision.py --json ARGS`, with
    the PINs in the environment for this call only."""
    out = io.StringIO()
    with pins_in_env(pin, new_pin), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(io.StringIO()):
        code = provision.main(["--port", tok.port, "--json", "--timeout", REPLY_GUARD] + list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (json.loads(lines[-1]) if lines else {})


def add(tok, name, pin=None):
    """Add an account with a random secret; returns the secret."""
    secret = os.urandom(20)
    code, doc = cli(tok, "add", name, "--secret", base64.b32encode(secret).decode(), pin=pin)
    assert code == 0, doc
    return secret


def opened(tok, pins, earlier=()):
    """The secrets a dump of tok's flash opens for someone who knows `pins`."""
    return flashscan.opened_secrets(tok.flash_dump(), pins, earlier)


def confirm_factory_reset(tok):
    """The maintenance screen asks to PRESS to ERASE (the button still held
    from power-up): let go, press, and wait for the token to start afresh."""
    screen(tok, "PRESS to ERASE")
    tok.hold_button(False)
    time.sleep(FINGER_LIFT_S)
    tok.hold_button(True)
    screen(tok, "ERASED")
    tok.hold_button(False)
    tok.wait_ready()
