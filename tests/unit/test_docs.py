"""What the README and the changelog promise: every role variable of every entry point is in the README's role
tables, and antsibull-changelog turns the fragments into a CHANGELOG (in a copy; a release consumes them)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SPECS = sorted((REPO / "roles").glob("*/meta/argument_specs.yml"))


@pytest.mark.parametrize("spec", SPECS, ids=[p.parts[-3] for p in SPECS])
def test_every_role_variable_is_in_the_readme(spec):
    readme = (REPO / "README.md").read_text()
    role = spec.parts[-3]
    assert "### %s" % role in readme, role
    for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
        for name in entry.get("options") or {}:
            assert "| `%s`" % name in readme or "`%s`" % name in readme, "%s: %s is not in the README" % (role, name)


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
