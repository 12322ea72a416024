"""Taking over what kiali-prepare-remote-cluster.sh made (kialiops_adopt): the test recreates on east and west
exactly the objects the script makes (kiali/kiali hack/istio/multicluster/kiali-prepare-remote-cluster.sh d733a096:
`helm template kiali-server` piped to `kubectl apply`, so the chart's labels, the field manager
kubectl-client-side-apply and the last-applied annotation; then the long-lived token Secret; then the remote cluster
secret on Kiali's home, mgmt here), with a working token. One module, one converge, the lab state shared:

- without kialiops_adopt site.yml refuses: exit 2, 0 mutating requests on every cluster (audit logs), and the
  message says how to adopt;
- with kialiops_adopt: true it ends with kialiops' objects only (labels, the field manager kialiops alone), the home
  secret holding kialiops' credential, which works, the script's ConfigMap and token Secret gone (and its token
  revoked) and listed in the summary; verify.yml (site.yml's last step) passes;
- the rerun sends 0 mutating requests."""
from __future__ import annotations

import base64
import json
import time

import pytest
import yaml
from kubernetes import client

from labkit import REPO, kubeconfig_client, run_module, stored_kubeconfig, wait_refused, whoami
from test_cluster_remove import HOME, Mesh, describe, writes

REMOTES = ("east", "west")
KUBECTL = "kubectl-client-side-apply"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def chart_labels(instance):
    """kiali/helm-charts kiali-server/templates/_helpers.tpl, "kiali-server.labels" (helm template: no Helm label)."""
    return {"helm.sh/chart": "kiali-server-2.28.0", "app": "kiali", "app.kubernetes.io/name": "kiali",
            "app.kubernetes.io/instance": instance, "version": "v2.28.0", "app.kubernetes.io/version": "v2.28.0",
            "app.kubernetes.io/part-of": "kiali"}


def applied(body):
    """``body`` as `kubectl apply` creates it: with its last-applied annotation."""
    meta = body["metadata"]
    meta.setdefault("annotations", {})[LAST_APPLIED] = json.dumps(body, sort_keys=True)
    return body


