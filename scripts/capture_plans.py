"""Capture each stage's decision read from the running lab, as the planner's unit tests take it.

Runs `site.yml --check` against the lab (nothing changes; the JSON callback), and writes, for
each task that ran lab.multihost.node_state with a `want`, the stage's want and the node's
state to tests/unit/plugins/module_utils/fixtures/plan/<stage>.json: <role>.<tasks file>, and
the container's name for a lab container (redis, app); and for the lab's one read of a node
(`wants`), each stage's part as <role>.main. A stage that ran on several nodes is
taken from the first of them by name. The SHA-1 of a secret file is replaced by a placeholder
on both sides: a fixture holds no hash of a lab's secret.

usage: python3 scripts/capture_plans.py [--lab NAME]   (a converged lab; about a minute)
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import labkit  # noqa: E402

OUT = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "plan"
SECRETS = "/opt/lab/secrets/"
PLACEHOLDER = "0" * 40


def _scrub(want, state):
    for path in list(want.get("files") or {}):
        if path.startswith(SECRETS) and "checksum" in want["files"][path]:
            want["files"][path]["checksum"] = PLACEHOLDER
            if state["files"].get(path, {}).get("checksum"):
                state["files"][path]["checksum"] = PLACEHOLDER


def _stage(task, want):
    path = task["task"]["path"].split(":")[0]
    role, rest = path.split("/roles/")[-1].split("/tasks/", 1)
    name = f"{role.lstrip('_')}.{pathlib.Path(rest).stem}"
    containers = want.get("containers") or {}
    return f"{name}.{next(iter(containers))}" if containers else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default=None)
    args = ap.parse_args()
    rc, data, err = labkit.run_playbook_json("site.yml", "--check", lab=args.lab)
    if rc != 0:
        sys.exit(f"site.yml --check failed (rc {rc}): {err[-2000:]}")
    OUT.mkdir(parents=True, exist_ok=True)
    seen = set()
    for play in data["plays"]:
        for task in play["tasks"]:
            for node, result in sorted(task["hosts"].items()):
                if result.get("skipped") or "state" not in result:
                    continue
                for stage, want, changes in _decisions(task, result):
                    if stage in seen:
                        continue
                    seen.add(stage)
                    state = json.loads(json.dumps(result["state"]))
                    _scrub(want, state)
                    fixture = {"node": node, "task": task["task"]["name"], "want": want, "state": state,
                               "changes": changes}
                    path = OUT / f"{stage}.json"
                    path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
                    print(f"{path.relative_to(ROOT)}: {node}, {task['task']['name']} ({len(changes)} changes)")


def _decisions(task, result):
    """(stage, want, changes) of one node_state result: its want, or each stage of the lab's one
    read (wants: a stage's part is named as its own read is, <role>.main)."""
    args = (result.get("invocation") or {}).get("module_args") or {}
    if args.get("want"):
        yield _stage(task, args["want"]), args["want"], result["changes"]
    for name, want in (args.get("wants") or {}).items():
        yield f"{name}.main", want, result["stages"][name]["changes"]


if __name__ == "__main__":
    main()
