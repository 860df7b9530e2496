# Commands for users: `make lab`, `make test` (the tutorial's lab, about 20 min) and
# `make test-all` (every scenario, what CI runs). Everything else serves them.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PY ?= python3
# Which lab (inventory/<name>): lab (the tutorial's two nodes) or ha (three nodes).
LAB ?= lab

.PHONY: help venv host guard scenario-deps scenario-deps-host trixie lab lab-down report tour verify test test-all test-ha test-swarm lint lint-ansible lint-collection unit integration clean
help:
	@echo "make lab        bring up the lab's node containers (LAB=lab: the tutorial's two; LAB=ha: three) and apply site.yml"
	@echo "make lab-down   remove the lab nodes, their volumes and the lab network (same LAB)"
	@echo "make report     draw the running lab into .cache/report/ (index.html, lab.svg, lab.mmd, lab.json); read-only"
	@echo "make tour       walk the tutorial's chapters on the running lab, checking each claim; cleans up after itself"
	@echo "make test       lint, unit and integration tests, the default scenario (the tutorial's lab and its faults)"
	@echo "make test-all   make test, then the ha and swarm scenarios (what CI runs); each scenario's time at the end"
	@echo "make test-ha    one scenario: three nodes (make test-swarm: Debian 13, swarm)"
	@echo "make verify     the scenario tests against the lab make lab made (TEST=test_app.py or test_app.py::test_x)"

# Python tooling, the link that makes this repository the collection lab.multihost
# (.cache/collections/ansible_collections/lab/multihost), and pip for ansible-test.
venv: $(VENV)/.stamp
	@scripts/collection-link.sh
	@scripts/ansible-test-pip.sh
$(VENV)/.stamp: requirements.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

host:
	@scripts/host-engine.sh
	@scripts/images.sh bookworm

lab: venv host
	@LAB=$(LAB) scripts/lab.sh up

lab-down: venv
	@LAB=$(LAB) scripts/lab.sh down

# Read-only: lab_topology_info on every node, drawn on this machine (Graphviz dot).
report: venv
	@scripts/host-package.sh dot graphviz
	ansible-playbook -i inventory/$(LAB) playbooks/report.yml

# Starts and removes its own containers, networks and namespaces on the nodes;
# host: the tools image (tcpdump, busybox) built and saved for the nodes.
tour: venv host
	LAB=$(LAB) python3 scripts/tour.py

# The two slow linters (about 40 s each) run side by side; -O keeps their outputs apart.
lint: venv
	yamllint -s .
	ruff check . bench/overlay bench/app_load bench/netns_scale bench/recovery bench/node_down bench/rerun
	scripts/vagrant-validate.sh
	python scripts/role_docs.py --check
	@$(MAKE) --no-print-directory -j2 -O lint-ansible lint-collection
lint-ansible:
	ansible-lint --profile production
lint-collection:
	scripts/ansible-test.sh sanity
	scripts/ansible-test.sh units

# No engine: seconds. Graphviz's dot renders the report's SVG (installed when missing).
unit: venv
	@scripts/host-package.sh dot graphviz
	pytest -q tests/unit

# Root and iproute2: real namespaces, veths and bridges (and a container when an engine answers).
integration: venv host
	pytest -q tests/integration

guard: venv
	@scripts/lab.sh guard

# What the scenarios need on this machine: graphviz for the report, chromium for
# its page (default); the swarm scenario's Debian 13 images (trixie).
scenario-deps: guard scenario-deps-host
scenario-deps-host: venv host
	scripts/host-package.sh dot graphviz
	scripts/host-package.sh chromium
trixie: host
	scripts/images.sh trixie

# The molecule scenarios' tests against the running lab (make lab, LAB=...), without
# molecule's create and destroy: a minute for one file, not a scenario's 20.
# The tests that run are those of the scenario the lab is (tests/README.md).
TEST ?=
verify: venv scenario-deps-host
	cd molecule/resources/tests && LAB=$(LAB) pytest -v -p no:cacheprovider --durations=0 --durations-min=5 \
	  --connection=ansible --ansible-inventory=$(CURDIR)/inventory/$(LAB) $(or $(TEST),.)

test: guard lint unit integration scenario-deps
	@scripts/molecule-timed.sh default

test-ha: scenario-deps
	@scripts/molecule-timed.sh ha

test-swarm: scenario-deps trixie
	@scripts/molecule-timed.sh swarm

test-all: guard lint unit integration scenario-deps trixie
	@scripts/molecule-timed.sh default ha swarm

clean: lab-down
	rm -rf $(VENV) .cache
