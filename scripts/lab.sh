#!/usr/bin/env bash
# Lab lifecycle on the local Docker engine. The nodes are molecule's `default`
# scenario instances (molecule/default/molecule.yml), so `make lab` and
# `make test` share one definition of the lab.
#   up     create the nodes if missing, converge site.yml, print a summary
#   down   remove the nodes, their volumes and the lab network
#   guard  stop `make test` when a lab from `make lab` is up
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
marker=.cache/lab-up
nodes=$(.venv/bin/python -c 'import yaml,sys; print(" ".join(yaml.safe_load(open("inventory/lab/hosts.yml"))["all"]["children"]["nodes"]["hosts"]))')

summary() {
  echo
  echo "Lab is up. Nodes (docker exec -it NAME bash):"
  for n in $nodes; do
    addr=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$n")
    printf '  %-14s %-16s docker %s, backend %s\n' "$n" "$addr" \
      "$(docker exec "$n" docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')" \
      "$(docker exec "$n" sh -c 'cat /etc/ansible/facts.d/overlay_backend.fact 2>/dev/null' | python3 -c 'import json,sys; print(json.load(sys.stdin)["backend"])' 2>/dev/null || echo '?')"
  done
  first=${nodes%% *}
  echo "Docker networks on $first:"
  docker exec "$first" docker network ls --format '{{.Name}} ({{.Driver}}, {{.Scope}})' | grep -vE '^(host|none) ' | sed 's/^/  /'
  echo "Containers:"
  for n in $nodes; do
    docker exec "$n" docker ps --format "$n: {{.Names}} ({{.Image}}) {{.Ports}}" 2>/dev/null | sed 's/^/  /' || true
  done
  echo
  echo "Re-apply:   ansible-playbook -i inventory/lab site.yml   (with .venv/bin on PATH)"
  echo "Remove:     make lab-down"
}

case ${1:-} in
  up)
    t0=$SECONDS
    molecule create -s default
    t1=$SECONDS
    molecule converge -s default
    t2=$SECONDS
    mkdir -p .cache && touch "$marker"
    summary
    echo "Timing:     nodes $((t1 - t0)) s, site.yml $((t2 - t1)) s"
    ;;
  down)
    molecule destroy -s default
    # Also what molecule's state may not know of (an interrupted run, another checkout).
    for n in $nodes; do docker rm -f -v "$n" >/dev/null 2>&1 || true; done
    docker network rm docker-lab >/dev/null 2>&1 || true
    rm -f "$marker"
    ;;
  guard)
    # No engine answering means no lab running on it (CI starts from here).
    if ! docker info >/dev/null 2>&1; then rm -f "$marker"; exit 0; fi
    existing=$(for n in $nodes; do docker ps -aq --filter "name=^$n\$"; done)
    if [ -n "$existing" ]; then
      if [ -f "$marker" ]; then what="A lab from 'make lab' is up"; else what="Lab node containers exist (an interrupted run?)"; fi
      echo "$what: $nodes. The tests need the same node names and addresses and" >&2
      echo "would replace them. Run 'make lab-down' first, then 'make test'." >&2
      exit 1
    fi
    rm -f "$marker"
    ;;
  *)
    echo "usage: $0 up|down|guard" >&2; exit 2 ;;
esac
