# X25519 (RFC 7748 section 5): the Diffie-Hellman function on Curve25519
# that gives each host login a key only the two ends ever hold in RAM.
# Written for MicroPython's big integers: the Montgomery ladder runs in
# pieces (Ladder.step) so the main loop can work out a key pair between
# display refreshes instead of stalling for half a second.
#
# Timing: the ladder does the same operations for every bit whatever its
# value (the swap is arithmetic, not a branch), but big-integer arithmetic
# on MicroPython is not constant-time. The private keys are fresh per login
# and never stored, so a timing leak would have to be read during the one
# exchange that used it.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

P = 2**255 - 19  # a big integer: const() takes only small ones
_A24 = const(121665)  # (486662 - 2) / 4


def _clamp(k):
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def _decode_u(u):
    b = bytearray(u)
    b[31] &= 127  # RFC 7748: mask the top bit of the u-coordinate
    return int.from_bytes(b, "little") % P


def _pow(base, exp, mod):
    try:
        return pow(base, exp, mod)
    except (TypeError, NotImplementedError, ValueError):
        # a port built without three-argument pow
        result = 1
        base %= mod
        while exp:
            if exp & 1:
                result = result * base % mod
            base = base * base % mod
            exp >>= 1
        return result


class Ladder:
    """Scalar multiplication k * u, worked a few bits at a time."""

    def __init__(self, scalar, u):
        if len(scalar) != 32 or len(u) != 32:
            raise ValueError("x25519 takes 32-byte values")
        self._k = _clamp(scalar)
        self._x1 = _decode_u(u)
        self._x2, self._z2 = 1, 0
        self._x3, self._z3 = self._x1, 1
        self._swap = 0
        self._t = 254  # next bit to work on

    def step(self, bits):
        """Work on up to `bits` bits; True once the ladder is done."""
        p = P
        k = self._k
        x1 = self._x1
        x2, z2, x3, z3 = self._x2, self._z2, self._x3, self._z3
        swap = self._swap
        t = self._t
        stop = t - bits
        if stop < -1:
            stop = -1
        while t > stop:
            kt = (k >> t) & 1
            swap ^= kt
            # arithmetic conditional swap: no branch on the key bit
            mask = -swap
            d = (x2 ^ x3) & mask
            x2 ^= d
            x3 ^= d
            d = (z2 ^ z3) & mask
            z2 ^= d
            z3 ^= d
            swap = kt
            a = x2 + z2
            aa = a * a % p
            b = x2 - z2
            bb = b * b % p
            e = aa - bb
            c = x3 + z3
            d = x3 - z3
            da = d * a % p
            cb = c * b % p
            x3 = da + cb
            x3 = x3 * x3 % p
            z3 = da - cb
            z3 = x1 * (z3 * z3) % p
            x2 = aa * bb % p
            z2 = e * (aa + _A24 * e) % p
            t -= 1
        self._x2, self._z2, self._x3, self._z3 = x2, z2, x3, z3
        self._swap = swap
        self._t = t
        return t < 0

    def result(self):
        """The 32-byte u-coordinate of k * u (after step returned True)."""
        if self._t >= 0:
            raise ValueError("ladder not finished")
        x2, z2 = self._x2, self._z2
        if self._swap:
            x2, z2 = self._x3, self._z3
        # z ** (p - 2) is the inverse mod p; zero stays zero (low-order u)
        return (x2 * _pow(z2, P - 2, P) % P).to_bytes(32, "little")


def x25519(scalar, u):
    ladder = Ladder(scalar, u)
    ladder.step(255)
    return ladder.result()


def public_key(private):
    return x25519(private, b"\x09" + bytes(31))


def shared(private, peer_public):
    """The shared secret; ValueError for a peer key of small order."""
    z = x25519(private, peer_public)
    acc = 0
    for byte in z:
        acc |= byte
    if not acc:
        raise ValueError("peer key has small order")
    return z
