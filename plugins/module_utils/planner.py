# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's brain: pure planning from (request, host facts, current state) to a plan of actions.

Nothing here does I/O. The action plugin ``homelab.vaultwarden.vaultwarden_plan`` validates and converts the role's
variables, gathers the host's facts in one round trip (``vaultwarden_facts``) and calls:

* :func:`derive_request` - fills the defaults that derive from other variables and refuses bad input;
* :func:`plan_pull` - selects the images for the host's platform, judges the version (once) and decides what to pull;
* :func:`plan_deploy` - given what was pulled, decides whether anything changes, the backup, the container specs,
  the deployment record, the health wait and the rollback target;
* :func:`plan_absent` - what ``state: absent`` removes.

Refusals raise :class:`PlanError` (a ``ValueError``) whose message names the variable, the value, why it is refused
and the fix. docs/design.md describes the plan's shape; tests/unit/plugins/module_utils/test_planner.py holds a row
for every rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
import posixpath
import re

from ansible_collections.homelab.vaultwarden.plugins.module_utils import fleet
from ansible_collections.homelab.vaultwarden.plugins.module_utils import https
from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
from ansible_collections.homelab.vaultwarden.plugins.module_utils.backup import SQLITE_DEFAULT_NAME
from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import select_image, tag_info
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    PlatformError,
    normalize_platform,
    platform_string,
)
from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import DATABASE_ENGINES, database_image
from ansible_collections.homelab.vaultwarden.plugins.module_utils import podman_engine
from ansible_collections.homelab.vaultwarden.plugins.module_utils import settings
from ansible_collections.homelab.vaultwarden.plugins.module_utils.vault_summary import KNOWN_USER_QUERY, SUMMARY_QUERY

LABEL_PREFIX = "io.github.homelab.vaultwarden"
LABELS = {
    "owner": LABEL_PREFIX + ".owner",        # the vaultwarden container name a resource belongs to
    "role": LABEL_PREFIX + ".role",          # vaultwarden | database
    "spec": LABEL_PREFIX + ".spec",          # digest of the container spec: same digest, same container
    "version": LABEL_PREFIX + ".version",
    "platform": LABEL_PREFIX + ".platform",
}
RECORD_FORMAT = 2

# Health: the server answers /alive once its database is migrated; a release that never does is rolled back.
ALIVE_PATH = "/alive"

# Engine API levels (community.docker checks the same): `platform` on pull needs 1.32, on create 1.41.
API_PLATFORM_ON_PULL = (1, 32)
API_PLATFORM_ON_CREATE = (1, 41)
API_MINIMUM = (1, 25)

# vaultwarden reads `<NAME>_FILE` for every setting since 1.18.0 (src/util.rs get_env_str_value in tag 1.18.0);
# older releases only see the environment, so their secrets stay in it (and in `docker inspect`).
SETTINGS_FROM_FILES_SINCE = (1, 18, 0)
SECRETS_IN_CONTAINER = "/run/secrets"
# Argon2 PHC strings as ADMIN_TOKEN since 1.28.0; older releases compare the token literally.
ARGON2_ADMIN_TOKEN_SINCE = "1.28.0"

# One table per concept: the database servers the role can run next to vaultwarden.
DATABASE_SERVERS = {
    "mariadb": {
        "backend": "mysql",
        "scheme": "mysql",
        "port": 3306,
        "data_path": "/var/lib/mysql",
        "default_tag": "10.11",
        # The image's own server user, by name: its uid is the image's (999 in the official images, 100 in the test
        # world's Debian-built stand-in), so only the name is portable. docs/design.md says why per image.
        "user": "mysql",
        # The official image reads *_FILE for every credential (docker-entrypoint.sh file_env).
        "env": {"MARIADB_DATABASE": "{name}", "MARIADB_USER": "{user}",
                "MARIADB_PASSWORD_FILE": "{secrets}/database_password",
                "MARIADB_ROOT_PASSWORD_FILE": "{secrets}/database_root_password"},
        "healthcheck": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
        "dump": ('mariadb-dump --single-transaction --routines --add-drop-database -uroot '
                 '-p"$(cat {secrets}/database_root_password)" --databases {name} > {dumps}/vaultwarden.sql.tmp '
                 '&& mv {dumps}/vaultwarden.sql.tmp {dumps}/vaultwarden.sql'),
        "restore": 'mariadb -uroot -p"$(cat {secrets}/database_root_password)" < {dumps}/restore.sql',
        "query": 'mariadb -N -B -uroot -p"$(cat {secrets}/database_root_password)" {name} -e "{sql}"',
        "run_dirs": ("/var/run/mysqld",),
    },
    "mysql": {
        "backend": "mysql",
        "scheme": "mysql",
        "port": 3306,
        "data_path": "/var/lib/mysql",
        "default_tag": "8.4",
        "user": "mysql",
        "env": {"MYSQL_DATABASE": "{name}", "MYSQL_USER": "{user}",
                "MYSQL_PASSWORD_FILE": "{secrets}/database_password",
                "MYSQL_ROOT_PASSWORD_FILE": "{secrets}/database_root_password"},
        "healthcheck": ["CMD-SHELL", 'mysqladmin ping -h 127.0.0.1 -uroot -p"$(cat {secrets}/database_root_password)"'],
        "dump": ('mysqldump --single-transaction --routines --add-drop-database -uroot '
                 '-p"$(cat {secrets}/database_root_password)" --databases {name} > {dumps}/vaultwarden.sql.tmp '
                 '&& mv {dumps}/vaultwarden.sql.tmp {dumps}/vaultwarden.sql'),
        "restore": 'mysql -uroot -p"$(cat {secrets}/database_root_password)" < {dumps}/restore.sql',
        "query": 'mysql -N -B -uroot -p"$(cat {secrets}/database_root_password)" {name} -e "{sql}"',
        "run_dirs": ("/var/run/mysqld",),
    },
    "postgres": {
        "backend": "postgresql",
        "scheme": "postgresql",
        "port": 5432,
        "data_path": "/var/lib/postgresql/data",
        "default_tag": "15",
        "user": "postgres",
        "env": {"POSTGRES_DB": "{name}", "POSTGRES_USER": "{user}",
                "POSTGRES_PASSWORD_FILE": "{secrets}/database_password"},
        "healthcheck": ["CMD", "pg_isready", "-U", "{user}", "-d", "{name}"],
        "dump": ('pg_dump -U {user} -d {name} --clean --if-exists -f {dumps}/vaultwarden.sql.tmp '
                 '&& mv {dumps}/vaultwarden.sql.tmp {dumps}/vaultwarden.sql'),
        "restore": 'psql -v ON_ERROR_STOP=1 -U {user} -d {name} -f {dumps}/restore.sql',
        "query": 'psql -At -F "$(printf \'\\t\')" -U {user} -d {name} -c "{sql}"',
        "run_dirs": ("/var/run/postgresql",),
    },
}
# Run as the image's user (above), the entrypoints skip their root-only steps (chown of the data directory, setpriv
# to the server user), so none of Docker's default capabilities is needed; the data directory, the dumps directory
# and the secret files are handed to that user by a one-shot job of the same image instead (database_ownership).
# What the servers write outside their data directory: /tmp and their socket directory, both tmpfs.
DB_TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"
# The one-shot ownership job: root in a throwaway container of the database image (names resolve there), with only
# what `find` (read and search directories that may be the server user's 0700 ones) and `chown` need.
DB_OWNERSHIP_CAPABILITIES = ("CHOWN", "DAC_READ_SEARCH")
DB_OWNERSHIP_SCRIPT = (
    'u=$1; g=$2; shift 2; '
    'find "$@" \\( ! -user "$u" -o ! -group "$g" \\) -exec chown -h "$u:$g" {} + || exit; '
    'uid=$u; gid=$g; '
    'while IFS=: read -r name x id rest; do [ "$name" = "$u" ] && uid=$id; done < /etc/passwd; '
    'while IFS=: read -r name x id rest; do [ "$name" = "$g" ] && gid=$id; done < /etc/group; '
    'echo "uid=$uid,gid=$gid"')
# The socket directory's tmpfs belongs to the server user; the ownership job's last line fills this in.
DB_TMPFS_OWNER = "{owner}"
DB_DUMPS_IN_JOB = "/ownership/dumps"
DB_SECRETS_IN_JOB = "/ownership/secrets"
DEFAULT_DATABASE_SERVER = {"mysql": "mariadb", "postgresql": "postgres"}
DATABASE_URL_SCHEMES = {"mysql": "mysql", "postgresql": "postgresql", "postgres": "postgresql"}
DB_SECRETS_PATH = "/run/secrets"   # where the database container sees the secrets directory
DB_DUMPS_PATH = "/dumps"

# Directories the role must never own, chmod, bind-mount or purge: the top of the tree and the shared system ones.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/proc", "/root", "/run", "/sbin",
                "/sys", "/tmp", "/usr", "/var", "/opt", "/srv", "/mnt", "/media", "/snap",
                "/usr/bin", "/usr/lib", "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/sbin",
                "/usr/share", "/usr/src", "/var/backups", "/var/cache", "/var/lib", "/var/lib/docker", "/var/local",
                "/var/log", "/var/mail", "/var/opt", "/var/run", "/var/spool", "/var/tmp", "/var/www")
# Trees that are the kernel's, the boot loader's or the engine's: nothing below them is a data directory.
_SYSTEM_TREES = ("/proc", "/sys", "/dev", "/boot", "/run", "/var/lib/docker")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DB_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Settings the role owns (setting them through vaultwarden_env would fight the role), with the variable to use instead.
_ROLE_OWNED_ENV = {
    "ROCKET_PORT": "vaultwarden_container_port",
    "ROCKET_ADDRESS": "vaultwarden_bind_address (the server listens on every address inside its container)",
    "DATABASE_URL": "vaultwarden_database_url (or vaultwarden_database for a managed database)",
    "ADMIN_TOKEN": "vaultwarden_admin_token",
    "DATA_FOLDER": "vaultwarden_data_dir",
    "DOMAIN": "vaultwarden_domain",
    "SIGNUPS_ALLOWED": "vaultwarden_signups_allowed",
}
for _name in list(_ROLE_OWNED_ENV):
    _ROLE_OWNED_ENV[_name + "_FILE"] = _ROLE_OWNED_ENV[_name]
