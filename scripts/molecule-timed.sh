#!/usr/bin/env bash
# Run molecule scenarios one after another (`molecule test -s NAME`), stop at
# the first that fails, and print each one's time at the end.
#   scripts/molecule-timed.sh default ha swarm
set -uo pipefail
times=()
status=0
for name in "$@"; do
  start=$SECONDS
  molecule test -s "$name"
  status=$?
  took=$((SECONDS - start))
  times+=("$(printf '  %-8s %3d min %02d s  %s' "$name" $((took / 60)) $((took % 60)) \
    "$([ $status -eq 0 ] && echo passed || echo FAILED)")")
  [ $status -eq 0 ] || break
done
echo
echo "Scenario times:"
printf '%s\n' "${times[@]}"
exit $status
