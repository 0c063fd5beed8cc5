# Hardening: fuzzing, the corpus replay, the soak. Included by the Makefile (-include mk/*.mk).
#   make fuzz          every cargo-fuzz target for FUZZ_SECONDS each (nightly + cargo-fuzz); prints
#                      executions and crashes per target; exit 1 on a crash (input in fuzz/artifacts/)
#   make fuzz-replay   the committed corpora through the same target bodies on stable (part of make test)
#   make soak          (debug build) the full soak: SOAK_WEBHOOKS webhook requests and SOAK_CLICKS chat-ops clicks at
#                      SOAK_CONCURRENCY under seeded faults and a vault outage (loopback only)
#   make soak-short    the short soak as a test (part of make test)
.PHONY: fuzz fuzz-replay soak soak-short

FUZZ_SECONDS ?= 60
SOAK_WEBHOOKS ?= 500
SOAK_CLICKS ?= 200
SOAK_CONCURRENCY ?= 50
SOAK_SEED ?= 8

fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz"; exit 2; }
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

fuzz-replay:
	$(CARGO) test --locked -p defender-soak --test replay

soak:
	$(CARGO) run --locked -q -p defender-soak --bin defender-soak -- \
		--webhooks $(SOAK_WEBHOOKS) --clicks $(SOAK_CLICKS) --concurrency $(SOAK_CONCURRENCY) --seed $(SOAK_SEED)

soak-short:
	$(CARGO) test --locked -p defender-soak --test soak
