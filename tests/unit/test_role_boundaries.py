"""Roles talk through documented outputs, never through each other's registered results.

A role reads what another role registered (`register:`) only where it is listed below,
and each listed read must still exist, so the list can only shrink."""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
REGISTER = re.compile(r"^\s*register:\s*(\w+)", re.M)

# (reading role, registered variable, owner): none left.
KNOWN = set()


def _texts(role):
    return {f: f.read_text() for f in sorted(role.rglob("*")) if f.is_file() and f.suffix in (".yml", ".j2")}


def _registered():
    owners = {}
    for role in ROLES:
        for text in _texts(role).values():
            for name in REGISTER.findall(text):
                owners.setdefault(name, set()).add(role.name)
    return owners


def _cross_reads():
    found = set()
    for name, owners in _registered().items():
        # A module's FQCN (community.docker.docker_node) is not a read of the variable.
        use = re.compile(r"(?<![\w.])" + re.escape(name) + r"\b")
        for role in ROLES:
            if role.name in owners:
                continue
            if any(use.search(text) for text in _texts(role).values()):
                found |= {(role.name, name, owner) for owner in owners}
    return found


def test_no_role_reads_another_roles_registered_results():
    new = sorted(_cross_reads() - KNOWN)
    assert not new, f"(reading role, registered variable, owner) not in KNOWN: {new}"


def test_every_known_exception_still_exists():
    gone = sorted(KNOWN - _cross_reads())
    assert not gone, f"remove from KNOWN, the read is gone: {gone}"


def test_the_check_finds_a_cross_read(tmp_path, monkeypatch):
    for name, body in (("a", "- name: x\n  ansible.builtin.command: 'true'\n  register: a_result\n"),
                       ("b", "- name: y\n  ansible.builtin.debug:\n    var: a_result.stdout\n")):
        (tmp_path / name / "tasks").mkdir(parents=True)
        (tmp_path / name / "tasks" / "main.yml").write_text(body)
    monkeypatch.setattr(sys.modules[__name__], "ROLES", [tmp_path / "a", tmp_path / "b"])
    assert _cross_reads() == {("b", "a_result", "a")}
