"""Inventory plugin kialiops.multicluster.acm against the lab: ManagedClusters on the hub (the CRD is installed there,
upstream or the project's fixture) become the topology, and site.yml onboards east and west from it."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone

import pytest
import yaml
from kubernetes import client

from labkit import REPO, ansible_playbook, audit, unique

GROUP, VERSION, PLURAL = "cluster.open-cluster-management.io", "v1", "managedclusters"
ADMIN = "kialiops-admin"


def condition(status, reason):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "ManagedClusterConditionAvailable", "status": status, "reason": reason,
            "message": "set by the kialiops test", "lastTransitionTime": now}


@pytest.fixture(scope="module")
def acm(lab, tmp_path_factory):
    """ManagedClusters: local-cluster (hub), east, west, gone (unavailable), bad.name (not a DNS-1123 label),
    nocontext (no context in the lab kubeconfig); all labelled with a unique mesh label."""
    tag = unique("mesh")
    crs = client.CustomObjectsApi(lab.admin("hub"))
    made = {
        "local-cluster": (lab.server("hub"), "True", [{"name": "platform.open-cluster-management.io", "value": "Other"}]),
        "east": (lab.server("east"), "True", [{"name": "product.open-cluster-management.io", "value": "Kubernetes"}]),
        "west": (lab.server("west"), "True", [{"name": "product.open-cluster-management.io", "value": "OpenShift"},
                                              {"name": "platform.open-cluster-management.io", "value": "AWS"}]),
        "gone": ("https://gone.example.com:6443", "Unknown", []),
        "bad.name": (lab.server("east"), "True", []),
        "nocontext": (lab.server("east"), "True", []),
    }
    for name, (url, status, claims) in made.items():
        crs.create_cluster_custom_object(GROUP, VERSION, PLURAL, {
            "apiVersion": GROUP + "/" + VERSION, "kind": "ManagedCluster",
            "metadata": {"name": name, "labels": {"kialiops-test": tag, "tier": "gold"}},
            "spec": {"hubAcceptsClient": True, "managedClusterClientConfigs": [{"url": url}]}})
        reason = "ManagedClusterAvailable" if status == "True" else "ManagedClusterLeaseUpdateStopped"
        crs.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"status": {
            "conditions": [condition(status, reason)], "clusterClaims": claims}})
    # one more that the label selector leaves out
    crs.create_cluster_custom_object(GROUP, VERSION, PLURAL, {
        "apiVersion": GROUP + "/" + VERSION, "kind": "ManagedCluster",
        "metadata": {"name": "other-mesh", "labels": {"kialiops-test": "other"}}, "spec": {"hubAcceptsClient": True}})
    plugin = tmp_path_factory.mktemp("acm") / "lab.acm.yml"
    example = yaml.safe_load((REPO / "inventories" / "examples" / "acm-plugin" / "mesh.acm.yml").read_text())
    plugin.write_text(yaml.safe_dump({
        **example, "kubeconfig": lab.kubeconfig("hub"), "context": "hub", "label_selector": "kialiops-test=" + tag,
        # the lab's hub context is "hub", ACM's own name for it is local-cluster
        "compose": {"kialiops_context": "'hub' if inventory_hostname == 'local-cluster' else kialiops_context"},
        "keyed_groups": example["keyed_groups"] + [{"key": "kialiops_acm_labels.tier", "prefix": "tier"}]}))
    env = dict(os.environ, KIALIOPS_KUBECONFIG=str(lab.dir / "kubeconfig"))
    try:
        yield plugin, env
    finally:
        for name in list(made) + ["other-mesh"]:
            crs.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def plain(value):
    """ansible-inventory marks strings from an inventory plugin as unsafe ({"__ansible_unsafe": ...}): unwrap."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def ansible_inventory(plugin, env, **more):
    """``ansible-inventory -i <plugin> --list`` with exactly ``env`` (and ``more``) and the project's ansible.cfg."""
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-inventory"), "-i", str(plugin), "--list"], cwd=REPO,
                          env=dict(env, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **more),
                          capture_output=True, text=True, timeout=120, check=False)


def inventory_list(plugin, env):
    r = ansible_inventory(plugin, env)
    assert r.returncode == 0, r.stdout + r.stderr
    return plain(json.loads(r.stdout)), r.stderr


