"""The cluster_remove role (playbooks/remove_cluster.yml, and prune in site.yml) against the lab.

Kiali's home is mgmt (in group hub, label kialiops.io/home=mgmt), so these tests never touch what other tests
onboard for home hub; the spokes are east and west, each test with its own Kiali namespace, remote namespace
(created by kialiops, so removal must delete it) and instance name. What the run did is read back from the API
servers: every served kind is listed with the selector managed-by=kialiops,kialiops.io/home=mgmt, and the audit
logs count the writes."""
from __future__ import annotations

import re
import time

import pytest
import yaml
from kubernetes import client

from labkit import ansible_playbook, audit, labelled_objects, load_yaml, run_lab, run_module, unique

HOME = "mgmt"
SELECTOR = "app.kubernetes.io/managed-by=kialiops,kialiops.io/home=" + HOME
PER_CLUSTER = "kiali-remote-cluster-secret-%s"
SINGLE = "kiali-multi-cluster-secret"


class Mesh:
    """An inventory with mgmt as Kiali's home and east, west as spokes, and readers of what is on the lab."""

    def __init__(self, lab, tmp_path, secret_mode="per_cluster", token_mode="bound"):
        self.lab, self.tmp = lab, tmp_path
        self.ns = unique("kr")
        self.remote_ns = unique("kr-remote")
        self.mode, self.token_mode = secret_mode, token_mode
        client.CoreV1Api(lab.admin(HOME)).create_namespace({"metadata": {"name": self.ns}})

    def inventory(self, spokes=("east", "west"), spare=(), name="inventory.yml", hub_too=False, **hostvars):
        """mgmt as Kiali's home, ``spokes`` as its remotes (and the lab's hub as a third one with ``hub_too``)."""
        inv = load_yaml(self.lab.dir / "inventory.yml")
        ch = inv["all"]["children"]
        hosts = dict(ch["spoke"]["hosts"], **ch["lab_spare"]["hosts"])
        hub = ch["hub"]["hosts"]["hub-cluster"]
        ch["hub"]["hosts"] = {"mgmt-home": hosts["mgmt"]}
        ch["spoke"]["hosts"] = {s: dict(hosts[s], **hostvars.get(s, {})) for s in spokes}
        if hub_too:
            ch["spoke"]["hosts"]["hub-cluster"] = hub
        ch["lab_spare"]["hosts"] = {s: dict(hosts[s], **hostvars.get(s, {})) for s in spare} or None
        inv["all"]["vars"] = {**(inv["all"].get("vars") or {}), "kialiops_kiali_namespace": self.ns, "kialiops_remote_namespace": self.remote_ns,
                              "kialiops_instance_name": self.ns, "kialiops_secret_mode": self.mode,
                              "kialiops_token_mode": self.token_mode}
        path = self.tmp / name
        path.write_text(yaml.safe_dump(inv))
        return path

    def run(self, playbook, inventory=None, *args):
        return ansible_playbook(inventory or self.inventory(), *args, playbook=playbook)

    def remove(self, clusters, *args, inventory=None):
        return self.run("remove_cluster.yml", inventory, "-e", yaml.safe_dump(
            {"cluster_remove_clusters": list(clusters)}, default_flow_style=True).strip(), *args)

    # --- readers -------------------------------------------------------------------------------------------
    def left_on(self, cluster):
        """What is labelled for home mgmt on ``cluster``; a namespace being deleted counts until it is gone."""
        return labelled_objects(self.lab.admin(cluster), SELECTOR)

    def wait_clean(self, cluster, timeout=45):
        deadline = time.time() + timeout
        while True:
            left = self.left_on(cluster)
            if not left or time.time() > deadline:
                return left
            time.sleep(0.5)

    def secrets(self):
        """Cluster names stored on the home, by form."""
        core = client.CoreV1Api(self.lab.admin(HOME))
        per = sorted(s.metadata.annotations["kiali.io/cluster"] for s in core.list_namespaced_secret(
            self.ns, label_selector="kiali.io/multiCluster=true").items if s.metadata.name != SINGLE)
        try:
            single = sorted(core.read_namespaced_secret(SINGLE, self.ns).data or {})
        except client.ApiException as e:
            assert e.status == 404
            single = None
        return dict(per_cluster=per, single=single)

    def cr(self):
        return client.CustomObjectsApi(self.lab.admin(HOME)).get_namespaced_custom_object(
            "kiali.io", "v1alpha1", self.ns, "kialis", self.ns)

    def reconcile(self):
        return self.cr()["metadata"]["annotations"].get("kiali.io/reconcile")

    def cleanup(self):
        self.remove(["east", "west"])
        client.CoreV1Api(self.lab.admin(HOME)).delete_namespace(self.ns)


