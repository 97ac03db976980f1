"""The host half of the token's PIN scheme (docs/security.md), built on
`cryptography` (host_tools/tokencrypto.py) and never on the firmware's own
crypto code, so each side checks the other. No I/O here: pinsession.py drives it.
"""
import os

from firmware import rules
from firmware.protocol import frames
from host_tools import tokencrypto as tc

PIN_MIN, PIN_MAX = rules.PIN_MIN, rules.PIN_MAX  # the token's (firmware/rules.py)


class PinError(ValueError):
    pass


class SchemeError(PinError):
    """The token's firmware and this host speak different PIN exchanges."""


def check_pin(pin):
    """A PIN is 4-16 ASCII digits; returns it unchanged."""
    if not isinstance(pin, str) or not (PIN_MIN <= len(pin) <= PIN_MAX) \
            or not all("0" <= c <= "9" for c in pin):
        raise PinError("a PIN is %d-%d digits (0-9)" % (PIN_MIN, PIN_MAX))
    return pin


def derive(pin, salt, iterations):
    """(W, V): W unwraps the token's data key, V keys the exchange."""
    kek = tc.pbkdf2_sha256(check_pin(pin).encode(), bytes(salt), int(iterations), 32)
    return tc.subkey(kek, b"wrap"), tc.subkey(kek, b"transport")


class Session:
    """An authenticated session: signs requests with a rising sequence."""

    def __init__(self, request_key):
        self._rk = request_key
        self.seq = 0

    def sign(self, req_id, cmd, args):
        """The whole request line, auth member included."""
        self.seq += 1
        signed = frames.signed_part(req_id, cmd, args)
        mac = tc.hmac_sha256(self._rk, self.seq.to_bytes(4, "big") + signed)[:16]
        return frames.encode_signed(signed, self.seq, mac.hex())

    def seal(self, plaintext, aad):
        return tc.seal(self._rk, plaintext, aad)


SCHEME = "pin-x25519-1"  # firmware/protocol/lockcmd.py AUTH_SCHEME


def _agree(challenge_reply):
    """(challenge, token's public key, ours, agreed Z) for a challenge reply:
    an X25519 key pair made for this exchange alone."""
    if challenge_reply.get("scheme") != SCHEME or "public" not in challenge_reply:
        raise SchemeError("the token's firmware speaks PIN scheme %r and this provision.py %r: "
                       "update the firmware (make deploy) or the host tools so they match"
                       % (challenge_reply.get("scheme", "pin-hmac-1"), SCHEME))
    c = bytes.fromhex(challenge_reply["challenge"])
    theirs = bytes.fromhex(challenge_reply["public"])
    mine = tc.x25519_private()
    ours = tc.x25519_public(mine)
    try:
        z = tc.x25519(mine, theirs)
    except tc.CryptoError:
        raise SchemeError("the token sent an unusable public key") from None
    return c, theirs, ours, z


def answer_challenge(pin, challenge_reply):
    """(auth args, Session) for an `auth-challenge` reply."""
    c, theirs, ours, z = _agree(challenge_reply)
    w, v = derive(pin, bytes.fromhex(challenge_reply["salt"]), challenge_reply["iterations"])
    sk = tc.hmac_sha256(v, b"session" + c + theirs + ours + z)
    args = {"challenge": c.hex(), "public": ours.hex(), "key": tc.seal(sk, w, c).hex()}
    return args, Session(tc.hmac_sha256(sk, b"requests"))


def pin_set_args(pin, iterations, challenge_reply):
    """`pin-set` arguments: salt, W and V of the first PIN, sealed under a
    key agreed with the token for this challenge."""
    c, theirs, ours, z = _agree(challenge_reply)
    salt = os.urandom(16)
    w, v = derive(pin, salt, iterations)
    key = tc.hmac_sha256(z, b"pin-set" + c + theirs + ours)
    return {"challenge": c.hex(), "public": ours.hex(),
            "new": tc.seal(key, salt + w + v, b"pin-set").hex()}


def pin_change_args(session, pin, iterations):
    salt = os.urandom(16)
    w, v = derive(pin, salt, iterations)
    return {"new": session.seal(salt + w + v, b"pin-change").hex()}