del _name


class PlanError(ValueError):
    """A refused request: names the variable and value, why, and the fix."""

    def __init__(self, variable, value, why, fix):
        self.variable = variable
        self.value = value
        self.why = why
        self.fix = fix
        shown = "" if value is None else " %s" % json.dumps(value, default=str)
        super(PlanError, self).__init__("%s%s is refused: %s. %s" % (variable, shown, why, fix))


# --- helpers ---------------------------------------------------------------------------------------------------

def _version_tuple(text):
    """A release's version for ordering ('1.14' is (1, 14, 0)); None when it is not a release."""
    if not text:
        return None
    try:
        return catalogue.release_version(str(text))
    except ValueError:
        return None


def _api_tuple(text):
    match = re.match(r"^\s*(\d+)\.(\d+)", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def spec_digest(spec):
    """Digest of a container spec (its own digest label left out): equal digests mean an equal container."""
    canonical = dict(spec)
    labels = dict(canonical.get("labels") or {})
    labels.pop(LABELS["spec"], None)
    canonical["labels"] = labels
    # The image is compared by ID, so a new reference to the same image is no change; the rest is the plan's notes.
    for key in ("image", "apply", "preview", "image_id", "platform_literal"):
        canonical.pop(key, None)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _with_digest(spec):
    spec = dict(spec)
    spec["labels"] = dict(spec["labels"])
    spec["labels"][LABELS["spec"]] = spec_digest(spec)
    return spec


def _check_name(variable, value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise PlanError(variable, value, "container and network names are 1-128 characters of letters, digits, '_', "
                        "'.' and '-', starting with a letter or digit (an empty name lets the engine invent one, and the "
                        "role would then act on a container it does not own)",
                        "Set %s to a name such as 'vaultwarden'." % variable)


def _check_dir(variable, value):
    fix = ("Set %s to a dedicated directory of its own, such as /opt/vaultwarden (or a directory below it)."
           % variable)
    if not isinstance(value, str) or not value.startswith("/"):
        raise PlanError(variable, value, "it must be an absolute path on the host (a relative path would become a named "
                        "volume that backups never see)", fix)
    if "\n" in value or "\0" in value or "\r" in value:
        raise PlanError(variable, value, "control characters cannot appear in a path", fix)
    normal = posixpath.normpath(value)
    if normal == "//":
        normal = "/"
    if normal == "/" or normal in _SYSTEM_DIRS:
        raise PlanError(variable, value, "it is %s; the role changes the owner and mode of this directory and, with "
                        "vaultwarden_purge_data, deletes what is in it" % (
                            "the root of the filesystem" if normal == "/" else "a system directory (%s)" % normal), fix)
    if re.match(r"^/home/[^/]+$", normal):
        raise PlanError(variable, value, "it is a user's home directory itself (%s); the role would take it over and "
                        "purge would empty it" % normal, "Use a directory below it, such as %s/vaultwarden, or a "
                        "dedicated directory such as /opt/vaultwarden." % normal)
    tree = next((t for t in _SYSTEM_TREES if _inside(normal, t)), None)
    if tree is not None:
        raise PlanError(variable, value, "it lies in %s, which belongs to the kernel, the boot loader or the container "
                        "engine (or is emptied at boot)" % tree, fix)
    if ":" in value or "," in value:
        raise PlanError(variable, value, "':' and ',' cannot appear in a bind-mount source",
                        "Choose a path without ':' or ',', such as /opt/vaultwarden.")
    return normal


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _check_port(variable, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PlanError(variable, value, "a TCP port is a whole number from 1 to 65535", "Set %s to such a number." % variable)


def _check_duration(variable, value):
    if not isinstance(value, str) or not _DURATION.match(value):
        raise PlanError(variable, value, "a duration is a number with a unit (ns, us, ms, s, m, h), as Docker takes it",
                        "Set %s to a value such as '30s' or '1m30s'." % variable)


ROOT_USERS = ("root", "0", "0:0")


def _check_user(value):
    """(uid, gid) of the container user; root only when asked for by name."""
    if value in ROOT_USERS:
        return 0, 0
    if value == "":
        raise PlanError("vaultwarden_user", value, "the server runs as a dedicated non-root user by default, and an "
                        "empty user is no longer the way to ask for root",
                        "Remove the setting to run as 10001:10001, or set vaultwarden_user: root to run as root on purpose.")
    if not isinstance(value, str) or not re.match(r"^[0-9]+(:[0-9]+)?$", value):
        raise PlanError("vaultwarden_user", value, "the container user must be numeric (uid or uid:gid): names are "
                        "resolved inside the image, which has no such user, while the data directory's owner is set on "
                        "the host", "Set vaultwarden_user to a uid:gid such as '10001:10001', or root.")
    uid, dummy, gid = value.partition(":")
    return int(uid), int(gid or uid)


def _check_bind_address(value, all_interfaces):
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        raise PlanError("vaultwarden_bind_address", value, "it is not an IP address (a wrong address makes Docker "
                        "publish the port on every interface)", "Set an address of this host, for example 127.0.0.1.")
    if address.is_unspecified and not all_interfaces:
        raise PlanError("vaultwarden_bind_address", value, "it publishes the vault on every interface of the host",
                        "Keep 127.0.0.1 and put a reverse proxy in front, or set vaultwarden_bind_all_interfaces: true to "
                        "publish on all interfaces on purpose.")
    if address.is_multicast:
        raise PlanError("vaultwarden_bind_address", value, "a multicast address cannot be bound",
                        "Set an address of this host, for example 127.0.0.1.")
    return str(address)


# --- the request -----------------------------------------------------------------------------------------------

def derive_request(raw):
    """Validate the converted role variables and fill those that derive from others; returns a new dict.

    ``raw`` holds every role variable (converted to its declared type by the action plugin, unset derived ones as '').
    """
    req = dict(raw)
    _check_name("vaultwarden_container_name", req["vaultwarden_container_name"])
    base = _check_dir("vaultwarden_base_dir", req["vaultwarden_base_dir"])
    req["vaultwarden_base_dir"] = base
    for variable, default in (("vaultwarden_data_dir", base + "/data"), ("vaultwarden_backup_dir", base + "/backups"),
                              ("vaultwarden_database_data_dir", base + "/database")):
        req[variable] = _check_dir(variable, req.get(variable) or default)
    data, backups = req["vaultwarden_data_dir"], req["vaultwarden_backup_dir"]
    if not _inside(data, base):
        raise PlanError("vaultwarden_data_dir", data, "it lies outside vaultwarden_base_dir %s, where the role keeps the "
                        "record, secrets and lock of this deployment" % base,
                        "Put it under %s, or move vaultwarden_base_dir." % base)
    if _inside(backups, data) or _inside(data, backups):
        raise PlanError("vaultwarden_backup_dir", backups, "backups and the data directory %s must not contain each "
                        "other (a backup would copy the backups, a restore would replace them)" % data,
                        "Use a sibling such as %s/backups." % base)
    for variable in ("vaultwarden_http_port", "vaultwarden_container_port"):
        _check_port(variable, req[variable])
    for variable in ("vaultwarden_healthcheck_interval", "vaultwarden_healthcheck_timeout",
                     "vaultwarden_healthcheck_start_period"):
        _check_duration(variable, req[variable])
    if req["vaultwarden_health_timeout"] < 5:
        raise PlanError("vaultwarden_health_timeout", req["vaultwarden_health_timeout"], "a new server needs seconds to "
                        "start; a shorter wait rolls back good upgrades", "Set at least 5 (seconds); the default is 45.")
    if req["vaultwarden_backup_retention"] < 0:
        raise PlanError("vaultwarden_backup_retention", req["vaultwarden_backup_retention"], "it counts backups to keep",
                        "Set 0 to keep all, or a positive number.")
    req["vaultwarden_bind_address"] = _check_bind_address(req["vaultwarden_bind_address"],
                                                          req["vaultwarden_bind_all_interfaces"])
    req["_uid"], req["_gid"] = _check_user(req["vaultwarden_user"])
    req["_root"] = req["_uid"] == 0
    if not req["_root"] and req["vaultwarden_container_port"] < 1024:
        raise PlanError("vaultwarden_container_port", req["vaultwarden_container_port"], "a server that runs as the "
                        "non-root user %s cannot bind a port below 1024" % req["vaultwarden_user"],
                        "Set vaultwarden_container_port to 1024 or more (8080, for example).")
    for variable in ("vaultwarden_env", "vaultwarden_secret_env"):
        req[variable] = _check_env(variable, req[variable])
    both = sorted(set(req["vaultwarden_env"]) & set(req["vaultwarden_secret_env"]))
    if both:
        raise PlanError("vaultwarden_env", both[0], "it is set in vaultwarden_secret_env as well, and only one value "
                        "can reach the server", "Keep %s in vaultwarden_secret_env only (if it is a secret) or in "
                        "vaultwarden_env only." % both[0])
    try:
        req = settings.derive(req)
    except settings.SettingsError as exc:
        raise PlanError(*exc.args_tuple)

    backend = catalogue.DATABASE_ALIASES.get(str(req["vaultwarden_database"]).lower())
    if backend is None:
        raise PlanError("vaultwarden_database", req["vaultwarden_database"], "it is not a backend vaultwarden has",
                        "Use sqlite, mysql (or mariadb) or postgresql.")
    req["_backend"] = backend
    url = req["vaultwarden_database_url"]
    req["_database_managed"] = backend != "sqlite" and not url
    if url:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if backend == "sqlite":
            raise PlanError("vaultwarden_database_url", "<hidden>", "SQLite keeps its database in the data directory",
                            "Leave vaultwarden_database_url empty, or set vaultwarden_database to mysql or postgresql.")
        if DATABASE_URL_SCHEMES.get(scheme) != backend:
            wanted = "mysql" if backend == "mysql" else "postgresql"
            raise PlanError("vaultwarden_database_url", "%s://..." % scheme if scheme else "<hidden>",
                            "an external %s database needs a %s:// URL" % (backend, wanted),
                            "Use %s://user:password@host:port/database." % wanted)
    server = req["vaultwarden_database_server"] or DEFAULT_DATABASE_SERVER.get(backend, "")
    if req["_database_managed"]:
        if server not in DATABASE_SERVERS:
            raise PlanError("vaultwarden_database_server", server, "the role runs mariadb, mysql or postgres",
                            "Set vaultwarden_database_server to one of them.")
        if DATABASE_SERVERS[server]["backend"] != backend:
            raise PlanError("vaultwarden_database_server", server, "it does not serve the %s backend chosen by "
                            "vaultwarden_database %r" % (backend, req["vaultwarden_database"]),
                            "Use %s." % " or ".join(sorted(n for n, s in DATABASE_SERVERS.items()
                                                           if s["backend"] == backend)))
        for variable in ("vaultwarden_database_name", "vaultwarden_database_user"):
            if not _DB_IDENT.match(str(req[variable])):
                raise PlanError(variable, req[variable], "database and user names are letters, digits and '_' "
                                "(they go into a URL and into SQL unquoted)", "Use a name such as 'vaultwarden'.")
        req["vaultwarden_database_tag"] = req["vaultwarden_database_tag"] or DATABASE_SERVERS[server]["default_tag"]
    req["vaultwarden_database_server"] = server
    req["vaultwarden_database_registry"] = req["vaultwarden_database_registry"] or req["vaultwarden_registry"]
    req["vaultwarden_network_name"] = req["vaultwarden_network_name"] or req["vaultwarden_container_name"] + "-net"
    _check_name("vaultwarden_network_name", req["vaultwarden_network_name"])
    req["_database_container_name"] = req["vaultwarden_container_name"] + "-db"
    req["_secrets_dir"] = base + "/secrets"
    req["_dump_dir"] = base + "/dumps"
    req["_record_path"] = base + "/deployed.json"
    req["_lock_path"] = base + "/.lock"
    req["_rollback_journal"] = base + "/rollback-pending"
    req["vaultwarden_podman_socket"] = req["vaultwarden_podman_socket"] or podman_engine.ROOTFUL_SOCKET
    try:
        req["_releases"] = fleet.check_releases(req["vaultwarden_release_digests"])
    except fleet.FleetError as exc:
        raise PlanError(*exc.args_tuple)
    # The action plugin adds what the run's earlier hosts resolved (fleet.merged_releases).
    req["_release_sources"] = dict((key, "vaultwarden_release_digests") for key in req["_releases"])
    if req["vaultwarden_platform"]:
        try:
            req["vaultwarden_platform"] = platform_string(normalize_platform(req["vaultwarden_platform"]))
        except PlatformError as exc:
            raise PlanError("vaultwarden_platform", req["vaultwarden_platform"], str(exc),
                            "Leave it empty to detect the platform, or use a spelling such as linux/arm/v6.")
    try:
        return https.derive(req)
    except https.HttpsError as exc:
        raise PlanError(*exc.args_tuple)


def _check_env(variable, env):
    """A mapping of setting -> string; a string (as -e gives it) is read as a JSON or YAML mapping."""
    secret = variable == "vaultwarden_secret_env"
    example = "{\"SMTP_HOST\": \"smtp.example.org\"}"
    if isinstance(env, str):
        text = env.strip()
        parsed = None
        if text:
            try:     # the action plugin has already read YAML mappings; what is left here is JSON or nothing
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        else:
            parsed = {}
        if not isinstance(parsed, dict):
            raise PlanError(variable, None if secret else env, "it is a string that is neither a JSON nor a YAML "
                            "mapping of setting names to values", "Give a mapping, for example -e '{\"%s\": %s}'."
                            % (variable, example))
        env = parsed
    if env is None:
        env = {}
    if not isinstance(env, dict):
        raise PlanError(variable, None if secret else env, "it must be a mapping of setting names to values, not a %s"
                        % type(env).__name__, "Give a mapping such as %s." % example)
    result = {}
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise PlanError(variable, name, "it is not an environment variable name",
                            "Use names of letters, digits and '_', such as SMTP_HOST.")
        if name in _ROLE_OWNED_ENV:
            raise PlanError(variable, name, "the role sets this setting itself",
                            "Remove it and set %s instead." % _ROLE_OWNED_ENV[name])
        if isinstance(value, (dict, list, tuple, set)):
            raise PlanError(variable, name if secret else {name: value}, "environment values are strings, not a %s"
                            % type(value).__name__, "Give %s a string, number or boolean." % name)
        if value is None:
            raise PlanError(variable, name, "it has no value (null); an empty setting and an unset one differ",
                            "Give %s a value, '' for an empty one, or remove it." % name)
        value = _env_value(value)
        if "\0" in value:
            raise PlanError(variable, name, "a NUL character cannot appear in an environment value",
                            "Remove it from the value of %s." % name)
        result[name] = value
    return result


def _env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def facts_request(req):
    """What the host-side facts module must look at for this request."""
    return {
        "containers": [req["vaultwarden_container_name"], req["_database_container_name"], req["_proxy_container_name"]],
        "record_path": req["_record_path"],
        "secrets_dir": req["_secrets_dir"],
        # Networks are looked at for their owner label: the role removes or reuses only its own (absent removes it
        # whatever the backend is now, so a deployment that left a managed database leaves no network behind).
        "networks": [req["vaultwarden_network_name"], req["_proxy_network_name"]],
        "dumps_dir": req["_dump_dir"] if req["_database_managed"] else None,
        "lock_path": req["_lock_path"],
        "rollback_journal": req["_rollback_journal"],
        "owner_label": LABELS["owner"],
        "secret_templates": {"database_url": managed_database_url(req)} if req["_database_managed"] else {},
        "ownership": {"path": req["vaultwarden_data_dir"], "uid": req["_uid"], "gid": req["_gid"]},
        # A moving tag that runs is asked for its registry digest in the same round trip (no pull when unmoved).
        "probe_recorded_moving_tag": True,
        "engine": req["vaultwarden_engine"],
        "podman_host": req["vaultwarden_podman_socket"] if req["vaultwarden_engine"] != "docker" else None,
    }


# --- judging the record and the version ------------------------------------------------------------------------

def current_deployment(req, facts):
    """The running vaultwarden container if it is ours (it carries our owner label), else None."""
    name = req["vaultwarden_container_name"]
    container = (facts.get("containers") or {}).get(name) or {}
    if not container.get("exists"):
        return None
    labels = container.get("labels") or {}
    if labels.get(LABELS["owner"]) != name:
        raise PlanError("vaultwarden_container_name", name, "a container of that name exists but was not created by this "
                        "role (it lacks the label %s=%s); the role never touches containers it does not own"
                        % (LABELS["owner"], name),
                        "Choose another vaultwarden_container_name, or remove or rename that container yourself.")
    return container


def _foreign(found, owner):
    return bool(found.get("exists")) and (found.get("labels") or {}).get(LABELS["owner"]) != owner


def check_owned(req, facts):
    """The database container and the network of a managed database are this role's, or the role stops.

    A container or network of that name that lacks the owner label (or names another owner) belongs to someone
    else: recreating, joining or removing it would act on another application's resources.
    """
    owner = req["vaultwarden_container_name"]
    for what, name in (("container", req["_proxy_container_name"]), ("network", req["_proxy_network_name"])):
        found = (facts.get(what + "s") or {}).get(name) or {}
        if req["_proxied"] and _foreign(found, owner):
            raise PlanError("vaultwarden_container_name", owner, "the proxy's %s %s exists but was not created by this "
                            "role for %s; the role never changes or removes what it does not own" % (what, name, owner),
                            "Choose another vaultwarden_container_name, or remove or rename %s yourself." % name)
    if not req["_database_managed"]:
        return
    name = req["_database_container_name"]
    found = (facts.get("containers") or {}).get(name) or {}
    if _foreign(found, owner):
        raise PlanError("vaultwarden_container_name", owner, "the database container %s exists but was not created "
                        "by this role for %s (its label %s is %s); the role never recreates, stops or removes a "
                        "container it does not own" % (name, owner, LABELS["owner"],
                                                       json.dumps((found.get("labels") or {}).get(LABELS["owner"]))),
                        "Choose another vaultwarden_container_name, or remove or rename the container %s yourself."
                        % name)
    network = req["vaultwarden_network_name"]
    found = (facts.get("networks") or {}).get(network) or {}
    if _foreign(found, owner):
        raise PlanError("vaultwarden_network_name", network, "a network of that name exists but was not created by "
                        "this role for %s (its label %s is %s); the role never joins, changes or removes a network "
                        "it does not own" % (owner, LABELS["owner"],
                                             json.dumps((found.get("labels") or {}).get(LABELS["owner"]))),
                        "Set vaultwarden_network_name to a name no other network uses (such as %s-vaultwarden), or "
                        "remove that network yourself (docker network rm %s)." % (owner, network))


def _record(facts):
    record = facts.get("record")
    if facts.get("record_error"):
        raise PlanError("deployment record", None, facts["record_error"],
                        "The record only guards against downgrades and names the rollback target; nothing was changed.")
    return record or {}


def judge_downgrade(req, previous_version, new_version, what):
    """The one downgrade rule: refuse an older release than the one that last ran, unless allowed."""
    old, new = _version_tuple(previous_version), _version_tuple(new_version)
    if req["vaultwarden_allow_downgrade"] or old is None or new is None or new >= old:
        return
    raise PlanError("vaultwarden_version", req["vaultwarden_version"],
                    "Refusing to downgrade vaultwarden from %s to %s (%s): database migrations only run forward"
                    % (previous_version, new_version, what),
                    "Restore a backup from before the upgrade (in %s), or set vaultwarden_allow_downgrade: true if you "
                    "know the schema is compatible." % req["vaultwarden_backup_dir"])


def judge_version(version):
    """The one judgement of the requested tag: legacy tags and tag suffixes are refused with the replacement."""
    try:
        info = tag_info(version)
    except ValueError:
        return      # select_image names the accepted forms
    if info["legacy"]:
        raise PlanError("vaultwarden_version", version, "it is a legacy per-architecture tag, retired on %s"
                        % info["retired"], "Use %s." % info["replacement"])
    if info["variant"] == "alpine":
        raise PlanError("vaultwarden_version", version, "it names the Alpine tag",
                        "Set vaultwarden_version: %s and vaultwarden_variant: alpine." % (info["version"] or info["channel"]))


# --- stage 1: what to pull -------------------------------------------------------------------------------------

def _engine(req, facts):
    name, refusal = podman_engine.choose(req["vaultwarden_engine"], facts.get("engine"), facts.get("podman"))
    if refusal is not None:
        raise PlanError("vaultwarden_engine", req["vaultwarden_engine"], refusal[0], refusal[1])
    if name == "podman":
        if req["_database_managed"]:
            raise PlanError("vaultwarden_database", req["vaultwarden_database"], "the Podman path runs vaultwarden with "
                            "SQLite only so far (a managed database container on Podman is not done yet)",
                            "Use vaultwarden_database: sqlite, an external database (vaultwarden_database_url), or "
                            "vaultwarden_engine: docker.")
        if req["_proxied"]:
            raise PlanError("vaultwarden_tls", req["vaultwarden_tls"] or "internal", "the Podman path runs no HTTPS "
                            "proxy so far (the Caddy front door is done for Docker only)",
                            "Use vaultwarden_tls: external with a proxy of your own in front of vaultwarden, or "
                            "vaultwarden_engine: docker.")
        return podman_engine.plan_engine(facts["podman"], req["vaultwarden_podman_socket"], req["vaultwarden_podman_units"],
                                         req["vaultwarden_podman_unit_dir"])
    engine = facts.get("engine") or {}
    if not engine.get("reachable"):
        raise PlanError("vaultwarden_engine", "docker", "no reachable Docker engine on this host (%s)"
                        % (engine.get("error") or "the daemon did not answer"),
                        "Install Docker (Debian/Raspberry Pi OS: apt-get install docker.io python3-requests) and make sure "
                        "this user can reach its socket.")
    api = _api_tuple(engine.get("api_version"))
    if api is None or api < API_MINIMUM:
        raise PlanError("Docker API version", engine.get("api_version"), "the role needs API %d.%d (Docker 1.13) or "
                        "newer" % API_MINIMUM, "Upgrade the Docker engine.")
    pinned_api = req["vaultwarden_docker_api_version"]
    return {
        "name": "docker",
        "version": engine.get("version"),
        "api_version": engine.get("api_version"),
        "platform_on_pull": api >= API_PLATFORM_ON_PULL,
        "platform_on_create": api >= API_PLATFORM_ON_CREATE,
        # Passed to every community.docker module: the level decided once, by vaultwarden_facts (which honours
        # DOCKER_API_VERSION in the host's environment) or vaultwarden_docker_api_version, so that no module
        # negotiates a higher level than the plan was made for.
        "api_version_arg": pinned_api if pinned_api != "auto" else (engine.get("api_version") or "auto"),
    }


def plan_pull(req, facts, libraries, run_id=""):
    """Stage 1: select images for the host, judge the version once, decide what to pull.

    ``facts`` is the result of ``vaultwarden_facts``; ``libraries`` maps mariadb/mysql/postgres to library texts.
    """
    engine = _engine(req, facts)
    detected = (facts.get("platform") or {}).get("platform")
    platform = req["vaultwarden_platform"] or detected
    if not platform:
        raise PlanError("vaultwarden_platform", "", "the host's platform could not be detected",
                        "Set vaultwarden_platform (for example linux/arm/v7).")
    # Podman picks the variant from manifest lists itself: the arm/v6 rule of old Docker engines is not its.
    docker_version = req["vaultwarden_docker_version"] or (engine["version"] if engine["name"] == "docker" else None) or None
    judge_version(req["vaultwarden_version"])
    try:
        image = select_image(platform, version=req["vaultwarden_version"], database=req["_backend"],
                             variant=req["vaultwarden_variant"], registry=req["vaultwarden_registry"],
                             docker_version=docker_version)
    except ValueError as exc:
        raise PlanError("vaultwarden_version", req["vaultwarden_version"], str(exc).rstrip("."),
                        "Change the version, variant, database or registry as the message says.")
    warnings = list(image.get("warnings") or [])
    # A pinned release is known before the pull: a setting it does not read is refused before anything is pulled.
    typed_settings_env(req, image["version"])

    container = current_deployment(req, facts)
    check_owned(req, facts)
    record = _record(facts)
    current = record.get("current") or {}
    previous_version = current.get("version") or (container or {}).get("labels", {}).get(LABELS["version"])
    if image["channel"] == catalogue.PINNED:
        judge_downgrade(req, previous_version, image["version"], "pinned")

    database = None
    if req["_database_managed"]:
        try:
            # The role's library directory holds the proxy's (caddy) beside the databases'.
            database = database_image(platform, req["vaultwarden_database_server"], req["vaultwarden_database_tag"],
                                      dict((name, text) for name, text in libraries.items() if name in DATABASE_ENGINES),
                                      registry=req["vaultwarden_database_registry"])
        except ValueError as exc:
            raise PlanError("vaultwarden_database_server", req["vaultwarden_database_server"], str(exc).rstrip("."),
                            "Pick a database image that exists for %s, or use sqlite." % platform)

    proxy = None
    if req["_proxied"]:
        try:
            proxy = https.proxy_image(platform, req["vaultwarden_proxy_tag"], libraries.get(https.PROXY_IMAGE) or "",
                                      registry=req["vaultwarden_proxy_registry"])
        except https.HttpsError as exc:
            raise PlanError(*exc.args_tuple)

    pull = []
    images = facts.get("images") or {}
    release = _release(req, image, facts)
    running = (container is not None and current.get("ref") == image["ref"]
               and container.get("image") == current.get("image_id") and current.get("image_id") in images)
    # The reference that already runs needs no pull: a pinned release is pulled once, a moving tag whose registry
    # digest (asked through the engine by vaultwarden_facts, without pulling) is the running image's has not moved,
    # and the fleet's release (a digest) is the running image's.
    if release["digest"]:
        runs_current = running and any(d.endswith("@" + release["digest"])
                                       for d in images[current["image_id"]].get("RepoDigests") or [])
    else:
        runs_current = running and (image["channel"] == catalogue.PINNED
                                    or _unmoved(image["ref"], images[current["image_id"]].get("RepoDigests"),
                                                facts.get("distribution") or {}))
    image = dict(image, pull_ref=fleet.digest_ref(image["ref"], release["digest"]) if release["digest"] else image["ref"],
                 release_digest=release["digest"])
    if not runs_current:
        # A digest never moves: pulled once; a tag as its channel says.
        mode = "not_present" if release["digest"] or image["pull"] != "always" else "always"
        pull.append(_pull(image["pull_ref"], image["platform"], mode, engine))
    if database is not None:
        db_container = (facts.get("containers") or {}).get(req["_database_container_name"]) or {}
        db_current = record.get("database") or {}
        if not (db_container.get("exists") and db_current.get("ref") == database["ref"]
                and db_container.get("image") == db_current.get("image_id")):
            pull.append(_pull(database["ref"], database["platform"], "not_present", engine))
    if proxy is not None:
        proxy_container = (facts.get("containers") or {}).get(req["_proxy_container_name"]) or {}
        proxy_current = record.get("proxy") or {}
        # Upgrades of the proxy follow vaultwarden's tag policy: a moving tag is asked again every run.
        if not (proxy_container.get("exists") and proxy_current.get("ref") == proxy["ref"]
                and proxy_container.get("image") == proxy_current.get("image_id")
                and (https.pinned_tag(proxy["tag"])
                     or _unmoved(proxy["ref"], (images.get(proxy_current.get("image_id")) or {}).get("RepoDigests"),
                                 facts.get("distribution") or {}))):
            pull.append(_pull(proxy["ref"], proxy["platform"], "always", engine))

    return {
        "stage": "pull",
        "run_id": run_id,
        "platform": platform,
        "platform_source": "vaultwarden_platform" if req["vaultwarden_platform"] else "detected",
        "engine": engine,
        "image": image,
        "database_image": database,
        "proxy_image": proxy,
        "pull": pull,
        "release": release,
        # The registry is asked for the tag's digest first (one more look, only when this host pulls it).
        "resolve": [image["ref"]] if release.get("resolve") and not runs_current else [],
        "previous_version": previous_version,
        "runs_current": runs_current,
        "warnings": warnings + list((facts.get("platform") or {}).get("warnings") or []),
    }


def _release(req, image, facts):
    """How this host pulls vaultwarden in this run: {key, digest, source} (digest None: by its tag).

    The user's vaultwarden_release_digests and what the run's earlier hosts resolved come first; the first host of a
    run to pull a reference asks the registry for its digest and pulls by it (vaultwarden_fleet_release).
    """
    key = fleet.release_key(image["ref"])
    if key in req["_releases"]:
        return {"key": key, "digest": req["_releases"][key], "source": req["_release_sources"].get(key)}
    if not req["vaultwarden_fleet_release"]:
        return {"key": key, "digest": None, "source": None}
    found = (facts.get("distribution") or {}).get(image["ref"]) or {}
    if found.get("digest"):
        return {"key": key, "digest": found["digest"], "source": "registry"}
    # The registry was not asked yet (resolve), or the engine cannot ask it (Podman, API < 1.30): pulled by tag.
    return {"key": key, "digest": None, "source": None, "resolve": "error" not in found,
            "error": found.get("error")}


def _unmoved(ref, repo_digests, distribution):
    """The registry still serves, under ``ref``, a digest one of ``repo_digests`` was pulled by."""
    digest = (distribution.get(ref) or {}).get("digest")
    return bool(digest) and any(d.endswith("@" + digest) for d in repo_digests or [])


def _pull(ref, platform, mode, engine):
    if "@" in ref:
        # Both engines' modules take name@digest (and then ignore the tag).
        name, tag = ref, "latest"
    else:
        name, tag = ref.rsplit(":", 1) if ":" in ref.rsplit("/", 1)[-1] else (ref, "latest")
    return {"ref": ref, "name": name, "tag": tag, "pull": mode, "wanted_platform": platform,
            "platform": platform if engine["platform_on_pull"] else None}


# --- stage 2: what changes ---------------------------------------------------------------------------------------

# Single-architecture tags and repositories of the arm32 era name their variant (vaultwarden/server:1.27.0-arm32v6,
# arm32v6/postgres): the only word on it when the image itself declares none.
_ARM_VARIANT_IN_REF = re.compile(r"(?:^|[/:_.-])arm32(v[5-7])(?:$|[/:_.-])")


def image_platform(image, ref=""):
    """os/arch[/variant] of an image inspect result, canonical; '' when unknown.

    A 32-bit arm image that declares no variant is not assumed to be v7 (the canonical table's default): old arm32v6
    images report none. Its reference decides when it names the variant; otherwise it is 'linux/arm', variant unknown,
    for :func:`_check_platform` to compare with the host.
    """
    if not image or not image.get("Architecture"):
        return ""
    spelling = _image_literal_platform(image)
    if str(image.get("Architecture")).lower() in ("arm", "armhf", "armel") and not image.get("Variant"):
        hint = _ARM_VARIANT_IN_REF.search(str(ref or "").lower())
        if hint is None:
            return "%s/arm" % (image.get("Os") or "linux")
        spelling = "%s/arm/%s" % (image.get("Os") or "linux", hint.group(1))
    try:
        return platform_string(normalize_platform(spelling))
    except PlatformError:
        return spelling


def _image_literal_platform(image):
    """The platform spelled as the image declares it (community.docker compares the literal string)."""
    return "/".join(part for part in (image.get("Os") or "linux", image.get("Architecture"), image.get("Variant"))
                    if part)


def _pulled_image(pulled, ref):
    for result in pulled or []:
        if result.get("ref") == ref:
            return result.get("image") or {}, bool(result.get("changed"))
    return None, False


def _check_platform(ref, wanted, image):
    got = image_platform(image, ref)
    if got == "linux/arm" and wanted.startswith("linux/arm/"):
        # Variant unknown: an ARMv7 (or 64-bit) CPU runs either 32-bit variant; an older one only v6 or v5 code.
        if wanted in ("linux/arm/v7", "linux/arm/v8"):
            return
        raise PlanError("pulled image", ref, "it declares a 32-bit arm image without a variant, so nothing says it runs "
                        "on this %s host (it may be ARMv7 code, which crashes with an illegal instruction there)" % wanted,
                        "Pin a release whose tag names the variant (X.Y.Z-arm32v6 for 1.16.1-1.27.x), or an image that "
                        "declares Variant %s." % wanted.rsplit("/", 1)[1])
    if got and got != wanted:
        raise PlanError("pulled image", ref, "the engine stored it for %s, not for %s (Docker older than 20.10.0 on "
                        "ARMv6 boards picks arm/v7 from manifest lists, moby/moby#41017)" % (got, wanted),
                        "Upgrade Docker, or pin a 1.16.1-1.27.x release (its X.Y.Z-arm32v6 tag).")


def _image_version(image, fallback):
    labels = (image.get("Config") or {}).get("Labels") or {}
    return labels.get("org.opencontainers.image.version") or fallback


def _settings_from_files(version):
    parsed = _version_tuple(version)
    return parsed is None or parsed >= SETTINGS_FROM_FILES_SINCE


def admin_token_form(version):
    """How the admin token reaches the server: an Argon2 PHC string from 1.28.0, the token itself before."""
    if not version:
        return "argon2"
    parsed = _version_tuple(version)
    return "argon2" if parsed is None or parsed >= catalogue.parse_version(ARGON2_ADMIN_TOKEN_SINCE) else "plain"


def secret_files(req, database_url, admin_token_set):
    """The secret files the host holds, 0600 in a 0700 directory: name -> how its content is made.

    ``generate``: random, made once on the host; ``template``: filled from other secret files on the host;
    ``admin_token``/``secret_env``: given by the controller (the action plugin), never part of a plan.
    """
    files = {}
    if req["_database_managed"]:
        files["database_password"] = {"kind": "generate", "consumers": ["database"]}
        files["database_root_password"] = {"kind": "generate", "consumers": ["database"]}
    if database_url:
        if req["_database_managed"]:
            files["database_url"] = {"kind": "template", "template": database_url, "consumers": ["vaultwarden"]}
        else:
            files["database_url"] = {"kind": "database_url", "consumers": ["vaultwarden"]}
    if admin_token_set:
        files["admin_token"] = {"kind": "admin_token", "consumers": ["vaultwarden"]}
    for name in sorted(req["vaultwarden_secret_env"]):
        files["env_" + name] = {"kind": "secret_env", "setting": name, "consumers": ["vaultwarden"]}
    # The typed secrets (vaultwarden_smtp.password, ...): the same files, read from their variable's key.
    for name, (variable, key) in sorted(req["_settings"]["secrets"].items()):
        files["env_" + name] = {"kind": "secret_env", "setting": name, "consumers": ["vaultwarden"],
                                "source": {"variable": variable, "key": key}}
    return files


def typed_settings_env(req, version):
    """The typed settings' environment for ``version``; a setting that release does not read is refused."""
    try:
        return settings.settings_env(req["_settings"], version)[0]
    except settings.SettingsError as exc:
        raise PlanError(*exc.args_tuple)


def managed_database_url(req):
    """The URL vaultwarden uses for the managed database; {database_password} is filled in on the host."""
    server = DATABASE_SERVERS[req["vaultwarden_database_server"]]
    return "%s://%s:{database_password}@%s:%d/%s" % (server["scheme"], req["vaultwarden_database_user"],
                                                     req["_database_container_name"], server["port"],
                                                     req["vaultwarden_database_name"])


def _healthcheck(req):
    return {
        "test": ["CMD", "/healthcheck.sh"],
        "interval": req["vaultwarden_healthcheck_interval"],
        "timeout": req["vaultwarden_healthcheck_timeout"],
        "retries": req["vaultwarden_healthcheck_retries"],
        "start_period": req["vaultwarden_healthcheck_start_period"],
    }


def _secret_setting(name, spec):
    if spec["kind"] == "secret_env":
        return spec["setting"]
    return {"admin_token": "ADMIN_TOKEN", "database_url": "DATABASE_URL"}.get(name)


def vaultwarden_spec(req, stage1, image_ref, platform_literal, version, secrets, from_files):
    """The vaultwarden container, engine-neutral (the engine's task file maps it onto its module)."""
    name = req["vaultwarden_container_name"]
    env = {"ROCKET_PORT": str(req["vaultwarden_container_port"]),
           "SIGNUPS_ALLOWED": "true" if req["vaultwarden_signups_allowed"] else "false"}
    if req["vaultwarden_domain"]:
        env["DOMAIN"] = req["vaultwarden_domain"]
    env.update(typed_settings_env(req, version))
    env.update(req["vaultwarden_env"])
    volumes = ["%s:/data" % req["vaultwarden_data_dir"]]
    in_env = {}
    for secret in sorted(secrets):
        if "vaultwarden" not in secrets[secret]["consumers"]:
            continue
        setting = _secret_setting(secret, secrets[secret])
        if from_files:
            env[setting + "_FILE"] = "%s/%s" % (SECRETS_IN_CONTAINER, secret)
            volumes.append("%s/%s:%s/%s:ro" % (req["_secrets_dir"], secret, SECRETS_IN_CONTAINER, secret))
        else:
            in_env[setting] = secret
    root = req["_root"]
    capabilities = []
    if req["vaultwarden_drop_capabilities"]:
        if root:
            capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
        if req["vaultwarden_container_port"] < 1024:
            capabilities.append("NET_BIND_SERVICE")
        elif not root:
            # Known traps of a release run as non-root (1.28.0's binary needs NET_BIND_SERVICE even on a high
            # port, upstream #3386): exactly those capabilities, from the catalogue.
            capabilities.extend(c for c in stage1["image"].get("non_root_capabilities") or [] if c not in capabilities)
    networks = [{"name": "bridge"}]
    if req["_database_managed"]:
        networks.append({"name": req["vaultwarden_network_name"]})
    spec = {
        "name": name,
        "image": image_ref,
        "platform": platform_literal if stage1["engine"]["platform_on_create"] else None,
        "env": env,
        # Releases before 1.18.0 read no <NAME>_FILE: these settings get the secret file's content on the host.
        "env_from_secrets": in_env,
        "volumes": volumes,
        "published_ports": ["%s:%d:%d" % (_publish_address(req["vaultwarden_bind_address"]), req["vaultwarden_http_port"],
                                          req["vaultwarden_container_port"])],
        "networks": networks,
        "network_mode": networks[0]["name"],
        "user": "" if root else "%d:%d" % (req["_uid"], req["_gid"]),
        "init": req["vaultwarden_init"],
        # The server writes only below /data (and /tmp); MASH runs it with exactly these flags.
        "read_only": req["vaultwarden_read_only"],
        "tmpfs": ["/tmp:rw,noexec,nosuid,nodev,size=64m"] if req["vaultwarden_read_only"] else [],
        "security_opts": ["no-new-privileges"],
        "cap_drop": ["ALL"] if req["vaultwarden_drop_capabilities"] else [],
        "capabilities": capabilities,
        "healthcheck": _healthcheck(req),
        "restart_policy": req["vaultwarden_restart_policy"],
        "labels": {LABELS["owner"]: name, LABELS["role"]: "vaultwarden", LABELS["version"]: version or "",
                   LABELS["platform"]: stage1["platform"]},
    }
    return _with_digest(https.vaultwarden_changes(req, spec))


def _publish_address(address):
    return "[%s]" % address if ":" in address else address


def database_spec(req, stage1, image_ref, platform_literal):
    server = DATABASE_SERVERS[req["vaultwarden_database_server"]]
    values = {"name": req["vaultwarden_database_name"], "user": req["vaultwarden_database_user"],
              "secrets": DB_SECRETS_PATH, "dumps": DB_DUMPS_PATH}
    spec = {
        "name": req["_database_container_name"],
        "image": image_ref,
        "platform": platform_literal if stage1["engine"]["platform_on_create"] else None,
        "env": dict((k, v.format(**values)) for k, v in server["env"].items()),
        "env_from_secrets": {},
        "volumes": ["%s:%s" % (req["vaultwarden_database_data_dir"], server["data_path"]),
                    "%s:%s" % (req["_dump_dir"], DB_DUMPS_PATH),
                    "%s/database_password:%s/database_password:ro" % (req["_secrets_dir"], DB_SECRETS_PATH),
                    "%s/database_root_password:%s/database_root_password:ro" % (req["_secrets_dir"], DB_SECRETS_PATH)],
        "networks": [{"name": req["vaultwarden_network_name"]}],
        "network_mode": req["vaultwarden_network_name"],
        # The image's own server user: its entrypoint then needs no capability (see DATABASE_SERVERS).
        "user": server["user"],
        "init": True,
        "read_only": True,
        "tmpfs": ["/tmp:%s" % DB_TMPFS_OPTIONS] + ["%s:%s,%s" % (path, DB_TMPFS_OPTIONS, DB_TMPFS_OWNER)
                                                   for path in server["run_dirs"]],
        "security_opts": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "capabilities": [],
        "healthcheck": {"test": [part.format(**values) for part in server["healthcheck"]], "interval": "5s",
                        "timeout": "5s", "retries": 5, "start_period": "0s"},
        "restart_policy": req["vaultwarden_restart_policy"],
        "labels": {LABELS["owner"]: req["vaultwarden_container_name"], LABELS["role"]: "database"},
    }
    return _with_digest(spec)


def database_ownership(req, user, image_ref):
    """The one-shot job that hands the database's host directories and secret files to its container ``user``.

    The user is a name inside the image (its uid differs between images), so the job runs in the image itself; it only
    changes what is not already the user's. None for a root container: its entrypoint owns the data itself.
    """
    if not user or user in ROOT_USERS:
        return None
    # A name is also its group's (the images' server users have a group of their name); uid:gid as given.
    uid, dummy, gid = user.partition(":")
    gid = gid or uid
    # The data directory at the image's own data path: its VOLUME would otherwise leave an anonymous volume behind.
    data_path = DATABASE_SERVERS[req["vaultwarden_database_server"]]["data_path"]
    paths = [data_path, DB_DUMPS_IN_JOB] + ["%s/%s" % (DB_SECRETS_IN_JOB, name)
                                            for name in ("database_password", "database_root_password")]
    return {
        "name": req["_database_container_name"] + "-ownership",
        "image": image_ref,
        "user": "0:0",
        "entrypoint": ["sh", "-c"],
        # Plain POSIX sh: official images are Debian, Oracle Linux or Alpine (busybox). The last line is the numeric
        # owner as tmpfs options: a tmpfs keeps the mode of the image's directory, not its owner.
        "command": [DB_OWNERSHIP_SCRIPT, "ownership", uid, gid] + paths,
        "volumes": ["%s:%s" % (req["vaultwarden_database_data_dir"], data_path),
                    "%s:%s" % (req["_dump_dir"], DB_DUMPS_IN_JOB),
                    "%s/database_password:%s/database_password" % (req["_secrets_dir"], DB_SECRETS_IN_JOB),
                    "%s/database_root_password:%s/database_root_password" % (req["_secrets_dir"], DB_SECRETS_IN_JOB)],
        "cap_drop": ["ALL"],
        "capabilities": list(DB_OWNERSHIP_CAPABILITIES),
        "security_opts": ["no-new-privileges"],
        "networks": [],
        "network_mode": "none",
        "platform": None,
        "env": {},
        "env_from_secrets": {},
        "published_ports": [],
        "init": False,
        "read_only": False,
        "tmpfs": [],
        "healthcheck": None,
        "restart_policy": "no",
        "labels": {LABELS["owner"]: req["vaultwarden_container_name"], LABELS["role"]: "ownership"},
        # Run to completion (a non-zero exit fails the task), then removed.
        "detach": False,
        "cleanup": True,
        "user_in_image": user,
    }


def _health_url(req):
    if req["_proxied"]:
        return https.health_url(req)
    address = req["vaultwarden_bind_address"]
    if ipaddress.ip_address(address).is_unspecified:
        address = "127.0.0.1" if ":" not in address else "::1"
    host = "[%s]" % address if ":" in address else address
    return "http://%s:%d%s" % (host, req["vaultwarden_http_port"], ALIVE_PATH)


def _secrets_plan(req, facts, new_version, admin_token_state):
    db_url = managed_database_url(req) if req["_database_managed"] else req["vaultwarden_database_url"]
    files = secret_files(req, db_url, bool(req["vaultwarden_admin_token"]))
    host = facts.get("secrets") or {}
    form = admin_token_form(new_version)
    write = []
    for name, spec in sorted(files.items()):
        have = host.get(name) or {}
        if not have.get("exists"):
            write.append(name)
        elif spec["kind"] == "template" and have.get("template_matches") is False:
            write.append(name)
        elif spec["kind"] == "admin_token" and (admin_token_state != "matches" or have.get("form") != form):
            write.append(name)
        elif spec["kind"] in ("secret_env", "database_url") and not have.get("matches"):
            write.append(name)
        elif have.get("mode") not in (None, "0600"):
            write.append(name)
        # A server that runs as non-root reads its files only if they are its own (a root deployment's are root's).
        elif ("vaultwarden" in spec["consumers"] and not req["_root"] and have.get("uid") is not None
              and have["uid"] != req["_uid"]):
            write.append(name)
    stale = sorted(name for name in host if name not in files and host[name].get("exists"))
    return {"dir": req["_secrets_dir"], "files": files, "write": write, "remove": stale, "admin_token_form": form,
            "owner": None if req["_root"] else str(req["_uid"]),
            "changed": bool(write or stale)}


def plan_deploy(req, stage1, facts, pulled, admin_token_state="differs", check_mode=False):
    """Stage 2: given the pulled images, decide what changes and how to carry it out (and undo it).

    ``admin_token_state`` is judged on the controller: matches (the host's secret still verifies the token) or differs.
    """
    image = stage1["image"]
    container = current_deployment(req, facts)
    check_owned(req, facts)
    record = _record(facts)
    current = record.get("current") or {}
    images = facts.get("images") or {}

    # The image to run: what the pull gave, or what already runs for a pinned release.
    if stage1["runs_current"]:
        target = images.get(current["image_id"]) or {}
        target_id = current["image_id"]
        pulled_now = False
    else:
        target, pulled_now = _pulled_image(pulled, image.get("pull_ref") or image["ref"])
        target = target or {}
        target_id = target.get("Id") or ""
    unknown_image = not target_id or (check_mode and pulled_now)
    if target_id and not unknown_image:
        _check_platform(image["ref"], stage1["platform"], target)
    new_version = _image_version(target, image["version"]) if target_id and not unknown_image else image["version"]
    image_change = container is None or unknown_image or container.get("image") != target_id
    if image_change and image["channel"] != catalogue.PINNED and not unknown_image:
        judge_downgrade(req, stage1["previous_version"], new_version, "%s now points to it" % image["channel"])
    from_files = _settings_from_files(new_version or image["version"])
    secrets = _secrets_plan(req, facts, new_version, admin_token_state)

    # What the container is created from: what it was created from while that still runs, else what was pulled (by
    # digest for a fleet release: the tag on the host may point elsewhere).
    running_ref = (current.get("spec") or {}).get("image") or current.get("ref")
    image_ref = running_ref if stage1["runs_current"] and running_ref else image.get("pull_ref") or image["ref"]
    literal = _image_literal_platform(target) if target_id and not unknown_image else image["platform"]
    vw = vaultwarden_spec(req, stage1, image_ref, literal, new_version, secrets["files"], from_files)

    db = None
    if stage1["database_image"] is not None:
        dbi = stage1["database_image"]
        db_container = (facts.get("containers") or {}).get(req["_database_container_name"]) or {}
        db_target = _pulled_image(pulled, dbi["ref"])[0]
        if db_target is None:      # not pulled: it already runs
            db_target_id = (record.get("database") or {}).get("image_id") or db_container.get("image") or ""
            db_literal = (record.get("database") or {}).get("platform_literal") or dbi["platform"]
        else:
            db_target_id = db_target.get("Id") or ""
            if db_target_id:
                _check_platform(dbi["ref"], stage1["platform"], db_target)
            db_literal = _image_literal_platform(db_target) if db_target_id else dbi["platform"]
        db = database_spec(req, stage1, dbi["ref"], db_literal)
        db_changed = not (db_container.get("exists") and db_container.get("image") == db_target_id
                          and db_container.get("running")
                          and (db_container.get("labels") or {}).get(LABELS["spec"]) == db["labels"][LABELS["spec"]])
        db = dict(db, image_id=db_target_id, platform_literal=db_literal, apply=db_changed)
    # A (re)created database container gets its directories and secrets handed to its user first: a fresh directory
    # is root's, and one a root container ran on may hold files of other owners (the migration to the image's user).
    db_secrets = any(name in secrets["write"] for name, spec in secrets["files"].items()
                     if "database" in spec["consumers"])
    db_ownership = database_ownership(req, db["user"], db["image"]) if db and (db["apply"] or db_secrets) else None
    db_migrates = bool(db and db["apply"] and db_container.get("exists"))

    # A new container user gets the whole data directory (an existing deployment's files are root's).
    owned = facts.get("ownership") or {}
    ownership = ({"path": req["vaultwarden_data_dir"], "owner": str(req["_uid"]), "group": str(req["_gid"])}
                 if owned.get("exists") and owned.get("mismatched") else None)
    secrets_for_vw = any(name in secrets["write"] for name, spec in secrets["files"].items()
                         if "vaultwarden" in spec["consumers"])
    resume = resume_rollback(req, facts, record)
    vw_ok = (resume is None and not image_change and container.get("running") and not container.get("restarting")
             and (container.get("labels") or {}).get(LABELS["spec"]) == vw["labels"][LABELS["spec"]]
             and not secrets_for_vw and ownership is None)
    config_change = not image_change and not vw_ok
    proxy = _proxy_deploy(req, stage1, facts, pulled, record)
    first = container is None and not current
    secrets["run"] = secrets["changed"] or (not vw_ok and bool(vw["env_from_secrets"]))
    leftovers = _dump_leftovers(req, facts)
    changed = (not vw_ok or secrets["changed"] or bool(db and db["apply"]) or ownership is not None
               or bool(leftovers) or resume is not None or bool(proxy and proxy["container"]["apply"]))

    new_record = {
        "format": RECORD_FORMAT,
        "current": {"version": new_version, "tag": image["tag"], "ref": image["ref"], "channel": image["channel"],
                    "platform": stage1["platform"], "platform_literal": literal, "image_id": target_id,
                    "repo_digests": list(target.get("RepoDigests") or current.get("repo_digests") or []),
                    "release_digest": (image.get("release_digest") or (current.get("release_digest")
                                                                       if stage1["runs_current"] else None)),
                    "database": req["_backend"], "spec": vw},
        "previous": current if (current and current.get("image_id") != target_id) else record.get("previous"),
        "database": ({"ref": stage1["database_image"]["ref"], "image_id": db["image_id"],
                      "platform_literal": db["platform_literal"], "spec": db} if db else None),
    }
    if proxy is not None:
        new_record["proxy"] = {"ref": proxy["container"]["image"], "image_id": proxy["container"]["image_id"],
                               "spec": proxy["container"]}
    write_record = not (check_mode and unknown_image) and (changed or _record_view(record) != _record_view(new_record))

    backup = None
    # Back up before the image or a container changes (a changed setting can crash-loop a server as well, and a
    # database container that changes - a new image, a new user - is backed up from the one that still runs).
    # The data is backed up whenever it exists, also when the container is gone (removed by hand, or a run killed
    # in the middle of a rollback): the record then still names the healthy deployment to return to.
    if (not vw_ok or db_migrates) and (container is not None or _data_present(facts)):
        # The backup runs before the database task: only a database container that runs now can be dumped (a
        # missing one is created afterwards from its data directory, which stays where it is).
        db_found = ((facts.get("containers") or {}).get(req["_database_container_name"]) or {}) if req[
            "_database_managed"] else {}
        # A managed database that was stopped (by hand, by a crash) is started again for the dump: it is the role's.
        db_start = bool(db_found.get("exists") and not db_found.get("running"))
        db_running = bool(db_found.get("running")) or db_start
        backup = {
            "data_dir": req["vaultwarden_data_dir"],
            "backup_dir": req["vaultwarden_backup_dir"],
            "label": "%s-to-%s" % (current.get("version") or stage1["previous_version"] or "none",
                                   new_version or image["tag"]),
            "database": req["_backend"],
            "retention": req["vaultwarden_backup_retention"],
            "dump": (DATABASE_SERVERS[req["vaultwarden_database_server"]]["dump"].format(
                name=req["vaultwarden_database_name"], user=req["vaultwarden_database_user"],
                secrets=DB_SECRETS_PATH, dumps=DB_DUMPS_PATH) if req["_database_managed"] else None),
            "dump_container": req["_database_container_name"] if db_running else None,
            "start_database": req["_database_container_name"] if db_start else None,
            "extra_files": [req["_dump_dir"] + "/vaultwarden.sql"] if db_running else [],
            "external_database_note": (
                "vaultwarden uses the external database of vaultwarden_database_url: back it up yourself before this "
                "change; the role backed up %s (attachments, sends, keys, config) only." % req["vaultwarden_data_dir"]
                if req["vaultwarden_database_url"] else None),
        }
        # What the vault holds, to check the new server reads it back (it may answer /alive and read nothing).
        backup["vault"] = None
        if image_change and not req["vaultwarden_database_url"]:
            # After the change the live database must hold at least as much (a migration may drop rows).
            backup["vault"] = {"source": "sqlite", "command": None,
                               "sqlite_path": req["vaultwarden_data_dir"].rstrip("/") + "/" + SQLITE_DEFAULT_NAME}
            if req["_database_managed"]:
                server = DATABASE_SERVERS[req["vaultwarden_database_server"]]
                backup["vault"] = {"source": "query", "container": req["_database_container_name"], "sqlite_path": None,
                                   "command": "; ".join(
                    server["query"].format(name=req["vaultwarden_database_name"], user=req["vaultwarden_database_user"],
                                           secrets=DB_SECRETS_PATH, sql=sql) for sql in (SUMMARY_QUERY, KNOWN_USER_QUERY))}
        if req["_database_managed"] and not db_running:
            raise PlanError("managed database", req["_database_container_name"], "the container is gone, so the backup "
                            "before this change could not hold the vault's database (its files are still in %s)"
                            % req["vaultwarden_database_data_dir"],
                            "Run the role once with the release that runs now (vaultwarden_version: %s): that recreates "
                            "the database container from its files without changing vaultwarden; then run this change "
                            "again." % (current.get("version") or stage1["previous_version"] or "the running one"))

    rollback = None
    if req["vaultwarden_rollback"] and backup is not None:
        rollback = rollback_target(req, record, stage1["engine"])
        if rollback is not None:
            # Restored files are the restorer's: hand them to the user of the container that comes back.
            back_user = rollback["spec"].get("user") or "0:0"
            rollback["ownership"] = {"path": req["vaultwarden_data_dir"], "owner": back_user.split(":")[0],
                                     "group": (back_user.split(":") + [back_user.split(":")[0]])[1]}
            rollback["health"] = {"url": _health_url(req), "container": req["vaultwarden_container_name"],
                                  "timeout": req["vaultwarden_health_timeout"],
                                  "database_container": (req["_database_container_name"] if req["_database_managed"]
                                                         else None)}
            rollback["restore_dump"] = _restore_dump(req) if backup["dump_container"] else None
            rollback["journal"] = req["_rollback_journal"]
            rollback["database"] = _database_rollback(req, record, stage1["engine"]) if db_migrates else None
            # The failed containers go first: the data is restored under neither.
            rollback["remove"] = [req["vaultwarden_container_name"]] + (
                [req["_database_container_name"]] if rollback["database"] else [])

    # Check mode on a host without the private network yet: the container module would fail looking for it, so the
    # containers that join it are reported as changes instead of being asked about.
    network_exists = bool(((facts.get("networks") or {}).get(req["vaultwarden_network_name"]) or {}).get("exists"))
    preview = bool(check_mode and ((req["_database_managed"] and not network_exists)
                                   or (proxy is not None and not proxy["network"]["exists"])))
    if proxy is not None:
        proxy["container"]["preview"] = preview

    health = None
    if not vw_ok:
        # The gate waits for a managed database that is still starting before it judges vaultwarden.
        health = {"url": _health_url(req), "container": req["vaultwarden_container_name"],
                  "timeout": req["vaultwarden_health_timeout"],
                  "database_container": req["_database_container_name"] if req["_database_managed"] else None}

    return {
        "stage": "deploy",
        "changed": changed,
        "first_deployment": first,
        "image_change": image_change,
        "config_change": config_change,
        "unknown_image": unknown_image,
        "new_version": new_version,
        "previous_version": current.get("version") or stage1["previous_version"],
        "settings_from_files": from_files,
        "directories": _directories(req) + https.directories(req),
        "ownership": ownership,
        "secrets": secrets,
        "network": ({"name": req["vaultwarden_network_name"], "internal": True,
                     "labels": {LABELS["owner"]: req["vaultwarden_container_name"]}, "exists": network_exists}
                    if req["_database_managed"] else None),
        "database": dict(db, preview=preview) if db else db,
        "database_ownership": db_ownership,
        "proxy": proxy,
        "vaultwarden": dict(vw, apply=not vw_ok, preview=preview),
        "leftovers": leftovers,
        "resume": resume,
        "backup": backup,
        "health": health,
        "record": new_record,
        "record_path": req["_record_path"],
        "write_record": write_record,
        # Whether change.yml runs at all: something changes, or only the record is rewritten.
        "act": bool(changed or write_record),
        "rollback": rollback,
        # The release this host runs after the change, for the run's later hosts to follow (fleet.merged_releases).
        "release": fleet.published_release(
            image["ref"], image.get("release_digest"),
            current.get("release_digest") if stage1["runs_current"] else None,
            ((facts.get("distribution") or {}).get(image["ref"]) or {}).get("digest") if stage1["runs_current"] else None,
            target.get("RepoDigests")) if target_id and not unknown_image else {},
        "messages": _messages(req, image, new_version, current, rollback, container),
        # Another run of the same deployment waits this long; a lease outlives a killed run by stale_after.
        "lock": {"path": req["_lock_path"], "timeout": 300, "stale_after": 3600},
        "warnings": _deploy_warnings(req, stage1, from_files, secrets, new_version),
    }


def _restore_dump(req):
    """Loading a backup's dump of the managed database (its file put where the database container reads it)."""
    return {"container": req["_database_container_name"], "file": req["_dump_dir"] + "/restore.sql",
            "command": DATABASE_SERVERS[req["vaultwarden_database_server"]]["restore"].format(
                name=req["vaultwarden_database_name"], user=req["vaultwarden_database_user"],
                secrets=DB_SECRETS_PATH, dumps=DB_DUMPS_PATH)}


def resume_rollback(req, facts, record):
    """A rollback an earlier run began and did not finish (killed, rebooted): the data may still be what the failed
    release left (a migrated schema), so it is restored from the backup that rollback was restoring before anything
    else; the deployment it went back to is the record's current one, which the rest of the plan judges as usual."""
    pending = facts.get("rollback_pending")
    if not pending:
        return None
    back_user = (((record.get("current") or {}).get("spec") or {}).get("user") or "%s:%s" % (req["_uid"], req["_gid"]))
    owner = back_user.split(":")
    with_dump = bool(req["_database_managed"])
    return {
        "backup_path": pending,
        "data_dir": req["vaultwarden_data_dir"],
        "journal": req["_rollback_journal"],
        "remove": [req["vaultwarden_container_name"]],
        "ownership": {"path": req["vaultwarden_data_dir"], "owner": owner[0], "group": (owner + [owner[0]])[1]},
        "restore_dump": _restore_dump(req) if with_dump else None,
        "database_container": req["_database_container_name"] if with_dump else None,
    }


def _proxy_deploy(req, stage1, facts, pulled, record):
    """The HTTPS proxy (https.proxy_plan) with the image it runs and whether its container changes."""
    proxy_image = stage1.get("proxy_image")
    if proxy_image is None:
        return None
    found = (facts.get("containers") or {}).get(req["_proxy_container_name"]) or {}
    target = _pulled_image(pulled, proxy_image["ref"])[0]
    if target is None:      # not pulled: the recorded image still runs
        target_id = (record.get("proxy") or {}).get("image_id") or found.get("image") or ""
        literal = proxy_image["platform"]
    else:
        target_id = target.get("Id") or ""
        if target_id:
            _check_platform(proxy_image["ref"], stage1["platform"], target)
        literal = _image_literal_platform(target) if target_id else proxy_image["platform"]
    labels = {LABELS["owner"]: req["vaultwarden_container_name"], LABELS["role"]: "proxy"}
    plan = https.proxy_plan(req, proxy_image["ref"], literal, stage1["engine"]["platform_on_create"], labels,
                            certificate_digest=req.get("_certificate_digest") or "")
    spec = _with_digest(plan["container"])
    apply = not (found.get("exists") and found.get("running") and found.get("image") == target_id
                 and (found.get("labels") or {}).get(LABELS["spec"]) == spec["labels"][LABELS["spec"]])
    network_exists = bool(((facts.get("networks") or {}).get(req["_proxy_network_name"]) or {}).get("exists"))
    plan["container"] = dict(spec, image_id=target_id, apply=apply)
    plan["network"]["exists"] = network_exists
    return plan


def _deploy_warnings(req, stage1, from_files, secrets, new_version):
    warnings = list(stage1["warnings"])
    if ipaddress.ip_address(req["vaultwarden_bind_address"]).is_unspecified:
        warnings.append("vaultwarden_bind_address %s publishes the vault on every interface of this host "
                        "(vaultwarden_bind_all_interfaces: true); make sure a firewall or a TLS reverse proxy is in "
                        "front of it" % req["vaultwarden_bind_address"])
    if req["_root"]:
        warnings.append("vaultwarden_user: root runs the server as root with the capabilities a root server needs; the "
                        "default 10001:10001 runs it without any capability")
    if secrets["files"] and not from_files:
        warnings.append("vaultwarden %s reads no <NAME>_FILE settings (they came with 1.18.0): its secrets are passed in "
                        "the environment and visible to anyone who can inspect containers" % new_version)
    return warnings


def _messages(req, image, new_version, current, rollback, container):
    """The texts of a failed change; the failure itself is added at run time."""
    shown = "%s (%s)" % (image["ref"], new_version or image["tag"])
    if rollback is not None:
        rolled_back = ("The previous deployment %s (%s) runs again with the data restored from"
                       % (rollback["ref"], rollback["version"]))
    else:
        rolled_back = ""
    if not req["vaultwarden_rollback"]:
        why = "Rollback is disabled (vaultwarden_rollback: false): the failed container was left as it is."
    elif not current:
        why = "Nothing to roll back to: no healthy deployment of this role is recorded on this host."
    elif not current.get("spec"):
        why = ("No rollback was possible: the deployment record %s predates the planner and holds no container spec."
               % req["_record_path"])
    else:
        why = "No rollback was possible: the change failed before the backup was taken, so nothing was replaced."
    return {
        "failed": "%s failed:" % shown,
        "rolled_back": rolled_back,
        "next": "Pin vaultwarden_version to %s or fix the new release before the next run." % (
            (rollback or {}).get("version") or "the previous release"),
        "not_rolled_back": why,
    }


def skip_unmoved_pulls(pulls, facts, distribution):
    """Check mode: a moving tag whose registry digest is the running image's needs no pull to know it is unchanged."""
    running = set()
    images = facts.get("images") or {}
    for container in (facts.get("containers") or {}).values():
        if container.get("exists"):
            running.update((images.get(container.get("image")) or {}).get("RepoDigests") or [])
    result = []
    for pull in pulls:
        if pull["pull"] == "always" and _unmoved(pull["ref"], running, distribution):
            pull = dict(pull, pull="not_present")
        result.append(pull)
    return result


def _data_present(facts):
    """The data directory exists and holds something (facts of older modules: exists is taken as data)."""
    data = facts.get("ownership") or {}
    return bool(data.get("exists")) and not data.get("empty", False)


# Files the role writes in dumps/: a killed dump leaves *.sql.tmp, a killed backup vaultwarden.sql, a killed rollback
# restore.sql. Each holds the whole vault in plain SQL; a run that finds them removes them before it dumps again.
_DUMP_LEFTOVERS = re.compile(r"^(?:restore\.sql|vaultwarden\.sql|.*\.sql\.tmp)$")


def _dump_leftovers(req, facts):
    found = (facts.get("dumps") or {}).get("files") or []
    return sorted(req["_dump_dir"] + "/" + name for name in found
                  if isinstance(name, str) and "/" not in name and _DUMP_LEFTOVERS.match(name))


def _record_view(record):
    """What of a record matters for 'did anything change' (the spec digests, not their bodies)."""
    current = (record or {}).get("current") or {}
    db = (record or {}).get("database") or {}
    return {"format": (record or {}).get("format"), "version": current.get("version"), "tag": current.get("tag"),
            "ref": current.get("ref"), "image_id": current.get("image_id"),
            "spec": ((current.get("spec") or {}).get("labels") or {}).get(LABELS["spec"]),
            "db": db.get("image_id"), "db_spec": ((db.get("spec") or {}).get("labels") or {}).get(LABELS["spec"])}


def _directories(req):
    owner, group = (None, None) if req["_root"] else (str(req["_uid"]), str(req["_gid"]))
    dirs = [{"path": req["vaultwarden_base_dir"], "mode": "0755", "owner": None, "group": None},
            {"path": req["vaultwarden_data_dir"], "mode": "0700", "owner": owner, "group": group},
            {"path": req["vaultwarden_backup_dir"], "mode": "0700", "owner": None, "group": None}]
    if req["_database_managed"]:
        dirs.append({"path": req["vaultwarden_database_data_dir"], "mode": "0700", "owner": None, "group": None})
        dirs.append({"path": req["_dump_dir"], "mode": "0700", "owner": None, "group": None})
    return dirs


def _platform_for_engine(spec, engine):
    """A recorded spec's `platform` checked again against this engine: dropped (as for a fresh deploy) below API 1.41."""
    if spec.get("platform") and not engine.get("platform_on_create"):
        return _with_digest(dict(spec, platform=None))
    return spec


def rollback_target(req, record, engine):
    """Where a failed change returns to: the last healthy deployment of the record, by digest when known.

    The record may come from another engine (Docker was downgraded, the data moved hosts): its `platform` is only kept
    where this engine takes `platform` on create, as for a fresh deploy.
    """
    current = (record or {}).get("current") or {}
    if not current.get("spec"):
        return None
    spec = _platform_for_engine(dict(current["spec"]), engine)
    digests = [d for d in current.get("repo_digests") or [] if "@" in d]
    ref = current.get("ref") or spec.get("image")
    repository = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    # The engine records Docker Hub digests without the registry host (vaultwarden/server@sha256:...).
    by_digest = next((d for d in digests if d.split("@", 1)[0] in (repository, repository.split("/", 1)[-1])), None)
    if by_digest:
        # A moving tag may point elsewhere now: the image is found again by its digest (or its ID, still on the host).
        spec["image"] = "%s@%s" % (repository, by_digest.split("@", 1)[1])
    return {"spec": spec, "image_id": current.get("image_id"), "version": current.get("version"), "ref": ref}


def _database_rollback(req, record, engine):
    """The database container a failed change returns to, with its directories handed back to its user.

    A root container of the previous deployment needs no ownership job: its entrypoint owns the data itself as root.
    None when the record holds no database spec (the container that runs now stays).
    """
    previous = (record or {}).get("database") or {}
    if not previous.get("spec"):
        return None
    spec = _platform_for_engine(dict(previous["spec"]), engine)
    if previous.get("image_id"):
        # The recorded image by its ID: the reference may point elsewhere by now.
        spec = dict(spec, image=previous["image_id"])
    return {"spec": spec, "ownership": database_ownership(req, spec.get("user"), spec["image"])}


def plan_absent(req, facts):
    """What state=absent removes; only containers and the network that carry this deployment's owner label."""
    owner = req["vaultwarden_container_name"]
    containers = []
    for name in (owner, req["_database_container_name"], req["_proxy_container_name"]):
        found = (facts.get("containers") or {}).get(name) or {}
        if not found.get("exists"):
            continue
        if _foreign(found, owner):
            raise PlanError("vaultwarden_container_name", name, "a container of that name exists but was not created by "
                            "this role (no %s=%s label); state=absent removes only what the role created"
                            % (LABELS["owner"], owner),
                            "Remove that container yourself, or pick the vaultwarden_container_name of the deployment.")
        containers.append(name)
    network = req["vaultwarden_network_name"]
    found = (facts.get("networks") or {}).get(network)
    if found is None or not found.get("exists"):
        network = None     # nothing to remove (or not looked at: never removed unseen)
    elif _foreign(found, owner):
        raise PlanError("vaultwarden_network_name", network, "a network of that name exists but was not created by "
                        "this role (no %s=%s label); state=absent removes only what the role created"
                        % (LABELS["owner"], owner),
                        "Remove that network yourself (docker network rm %s), or set vaultwarden_network_name to the "
                        "deployment's network." % network)
    proxy_network = (facts.get("networks") or {}).get(req["_proxy_network_name"]) or {}
    engine = podman_engine.choose(req["vaultwarden_engine"], facts.get("engine"), facts.get("podman"))[0] or "docker"
    return {
        "stage": "absent",
        "engine": engine,
        # Podman: where its API listens, and the units written beside the containers (all of this deployment's names).
        "podman_host": req["vaultwarden_podman_socket"],
        "units": podman_engine.unit_paths(req["vaultwarden_podman_unit_dir"], [owner, req["_database_container_name"]])
        if engine == "podman" else [],
        "containers": containers,
        "network": network,
        "networks": [n for n in (network, req["_proxy_network_name"] if proxy_network.get("exists")
                                 and not _foreign(proxy_network, owner) else None) if n],
        "purge": [req["vaultwarden_base_dir"]] if req["vaultwarden_purge_data"] else [],
        "changed": (bool(containers) or network is not None or bool(proxy_network.get("exists"))
                    or req["vaultwarden_purge_data"]),
    }
