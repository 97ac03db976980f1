# Stands for the typing_extensions package (the driver libraries' annotations
# name its Literal; CircuitPython never evaluates annotations, CPython does).
from typing import Literal  # noqa: F401