def writes(lab, marks, cluster, dry_run=False, settle=0.5):
    """Mutating requests since ``marks`` on ``cluster`` (access reviews left out); only dry-runs or only real.
    ``settle``: seconds the audit log must stop growing first (0: the log as it is now)."""
    events = audit.mutating(lab.audit(cluster).since(marks[cluster], settle=settle))
    return [e for e in events if ("dryRun=All" in e.get("requestURI", "")) == dry_run]


def describe(events):
    return sorted("%s %s/%s" % (e["verb"], e["objectRef"].get("resource"), e["objectRef"].get("name"))
                  for e in events)


def onboard(mesh, inventory=None):
    r = mesh.run("site.yml", inventory)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    for c in ("east", "west"):
        left = mesh.left_on(c)
        assert "Namespace " + mesh.remote_ns in left and any(o.startswith("ClusterRoleBinding ") for o in left), left
        if mesh.token_mode == "legacy":           # the token Secret is ours too, and must go
            assert any(o.startswith("Secret %s/" % mesh.remote_ns) for o in left), left
    return r


# per_cluster secrets with bound tokens; the single secret with legacy token Secrets on the remotes
@pytest.fixture(params=[("per_cluster", "bound"), ("single", "legacy")], ids=["per_cluster", "single"])
def mesh(request, lab, tmp_path):
    m = Mesh(lab, tmp_path, *request.param)
    yield m
    m.cleanup()


def test_remove_west_leaves_nothing_and_nudges_once(lab, mesh):
    onboard(mesh)
    # what an earlier run with the operator backend left on west: its remote-resources-only Kiali CR
    result, out = run_module("kiali_cr", dict(cluster_name="west", kubeconfig=lab.kubeconfig("west"), home_cluster=HOME,
                                              namespace=mesh.remote_ns, instance_name=mesh.ns,
                                              remote_resources_only=True))
    assert result.get("action") == "created", out[-3000:]
    assert "Kiali %s/%s" % (mesh.remote_ns, mesh.ns) in mesh.left_on("west")
    assert mesh.secrets()[mesh.mode] == ["east", "west"]
    before = mesh.reconcile()

    # --check --diff: says what it would do, and the servers only see dry-runs
    marks = lab.marks()
    checked = mesh.remove(["west"], "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", checked.stdout), checked.stdout[-2000:]
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
    assert writes(lab, marks, "west", dry_run=True), "check mode sent no dry-run deletions to west"
    assert mesh.secrets()[mesh.mode] == ["east", "west"] and mesh.reconcile() == before
    assert "Namespace " + mesh.remote_ns in mesh.left_on("west")

    marks = lab.marks()
    r = mesh.remove(["west"])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert mesh.wait_clean("west") == []
    assert "Namespace " + mesh.remote_ns in mesh.left_on("east")           # east untouched
    stored = mesh.secrets()
    assert stored[mesh.mode] == ["east"]
    assert stored["single" if mesh.mode == "per_cluster" else "per_cluster"] in (None, [])
    home_writes = describe(writes(lab, marks, HOME))
    if mesh.mode == "per_cluster":
        # the Secret deleted, then exactly one write of the Kiali CR: the reconcile digest changed once
        assert home_writes == sorted(["delete secrets/" + PER_CLUSTER % "west", "patch kialis/" + mesh.ns]), home_writes
        assert mesh.reconcile() != before
    else:
        # only west's key went; the operator restarts Kiali itself on a change of the labelled secret
        assert home_writes == ["patch secrets/" + SINGLE], home_writes
        assert mesh.reconcile() == before
    assert writes(lab, marks, "east") == [] and writes(lab, marks, "hub") == []
    assert "west" in r.stdout and "removed from %s" % mesh.mode in r.stdout

    marks = lab.marks()
    again = mesh.remove(["west"])
    assert again.returncode == 0, again.stdout[-4000:]
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
    assert "nothing stored" in again.stdout and "nothing left" in again.stdout


