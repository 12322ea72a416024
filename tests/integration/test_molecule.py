"""Molecule scenarios: the lab ones (default, external) run create, converge, idempotence, verify (and the
external one its cleanup) against the lab; the kind one needs a Docker engine and must say so where there is none."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from labkit import REPO

LAB_SCENARIOS = ["default", "external"]


def molecule(lab, scenario, *steps):
    env = dict(os.environ, PATH="%s:%s" % (REPO / ".venv" / "bin", os.environ["PATH"]), LAB_DIR=str(lab.dir),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    r = subprocess.run([str(REPO / ".venv" / "bin" / "molecule"), *steps, "-s", scenario], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=1500, check=False)
    return r, r.stdout + r.stderr


def test_every_scenario_is_tested():
    on_disk = sorted(p.name for p in (REPO / "molecule").iterdir() if (p / "molecule.yml").is_file())
    assert on_disk == sorted(LAB_SCENARIOS + ["kind"])


@pytest.mark.parametrize("scenario", LAB_SCENARIOS)
def test_lab_scenario(lab, scenario):
    r, out = molecule(lab, scenario, "test")
    assert r.returncode == 0, out[-6000:]
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert "[%s > %s] Executed: Successful" % (scenario, step) in out, (step, out[-3000:])
    assert "Molecule executed 1 scenario (1 successful)" in out, out[-3000:]
    assert (lab.dir / "molecule-started").exists() is False      # the lab was up: molecule reused it, left it up


@pytest.mark.skipif(shutil.which("docker") is not None and subprocess.run(
    ["docker", "info"], capture_output=True, check=False).returncode == 0, reason="a Docker engine runs here")
def test_kind_scenario_says_it_needs_docker(lab):
    r, out = molecule(lab, "kind", "create")
    assert r.returncode != 0
    assert "molecule scenario kind needs a running Docker engine" in out, out[-3000:]
    assert "molecule test -s default" in out
