# Drives firmware/crypt/crypto.py and firmware/crypt/aes.py from plain data (bytes travel
# as hex through tests/mp/worker.py), so the same cases run under CPython and
# inside MicroPython.
import aes
import crypto


def aes_encrypt(key, block):
    """The pure-Python AES-256 on one block."""
    return aes.AES(key).encrypt(block)


def aes_in_place(key, block):
    """encrypt_block with the same buffer as source and destination."""
    buf = bytearray(block)
    aes.AES(key).encrypt_block(buf, buf)
    return bytes(buf)


def aes_key_errors(sizes):
    """The exception class name aes.AES raises for a key of each size."""
    out = []
    for n in sizes:
        try:
            aes.AES(bytes(n))
            out.append(None)
        except Exception as e:
            out.append(type(e).__name__)
    return out


def ctr(key, counter16, data, native):
    """[backend used, ctr_xor_counter(...)], with the port's AES (native) or
    aes.py forced; the switch is restored afterwards."""
    saved = crypto.NATIVE_AES
    crypto.NATIVE_AES = native
    try:
        return [crypto.aes_backend(), crypto.ctr_xor_counter(key, counter16, data)]
    finally:
        crypto.NATIVE_AES = saved


def ctr_nonce(key, nonce, data, native):
    """As ctr() through ctr_xor (8-byte nonce)."""
    saved = crypto.NATIVE_AES
    crypto.NATIVE_AES = native
    try:
        return [crypto.aes_backend(), crypto.ctr_xor(key, nonce, data)]
    finally:
        crypto.NATIVE_AES = saved


def unseal(key, blob, aad):
    """["ok", plaintext] or [exception class name, message]."""
    try:
        return ["ok", crypto.unseal(key, blob, aad)]
    except Exception as e:
        return [type(e).__name__, str(e)]


def seal_errors(key, plaintext, aad, nonce):
    """seal()'s exception class name for bad arguments, or None if it sealed."""
    try:
        crypto.seal(key, plaintext, aad, nonce)
    except Exception as e:
        return type(e).__name__
    return None


def ctr_through_cryptolib(key, counter16, data):
    """[blocks that went through cryptolib, ctr_xor_counter(...)]: the real
    cryptolib behind a counting stand-in in sys.modules (MicroPython only)."""
    import sys
    import cryptolib as real
    calls = [0]

    class Counting:
        def __init__(self, k, mode):
            self._c = real.aes(k, mode)

        def encrypt(self, src, dst):
            calls[0] += 1
            return self._c.encrypt(src, dst)

    class Spy:
        aes = Counting

    saved = sys.modules.get("cryptolib")
    sys.modules["cryptolib"] = Spy
    crypto._backend = None  # found once: look again, finding the spy
    try:
        out = crypto.ctr_xor_counter(key, counter16, data)
    finally:
        if saved is None:
            del sys.modules["cryptolib"]
        else:
            sys.modules["cryptolib"] = saved
        crypto._backend = None
    return [calls[0], out]


def seal_with(key, plaintext, aad, nonce):
    """seal() through seal_keys() + seal_with()."""
    return crypto.seal_with(crypto.seal_keys(key), plaintext, aad, nonce)


def unseal_with(key, blob, aad):
    """As unseal(), through seal_keys() + unseal_with()."""
    try:
        return ["ok", crypto.unseal_with(crypto.seal_keys(key), blob, aad)]
    except Exception as e:
        return [type(e).__name__, str(e)]


def backend_lookups(n):
    """How many imports n seals make once the backend is known: 0, since an
    import of a built-in costs a flash search on rp2."""
    import builtins
    real = builtins.__import__
    seen = [0]

    def counting(name, *args):
        if name in ("cryptolib", "aesio", "aes"):
            seen[0] += 1
        return real(name, *args)
    key = bytes(32)
    crypto.seal(key, b"warm")
    builtins.__import__ = counting
    try:
        for _ in range(n):
            crypto.seal(key, b"secret")
    finally:
        builtins.__import__ = real
    return seen[0]


def sha_digests(data, split):
    """Our pure-Python SHA-1 and SHA-256 (firmware/crypt/sha.py), fed in two parts."""
    import sha
    out = []
    for new in (sha.sha1, sha.sha256):
        h = new(data[:split])
        h.update(data[split:])
        first = h.digest()
        assert h.digest() == first  # digest() leaves the object as it was
        out.append(first)
    return out


def x25519_iterate(n):
    """RFC 7748 5.2's iteration: k, u = X25519(k, u), k; from k = u = 9."""
    import x25519
    k = u = b"\x09" + bytes(31)
    for _ in range(n):
        k, u = x25519.x25519(k, u), k
    return k


def x25519_in_steps(scalar, u, bits):
    """The same product worked `bits` ladder bits at a time."""
    import x25519
    ladder = x25519.Ladder(scalar, u)
    turns = 1
    while not ladder.step(bits):
        turns += 1
    return [ladder.result(), turns]


def x25519_error(scalar, u):
    import x25519
    try:
        x25519.shared(scalar, u)
    except ValueError as e:
        return str(e)
    return None


def pbkdf2(native, password, salt, c, dklen):
    """[whether kdfloop ran, pbkdf2_sha256(...)], with the native iterations
    allowed or not; the switch is restored afterwards."""
    import kdfloop
    saved = crypto.NATIVE_KDF
    crypto.NATIVE_KDF = native
    try:
        return [native and kdfloop.available(), crypto.pbkdf2_sha256(password, salt, c, dklen)]
    finally:
        crypto.NATIVE_KDF = saved


def pbkdf2_heap_growth(counts):
    """Bytes the heap grew by during pbkdf2_sha256 at each iteration count,
    with the collector off (MicroPython's gc.mem_alloc)."""
    import gc
    crypto.pbkdf2_sha256(b"2468", b"s" * 16, 2)  # warm: first-use imports, compiling
    out = []
    for n in counts:
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            crypto.pbkdf2_sha256(b"2468", b"s" * 16, n)
            out.append(gc.mem_alloc() - before)
        finally:
            gc.enable()
    return out
