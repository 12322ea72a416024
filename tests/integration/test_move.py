"""Moving Kiali's home (site.yml): co-located on hub -> external on mgmt -> back, in both secret modes, on the lab.

Each mode converges once co-located, moves, reruns (0 mutating requests, audit logs), refuses a move whose former
home is unreachable (before any write, naming it) and moves back with kialiops_remove_old_home_cr=true. Kiali's
namespace and instance name are unique per test, so nothing another test made for home hub or mgmt is touched; the
final verify.yml step of site.yml proves that the new home holds a working credential for every remote."""
from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from labkit import ansible_playbook, labelled_objects, load_yaml, unique
from test_cluster_remove import describe, writes

REMOTES = ("east", "west")


def flat(text):
    """Ansible's output with the YAML callback's line wrapping and quote doubling undone."""
    return " ".join(text.split()).replace("''", "'")


class Move:
    """The two inventories of the move (the lab's, with this test's namespaces and modes) and readers."""

    def __init__(self, lab, tmp_path, secret_mode, token_mode):
        self.lab, self.tmp = lab, tmp_path
        self.ns, self.remote_ns = unique("mv"), unique("mv-remote")
        self.mode, self.token_mode = secret_mode, token_mode
        for home in ("hub", "mgmt"):
            client.CoreV1Api(lab.admin(home)).create_namespace({"metadata": {"name": self.ns}})

    def inventory(self, external, **extra):
        inv = load_yaml(self.lab.dir / ("inventory-external.yml" if external else "inventory.yml"))
        inv["all"]["vars"] = {**(inv["all"].get("vars") or {}), "kialiops_kiali_namespace": self.ns,
                              "kialiops_remote_namespace": self.remote_ns, "kialiops_instance_name": self.ns,
                              "kialiops_secret_mode": self.mode, "kialiops_token_mode": self.token_mode, **extra}
        path = self.tmp / ("external.yml" if external else "colocated.yml")
        path.write_text(yaml.safe_dump(inv))
        return path

    def site(self, inventory, *args):
        return ansible_playbook(inventory, *args, playbook="site.yml")

    def secrets(self, home):
        """Cluster names stored in Kiali's namespace on ``home``, in either form."""
        core = client.CoreV1Api(self.lab.admin(home))
        names = [s.metadata.annotations["kiali.io/cluster"] for s in core.list_namespaced_secret(
            self.ns, label_selector="kiali.io/multiCluster=true").items]
        try:
            names += list(core.read_namespaced_secret("kiali-multi-cluster-secret", self.ns).data or {})
        except client.ApiException as e:
            assert e.status == 404
        return sorted(names)

    def cr(self, home):
        try:
            return client.CustomObjectsApi(self.lab.admin(home)).get_namespaced_custom_object(
                "kiali.io", "v1alpha1", self.ns, "kialis", self.ns)
        except client.ApiException as e:
            assert e.status == 404
            return None

    def remote_objects(self, cluster, home):
        return [o for o in labelled_objects(self.lab.admin(cluster),
                                            "app.kubernetes.io/managed-by=kialiops,kialiops.io/home=" + home)
                if self.remote_ns in o or self.ns in o]

    def service_account(self, cluster):
        return client.CoreV1Api(self.lab.admin(cluster)).read_namespaced_service_account(self.ns, self.remote_ns)

    def token_secrets(self, cluster):
        return [s.metadata.name for s in client.CoreV1Api(self.lab.admin(cluster)).list_namespaced_secret(
            self.remote_ns).items if s.type == "kubernetes.io/service-account-token"]


@pytest.fixture(params=[("per_cluster", "bound"), ("single", "legacy")], ids=["per_cluster", "single"])
def move(request, lab, tmp_path):
    m = Move(lab, tmp_path, *request.param)
    yield m
    colocated = m.inventory(external=False)
    ansible_playbook(colocated, "-e", '{"cluster_remove_clusters": ["east", "west"]}', playbook="remove_cluster.yml")
    for home in ("hub", "mgmt"):
        client.CoreV1Api(lab.admin(home)).delete_namespace(m.ns)
    try:   # left on hub by its time as mgmt's remote (see below)
        client.CoreV1Api(lab.admin("hub")).delete_namespace(m.remote_ns)
    except client.ApiException as e:
        assert e.status == 404


def test_move_to_external_and_back(lab, move):
    colocated, external = move.inventory(external=False), move.inventory(external=True)
    r = move.site(colocated)
    assert r.returncode == 0, r.stdout[-5000:]
    assert move.secrets("hub") == ["east", "west"]
    uids = {c: move.service_account(c).metadata.uid for c in REMOTES}
    tokens = {c: move.token_secrets(c) for c in REMOTES}

    # hub -> mgmt: shown in the plan, done in one run, verify.yml (the last step) passes on every remote
    r = move.site(external)
    assert r.returncode == 0, r.stdout[-6000:]
    plan = flat(r.stdout.split("PLAY [Plan the Kiali CR")[0])
    assert "Kiali's home moves from hub to mgmt; would remove on hub the remote-cluster secrets of east, west" in plan
    assert "0 fail" in r.stdout.split("kialiops verify")[-1]
    assert move.secrets("mgmt") == ["east", "hub", "west"]
    assert move.secrets("hub") == [], "the old home still holds remote-cluster secrets"
    assert move.cr("hub") is not None and move.cr("mgmt") is not None      # the old CR is kept by default ...
    assert "delete kialis.kiali.io %s" % move.ns in flat(r.stdout)              # ... and reported with its command
    for c in REMOTES:   # re-owned, not duplicated: the same service account, no second legacy token Secret
        assert move.service_account(c).metadata.uid == uids[c]
        assert move.remote_objects(c, "hub") == [], move.remote_objects(c, "hub")
        assert move.token_secrets(c) == tokens[c]

    # the rerun changes nothing: 0 mutating requests on every cluster
    marks = lab.marks()
    r = move.site(external)
    assert r.returncode == 0, r.stdout[-5000:]
    assert "moves from" not in r.stdout
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))

    if move.mode == "per_cluster":
        # mgmt -> hub with mgmt unreachable: refused by the plan, naming mgmt, before any write anywhere
        broken = yaml.safe_load(colocated.read_text())
        broken["all"]["children"]["lab_spare"]["hosts"]["mgmt"]["kialiops_context"] = "no-such-context"
        bad = move.tmp / "broken.yml"
        bad.write_text(yaml.safe_dump(broken))
        marks = lab.marks()
        r = move.site(bad)
        assert r.returncode != 0
        assert "so nothing was written on any cluster" in r.stdout, r.stdout[-5000:]
        assert "Kiali's home is moving from mgmt to hub, and mgmt cannot be read" in flat(r.stdout), r.stdout[-5000:]
        for c in lab.clusters:
            assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))

    # mgmt -> hub, the old Kiali CR removed as asked; what mgmt's kialiops wrote on hub goes too
    r = move.site(colocated, "-e", "kialiops_remove_old_home_cr=true")
    assert r.returncode == 0, r.stdout[-6000:]
    assert "0 fail" in r.stdout.split("kialiops verify")[-1]
    assert move.secrets("hub") == ["east", "west"]
    assert move.secrets("mgmt") == []
    assert move.cr("mgmt") is None and move.cr("hub") is not None
    # the namespace is kept (keep_namespaces: it may be Kiali's own namespace on its new home)
    assert move.remote_objects("hub", "mgmt") == ["Namespace " + move.remote_ns]
    for c in REMOTES:
        assert move.service_account(c).metadata.uid == uids[c]
        assert move.remote_objects(c, "mgmt") == []
