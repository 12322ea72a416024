"""kialiops' modules run in Ansible's worker process when the connection is local (plugins/action/, over
plugin_utils/_in_process.py): the same results as the module run by AnsiballZ in its own interpreter, no temporary
file left behind, and the module path still taken where a separate process is asked for."""
from __future__ import annotations

import json
import os
import tempfile

from labkit import ansible_playbook

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the hub
      kialiops.multicluster.cluster_info:
        cluster_name: hub
        kubeconfig: {kubeconfig}
        namespaces: [kube-system, no-such-namespace]
      register: info
    - name: A validation error
      kialiops.multicluster.cluster_info:
        cluster_name: hub
        kubeconfig: {kubeconfig}
        no_such_option: 1
      register: bad
      ignore_errors: true
    - name: A refusal naming the cluster and the fix (TLS off without the opt-in)
      kialiops.multicluster.cluster_info:
        cluster_name: hub
        kubeconfig: {kubeconfig}
        validate_certs: false
      register: refused
      ignore_errors: true
    - name: Keep the results
      ansible.builtin.copy:
        content: "{{{{ {{'info': info, 'bad': bad, 'refused': refused}} | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def run(lab, tmp_path, name, **env):
    out = tmp_path / (name + ".json")
    play = tmp_path / (name + ".yml")
    play.write_text(PLAY.format(kubeconfig=lab.dir / "hub.kubeconfig", out=out))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r = ansible_playbook("localhost,", "-vvv", "-c", "local", "-e",
                             "ansible_python_interpreter={{ ansible_playbook_python }}", playbook=str(play))
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert r.returncode == 0, r.stdout[-4000:]
    return json.loads(out.read_text()), r.stdout


def comparable(result):
    return {k: v for k, v in result.items() if k not in ("invocation", "_ansible_no_log")}


def kialiops_temp_dirs():
    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("kialiops-")}


def test_in_process_results_equal_the_modules_and_leave_no_file(lab, tmp_path):
    before = kialiops_temp_dirs()
    here, here_out = run(lab, tmp_path, "in-process")
    module, module_out = run(lab, tmp_path, "module", KIALIOPS_IN_PROCESS="0")
    # the module path builds AnsiballZ and starts an interpreter per task; in-process never does for ours
    assert module_out.count("plugins/modules/cluster_info.py") == 3, module_out[-3000:]
    assert "plugins/modules/cluster_info.py" not in here_out, here_out[-3000:]
    for key in ("info", "bad", "refused"):
        assert comparable(here[key]) == comparable(module[key]), (key, here[key], module[key])
    assert here["info"]["namespaces"] == {"kube-system": True, "no-such-namespace": False}
    assert here["bad"]["failed"] and "Unsupported parameters for (kialiops.multicluster.cluster_info) module: no_such_option" in here["bad"]["msg"]
    assert here["refused"]["failed"] and here["refused"]["cluster"] == "hub" and "allow_insecure" in here["refused"]["fix"]
    # the kubernetes client writes a kubeconfig's client key and certificates to temporary files: none is left
    assert kialiops_temp_dirs() <= before
