# Everyday commands. `make test` is what CI runs (through .ci/run).
.PHONY: test bench lint fmt check

CARGO ?= cargo

## test: every test of the workspace (debug build, as CI runs it)
test:
	$(CARGO) test --workspace --locked

## bench: the business-time workload of shared/bench/WORKLOAD.md (release build)
bench:
	$(CARGO) run --release --locked -p sla-engine --example workload -- --seed 20260101 --n 100000

## lint: clippy on everything, warnings as errors
lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## check: formatting and lints, without running tests
check:
	$(CARGO) fmt --all -- --check
	$(MAKE) lint
