"""playbooks/site.yml against the lab: it reports every cluster and never prints key material even at -vvvv.
Bad topologies (and every other bad input) are in the matrix of tests/reliability/test_bad_input.py."""
from __future__ import annotations

import base64
from pathlib import Path

import yaml

from kubernetes import client

from labkit import ansible_playbook, audit, remove_remote_access, unique


def line(stdout, name):
    """The summary line of one cluster."""
    summary = stdout.split("PLAY [Summary]")[1]
    return next(ln for ln in summary.splitlines() if ln.strip().startswith(name + " "))


def verified(stdout, name):
    """The last table (verify.yml's, site.yml's last step) has rows for the cluster, an rbac row, and all are OK."""
    table = stdout.split("kialiops verify:")[-1].split("\n\n")[0]
    rows = [ln for ln in table.splitlines() if ln.strip().startswith(name + " ")]
    return (any(" rbac " in ln and " OK " in ln for ln in rows)
            and all(" OK " in ln or " WARN " in ln for ln in rows))


def test_site_reports_every_cluster(lab):
    r = ansible_playbook(lab.dir / "inventory.yml")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "co-located; Kiali home: hub" in r.stdout
    for name in ("hub", "east", "west"):
        assert "v1.36.3" in line(r.stdout, name) and lab.server(name) in line(r.stdout, name)
    assert "openshift" in line(r.stdout, "west")
    for name in ("east", "west"):       # prepared: a bound credential, every permission verified
        assert "bound until 20" in line(r.stdout, name) and "verified below" in line(r.stdout, name)
        assert verified(r.stdout, name), r.stdout[-3000:]
    assert "Kiali CR istio-system/kiali on hub:" in r.stdout
    assert "mgmt" not in r.stdout.split("PLAY [Summary]")[1]      # lab_spare is not part of the mesh


def test_site_external_topology(lab):
    """mgmt hosts Kiali; hub, east and west are all read remotely (own instance name: the co-located
    test's objects on the spokes belong to home hub, and kialiops never takes those over)."""
    ns = unique("kiali-ext")
    core = client.CoreV1Api(lab.admin("mgmt"))
    core.create_namespace({"metadata": {"name": ns}})
    try:
        r = ansible_playbook(lab.dir / "inventory-external.yml", "-e", "kialiops_kiali_namespace=" + ns,
                             "-e", "kialiops_instance_name=" + ns)
        assert r.returncode == 0, r.stdout[-4000:]
        assert "external; Kiali home: mgmt" in r.stdout
        assert "Kiali CR %s/%s on mgmt:" % (ns, ns) in r.stdout
        crs = client.CustomObjectsApi(lab.admin("mgmt"))
        cr = crs.get_namespaced_custom_object("kiali.io", "v1alpha1", ns, "kialis", ns)
        assert cr["spec"]["clustering"]["ignore_home_cluster"] is True
        assert cr["spec"]["kubernetes_config"]["cluster_name"] == "mgmt"
        for name in ("hub", "east", "west"):
            assert verified(r.stdout, name), r.stdout[-3000:]
            sec = core.read_namespaced_secret("kiali-remote-cluster-secret-" + name, ns)
            assert sec.metadata.annotations["kiali.io/cluster"] == name
    finally:
        core.delete_namespace(ns)
        remove_remote_access(lab, ("hub", "east", "west"), home="mgmt")


def _inventory(lab, mutate) -> dict:
    inv = yaml.safe_load((lab.dir / "inventory.yml").read_text())
    mutate(inv["all"]["children"])
    return inv


def _set(ch, group, host, **kv):
    ch[group]["hosts"][host].update(kv)


def test_unreachable_cluster_is_named_and_others_still_report(lab, tmp_path):
    """With kialiops_stop_on_plan_failure=false (by default the plan stops the whole run: test_plan.py)."""
    inv = tmp_path / "inventory.yml"
    inv.write_text(yaml.safe_dump(_inventory(lab, lambda ch: _set(
        ch, "spoke", "east", kialiops_kubeconfig=str(_dead_kubeconfig(lab, tmp_path))))))
    r = ansible_playbook(inv, "-e", "kialiops_stop_on_plan_failure=false")
    assert r.returncode != 0
    assert "cluster east" in r.stdout and "127.0.0.1:1" in r.stdout
    summary = r.stdout.split("PLAY [Summary]")[1]
    failed = next(ln for ln in summary.splitlines() if "east FAILED:" in ln)
    assert "FAILED" not in line(r.stdout, "west") and verified(r.stdout, "west")
    assert "cluster east" in failed and "127.0.0.1:1" in failed
    assert "v1.36.3" in line(r.stdout, "west")


