# AES-256 block encryption (FIPS-197) in plain Python: the fallback block
# cipher of crypto.py on ports without cryptolib or aesio, and what CPython
# runs of the firmware use. Encryption only: CTR mode never needs the
# inverse cipher.
#
#   AES(key32).encrypt_block(src16, dst16)    dst may be src
#   AES(key32).encrypt(block16) -> bytes
#
# Byte-oriented tables (S-box and doubling in GF(2^8), 512 bytes) rather than
# 32-bit T-tables: 32-bit words are not small ints on 32-bit MicroPython
# ports, so every lookup would allocate. The tables are computed on first use,
# so importing this module costs almost no RAM.

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

KEY_SIZE = const(32)
BLOCK = const(16)
_ROUNDS = const(14)
_RK_LEN = const(240)  # (14 + 1) round keys of 16 bytes

_SBOX = None
_DOUBLE = None


def _xtime(a):
    # Multiplication by x (i.e. 2) in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
    a <<= 1
    if a & 0x100:
        a ^= 0x11B
    return a


def _tables():
    """S-box and doubling table, built once: the S-box from inverses found
    through log/antilog tables of the generator 3, then the affine map."""
    global _SBOX, _DOUBLE
    if _SBOX is not None:
        return _SBOX, _DOUBLE
    exp = bytearray(256)
    log = bytearray(256)
    a = 1
    for i in range(255):
        exp[i] = a
        log[a] = i
        a ^= _xtime(a)  # a * 3
    sbox = bytearray(256)
    double = bytearray(256)
    for v in range(256):
        inv = exp[(255 - log[v]) % 255] if v else 0
        # Affine map: b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63.
        r = inv
        for _ in range(4):
            inv = ((inv << 1) | (inv >> 7)) & 0xFF
            r ^= inv
        sbox[v] = r ^ 0x63
        double[v] = _xtime(v) & 0xFF
    _SBOX = bytes(sbox)
    _DOUBLE = bytes(double)
    return _SBOX, _DOUBLE


class AES:
    """One AES-256 key, expanded once; encrypts 16-byte blocks."""

    def __init__(self, key):
        if len(key) != KEY_SIZE:
            raise ValueError("AES-256 needs a 32-byte key")
        sbox, _ = _tables()
        rk = bytearray(_RK_LEN)
        rk[0:KEY_SIZE] = key
        rcon = 1
        # Key expansion in 4-byte words (FIPS-197 section 5.2, Nk = 8).
        for i in range(8, 60):
            p = 4 * i - 4
            t0, t1, t2, t3 = rk[p], rk[p + 1], rk[p + 2], rk[p + 3]
            if i % 8 == 0:
                t0, t1, t2, t3 = sbox[t1] ^ rcon, sbox[t2], sbox[t3], sbox[t0]
                rcon = _xtime(rcon)
            elif i % 8 == 4:
                t0, t1, t2, t3 = sbox[t0], sbox[t1], sbox[t2], sbox[t3]
            q = 4 * i
            rk[q] = rk[q - 32] ^ t0
            rk[q + 1] = rk[q - 31] ^ t1
            rk[q + 2] = rk[q - 30] ^ t2
            rk[q + 3] = rk[q - 29] ^ t3
        self._rk = rk
        self._s = bytearray(BLOCK)
        self._t = bytearray(BLOCK)

    def encrypt_block(self, src, dst):
        """Encrypt the 16 bytes of src into dst (a bytearray, may be src)."""
        sbox, dbl = _tables()
        rk = self._rk
        s = self._s
        t = self._t
        for i in range(BLOCK):
            s[i] = src[i] ^ rk[i]
        o = BLOCK
        for _ in range(_ROUNDS - 1):
            # SubBytes and ShiftRows read straight from s (state byte
            # row r, column c sits at 4c + r; row r moves left by r, so
            # the byte landing at 4c + r comes from (4c + 5r) mod 16), then
            # MixColumns and AddRoundKey write the column into t.
            for c in range(0, BLOCK, 4):
                a0 = sbox[s[c]]
                a1 = sbox[s[(c + 5) & 15]]
                a2 = sbox[s[(c + 10) & 15]]
                a3 = sbox[s[(c + 15) & 15]]
                x = a0 ^ a1 ^ a2 ^ a3
                k = o + c
                t[c] = a0 ^ x ^ dbl[a0 ^ a1] ^ rk[k]
                t[c + 1] = a1 ^ x ^ dbl[a1 ^ a2] ^ rk[k + 1]
                t[c + 2] = a2 ^ x ^ dbl[a2 ^ a3] ^ rk[k + 2]
                t[c + 3] = a3 ^ x ^ dbl[a3 ^ a0] ^ rk[k + 3]
            s, t = t, s
            o += BLOCK
        # The last round has no MixColumns.
        for c in range(0, BLOCK, 4):
            k = o + c
            dst[c] = sbox[s[c]] ^ rk[k]
            dst[c + 1] = sbox[s[(c + 5) & 15]] ^ rk[k + 1]
            dst[c + 2] = sbox[s[(c + 10) & 15]] ^ rk[k + 2]
            dst[c + 3] = sbox[s[(c + 15) & 15]] ^ rk[k + 3]

    def encrypt(self, block):
        """Encrypt one 16-byte block; returns bytes."""
        if len(block) != BLOCK:
            raise ValueError("AES blocks are 16 bytes")
        out = bytearray(BLOCK)
        self.encrypt_block(block, out)
        return bytes(out)

    def wipe(self):
        """Overwrite the expanded key and the working state."""
        for buf in (self._rk, self._s, self._t):
            for i in range(len(buf)):
                buf[i] = 0
