# homelab.vaultwarden — the two README commands and their parts.
#   make deploy   deploy vaultwarden on this machine (SQLite), from the local test registry when no
#                 public registry is reachable
#   make test     everything: unit, functional (installed collection), world, lint, sanity, molecule
#
# Every command that could read stdin gets its own (</dev/null) and starts through tools/blocking-stdio, which
# puts stdout/stderr back into blocking mode: Ansible refuses non-blocking descriptors, and a program that shares
# the caller's terminal or pipe may have made them non-blocking. So the commands work from a terminal, from a
# script with stdin closed or a pipe, over ssh without a tty, and in CI.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
REGISTRY ?= auto
SCENARIOS ?= default updates legacy
RUN := tools/blocking-stdio
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
# What pip installs (ansible-playbook, molecule, ansible-lint) sits beside $(PYTHON), maybe not on PATH (pyenv shims).
export PATH := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))' </dev/null):$(PATH)
export VW_WORLD_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/homelab-vaultwarden/world

.PHONY: deps collection-link world detect deploy undeploy test unit functional faults world-test lint sanity molecule bench

deps:
	$(RUN) bash tools/bootstrap.sh </dev/null

collection-link:
	mkdir -p .cache/collections/ansible_collections/homelab
	ln -sfn $(CURDIR) .cache/collections/ansible_collections/homelab/vaultwarden

world: deps
	$(RUN) $(PYTHON) -m tools.world build </dev/null

detect: deps collection-link
	registry=$$(tools/pick-registry $(REGISTRY) </dev/null)
	$(RUN) ansible-playbook -i inventories/local/hosts.yml playbooks/detect.yml -e vaultwarden_registry=$$registry </dev/null

deploy: deps collection-link
	registry=$$(tools/pick-registry $(REGISTRY) </dev/null)
	if [ "$$registry" = "127.0.0.1:5000" ]; then $(RUN) $(PYTHON) -m tools.world build </dev/null; fi
	$(RUN) ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml -e vaultwarden_registry=$$registry </dev/null

undeploy: deps collection-link
	$(RUN) ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml -e vaultwarden_state=absent </dev/null

unit: collection-link
	$(RUN) $(PYTHON) -m pytest tests/unit -q -n 2 </dev/null

functional: collection-link
	$(RUN) $(PYTHON) -m pytest tests/functional -q --ignore=tests/functional/test_faults.py -m engine_snapshot </dev/null
	$(RUN) $(PYTHON) -m pytest tests/functional -q --ignore=tests/functional/test_faults.py -m "not engine_snapshot" -n 2 --dist loadfile </dev/null

faults: world collection-link
	$(RUN) $(PYTHON) -m pytest tests/functional/test_faults.py -q -n 2 </dev/null

world-test: world collection-link
	$(RUN) $(PYTHON) -m pytest tests/world -q -n 2 </dev/null

lint: collection-link
	$(RUN) ansible-lint --profile production </dev/null

sanity:
	$(RUN) bash tools/sanity.sh </dev/null

molecule: world collection-link
	for s in $(SCENARIOS); do
	  start=$$(date +%s)
	  $(RUN) molecule test -s $$s </dev/null
	  echo "molecule scenario $$s: $$(( $$(date +%s) - start )) s wall"
	done

# tools/test-all.sh installs what is missing and builds the world as its first two (timed) stages.
test: collection-link
	$(RUN) bash tools/test-all.sh </dev/null

bench: deps collection-link
	for b in tools/bench/*.py; do echo "== $$b"; $(RUN) $(PYTHON) $$b </dev/null; done
