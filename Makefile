# tinkex developer tasks. `make test` is what CI runs.
CARGO ?= cargo
JOBS ?= 2

.PHONY: all build release test fmt-check clippy unit demo bench bench-batch parity clean

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

# Offline demo, no API key needed: the demo server on a free loopback port, then `tinkex run` against it.
demo:
	$(CARGO) build -j$(JOBS) --bin tinkex --example demo_server
	./examples/demo_server/demo.sh

clean:
	$(CARGO) clean

# Benchmarks print numbers; they are not tests. `bench` runs every benchmark target.
bench: bench-batch

# Batch mode against the demo server at 100 ms per sample: --parallel 1/8/32/64, and memory for a long input.
bench-batch:
	$(CARGO) build --release -j$(JOBS) --bin tinkex --example batch_bench
	./target/release/examples/batch_bench
