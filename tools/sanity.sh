#!/usr/bin/env bash
# Run `ansible-test sanity` on a copy of the tracked and new (not ignored) files, laid out as
# ansible_collections/homelab/vaultwarden as ansible-test requires.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"  # the copy lives outside the checkout: ansible-test skips files git ignores
dest="${TMPDIR:-/tmp}/homelab-vaultwarden-sanity/ansible_collections/homelab/vaultwarden"
rm -rf "$(dirname "$(dirname "$dest")")"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$dest" -xf -
# The collection's dependency, beside it (documentation fragments and module_utils of community.docker).
docker_collection="$(python3 -c 'import ansible_collections.community.docker as m; print(list(m.__path__)[0])')"
mkdir -p "$(dirname "$dest")/../community"
ln -sfn "$docker_collection" "$(dirname "$dest")/../community/docker"
# ansible-test bootstraps pip in its virtual environments with a script from a host CI cannot reach.
pip_version="$(python3 - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$get_pip")"
cp "$root/tools/ansible-test-get-pip.py" "$get_pip"
cd "$dest"
python_version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
exec ansible-test sanity --color no --python "$python_version" --requirements "$@"
