# Pure-Python SHA-1 and SHA-256 (FIPS 180-4), for ports whose hashlib lacks
# them (CircuitPython builds without SSL: the RP2040 boards). digests.py picks
# these only where the port has no built-in; the tests check them against
# hashlib on CPython and MicroPython. Slow on a microcontroller (32-bit words
# above 2**30 are big ints there), but right.
#
#   h = sha256(b"abc"); h.update(b"more"); h.digest()  -> 32 bytes
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_M = const(0xFFFFFFFF)

_IV256 = (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
_K256 = (
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
)
_IV1 = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)


def _words(block):
    """Sixteen big-endian 32-bit words of a 64-byte block."""
    return [block[i] << 24 | block[i + 1] << 16 | block[i + 2] << 8 | block[i + 3]
            for i in range(0, 64, 4)]


class _Hash:
    """Buffering, padding and output shared by both: 64-byte blocks, the
    bit length as a 64-bit big-endian number at the end."""
    _IV = ()  # the initial state, and the state words that make the digest
    _OUT = 0
    block_size = 64

    def __init__(self, data=b""):
        self._h = list(self._IV)
        self._buf = b""
        self._len = 0
        if data:
            self.update(data)

    def update(self, data):
        data = bytes(data)
        self._len += len(data)
        buf = self._buf + data
        n = len(buf) - len(buf) % 64
        for i in range(0, n, 64):
            self._compress(buf[i:i + 64])
        self._buf = buf[n:]

    def _compress(self, block):
        raise NotImplementedError

    def digest(self):
        saved = (list(self._h), self._buf, self._len)
        bits = self._len * 8
        pad = b"\x80" + bytes((55 - self._len) % 64)
        self.update(pad + bits.to_bytes(8, "big"))
        out = b"".join(h.to_bytes(4, "big") for h in self._h[:self._OUT])
        self._h, self._buf, self._len = saved  # digest() leaves the object as it was
        return out


class sha256(_Hash):
    _IV = _IV256
    _OUT = 8
    digest_size = 32

    def _compress(self, block):
        w = _words(block)
        for i in range(16, 64):
            a = w[i - 15]
            b = w[i - 2]
            s0 = ((a >> 7 | a << 25) ^ (a >> 18 | a << 14) ^ (a >> 3)) & _M
            s1 = ((b >> 17 | b << 15) ^ (b >> 19 | b << 13) ^ (b >> 10)) & _M
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & _M)
        a, b, c, d, e, f, g, h = self._h
        k = _K256
        for i in range(64):
            s1 = ((e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)) & _M
            ch = (e & f) ^ (~e & g)
            t1 = (h + s1 + ch + k[i] + w[i]) & _M
            s0 = ((a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)) & _M
            t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) & _M
            h, g, f, e, d, c, b, a = g, f, e, (d + t1) & _M, c, b, a, (t1 + t2) & _M
        s = self._h
        for i, v in enumerate((a, b, c, d, e, f, g, h)):
            s[i] = (s[i] + v) & _M


class sha1(_Hash):
    _IV = _IV1
    _OUT = 5
    digest_size = 20

    def _compress(self, block):
        w = _words(block)
        for i in range(16, 80):
            x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w.append((x << 1 | x >> 31) & _M)
        a, b, c, d, e = self._h
        for i in range(80):
            if i < 20:
                f = (b & c) | (~b & d)
                k = 0x5A827999
            elif i < 40:
                f = b ^ c ^ d
                k = 0x6ED9EBA1
            elif i < 60:
                f = (b & c) | (b & d) | (c & d)
                k = 0x8F1BBCDC
            else:
                f = b ^ c ^ d
                k = 0xCA62C1D6
            t = ((a << 5 | a >> 27) + f + e + k + w[i]) & _M
            e, d, c, b, a = d, c, (b << 30 | b >> 2) & _M, a, t
        s = self._h
        for i, v in enumerate((a, b, c, d, e)):
            s[i] = (s[i] + v) & _M