def test_inventory_groups_variables_and_warnings(lab, acm):
    plugin, env = acm
    inv, err = inventory_list(plugin, env)
    groups = {g: sorted(v.get("hosts", [])) for g, v in inv.items() if g != "_meta"}
    assert groups["hub"] == ["local-cluster"]
    assert groups["spoke"] == ["east", "west"]
    assert "external" not in groups or groups["external"] == []
    assert groups["acm_unavailable"] == ["gone"]
    assert groups["acm_invalid"] == ["bad.name"]
    assert groups["acm_unreachable"] == ["nocontext"]
    assert groups["tier_gold"] == sorted(["local-cluster", "east", "west", "gone", "bad.name", "nocontext"])
    assert groups["platform_openshift"] == ["west"] and groups["platform_kubernetes"] == ["east"]   # example's
    assert "other-mesh" not in inv["_meta"]["hostvars"]                      # the label selector
    hv = inv["_meta"]["hostvars"]
    assert hv["east"]["kialiops_cluster_name"] == "east"
    assert hv["east"]["kialiops_api_url"] == lab.server("east")
    assert hv["east"]["kialiops_context"] == "east" and hv["local-cluster"]["kialiops_context"] == "hub"
    assert hv["east"]["kialiops_kubeconfig"] == "{{ lookup('ansible.builtin.env', 'KIALIOPS_KUBECONFIG') }}"
    assert hv["east"]["kialiops_acm_platform"] == "kubernetes" and hv["west"]["kialiops_acm_platform"] == "openshift"
    assert hv["west"]["kialiops_acm_cloud"] == "AWS" and hv["west"]["kialiops_acm_labels"]["tier"] == "gold"
    assert "ManagedClusterLeaseUpdateStopped" in hv["gone"]["kialiops_acm_reason"]
    assert "DNS-1123" in hv["bad.name"]["kialiops_acm_reason"]
    warnings = " ".join(err.split())
    for name, group in (("gone", "acm_unavailable"), ("bad.name", "acm_invalid"), ("nocontext", "acm_unreachable")):
        assert "ManagedCluster %s is left out of the mesh (group %s)" % (name, group) in warnings, err


def test_site_onboards_east_and_west_then_is_silent(lab, acm):
    plugin, env = acm
    ns, remote_ns = unique("acm-kiali"), unique("acm-remote")
    hub = client.CoreV1Api(lab.admin("hub"))
    hub.create_namespace({"metadata": {"name": ns}})
    extra = ["-e", json.dumps({"kialiops_kiali_namespace": ns, "kialiops_instance_name": ns,
                               "kialiops_remote_namespace": remote_ns, "kialiops_auth_strategy": "anonymous"})]
    mesh_kubeconfig = {"KIALIOPS_KUBECONFIG": env["KIALIOPS_KUBECONFIG"]}
    try:
        r = ansible_playbook(plugin, *extra, env=mesh_kubeconfig)
        assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
        for name in ("east", "west"):
            secret = hub.read_namespaced_secret("kiali-remote-cluster-secret-" + name, ns)
            assert secret.metadata.annotations["kiali.io/cluster"] == name
        marks = {c: lab.audit(c).mark() for c in ("hub", "east", "west")}
        r = ansible_playbook(plugin, *extra, env=mesh_kubeconfig)
        assert r.returncode == 0, r.stdout[-5000:]
        for c in marks:
            writes = audit.mutating(lab.audit(c).since(marks[c]), ADMIN)
            assert writes == [], (c, writes[:3])
    finally:
        r = ansible_playbook(plugin, *extra, "-e", '{"cluster_remove_clusters": ["east", "west"]}',
                             playbook="remove_cluster.yml", env=mesh_kubeconfig)
        hub.delete_namespace(ns)
        assert r.returncode == 0, r.stdout[-3000:]


