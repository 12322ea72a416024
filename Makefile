# kialiops.multicluster — the commands the README documents and CI runs unchanged.
#   make demo   start the local lab and run playbooks/site.yml against it
#   make test   lint, sanity, unit, integration and reliability tests (the lab is started if needed, stopped after)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
export LAB_DIR ?= $(CURDIR)/.lab
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
LAB      := $(BIN)/python tools/lab/lab.py
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
STAMP    := $(VENV)/.kialiops-$(REQ_HASH)
PYTEST   := tools/pytest-strict

.PHONY: help venv lab-build lab-up lab-down lab-status demo test test-fixtures lint sanity unit integration reliability bench clean collection ee molecule changelog

help:
	@echo "make demo | test | test-fixtures | lint | sanity | unit | integration | reliability | lab-build | lab-up | lab-status | lab-down | bench | collection | ee"

# A virtualenv with the pinned packages; rebuilt only when the requirements change.
venv: $(STAMP)
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	@rm -f $(VENV)/.kialiops-*; touch $@
	@mkdir -p .collections/ansible_collections/kialiops
	@ln -sfn ../../.. .collections/ansible_collections/kialiops/multicluster

lab-build: venv
	timeout 45m $(LAB) build

lab-up: lab-build
	$(LAB) up

lab-status: venv
	$(LAB) status

lab-down: venv
	$(LAB) down

demo: lab-up
	$(BIN)/ansible-playbook -i $(LAB_DIR)/inventory.yml playbooks/site.yml

test: lint sanity unit integration reliability

lint: venv
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production

sanity: venv
	tools/ansible-test-sanity

unit: venv
	$(PYTEST) tests/unit

# The pytest fixture reuses a healthy lab (make lab-up) or starts its own and stops it at the end.
integration: lab-build
	$(PYTEST) tests/integration

# The guarantees of README "Performance and guarantees" (secret leak, bad input, faults, concurrency, least
# privilege, cleanup), on the same lab and with the same fixture semantics as the integration tests.
reliability: lab-build
	$(PYTEST) tests/reliability

# The tests that depend on a CRD's schema, on a private lab that has only the project's own CRD fixtures
# (tests/fixtures/crds), as on a user's clone without ../shared. `make test` uses the upstream CRDs when ../shared/crds
# exists, so .ci/run runs this too there; without ../shared, `make test` already runs everything on the fixtures.
FIXTURE_TESTS := tests/integration/test_kiali_install.py tests/integration/test_crd_conformance.py \
                 tests/integration/test_remote_prepare_operator.py tests/integration/test_lab.py \
                 tests/integration/test_move.py tests/integration/test_adopt.py
test-fixtures: lab-build
	LAB_DIR=$(CURDIR)/.lab-fixtures LAB_SHARED_CRDS=$(CURDIR)/.lab-fixtures/no-shared-crds LAB_SINGLE_IP=1 \
	  LAB_PORT_OFFSET=500 $(PYTEST) $(FIXTURE_TESTS) \
	  "tests/reliability/test_bad_input.py::test_bad_input_names_cluster_and_fix_and_writes_nothing[unknown_cr_field]"

# The molecule scenarios on the lab (make test runs them too, from tests/integration/test_molecule.py).
molecule: lab-up
	$(BIN)/molecule test -s default
	$(BIN)/molecule test -s external

# Benchmarks, each on its own private lab; then one table of every figure (bench/results/latest.md).
# BENCH_SIZES=1,2 BENCH_REPEAT=1 for a quick check of the harness (results go to $$BENCH_RESULTS if set).
bench: export BENCH_RUN := $(shell date -u +%Y%m%dT%H%M%SZ)
bench: lab-build
	$(BIN)/python bench/run.py
	$(BIN)/python bench/onboarding.py
	$(BIN)/python bench/site_scale.py
	$(BIN)/python bench/report.py

# At release time: CHANGELOG.rst from changelogs/fragments (antsibull-changelog consumes the fragments).
changelog: venv
	$(BIN)/antsibull-changelog release --version $$(sed -n 's/^version: *//p' galaxy.yml)

# The collection tarball (build/kialiops-multicluster-<version>.tar.gz), as Galaxy and the execution environment take it.
collection: venv
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# The execution environment's build context (context/); building the image needs a container engine (ansible-builder build).
ee: collection
	$(BIN)/ansible-builder create -f execution-environment.yml -c context

clean: lab-down
	rm -rf $(VENV) .collections tests/output
