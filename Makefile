# Two commands for users: `make lab` and `make test`. Everything else serves them.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
PY ?= python3
# Which lab (inventory/<name>): lab (the tutorial's two nodes) or ha (three nodes).
LAB ?= lab

.PHONY: help venv host guard lab lab-down report tour test lint unit integration molecule clean
help:
	@echo "make lab        bring up the lab's node containers (LAB=lab: the tutorial's two; LAB=ha: three) and apply site.yml"
	@echo "make lab-down   remove the lab nodes, their volumes and the lab network (same LAB)"
	@echo "make report     draw the running lab into .cache/report/ (index.html, lab.svg, lab.mmd, lab.json); read-only"
	@echo "make tour       walk the tutorial's chapters on the running lab, checking each claim; cleans up after itself"
	@echo "make test       lint, unit and integration tests, every molecule scenario"

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

lint: venv
	yamllint -s .
	ruff check . bench/overlay bench/app_load bench/netns_scale bench/recovery bench/node_down
	ansible-lint --profile production
	scripts/vagrant-validate.sh
	scripts/ansible-test.sh sanity
	scripts/ansible-test.sh units
	python scripts/role_docs.py --check

# No root, no engine: seconds.
unit: venv
	pytest -q tests/unit

# Root and iproute2: real namespaces, veths and bridges (and a container when an engine answers).
integration: venv host
	pytest -q tests/integration

guard: venv
	@scripts/lab.sh guard

molecule: venv host guard
	scripts/images.sh trixie
	scripts/host-package.sh dot graphviz
	scripts/host-package.sh chromium
	molecule test --all

test: guard lint unit integration molecule

clean: lab-down
	rm -rf $(VENV) .cache
