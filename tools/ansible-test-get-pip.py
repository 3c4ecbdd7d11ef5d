# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the pip bootstrap script ansible-test downloads from ci-files.testing.ansible.com.

That host is not reachable from our CI machines, but PyPI is. ansible-test runs this file in a fresh
virtual environment with pip's install arguments (for example ``pip==24.2 --no-setuptools --no-wheel``):
bootstrap the interpreter's bundled pip with ensurepip, then let it install the requested pip from PyPI.
tools/sanity.sh puts this file where ansible-test looks for its cached copy.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    # ensurepip points PIP_CONFIG_FILE at /dev/null in os.environ; the real install must see pip.conf (CA bundle).
    environment = dict(os.environ)
    ensurepip.bootstrap(upgrade=False, default_pip=False)
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=environment))


if __name__ == "__main__":
    main()
