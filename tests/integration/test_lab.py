"""The lab is real: tokens, RBAC, controllers, CRD validation and audit logs of real API servers."""
from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from labkit import audit, b64d, labtool, request_token, unique, wait_refused, whoami


@pytest.fixture
def ns(lab):
    """A fresh namespace on hub, deleted afterwards."""
    name = unique("labtest")
    core = client.CoreV1Api(lab.admin("hub"))
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def wait(fn, timeout=15.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def test_status_healthy_and_versions(lab):
    st = labtool.status()
    assert st["healthy"], st
    assert set(st["clusters"]) == set(lab.clusters)
    for name, c in st["clusters"].items():
        assert c["version"] == labtool.K8S_VERSION, (name, c)
        assert all(c["processes"].values()) and len(c["processes"]) == 3


def test_token_request_authenticates_and_rbac_denies(lab, ns):
    admin = lab.admin("hub")
    core = client.CoreV1Api(admin)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "reader"}})
    token = request_token(admin, ns, "reader")
    mark = lab.audit("hub").mark()
    sa_api = lab.with_token("hub", token)
    assert whoami(sa_api) == "system:serviceaccount:%s:reader" % ns
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(sa_api).list_namespaced_secret(ns)
    assert denied.value.status == 403
    # bound to the aggregated `view` role (clusterrole-aggregation controller): ConfigMaps yes, Secrets no
    client.RbacAuthorizationV1Api(admin).create_namespaced_role_binding(ns, {
        "metadata": {"name": "reader-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})
    wait(lambda: _can_list_configmaps(sa_api, ns), what="view binding to take effect")
    with pytest.raises(ApiException) as still_denied:
        client.CoreV1Api(sa_api).list_namespaced_secret(ns)
    assert still_denied.value.status == 403

    # the audit log shows the denied request with the SA's name and 403, and never a body or the token
    user = "system:serviceaccount:%s:reader" % ns
    events = lab.audit("hub").since(mark, until=lambda evs: sum(
        1 for e in evs if audit.user(e) == user and audit.code(e) == 403) >= 2)
    denied_events = [e for e in events if audit.user(e) == user and e["objectRef"].get("resource") == "secrets"
                     and e["verb"] == "list"]
    assert [audit.code(e) for e in denied_events][:2] == [403, 403]
    assert audit.count_by_verb(events, user).get("list", 0) >= 3
    assert all("requestObject" not in e and "responseObject" not in e for e in events)
    raw = open(lab.clusters["hub"]["audit_log"]).read()
    assert token not in raw


def _can_list_configmaps(api, ns):
    try:
        client.CoreV1Api(api).list_namespaced_config_map(ns)
        return True
    except ApiException as e:
        if e.status == 403:
            return False
        raise


def test_token_of_one_cluster_is_refused_by_another(lab, ns):
    admin = lab.admin("hub")
    client.CoreV1Api(admin).create_namespaced_service_account(ns, {"metadata": {"name": "wanderer"}})
    token = request_token(admin, ns, "wanderer")
    with pytest.raises(ApiException) as e:
        whoami(lab.with_token("east", token))
    assert e.value.status == 401


def test_oidc_issuer_trusted_by_some_api_servers_only(lab):
    """The lab's OIDC issuer serves discovery and JWKS over TLS (its own CA); an ID token it signs authenticates as
    the user on the clusters that trust it and gets 401 on the others; a token signed with its key but claiming
    another issuer, or for another audience, is refused everywhere."""
    import json
    import ssl
    from pathlib import Path

    import oidc
    meta = lab.state["oidc"]
    ctx = ssl.create_default_context(cafile=meta["ca_file"])
    code, body = labtool.http_get(meta["issuer"] + "/.well-known/openid-configuration", ctx)
    assert code == 200 and json.loads(body)["issuer"] == meta["issuer"]
    code, body = labtool.http_get(json.loads(body)["jwks_uri"], ctx)
    assert code == 200 and json.loads(body)["keys"][0]["kty"] == "RSA"
    assert labtool.http_get(meta["issuer"] + "/.well-known/openid-configuration")[0] == 0   # not a public CA
    trusted = set(meta["trusted_by"])
    assert trusted == {"hub", "east", "mgmt"} & set(lab.clusters) and "west" not in trusted
    odir = Path(meta["dir"])
    token = oidc.mint_token(odir, "alice", groups=["mesh-viewers"])
    for cluster in lab.clusters:
        if cluster in trusted:
            assert whoami(lab.with_token(cluster, token)) == "alice", cluster
        else:
            with pytest.raises(ApiException) as e:
                whoami(lab.with_token(cluster, token))
            assert e.value.status == 401, cluster
    for forged in (oidc.mint_token(odir, "mallory", issuer="https://idp.invalid"),
                   oidc.mint_token(odir, "mallory", audience="not-kiali")):
        with pytest.raises(ApiException) as e:
            whoami(lab.with_token("hub", forged))
        assert e.value.status == 401


def test_legacy_token_secret_is_filled_and_revoked(lab, ns):
    admin = lab.admin("hub")
    core = client.CoreV1Api(admin)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "legacy"}})
    core.create_namespaced_secret(ns, {
        "metadata": {"name": "legacy-token", "annotations": {"kubernetes.io/service-account.name": "legacy"}},
        "type": "kubernetes.io/service-account-token"})

    def filled():
        s = core.read_namespaced_secret("legacy-token", ns)
        return s if (s.data or {}).get("token") else None
    sec = wait(filled, timeout=10, what="token controller")
    assert b64d(sec.data["ca.crt"]).strip() == lab.ca_pem("hub").decode().strip()
    assert b64d(sec.data["namespace"]) == ns
    token = b64d(sec.data["token"])
    api = lab.with_token("hub", token)
    assert whoami(api) == "system:serviceaccount:%s:legacy" % ns
    core.delete_namespaced_secret("legacy-token", ns)
    wait_refused(api)
    for name in lab.clusters:  # no token in any lab log or audit log
        for f in (lab.dir / name / "logs").glob("*.log"):
            assert token not in f.read_text(errors="replace"), f


