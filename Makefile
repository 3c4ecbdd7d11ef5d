# homelab.vaultwarden — the two README commands and their parts.
#   make deploy   deploy vaultwarden on this machine (SQLite), from the local test registry when no
#                 public registry is reachable
#   make test     everything: unit, functional (installed collection), world, lint, sanity, molecule
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
REGISTRY ?= auto
SCENARIOS ?= default databases updates legacy
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export VW_WORLD_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/homelab-vaultwarden/world

.PHONY: deps collection-link world detect deploy undeploy test unit functional world-test lint sanity molecule bench

deps:
	bash tools/bootstrap.sh

collection-link:
	mkdir -p .cache/collections/ansible_collections/homelab
	ln -sfn $(CURDIR) .cache/collections/ansible_collections/homelab/vaultwarden

world: deps
	$(PYTHON) -m tools.world build

detect: deps collection-link
	ansible-playbook -i localhost, -c local playbooks/detect.yml -e vaultwarden_registry=$$(tools/pick-registry $(REGISTRY))

deploy: deps collection-link
	registry=$$(tools/pick-registry $(REGISTRY))
	if [ "$$registry" = "127.0.0.1:5000" ]; then $(PYTHON) -m tools.world build; fi
	ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml -e vaultwarden_registry=$$registry

undeploy: deps collection-link
	ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml -e vaultwarden_state=absent

unit: collection-link
	$(PYTHON) -m pytest tests/unit -q -n 2

functional: collection-link
	$(PYTHON) -m pytest tests/functional -q

world-test: world collection-link
	$(PYTHON) -m pytest tests/world -q

lint: collection-link
	ansible-lint --profile production

sanity:
	bash tools/sanity.sh

molecule: world collection-link
	for s in $(SCENARIOS); do
	  start=$$(date +%s)
	  molecule test -s $$s
	  echo "molecule scenario $$s: $$(( $$(date +%s) - start )) s wall"
	done

test: deps world collection-link
	bash tools/test-all.sh

bench: deps collection-link
	for b in tools/bench/*.py; do echo "== $$b"; $(PYTHON) $$b; done
