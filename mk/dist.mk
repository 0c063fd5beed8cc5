# make dist — the deployable release: one arm64 release build of the four Lambda binaries, then
# scripts/package_dist.py writes dist/<binary>.zip, dist/template.yaml (derived from infra/template.yaml:
# CodeUri -> the zip, no BuildMethod), dist/grant-permissions.sh, dist/BUILDINFO and dist/SHA256SUMS. `sam deploy -t dist/template.yaml` needs no Rust.
# Included by the Makefile (`-include mk/*.mk`), which defines CARGO, PYTHON, VENV, PIP_FLAGS, FUNCTION_PKGS,
# TARGET_DIR and the lambda/cfn/lint/checkov venv stamps.
#   make dist          dist-build (minutes of release build: not part of make test) + dist-package
#   make dist-build    cargo lambda build --release --arm64 of the three function crates, once
#   make dist-package  package what dist-build left in $(TARGET_DIR)/lambda/<binary>/bootstrap
#   make dist-check    (part of make test) the packager on stand-in bootstraps, its template linted;
#                      the release workflow validated against its schema
.PHONY: dist dist-build dist-package dist-check workflow-venv

DIST_DIR ?= dist
# One timestamp for everything the release writes: SOURCE_DATE_EPOCH from the environment if set, else the
# last commit's time (reproducible from the source), else 1980-01-01 (the earliest a zip can record).
# Given to the dist recipes only, not exported to the rest of the Makefile.
DIST_EPOCH = $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),315532800)
# The build's own SOURCE_DATE_EPOCH is a constant: the cc crate reruns AWS-LC's C build (and so everything
# above it) whenever SOURCE_DATE_EPOCH changes, and the commit time changes with every commit. The binaries
# embed no date, so a constant keeps them reproducible without a rebuild per commit; the zips carry DIST_EPOCH.
DIST_BUILD_EPOCH := 315532800
DIST_CARGO_HOME := $(or $(CARGO_HOME),$(HOME)/.cargo)
DIST_TARGET_ABS := $(abspath $(TARGET_DIR))
# Paths that would otherwise be compiled into the binaries (panic locations, C __FILE__): the checkout,
# the cargo home (crates.io sources) and the target directory (build-script output). rustc applies the
# last matching remap, so the target directory (inside the checkout) comes after the checkout.
DIST_RUSTFLAGS := --remap-path-prefix=$(CURDIR)=/build --remap-path-prefix=$(DIST_CARGO_HOME)=/cargo \
	--remap-path-prefix=$(DIST_TARGET_ABS)=/target
DIST_CFLAGS := -ffile-prefix-map=$(CURDIR)=/build -ffile-prefix-map=$(DIST_CARGO_HOME)=/cargo \
	-ffile-prefix-map=$(DIST_TARGET_ABS)=/target

dist: dist-build
	$(MAKE) --no-print-directory dist-package

# --locked: the Cargo.lock versions; [profile.release] strips symbols (Cargo.toml). The rustflags go
# through the target-specific variable, so the repository's .cargo/config.toml [env] still applies.
dist-build: lambda-venv
	rustup target add aarch64-unknown-linux-gnu
	SOURCE_DATE_EPOCH=$(DIST_BUILD_EPOCH) PATH="$(CURDIR)/$(VENV)/lambda/bin:$$PATH" \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$(DIST_RUSTFLAGS)" \
	CFLAGS_aarch64_unknown_linux_gnu="$(DIST_CFLAGS)" \
		$(VENV)/lambda/bin/cargo-lambda lambda build --locked --release --arm64 $(FUNCTION_PKGS)
	@ls -l $(TARGET_DIR)/lambda/*/bootstrap

# The packager reads the template with PyYAML (the cfn venv) and writes only with the standard library.
dist-package: cfn-venv
	SOURCE_DATE_EPOCH=$(DIST_EPOCH) PATH="$(CURDIR)/$(VENV)/lambda/bin:$$PATH" $(VENV)/cfn/bin/python scripts/package_dist.py --template infra/template.yaml \
		--binaries $(TARGET_DIR)/lambda --out $(DIST_DIR) --extra scripts/grant-permissions.sh
	@ls -l $(DIST_DIR)

# check-jsonschema validates .github/workflows/*.yml against the GitHub Actions workflow schema it ships
# (vendor.github-workflows; --builtin-schema reads no network). actionlint is not installable offline:
# its PyPI package downloads the binary from GitHub while it builds.
CHECK_JSONSCHEMA_VERSION := 0.39.0
WORKFLOW_STAMP := $(VENV)/workflow/.stamp-check-jsonschema-$(CHECK_JSONSCHEMA_VERSION)

workflow-venv: $(WORKFLOW_STAMP)

$(WORKFLOW_STAMP):
	rm -rf $(VENV)/workflow
	$(PYTHON) -m venv $(VENV)/workflow
	$(VENV)/workflow/bin/pip install $(PIP_FLAGS) 'check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)'
	touch $@

# Lean (no release build): scripts/test_package_dist.py packages stand-in bootstraps twice and checks the
# zips, the derived template (cfn-lint, checkov), the checksums; then the release workflow's schema.
dist-check: $(CFN_STAMP) $(LINT_STAMP) $(CHECKOV_STAMP) $(WORKFLOW_STAMP)
	$(VENV)/cfn/bin/python scripts/test_package_dist.py
	$(VENV)/workflow/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/release.yml
