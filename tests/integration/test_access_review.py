"""kialiops.multicluster.access_review against the lab: with only the credential stored on the hub, every
permission of the expected role is allowed by the real remote API, and view-only means view-only."""
from __future__ import annotations

import base64

import pytest
import yaml
from kubernetes import client

from labkit import REPO, request_token, run_module, unique

RBAC = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.28.yml").read_text())["remote_prepare_rbac"]


def _prepare(lab, cluster, **options):
    """Kiali's SA + roles on ``cluster`` written by remote_access (view-only unless ``options`` say otherwise); a
    kubeconfig for a TokenRequest token stored on the hub by hand (the way the prepare script lays it out). Yields
    the setup, then removes it."""
    home, inst = unique("home"), unique("kiali")
    ns_remote, ns_hub = unique("kr"), unique("kh")
    conn = dict(cluster_name=cluster, kubeconfig=lab.kubeconfig(cluster), context=cluster)
    common = dict(home_cluster=home, namespace=ns_remote, instance_name=inst, rbac=RBAC, **options)
    result, out = run_module("remote_access", dict(conn, **dict(dict(view_only=True), **common)))
    assert not result.get("failed"), out[-3000:]
    sa = result["service_account"]["name"]
    token = request_token(lab.admin(cluster), ns_remote, sa)
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": cluster,
                  "clusters": [{"name": cluster, "cluster": {
                      "server": lab.server(cluster),
                      "certificate-authority-data": base64.b64encode(lab.ca_pem(cluster)).decode()}}],
                  "users": [{"name": cluster, "user": {"token": token}}],
                  "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}]}
    hub = client.CoreV1Api(lab.admin("hub"))
    hub.create_namespace({"metadata": {"name": ns_hub}})
    hub.create_namespaced_secret(ns_hub, {"metadata": {"name": "kiali-remote-cluster-secret-%s" % cluster},
                                          "data": {cluster: base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()}})
    review = dict(cluster_name="hub", kubeconfig=lab.kubeconfig("hub"), context="hub", namespace=ns_hub,
                  remote_cluster=cluster, home_cluster=home, remote_namespace=ns_remote, instance_name=inst,
                  rbac=RBAC)
    yield dict(conn=conn, common=common, review=review, token=token, sa=sa, ns_east=ns_remote, instance=inst)
    run_module("remote_access", dict(conn, **common, state="absent"))
    hub.delete_namespace(ns_hub)


@pytest.fixture
def prepared(lab):
    """east (plain Kubernetes)."""
    yield from _prepare(lab, "east")


@pytest.fixture
def prepared_west(lab):
    """west (OpenShift flavour in the lab), token auth."""
    yield from _prepare(lab, "west")


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


def test_openshift_tls_profile_read_is_checked_whatever_the_auth_strategy(lab, prepared_west):
    """On OpenShift Kiali reads apiservers.config.openshift.io (TLS config source auto, helm-charts
    clusterrole-openshift.yaml v2.28.0) with every auth strategy: the review expects it allowed with token auth,
    and a missing -openshift binding fails naming that permission."""
    result, out = run_module("access_review", prepared_west["review"])
    assert not result.get("failed"), out[-3000:]
    assert result["platform"] == "openshift" and result["summary"]["failed"] == 0
    by = {(c["verb"], c["group"], c["resource"]): c for c in result["checks"]}
    assert by[("get", "config.openshift.io", "apiservers")] == dict(
        by[("get", "config.openshift.io", "apiservers")], expected="allowed", actual="allowed")
    assert ("get", "oauth.openshift.io", "oauthclients") not in by  # only with auth strategy openshift
    extra = "%s-%s-openshift" % (prepared_west["instance"], prepared_west["ns_east"])
    client.RbacAuthorizationV1Api(lab.admin("west")).delete_cluster_role_binding(extra)
    failed, out = run_module("access_review", prepared_west["review"])
    assert failed.get("failed"), out[-2000:]
    assert "cluster west" in failed["msg"]
    assert "get apiservers.config.openshift.io (expected allowed, got denied)" in failed["msg"]
