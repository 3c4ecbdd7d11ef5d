#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_health
short_description: Wait until a vaultwarden server answers, failing fast (with its exit code and log) when it cannot
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Polls the server itself (C(GET /alive) on the published port, from the host) until it answers 200 and keeps
    answering for O(settle) seconds, instead of waiting for the engine's health-check schedule.
  - "Watches the container meanwhile: a container that exits, or restarts after a crash, fails the wait at once; the
    failure message carries the exit code and the last lines of its log."
  - "The failure message names the exit code (none while the container still runs) and the last five lines of its
    log that are not this wait's own requests."
  - With O(evidence_dir), a failure also leaves C(failed-container.json) (state, exit code, restart count, health log;
    no environment) and C(failed-container.log) (the last O(log_lines) lines) there, so the evidence survives the
    rollback that removes the container.
options:
  url:
    description: URL to poll, for example C(http://127.0.0.1:8080/alive).
    type: str
    required: true
  container:
    description: Name of the container to watch.
    type: str
    required: true
  database_container:
    description:
      - Name of the managed database container. While it starts (health C(starting)) the gate waits for it before
        judging vaultwarden (which restarts while its database is not up); a database that is stopped, restarting or
        unhealthy fails the wait, naming it.
    type: str
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 45
  error_grace:
    description:
      - Seconds the server may answer O(url) with an HTTP error status (such as 503) without a break before the wait
        fails. Such a server runs but says it is not alive; failing early lets the role roll back in seconds instead
        of after O(timeout). A server that does not answer at all is waited for until O(timeout).
    type: float
    default: 10.0
  interval:
    description: Seconds between two polls.
    type: float
    default: 0.5
  settle:
    description:
      - Seconds the server must keep answering (and the container keep running without a restart) after its first
        answer. A release that starts, answers and then dies fails here.
    type: float
    default: 5.0
  vault:
    description:
      - The result of M(homelab.vaultwarden.vaultwarden_vault_summary) from before the change. Once the server answers,
        the known user's prelogin through the server must return the same KDF settings, and with O(admin_token) the admin
        API must list that user and as many users, none with an empty e-mail; otherwise the wait fails (and the role
        rolls back).
      - "A known user on the server's default KDF settings answers prelogin as an address that is no user does (also
        from a server that reads the vault back empty): the gate compares both answers, and without O(admin_token) it
        then warns that the read-back is not proven."
      - The admin login and user list are retried with backoff (1 s, doubling, at most 10 s, or the server's
        C(Retry-After)) while they answer 429 (the login rate limit), a server error or nothing, within O(timeout);
        a refused token, or what is left at the end of O(timeout), fails the wait.
      - Used only when its C(run_id) is O(run_id).
    type: dict
  backup:
    description:
      - The result of M(homelab.vaultwarden.vaultwarden_backup) taken before the change; on failure the evidence is written
        into its C(backup_path) (as with O(evidence_dir)). Used only when its C(run_id) is O(run_id).
    type: dict
  run_id:
    description:
      - The caller's run. O(vault) and O(backup) are registered results, which outlive a role's application in a play;
        only those of this run are used.
    type: str
  admin_token:
    description: The admin token (plain), to read the user list through the admin API. Never logged.
    type: str
  log_lines:
    description: How many of the container's last log lines to keep on failure (the message shows the last five that are
      not this wait's own C(/alive) requests).
    type: int
    default: 50
  evidence_dir:
    description: Directory where a failure's evidence is written (made 0700 when missing).
    type: path
extends_documentation_fragment:
  - community.docker.docker.api_documentation
attributes:
  check_mode:
    support: full
    description: Only reads; in check mode it does not wait and reports nothing.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  idempotent:
    support: full
    description: The module only reads (and writes evidence after a failure).
"""

EXAMPLES = r"""
- name: Wait for the new server
  homelab.vaultwarden.vaultwarden_health:
    url: http://127.0.0.1:8080/alive
    container: vaultwarden
    timeout: 45
"""

RETURN = r"""
healthy:
  description: The server answered 200.
  returned: always
  type: bool
elapsed:
  description: Seconds waited.
  returned: always
  type: float
state:
  description: The container's state when the wait ended.
  returned: always
  type: str
exit_code:
  description: The container's exit code when it ended (null while it runs).
  returned: always
  type: int
restarts:
  description: Restart count of the container.
  returned: always
  type: int
database_state:
  description: The managed database container's state when the wait ended (with O(database_container)).
  returned: always
  type: str
