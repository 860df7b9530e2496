"""Write each role's variable reference into its README, from meta/argument_specs.yml.

The specs are the one home of a role's variables: this fills the part of
roles/<role>/README.md between the two markers below with a table per entry
point. `--check` changes nothing and exits 1 when a README is out of date
(make lint runs it).

usage: python3 scripts/role_docs.py [--check]
"""

import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BEGIN = "<!-- variables: generated from meta/argument_specs.yml by scripts/role_docs.py -->"
END = "<!-- end of variables -->"


def _cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _default(opt):
    if opt.get("required"):
        return "**required**"
    if "default" not in opt:
        return ""
    value = opt["default"]
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{_cell(text)}`" if text != "" else '`""`'


def _rows(options, prefix=""):
    for name, opt in options.items():
        desc = opt.get("description", "")
        desc = " ".join(desc) if isinstance(desc, list) else desc
        if opt.get("choices"):
            desc += " One of: " + ", ".join(f"`{c}`" for c in opt["choices"]) + "."
        kind = opt.get("type", "str") + (f" of {opt['elements']}" if opt.get("elements") else "")
        yield f"| `{prefix}{name}` | {kind} | {_default(opt)} | {_cell(desc)} |"
        if opt.get("options"):
            sub = f"{prefix}{name}[]." if opt.get("type") == "list" else f"{prefix}{name}."
            yield from _rows(opt["options"], sub)


def render(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    out = [BEGIN, ""]
    for entry, spec in specs.items():
        how = "the role" if entry == "main" else f"`tasks_from: {entry}`"
        out += [f"### {how}: {_cell(spec.get('short_description', ''))}", "",
                "| variable | type | default | description |", "| --- | --- | --- | --- |"]
        out += list(_rows(spec.get("options") or {}))
        out.append("")
    out.append(END)
    return "\n".join(out)


def update(readme, block):
    text = readme.read_text() if readme.exists() else f"# Role `{readme.parent.name}`\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + block + tail
    return text.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for role in sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml")):
        readme = role / "README.md"
        new = update(readme, render(role))
        if not readme.exists() or readme.read_text() != new:
            stale.append(str(readme.relative_to(ROOT)))
            if not check:
                readme.write_text(new)
    if check and stale:
        sys.exit("role-docs: out of date (run python3 scripts/role_docs.py): " + ", ".join(stale))
    if not check and stale:
        print("role-docs: wrote " + ", ".join(stale))


if __name__ == "__main__":
    main()
