# Stands for CircuitPython's `micropython` module: const() only (what the
# firmware and the adafruit drivers use).


def const(value):
    return value
