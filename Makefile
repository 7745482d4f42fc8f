# tinkex developer tasks. `make test` is what CI runs.
CARGO ?= cargo
JOBS ?= 2

.PHONY: all build release install test fmt-check clippy unit demo run bench bench-batch bench-startup bench-download parity clean

all: build

build:
	$(CARGO) build -j$(JOBS)

release:
	$(CARGO) build --release -j$(JOBS)

# Puts tinkex on PATH (~/.cargo/bin). After `make run` or `make release` this reuses that
# build (the same release profile and target folder) instead of compiling again.
install:
	$(CARGO) install --path . --locked -j$(JOBS)

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy -j$(JOBS) --locked --all-targets -- -D warnings

unit:
	$(CARGO) test -j$(JOBS) --locked

# The full check: formatting, lints, then every test (unit, integration, doc).
test: fmt-check clippy unit

# Where cargo puts binaries: $CARGO_TARGET_DIR when set, else target/.
TARGET_DIR = $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)

# Offline demo, no API key needed: the demo server on a free loopback port, then `tinkex run`
# against it. The release profile, so the binary the demo uses is the one a user keeps.
demo:
	$(CARGO) build --release -j$(JOBS) --bin tinkex --example demo_server
	PROFILE=release ./examples/demo_server/demo.sh
	@echo "tinkex is at $(TARGET_DIR)/release/tinkex; 'make install' puts it on PATH (~/.cargo/bin)"

# The main job: sample from the real API when a credential is set up, else from the offline
# demo server. Either way one release build, whose binary stays for later use.
MODEL ?= Qwen/Qwen3-8B
PROMPT ?= Hello
run:
	@if [ -n "$$TINKER_API_KEY$$TINKER_CREDENTIAL_CMD" ] || [ -f "$$HOME/.tinker/credentials.json" ]; then \
		$(CARGO) run -j$(JOBS) --release --bin tinkex -- run --base-model "$(MODEL)" --prompt "$(PROMPT)" && \
		echo "tinkex is at $(TARGET_DIR)/release/tinkex; 'make install' puts it on PATH (~/.cargo/bin)"; \
	else \
		echo "no Tinker credential (TINKER_API_KEY, TINKER_CREDENTIAL_CMD, ~/.tinker/credentials.json): sampling from the offline demo server"; \
		$(MAKE) --no-print-directory demo; \
	fi

clean:
	$(CARGO) clean

# Fast tokenizer path vs the full tokenizer on 1,000,000 generated ids (must print 0 mismatches).
parity:
	$(CARGO) run --release -j$(JOBS) --example parity_fast -- 1000000

# Whole-process start-up (load + encode + decode): empty process, warm and cold cache, no cache.
bench-startup:
	$(CARGO) build --release -j$(JOBS) --bin tinkex --example demo_server --example run_bench --example startup_bench
	$(CARGO) run --release -j$(JOBS) --example startup_bench
	$(CARGO) run --release -j$(JOBS) --example run_bench

# Benchmarks print numbers; they are not tests. `bench` runs every benchmark target.
bench: bench-startup bench-batch bench-download

# Batch mode against the demo server at 100 ms per sample: --parallel 1/8/32/64, and memory for a long input.
bench-batch:
	$(CARGO) build --release -j$(JOBS) --bin tinkex --example batch_bench
	./target/release/examples/batch_bench

# Release artifacts for servers without Rust (README "Install"): a binary for glibc ≥ 2.17 built
# with cargo-zigbuild (installed into target/dist-venv when missing), dist/*.tar.gz, dist/*.deb,
# dist/SHA256SUMS, then dist-check. Not part of `make test` or CI.
.PHONY: dist dist-check
dist:
	JOBS=$(JOBS) bash tools/dist.sh dist

# Checks dist/: glibc ≤ 2.17, libraries, stripped, size, the demo from the tarball, dpkg install.
dist-check:
	JOBS=$(JOBS) bash tools/dist.sh check

# A large file served on loopback, fetched by tinkex's fetcher, by `tinkex checkpoint download`
# and by curl; then the peak RSS of a 2 MB and a 50 MB download. Built with the dev profile at
# opt-level 3 (its dependencies are already optimized) instead of the release LTO build, which
# takes too long on a loaded machine; see docs/benchmarks.md.
bench-download:
	CARGO_PROFILE_DEV_OPT_LEVEL=3 $(CARGO) build -j$(JOBS) --bin tinkex --example download_bench
	$${CARGO_TARGET_DIR:-target}/debug/examples/download_bench