def test_explicit_cluster_kubeconfig_and_context_template(lab, acm, tmp_path):
    """cluster_kubeconfig names the file (no KIALIOPS_KUBECONFIG needed) and context_template the contexts: a copy of
    the lab kubeconfig whose contexts are <cluster>-admin; a cluster without such a context is left out, by name."""
    plugin, env = acm
    kc = yaml.safe_load((lab.dir / "kubeconfig").read_text())
    for ctx in kc["contexts"]:
        ctx["name"] += "-admin"
    kc["contexts"] = [c for c in kc["contexts"] if c["name"] != "west-admin"]
    path = tmp_path / "mesh.kubeconfig"
    path.write_text(yaml.safe_dump(kc))
    own = tmp_path / "own.acm.yml"
    doc = yaml.safe_load(plugin.read_text())
    doc.update(cluster_kubeconfig=str(path), context_template="{name}-admin",
               compose={"kialiops_context": "'hub-admin' if inventory_hostname == 'local-cluster' else kialiops_context"})
    own.write_text(yaml.safe_dump(doc))
    inv, err = inventory_list(own, {k: v for k, v in env.items() if k != "KIALIOPS_KUBECONFIG"})
    hv = inv["_meta"]["hostvars"]
    assert hv["east"]["kialiops_kubeconfig"] == str(path) and hv["east"]["kialiops_context"] == "east-admin"
    assert sorted(inv["spoke"]["hosts"]) == ["east"] and "west" in inv["acm_unreachable"]["hosts"]
    assert "ManagedCluster west is left out of the mesh (group acm_unreachable)" in " ".join(err.split()), err


def awx_injection(credential_file) -> dict:
    """The environment the credential type of awx/vars/objects.yml gives an inventory update (and a job): each
    variable it injects, naming the file AWX writes the credential's kubeconfig to."""
    objects = yaml.safe_load((REPO / "awx" / "vars" / "objects.yml").read_text().replace("!unsafe ", ""))
    injectors = objects["kialiops_awx_credential_type"]["injectors"]
    assert list(injectors["file"]) == ["template.kubeconfig"]
    assert set(injectors["env"].values()) == {"{{ tower.filename.kubeconfig }}"}
    return {name: str(credential_file) for name in injectors["env"]}


def test_awx_inventory_source_needs_only_what_the_credential_injects(lab, acm, tmp_path):
    """The inventory source of awx/configure.yml as AWX runs it: the example plugin file as it is (only the label
    selector is the lab's), no connection in the environment but what the credential type injects, and the
    credential's kubeconfig as users upload it: a context per cluster named after its ManagedCluster (the hub's is
    local-cluster), whatever the current context. The result is the topology, and validate.yml accepts it."""
    plugin, env = acm
    kc = yaml.safe_load((lab.dir / "kubeconfig").read_text())
    for ctx in kc["contexts"]:
        ctx["name"] = "local-cluster" if ctx["name"] == "hub" else ctx["name"]
    kc["current-context"] = "east"
    credential = tmp_path / "credential.kubeconfig"
    credential.write_text(yaml.safe_dump(kc))
    credential.chmod(0o600)
    example = yaml.safe_load((REPO / "inventories" / "examples" / "acm-plugin" / "mesh.acm.yml").read_text())
    source = tmp_path / "mesh.acm.yml"
    source.write_text(yaml.safe_dump(dict(example, label_selector=yaml.safe_load(plugin.read_text())["label_selector"])))
    bare = {k: v for k, v in env.items() if not k.startswith("K8S_AUTH_") and k != "KIALIOPS_KUBECONFIG"}
    injected = awx_injection(credential)
    inv, err = inventory_list(source, dict(bare, **injected))
    groups = {g: sorted(v.get("hosts", [])) for g, v in inv.items() if g != "_meta"}
    assert groups["hub"] == ["local-cluster"] and groups["spoke"] == ["east", "west"], groups
    assert groups["acm_unavailable"] == ["gone"] and groups["acm_invalid"] == ["bad.name"]
    assert groups["acm_unreachable"] == ["nocontext"]
    hv = inv["_meta"]["hostvars"]
    assert hv["local-cluster"]["kialiops_context"] == "local-cluster" and hv["east"]["kialiops_context"] == "east"
    assert hv["east"]["kialiops_kubeconfig"] == "{{ lookup('ansible.builtin.env', 'KIALIOPS_KUBECONFIG') }}"
    assert "ManagedCluster nocontext is left out of the mesh (group acm_unreachable)" in " ".join(err.split()), err
    r = ansible_playbook(source, playbook="validate.yml", env=injected)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_no_cluster_kubeconfig_is_a_clear_error(acm):
    plugin, env = acm
    r = ansible_inventory(plugin, {k: v for k, v in env.items() if k != "KIALIOPS_KUBECONFIG"},
                          ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    out = " ".join((r.stdout + r.stderr).split())
    assert r.returncode != 0 and "set cluster_kubeconfig, or KIALIOPS_KUBECONFIG" in out, out[-2000:]
