# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import difflib
import hashlib
import os
import time
import uuid

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.vaultwarden.plugins.module_utils import fleet
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils import settings
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import certificates
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import fleet_report
from ansible_collections.homelab.vaultwarden.plugins.module_utils import podman_engine

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core requires PyYAML
    yaml = None

_COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE_DIR = os.path.join(_COLLECTION, "roles", "vaultwarden")
SPEC_FILE = os.path.join(ROLE_DIR, "meta", "argument_specs.yml")
DEFAULTS_FILE = os.path.join(ROLE_DIR, "defaults", "main.yml")
LIBRARIES_DIR = os.path.join(ROLE_DIR, "files", "official-images")
# Play-level variables of the collection's playbooks that share the prefix but are not role options.
PLAYBOOK_VARIABLES = ("vaultwarden_hosts", "vaultwarden_batch_size", "vaultwarden_max_fail_percentage",
                      "vaultwarden_preflight_allow_refused", "vaultwarden_report_dir",
                      "vaultwarden_report_max_backup_age_days", "vaultwarden_report_release")
SECRET_VARIABLES = ("vaultwarden_admin_token", "vaultwarden_database_url", "vaultwarden_secret_env")
_SPEC_CACHE = {}
# How long the fleet preflight's look at a host stands in for the rollout's own, when nothing is to be pulled there.
PREFLIGHT_LOOK_SECONDS = 120


def role_argument_spec():
    """The role's options as an ArgumentSpecValidator spec (defaults dropped: the role's defaults supply them)."""
    if "spec" not in _SPEC_CACHE:
        with open(SPEC_FILE) as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        spec = {}
        for name, option in options.items():
            entry = dict((key, option[key]) for key in ("type", "choices", "elements", "no_log") if key in option)
            spec[name] = entry
        _SPEC_CACHE["spec"] = spec
    return _SPEC_CACHE["spec"]


def role_defaults():
    """The role's defaults, for plays that call the planner outside the role (playbooks/detect.yml)."""
    if "defaults" not in _SPEC_CACHE:
        with open(DEFAULTS_FILE) as handle:
            _SPEC_CACHE["defaults"] = yaml.safe_load(handle)
    return _SPEC_CACHE["defaults"]


# What to write instead, per declared type, for a value that does not convert.
_TYPE_FIXES = {
    "bool": "Give true or false (with -e: -e %s=false or -e '{\"%s\": false}').",
    "int": "Give a whole number (with -e: -e %s=8080).",
    "dict": "Give a mapping, as YAML or JSON (with -e: -e '{\"%s\": {\"SMTP_HOST\": \"smtp.example.org\"}}').",
    "str": "Give a string (quote it in YAML).",
}


_TYPE_NAMES = {"bool": "boolean", "int": "whole number", "dict": "mapping", "str": "string", "list": "list"}


def _read_structure(value, kind):
    """A dict or list option given as a string (as -e gives it): a YAML (or JSON) mapping or list ('["a.org"]') is
    read; anything else is left for the validator (which splits a comma list itself)."""
    if not isinstance(value, string_types) or yaml is None or (kind is list and not value.strip().startswith("[")):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, kind) else value


def _refusal(name, value, option, error):
    """One variable's refusal: its name, its value (hidden for secrets), why, and what to write instead."""
    # A typed setting's mapping holds a secret among its keys (vaultwarden_smtp.password...): never echoed either.
    secret = option.get("no_log") or name in settings.FIELDS
    shown = "<hidden>" if secret else repr(value)
    kind = option.get("type", "str")
    if option.get("choices") and "must be one of" in error:
        fix = "Use one of: %s." % ", ".join(str(c) if c != "" else "''" for c in option["choices"])
        why = "it is not one of the accepted values"
    else:
        fix = _TYPE_FIXES.get(kind, "Give a %s." % kind).replace("%s", name)
        kind_name = _TYPE_NAMES.get(kind, kind)
        why = "it is not a %s (%s)" % (kind_name, error) if not secret else "it is not a %s" % kind_name
    return "%s %s is refused: %s. %s" % (name, shown, why, fix)


