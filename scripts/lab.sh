#!/usr/bin/env bash
# Lab lifecycle on the local Docker engine. A lab is an inventory: LAB_INVENTORY
# (a path from the repository; make sets it, for a generated lab too:
# scripts/lab_inventory.py), else inventory/$LAB (default lab). LAB is the lab's
# name, its nodes' label. playbooks/lab-nodes.yml draws the node containers from
# the inventory, the same playbook molecule's scenarios use.
#   up     create the nodes, or start them again as they are (same containers
#          and volumes after a host restart), converge site.yml, print a summary;
#          a running lab grows to the nodes the inventory adds (it never shrinks)
#   down   remove every node of the lab (found by its label, however many it
#          has), their volumes and the lab network
#   guard  stop `make test` when node containers of any lab exist
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
lab=${LAB:-lab}
inv=${LAB_INVENTORY:-inventory/$lab}
# How make names this lab (LAB=ha, NODES=3 BACKEND=swarm; nothing for the tutorial's),
# and a lab by its name for lab-down, which finds every node by its label (no NODES=).
make_args=${LAB_SELECT-$([ "$lab" = lab ] || echo "LAB=$lab")}
down_args() { case $1 in lab) ;; swarm) echo " BACKEND=swarm" ;; *) echo " LAB=$1" ;; esac; }
export ANSIBLE_CONFIG=$top/ansible.cfg

if [ "${1:-}" != guard ] && [ ! -f "$inv/hosts.yml" ]; then
  labs=$(for f in inventory/*/hosts.yml; do basename "$(dirname "$f")"; done | tr '\n' ' ')
  echo "lab.sh: no lab '$lab': expected $inv/hosts.yml (labs: $labs)" >&2
  exit 2
fi

# Node names of the lab, from its inventory; node containers of the lab, from their label.
nodes() { ansible-inventory -i "$inv" --graph nodes | sed -n 's/^ *|--\([^@].*\)$/\1/p'; }
labelled() { docker ps -a --filter "label=lab.multihost.lab=$lab" --format '{{.Names}}' | sort; }

summary() {
  echo
  echo "Lab '$lab' is up. Nodes (docker exec -it NAME bash):"
  for n in $(nodes); do
    addr=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$n")
    printf '  %-14s %-16s docker %s, backend %s\n' "$n" "$addr" \
      "$(docker exec "$n" docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')" \
      "$(docker exec "$n" sh -c 'cat /etc/ansible/facts.d/overlay_backend.fact 2>/dev/null' | python3 -c 'import json,sys; print(json.load(sys.stdin)["backend"])' 2>/dev/null || echo '?')"
  done
  first=$(nodes | head -n 1)
  echo "Docker networks on $first:"
  docker exec "$first" docker network ls --format '{{.Name}} ({{.Driver}}, {{.Scope}})' | grep -vE '^(host|none) ' | sed 's/^/  /'
  echo "Containers:"
  for n in $(nodes); do
    docker exec "$n" docker ps --format "$n: {{.Names}} ({{.Image}}) {{.Ports}}" 2>/dev/null | sed 's/^/  /' || true
  done
  # A generated inventory says where each part runs, and why (scripts/lab_inventory.py).
  placement=$(sed -n 's/^# placement: /  /p' "$inv/hosts.yml")
  [ -z "$placement" ] || printf 'Placement:\n%s\n' "$placement"
  echo
  echo "Re-apply:   ansible-playbook -i $inv site.yml   (with .venv/bin on PATH)"
  echo "Targets:    make report|tour|verify|capture|impair${make_args:+ $make_args}"
  echo "Remove:     make lab-down$(down_args "$lab")"
}

case ${1:-} in
  up)
    other=$(docker ps -aq --filter label=lab.multihost.lab --filter "label=lab.multihost.lab!=$lab" | head -n 1)
    if [ -n "$other" ]; then
      other=$(docker inspect -f '{{index .Config.Labels "lab.multihost.lab"}}' "$other")
      echo "lab.sh: nodes of another lab exist ($other): the labs share names and addresses; 'make lab-down$(down_args "$other")' first." >&2
      exit 1
    fi
    # A lab grows; it does not shrink (a node left out of the inventory would be left out of every run).
    extra=$(comm -23 <(labelled) <(nodes | sort) | tr '\n' ' ')
    if [ -n "$extra" ]; then
      case $lab in
        lab | swarm) keep="'make lab NODES=$(labelled | wc -l)$(down_args "$lab")' keeps them" ;;
        *) keep="$inv must list them" ;;
      esac
      echo "lab.sh: lab '$lab' has nodes $inv does not list: ${extra% }. A lab does not shrink:" \
        "$keep, 'make lab-down$(down_args "$lab")' removes the lab." >&2
      exit 1
    fi
    t0=$SECONDS
    ansible-playbook -i "$inv" playbooks/lab-nodes.yml
    t1=$SECONDS
    ansible-playbook -i "$inv" site.yml
    t2=$SECONDS
    summary
    echo "Timing:     nodes $((t1 - t0)) s, site.yml $((t2 - t1)) s"
    ;;
  down)
    ansible-playbook -i "$inv" playbooks/lab-nodes-down.yml
    ;;
  guard)
    # No engine answering means no lab running on it (CI starts from here).
    docker info >/dev/null 2>&1 || exit 0
    existing=$(docker ps -a --filter label=lab.multihost.lab --format '{{.Names}} ({{.Label "lab.multihost.lab"}})' | sort | tr '\n' ' ')
    if [ -n "$existing" ]; then
      echo "Lab node containers exist: $existing. The tests need the same node names and" >&2
      echo "addresses and would replace them. Run 'make lab-down' (LAB=<lab>, or BACKEND=swarm) first, then 'make test'." >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: LAB=<lab> $0 up|down|guard" >&2; exit 2 ;;
esac
