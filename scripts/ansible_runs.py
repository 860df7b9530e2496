"""Where the scenario tests' minutes go: the Ansible runs tests/labkit.py logged, summed per test.

    python3 scripts/ansible_runs.py [.cache/logs/ansible-runs.tsv] [--top 25]

Each line of the log: test id, seconds, rc, command (one per ansible or ansible-playbook run).
"""

import argparse
import collections
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def summary(lines):
    """[(seconds, runs, test)] per test, slowest first, and the total seconds."""
    seconds, runs = collections.Counter(), collections.Counter()
    for line in lines:
        test, took, _rc, _command = line.rstrip("\n").split("\t", 3)
        seconds[test] += float(took)
        runs[test] += 1
    rows = sorted(((round(s, 1), runs[t], t) for t, s in seconds.items()), reverse=True)
    return rows, round(sum(seconds.values()), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", default=ROOT / ".cache/logs/ansible-runs.tsv", type=pathlib.Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    rows, total = summary(args.log.read_text(encoding="utf-8").splitlines())
    for took, runs, test in rows[:args.top]:
        print(f"{took:7.1f} s {runs:3d} runs  {test}")
    print(f"{total:7.1f} s {sum(row[1] for row in rows):3d} runs  in all")


if __name__ == "__main__":
    main()
