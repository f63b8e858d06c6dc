# segkit: `make demo` and `make test` are the two set-up commands (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.segkit-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] && echo "" || (command -v sudo >/dev/null && sudo -n true 2>/dev/null && echo sudo || echo NONE))

.PHONY: help install demo test lab docs docs-check bench execute chromium clean

help:
	@echo "make demo | test | lab | docs | docs-check | bench | execute | clean"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "segkit needs Python >= 3.10, found " + sys.version' 
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv with apt"; \
	  [ "$(SUDO)" != NONE ] || { echo "ERROR: need root or sudo to apt-get install python3-venv"; exit 1; }; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }

$(STAMP): $(BIN)/python setup.py settings.ini constraints.txt
	@avail=$$(df -Pk . | awk 'NR==2{print int($$4/1048576)}'); [ "$$avail" -ge 9 ] || echo "WARNING: only $$avail GiB free in $$(pwd): segkit's environment needs about 8 GiB (torch and torchvision are CUDA builds), so the install may fail with 'No space left on device'"
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@# lightly only for the optional agreement tests (not a dependency): without its own dependencies, as the pretext tests need
	$(BIN)/python -m pip install -q --no-deps lightly==1.6.0 || echo "WARNING: lightly not installed: its agreement tests will be skipped"
	$(BIN)/python -m pip install -q --no-deps python-elf==0.9.2 || echo "WARNING: python-elf not installed: its agreement tests will be skipped"
	$(BIN)/python -m pip install -q --no-deps grad-cam==1.5.7 ttach==0.0.3 opencv-python-headless==5.0.0.93 || echo "WARNING: pytorch-grad-cam not installed: its agreement tests will be skipped"
	@touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the docs-site browser test: installed with apt when missing and we may.
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$(SUDO)" != NONE ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	else echo "WARNING: chromium is missing and cannot be installed here (no root/sudo/apt): browser tests will be skipped"; fi

demo: install
	$(BIN)/segkit demo

test: install chromium
	$(BIN)/nbdev_clean
	@git diff --exit-code --stat -- nbs || { echo "ERROR: notebooks are not clean: run nbdev_clean and commit"; exit 1; }
	$(BIN)/nbdev_export
	@test -z "$$(git status --porcelain -- segkit)" || { git status --short -- segkit; echo "ERROR: segkit/ is out of sync with nbs/: run nbdev_export and commit"; exit 1; }
	$(BIN)/nbdev_test --n_workers 2 --timing
	@set +e; $(BIN)/python -m pytest tests -q -rs; rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests"; exit 1; fi; exit $$rc

lab: install
	$(BIN)/jupyter lab nbs

docs: install
	$(BIN)/segkit docs

# Build the docs site and check it: internal links and anchors, images, escape sequences, a real browser (also part of `make test`).
docs-check: install chromium
	$(BIN)/python -m pytest -q -rs tests/test_docs_site.py

bench: install
	$(BIN)/python bench/run.py

# Re-run every notebook and save its outputs (the docs render from saved outputs), then clean and export.
execute: install
	$(BIN)/python -c "from segkit.docsite import execute_nbs; execute_nbs()"
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export

clean:
	rm -rf _proc _proc_sphinx _site _docs .pytest_cache test-artifacts
