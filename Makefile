# sensorflow: `make demo` runs the pipeline on a local cloud, `make test` runs every check.
# Both start with `make setup`, which is idempotent and cheap when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# checkov in its own venv: it pins boto3/botocore below the project's (requirements-scan.txt).
SCAN_VENV := .venv-scan
# Its own package directory, so a concurrent `sls deploy` (the local cloud) cannot swap the template mid-scan.
SCAN_PACKAGE := build/scan-package
# Python 3.12 is the Lambda runtime; find it on PATH or under pyenv.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)

PYTEST_ARGS ?=
DEMO_ARGS ?=
# make soak: minutes of steady publishing, readings/s (empty: the script's default), a fault plan file.
SOAK_MINUTES ?= 10
SOAK_RATE ?=
FAULTS ?=
# make fuzz: how many mutated records (FUZZ_INPUTS), from which seed (FUZZ_SEED).
FUZZ_INPUTS ?= 100000
FUZZ_SEED ?= 14

.PHONY: help setup test lint scan unit integration e2e package invoke demo soak fuzz reliability events bench bench-simulate audit clean

help:
	@echo "make setup   create .venv (python3.12) and node_modules; idempotent"
	@echo "make test    lint, type-check, scan the packaged template and run every test tier"
	@echo "make scan    package, then checkov on the CloudFormation template: zero failed checks"
	@echo "make demo    run the whole pipeline on a local cloud and print a summary"
	@echo "make package build the Lambda zip with npx sls package (offline, no credentials)"
	@echo "make invoke  FN=ingest EVENT=events/ingest-valid.json [STAGE=local]: sls invoke local with the venv"
	@echo "make events  regenerate the sample events in events/ from the schemas"
	@echo "make bench   benchmark the ingest handler (one run, all figures); writes BENCHMARKS.md"
	@echo "make soak    the local cloud at a steady rate (SOAK_MINUTES=10, SOAK_RATE=, FAULTS=plan.json): lag, memory, invariants"
	@echo "make reliability  fault plans through the real ingest handler and sensorflow demo --faults; writes RELIABILITY.md"
	@echo "make fuzz    mutation fuzz of the ingest record handler (FUZZ_INPUTS=100000, FUZZ_SEED=14); writes build/fuzz-report.md"
	@echo "make audit   known vulnerabilities in the runtime dependencies (needs the advisory services)"

setup: $(VENV)/.installed $(SCAN_VENV)/.installed node_modules/.installed $(VENV)/.chromium

# The operator console's browser test drives Debian's chromium headless through chromium-driver. Installed
# when absent (apt-get, as root); elsewhere a clear message, and that one test fails saying the same.
$(VENV)/.chromium: | $(VENV)/.installed
	@if command -v chromium >/dev/null && test -x /usr/bin/chromedriver; then touch $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; } \
		&& touch $@ || echo "warning: apt-get could not install chromium and chromium-driver; the console's browser test (tests/e2e/test_console_browser.py) will fail until they are installed" >&2; \
	else echo "warning: chromium and chromium-driver are not installed and this is not root; run 'sudo apt-get install chromium chromium-driver' for the console's browser test (tests/e2e/test_console_browser.py)" >&2; fi

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON312)" || { echo "error: python3.12 not found; install Python 3.12 (the Lambda runtime) and re-run 'make setup'" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(SCAN_VENV)/.installed: requirements-scan.txt
	@test -n "$(PYTHON312)" || { echo "error: python3.12 not found; install Python 3.12 and re-run 'make setup'" >&2; exit 1; }
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON312) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy sensorflow handlers

# Both cores: tests that package or deploy with osls share .serverless/ and stay on one worker (tests/conftest.py).
PYTEST_WORKERS ?= 2
test: setup lint scan
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

unit: setup
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

integration: setup
	$(VENV)/bin/pytest tests/integration $(PYTEST_ARGS)

e2e: setup
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

package: setup
	npx sls package --stage dev

# sls invoke local with the project's venv (osls runs the first python3 on PATH; it puts $VIRTUAL_ENV/bin first).
FN ?=
EVENT ?=
STAGE ?= local
invoke: setup
	@test -n "$(FN)" || { echo "error: name the function: make invoke FN=ingest EVENT=events/ingest-valid.json [STAGE=local]" >&2; exit 2; }
	@test -f "$(EVENT)" || { echo "error: EVENT=$(EVENT) is not a file; the sample events are in events/ (make events)" >&2; exit 2; }
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH npx sls invoke local -f $(FN) --stage $(STAGE) --path $(EVENT)

# Suppressions, each with its reason: .ci/checkov.yaml. Custom policies (X-Ray on every function):
# .ci/checkov_policies. cfn-lint runs in tests/integration/test_packaging.py.
scan: setup
	rm -rf $(SCAN_PACKAGE)
	SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off npx sls package --stage dev --package $(SCAN_PACKAGE)
	$(PY) .ci/checkov_scan.py $(SCAN_PACKAGE)/cloudformation-template-update-stack.json

events: setup
	$(PY) events/generate.py

demo: setup
	$(VENV)/bin/sensorflow demo $(DEMO_ARGS)

# Issue 14's table: fault plans (examples/faults/) through the real ingest handler under moto, replays and a
# rewind, then sensorflow demo --faults on the local cloud; writes RELIABILITY.md (scripts/reliability.py).
reliability: setup
	$(PY) scripts/reliability.py --demo

# The local cloud at a steady rate for SOAK_MINUTES: records, iterator lag over time, worker memory at
# start and end with a growth verdict, and the invariants; exit 1 if one fails. Samples in
# .sensorflow/soak/soak.csv, the summary in .sensorflow/soak/soak.json (scripts/soak.py).
soak: setup
	$(PY) scripts/soak.py --minutes $(SOAK_MINUTES) $(if $(SOAK_RATE),--rate $(SOAK_RATE)) $(if $(FAULTS),--faults $(FAULTS))

# Seeded mutation fuzz of the record handler over in-memory ports: inputs, outcomes by reason, time per record
# (max, p99), peak memory; exit 1 if an invariant breaks. `make test` runs 5,000 (tests/fuzz/test_fuzz_smoke.py).
fuzz: setup
	$(PY) -m tests.fuzz.run --inputs $(FUZZ_INPUTS) --seed $(FUZZ_SEED)

# One run, every figure of issue 9 next to its target: prints the table, writes BENCHMARKS.md and
# bench-results.json. `make test` runs it only in smoke mode (tests/bench/test_bench_smoke.py).
bench: setup
	$(PY) -m tests.bench.run

# Simulator generation and PutRecords throughput against a local moto server (not part of `make bench`).
bench-simulate: setup
	$(PY) -m tests.bench.bench_simulate

# pip-audit on requirements.txt (the Lambda runtime's) and npm audit --omit=dev. It needs the advisory
# services (PyPI's JSON API or OSV, the npm registry), so `make test` does not run it. Exit 1: findings;
# exit 2 and INCOMPLETE when a source cannot be reached, never a pass (SECURITY.md, "Dependency audits").
# PIP_AUDIT_ARGS="--vulnerability-service osv" asks OSV instead; NPM_AUDIT_ARGS= audits the tool chain too.
PIP_AUDIT_ARGS ?=
NPM_AUDIT_ARGS ?= --omit=dev
audit: setup
	$(PY) scripts/audit.py --pip-audit-args="$(PIP_AUDIT_ARGS)" --npm-audit-args="$(NPM_AUDIT_ARGS)"

clean:
	rm -rf .serverless build/scan-package .requirements .requirements.zip .pytest_cache .ruff_cache .mypy_cache
