# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's tasks around the health gate, read as data: the database is waited for before vaultwarden is judged,
and the vault's counts are compared inside the block that rolls back."""

import os

import yaml

TASKS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "vaultwarden", "tasks")


def load(name):
    with open(os.path.join(TASKS, name)) as handle:
        return yaml.safe_load(handle)


def by_name(tasks, name):
    found = [task for task in tasks if task.get("name") == name]
    assert len(found) == 1, "%s: %s" % (name, [task.get("name") for task in tasks])
    return found[0]


def block():
    """The tasks inside change.yml's block that rolls back: what its include of apply.yml runs."""
    outer = by_name(load("change.yml"), "Change the deployment, rolling back when the new server is unhealthy")
    assert by_name(outer["block"], "Change what the plan says")["ansible.builtin.include_tasks"] == "apply.yml"
    assert by_name(outer["rescue"], "Roll back to the previous deployment")
    return {"block": load("apply.yml")}


def conditions(task):
    when = task.get("when", [])
    return [when] if isinstance(when, str) else when


def test_the_database_is_waited_for_whenever_it_is_managed_not_only_when_it_changes():
    tasks = load(os.path.join("docker", "database.yml"))
    included = by_name(tasks, "Wait for the database")
    assert included["ansible.builtin.include_tasks"] == "database_wait.yml"
    assert not [c for c in conditions(included) if "apply" in c]
    tasks = load(os.path.join("docker", "database_wait.yml"))
    wait = by_name(tasks, "Wait until the database accepts connections")
    assert "healthy" in wait["until"] and wait["retries"] * wait["delay"] >= 60
    assert not [c for c in conditions(wait) if "apply" in c]
    check = by_name(tasks, "Fail when the database did not start")
    assert not [c for c in conditions(check) if "apply" in c]
    names = [task["name"] for task in block()["block"]]
    assert names.index("Run the managed database") < names.index("Run the vaultwarden container")


def test_the_gate_is_told_the_database_container_after_the_change_and_after_a_rollback():
    gate = by_name(block()["block"], "Wait until the server answers")["homelab.vaultwarden.vaultwarden_health"]
    assert "plan.health.database_container" in gate["database_container"]
    rollback = by_name(load("rollback.yml"), "Roll back")["block"]
    again = by_name(rollback, "Wait until the previous server answers")["homelab.vaultwarden.vaultwarden_health"]
    assert "plan.rollback.health.database_container" in again["database_container"]


def test_the_vault_counts_are_compared_after_the_gate_and_before_the_record_inside_the_rollback_block():
    tasks = block()["block"]
    names = [task["name"] for task in tasks]
    compare = by_name(tasks, "Check that the vault holds at least what it held before the change")
    args = compare["homelab.vaultwarden.vaultwarden_vault_summary"]
    assert args["before"] == "{{ _vaultwarden_vault }}" and "run_id" in args["run_id"]
    assert "sqlite_path" in args["sqlite_path"] and "_vaultwarden_exec_result.stdout" in args["query_output"]
    query = names.index("Query what the vault holds now in the database container")
    assert names.index("Wait until the server answers") < query < names.index(compare["name"]) \
        < names.index("Record the deployment")
