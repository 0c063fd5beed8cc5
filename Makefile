# defender-functions — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run dev test fmt-check fmt clippy unit sim build bench login doctor clean help venv lint-infra moto \
	bins cli lambda-venv sam-venv build-lambda sam-build deploy grant-script cfn-venv

# Where cargo puts binaries (the runner and the end-to-end tests look there too).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
FUNCTION_PKGS := -p webhook-enrich -p scheduled-export -p chatops

help:
	@echo "make run    — the three functions' binaries under cargo-lambda against the simulated tenant, end to end"
	@echo "make dev    — the same stack left running, with URLs and ready-to-paste curl commands (Ctrl-C stops)"
	@echo "make test   — fmt check, clippy -D warnings, every test"
	@echo "make sim    — the simulated tenant alone (tenant-sim --seed demo)"
	@echo "make bench  — webhook-enrich vs a hand-written Python Lambda, token/vault economy, the shared client (bench/results.md)"
	@echo "make soak   — 500 webhooks + 200 chat-ops clicks at 50-way concurrency under injected faults"
	@echo "make fuzz   — every cargo-fuzz target for FUZZ_SECONDS each (nightly + cargo-fuzz)"
	@echo "make lint-infra — cfn-lint, OpenAPI validation and checkov on infra/ (creates .venv/lint, .venv/checkov once)"
	@echo "make build-lambda — release arm64 zips with cargo-lambda (target/lambda/<function>/bootstrap.zip)"
	@echo "make sam-build  — sam build -t infra/template.yaml (.venv/sam); make deploy = sam deploy --guided"
	@echo "make login TENANT=<name> — device-code sign-in of a user-context tenant; make doctor [TENANT=<name>] — permission check"
	@echo "make dist   — the release: dist/<function>.zip, dist/template.yaml (no Rust needed to deploy), dist/SHA256SUMS"

# make run / make dev: the function binaries (debug) attached to `cargo lambda watch --only-lambda-apis`.
run: bins lambda-venv
	$(CARGO) run --locked -q -p local-runner --bin defender-local

dev: bins cli lambda-venv
	$(CARGO) run --locked -q -p local-runner --bin defender-local -- --dev

# The four Lambda binaries (debug): make run, make dev and the end-to-end tests in tests/ use them.
bins:
	$(CARGO) build --locked -q $(FUNCTION_PKGS) --bins

cli:
	$(CARGO) build --locked -q -p defender-cli

# The operator's commands against the tenants the environment configures (TENANT_REGISTRY, the vault):
# `make login TENANT=<name>` signs a user-context tenant in (device code; the refresh token goes to the
# vault); `make doctor [TENANT=<name>]` checks each tenant's tokens hold what the functions need.
login: cli
	$(if $(TENANT),,$(error make login needs TENANT=<name in the registry>))
	$(TARGET_DIR)/debug/defender-functions login --tenant '$(TENANT)'

doctor: cli
	$(TARGET_DIR)/debug/defender-functions doctor $(if $(TENANT),--tenant '$(TENANT)')

# The script that grants each function's Entra permissions: its tables (the block between BEGIN and END
# GENERATED) are regenerated from the permission manifest; through a temp file, because the CLI embeds the script.
grant-script:
	$(CARGO) run --locked -q -p defender-cli -- grant-script > scripts/grant-permissions.sh.new
	mv scripts/grant-permissions.sh.new scripts/grant-permissions.sh
	chmod +x scripts/grant-permissions.sh

test: fmt-check clippy unit lint-infra dist-check

fmt-check:
	$(CARGO) fmt --all -- --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p defender-shared -- -D warnings

# The end-to-end tests (tests/tests/e2e.rs) run the debug binaries that `bins` builds, under cargo-lambda.
unit: moto lambda-venv cfn-venv bins
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

# AWS's SAM transform (samtranslator) for scripts/cfn_resolve.py, which resolves infra/template.yaml as
# CloudFormation would for the template-environment and IAM tests. Its own venv: cfn-lint 1.58 no
# longer installs samtranslator, and the lint venv stays as its stamp says.
SAM_TRANSLATOR_VERSION := 1.110.0
PYYAML_VERSION := 6.0.3
CFN_STAMP := $(VENV)/cfn/.stamp-sam-translator-$(SAM_TRANSLATOR_VERSION)-pyyaml-$(PYYAML_VERSION)

