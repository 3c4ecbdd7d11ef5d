"""Make this checkout importable as ``ansible_collections.homelab.vaultwarden``.

The repository root is the collection root, so tests import the plugins the way
Ansible does: through the ``ansible_collections`` namespace package. A symlink
under ``.cache/collections`` provides that path without copying anything.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "homelab", "vaultwarden")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(ROOT, LINK)
    except FileExistsError:
        pass
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
