# Drives firmware/flash/keystore.py's host session on a clock the test moves
# (issue 15 #5), from plain data (bytes as hex through tests/mp/worker.py),
# so the same steps run under CPython and inside MicroPython.
import crypto
import keypages
import keystore
from ephemeral import Ephemeral
from keyarea import KeyArea

_now = [0]
_keys = [None]


def _ticks_ms():
    return _now[0]


def _ticks_diff(a, b):
    return a - b


def new(root):
    """A token's keystore in files under `root`, its clock at 0 ms."""
    _now[0] = 0
    _keys[0] = keystore.Keystore(KeyArea(keypages.file_pages(root)), 10, None,
                                 Ephemeral(crypto.random_bytes), _ticks_ms, _ticks_diff)
    return _keys[0].pin


def set_pin(salt, w, v):
    k = _keys[0]
    k.set_pin(salt, w, v)
    k.end_renewal()  # no records to reseal
    k.end_session()
    k.lock_screen()
    return k.pin


def wait(ms):
    _now[0] += ms


def challenge():
    c, public = _keys[0].new_challenge()
    k = _keys[0]
    return [c, public, k.salt, k.iterations]


def login(c, public, sealed):
    _keys[0].authenticate(c, public, sealed)
    return _keys[0].session


def signed(seq, mac, body):
    """A privileged request's check; False when it does not authenticate."""
    try:
        _keys[0].check_request(seq, mac, body)
        return True
    except keystore.AuthError:
        return False


def idle():
    """What the firmware's once-a-second check does: ends an idle session."""
    k = _keys[0]
    if k.session_idle(_ticks_ms()):
        k.end_session()
    return k.session
