"""Mutation checks: remove each rule of an engine in turn and show that its unit tests fail.

Each mutation is applied to a copy of the collection in a temporary directory (plugins,
tests, scripts, pyproject.toml and the collection link), never to the source; the tests
run there. Used by scripts/recover_mutations.py and scripts/plan_mutations.py.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
COPIED = ("plugins", "tests", "scripts", "pyproject.toml", "galaxy.yml")


def _copy_tree(dest):
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "output", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    link = dest / ".cache" / "collections" / "ansible_collections" / "lab" / "multihost"
    link.parent.mkdir(parents=True)
    os.symlink("../../../..", link)


def run(engine, tests, mutations):
    """engine: a file or a package directory, tests: a path, both from the repository root;
    mutations: (rule, text, replacement), each text found in exactly one file of the engine.
    Prints one line per rule; returns 1 when a mutation survived or no longer applies."""
    survived = 0
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        tree = pathlib.Path(tmp)
        _copy_tree(tree)
        root = tree / engine
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        originals = {f: f.read_text() for f in files}
        for name, old, new in mutations:
            found = [f for f, text in originals.items() if old in text]
            if len(found) != 1:
                print(f"{name:48} not applied: the engine's text changed")
                survived += 1
                continue
            target = found[0]
            target.write_text(originals[target].replace(old, new, 1))
            res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", tests],
                                 cwd=tree, capture_output=True, text=True, check=False)
            target.write_text(originals[target])
            last = (res.stdout.strip().splitlines() or ["(no output)"])[-1]
            survived += res.returncode == 0
            print(f"{name:48} {'caught' if res.returncode else 'SURVIVED'}: {last}")
    return 1 if survived else 0
