# Everyday commands. `make test` is what CI runs (through .ci/run).
.PHONY: run test bench lint fmt check openapi postgres fuzz

CARGO ?= cargo

## run: the service on its embedded SQLite database (./data/itsm.db), contract loaded
run:
	$(CARGO) run --locked -p api --bin itsm -- serve

## test: every test of the workspace on SQLite and PostgreSQL (starts PostgreSQL if it is down)
test: postgres
	$(CARGO) test --workspace --all-targets --locked

## postgres: make sure the local PostgreSQL answers on 127.0.0.1:5432
postgres:
	@scripts/postgres-up

## openapi: rewrite openapi/openapi.json from the code
openapi:
	@mkdir -p openapi
	$(CARGO) run --locked -q -p api --bin itsm -- openapi > openapi/openapi.json

## bench: the business-time workload (shared/bench/WORKLOAD.md), then filing and reading
## tickets at 1, 8 and 32 clients on SQLite and PostgreSQL, empty and with 1,000,000 stored
bench: postgres
	$(CARGO) run --release --locked -p sla-engine --example workload -- --seed 20260101 --n 100000
	$(CARGO) run --release --locked -p api --example load -- --backend both --requests 2000
	$(CARGO) run --release --locked -p api --example load -- --backend both --requests 2000 --preload 1000000

## fuzz: coverage-guided fuzzing (cargo fuzz) of the config loaders and business time,
## FUZZ_SECONDS (default 60) per target; not part of `test`
fuzz:
	@scripts/fuzz

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
