"""awx/configure.yml, without an AWX server: it parses, its job templates run playbooks that exist, its schedules
name its templates, and every survey variable is a role variable of the type the survey answers with."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OBJECTS = yaml.safe_load((REPO / "awx" / "vars" / "objects.yml").read_text().replace("!unsafe ", ""))
SURVEY_TYPES = {"multiplechoice": "bool", "text": "list", "textarea": "list", "integer": "int"}


def role_options():
    """Every option of every entry point of every role: name -> spec."""
    out = {}
    for spec in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            out.update(entry.get("options") or {})
    return out


def test_syntax_check():
    r = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                        str(REPO / "awx" / "configure.yml")], capture_output=True, text=True, cwd=REPO, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("template", OBJECTS["kialiops_awx_job_templates"], ids=lambda t: t["name"])
def test_job_template(template):
    assert (REPO / template["playbook"]).is_file(), template["playbook"]
    options = role_options()
    for question in template.get("survey", []):
        name = question["variable"]
        assert name in options, "%s: survey variable %s is no role variable" % (template["name"], name)
        want = SURVEY_TYPES[question["type"]]
        assert options[name]["type"] == want, (name, options[name]["type"], want)
        if want == "bool":
            assert sorted(question["choices"]) == ["false", "true"]


def test_schedules_name_templates():
    names = {t["name"] for t in OBJECTS["kialiops_awx_job_templates"]}
    for schedule in OBJECTS["kialiops_awx_schedules"]:
        assert schedule["job_template"] in names
        assert "RRULE:" in schedule["rrule"] and schedule["rrule"].startswith("DTSTART:")


def test_credential_reaches_the_inventory():
    env = OBJECTS["kialiops_awx_credential_type"]["injectors"]["env"]
    assert list(env) == ["KIALIOPS_KUBECONFIG"]
    assert "tower.filename.kubeconfig" in env["KIALIOPS_KUBECONFIG"]
    fields = OBJECTS["kialiops_awx_credential_type"]["inputs"]["fields"]
    assert [f["secret"] for f in fields] == [True]
    group_vars = yaml.safe_load((REPO / "inventories/examples/awx/group_vars/all.yml").read_text())
    assert "KIALIOPS_KUBECONFIG" in group_vars["kialiops_kubeconfig"]
    configure = (REPO / "awx" / "configure.yml").read_text()
    credential_task = configure.split("- name: The clusters' kubeconfig")[1].split("- name:")[0]
    assert "no_log: true" in credential_task