def convert_variables(values):
    """Validate and convert the role's variables (strings from -e included); returns (converted, errors).

    Each error names the variable, its value (secrets hidden), why it does not convert and what to give instead.
    """
    spec = role_argument_spec()
    validator = ArgumentSpecValidator(spec)
    given = dict((k, v) for k, v in values.items() if k in spec)
    errors = []
    for name, value in list(given.items()):
        if spec[name].get("type") in ("dict", "list"):
            given[name] = _read_structure(value, dict if spec[name]["type"] == "dict" else list)
        elif spec[name].get("type", "str") == "str" and isinstance(value, (list, dict)):
            # The validator would turn it into its Python spelling ("['1.37.1']") without a word.
            errors.append(_refusal(name, value, spec[name], "a %s is no string" % type(value).__name__))
            del given[name]
    result = validator.validate(given)
    for error in result.errors:
        text = str(error)
        name = next((n for n in sorted(given, key=len, reverse=True) if n in text), None)
        errors.append(_refusal(name, given[name], spec[name], text) if name else text)
    # The validator fills every option it knows (None when absent): keep only what was given.
    return dict((k, v) for k, v in result.validated_parameters.items() if k in given), errors


def unknown_variables(names):
    """Warnings for vaultwarden_* variables the role does not know, with the nearest known name."""
    spec = role_argument_spec()
    warnings = []
    for name in sorted(names):
        if not name.startswith("vaultwarden_") or name in spec or name in PLAYBOOK_VARIABLES:
            continue
        # Compared without the shared prefix, which would make every name look alike.
        close = difflib.get_close_matches(name[len("vaultwarden_"):], [n[len("vaultwarden_"):] for n in spec],
                                          n=1, cutoff=0.75)
        warnings.append("%s is not a variable of homelab.vaultwarden.vaultwarden and has no effect%s"
                        % (name, "; did you mean vaultwarden_%s?" % close[0] if close else ""))
    return warnings


def _libraries(directory):
    libraries = {}
    for engine in ("mariadb", "mysql", "postgres", "caddy"):
        path = os.path.join(directory, engine)
        if os.path.exists(path):
            with open(path) as handle:
                libraries[engine] = handle.read()
    return libraries


