# The hash constructors the firmware uses: the port's hashlib where it has
# them (MicroPython, CPython, CircuitPython with SSL), else our sha.py (the
# CircuitPython builds without hashlib, e.g. on the RP2040 boards).
try:
    import hashlib
except ImportError:
    hashlib = None

sha1 = getattr(hashlib, "sha1", None)
sha256 = getattr(hashlib, "sha256", None)
if sha1 is None or sha256 is None:
    import sha
    sha1 = sha1 or sha.sha1
    sha256 = sha256 or sha.sha256