vault_check:
  description:
    - What the server read back of the vault (C(prelogin), C(prelogin_unknown), C(admin_users)) or why it was not
      checked; C(conclusive) is false when nothing the server said could tell a vault read back empty from the real one.
  returned: always
  type: dict
log:
  description: The container's last log lines (on failure).
  returned: always
  type: list
  elements: str
"""

import json
import os
import time
import uuid

from ansible.module_utils.six.moves.http_cookiejar import CookieJar, DefaultCookiePolicy
from ansible.module_utils.six.moves.urllib.parse import urlencode

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.health_gate import (
    CHECK,
    FAIL,
    admin_attempt,
    demux_log,
    evidence_files,
    failure_message,
    poll_verdict,
    read_back_verdict,
)

try:
    from ansible_collections.community.docker.plugins.module_utils.common_api import (
        AnsibleDockerClient,
        RequestException,
    )
except ImportError:  # pragma: no cover - community.docker is a dependency of the collection
    AnsibleDockerClient = None
    RequestException = Exception


def _poll(url):
    try:
        response = open_url(url, timeout=2, validate_certs=False, use_proxy=False)
        return response.getcode()
    except HTTPError as exc:
        return exc.code
    except (URLError, OSError, ValueError):
        return None


def _json(cookies, url, body=None, form=None, follow_redirects="urllib2"):
    data, headers, method = None, {"Accept": "application/json"}, "GET"
    if body is not None:
        data, method = json.dumps(body), "POST"
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data, method = urlencode(form), "POST"
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = open_url(url, data=data, headers=headers, method=method, cookies=cookies, timeout=10, use_proxy=False,
                        validate_certs=False, follow_redirects=follow_redirects)
    text = response.read().decode("utf-8", "replace")
    return json.loads(text) if text.strip().startswith(("{", "[")) else None


def own(registered, run_id):
    """A registered result of this run, or nothing (results of an earlier application of the role are ignored)."""
    registered = registered or {}
    return registered if run_id and registered.get("run_id") == run_id else {}


class _HostPolicy(DefaultCookiePolicy):
    """Sends the admin session cookie back although it is Secure (DOMAIN https://...): the gate talks plain HTTP to
    the published port on this host, the reverse proxy's side, not over a network."""

    def return_ok_secure(self, cookie, request):
        return True


def _retry_after(exc):
    try:
        return float(exc.headers.get("Retry-After"))
    except (AttributeError, TypeError, ValueError):
        return None


def _admin_request(cookies, url, form=None):
    """(answer, None) or (None, (status, retry_after, detail)) of one admin request."""
    try:
        # Not followed: before 1.26.0 a login answers 303 to DOMAIN/admin, which the host may not reach.
        return _json(cookies, url, form=form, follow_redirects="none"), None
    except HTTPError as exc:
        if form is not None and exc.code in (302, 303):
            return None, None   # the session cookie came with the redirect
        return None, (exc.code, _retry_after(exc), None)
    except (URLError, OSError, ValueError) as exc:
        return None, (None, None, to_native(exc))


def _admin_users(base, admin_token, deadline, sleep=time.sleep):
    """(users, problem): log in to the admin page and read its user list, retrying a rate limit or a server error with
    backoff until the gate's deadline; a refusal, or what is left at the deadline, is the problem."""
    cookies = CookieJar(policy=_HostPolicy())
    steps = (("the admin login (POST /admin)", base + "/admin", {"token": admin_token}),
             ("the admin user list (GET /admin/users)", base + "/admin/users", None))
    answer = None
    for what, url, form in steps:
        attempt = 0
        while True:
            answer, error = _admin_request(cookies, url, form)
            if error is None:
                break
            attempt += 1
            verdict, value = admin_attempt(what, error[0], attempt, deadline - time.time(), error[1], error[2])
            if verdict == FAIL:
                return None, value
            sleep(value)
    return answer, None


def check_vault(base, summary, admin_token, deadline):
    """(problem or None, what was read, note): the known user's prelogin (and that of an address that is no user) and
    the admin API's user list, read through the server itself."""
    seen = {}
    if not summary or not summary.get("email"):
        return None, {"skipped": "the vault had no user before the change"}, None
    cookies = CookieJar()
    answers = {}
    for key, email in (("prelogin", summary["email"]),
                       ("prelogin_unknown", "health-probe-%s@example.invalid" % uuid.uuid4().hex[:12])):
        try:
            answers[key] = _json(cookies, base + "/api/accounts/prelogin", body={"email": email}) or {}
        except (HTTPError, URLError, OSError, ValueError) as exc:
            return "prelogin for %s through the server failed: %s" % (email, exc), seen, None
        seen[key] = answers[key]
    users, admin_problem = (None, None)
    if admin_token:
        users, admin_problem = _admin_users(base, admin_token, deadline)
        seen["admin_users"] = len(users) if isinstance(users, list) else "not read: %s" % admin_problem
    problem, conclusive, note = read_back_verdict(summary, answers["prelogin"], answers["prelogin_unknown"], users,
                                                  admin_problem, bool(admin_token))
    seen["conclusive"] = conclusive
    return problem, seen, note


def _log_lines(client, name, lines):
    """The last lines of a container's output (stdout and stderr, de-multiplexed)."""
    try:
        response = client._get(client._url("/containers/{0}/logs", name),
                               params={"stdout": 1, "stderr": 1, "tail": lines, "timestamps": 0})
        return demux_log(response.content, lines)
    except Exception as exc:
        return ["(log unavailable: %s)" % to_native(exc)]


def _evidence(directory, container, lines):
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    for name, content in evidence_files(container, lines).items():
        path = os.path.join(directory, name)
        with open(path, "w") as handle:
            handle.write(content)
        os.chmod(path, 0o600)


def main():
    argument_spec = dict(
        url=dict(type="str", required=True),
        container=dict(type="str", required=True),
        database_container=dict(type="str"),
        timeout=dict(type="int", default=45),
        interval=dict(type="float", default=0.5),
        settle=dict(type="float", default=5.0),
        error_grace=dict(type="float", default=10.0),
        log_lines=dict(type="int", default=50),
        evidence_dir=dict(type="path"),
        vault=dict(type="dict"),
        backup=dict(type="dict"),
        run_id=dict(type="str"),
        admin_token=dict(type="str", no_log=True),
    )
    client = AnsibleDockerClient(argument_spec=argument_spec, supports_check_mode=True)
    module = client.module
    params = module.params
    result = dict(changed=False, healthy=False, elapsed=0.0, state=None, exit_code=None, restarts=0, log=[],
                  vault_check={}, database_state=None)
    if module.check_mode:
        module.exit_json(**result)
    summary = own(params["vault"], params["run_id"]).get("summary")
    evidence_dir = params["evidence_dir"] or own(params["backup"], params["run_id"]).get("backup_path")
    started = time.time()
    deadline = started + params["timeout"]
    container = None
    reason = None
    first_answer = None
    error = None
    try:
        while True:
            container = client.get_container(params["container"])
            database = False
            if params["database_container"]:
                database = client.get_container(params["database_container"])
                result["database_state"] = ((database or {}).get("State") or {}).get("Status")
            if container is not None:
                state = container.get("State") or {}
                result.update(state=state.get("Status"), restarts=container.get("RestartCount", 0))
            status = _poll(params["url"]) if container is not None else None
            answered = status == 200
            now = time.time()
            if answered and first_answer is None:
                first_answer = now
            # An error answer streak: kept while the status is an error, ended by a 200 or by no answer at all.
            error = (status, error[1] if error else now) if status is not None and status >= 400 else None
            verdict, why, exit_code = poll_verdict(container, answered, first_answer, now, params["settle"], deadline,
                                                   params["url"], params["timeout"], database, error,
                                                   params["error_grace"])
            if verdict == CHECK:
                base = params["url"].rsplit("/", 1)[0]
                problem, result["vault_check"], note = check_vault(base, summary, params["admin_token"], deadline)
                if problem is None:
                    if note:
                        module.warn(note)
                    result.update(healthy=True, elapsed=round(time.time() - started, 1))
                    module.exit_json(**result)
                reason = "it answers %s but %s" % (params["url"], problem)
                break
            if verdict == FAIL:
                reason = "the container %s does not exist" % params["container"] if container is None else why
                result["exit_code"] = exit_code
                break
            time.sleep(params["interval"])
    except RequestException as exc:
        module.fail_json(msg="talking to the Docker daemon failed: %s" % to_native(exc), **result)
    result["elapsed"] = round(time.time() - started, 1)
    if container is not None:
        result["log"] = _log_lines(client, params["container"], params["log_lines"])
        if evidence_dir:
            _evidence(evidence_dir, container, result["log"])
    module.fail_json(msg=failure_message(params["container"], reason, container, result["log"],
                                         evidence_dir if container is not None else None), **result)


if __name__ == "__main__":
    main()
