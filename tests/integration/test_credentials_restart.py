"""Credential changes reach the running Kiali exactly once (README, Rotation sequence), on the lab.

Kiali builds its client for each remote once, at start (kiali v2.28.0 kubernetes/client_factory.go,
NewClientFactory); the operator turns a new spec.deployment.pod_annotations entry into one rolling restart
(kiali-operator v2.28.0 roles/default/kiali-deploy/templates/*/deployment.yaml, lines 40-41). So every change of a
stored credential must change the CR's credentials digest exactly once (one CR write), a run with nothing new sends
no mutating request, --check predicts the change without writing, and a rotated legacy token's old Secret is deleted
only after the CR carries the new digest.

One converge (site.yml) for the module: Kiali co-located on mgmt (its own home, so nothing of the other tests' home hub
is touched), in its own namespace and instance name, east with a legacy token, west with a bound one; the tests then
run in file order on that state.
"""
from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from labkit import ansible_playbook, audit, b64d, run_module, unique

ADMIN = "kialiops-admin"
DIGEST = "kialiops.io/credentials-digest"
ISTIO = "proxy.istio.io/config"
CLUSTERS = ("mgmt", "east", "west")
HOME = "mgmt"


class Mesh:
    def __init__(self, lab, tmp):
        self.lab, self.ns = lab, unique("kr")
        self.inst = self.ns
        inv = yaml.safe_load((lab.dir / "inventory.yml").read_text())
        children = inv["all"]["children"]
        children["hub"]["hosts"] = {"mgmt": children["lab_spare"]["hosts"].pop("mgmt")}
        children["spoke"]["hosts"]["east"]["kialiops_token_mode"] = "legacy"
        inv["all"]["vars"] = dict(inv["all"].get("vars") or {}, kialiops_kiali_namespace=self.ns,
                                  kialiops_instance_name=self.inst, kialiops_auth_strategy="anonymous")
        self.inventory = tmp / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump(inv))
        self.core = {c: client.CoreV1Api(lab.admin(c)) for c in CLUSTERS}

    def play(self, playbook, *args):
        r = ansible_playbook(self.inventory, *args, playbook=playbook)
        assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
        return r

    def cr(self):
        return client.CustomObjectsApi(self.lab.admin(HOME)).get_namespaced_custom_object(
            "kiali.io", "v1alpha1", self.ns, "kialis", self.inst)

    def digest(self):
        return self.cr()["spec"]["deployment"]["pod_annotations"][DIGEST]

    def marks(self):
        return {c: self.lab.audit(c).mark() for c in CLUSTERS}

    def events(self, marks):
        return {c: self.lab.audit(c).since(marks[c]) for c in CLUSTERS}

    def token_secrets(self):
        """Legacy token Secret names of Kiali's service account on east -> token."""
        found = self.core["east"].list_namespaced_secret(
            "istio-system", field_selector="type=kubernetes.io/service-account-token").items
        return {s.metadata.name: b64d(s.data["token"]) for s in found
                if s.metadata.name.startswith(self.inst + "-kialiops-token") and (s.data or {}).get("token")}

    def stored_token(self, cluster):
        sec = self.core[HOME].read_namespaced_secret("kiali-remote-cluster-secret-" + cluster, self.ns)
        return yaml.safe_load(b64d(sec.data[cluster]))["users"][0]["user"]["token"]


def writes(events, real=True):
    """Mutating requests by kialiops' admin (reviews left out); real writes, or dry-runs with real=False."""
    return {c: [e for e in audit.mutating(evs, ADMIN) if ("dryRun=All" in e.get("requestURI", "")) != real]
            for c, evs in events.items()}


def cr_writes(events, ns):
    return [e for e in writes(events)[HOME]
            if (e.get("objectRef") or {}).get("resource") == "kialis" and e["objectRef"].get("namespace") == ns]


