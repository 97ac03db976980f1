"""What a flash dump costs an attacker who guesses the PIN offline.

A dump of the token's flash holds the PIN's salt and verifier, so each guess
costs one PBKDF2-HMAC-SHA256 of the token's iteration count and nothing else:
no retry counter applies. The rates are measured figures scaled by the
iteration count (guessing time is linear in it):

- a PC core: about 1,000 guesses/s at 3,600 iterations (hashlib.pbkdf2_hmac on
  this project's 2-core build machine);
- one current GPU: about 3.1 million guesses/s at 3,600 iterations (hashcat's
  PBKDF2-HMAC-SHA256 mode 10900, published ~11.2 M/s at 999 iterations on an
  RTX 5090).

docs/security.md prints the table this module computes; `pin set` says it for
the chosen PIN's length.
"""
REFERENCE_ITERATIONS = 3600
CPU_CORE_RATE = 1000.0  # guesses per second per core at REFERENCE_ITERATIONS
GPU_RATE = 3.1e6  # guesses per second on one GPU at REFERENCE_ITERATIONS
SAFE_DIGITS = 14  # from here on, one GPU needs a year or more

# firmware/screen/pinpad.py: each digit is one hold (it counts up while held,
# letting go takes it), and a last hold on _ unlocks. `make bench` counts them
# by driving the lock screen (host_tools/bench.py, section pin).
_PRESSES_PER_DIGIT = 1


def presses(digits):
    """Button presses to enter a PIN of this length (any digits)."""
    return _PRESSES_PER_DIGIT * digits + 1


def seconds_to_exhaust(digits, iterations=REFERENCE_ITERATIONS):
    """(one PC core, one GPU): seconds to try every PIN of this length."""
    space = 10 ** digits
    scale = iterations / REFERENCE_ITERATIONS
    return space / CPU_CORE_RATE * scale, space / GPU_RATE * scale


def duration(seconds):
    """A person's reading of a duration: '0.3 s', '12 min', '4 days', '110 years'."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600),
                       ("min", 60)):
        if seconds >= size:
            n = seconds / size
            return "%s %s" % (("%.0f" if n >= 10 else "%.1f") % n, unit)
    return ("%.0f s" if seconds >= 10 else "%.2g s") % seconds


def table(iterations=REFERENCE_ITERATIONS, lengths=(4, 6, 8, 10, 12, 14, 16)):
    """Rows (digits, presses, CPU core time, GPU time) as text."""
    rows = []
    for n in lengths:
        cpu, gpu = seconds_to_exhaust(n, iterations)
        rows.append((n, presses(n), duration(cpu), duration(gpu)))
    return rows


def warning(digits, iterations=REFERENCE_ITERATIONS):
    """A plain sentence for a PIN of this length, or None when it is long
    enough to keep a dump's offline guessing out of reach of one GPU for a year."""
    cpu, gpu = seconds_to_exhaust(digits, iterations)
    if gpu >= 365.25 * 86400:
        return None
    return ("a PIN of %d digits stops someone with only the button (the retry counter), "
            "but anyone who dumps the flash can try every such PIN offline in %s on one "
            "GPU (%s on one PC core); %d or more digits put that out of reach"
            % (digits, duration(gpu), duration(cpu), SAFE_DIGITS))


if __name__ == "__main__":
    print("digits  presses  PC core  GPU")
    for row in table():
        print("%6d  %7d  %-9s %s" % row)
