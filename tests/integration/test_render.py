"""GitOps export (kialiops_render_dir) against the lab: site.yml writes every manifest it would apply into files,
one per object with stable names, applies nothing (the audit logs show only dry-runs), leaves secret values out
unless asked, and the files it writes are what an apply of the real run produces."""
from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml
from kubernetes import config
from kubernetes.dynamic import DynamicClient

from labkit import audit, whoami
from test_cluster_remove import HOME, Mesh, describe, onboard


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))


def read(root, cluster, name):
    return yaml.safe_load((root / cluster / name).read_text())


def real_writes(lab, marks, cluster):
    events = audit.mutating(lab.audit(cluster).since(marks[cluster], settle=0.5))
    return [e for e in events if "dryRun=All" not in e.get("requestURI", "")]


@pytest.fixture
def mesh(lab, tmp_path):
    m = Mesh(lab, tmp_path)
    yield m
    m.cleanup()


def test_export_writes_every_manifest_and_applies_nothing(lab, mesh, tmp_path):
    out = tmp_path / "gitops"
    marks = lab.marks()
    r = mesh.run("site.yml", None, "-e", "kialiops_render_dir=%s" % out)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    for c in lab.clusters:
        assert real_writes(lab, marks, c) == [], (c, describe(real_writes(lab, marks, c)))
    names = files(out)
    ns, rns, inst = mesh.ns, mesh.remote_ns, mesh.ns
    for cluster in ("east", "west"):
        for wanted in ("namespace_cluster_%s.yaml" % rns, "serviceaccount_%s_%s.yaml" % (rns, inst),
                       "clusterrole_cluster_%s-viewer.yaml" % inst, "clusterrolebinding_cluster_%s-viewer.yaml" % inst):
            assert "%s/%s" % (cluster, wanted) in names, (wanted, names)
        secret = read(out, HOME, "secret_%s_kiali-remote-cluster-secret-%s.yaml" % (ns, cluster))
        assert "data" not in secret and secret["metadata"]["annotations"]["kialiops.io/rendered-without-data"] == cluster
        assert secret["metadata"]["labels"]["kiali.io/multiCluster"] == "true"
    cr = read(out, HOME, "kiali_%s_%s.yaml" % (ns, inst))
    assert cr["kind"] == "Kiali" and cr["spec"]["deployment"]["instance_name"] == inst
    for doc in (yaml.safe_load((out / n).read_text()) for n in names):
        assert not {"resourceVersion", "uid", "managedFields"} & set(doc["metadata"]), doc["metadata"]
    # nothing exists on the clusters
    assert mesh.left_on("east") == [] and mesh.secrets()["per_cluster"] == []

    # a second export writes the same files, byte for byte
    before = {n: (out / n).read_bytes() for n in names}
    again = mesh.run("site.yml", None, "-e", "kialiops_render_dir=%s" % out)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {n: (out / n).read_bytes() for n in files(out)} == before

    # the exported objects are what the real run writes: apply the run, then compare field by field
    onboard(mesh)
    for name in names:
        cluster = name.split("/")[0]
        doc = yaml.safe_load((out / name).read_text())
        res = DynamicClient(lab.admin(cluster)).resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        got = res.get(name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace")).to_dict()
        for key in ("labels", "annotations"):
            for k, v in (doc["metadata"].get(key) or {}).items():
                if k == "kialiops.io/rendered-without-data":
                    assert sorted((got.get("data") or {})) == v.split(","), name
                # the real run minted at another instant; the reconcile digest covers the secrets' data, which an
                # export without secrets cannot know, and so does the spec digest (the spec holds the credentials
                # digest in deployment.pod_annotations)
                elif not k.startswith("kialiops.io/token-") and k not in ("kiali.io/reconcile", "kialiops.io/spec-digest"):
                    assert (got["metadata"].get(key) or {}).get(k) == v, (name, k)
        for field in ("rules", "roleRef", "subjects"):
            if field in doc:
                assert got[field] == doc[field], (name, field)


def test_export_with_secrets_holds_a_working_credential(lab, mesh, tmp_path):
    onboard(mesh)                                 # exporting what runs: the service accounts exist
    out = tmp_path / "gitops"
    r = mesh.run("site.yml", None, "-e", "kialiops_render_dir=%s" % out, "-e", "kialiops_render_secrets=true")
    assert r.returncode == 0, r.stdout[-5000:]
    path = out / HOME / ("secret_%s_kiali-remote-cluster-secret-east.yaml" % mesh.ns)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = yaml.safe_load(path.read_text())
    kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["east"]))
    token = kubeconfig["users"][0]["user"]["token"]
    assert token not in r.stdout + r.stderr
    api = config.new_client_from_config_dict(kubeconfig)
    api.configuration.proxy = None
    assert whoami(api) == "system:serviceaccount:%s:%s" % (mesh.remote_ns, mesh.ns)


def test_export_refuses_a_directory_it_did_not_make(lab, mesh, tmp_path):
    out = tmp_path / "repo"
    out.mkdir()
    (out / "README.md").write_text("my repository\n")
    marks = lab.marks()
    r = mesh.run("site.yml", None, "-e", "kialiops_render_dir=%s" % out)
    assert r.returncode != 0 and "is no kialiops export" in r.stdout, r.stdout[-3000:]
    assert (out / "README.md").read_text() == "my repository\n"
    for c in lab.clusters:
        assert real_writes(lab, marks, c) == [], c