@pytest.fixture(scope="module")
def mesh(lab, tmp_path_factory):
    m = Mesh(lab, tmp_path_factory.mktemp("restart"))
    m.core[HOME].create_namespace({"metadata": {"name": m.ns}})
    try:
        m.play("site.yml")
        yield m
    finally:
        m.play("remove_cluster.yml", "-e", '{"cluster_remove_clusters": ["east", "west"]}',
               "-e", "cluster_remove_require_targets=false")
        client.CustomObjectsApi(lab.admin(HOME)).delete_namespaced_custom_object(
            "kiali.io", "v1alpha1", m.ns, "kialis", m.inst)
        m.core[HOME].delete_namespace(m.ns)


def assert_once(mesh, marks, before):
    """The digest changed, in exactly one write of the Kiali CR, and the reconcile annotation with it."""
    ev = mesh.events(marks)
    after = mesh.digest()
    assert after != before
    assert len(cr_writes(ev, mesh.ns)) == 1, cr_writes(ev, mesh.ns)
    assert mesh.cr()["metadata"]["annotations"]["kiali.io/reconcile"] == after
    return ev, after


def assert_silent(mesh, playbook, *args):
    marks = mesh.marks()
    mesh.play(playbook, *args)
    assert writes(mesh.events(marks)) == {c: [] for c in CLUSTERS}


def test_converge_writes_the_digest_and_keeps_the_istio_default(mesh):
    cr = mesh.cr()
    pods = cr["spec"]["deployment"]["pod_annotations"]
    assert pods == {DIGEST: cr["metadata"]["annotations"]["kiali.io/reconcile"],
                    ISTIO: '{ "holdApplicationUntilProxyStarts": true }'}
    owners = [m for m in cr["metadata"]["managedFields"] if "f:pod_annotations" in str(m.get("fieldsV1"))]
    assert [m["manager"] for m in owners] == ["kialiops"]
    assert list(mesh.token_secrets()) == [mesh.inst + "-kialiops-token"]


def test_noop_rerun_sends_no_mutating_request(mesh):
    assert_silent(mesh, "prepare.yml")   # (rotate_tokens.yml: after the forced rotation below)


def test_check_predicts_a_forced_rotation_without_writing(mesh):
    before, secrets = mesh.digest(), mesh.token_secrets()
    marks = mesh.marks()
    r = mesh.play("rotate_tokens.yml", "--check", "-e", "remote_prepare_force_rotate=true")
    ev = mesh.events(marks)
    assert writes(ev) == {c: [] for c in CLUSTERS}
    assert any(e["objectRef"].get("resource") == "kialis" for e in writes(ev, real=False)[HOME])
    tell = r.stdout.split("Tell Kiali")[1].split("PLAY [")[0]
    assert "changed: [localhost]" in tell, tell
    assert mesh.digest() == before and mesh.token_secrets() == secrets


def test_forced_rotation_restarts_once_and_the_old_legacy_token_goes_only_after(mesh):
    before = mesh.digest()
    old = mesh.token_secrets()
    marks = mesh.marks()
    mesh.play("rotate_tokens.yml", "-e", "remote_prepare_force_rotate=true")
    ev = assert_once(mesh, marks, before)[0]
    new = mesh.token_secrets()
    assert list(new) == [mesh.inst + "-kialiops-token-b"] and set(old) == {mesh.inst + "-kialiops-token"}
    assert mesh.stored_token("east") == new[mesh.inst + "-kialiops-token-b"]
    # order: the new token Secret created and stored, the CR patched, only then the old token Secret deleted
    cr_at = cr_writes(ev, mesh.ns)[0]["stageTimestamp"]
    deletes = [e for e in writes(ev)["east"] if e["verb"] == "delete" and e["objectRef"].get("resource") == "secrets"]
    assert [e["objectRef"]["name"] for e in deletes] == [mesh.inst + "-kialiops-token"]
    assert deletes[0]["requestReceivedTimestamp"] > cr_at
    stored_at = [e["stageTimestamp"] for e in writes(ev)[HOME]
                 if e["objectRef"].get("name") == "kiali-remote-cluster-secret-east"]
    assert stored_at and max(stored_at) < cr_at
    assert_silent(mesh, "rotate_tokens.yml")


