# make bench — webhook-enrich side by side with a hand-written Python Lambda (bench/baseline-python),
# token and vault economy, the shared client; prints one table and writes it to bench/results.md.
# Included by the Makefile (`-include mk/*.mk`), which defines CARGO, PYTHON, VENV and PIP_FLAGS.
# Bounded: about 2-3 minutes once built (release builds of the bench and of the three function crates come first).

.PHONY: bench bench-signature baseline-python

# Defaults in case this file is included before the Makefile defines them (same values).
CARGO ?= cargo
VENV ?= .venv
PYTHON ?= python3
PIP_FLAGS ?= --quiet --disable-pip-version-check --no-input

BASELINE_DIR := bench/baseline-python
# The pins name the stamps: editing a requirements file rebuilds the venv and the package dir, nothing else does.
BASELINE_PINS := $(shell cat $(BASELINE_DIR)/requirements.txt $(BASELINE_DIR)/requirements-runner.txt 2>/dev/null | sha256sum | cut -c1-12)
BASELINE_STAMP := $(VENV)/baseline/.stamp-$(BASELINE_PINS)
# What the handler's Lambda zip would hold: its pinned requirements installed for Lambda (no .pyc).
BASELINE_PACKAGE := $(VENV)/baseline-package
BASELINE_PACKAGE_STAMP := $(VENV)/.stamp-baseline-package-$(BASELINE_PINS)
BENCH_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

baseline-python: $(BASELINE_STAMP) $(BASELINE_PACKAGE_STAMP)

$(BASELINE_STAMP):
	rm -rf $(VENV)/baseline
	$(PYTHON) -m venv $(VENV)/baseline
	$(VENV)/baseline/bin/pip install $(PIP_FLAGS) -r $(BASELINE_DIR)/requirements.txt -r $(BASELINE_DIR)/requirements-runner.txt
	touch $@

$(BASELINE_PACKAGE_STAMP): $(BASELINE_STAMP)
	rm -rf $(BASELINE_PACKAGE)
	$(VENV)/baseline/bin/pip install $(PIP_FLAGS) --no-deps --no-compile --target $(BASELINE_PACKAGE) -r $(BASELINE_DIR)/requirements.txt
	touch $@

# The functions are built on their own, as `make dist` builds them (FUNCTION_PKGS): built together with
# the bench's packages, cargo would give their dependencies the simulator's features too (env-filter's
# regex, hyper's server), and the binaries measured (cold start, the five sizes) would not be those shipped.
bench: baseline-python
	$(CARGO) build --locked --release -p tenant-sim -p defender-bench
	$(CARGO) build --locked --release $(FUNCTION_PKGS)
	$(BENCH_TARGET_DIR)/release/defender-bench --python $(VENV)/baseline/bin/python --baseline $(BASELINE_DIR) \
		--package $(BASELINE_PACKAGE) --out bench/results.md

# The signature-check rows alone (issue 13 item 2): 256 KiB body, 1 / 8 / 1,000 bogus signatures.
bench-signature:
	$(CARGO) run --locked --release -q -p defender-bench --bin signature-bench