def test_new_namespace_gets_root_ca_and_default_sa_and_deletion_completes(lab):
    admin = lab.admin("east")
    core = client.CoreV1Api(admin)
    name = unique("labns")
    core.create_namespace({"metadata": {"name": name}})
    cm = wait(lambda: _get(lambda: core.read_namespaced_config_map("kube-root-ca.crt", name)),
              what="kube-root-ca.crt")
    assert cm.data["ca.crt"].strip() == lab.ca_pem("east").decode().strip()
    wait(lambda: _get(lambda: core.read_namespaced_service_account("default", name)), what="default SA")
    # garbage collection of owned objects
    owner = core.create_namespaced_config_map(name, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "owned", "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}]}})
    core.delete_namespaced_config_map("owner", name)
    wait(lambda: _get(lambda: core.read_namespaced_config_map("owned", name)) is None and True,
         what="garbage collection of the owned ConfigMap")
    core.delete_namespace(name)
    wait(lambda: _get(lambda: core.read_namespace(name)) is None and True, timeout=30,
         what="namespace deletion to complete")


def _get(fn):
    try:
        return fn()
    except ApiException as e:
        if e.status == 404:
            return None
        raise


@pytest.mark.parametrize("cluster,kind", [("hub", "Kiali"), ("east", "ServiceMonitor")])
def test_crd_schema_rejects_wrong_types(lab, cluster, kind):
    co = client.CustomObjectsApi(lab.admin(cluster))
    if kind == "Kiali":
        group, version, plural = "kiali.io", "v1alpha1", "kialis"
        bad = {"spec": {"deployment": {"view_only_mode": "definitely"}}}
    else:
        group, version, plural = "monitoring.coreos.com", "v1", "servicemonitors"
        bad = {"spec": {"selector": {}, "endpoints": "not-a-list"}}
    body = dict(apiVersion="%s/%s" % (group, version), kind=kind, metadata={"name": unique("bad")}, **bad)
    with pytest.raises(ApiException) as e:
        co.create_namespaced_custom_object(group, version, "istio-system", plural, body)
    assert e.value.status == 422, e.value.body


def test_profiles_install_what_a_real_cluster_would_have(lab):
    expect = {"hub": {"kialis.kiali.io", "managedclusters.cluster.open-cluster-management.io", "routes.route.openshift.io",
                      "multiclusterobservabilities.observability.open-cluster-management.io",
                      "servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com"},
              "east": {"servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com"},
              "west": {"kialis.kiali.io", "routes.route.openshift.io", "servicemonitors.monitoring.coreos.com",
                       "podmonitors.monitoring.coreos.com", "oauthclients.oauth.openshift.io"},
              "mgmt": {"kialis.kiali.io"}}
    for cluster, want in expect.items():
        if cluster not in lab.clusters:
            continue
        have = {c.metadata.name for c in client.ApiextensionsV1Api(lab.admin(cluster))
                .list_custom_resource_definition().items}
        assert want <= have, (cluster, want - have)
        if cluster != "west":
            assert not any(n.endswith(".openshift.io") for n in have - {"routes.route.openshift.io"}), cluster
    if "west" in lab.clusters:
        groups = {g.name for g in client.ApisApi(lab.admin("west")).get_api_versions().groups}
        assert {"route.openshift.io", "oauth.openshift.io", "operator.openshift.io",
                "config.openshift.io"} <= groups


def test_the_crds_the_lab_says_it_installed_are_installed(lab):
    crd = client.ApiextensionsV1Api(lab.admin("hub")).read_custom_resource_definition("kialis.kiali.io")
    spec = crd.spec.versions[0].schema.open_apiv3_schema.properties["spec"]
    # both prune unknown fields under spec; only the upstream CRD has sections kialiops never writes (chat_ai)
    assert "clustering" in spec.properties and not spec.x_kubernetes_preserve_unknown_fields
    assert ("chat_ai" in spec.properties) is bool(lab.state.get("shared_crds")), lab.state.get("shared_crds")
    assert lab.state.get("shared_crds") == (str(labtool.shared_crds()) if labtool.shared_crds() else None)


def test_inventory_follows_the_topology_model(lab):
    from labkit import load_yaml
    inv = load_yaml(lab.dir / "inventory.yml")["all"]["children"]
    assert list(inv["hub"]["hosts"]) == ["hub-cluster"]
    assert inv["hub"]["hosts"]["hub-cluster"]["kialiops_cluster_name"] == "hub"
    assert set(inv["spoke"]["hosts"]) == {c for c in lab.clusters if c not in ("hub", "mgmt")}
    assert not inv["external"]["hosts"]
    h = inv["spoke"]["hosts"]["east"]
    assert h["ansible_connection"] == "local" and h["kialiops_context"] == "east"
    assert h["kialiops_api_url"] == lab.server("east")
    ext = load_yaml(lab.dir / "inventory-external.yml")["all"]["children"]
    assert list(ext["external"]["hosts"]) == ["mgmt"]
    for f in [lab.dir / "kubeconfig"] + [lab.dir / (c + ".kubeconfig") for c in lab.clusters]:
        assert f.stat().st_mode & 0o077 == 0, f
        assert "-data" in f.read_text()
