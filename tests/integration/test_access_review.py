"""kialiops.multicluster.access_review against the lab: with only the credential stored on the hub, every
permission of the expected role is allowed by the real remote API, and view-only means view-only."""
from __future__ import annotations

import base64

import pytest
import yaml
from kubernetes import client

from labkit import REPO, request_token, run_module, unique

RBAC = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.28.yml").read_text())["remote_prepare_rbac"]


@pytest.fixture
def prepared(lab):
    """Kiali's SA + roles on east written by remote_access; a kubeconfig for a TokenRequest token stored
    on the hub by hand (the way the prepare script lays it out)."""
    home, inst = unique("home"), unique("kiali")
    ns_east, ns_hub = unique("kr"), unique("kh")
    conn = dict(cluster_name="east", kubeconfig=lab.kubeconfig("east"), context="east")
    common = dict(home_cluster=home, namespace=ns_east, instance_name=inst, rbac=RBAC)
    result, out = run_module("remote_access", dict(conn, **common, view_only=True))
    assert not result.get("failed"), out[-3000:]
    sa = result["service_account"]["name"]
    token = request_token(lab.admin("east"), ns_east, sa)
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "east",
                  "clusters": [{"name": "east", "cluster": {
                      "server": lab.server("east"),
                      "certificate-authority-data": base64.b64encode(lab.ca_pem("east")).decode()}}],
                  "users": [{"name": "east", "user": {"token": token}}],
                  "contexts": [{"name": "east", "context": {"cluster": "east", "user": "east"}}]}
    hub = client.CoreV1Api(lab.admin("hub"))
    hub.create_namespace({"metadata": {"name": ns_hub}})
    hub.create_namespaced_secret(ns_hub, {"metadata": {"name": "kiali-remote-cluster-secret-east"},
                                          "data": {"east": base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()}})
    review = dict(cluster_name="hub", kubeconfig=lab.kubeconfig("hub"), context="hub", namespace=ns_hub,
                  remote_cluster="east", home_cluster=home, remote_namespace=ns_east, instance_name=inst,
                  rbac=RBAC)
    yield dict(conn=conn, common=common, review=review, token=token, sa=sa, ns_east=ns_east)
    run_module("remote_access", dict(conn, **common, state="absent"))
    hub.delete_namespace(ns_hub)


def test_view_only_credential_passes_and_reports_reads_and_denied_writes(prepared):
    result, out = run_module("access_review", prepared["review"])
    assert not result.get("failed"), out[-3000:]
    s = result["summary"]
    assert s["failed"] == 0 and s["total"] == s["passed"] > 50 and s["writes"] > 10
    assert result["identity"] == "system:serviceaccount:%s:%s" % (prepared["ns_east"], prepared["sa"])
    assert result["role_kind"] == "viewer" and result["platform"] == "kubernetes"
    by = {(c["verb"], c["group"], c["resource"]): c for c in result["checks"]}
    assert by[("list", "networking.istio.io", "virtualservices")]["actual"] == "allowed"
    assert by[("patch", "apps", "deployments")] == dict(by[("patch", "apps", "deployments")], expected="denied",
                                                        actual="denied")
    assert by[("create", "", "pods/portforward")]["actual"] == "allowed"
    assert prepared["token"] not in out


def test_a_write_grant_on_a_view_only_credential_fails_naming_it(lab, prepared):
    rbac = client.RbacAuthorizationV1Api(lab.admin("east"))
    name = unique("too-much")
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": prepared["sa"], "namespace": prepared["ns_east"]}]})
    try:
        result, out = run_module("access_review", prepared["review"])
        assert result.get("failed"), out[-2000:]
        assert "cluster east" in result["msg"] and "patch deployments.apps (expected denied, got allowed)" in result["msg"]
        assert "remote_prepare" in result["msg"]
        report, dummy_out = run_module("access_review", dict(prepared["review"], fail_on_mismatch=False))
        assert not report.get("failed") and report["summary"]["failed"] > 0
        assert all(f["expected"] == "denied" and f["write"] for f in report["failures"])
    finally:
        rbac.delete_cluster_role_binding(name)


def test_full_mode_expected_but_viewer_written_fails(prepared):
    result, dummy_out = run_module("access_review", dict(prepared["review"], view_only=False, auth_strategy="anonymous"))
    assert result.get("failed")
    assert "expected allowed, got denied" in result["msg"]


def test_missing_secret_names_the_fix(prepared):
    result, dummy_out = run_module("access_review", dict(prepared["review"], remote_cluster="west"))
    assert result.get("failed") and "cluster hub" in result["msg"] and "remote_prepare" in result["msg"]


def test_revoked_token_is_a_clear_401(lab, prepared):
    client.CoreV1Api(lab.admin("east")).delete_namespaced_service_account(prepared["sa"], prepared["ns_east"])
    result, out = run_module("access_review", prepared["review"])
    assert result.get("failed") and "401" in result["msg"] and "cluster east" in result["msg"], out[-2000:]
    assert prepared["token"] not in out
