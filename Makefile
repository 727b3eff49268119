# Everyday commands. `make test` is what CI runs (through .ci/run); `make help` lists them all.
.PHONY: help run test chromium chaos fuzz fuzz-api bench bench-scale lint fmt check deny audit openapi postgres check-xlsx

CARGO ?= cargo
# The fault tests' crash points are compiled in for tests only, never into `make run`.
TEST_FEATURES = --features api/fault-injection

## help: this list
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## //' | awk -F': ' '{ printf "  %-10s %s\n", $$1, $$2 }'

## run: the service on its embedded SQLite database (./data/itsm.db), contract loaded
run:
	$(CARGO) run --locked -p api --bin itsm -- serve

## test: every test of the workspace on SQLite and PostgreSQL (starts PostgreSQL if it is down),
## the web console's in headless Chromium (installed with apt when missing)
test: postgres chromium
	$(CARGO) test --workspace --all-targets --locked $(TEST_FEATURES)

## chaos: fault tests on the real binary: kill -9 under load, PostgreSQL away for 30 s
## (CHAOS_OUTAGE_SECONDS), a SQLite disk that fills, two instances
chaos: postgres
	$(CARGO) test --locked -p api $(TEST_FEATURES) --test chaos -- --include-ignored --test-threads=1 --nocapture

## fuzz-api: schemathesis against a live server, every operation as every role, 200 examples each
## (CI runs the same with 8 each; FUZZ_API_EXAMPLES sets it)
fuzz-api:
	FUZZ_API_EXAMPLES=$${FUZZ_API_EXAMPLES:-200} scripts/fuzz-api

## check-xlsx: a month's workbook printed by LibreOffice headless to PDF and checked (A4 landscape,
## header row on every page, page count; print setup with openpyxl); pages as PNG in target/xlsx-check/
check-xlsx:
	@scripts/check-xlsx

## chromium: make sure headless Chromium, chromedriver, axe-core and the HTML checker are here (the browser tests)
chromium:
	@scripts/chromium-up

## postgres: make sure the local PostgreSQL answers on 127.0.0.1:5432
postgres:
	@scripts/postgres-up

## openapi: rewrite openapi/openapi.json from the code
openapi:
	@mkdir -p openapi
	$(CARGO) run --locked -q -p api --bin itsm -- openapi > openapi/openapi.json

## bench: the business-time workload (shared/bench/WORKLOAD.md), then filing and reading
## tickets at 1, 8 and 32 clients on SQLite and PostgreSQL, empty and with 1,000,000 stored,
## then the web console's pages rendered with 100,000 tickets stored
bench: postgres
	$(CARGO) run --release --locked -p sla-engine --example workload -- --seed 20260101 --n 100000
	$(CARGO) run --release --locked -p api --example load -- --backend both --requests 2000
	$(CARGO) run --release --locked -p api --example load -- --backend both --requests 2000 --preload 1000000
	$(CARGO) run --release --locked -p api --example pages -- --backend both --tickets 100000

# The service and PostgreSQL on one host talk over its Unix socket where it
# has one, as a deployment on one host would (TCP adds TLS and the loopback's
# work to every query; docs/benchmarks.md).
PG_SOCKET_DIR ?= /var/run/postgresql
BENCH_POSTGRES_URL ?= $(shell test -S $(PG_SOCKET_DIR)/.s.PGSQL.5432 \
	&& echo 'postgres://postgres@localhost/postgres?host=$(PG_SOCKET_DIR)' \
	|| echo 'postgres://postgres@127.0.0.1:5432/postgres')

## bench-scale: timers, recomputation, reports and reads with 1,000,000 tickets on PostgreSQL
## (under 15 minutes), then 100,000 on SQLite (docs/benchmarks.md; --idle-seconds shortens a run)
bench-scale: postgres
	TEST_POSTGRES_URL='$(BENCH_POSTGRES_URL)' $(CARGO) run --release --locked -p api --example scale -- --backend postgres --clocks 1000000
	$(CARGO) run --release --locked -p api --example scale -- --backend sqlite --clocks 100000

## fuzz: coverage-guided fuzzing (cargo fuzz) of the config loaders and business time,
## FUZZ_SECONDS (default 60) per target; not part of `test`
fuzz:
	@scripts/fuzz

## lint: clippy on everything, warnings as errors
lint:
	$(CARGO) clippy --workspace --all-targets --locked $(TEST_FEATURES) -- -D warnings

## fmt: format the code
fmt:
	$(CARGO) fmt --all

## check: formatting and lints, without running tests (CI runs it first; the layer rules
## of ARCHITECTURE.md are a test, crates/api/tests/layers.rs)
check:
	$(CARGO) fmt --all -- --check
	$(MAKE) lint

## deny: licences, banned crates and sources of every dependency (cargo-deny, offline)
deny:
	@scripts/cargo-deny-up
	$(CARGO) deny --offline check licenses bans sources

## audit: known security advisories (cargo-deny; needs the network)
audit:
	@scripts/cargo-deny-up
	$(CARGO) deny check advisories
