"""Mutation check of the stage decisions: remove each rule of plan/host.py in turn and show
that tests/unit/plugins/module_utils/test_plan_host.py fails (scripts/mutate.py: on a
temporary copy, never the source). Run by `make unit`.

usage: .venv/bin/python scripts/plan_mutations.py   (seconds; one line per rule, exit 1 if one survived)
"""

import mutate

ENGINE = "plugins/module_utils/plan/host.py"
TESTS = "tests/unit/plugins/module_utils/test_plan_host.py"

# (rule, text in the planner, what replaces it)
MUTATIONS = [
    ("file exists",
     "    if not have or not have.get('exists'):\n        return ['missing']\n",
     "    if not have:\n        return ['missing']\n"),
    ("file type",
     "    if kind and have.get('type') != kind:",
     "    if False:"),
    ("file content",
     "    if want.get('checksum') is not None and have.get('checksum') != want['checksum']:",
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
    ("package installed",
     "        if not (state.get('packages') or {}).get(name):",
     "        if False:"),
    ("nft table in the kernel",
     "    if nft and not (state.get('nft') or {}).get(nft['table']):",
     "    if False:"),
]


def main():
    return mutate.run(ENGINE, TESTS, MUTATIONS)


if __name__ == "__main__":
    raise SystemExit(main())