def test_remove_with_the_remote_api_server_stopped(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    try:
        onboard(mesh)
        before = mesh.reconcile()
        run_lab(["stop-apiserver", "west"])
        try:
            r = mesh.remove(["west"])
        finally:
            run_lab(["start-apiserver", "west"])
        out = r.stdout + r.stderr
        assert r.returncode != 0, out[-4000:]
        # the home side was cleaned although west was down, and the run says what is left and how to fix it
        assert mesh.secrets()["per_cluster"] == ["east"] and mesh.reconcile() != before
        assert "cluster west: removed from Kiali's home mgmt, but its own objects could not be removed" in out
        assert SELECTOR in out and "again once it is reachable" in out
        assert "NOT CLEANED" in out
        assert "Namespace " + mesh.remote_ns in mesh.left_on("west")     # really left behind

        # west is back: the rerun cleans it and changes nothing on the home
        marks = lab.marks()
        again = mesh.remove(["west"])
        assert again.returncode == 0, again.stdout[-4000:]
        assert mesh.wait_clean("west") == []
        assert writes(lab, marks, HOME) == []
    finally:
        mesh.cleanup()


def test_prune_removes_a_cluster_dropped_from_the_inventory(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    try:
        onboard(mesh)
        # west leaves the mesh but stays reachable in the inventory (any group outside hub/spoke/external)
        dropped = mesh.inventory(spokes=("east",), spare=("west",), name="dropped.yml")
        marks = lab.marks()
        r = mesh.run("site.yml", dropped, "-e", "kialiops_prune=true")
        assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
        assert mesh.secrets()["per_cluster"] == ["east"]
        assert mesh.wait_clean("west") == []
        assert "removed west: home per_cluster; cluster removed" in r.stdout
        assert writes(lab, marks, "east") == []

        # without a host for it, the home side is still pruned and the summary says the cluster was not looked at
        onboard(mesh)
        gone = mesh.inventory(spokes=("east",), name="gone.yml")
        r = mesh.run("site.yml", gone, "-e", "kialiops_prune=true")
        assert r.returncode == 0, r.stdout[-5000:]
        assert mesh.secrets()["per_cluster"] == ["east"]
        assert "removed west: home per_cluster; cluster not_in_inventory" in r.stdout
        assert mesh.left_on("west")                           # nothing could reach it: left, and said so

        marks = lab.marks()
        again = mesh.run("site.yml", gone, "-e", "kialiops_prune=true")
        assert again.returncode == 0, again.stdout[-4000:]
        for c in lab.clusters:
            assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
    finally:
        mesh.cleanup()


def test_bad_input_fails_before_anything_is_removed(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    try:
        inv = mesh.inventory()
        for clusters, words in ((["mgmt"], "lists Kiali's home cluster"), (["West_1"], "DNS-1123"),
                                ([], "nothing to remove")):
            marks = lab.marks()
            r = mesh.remove(clusters, inventory=inv)
            out = r.stdout + r.stderr
            assert r.returncode != 0 and words in out, (clusters, out[-3000:])
            for c in lab.clusters:
                assert writes(lab, marks, c) == [], (clusters, c)
    finally:
        client.CoreV1Api(lab.admin(HOME)).delete_namespace(mesh.ns)
