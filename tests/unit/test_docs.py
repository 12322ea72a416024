"""What the README and the changelog promise: every role variable (every entry point's options, and the role's
defaults) is in that role's variables table in the README, and antsibull-changelog turns the fragments into a
CHANGELOG (in a copy; a release consumes them)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SPECS = sorted((REPO / "roles").glob("*/meta/argument_specs.yml"))


def role_section(readme: str, role: str) -> list[str]:
    """The lines of "### <role>" under "## Roles and their variables", up to the next heading of level 2 or 3."""
    lines = readme.split("## Roles and their variables", 1)[1].splitlines()
    assert "### %s" % role in lines, "README: no section ### %s under ## Roles and their variables" % role
    section = []
    for line in lines[lines.index("### %s" % role) + 1:]:
        if re.match(r"#{2,3} ", line):
            break
        section.append(line)
    return section


def table_variables(section: list[str]) -> set[str]:
    """Every `name` in the first column of the section's variables tables (those whose header's first cell is
    "variable"); a cell may name several (`a`, `b` or `a` / `b`). A row after a blank line or heading is not in the
    table above it (Markdown renders it as text)."""
    names, header = set(), None
    for line in section:
        if not line.startswith("|"):
            header = None
            continue
        first = line.strip().strip("|").split("|")[0].strip()
        if header is None:
            header = first
        elif header == "variable":
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", first))
    return names


def role_variables(spec: Path) -> set[str]:
    """The options of every entry point of the role's argument specs, and the variables of its defaults."""
    names = set()
    for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
        names.update(entry.get("options") or {})
    defaults = spec.parents[1] / "defaults" / "main.yml"
    if defaults.is_file():
        names.update(yaml.safe_load(defaults.read_text()) or {})
    return names


@pytest.mark.parametrize("spec", SPECS, ids=[p.parts[-3] for p in SPECS])
def test_every_role_variable_is_in_its_roles_table(spec):
    role = spec.parts[-3]
    in_table = table_variables(role_section((REPO / "README.md").read_text(), role))
    missing = sorted(role_variables(spec) - in_table)
    assert not missing, "README ### %s: not in the role's variables table: %s" % (role, ", ".join(missing))


def test_a_variable_outside_its_table_is_found():
    """The check reads the table, not the text: a row after the table, a variable named in prose or in another
    role's table does not count."""
    readme = "\n".join([
        "## Roles and their variables", "### one", "| variable | default | meaning |", "| --- | --- | --- |",
        "| `one_a`, `one_b` / `one_c` | `1` | in the table, `one_x` in a later column does not count |", "",
        "Prose about `one_d`.", "| `one_e` | `0` | a row on its own, after the table |",
        "| data set | from |", "| --- | --- |", "| `one_f` | a table of another kind |",
        "### two", "| variable | default | meaning |", "| --- | --- | --- |", "| `one_g` | - | another role's |"])
    assert table_variables(role_section(readme, "one")) == {"one_a", "one_b", "one_c"}


def test_fragments_lint_and_make_a_changelog(tmp_path):
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ["PATH"]))
    lint = subprocess.run([str(BIN / "antsibull-changelog"), "lint"], cwd=REPO, env=env, capture_output=True,
                          text=True, check=False)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    for item in ("changelogs", "plugins", "meta", "galaxy.yml"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    r = subprocess.run([str(BIN / "antsibull-changelog"), "release", "--version", version, "--date", "2026-12-01"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    text = " ".join((tmp_path / "CHANGELOG.rst").read_text().replace("`", "").replace("\\", "").split())
    assert "v%s" % version in text
    fragments = sorted((REPO / "changelogs" / "fragments").glob("*.yml"))
    assert fragments
    for fragment in fragments:
        for entries in yaml.safe_load(fragment.read_text()).values():
            for entry in entries:
                words = " ".join(entry.replace("`", "").split())[:40]
                assert words in text, (fragment.name, words)
