#!/usr/bin/env bash
# Run molecule scenarios one after another (`molecule test -s NAME`), each
# whatever the one before did, and print each one's time and result at the
# end; fails when any failed.
#   scripts/molecule-timed.sh default ha swarm
set -uo pipefail
times=()
status=0
for name in "$@"; do
  start=$SECONDS
  molecule test -s "$name"
  rc=$?
  took=$((SECONDS - start))
  times+=("$(printf '  %-8s %3d min %02d s  %s' "$name" $((took / 60)) $((took % 60)) \
    "$([ $rc -eq 0 ] && echo passed || echo FAILED)")")
  [ $rc -eq 0 ] || status=$rc
done
echo
echo "Scenario times:"
printf '%s\n' "${times[@]}"
exit $status
