# The token's half of each host login's key agreement (X25519, x25519.py):
# a fresh private key per challenge, in RAM only, never written anywhere.
# Its public key costs a whole scalar multiplication (about half a second on
# an RP2040), so the main loop works out the next pair a few bits per turn
# (step) while nothing else is going on; a challenge takes the ready pair,
# or finishes the one under way if it comes too soon.
import x25519

_BASE = b"\x09" + bytes(31)  # the curve's base point, u = 9
_BITS = 8  # ladder bits per main-loop turn: ~16 ms on an RP2040


class Ephemeral:
    def __init__(self, random_bytes):
        self._random = random_bytes
        self._ready = None  # (private, public)
        self._private = None
        self._ladder = None

    def step(self, bits=_BITS):
        """Work on the next key pair a little; False once it is ready."""
        if self._ready is not None:
            return False
        if self._ladder is None:
            self._private = self._random(32)
            self._ladder = x25519.Ladder(self._private, _BASE)
        if self._ladder.step(bits):
            self._ready = (self._private, self._ladder.result())
            self._private = None
            self._ladder = None
            return False
        return True

    def take(self):
        """A key pair for one challenge; the next one is started afresh."""
        while self._ready is None:
            self.step(255)
        pair = self._ready
        self._ready = None
        return pair