def _shown_request(req):
    shown = dict(req)
    for name in SECRET_VARIABLES:
        if shown.get(name):
            shown[name] = "<hidden>" if isinstance(shown[name], string_types) else dict(
                (key, "<hidden>") for key in shown[name])
    # The typed settings keep what is no secret (the host, the user name...) in view.
    for name, fields in settings.FIELDS.items():
        if isinstance(shown.get(name), dict):
            shown[name] = dict((key, "<hidden>" if fields.get(key, {}).get("secret") else value)
                               for key, value in shown[name].items())
    return shown


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("stage", "previous", "pulled", "run_id", "libraries_dir"))

    def _variables(self, task_vars):
        names = [name for name in task_vars if isinstance(name, string_types) and name.startswith("vaultwarden_")]
        values = {}
        for name in names:
            if name in role_argument_spec():
                values[name] = self._templar.template(task_vars[name])
        return names, values

    def _request(self, task_vars):
        names, values = self._variables(task_vars)
        converted, errors = convert_variables(values)
        if errors:
            raise planner.PlanError("role variables", None, "; ".join(errors),
                                    "Nothing was changed; fix the values named (booleans: true/false; ports and "
                                    "counts: whole numbers; mappings: YAML or JSON).")
        missing = [name for name in role_argument_spec() if name not in converted]
        if missing:
            defaults, dummy = convert_variables(dict((name, role_defaults()[name]) for name in missing))
            converted.update(defaults)
        converted["_inventory_hostname"] = task_vars.get("inventory_hostname") or "localhost"
        req = planner.derive_request(converted)
        req["_certificate_digest"] = self._provided_certificate(req)
        if req["vaultwarden_fleet_release"]:
            # The release each earlier host of the run planned (its deploy stage); ansible_play_hosts leaves out the
            # hosts that failed (a release that was rolled back is not followed), in the play's order.
            hostvars = task_vars.get("hostvars") or {}
            live = set(task_vars.get("ansible_play_hosts") or [])
            hosts = [host for host in task_vars.get("ansible_play_hosts_all") or [] if host in live]
            published = {}
            for host in hosts:
                registered = (hostvars[host] if host in hostvars else {}).get("_vaultwarden_plan") or {}
                published[host] = (registered.get("plan") or {}).get("release") or {}
            req["_releases"], req["_release_sources"] = fleet.merged_releases(
                req["_releases"], hosts, converted["_inventory_hostname"], published)
        return req, unknown_variables(names)

    def _provided_certificate(self, req):
        """vaultwarden_tls provided: the files are read and checked here, on the controller, before any change."""
        if req["_tls"] != "provided":
            return ""
        contents = []
        for variable in ("vaultwarden_tls_certificate", "vaultwarden_tls_key"):
            try:
                path = self._find_needle("files", req[variable])
                with open(path, "rb") as handle:
                    contents.append((path, handle.read()))
            except (AnsibleError, OSError) as exc:
                raise planner.PlanError(variable, req[variable], "the file cannot be read on the controller (%s)" % exc,
                                        "Give the path of a PEM file on the controller.")
        try:
            return certificates.check_certificate(contents[0][0], contents[0][1], contents[1][0], contents[1][1],
                                                  req["_domain"]["host"])
        except certificates.CertificateError as exc:
            raise planner.PlanError(*exc.args_tuple)

    def _facts(self, req, task_vars, distribution=None, args=None):
        args = dict(args or planner.facts_request(req))
        if req["vaultwarden_docker_api_version"] not in ("", "auto"):
            args["api_version"] = req["vaultwarden_docker_api_version"]
        if distribution:
            args["distribution"] = distribution
        result = self._execute_module(module_name="homelab.vaultwarden.vaultwarden_facts", module_args=args,
                                      task_vars=task_vars)
        if result.get("failed"):
            raise AnsibleError("gathering facts on the host failed: %s" % result.get("msg"))
        return podman_engine.recorded_variants(result, req["vaultwarden_engine"])

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        validation, args = self.validate_argument_spec(argument_spec=dict(
            stage=dict(type="str", required=True, choices=["pull", "deploy", "absent", "preflight", "fleet_preflight",
                                                           "report"]),
            previous=dict(type="dict"),
            pulled=dict(type="list", elements="dict", default=[]),
            run_id=dict(type="str", default=""),
            libraries_dir=dict(type="path"),
        ))
        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        if args["stage"] == "report":
            result.update(self._report(task_vars))
            return result
        if args["stage"] == "fleet_preflight":
            return self._fleet_preflight(result, task_vars)
        hosts = task_vars.get("ansible_play_hosts_all") or []
        if args["stage"] == "preflight" and len(hosts) < 2:
            # One host: its own run plans everything before it changes anything.
            result.update(changed=False, skipped=True, msg="one host in the play: the role's own plan is its preflight")
            return result
        try:
            req, warnings = self._request(task_vars)
            if args["stage"] == "absent" or (args["stage"] == "preflight" and req["vaultwarden_state"] == "absent"):
                facts = self._facts(req, task_vars)
                plan = planner.plan_absent(req, facts)
            elif args["stage"] in ("pull", "preflight"):
                libraries = _libraries(args["libraries_dir"] or LIBRARIES_DIR)
                run_id = args["run_id"] or str(uuid.uuid4())
                facts, plan = self._preflight_look(req, task_vars, libraries, run_id, args["stage"], check_mode)
                if facts is None:
                    facts = self._facts(req, task_vars)
                    plan = planner.plan_pull(req, facts, libraries, run_id=run_id)
                    if plan["resolve"] and args["stage"] == "pull":
                        # The first host of the run to pull this reference: the registry's digest becomes the release.
                        probe = self._facts(req, task_vars, plan["resolve"])
                        facts["distribution"] = dict(facts.get("distribution") or {},
                                                     **(probe.get("distribution") or {}))
                        plan = planner.plan_pull(req, facts, libraries, run_id=run_id)
                    self._mark_given_secrets(req, facts)
                    facts["admin_token_matches"] = self._admin_token_matches(req, facts)
                    facts["gathered_at"] = time.time()
                if check_mode and plan["pull"]:
                    # Ask the registry (through the engine) what the moving tags point to, without pulling.
                    probe = self._facts(req, task_vars, [p["ref"] for p in plan["pull"] if p["pull"] == "always"])
                    plan["pull"] = planner.skip_unmoved_pulls(plan["pull"], facts, probe.get("distribution") or {})
                    facts["distribution"] = probe.get("distribution") or {}
            else:
                previous = args["previous"] or {}
                facts = previous.get("facts") or {}
                plan = planner.plan_deploy(req, previous["plan"], facts, self._pulled(args["pulled"], previous["plan"]),
                                           admin_token_state=self._admin_token_state(req, facts, previous["plan"]),
                                           check_mode=check_mode)
                facts = None
        except planner.PlanError as exc:
            result.update(failed=True, msg=str(exc), variable=exc.variable)
            return result
        # The engine-neutral specs spelt as the containers.podman modules' options, when Podman runs them.
        plan = podman_engine.annotate(plan, plan.get("engine") if args["stage"] == "pull"
                                      else (args["previous"] or {}).get("plan", {}).get("engine"))
        for warning in warnings + list(plan.get("warnings") or []):
            self._display.warning(warning)
        result.update(changed=False, request=_shown_request(req), plan=plan)
        if facts is not None:
            facts = dict(facts)
            facts.pop("admin_token_hash", None)
            facts.pop("invocation", None)
            result["facts"] = facts
        return result

    @staticmethod
    def _preflight_look(req, task_vars, libraries, run_id, stage, check_mode):
        """(facts, plan) from this host's preflight of the same run when it is recent and nothing is to be pulled;
        (None, None) otherwise.

        The preflight already looked at the host (one module run): a host with nothing to pull is planned again from
        that look, so that a fleet run that changes nothing costs one module run per host. A host that pulls (or whose
        plan from that look differs) is looked at again, so that every change is planned from a fresh look.
        """
        found = task_vars.get("_vaultwarden_preflight")
        if stage != "pull" or check_mode or not isinstance(found, dict) or found.get("failed") or found.get("skipped"):
            return None, None
        facts = found.get("facts")
        age = time.time() - float((facts or {}).get("gathered_at") or 0)
        if not isinstance(facts, dict) or not 0 <= age <= PREFLIGHT_LOOK_SECONDS:
            return None, None
        facts = copy.deepcopy(facts)
        try:
            plan = planner.plan_pull(req, facts, libraries, run_id=run_id)
        except planner.PlanError:
            return None, None
        if plan["pull"] or plan["resolve"]:
            return None, None
        plan["warnings"] = list(plan.get("warnings") or [])
        return facts, plan

    def _fleet_preflight(self, result, task_vars):
        """Every host's preflight (registered as _vaultwarden_preflight), judged once for the fleet."""
        hosts = list(task_vars.get("ansible_play_hosts_all") or [])
        hostvars = task_vars.get("hostvars") or {}
        results = {}
        for host in hosts:
            found = (hostvars[host] if host in hostvars else {}).get("_vaultwarden_preflight")
            if found is not None:
                results[host] = found
        allow = task_vars.get("vaultwarden_preflight_allow_refused", False)
        try:
            allow = boolean(self._templar.template(allow), strict=True)
        except TypeError:
            result.update(failed=True, msg="vaultwarden_preflight_allow_refused %r is refused: it is not a boolean. "
                                           "Give true or false." % (allow,))
            return result
        if len(hosts) < 2:
            result.update(changed=False, failed=False, refused=[], msg="one host in the play: no fleet preflight")
            return result
        failed, message, refused = fleet.preflight_verdict(hosts, results, allow_refused=allow)
        result.update(changed=False, failed=failed, msg=message, refused=refused)
        if refused and not failed:
            self._display.warning(message)
        return result

    def _report(self, task_vars):
        """What the fleet report shows of this host, from two module runs (its facts, its backups); never fails.

        A host whose variables are refused or whose facts cannot be gathered is reported with the reason: one host
        must not keep the others out of the report.
        """
        try:
            req, warnings = self._request(task_vars)
            facts = self._facts(req, task_vars, args=fleet_report.facts_request(req))
        except AnsibleConnectionFailure:
            raise  # the host is unreachable: Ansible says so (the report's play ignores it and reports the host)
        except (planner.PlanError, AnsibleError) as exc:
            return {"changed": False, "report": {"error": str(exc)}}
        for warning in warnings:
            self._display.warning(warning)
        listing = self._execute_module(module_name="homelab.vaultwarden.vaultwarden_backup_info", task_vars=task_vars,
                                       module_args={"backup_dir": req["vaultwarden_backup_dir"],
                                                    "data_dir": req["vaultwarden_data_dir"]})
        failed = listing.get("msg") if listing.get("failed") else None
        report = fleet_report.observe(req, facts, listing.get("backups") or [], failed)
        return {"changed": False, "report": report}

    @staticmethod
    def _mark_given_secrets(req, facts):
        """Whether the secret files whose content the controller gives still hold it (compared by digest)."""
        given = dict(("env_" + k, v) for k, v in req["vaultwarden_secret_env"].items())
        given.update(settings.given_secrets(req))
        if req["vaultwarden_database_url"] and not req["_database_managed"]:
            given["database_url"] = req["vaultwarden_database_url"]
        for name, value in given.items():
            have = (facts.get("secrets") or {}).get(name)
            if have:
                have["matches"] = have.get("sha256") == hashlib.sha256(value.encode("utf-8")).hexdigest()

    @staticmethod
    def _pulled(results, stage1):
        pulled = []
        for item in results or []:
            wanted = item.get("item") or {}
            if item.get("skipped"):
                continue
            if item.get("failed"):
                raise planner.PlanError("pull", wanted.get("ref"), item.get("msg") or "the pull failed",
                                        "Check the registry and the reference.")
            image = item.get("image") or {}
            if (stage1.get("engine") or {}).get("name") == "podman":
                # Looped over the manifest lists read first (tasks/podman/pull.yml): the pull is one level down.
                image = podman_engine.image_view(image, wanted.get("stdout"))
                wanted = wanted.get("item") or {}
            pulled.append({"ref": wanted.get("ref"), "image": image, "changed": item.get("changed")})
        return pulled

    @staticmethod
    def _admin_token_matches(req, facts):
        token = req.get("vaultwarden_admin_token")
        stored = facts.get("admin_token_hash")
        if not token or not stored:
            return False
        from ansible_collections.homelab.vaultwarden.plugins.filter.argon2_hash import argon2_hash
        try:
            return argon2_hash(token, existing=stored) == stored
        except Exception:
            return False

    @staticmethod
    def _admin_token_state(req, facts, stage1):
        token = req.get("vaultwarden_admin_token")
        if not token:
            return "unset"
        form = planner.admin_token_form(stage1["image"]["version"] or "")
        have = (facts.get("secrets") or {}).get("admin_token") or {}
        if form == "plain":
            same = have.get("sha256") == hashlib.sha256(token.encode("utf-8")).hexdigest()
        else:
            same = bool(facts.get("admin_token_matches"))
        return "matches" if same else "differs"
