#!/usr/bin/env bash
# The whole test suite, stage by stage, with wall times, and the total against the budget (docs/testing.md).
# Every stage runs even if an earlier one failed; the exit code is non-zero if any stage failed. Called by
# `make test`. The first two stages install what is missing (tools/bootstrap.sh) and build the offline world.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PYTHON="${PYTHON:-python3}"
# The programs pip installs (molecule, ansible-lint, ansible-test) live beside that Python; a pyenv or user install
# may not have them on PATH (pyenv's shims need a rehash after pip installs), so put that directory first.
PATH="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))' </dev/null):$PATH"
export PATH
SCENARIOS="${SCENARIOS:-default updates legacy}"
# The whole suite on a fresh 2-core machine (cold world included) must fit in this many minutes (CI allows 90).
BUDGET_MINUTES="${VW_TEST_BUDGET_MINUTES:-45}"
declare -a summary=()
declare -a failures=()
passed=0; failed=0
# Each stage's output is kept so that the summary can repeat what failed: CI shows only the end of the log.
logdir=$(mktemp -d "${TMPDIR:-/tmp}/homelab-vw-test-all.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
suite_start=$(date +%s)

duration() {  # 754 -> 12m34s
    local s=$1
    if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# Ansible refuses to run when stdin/stdout/stderr are non-blocking, and the O_NONBLOCK flag is shared by every
# process holding the same terminal, pipe or CI log. Each stage therefore gets its own /dev/null as stdin, and
# tools/blocking-stdio puts the shared stdout/stderr back into blocking mode first, saying so when they were not.
stage() {
    local name="$1"; shift
    local start rc
    start=$(date +%s)
    printf '\n===== stage %s: %s\n' "$name" "$*"
    tools/blocking-stdio true </dev/null
    "$@" </dev/null 2>&1 | tee "$logdir/$name.log"; rc=${PIPESTATUS[0]}
    local secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); summary+=("PASS  $(printf '%7s' "$(duration "$secs")")  $name")
    else
        failed=$((failed + 1)); summary+=("FAIL  $(printf '%7s' "$(duration "$secs")")  $name (exit $rc)")
        failures+=("--- $name: $(failure_lines "$logdir/$name.log")")
    fi
}

# What a failed stage said: pytest's FAILED/ERROR lines, Ansible's failed tasks, Molecule's errors, else the last lines.
failure_lines() {
    local found
    found=$(grep -E '^(FAILED|ERROR) |^E   |fatal: \[|failed: \[|CRITICAL|^ERROR' "$1" | cut -c1-400 | head -n 25)
    [ -n "$found" ] || found=$(tail -n 15 "$1" | cut -c1-400)
    printf '\n%s' "$found"
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

stage bootstrap bash tools/bootstrap.sh
stage world-build "$PYTHON" -m tools.world build
stage unit pytest_dir tests/unit -q -n 2
# The tests that snapshot the whole engine first, alone; then the rest two files at a time (each file's deployments
# share ports, so a file stays on one worker; the tests of `latest` take the moving-tags lock).
functional() {
    "$PYTHON" -m pytest tests/functional -q --ignore=tests/functional/test_faults.py -m engine_snapshot || return
    "$PYTHON" -m pytest tests/functional -q --ignore=tests/functional/test_faults.py -m "not engine_snapshot" \
        -n 2 --dist loadfile
}
stage functional functional
# Alone (the functional stage snapshots the whole engine), two cases at a time: each only looks at its own.
stage faults pytest_dir tests/functional/test_faults.py -q -n 2
stage ansible-lint ansible-lint --profile production
stage sanity bash tools/sanity.sh
stage world pytest_dir tests/world -q -n 2
# default and legacy share nothing (their own hosts, ports, base dirs and image references; neither moves a tag), so
# they run at once (measured: 9 min 30 s together against 18 min 46 s one after the other); updates moves `latest`,
# which default deploys, so it runs on its own, after them.
TOGETHER="${MOLECULE_TOGETHER:-default legacy}"
molecule_together() {
    local s rc=0
    local -a pids=()
    for s in "$@"; do
        molecule test -s "$s" </dev/null >"$logdir/molecule-$s.out" 2>&1 &
        pids+=("$!")
    done
    local -a verdicts=()
    local i=0 code
    for s in "$@"; do
        code=0
        wait "${pids[$i]}" || code=$?
        if [ "$code" -eq 0 ]; then verdicts+=("passed molecule $s"); else verdicts+=("FAILED molecule $s (exit $code)"); rc=1; fi
        i=$((i + 1))
    done
    # The verdicts first: the summary's "what failed" quotes the first FAILED lines of the stage's log.
    printf '%s\n' "${verdicts[@]}"
    for s in "$@"; do
        printf '\n----- molecule %s\n' "$s"
        cat "$logdir/molecule-$s.out"
    done
    return "$rc"
}
declare -a together=() alone=()
for s in $SCENARIOS; do
    [ -d "extensions/molecule/$s" ] || continue
    case " $TOGETHER " in
        *" $s "*) together+=("$s") ;;
        *) alone+=("$s") ;;
    esac
done
if [ "${#together[@]}" -gt 1 ]; then
    stage "molecule-$(IFS=+; echo "${together[*]}")" molecule_together "${together[@]}"
else
    alone=("${together[@]}" "${alone[@]}")
fi
for s in "${alone[@]}"; do
    stage "molecule-$s" molecule test -s "$s"
done

total=$(( $(date +%s) - suite_start ))
budget=$(( BUDGET_MINUTES * 60 ))
printf '\n===== summary\n'
printf '%s\n' "${summary[@]}"
echo "stages: ${passed} passed, ${failed} failed"
if [ "${#failures[@]}" -gt 0 ]; then
    printf '\n===== what failed\n'
    printf '%s\n' "${failures[@]}"
fi
"$PYTHON" -m tools.world timings </dev/null 2>/dev/null
if [ "$total" -le "$budget" ]; then
    echo "total $(duration "$total") of the $(duration "$budget") budget: within, $(duration $((budget - total))) to spare"
else
    echo "total $(duration "$total") of the $(duration "$budget") budget: OVER BUDGET by $(duration $((total - budget)))"
fi
[ "$failed" -eq 0 ]
