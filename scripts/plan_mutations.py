"""Mutation check of the stage decisions: remove each rule of plan/host.py, plan/docker.py
and plan/preview.py in turn and show that their unit tests fail (scripts/mutate.py: on a temporary copy, never
the source). Run by `make unit`.

usage: .venv/bin/python scripts/plan_mutations.py   (seconds; one line per rule, exit 1 if one survived)
"""

import mutate

HOST = "plugins/module_utils/plan/host.py"
HOST_TESTS = "tests/unit/plugins/module_utils/test_plan_host.py"
DOCKER = "plugins/module_utils/plan/docker.py"
DOCKER_TESTS = "tests/unit/plugins/module_utils/test_plan_docker.py"
PREVIEW = "plugins/module_utils/plan/preview.py"
PREVIEW_TESTS = "tests/unit/plugins/module_utils/test_plan_preview.py"

# (rule, text in the planner, what replaces it)
HOST_MUTATIONS = [
    ("file absent",
     "    if want.get('state') == 'absent':\n        return ['present'] if have and have.get('exists') else []\n",
     ""),
    ("file exists",
     "    if not have or not have.get('exists'):\n        return ['missing']\n",
     "    if not have:\n        return ['missing']\n"),
    ("file type",
     "    if kind and have.get('type') != kind:",
     "    if False:"),
    ("file content",
     "    if want.get('checksum') is not None and have.get('checksum') != want['checksum']:",
     "    if False:"),
    ("link target",
     "    if want.get('target') is not None and have.get('target') != want['target']:",
     "    if False:"),
    ("file mode",
     "    if want.get('mode') is not None and have.get('mode') != normal_mode(want['mode']):",
     "    if False:"),
    ("file owner and group",
     "        if want.get(key) is not None and have.get(key) != str(want[key]):",
     "        if False:"),
    ("unit loaded",
     "    if not have.get('loaded'):",
     "    if False:"),
    ("unit enabled",
     "    if want.get('enabled') and not have.get('enabled'):",
     "    if False:"),
    ("unit active",
     "    if want.get('active') and not have.get('active'):",
     "    if False:"),
    ("package: the version apt's lists offer, or none",
     "    return ['not installed', f'apt would install {version}' if version else NO_LISTS]",
     "    return ['not installed']"),
    ("package installed",
     "        if not (state.get('packages') or {}).get(name):",
     "        if False:"),
    ("nft table in the kernel",
     "    if nft and not (state.get('nft') or {}).get(nft['table']):",
     "    if False:"),
    ("a file read at start, newer than the daemon, restarts it",
     "            if (files.get(path) or {}).get('exists') and files[path].get('mtime', 0) > started.get('mtime', 0)]",
     "            if False]"),
    ("a topology the netns engine would change",
     "        if reasons:\n            changes[f'topology:{name}'] = reasons",
     "        if False:\n            changes[f'topology:{name}'] = reasons"),
]


DOCKER_MUTATIONS = [
    ("network exists",
     "    if have is None:\n        return ['missing']\n    reasons = []\n    if have.get('driver')",
     "    if have is None:\n        return []\n    reasons = []\n    if have.get('driver')"),
    ("network driver",
     "    if have.get('driver') != want.get('driver', 'bridge'):",
     "    if False:"),
    ("network subnet",
     "    if want.get('subnet') and want['subnet'] not in (have.get('subnets') or []):",
     "    if False:"),
    ("image present",
     "        if engine is None or ref not in images:",
     "        if engine is None:"),
    ("container exists",
     "    if have is None:\n        return ['missing']\n    if not have.get('running')",
     "    if have is None:\n        return []\n    if not have.get('running')"),
    ("container running",
     "    if not have.get('running'):\n        return ['stopped']",
     "    if False:\n        return ['stopped']"),
    ("container attached to its network",
     "    if want.get('network') and want['network'] not in (have.get('networks') or []):",
     "    if False:"),
    ("container spec",
     "    if want.get('spec') is not None and (have.get('labels') or {}).get(SPEC_LABEL) != want['spec']:",
     "    if False:"),
    ("container secrets: its label against the secret files",
     "    if digests is not None and (have.get('labels') or {}).get(SECRETS_LABEL) != secrets_version(digests):",
     "    if False:"),
    ("secrets: the content written, else the node's file",
     "    return {path: written[path] or ((files or {}).get(path) or {}).get('checksum') for path in paths}",
     "    return {path: ((files or {}).get(path) or {}).get('checksum') for path in paths}"),
    ("alone on its network: only running containers count",
     "               if have.get('running') and network in (have.get('networks') or [])]",
     "               if network in (have.get('networks') or [])]"),
    ("alone on its network: only that network's containers",
     "               if have.get('running') and network in (have.get('networks') or [])]",
     "               if have.get('running')]"),
    ("no engine: everything to do",
     "        reasons = [NO_ENGINE] if engine is None else network_reasons(",
     "        reasons = [] if engine is None else network_reasons("),
]


# Check mode as the plan: what waits for an earlier step of a real run.
PREVIEW_MUTATIONS = [
    ("a package waits for apt's lists",
     "    if kind == 'package' and NO_LISTS in reasons:",
     "    if False:"),
    ("a unit not loaded waits for its package",
     "    if kind == 'unit' and 'not loaded' in reasons:",
     "    if False:"),
    ("a file waits for its owner or group",
     "            if account is not None and not (known.get(table) or {}).get(str(account), True):",
     "            if False:"),
    ("engine changes wait for the engine",
     "    if kind in ('network', 'image', 'container') and NO_ENGINE in reasons:",
     "    if False:"),
]


def main():
    return (mutate.run(HOST, HOST_TESTS, HOST_MUTATIONS) | mutate.run(DOCKER, DOCKER_TESTS, DOCKER_MUTATIONS)
            | mutate.run(PREVIEW, PREVIEW_TESTS, PREVIEW_MUTATIONS))


if __name__ == "__main__":
    raise SystemExit(main())
