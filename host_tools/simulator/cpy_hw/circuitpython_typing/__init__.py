# Stands for the adafruit-circuitpython-typing package (a dependency of the
# driver libraries, left out of the venv): the type names their annotations
# use. CircuitPython never evaluates annotations; CPython does at import.
from typing import Any

ReadableBuffer = Any
WriteableBuffer = Any
