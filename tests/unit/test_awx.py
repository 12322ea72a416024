"""awx/configure.yml, without an AWX server: it parses, its job templates run playbooks that exist, its schedules
name its templates, every survey variable is a role variable of the type the survey answers with, and the inventory
source from ACM reads a file the inventory plugin accepts with what the credential injects. (On the lab,
tests/integration/test_acm_inventory.py runs the example plugin file with only that injection.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OBJECTS = yaml.safe_load((REPO / "awx" / "vars" / "objects.yml").read_text().replace("!unsafe ", ""))
TASKS = yaml.safe_load((REPO / "awx" / "configure.yml").read_text())[0]["tasks"]
CREDENTIAL_FILE = "{{ tower.filename.kubeconfig }}"
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


def task(module, **match):
    """The one task of awx/configure.yml that calls ``module`` with the given (unrendered) arguments."""
    found = [t for t in TASKS if module in t and all(t[module].get(k) == v for k, v in match.items())]
    assert len(found) == 1, (module, match, [t["name"] for t in found])
    return found[0]


def test_credential_reaches_the_inventory():
    env = OBJECTS["kialiops_awx_credential_type"]["injectors"]["env"]
    # the clusters' contexts for the inventory, and the same file as the ACM plugin's hub kubeconfig; no other
    # K8S_AUTH_*: the modules' top-level connection falls back to them (a context or host would redirect a host)
    assert env == {"KIALIOPS_KUBECONFIG": CREDENTIAL_FILE, "K8S_AUTH_KUBECONFIG": CREDENTIAL_FILE}
    fields = OBJECTS["kialiops_awx_credential_type"]["inputs"]["fields"]
    assert [f["secret"] for f in fields] == [True]
    group_vars = yaml.safe_load((REPO / "inventories/examples/awx/group_vars/all.yml").read_text())
    assert "KIALIOPS_KUBECONFIG" in group_vars["kialiops_kubeconfig"]
    configure = (REPO / "awx" / "configure.yml").read_text()
    credential_task = configure.split("- name: The clusters' kubeconfig")[1].split("- name:")[0]
    assert "no_log: true" in credential_task


def plugin_options():
    from ansible_collections.kialiops.multicluster.plugins.inventory import acm
    return acm, yaml.safe_load(acm.DOCUMENTATION)["options"]


def test_credential_gives_the_acm_plugin_its_hub_and_the_clusters():
    acm, options = plugin_options()
    injected = set(OBJECTS["kialiops_awx_credential_type"]["injectors"]["env"])
    assert acm.KUBECONFIG_ENV in injected                             # every cluster's context, per host
    hub = injected - {acm.KUBECONFIG_ENV}
    assert hub and hub <= {e["name"] for e in options["kubeconfig"]["env"]}, hub   # the hub's kubeconfig


def test_acm_inventory_and_its_source_are_optional():
    enabled = "kialiops_awx_acm_inventory_enabled | bool"
    assert OBJECTS["kialiops_awx_acm_inventory_enabled"] is False
    inventory = task("awx.awx.inventory", name="{{ kialiops_awx_acm_inventory.name }}")
    source = task("awx.awx.inventory_source", inventory="{{ kialiops_awx_acm_inventory.name }}")
    assert inventory["when"] == enabled and source["when"] == enabled


def test_acm_inventory_source_reads_the_plugin_file_of_the_project_with_the_credential():
    args = task("awx.awx.inventory_source", inventory="{{ kialiops_awx_acm_inventory.name }}")["awx.awx.inventory_source"]
    assert args["source"] == "scm"
    assert args["source_project"] == "{{ kialiops_awx_project.name }}"
    assert args["source_path"] == "{{ kialiops_awx_acm_inventory.source_path }}"
    assert args["credential"] == "{{ kialiops_awx_credential_name }}"
    assert args["execution_environment"] == "{{ kialiops_awx_ee.name }}"
    assert args["update_on_launch"] is True and args["overwrite"] is True
    # a file the plugin accepts (verify_file: the name), and the example of that name is a configuration of it
    acm, dummy_options = plugin_options()
    path = OBJECTS["kialiops_awx_acm_inventory"]["source_path"]
    assert path.endswith((".acm.yml", ".acm.yaml")) and not Path(path).is_absolute()
    assert acm.InventoryModule().verify_file(str(REPO / "inventories" / "examples" / "acm-plugin" / Path(path).name))
    example = yaml.safe_load((REPO / "inventories" / "examples" / "acm-plugin" / Path(path).name).read_text())
    assert example["plugin"] == "kialiops.multicluster.acm"
    # the hub is read from the credential's kubeconfig with the context its host gets there
    template = example.get("context_template", "{name}")
    assert example["context"] == template.replace("{name}", example.get("hub_cluster", "local-cluster"))


def test_the_project_inventory_source_is_unchanged():
    args = task("awx.awx.inventory_source", inventory="{{ kialiops_awx_inventory.name }}")["awx.awx.inventory_source"]
    assert args["source"] == "scm" and args["source_path"] == "{{ kialiops_awx_inventory.source_path }}"
    assert "when" not in task("awx.awx.inventory_source", inventory="{{ kialiops_awx_inventory.name }}")


@pytest.mark.parametrize("enabled, inventory", [("false", "kialiops_awx_inventory"),
                                                ("true", "kialiops_awx_acm_inventory")])
def test_job_templates_use_the_acm_inventory_when_enabled(enabled, inventory):
    assert task("awx.awx.job_template", inventory="{{ kialiops_awx_job_inventory }}")
    r = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-o", "-m", "ansible.builtin.debug",
                        "-a", "var=kialiops_awx_job_inventory", "-e", "@awx/vars/objects.yml",
                        "-e", "kialiops_awx_acm_inventory_enabled=" + enabled],
                       capture_output=True, text=True, cwd=REPO, check=False,
                       env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                                ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"kialiops_awx_job_inventory": "%s"' % OBJECTS[inventory]["name"] in r.stdout, r.stdout