def test_a_re_minted_legacy_token_restarts_once(mesh):
    before = mesh.digest()
    for name in mesh.token_secrets():
        mesh.core["east"].delete_namespaced_secret(name, "istio-system")
    marks = mesh.marks()
    mesh.play("prepare.yml")
    assert_once(mesh, marks, before)
    assert list(mesh.token_secrets().values()) == [mesh.stored_token("east")]


def test_a_switch_to_bound_tokens_revokes_the_legacy_one_only_after_kiali_was_told(mesh):
    """east moves from a legacy token to a bound one: the long-lived token Secret kialiops made is superseded like a
    rotated one - deleted after the CR carries the new digest (Kiali keeps the token it read at start: kiali v2.28.0
    kubernetes/client_factory.go, NewClientFactory), so the old token stops working and nothing long-lived is left."""
    before, old = mesh.digest(), mesh.token_secrets()
    assert len(old) == 1, old
    (old_name, old_token), = old.items()
    inv = yaml.safe_load(mesh.inventory.read_text())
    inv["all"]["children"]["spoke"]["hosts"]["east"]["kialiops_token_mode"] = "bound"
    mesh.inventory.write_text(yaml.safe_dump(inv))
    marks = mesh.marks()
    mesh.play("prepare.yml", "--check")
    assert writes(mesh.events(marks)) == {c: [] for c in CLUSTERS} and mesh.token_secrets() == old
    marks = mesh.marks()
    mesh.play("prepare.yml")
    ev = assert_once(mesh, marks, before)[0]
    assert mesh.token_secrets() == {}
    stored = mesh.stored_token("east")
    assert stored != old_token
    deletes = [e for e in writes(ev)["east"] if e["verb"] == "delete" and e["objectRef"].get("resource") == "secrets"]
    assert [e["objectRef"]["name"] for e in deletes] == [old_name]
    assert deletes[0]["requestReceivedTimestamp"] > cr_writes(ev, mesh.ns)[0]["stageTimestamp"]
    # the old long-lived token is revoked; the stored bound one works
    review = client.AuthenticationV1Api(mesh.lab.admin("east"))
    for token, ok in ((old_token, False), (stored, True)):
        status = review.create_token_review({"spec": {"token": token}}).status
        assert bool(status.authenticated) is ok, status
    assert_silent(mesh, "prepare.yml")


def test_a_changed_server_url_restarts_once(mesh):
    before = mesh.digest()
    url = mesh.lab.server("west").replace("127.0.0.1", "localhost")
    args = ("-e", "remote_prepare_verify=false")
    inv = yaml.safe_load(mesh.inventory.read_text())
    inv["all"]["children"]["spoke"]["hosts"]["west"]["kialiops_api_url"] = url
    mesh.inventory.write_text(yaml.safe_dump(inv))
    marks = mesh.marks()
    mesh.play("prepare.yml", *args)
    assert_once(mesh, marks, before)


def test_a_removed_cluster_restarts_once(mesh):
    before = mesh.digest()
    args = ("-e", '{"cluster_remove_clusters": ["west"]}')
    marks = mesh.marks()
    mesh.play("remove_cluster.yml", "--check", *args)
    ev = mesh.events(marks)
    assert writes(ev) == {c: [] for c in CLUSTERS} and mesh.digest() == before
    assert any(e["objectRef"].get("resource") == "kialis" for e in writes(ev, real=False)[HOME])
    marks = mesh.marks()
    mesh.play("remove_cluster.yml", *args)
    assert_once(mesh, marks, before)


def test_helm_home_without_the_crd_reports_the_digest(mesh):
    """east serves no Kiali CRD (Kiali installed by helm): create=false reports the digest, writes nothing."""
    res, out = run_module("kiali_cr", dict(cluster_name="east", kubeconfig=mesh.lab.kubeconfig("east"),
                                           context="east", namespace="istio-system", create=False))
    assert res.get("failed") is not True and res["action"] == "absent", out
    assert len(res["credentials_digest"]) == 16
