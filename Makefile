# defender-functions — the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test fmt-check fmt clippy unit sim build bench login doctor clean help

help:
	@echo "make run    — the main job on the simulated tenant (demo seed), end to end"
	@echo "make test   — fmt check, clippy -D warnings, every test"
	@echo "make sim    — the simulated tenant alone (tenant-sim --seed demo)"
	@echo "make bench  — the shared client against the simulator: token cache, call overhead, paging, memory"

run:
	$(CARGO) run --locked -q -p local-runner --bin defender-local

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked -p defender-shared --features aws-sts -- -D warnings

unit:
	$(CARGO) test --locked --workspace

sim:
	$(CARGO) run --locked -q -p tenant-sim -- --seed demo --ca-out target/tenant-sim-ca.pem

bench:
	$(CARGO) build --locked --release -p tenant-sim -p defender-bench
	./target/release/defender-bench

build:
	$(CARGO) build --locked --workspace --release

clean:
	$(CARGO) clean
