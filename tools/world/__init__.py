# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline test world: a local registry laid out like Docker Hub's vaultwarden repositories.

Run ``python3 -m tools.world --help`` from the checkout; see tools/world/README.md.
"""

from __future__ import annotations