def script_remote(lab, mesh, cluster):
    """What the script makes on a remote: namespace, ServiceAccount, viewer ClusterRole and binding, the chart's
    remote-only ConfigMap and the long-lived token Secret. Returns the token."""
    api = lab.admin(cluster)
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    i, ns = mesh.ns, mesh.remote_ns
    core.create_namespace({"metadata": {"name": ns}}, field_manager="kubectl-create")
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": i, "namespace": ns, "labels": chart_labels(i)}}
    core.create_namespaced_service_account(ns, applied(account), field_manager=KUBECTL)
    # the chart of a later Kiali than kialiops is set to (v2.30 rules, udproutes): kialiops must force its own
    rules = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.30.yml").read_text())["remote_prepare_rbac"]
    rbac.create_cluster_role(applied({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": i + "-viewer", "labels": chart_labels(i)}, "rules": rules["viewer"]}),
        field_manager=KUBECTL)
    rbac.create_cluster_role_binding(applied({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": i + "-viewer", "labels": chart_labels(i)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": i + "-viewer"},
        "subjects": [{"kind": "ServiceAccount", "name": i, "namespace": ns}]}), field_manager=KUBECTL)
    config = {"auth": {"strategy": "anonymous"}, "deployment": {
        "instance_name": i, "namespace": ns, "remote_cluster_resources_only": True, "view_only_mode": True,
        "cluster_wide_access": True}, "login_token": {"signing_key": "s3cr3t-signing-key-0123456789abcd"},
        "server": {"port": 20001, "web_root": "/kiali"}, "external_services": {"istio": {"root_namespace": ns}}}
    core.create_namespaced_config_map(ns, applied({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": i, "namespace": ns, "labels": chart_labels(i)},
        "data": {"config.yaml": yaml.safe_dump(config)}}), field_manager=KUBECTL)
    core.create_namespaced_secret(ns, applied({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": i, "namespace": ns, "annotations": {"kubernetes.io/service-account.name": i}}}),
        field_manager=KUBECTL)
    deadline = time.time() + 60
    while time.time() < deadline:
        data = core.read_namespaced_secret(i, ns).data or {}
        if data.get("token"):
            return base64.b64decode(data["token"]).decode()
        time.sleep(0.5)
    raise AssertionError("the token controller did not fill Secret %s/%s on %s" % (ns, i, cluster))


def script_home_secret(lab, mesh, cluster, token):
    """The script's kiali-remote-cluster-secret-<cluster> on Kiali's home (stringData, as it applies it)."""
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": cluster,
                  "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
                  "users": [{"name": cluster, "user": {"token": token}}],
                  "clusters": [{"name": cluster, "cluster": {
                      "server": lab.server(cluster),
                      "certificate-authority-data": base64.b64encode(lab.ca_pem(cluster)).decode()}}]}
    client.CoreV1Api(lab.admin(HOME)).create_namespaced_secret(mesh.ns, applied({
        "apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": "kiali-remote-cluster-secret-" + cluster, "namespace": mesh.ns,
            "labels": {"kiali.io/multiCluster": "true"}, "annotations": {"kiali.io/cluster": cluster}},
        "stringData": {cluster: yaml.safe_dump(kubeconfig)}}), field_manager=KUBECTL)


def managers(obj):
    return sorted({e.manager for e in obj.metadata.managed_fields or []})


@pytest.fixture(scope="module")
def scripted(lab, tmp_path_factory):
    """The script's installation of east and west for Kiali on mgmt; removed (kialiops' way, then by hand) after."""
    mesh = Mesh(lab, tmp_path_factory.mktemp("adopt"))
    tokens = {}
    try:
        for c in REMOTES:
            tokens[c] = script_remote(lab, mesh, c)
            script_home_secret(lab, mesh, c, tokens[c])
        yield mesh, tokens
    finally:
        mesh.remove(list(REMOTES))
        client.CoreV1Api(lab.admin(HOME)).delete_namespace(mesh.ns)
        for c in REMOTES:
            try:
                client.CoreV1Api(lab.admin(c)).delete_namespace(mesh.remote_ns)
            except client.ApiException:
                pass


def test_without_adopt_the_plan_refuses_and_nothing_is_written(lab, scripted):
    mesh, tokens = scripted
    marks = lab.marks()
    r = mesh.run("site.yml")
    assert r.returncode == 2, r.stdout[-4000:]
    assert "The plan failed on 2 cluster(s), so nothing was written on any cluster" in r.stdout, r.stdout[-4000:]
    assert "kiali-server chart" in r.stdout and "kialiops_adopt: true" in r.stdout, r.stdout[-4000:]
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
    # Kiali keeps working with the script's credential
    for c in REMOTES:
        assert whoami(kubeconfig_client(stored_kubeconfig(lab, mesh.ns, c, home=HOME))).endswith(":" + mesh.ns)

    # --check with kialiops_adopt: the preview names what would be adopted and removed, nothing is persisted
    marks = lab.marks()
    r = mesh.run("site.yml", None, "--check", "-e", "kialiops_adopt=true")
    assert r.returncode == 0, r.stdout[-6000:]
    summary = r.stdout.split("PLAY [Summary]")[1]
    for c in REMOTES:
        assert "%s would be adopted: ServiceAccount %s/%s" % (c, mesh.remote_ns, mesh.ns) in summary, summary
        assert "%s would have removed: ConfigMap %s/%s" % (c, mesh.remote_ns, mesh.ns) in summary, summary
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))


