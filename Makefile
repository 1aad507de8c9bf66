# erpops.upgrade — entry points. Every target sets itself up first (scripts/bootstrap.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/collections
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
LAB_DIR ?= $(ROOT)/.lab
PYTEST := $(BIN)/python -m pytest

.PHONY: setup demo test sanity lint units integration molecule bench lab-up lab-down clean

setup:
	@./scripts/bootstrap.sh

DEMO_TARGET ?= ori.09
demo: setup
	@$(BIN)/ansible-playbook playbooks/lab_up.yml -e k2lab_dir=$(LAB_DIR)
	@$(BIN)/ansible-playbook -i $(LAB_DIR)/inventory.yml playbooks/k2_precheck.yml -e k2_target_version=$(DEMO_TARGET)

lab-up: setup
	@$(BIN)/ansible-playbook playbooks/lab_up.yml -e k2lab_dir=$(LAB_DIR)

lab-down: setup
	@$(BIN)/ansible-playbook playbooks/lab_down.yml -e k2lab_dir=$(LAB_DIR)

test: setup
	@./scripts/run-tests.sh

sanity: setup
	@./scripts/sanity.sh $(SANITY_ARGS)

lint: setup
	@$(BIN)/ansible-lint --profile production roles playbooks

units: setup
	@$(PYTEST) -q tests/unit

integration: setup
	@$(PYTEST) -q tests/integration

molecule: setup
	@./scripts/run-molecule.sh

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf .build tests/output
