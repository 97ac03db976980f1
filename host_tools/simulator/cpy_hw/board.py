# Stands for CircuitPython's `board` module on a Raspberry Pi Pico: GP0..GP28,
# plus SDA/SCL (GP4/GP5, where boards/rpi_pico.py wires the bus) and the
# simulated board's BUTTON (GP15, the pin the host's button drives).
import microcontroller as _mc

board_id = "token_sim_pico"

for _n in range(29):
    globals()["GP%d" % _n] = getattr(_mc.pin, "GPIO%d" % _n)

SDA = GP4  # noqa: F821 (made just above)
SCL = GP5  # noqa: F821
BUTTON = GP15  # noqa: F821
LED = GP25  # noqa: F821