def test_adopt_ends_with_kialiops_objects_only_and_a_working_credential(lab, scripted):
    mesh, tokens = scripted
    inv = mesh.inventory()
    r = mesh.run("site.yml", inv, "-e", "kialiops_adopt=true")
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    summary = r.stdout.split("PLAY [Summary]")[1]
    i, ns = mesh.ns, mesh.remote_ns
    for c in REMOTES:
        assert "%s adopted: ServiceAccount %s/%s, ClusterRole %s-viewer, ClusterRoleBinding %s-viewer, Secret " \
               "kiali-remote-cluster-secret-%s on mgmt" % (c, ns, i, i, i, c) in summary, summary
        assert "%s removed: ConfigMap %s/%s, Secret %s/%s" % (c, ns, i, ns, i) in summary, summary

        api = lab.admin(c)
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        for obj in (core.read_namespaced_service_account(i, ns), rbac.read_cluster_role(i + "-viewer"),
                    rbac.read_cluster_role_binding(i + "-viewer")):
            labels = obj.metadata.labels
            assert labels["app.kubernetes.io/managed-by"] == "kialiops" and labels["kialiops.io/home"] == HOME, labels
            assert "helm.sh/chart" not in labels and "version" not in labels, labels
            assert LAST_APPLIED not in (obj.metadata.annotations or {}), obj.metadata.name
            assert managers(obj) == ["kialiops"], (obj.metadata.name, managers(obj))
        role = rbac.read_cluster_role(i + "-viewer")
        assert not any("udproutes" in (rule.resources or []) for rule in role.rules)   # kialiops' v2.28 rules
        for read in (lambda: core.read_namespaced_config_map(i, ns), lambda: core.read_namespaced_secret(i, ns)):
            with pytest.raises(client.ApiException) as gone:
                read()
            assert gone.value.status == 404

        secret = client.CoreV1Api(lab.admin(HOME)).read_namespaced_secret("kiali-remote-cluster-secret-" + c, mesh.ns)
        assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "kialiops", secret.metadata.labels
        assert LAST_APPLIED not in (secret.metadata.annotations or {})
        assert managers(secret) == ["kialiops"], managers(secret)
        stored = stored_kubeconfig(lab, mesh.ns, c, home=HOME)
        assert stored["users"][0]["user"]["token"] != tokens[c]
        assert whoami(kubeconfig_client(stored)) == "system:serviceaccount:%s:%s" % (ns, i)
        # the script's long-lived token was revoked with its Secret (refused once the API server's 10 s cache of
        # its last successful authentication, by the test before, has expired)
        wait_refused(lab.with_token(c, tokens[c]))

    # the rerun changes nothing
    marks = lab.marks()
    r = mesh.run("site.yml", inv, "-e", "kialiops_adopt=true")
    assert r.returncode == 0, r.stdout[-4000:]
    for c in lab.clusters:
        assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))


def test_the_script_run_over_kialiops_objects_is_taken_back_with_adopt(lab, scripted):
    """kubectl apply of the script over kialiops' ClusterRole takes its rules (another Kiali version's): kialiops'
    next apply of them is a 409 field conflict; with adopt the role is taken back, kialiops' manager alone. (Runs
    after the adoption above: the objects are kialiops' here.)"""
    mesh, tokens = scripted
    i, c = mesh.ns, "east"
    rbac_api = client.RbacAuthorizationV1Api(lab.admin(c))
    newer = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.30.yml").read_text())["remote_prepare_rbac"]
    rbac_api.patch_cluster_role(i + "-viewer", {"metadata": {"labels": chart_labels(i)}, "rules": newer["viewer"]},
                                field_manager=KUBECTL)
    rbac = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.28.yml").read_text())["remote_prepare_rbac"]
    args = dict(cluster_name=c, kubeconfig=lab.kubeconfig(c), home_cluster=HOME, namespace=mesh.remote_ns,
                instance_name=i, auth_strategy="anonymous", rbac=rbac)
    result, out = run_module("remote_access", args)
    assert result.get("failed") and "409" in result["msg"] and KUBECTL in result["msg"], out[-3000:]
    result, out = run_module("remote_access", dict(args, adopt=True))
    assert not result.get("failed"), out[-3000:]
    assert result["adopted"] == [dict(kind="ClusterRole", name=i + "-viewer", namespace=None)], result["objects"]
    role = rbac_api.read_cluster_role(i + "-viewer")
    assert managers(role) == ["kialiops"] and "helm.sh/chart" not in role.metadata.labels, managers(role)
    result, out = run_module("remote_access", dict(args, adopt=True))
    assert not result["changed"], result["objects"]
