"""Run each integration target (tests/integration/targets/<name>, a role, as ansible-test lays them out)
with ansible-playbook against the lab's inventory."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit import ansible_playbook

TARGETS = Path(__file__).parent / "targets"


def targets():
    out = []
    for t in sorted(TARGETS.iterdir()):
        aliases = (t / "aliases").read_text().split() if (t / "aliases").is_file() else []
        if (t / "tasks" / "main.yml").is_file() and "disabled" not in aliases:
            out.append(t.name)
    return out


def run_target(lab, name: str, tmp_path: Path, extra: list[str] | None = None):
    play = tmp_path / "play.yml"
    play.write_text("- name: Integration target %s\n  hosts: localhost\n  gather_facts: false\n"
                    "  roles:\n    - role: %s\n" % (name, name))
    return ansible_playbook(lab.inventory, "-e", "lab_dir=%s" % lab.dir, *(extra or []), playbook=play,
                            env={"ANSIBLE_ROLES_PATH": str(TARGETS)})


@pytest.mark.parametrize("name", targets())
def test_target(lab, name, tmp_path):
    r = run_target(lab, name, tmp_path)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "failed=0" in r.stdout