def _dead_kubeconfig(lab, tmp_path) -> Path:
    kc = yaml.safe_load(Path(lab.kubeconfig("east")).read_text())
    kc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    p = tmp_path / "dead.kubeconfig"
    p.write_text(yaml.safe_dump(kc))
    p.chmod(0o600)
    return p


def test_no_key_material_in_output_at_vvvv(lab):
    # force_rotate: the tokens stored at the end were minted during this very run
    r = ansible_playbook(lab.dir / "inventory.yml", "-vvvv", "--diff", "-e", "remote_prepare_force_rotate=true")
    assert r.returncode == 0, r.stdout[-3000:]
    out = r.stdout + r.stderr
    hub = client.CoreV1Api(lab.admin("hub"))
    for c in ("east", "west"):
        stored = hub.read_namespaced_secret("kiali-remote-cluster-secret-" + c, "istio-system").data[c]
        token = yaml.safe_load(base64.b64decode(stored))["users"][0]["user"]["token"]
        for secret in (stored, token, base64.b64encode(token.encode()).decode(), token.split(".")[2]):
            assert secret not in out, c
    assert "minted" in out       # the run did mint (and said so without the token)
    for c in lab.clusters:
        kc = yaml.safe_load(Path(lab.kubeconfig(c)).read_text())
        key_b64 = kc["users"][0]["user"]["client-key-data"]
        key_pem = base64.b64decode(key_b64).decode()
        body = "".join(key_pem.splitlines()[1:-1])
        for secret in (key_b64, body[:40], body[-40:]):
            assert secret not in out, c
    assert "PRIVATE KEY" not in out


def test_a_fourth_cluster_is_one_line_of_inventory(lab, tmp_path):
    """The README's promise: add `mgmt:` under spoke.hosts of the lab inventory (its connection is already there,
    in lab_spare) and site.yml onboards it; remove_cluster.yml takes it out again. Before that, `site.yml --check
    --diff` previews it: exit 0, no persisted write, "would" where a real run writes."""
    text = (lab.dir / "inventory.yml").read_text()
    marker = "    spoke:\n      hosts:\n"
    assert marker in text
    inv = tmp_path / "inventory.yml"
    inv.write_text(text.replace(marker, marker + "        mgmt:\n", 1))        # the one line
    hub = client.CoreV1Api(lab.admin("hub"))
    try:
        # the preview a careful user runs first: exit 0, nothing persisted anywhere, and it says "would"
        marks = lab.marks()
        r = ansible_playbook(inv, "--check", "--diff")
        assert r.returncode == 0, r.stdout[-5000:]
        assert "would mint bound (90 d)" in line(r.stdout, "mgmt") and "until" not in line(r.stdout, "mgmt")
        table = r.stdout.split("kialiops verify:")[-1].split("\n\n")[0]
        rows = [ln for ln in table.splitlines() if ln.strip().startswith("mgmt ")]
        assert rows and all(" OK " in ln for ln in rows), rows
        assert any("would mint a bound token valid 90 days" in ln for ln in rows), rows
        assert any("would be stored by this run" in ln for ln in rows), rows
        for c in lab.clusters:
            real = [e for e in audit.mutating(lab.audit(c).since(marks[c], settle=0.5))
                    if "dryRun=All" not in e.get("requestURI", "")]
            assert real == [], (c, real[:3])
        r = ansible_playbook(inv)
        assert r.returncode == 0, r.stdout[-5000:]
        assert "bound until 20" in line(r.stdout, "mgmt") and verified(r.stdout, "mgmt")
        secret = hub.read_namespaced_secret("kiali-remote-cluster-secret-mgmt", "istio-system")
        assert secret.metadata.annotations["kiali.io/cluster"] == "mgmt"
    finally:
        r = ansible_playbook(inv, "-e", '{"cluster_remove_clusters": ["mgmt"]}', playbook="remove_cluster.yml")
        assert r.returncode == 0, r.stdout[-3000:]
    assert [s.metadata.name for s in hub.list_namespaced_secret("istio-system").items
            if s.metadata.name.endswith("-mgmt")] == []
