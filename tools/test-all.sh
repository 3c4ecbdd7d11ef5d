#!/usr/bin/env bash
# The whole test suite, stage by stage, with wall times. Every stage runs even if an earlier one failed;
# the exit code is non-zero if any stage failed. Called by `make test` (after deps and world).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PYTHON="${PYTHON:-python3}"
SCENARIOS="${SCENARIOS:-default databases updates legacy}"
declare -a summary=()
passed=0; failed=0

# Ansible refuses to run when stdin/stdout/stderr are non-blocking. CI once failed that way at ansible-lint, after
# the unit and functional stages had shared one /dev/null as stdin (something had set O_NONBLOCK on it; not
# reproduced here). Each stage therefore gets its own /dev/null as stdin, and stdout/stderr are put back into
# blocking mode first, saying so when they were not.
blocking_stdio() {
    "$PYTHON" - <<'PY'
import os
for fd in (1, 2):
    try:
        if not os.get_blocking(fd):
            print("test-all: fd %d was left non-blocking by an earlier stage; restored" % fd)
            os.set_blocking(fd, True)
    except OSError:
        pass
PY
}

stage() {
    local name="$1"; shift
    local start rc
    start=$(date +%s)
    printf '\n===== stage %s: %s\n' "$name" "$*"
    blocking_stdio
    "$@" </dev/null; rc=$?
    local secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); summary+=("PASS  ${secs}s  $name")
    else failed=$((failed + 1)); summary+=("FAIL  ${secs}s  $name (exit $rc)"); fi
}

# pytest exits 5 when it collected nothing: acceptable only when the directory really holds no test file.
pytest_dir() {
    local dir="$1"; shift
    "$PYTHON" -m pytest "$dir" "$@"; local rc=$?
    if [ "$rc" -eq 5 ] && [ -z "$(find "$dir" -name 'test_*.py' -print -quit)" ]; then
        echo "no tests in $dir yet"; return 0
    fi
    return "$rc"
}

stage unit pytest_dir tests/unit -q -n 2
stage functional pytest_dir tests/functional -q
stage ansible-lint ansible-lint --profile production
stage sanity bash tools/sanity.sh
stage world pytest_dir tests/world -q
for s in $SCENARIOS; do
    if [ -d "extensions/molecule/$s" ]; then
        stage "molecule-$s" molecule test -s "$s"
    fi
done

printf '\n===== summary\n'
printf '%s\n' "${summary[@]}"
echo "stages: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
