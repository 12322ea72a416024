"""Molecule scenarios run against the lab (syntax, converge, idempotence, verify)."""
from __future__ import annotations

import os
import subprocess

import pytest

from labkit import REPO

SCENARIOS = sorted(p.name for p in (REPO / "molecule").iterdir() if (p / "molecule.yml").is_file())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(lab, scenario):
    env = dict(os.environ, PATH="%s:%s" % (REPO / ".venv" / "bin", os.environ["PATH"]), LAB_DIR=str(lab.dir),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    r = subprocess.run([str(REPO / ".venv" / "bin" / "molecule"), "test", "-s", scenario], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=1200, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert "1 successful" in out, out[-3000:]
