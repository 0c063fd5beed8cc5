# defender-functions — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test fmt-check fmt clippy unit sim build bench login doctor clean help venv lint-infra moto

help:
	@echo "make run    — the main job on the simulated tenant (demo seed), end to end"
	@echo "make test   — fmt check, clippy -D warnings, every test"
	@echo "make sim    — the simulated tenant alone (tenant-sim --seed demo)"
	@echo "make bench  — the shared client against the simulator: token cache, call overhead, paging, memory"
	@echo "make lint-infra — cfn-lint, OpenAPI validation and checkov on infra/ (creates .venv/lint, .venv/checkov once)"

run:
	$(CARGO) run --locked -q -p local-runner --bin defender-local

test: fmt-check clippy unit lint-infra

fmt-check:
	$(CARGO) fmt --all -- --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p defender-shared --features aws-sts -- -D warnings

unit: moto
	$(CARGO) test --locked --workspace

# Infrastructure linters, each tool set in its own venv (checkov pins boto3 and would fight others).
# A stamp file names the pinned versions: bumping a pin rebuilds that venv; nothing else does.
PYTHON ?= python3
VENV ?= .venv
CFN_LINT_VERSION := 1.58.0
OPENAPI_SPEC_VALIDATOR_VERSION := 0.9.0
CHECKOV_VERSION := 3.3.30
PIP_FLAGS := --quiet --disable-pip-version-check --no-input
LINT_STAMP := $(VENV)/lint/.stamp-cfn-lint-$(CFN_LINT_VERSION)-osv-$(OPENAPI_SPEC_VALIDATOR_VERSION)
CHECKOV_STAMP := $(VENV)/checkov/.stamp-checkov-$(CHECKOV_VERSION)

MOTO_VERSION := 5.2.5
MOTO_STAMP := $(VENV)/moto/.stamp-moto-$(MOTO_VERSION)

venv: $(LINT_STAMP) $(CHECKOV_STAMP) $(MOTO_STAMP)

# moto's S3 server for the scheduled-export S3 sink test (the test starts it on an ephemeral port).
moto: $(MOTO_STAMP)

$(MOTO_STAMP):
	rm -rf $(VENV)/moto
	$(PYTHON) -m venv $(VENV)/moto
	$(VENV)/moto/bin/pip install $(PIP_FLAGS) 'moto[server]==$(MOTO_VERSION)'
	touch $@

$(LINT_STAMP):
	rm -rf $(VENV)/lint
	$(PYTHON) -m venv $(VENV)/lint
	$(VENV)/lint/bin/pip install $(PIP_FLAGS) 'cfn-lint==$(CFN_LINT_VERSION)' 'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)'
	touch $@

$(CHECKOV_STAMP):
	rm -rf $(VENV)/checkov
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install $(PIP_FLAGS) 'checkov==$(CHECKOV_VERSION)'
	touch $@

# Offline: cfn-lint carries its specs, checkov runs with --skip-download (no vendor calls).
lint-infra: venv
	$(VENV)/lint/bin/cfn-lint infra/template.yaml
	$(VENV)/lint/bin/openapi-spec-validator infra/openapi.yaml
	$(VENV)/checkov/bin/checkov -d infra --framework cloudformation openapi --skip-download --quiet --compact

sim:
	$(CARGO) run --locked -q -p tenant-sim -- --seed demo --ca-out target/tenant-sim-ca.pem

bench:
	$(CARGO) build --locked --release -p tenant-sim -p defender-bench -p webhook-enrich
	./target/release/defender-bench

build:
	$(CARGO) build --locked --workspace --release

clean:
	$(CARGO) clean
