# erpops.upgrade — entry points. Every target sets itself up first (scripts/bootstrap.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/collections
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
# The lab folder (sites, inventory, run state, reports). Its PostgreSQL cluster lives outside it, where the
# postgres user can reach it (tools/k2lab/cluster.py): the clone may sit in a 0700 folder or a path with spaces.
LAB_DIR ?= $(ROOT)/.lab
PYTEST := "$(BIN)/python" -m pytest
# The lab's own playbooks run on this machine only: an explicit local inventory, so no warning names a missing one.
LAB_PLAYBOOK := "$(BIN)/ansible-playbook" -i localhost, -c local

.PHONY: setup demo test sanity lint units integration packaging collection molecule bench lab-up lab-down lab-remove clean

setup:
	@./scripts/bootstrap.sh

DEMO_TARGET ?= ori.09
DEMO_FLEET ?= $(ROOT)/tools/k2lab/demo_fleet.json
# The lab fleet of DEMO_FLEET (a clean site, one with missing preparation and initializations, a torso, one too
# old for DEMO_TARGET, a copied K2), a release archive of DEMO_TARGET, then the whole reinstall with its summary and
# fleet report: the production path (the lab's stand-in K2 installer; the copied K2 by method copy). The generation
# change goes on without a test reinstall, waived (K2-18), which the report says.
# Run state and reports stay in the lab folder, so a second run continues or changes nothing.
# Paths go to ansible-playbook as JSON extra vars, so a path with spaces stays one value.
demo: setup
	@$(LAB_PLAYBOOK) playbooks/lab_up.yml -e '{"k2lab_dir": "$(LAB_DIR)", "k2lab_fleet": "$(DEMO_FLEET)"}'
	@PYTHONPATH="$(ROOT):$(ROOT)/collections" "$(BIN)/python" -m tools.k2lab.release --version $(DEMO_TARGET) \
		--out "$(LAB_DIR)/releases" --company-tables 10
	@ERPOPS_STATE_DIR="$(LAB_DIR)/state" ERPOPS_REPORT_DIR="$(LAB_DIR)/reports" "$(BIN)/ansible-playbook" \
		-i "$(LAB_DIR)/inventory.yml" playbooks/k2_reinstall.yml \
		-e k2_target_version=$(DEMO_TARGET) -e k2_exempt_user=ADMIN -e k2_session_login=k2 -e k2_reinstall_waive_test_reinstall=true -e k2_nogo_ok=true \
		-e '{"k2_release_archive": "$(LAB_DIR)/releases/k2-$(DEMO_TARGET).zip"}'

lab-up: setup
	@$(LAB_PLAYBOOK) playbooks/lab_up.yml -e '{"k2lab_dir": "$(LAB_DIR)"}'

lab-down: setup
	@$(LAB_PLAYBOOK) playbooks/lab_down.yml -e '{"k2lab_dir": "$(LAB_DIR)"}'

# Stop the lab's cluster and delete its data (kept outside the lab folder); `make demo` builds it again.
lab-remove: setup
	@PYTHONPATH="$(ROOT):$(ROOT)/collections" "$(BIN)/python" -m tools.k2lab.cli remove --lab-dir "$(LAB_DIR)"

test: setup
	@./scripts/run-tests.sh

sanity: setup
	@./scripts/sanity.sh $(SANITY_ARGS)

lint: setup
	@"$(BIN)/ansible-lint" --profile production roles playbooks

units: setup
	@$(PYTEST) -q tests/unit

integration: setup
	@$(PYTEST) -q -n 2 --dist loadfile tests/integration

# The built tarball: its members against an allow-list, galaxy-importer, ansible-builder introspect.
packaging: setup
	@$(PYTEST) -q tests/packaging

# The collection tarball, in .build/ (scripts/build-collection.sh says how galaxy.yml's repository is filled in).
collection: setup
	@./scripts/build-collection.sh "$(ROOT)/.build"

molecule: setup
	@./scripts/run-molecule.sh

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; "$(BIN)/python" "$$b"; done

clean:
	rm -rf .build tests/output
