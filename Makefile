# tinkex developer tasks. `make test` is what CI runs.
CARGO ?= cargo
JOBS ?= 2

.PHONY: all build release test fmt-check clippy unit demo bench parity clean

all: build

build:
	$(CARGO) build -j$(JOBS)

release:
	$(CARGO) build --release -j$(JOBS)

fmt-check:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy -j$(JOBS) --all-targets -- -D warnings

unit:
	$(CARGO) test -j$(JOBS)

# The full check: formatting, lints, then every test (unit, integration, doc).
test: fmt-check clippy unit

clean:
	$(CARGO) clean

# Fast tokenizer path vs the full tokenizer on 1,000,000 generated ids (must print 0 mismatches).
parity:
	$(CARGO) run --release -j$(JOBS) --example parity_fast -- 1000000

# Whole-process start-up (load + encode + decode): empty process, warm and cold cache, no cache.
.PHONY: bench-startup
bench-startup:
	$(CARGO) run --release -j$(JOBS) --example startup_bench
