# PBKDF2-HMAC-SHA256's iterations as native code, for the ports that can
# compile it (MicroPython's viper emitter: rp2, unix, esp32). crypto.py uses
# it when available() says so, else its own loop over hashlib.
#
# Why: with the firmware loaded, the rp2 heap is fragmented (measured: 45 KB
# of its 106 KB free in holes under 2 KB), and each hashlib object or digest
# the loop allocates is found by a first-fit scan across those holes, plus a
# collection of the whole heap (20 ms) every couple of hundred iterations.
# That, not the hashing, made an unlock 2.9 s instead of 1.9 s. MicroPython's hash objects
# can't be copied or reused after digest(), so the loop can't avoid them
# while it goes through hashlib. Here each iteration is two SHA-256
# compressions from the pre-keyed inner and outer states (RFC 2104's trick;
# hashlib does four), on 32-bit words in one preallocated buffer: nothing is
# allocated per iteration.
#
# The viper source is compiled on the device at first use: mpy-cross builds
# the .mpy files without a target architecture, and CircuitPython and
# CPython can't compile viper at all (they keep crypto.py's loop).
import struct

from digests import hmac_padded

# Word layout of the one buffer (u32, native order):
_ISTATE = 0    # 8: state after the inner pad block
_OSTATE = 8    # 8: state after the outer pad block
_U = 16        # 8: the running U (or the state _pad_state() updates)
_T = 24        # 8: U1 ^ U2 ^ ... so far
_W = 32        # 64: the message schedule
_K = 96        # 64: SHA-256's round constants
_N = 160       # 1: iterations to do
_WORDS = 161

# run(s) does s[_N] iterations, or with s[_N] == 0 one compression of the
# block in W into the state in U. The native emitter keeps its first few
# locals in registers (on Thumb too): s, then t1 and t, used most in the
# rounds, hence one argument only. m = 0xFFFFFFFF (the literal would be a big
# int on rp2), for 64-bit ports; on 32-bit ones the " & m" are dropped.
_SRC = """
@micropython.viper
def run(s: ptr32):
    t1 = uint(0)
    t = 0
    m = (uint(1) << 31) - uint(1) + (uint(1) << 31)
    n = int(s[160])
    one = n == 0
    passes = 1 if one else 2
    it = 0
    while one or it < n:
        p = 0
        while p < passes:
            st = 16
            if not one:
                st = p * 8
                j = 0
                while j < 8:
                    s[32 + j] = s[16 + j]
                    j += 1
                s[40] = uint(0x80) << 24
                j = 9
                while j < 15:
                    s[32 + j] = 0
                    j += 1
                s[47] = 768
            t = 16
            while t < 64:
                x = uint(s[32 + t - 15])
                y = uint(s[32 + t - 2])
                s0 = (((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3)) & m
                s1 = (((y >> 17) | (y << 15)) ^ ((y >> 19) | (y << 13)) ^ (y >> 10)) & m
                s[32 + t] = (uint(s[32 + t - 16]) + s0 + uint(s[32 + t - 7]) + s1) & m
                t += 1
            a = uint(s[st])
            b = uint(s[st + 1])
            c = uint(s[st + 2])
            d = uint(s[st + 3])
            e = uint(s[st + 4])
            f = uint(s[st + 5])
            g = uint(s[st + 6])
            h = uint(s[st + 7])
            t = 0
            while t < 64:
EIGHT_ROUNDS
                t += 8
            s[16] = uint(s[st]) + a
            s[17] = uint(s[st + 1]) + b
            s[18] = uint(s[st + 2]) + c
            s[19] = uint(s[st + 3]) + d
            s[20] = uint(s[st + 4]) + e
            s[21] = uint(s[st + 5]) + f
            s[22] = uint(s[st + 6]) + g
            s[23] = uint(s[st + 7]) + h
            p += 1
        if one:
            return
        j = 0
        while j < 8:
            s[24 + j] = uint(s[24 + j]) ^ uint(s[16 + j])
            j += 1
        it += 1
"""

