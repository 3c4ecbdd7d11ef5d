# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad arguments of the filters and bad module parameters: each refusal names the value, the reason and the fix.

The role variables have their own table (tests/unit/plugins/module_utils/test_planner.py REFUSALS, and the -e
strings in tests/unit/plugins/action/test_vaultwarden_plan.py); this one covers what playbooks call directly.
"""

import pytest

from ansible_collections.homelab.vaultwarden.plugins.filter.argon2_hash import argon2_hash
from ansible_collections.homelab.vaultwarden.plugins.filter.database_image import database_image
from ansible_collections.homelab.vaultwarden.plugins.filter.image_platform import image_platform
from ansible_collections.homelab.vaultwarden.plugins.filter.image_tag_info import image_tag_info
from ansible_collections.homelab.vaultwarden.plugins.filter.vaultwarden_image import vaultwarden_image
from ansible_collections.homelab.vaultwarden.plugins.module_utils import backup

# (what is called, the call, the value shown, the reason, the fix)
REFUSALS = [
    ("vaultwarden_image version", lambda: vaultwarden_image("linux/amd64", "v1.30.0"),
     "'v1.30.0'", "no 'v' prefix", "use '1.30.0'"),
    ("vaultwarden_image database", lambda: vaultwarden_image("linux/amd64", database="mongodb"),
     "'mongodb'", "not supported", "use one of mariadb"),
    ("vaultwarden_image platform", lambda: vaultwarden_image("sparc"),
     "'sparc'", "not an architecture name", "such as linux/amd64"),
    ("vaultwarden_image registry", lambda: vaultwarden_image("linux/amd64", registry="https://ghcr.io/"),
     "'https://ghcr.io/'", "give the host only", "'ghcr.io'"),
    ("image_tag_info tag", lambda: image_tag_info("v1.2.3"), "'v1.2.3'", "no 'v' prefix", "use '1.2.3'"),
    ("database_image engine", lambda: database_image("linux/amd64", "oracle", "1"),
     "'oracle'", "is unknown", "use one of mariadb, mysql"),
    ("argon2_hash empty token", lambda: argon2_hash(""), "an empty string", "non-empty string",
     "openssl rand -base64 48"),
    ("argon2_hash short token", lambda: argon2_hash("short"), "5 characters long", "requires at least 8",
     "openssl rand -base64 48"),
    ("argon2_hash preset", lambda: argon2_hash("x" * 20, preset="fast"), "'fast'", "is unknown",
     "use one of bitwarden, owasp"),
    ("image_platform input", lambda: image_platform("x"), "got str", "inspect data of one image",
     "docker_image_info"),
    ("image_platform keys", lambda: image_platform({"Os": "linux"}), "(keys: Os)", "has no Architecture",
     "pass one entry of the images list"),
    ("vaultwarden_backup mode", lambda: backup.parse_mode("0777"), "'0777'", "gives the group or others access",
     "0700"),
    ("vaultwarden_backup retention", lambda: backup.validate_retention("retention", -1), "retention -1",
     "must be 0", "keep every one"),
    ("vaultwarden_backup label", lambda: backup.validate_label("a/b"), "'a/b'", "cannot be part of a directory name",
     "e.g. '1.32.0-to-1.35.1'"),
    ("vaultwarden_backup database", lambda: backup.validate_database("oracle"), "'oracle'", "not supported",
     "use one of sqlite, mysql, postgresql"),
    ("vaultwarden_backup backup_dir inside data_dir", lambda: backup.check_backup_dir("/srv/d", "/srv/d/b"),
     "/srv/d/b", "inside data_dir /srv/d", "e.g. /srv/d-backups"),
    ("vaultwarden_backup backup_dir shared", lambda: backup.check_backup_dir("/srv/d", "/tmp"),
     "backup_dir /tmp", "shared by other users", "/tmp/vaultwarden-backups"),
]


@pytest.mark.parametrize("what, call, value, why, fix", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_filter_and_module_refusals_name_value_reason_and_fix(what, call, value, why, fix):
    with pytest.raises(Exception) as caught:
        call()
    assert isinstance(caught.value, ValueError) or type(caught.value).__name__.startswith("Ansible")
    message = str(caught.value)
    for fragment in (value, why, fix):
        assert fragment in message, (fragment, message)
