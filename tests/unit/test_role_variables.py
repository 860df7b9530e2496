"""Each role's meta/argument_specs.yml is its variable reference: it agrees with defaults/main.yml."""

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def _specs(role):
    return yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def _defaults(role):
    path = role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _spec_defaults(role):
    """{variable: default} over every entry point; an entry point repeating one must agree."""
    found = {}
    for entry, spec in _specs(role).items():
        for name, opt in (spec.get("options") or {}).items():
            if "default" not in opt:
                continue
            assert found.get(name, opt["default"]) == opt["default"], (
                f"{role.name}: {name} has different defaults in the entry points ({entry})")
            found[name] = opt["default"]
    return found


def test_every_role_has_a_spec():
    roles = sorted(p.parent for p in ROOT.glob("roles/*/tasks"))
    assert [r.name for r in roles] == [r.name for r in ROLES]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_spec_defaults_equal_defaults_main(role):
    defaults, specs = _defaults(role), _spec_defaults(role)
    missing = sorted(set(defaults) - set(specs))
    assert not missing, f"{role.name}: defaults/main.yml sets {missing}, which no argument spec gives a default"
    for name, value in specs.items():
        assert name in defaults, f"{role.name}: the spec gives {name} a default that defaults/main.yml lacks"
        assert defaults[name] == value, f"{role.name}: {name} is {defaults[name]!r} in defaults, {value!r} in the spec"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_option_is_described(role):
    for entry, spec in _specs(role).items():
        assert spec.get("short_description"), f"{role.name}/{entry}: no short_description"
        for name, opt in (spec.get("options") or {}).items():
            assert opt.get("description"), f"{role.name}/{entry}: {name} has no description"
