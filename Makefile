# Every target builds the virtual environment it needs from requirements.txt,
# requirements-typecheck.txt, the adafruit CircuitPython libraries
# (requirements-circuitpython.txt, without Blinka) and the type-check stubs
# (typecheck/stubs-*.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PINS := requirements-demo.txt requirements.txt requirements-typecheck.txt requirements-circuitpython.txt $(sort $(wildcard typecheck/stubs-*.txt))
STAMP := $(VENV)/.installed-$(shell cat $(PINS) | cksum | cut -d' ' -f1)
# The demo needs far less (no pyright, node, pytest or stubs): its own stamp.
DEMO_STAMP := $(VENV)/.demo-$(shell cat requirements-demo.txt | cksum | cut -d' ' -f1)
# privacyIDEA 3.14, the real MFA server the fleet tests enrol into
# (tests/privacyidea_server.py): a venv of its own, so .venv stays lean.
PI_VENV := .venv-privacyidea
PI_STAMP := $(PI_VENV)/.installed-$(shell cat requirements-privacyidea.txt | cksum | cut -d' ' -f1)
# One stub set per target (they define the same modules), each in its own
# $(VENV)/stubs/<target>/lib/site-packages, where typecheck/<target>.json looks.
STUB_TARGETS := $(patsubst typecheck/stubs-%.txt,%,$(sort $(wildcard typecheck/stubs-*.txt)))
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
BOARD ?= rpi_pico
PORT ?= auto
RUNTIME ?= micropython
KEYBOARD ?= auto
DRIVE ?= /media/$(USER)/CIRCUITPY
JOBS ?= 6  # pytest workers: the simulator tests mostly wait (a run is ~1/6 CPU), so 6 keep 2 cores busy

.PHONY: help venv privacyidea shells test test-fast demo demo-reset bench mpy deploy wiring wheel clean inventory

help:
	@echo "make demo     run the simulated token (no hardware needed)"
	@echo "make demo-reset  forget the simulated token (sim-data/), keep the venv"
	@echo "make test     run the whole test suite"
	@echo "make test-fast  the unit tier only (tests/unit, CPython and MicroPython), under a minute"
	@echo "make shells   install zsh and fish if missing (the completion tests run them; make test does this)"
	@echo "make bench    print speed and memory figures beside their targets"
	@echo "make deploy BOARD=rpi_pico PORT=/dev/ttyACM0   flash a real board"
	@echo "             (a running token: provision.py maintenance first, or hold the button while plugging in)"
	@echo "make deploy RUNTIME=circuitpython BOARD=cp_qtpy_rp2040 DRIVE=/media/\$$USER/CIRCUITPY"
	@echo "             (hold the button while plugging in: the drive shows up for updates)"
	@echo "make wiring   regenerate docs/wiring/*.svg from the board files"
	@echo "make wheel    build the host tools' wheel into dist/ (the totp-token command)"

venv: $(STAMP)

PY_CHECK := $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (requires-python in pyproject.toml); try PYTHON=python3.12"; exit 2; }

$(DEMO_STAMP): requirements-demo.txt
	@$(PY_CHECK)
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-demo.txt
	rm -f $(VENV)/.demo-*
	touch $@

$(STAMP): $(PINS)
	@$(PY_CHECK)
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -r requirements-typecheck.txt
	$(PIP) --no-deps -r requirements-circuitpython.txt
	rm -rf $(VENV)/stubs
	for t in $(STUB_TARGETS); do \
		$(PIP) --no-deps --target $(VENV)/stubs/$$t/lib/site-packages -r typecheck/stubs-$$t.txt || exit 1; \
	done
	rm -f $(VENV)/.installed-*
	touch $@

privacyidea: $(PI_STAMP)

$(PI_STAMP): requirements-privacyidea.txt
	@$(PY_CHECK)
	$(PYTHON) -m venv $(PI_VENV)
	$(PI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-privacyidea.txt
	rm -f $(PI_VENV)/.installed-*
	touch $@

# The completion tests (tests/unit/test_completion.py) run the scripts in the
# real shells: zsh and fish are installed when missing (apt-get or brew).
SHELLS_NEEDED := zsh fish
shells:
	@missing=""; for s in $(SHELLS_NEEDED); do command -v $$s >/dev/null || missing="$$missing $$s"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing: the completion tests run them"; \
		if command -v apt-get >/dev/null; then \
			sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
			$$sudo apt-get install -y $$missing || { $$sudo apt-get update && $$sudo apt-get install -y $$missing; }; \
		elif command -v brew >/dev/null; then brew install $$missing; \
		else echo "install$$missing with your package manager, then run make test again"; exit 2; fi; \
	fi

# The whole suite: tests/unit, tests/sim and tests/repo (pytest.ini's testpaths).
test: venv privacyidea shells
	$(PY) -m pytest -n $(JOBS) -q

# The unit tier: firmware and host logic on CPython and the MicroPython unix
# port; no simulated token, no pyright or packaging builds.
test-fast: venv shells
	$(PY) -m pytest -n $(JOBS) -q tests/unit

demo: $(DEMO_STAMP)
	$(PY) -m host_tools.simulator --demo --data sim-data

bench: venv
	$(PY) -m host_tools.bench

# docs/usage.md's "What is stored and how to delete it", from host_tools/inventory.py.
inventory: venv
	$(PY) -m host_tools.inventory --doc docs/usage.md

# Firmware compiled to .mpy (smaller, no compile step or RAM peak on the board).
mpy: venv
	@test -f boards/$(BOARD).py || { echo "no board file boards/$(BOARD).py (see boards/)"; exit 2; }
	$(PY) -m host_tools.mpy build build/mpy boards/$(BOARD).py

# Removes board sources that would shadow the new .mpy files, copies, resets;
# says what to do when the running firmware keeps mpremote out (host_tools/deploy.py).
# CircuitPython: copies the sources, the board file and the font to the
# CIRCUITPY drive and installs the adafruit libraries there with circup.
ifeq ($(RUNTIME),circuitpython)
deploy: venv
	$(PY) -m host_tools.deploy --runtime circuitpython --board $(BOARD) --drive $(DRIVE) \
		--circup $(VENV)/bin/circup
else
deploy: mpy
	$(PY) -m host_tools.deploy --port $(PORT) --mpremote $(VENV)/bin/mpremote \
		--keyboard $(KEYBOARD) build/mpy
endif

# The pictures are generated from boards/*.py; tests/repo/test_wiring.py checks they are current.
wiring: venv
	$(PY) -m host_tools.wiring docs/wiring

wheel: venv
	$(PY) -m pip wheel --no-deps --disable-pip-version-check -w dist .

# The simulated token only (its flash image and clock): a fresh demo token.
demo-reset:
	rm -rf sim-data

clean:
	rm -rf build dist *.egg-info $(VENV) $(PI_VENV) .pytest_cache sim-data
