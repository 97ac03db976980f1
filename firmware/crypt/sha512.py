# Pure-Python SHA-512 (FIPS 180-4) for MicroPython, whose hashlib lacks it.
# Runs unchanged on CPython too, so host tests exercise this very code.
# Words are plain ints masked to 64 bits; on MCU ports they are bignums, so
# the inner loops keep everything in locals and mask as late as is safe.
#
#   h = sha512(b"abc"); h.update(b"more"); h.digest()  -> 64 bytes
#
# Not named hashlib.py or hmac.py on purpose: that would shadow CPython's.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_M = const(0xFFFFFFFFFFFFFFFF)

# Initial hash: first 64 bits of the fractional parts of sqrt(first 8 primes).
_IV = (
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1, 0x510e527fade682d1, 0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
)

# Round constants: first 64 bits of the fractional parts of the cube roots
# of the first 80 primes. A tuple so MicroPython keeps it in one object.
_K = (
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc, 0x3956c25bf348b538, 0x59f111f1b605d019,
    0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242,
    0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
    0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65, 0x2de92c6f592b0275,
    0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f,
    0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
    0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc,
    0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6,
    0x92722c851482353b, 0xa2bfe8a14cf10364, 0xa81a664bbc423001,
    0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
    0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc,
    0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915,
    0xc67178f2e372532b, 0xca273eceea26619c, 0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba,
    0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
)


def _compress(h, w, block, off):
    # Process the 128-byte block at block[off:off+128] into state list h.
    # w is a caller-owned 80-entry list reused for the message schedule, so
    # no list is allocated per block.
    M = _M
    for i in range(16):
        j = off + 8 * i
        w[i] = int.from_bytes(block[j:j + 8], "big")
    for i in range(16, 80):
        x = w[i - 15]
        y = w[i - 2]
        # sigma0 = ROTR1 ^ ROTR8 ^ SHR7; sigma1 = ROTR19 ^ ROTR61 ^ SHR6.
        # The left shifts overflow 64 bits; one final mask trims them all.
        s0 = ((x >> 1) | (x << 63)) ^ ((x >> 8) | (x << 56)) ^ (x >> 7)
        s1 = ((y >> 19) | (y << 45)) ^ ((y >> 61) | (y << 3)) ^ (y >> 6)
        w[i] = (w[i - 16] + w[i - 7] + s0 + s1) & M
    a, b, c, d, e, f, g, hh = h
    K = _K
    for i in range(80):
        S1 = (((e >> 14) | (e << 50)) ^ ((e >> 18) | (e << 46))
              ^ ((e >> 41) | (e << 23))) & M
        # Ch(e,f,g) written without ~ so no negative ints appear.
        t1 = hh + S1 + (g ^ (e & (f ^ g))) + K[i] + w[i]
        S0 = (((a >> 28) | (a << 36)) ^ ((a >> 34) | (a << 30))
              ^ ((a >> 39) | (a << 25))) & M
        t2 = S0 + ((a & b) | (c & (a | b)))
        hh = g
        g = f
        f = e
        e = (d + t1) & M
        d = c
        c = b
        b = a
        a = (t1 + t2) & M
    h[0] = (h[0] + a) & M
    h[1] = (h[1] + b) & M
    h[2] = (h[2] + c) & M
    h[3] = (h[3] + d) & M
    h[4] = (h[4] + e) & M
    h[5] = (h[5] + f) & M
    h[6] = (h[6] + g) & M
    h[7] = (h[7] + hh) & M


class sha512:
    """hashlib-style SHA-512: update(data), digest(). digest() does not
    change the object (unlike MicroPython's hashlib), so it may be called
    again or followed by more updates."""

    block_size = 128
    digest_size = 64
    name = "sha512"

    def __init__(self, data=None):
        self._h = list(_IV)
        self._w = [0] * 80
        self._buf = b""  # bytes not yet forming a whole block (< 128)
        self._len = 0  # total message length in bytes
        if data:
            self.update(data)

    def update(self, data):
        data = bytes(data)
        self._len += len(data)
        buf = self._buf + data if self._buf else data
        n = len(buf) - (len(buf) & 127)
        for off in range(0, n, 128):
            _compress(self._h, self._w, buf, off)
        self._buf = buf[n:]

    def digest(self):
        # Pad a copy: 0x80, zeros to 112 mod 128, then the bit length as a
        # 128-bit big-endian number.
        h = list(self._h)
        bits = self._len * 8
        tail = self._buf + b"\x80" + bytes((111 - len(self._buf)) & 127)
        tail += bits.to_bytes(16, "big")
        for off in range(0, len(tail), 128):
            _compress(h, self._w, tail, off)
        out = bytearray(64)
        for i in range(8):
            out[8 * i:8 * i + 8] = h[i].to_bytes(8, "big")
        return bytes(out)

    def hexdigest(self):
        return "".join("%02x" % b for b in self.digest())
