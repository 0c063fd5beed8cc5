# defender-functions — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test fmt-check fmt clippy unit sim build bench clean help

help:
	@echo "make run    — the main job on the simulated tenant (demo seed), end to end"
	@echo "make test   — fmt check, clippy -D warnings, every test"
	@echo "make sim    — the simulated tenant alone (tenant-sim --seed demo)"

run:
	$(CARGO) run --locked -q -p local-runner --bin defender-local

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --locked --workspace

sim:
	$(CARGO) run --locked -q -p tenant-sim -- --seed demo --ca-out target/tenant-sim-ca.pem

build:
	$(CARGO) build --locked --workspace --release

clean:
	$(CARGO) clean