# cargo-lambda (the Lambda emulator for make run/dev and the e2e tests; the arm64 release build)
# with zig (its cross linker) from PyPI. aws-sam-cli in its own venv: checkov pins boto3 and would
# downgrade it (measured: installed together, pip backtracks and downgrades SAM).
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.17.1
SAM_VERSION := 1.170.0
LAMBDA_STAMP := $(VENV)/lambda/.stamp-cargo-lambda-$(CARGO_LAMBDA_VERSION)-zig-$(ZIGLANG_VERSION)
SAM_STAMP := $(VENV)/sam/.stamp-sam-$(SAM_VERSION)

# Each tool's venv, one recipe: created afresh in the stamp's folder, its pins installed, then the stamp.
define pip-venv
rm -rf $(@D)
$(PYTHON) -m venv $(@D)
$(@D)/bin/pip install $(PIP_FLAGS) $(PIP_REQS)
touch $@
endef
$(LINT_STAMP): PIP_REQS := 'cfn-lint==$(CFN_LINT_VERSION)' 'openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)'
$(CHECKOV_STAMP): PIP_REQS := 'checkov==$(CHECKOV_VERSION)'
$(MOTO_STAMP): PIP_REQS := 'moto[server]==$(MOTO_VERSION)'
$(CFN_STAMP): PIP_REQS := 'aws-sam-translator==$(SAM_TRANSLATOR_VERSION)' 'pyyaml==$(PYYAML_VERSION)'
$(LAMBDA_STAMP): PIP_REQS := 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIGLANG_VERSION)'
$(SAM_STAMP): PIP_REQS := 'aws-sam-cli==$(SAM_VERSION)'
$(LINT_STAMP) $(CHECKOV_STAMP) $(MOTO_STAMP) $(CFN_STAMP) $(LAMBDA_STAMP) $(SAM_STAMP):
	$(pip-venv)

venv: $(LINT_STAMP) $(CHECKOV_STAMP) $(MOTO_STAMP) $(LAMBDA_STAMP)

lambda-venv: $(LAMBDA_STAMP)

sam-venv: $(SAM_STAMP)

# Release arm64 zips, one per function (not part of make test: minutes of release build on 2 cores).
# cargo-lambda writes to <target>/lambda/<binary>/bootstrap.zip.
build-lambda: lambda-venv
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/lambda/bin:$$PATH" $(VENV)/lambda/bin/cargo-lambda lambda build --locked --release --arm64 \
		--output-format zip $(FUNCTION_PKGS)
	@ls -l $(TARGET_DIR)/lambda/*/bootstrap.zip

# sam build with the template's rust-cargolambda builder (it runs cargo lambda build itself; the
# builder copies from <CodeUri>/target/lambda/<binary>/, so CARGO_TARGET_DIR is unset for it).
sam-build: lambda-venv sam-venv
	rustup target add aarch64-unknown-linux-gnu
	env -u CARGO_TARGET_DIR PATH="$(CURDIR)/$(VENV)/lambda/bin:$(CURDIR)/$(VENV)/sam/bin:$$PATH" \
		SAM_CLI_TELEMETRY=0 $(VENV)/sam/bin/sam build -t infra/template.yaml

# Not run here: needs AWS credentials. See docs/deploy.md.
deploy: sam-build
	SAM_CLI_TELEMETRY=0 $(VENV)/sam/bin/sam deploy --guided

cfn-venv: $(CFN_STAMP)

# moto, the AWS stand-in (S3, SQS, DynamoDB, Logs) of the store and end-to-end tests; they start it on an
# ephemeral port through local/testkit/strict_moto.py (IAM enforced from the template's roles).
moto: $(MOTO_STAMP)

# Offline: cfn-lint carries its specs, checkov runs with --skip-download (no vendor calls).
lint-infra: venv
	$(VENV)/lint/bin/cfn-lint infra/template.yaml
	$(VENV)/lint/bin/openapi-spec-validator infra/openapi.yaml
	$(VENV)/checkov/bin/checkov -d infra --framework cloudformation openapi --skip-download --quiet --compact

sim:
	$(CARGO) run --locked -q -p tenant-sim -- --seed demo --ca-out target/tenant-sim-ca.pem


build:
	$(CARGO) build --locked --workspace --release

clean:
	$(CARGO) clean

# Benchmarks (mk/bench.mk) and hardening: fuzz, corpus replay, soak (mk/harden.mk).
-include mk/*.mk
