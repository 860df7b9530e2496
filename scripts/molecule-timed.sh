#!/usr/bin/env bash
# Run molecule scenarios one after another (`molecule test -s NAME`), each
# whatever the one before did, and print each one's time and result at the
# end; fails when any failed. Each scenario's output is also kept in
# .cache/logs/NAME.log, and for a failed one the failing tests and tasks are
# printed again at the end, where a truncated CI log still shows them. Then,
# per scenario, the tests whose Ansible runs took longest (the verify step's
# run log, kept as .cache/logs/NAME-ansible-runs.tsv).
#   scripts/molecule-timed.sh default ha swarm
set -uo pipefail
mkdir -p .cache/logs
times=()
failed=()
status=0
for name in "$@"; do
  start=$SECONDS
  molecule test -s "$name" 2>&1 | tee ".cache/logs/$name.log"
  rc=${PIPESTATUS[0]}
  took=$((SECONDS - start))
  # The verify step's Ansible runs, per test (tests/labkit.py writes them).
  [ -f .cache/logs/ansible-runs.tsv ] && mv .cache/logs/ansible-runs.tsv ".cache/logs/$name-ansible-runs.tsv"
  times+=("$(printf '  %-8s %3d min %02d s  %s' "$name" $((took / 60)) $((took % 60)) \
    "$([ "$rc" -eq 0 ] && echo passed || echo FAILED)")")
  [ "$rc" -eq 0 ] || { status=$rc; failed+=("$name"); }
done
for name in "${failed[@]}"; do
  echo
  echo "What failed in $name (whole output: .cache/logs/$name.log):"
  grep -E '^(FAILED|ERROR) |^E  |fatal: \[|^CRITICAL|^ERROR ' ".cache/logs/$name.log" | cut -c1-400 | tail -n 40
done
echo
echo "Scenario times:"
printf '%s\n' "${times[@]}"
for name in "$@"; do
  [ -f ".cache/logs/$name-ansible-runs.tsv" ] || continue
  echo
  echo "$name: the tests' Ansible runs, slowest tests first (.cache/logs/$name-ansible-runs.tsv):"
  python3 scripts/ansible_runs.py --top 6 ".cache/logs/$name-ansible-runs.tsv"
done
exit "$status"