# One round (FIPS 180-4 6.2.2 step 3) with the working variables named
# rather than moved: eight of them, each a turn of the names, make the loop
# body, so no round spends eight copies on shifting a..h along.
_ROUND = """                t1 = ({h} + ((({e} >> 6) | ({e} << 26)) ^ (({e} >> 11) | ({e} << 21)) ^ (({e} >> 25) | ({e} << 7))) + (({e} & {f}) ^ (({e} ^ m) & {g})) + uint(s[96 + t + {i}]) + uint(s[32 + t + {i}])) & m
                {d} = ({d} + t1) & m
                {h} = (t1 + ((({a} >> 2) | ({a} << 30)) ^ (({a} >> 13) | ({a} << 19)) ^ (({a} >> 22) | ({a} << 10))) + (({a} & {b}) ^ ({a} & {c}) ^ ({b} & {c}))) & m
"""


def _rounds():
    names = "abcdefgh"
    out = []
    for i in range(8):
        r = [names[(8 - i + j) % 8] for j in range(8)]
        out.append(_ROUND.format(a=r[0], b=r[1], c=r[2], d=r[3], e=r[4], f=r[5], g=r[6],
                                 h=r[7], i=i))
    return "".join(out)


_run = None    # the compiled function, once compiled
_k = None      # SHA-256's round constants, then its initial state: u32 words
_tried = False


def available():
    """True where the native loop compiled (compiled at the first call)."""
    global _run, _k, _tried, _SRC, _ROUND
    if not _tried:
        _tried = True
        try:
            import micropython  # noqa: F401  only a port that has it compiles viper
            scope = {}
            src = _SRC.replace("EIGHT_ROUNDS\n", _rounds())
            if struct.calcsize("P") == 4:
                # 32-bit words wrap by themselves: the masks only cost time.
                src = src.replace(" & m", "")
            exec(src, scope)
            import sha  # its constants, packed once for ptr32
            _k = bytearray(4 * 72)
            struct.pack_into("@64I", _k, 0, *sha._K256)
            struct.pack_into("@8I", _k, 4 * 64, *sha._IV256)
            _run = scope["run"]
        except Exception:  # no viper here (CircuitPython, CPython): not an error
            _run = None
        _SRC = _ROUND = ""  # needed once, compiled or not: let the RAM go
    return _run is not None


def _pad_state(s, pad):
    # SHA-256's state after one 64-byte block (an HMAC pad), into U.
    s[4 * _U:4 * _U + 32] = _k[4 * 64:]
    struct.pack_into("@16I", s, 4 * _W, *struct.unpack(">16I", pad))
    struct.pack_into("@I", s, 4 * _N, 0)
    _run(s)


def block(new, ipad, opad, first, iterations, out, start, take):
    """T_i of RFC 8018 (U1 from hashlib over salt || INT(i), the rest here)
    into out[start:start + take]."""
    s = bytearray(4 * _WORDS)  # u32 words in native order, for viper's ptr32
    s[4 * _K:4 * _K + 256] = _k[:256]
    _pad_state(s, ipad)
    s[4 * _ISTATE:4 * _ISTATE + 32] = s[4 * _U:4 * _U + 32]
    _pad_state(s, opad)
    s[4 * _OSTATE:4 * _OSTATE + 32] = s[4 * _U:4 * _U + 32]
    u = struct.unpack(">8I", hmac_padded(new, ipad, opad, first))
    struct.pack_into("@8I", s, 4 * _U, *u)
    struct.pack_into("@8I", s, 4 * _T, *u)
    if iterations > 1:
        struct.pack_into("@I", s, 4 * _N, iterations - 1)
        _run(s)
    t = struct.pack(">8I", *struct.unpack_from("@8I", s, 4 * _T))
    out[start:start + take] = t[:take]
    for j in range(len(s)):  # no key material left behind in the buffer
        s[j] = 0
