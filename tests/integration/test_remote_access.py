"""kialiops.multicluster.remote_access against the lab's real API servers: east (plain Kubernetes) and west
(OpenShift flavour, serves oauth.openshift.io/v1 OAuthClient).

The module runs as Ansible runs it (a process with an arguments file). What it did is read back from the
API server and from the cluster's audit log. Every test uses its own home label value, instance and namespace
names (the lab is shared), and removes what it created."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from labkit import REPO, audit, request_token, run_module

RBAC = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.28.yml").read_text())["remote_prepare_rbac"]
RBAC_V230 = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.30.yml").read_text())["remote_prepare_rbac"]
ADMIN = "kialiops-admin"
SELECTOR = "app.kubernetes.io/managed-by=kialiops,kialiops.io/home=%s"


class Case:
    """One test's unique names on the lab, a way to run the module with them, and readers of the result."""

    def __init__(self, lab):
        self.lab = lab
        self.token = uuid.uuid4().hex[:8]
        self.home = "home-%s" % self.token
        self.instance = "ki-%s" % self.token
        self.namespace = "ns-%s" % self.token
        self.api = {}

    def args(self, cluster, **over):
        a = dict(cluster_name=cluster, kubeconfig=self.lab.kubeconfig(cluster), context=cluster,
                 home_cluster=self.home, instance_name=self.instance, namespace=self.namespace, rbac=RBAC)
        a.update(over)
        return a

    def run(self, cluster, check=False, diff=False, expect_ok=True, **over):
        result, output = run_module("remote_access", self.args(cluster, **over), check=check, diff=diff)
        if expect_ok:
            assert not result.get("failed"), result.get("msg") or output
        return result

    def admin(self, cluster):
        if cluster not in self.api:
            self.api[cluster] = self.lab.admin(cluster)
        return self.api[cluster]

    def labelled(self, cluster, include_terminating=True):
        """{(kind, namespace, name)} of everything on ``cluster`` labelled for this test's home."""
        api, sel = self.admin(cluster), SELECTOR % self.home
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        found = set()
        for sa in core.list_service_account_for_all_namespaces(label_selector=sel).items:
            found.add(("ServiceAccount", sa.metadata.namespace, sa.metadata.name))
        for r in rbac.list_cluster_role(label_selector=sel).items:
            found.add(("ClusterRole", None, r.metadata.name))
        for b in rbac.list_cluster_role_binding(label_selector=sel).items:
            found.add(("ClusterRoleBinding", None, b.metadata.name))
        for ns in core.list_namespace(label_selector=sel).items:
            if include_terminating or ns.status.phase != "Terminating":
                found.add(("Namespace", None, ns.metadata.name))
        if cluster == "west":
            for c in self.oauthclients(cluster, sel):
                found.add(("OAuthClient", None, c["metadata"]["name"]))
        return found

    def oauthclients(self, cluster, selector=None):
        out = client.CustomObjectsApi(self.admin(cluster)).list_cluster_custom_object(
            "oauth.openshift.io", "v1", "oauthclients", label_selector=selector)
        return out["items"]

    def mine(self, events):
        """Audit events about this test's objects (names and namespaces carry the token)."""
        def ours(ev):
            ref = ev.get("objectRef") or {}
            return self.token in (ref.get("name") or "") or self.token in (ref.get("namespace") or "")
        return [ev for ev in events if ours(ev)]

    def cleanup(self):
        for cluster in ("east", "west"):
            result, dummy = run_module("remote_access", self.args(cluster, state="absent"))
            assert not result.get("failed"), result.get("msg")


@pytest.fixture
def case(lab):
    c = Case(lab)
    yield c
    c.cleanup()


def mutations(lab, cluster, mark, case, user=ADMIN):
    """Mutating requests (create/update/patch/delete; not *reviews) by ``user`` on this case's objects."""
    return case.mine(audit.mutating(lab.audit(cluster).since(mark), user))


def actions(result):
    return {(o["kind"], o["name"]): o["action"] for o in result["objects"]}


def crb(case, cluster, name):
    return client.RbacAuthorizationV1Api(case.admin(cluster)).read_cluster_role_binding(name)


def cr(case, cluster, name):
    return client.RbacAuthorizationV1Api(case.admin(cluster)).read_cluster_role(name)


def wait_gone(fn, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not fn():
            return
        time.sleep(0.5)
    raise AssertionError("still there after %.0fs: %s" % (timeout, fn()))


# --- first run creates, a rerun writes nothing -------------------------------------------------------------------

def test_east_creates_then_rerun_sends_no_write(lab, case):
    mark = lab.audit("east").mark()
    first = case.run("east")
    i, ns = case.instance, case.namespace
    assert first["changed"] is True and first["platform"] == "kubernetes"
    assert first["role_kind"] == "viewer" and first["role"] == i + "-viewer"
    assert first["service_account"] == {"name": i, "namespace": ns}
    assert actions(first) == {("Namespace", ns): "created", ("ServiceAccount", i): "created",
                              ("ClusterRole", i + "-viewer"): "created",
                              ("ClusterRoleBinding", i + "-viewer"): "created"}
    assert case.labelled("east") == {("Namespace", None, ns), ("ServiceAccount", ns, i),
                                     ("ClusterRole", None, i + "-viewer"), ("ClusterRoleBinding", None, i + "-viewer")}
    written = mutations(lab, "east", mark, case)
    assert written, "the audit filter must see the first run's writes"
    assert all("dryRun" not in ev["requestURI"] for ev in written)

    # live objects: plain Kubernetes gets no OpenShift rows; labels as agreed; binding to the SA
    role = cr(case, "east", i + "-viewer")
    groups = {g for rule in role.rules for g in rule.api_groups}
    assert "apps.openshift.io" not in groups and "route.openshift.io" not in groups
    assert role.metadata.labels == {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": case.home,
                                    "app": "kiali", "app.kubernetes.io/name": "kiali",
                                    "app.kubernetes.io/instance": i, "app.kubernetes.io/part-of": "kiali"}
    binding = crb(case, "east", i + "-viewer")
    assert binding.role_ref.name == i + "-viewer"
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", i, ns)]
    namespace = client.CoreV1Api(case.admin("east")).read_namespace(ns)
    assert namespace.metadata.labels["app.kubernetes.io/managed-by"] == "kialiops"
    assert namespace.metadata.labels["kialiops.io/home"] == case.home

    mark = lab.audit("east").mark()
    second = case.run("east")
    assert second["changed"] is False
    assert set(actions(second).values()) == {"unchanged"} and second["pruned"] == []
    assert mutations(lab, "east", mark, case) == []


def test_west_openshift_auth_operator_flavour(lab, case):
    i, ns = case.instance, case.namespace
    extra = "%s-%s-openshift" % (i, ns)
    client_name = "%s-%s" % (i, ns)
    args = dict(flavour="operator", auth_strategy="openshift", kiali_host="kiali.apps.hub.test")
    mark = lab.audit("west").mark()
    first = case.run("west", **args)
    assert first["changed"] is True and first["platform"] == "openshift"
    assert first["service_account"] == {"name": i + "-service-account", "namespace": ns}
    assert actions(first) == {("Namespace", ns): "created", ("ServiceAccount", i + "-service-account"): "created",
                              ("ClusterRole", i + "-viewer"): "created", ("ClusterRoleBinding", i): "created",
                              ("ClusterRole", extra): "created", ("ClusterRoleBinding", extra): "created",
                              ("OAuthClient", client_name): "created"}
    assert mutations(lab, "west", mark, case)

    # operator names: the binding is <i> and points at <i>-viewer
    binding = crb(case, "west", i)
    assert binding.role_ref.name == i + "-viewer"
    assert [(s.name, s.namespace) for s in binding.subjects] == [(i + "-service-account", ns)]
    # OpenShift rows in the role
    role = cr(case, "west", i + "-viewer")
    rows = {(g, r) for rule in role.rules for g in rule.api_groups for r in rule.resources}
    assert ("apps.openshift.io", "deploymentconfigs") in rows and ("route.openshift.io", "routes") in rows
    # the -openshift ClusterRole (helm-charts clusterrole-openshift.yaml, v2.28.0): oauthclients get on <i>-<ns>,
    # apiservers get (TLS config source auto)
    rules = [(r.api_groups, r.resources, r.verbs, r.resource_names) for r in cr(case, "west", extra).rules]
    assert rules == [(["oauth.openshift.io"], ["oauthclients"], ["get"], [client_name]),
                     (["config.openshift.io"], ["apiservers"], ["get"], None)]
    assert crb(case, "west", extra).role_ref.name == extra
    # the OAuthClient with the per-cluster callback
    clients = case.oauthclients("west", SELECTOR % case.home)
    assert [c["metadata"]["name"] for c in clients] == [client_name]
    assert clients[0]["redirectURIs"] == ["https://kiali.apps.hub.test/api/auth/callback/west"]
    assert clients[0]["grantMethod"] == "auto"

    mark = lab.audit("west").mark()
    second = case.run("west", **args)
    assert second["changed"] is False and set(actions(second).values()) == {"unchanged"}
    assert mutations(lab, "west", mark, case) == []

    # impersonation (Kiali v2.30 data): impersonate users and groups added in place, and no OAuthClient (Kiali with
    # impersonation skips per-cluster OAuth): the one written above is pruned; kiali_host is not needed
    third = case.run("west", **dict(args, impersonation=True, rbac=RBAC_V230, kiali_host=None))
    assert actions(third)[("ClusterRole", extra)] == "updated"
    assert {(p["kind"], p["name"]) for p in third["pruned"]} == {("OAuthClient", client_name)}
    assert [r.resources for r in cr(case, "west", extra).rules] == [
        ["oauthclients"], ["users", "groups"], ["apiservers"]]
    assert case.oauthclients("west", SELECTOR % case.home) == []
    # token auth on OpenShift: the -openshift role stays, with apiservers only (as the chart and operator make it)
    fourth = case.run("west", flavour="operator")
    assert fourth["pruned"] == [] and actions(fourth)[("ClusterRole", extra)] == "updated"
    assert [(r.api_groups, r.resources, r.verbs) for r in cr(case, "west", extra).rules] == [
        (["config.openshift.io"], ["apiservers"], ["get"])]
    assert crb(case, "west", extra).role_ref.name == extra


# --- check mode -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cluster, fresh_namespace", [("east", True), ("east", False), ("west", True)])
def test_check_mode_on_a_fresh_instance_writes_nothing(lab, case, cluster, fresh_namespace):
    over = dict(auth_strategy="openshift", kiali_host="kiali.apps.hub.test") if cluster == "west" else {}
    if not fresh_namespace:
        over["namespace"] = "istio-system"
    ns_before = client.CoreV1Api(case.admin(cluster)).read_namespace("istio-system").metadata.labels
    mark = lab.audit(cluster).mark()
    result = case.run(cluster, check=True, diff=True, **over)
    assert result["changed"] is True
    assert set(actions(result).values()) == {"created"}
    expected_kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} | (
        {"Namespace"} if fresh_namespace else set()) | ({"OAuthClient"} if cluster == "west" else set())
    assert {o["kind"] for o in result["objects"]} == expected_kinds
    assert len(result["diff"]["after"]) == len(result["objects"])
    assert all(result["diff"]["before"][key] is None and after["metadata"]["labels"]["kialiops.io/home"] == case.home
               for key, after in result["diff"]["after"].items())
    assert case.labelled(cluster) == set()
    dry = mutations(lab, cluster, mark, case)
    assert dry, "check mode must reach the server as dry-run requests"
    assert all("dryRun=All" in ev["requestURI"] for ev in dry), [ev["requestURI"] for ev in dry]
    assert client.CoreV1Api(case.admin(cluster)).read_namespace("istio-system").metadata.labels == ns_before


def test_check_mode_predicts_a_role_switch_and_changes_nothing(lab, case):
    case.run("east", flavour="operator")
    mark = lab.audit("east").mark()
    result = case.run("east", check=True, diff=True, flavour="operator", view_only=False, auth_strategy="anonymous")
    i = case.instance
    assert result["changed"] is True
    assert actions(result) == {("ServiceAccount", i + "-service-account"): "unchanged",
                               ("ClusterRole", i): "created", ("ClusterRoleBinding", i): "replaced",
                               ("ClusterRole", i + "-viewer"): "deleted", ("Namespace", case.namespace): "unchanged"}
    assert all("dryRun=All" in ev["requestURI"] for ev in mutations(lab, "east", mark, case))
    assert crb(case, "east", i).role_ref.name == i + "-viewer"
    assert ("ClusterRole", None, i + "-viewer") in case.labelled("east")


# --- switching and renaming leave nothing behind ----------------------------------------------------------------

@pytest.mark.parametrize("flavour", ["chart", "operator"])
def test_switching_view_only_leaves_exactly_one_binding(lab, case, flavour):
    i = case.instance
    case.run("east", flavour=flavour)
    result = case.run("east", flavour=flavour, view_only=False, auth_strategy="anonymous")
    assert result["changed"] is True and result["role_kind"] == "write" and result["role"] == i
    bindings = sorted(n for k, dummy, n in case.labelled("east") if k == "ClusterRoleBinding")
    roles = sorted(n for k, dummy, n in case.labelled("east") if k == "ClusterRole")
    assert bindings == [i] and roles == [i]
    assert crb(case, "east", i).role_ref.name == i
    with pytest.raises(ApiException) as e:
        crb(case, "east", i + "-viewer")
    assert e.value.status == 404
    if flavour == "chart":
        assert {(p["kind"], p["name"]) for p in result["pruned"]} == {("ClusterRoleBinding", i + "-viewer"),
                                                                      ("ClusterRole", i + "-viewer")}
    else:
        assert actions(result)[("ClusterRoleBinding", i)] == "replaced"
        assert {(p["kind"], p["name"]) for p in result["pruned"]} == {("ClusterRole", i + "-viewer")}
    # and back: one binding again, the viewer one
    back = case.run("east", flavour=flavour)
    bindings = sorted(n for k, dummy, n in case.labelled("east") if k == "ClusterRoleBinding")
    assert bindings == [i + "-viewer" if flavour == "chart" else i]
    assert crb(case, "east", bindings[0]).role_ref.name == i + "-viewer"
    assert back["changed"] is True
    mark = lab.audit("east").mark()
    assert case.run("east", flavour=flavour)["changed"] is False
    assert mutations(lab, "east", mark, case) == []


def test_renaming_the_instance_removes_the_old_objects(lab, case):
    old = case.instance
    case.run("east")
    new = old + "-b"
    result = case.run("east", instance_name=new)
    assert {(p["kind"], p["name"]) for p in result["pruned"]} == {
        ("ServiceAccount", old), ("ClusterRole", old + "-viewer"), ("ClusterRoleBinding", old + "-viewer")}
    assert case.labelled("east") == {("Namespace", None, case.namespace), ("ServiceAccount", case.namespace, new),
                                     ("ClusterRole", None, new + "-viewer"), ("ClusterRoleBinding", None, new + "-viewer")}


def test_switching_flavour_renames_sa_and_binding(lab, case):
    i = case.instance
    case.run("east")
    result = case.run("east", flavour="operator")
    pruned = {(p["kind"], p["name"]) for p in result["pruned"]}
    assert pruned == {("ServiceAccount", i), ("ClusterRoleBinding", i + "-viewer")}
    assert case.labelled("east") == {("Namespace", None, case.namespace),
                                     ("ServiceAccount", case.namespace, i + "-service-account"),
                                     ("ClusterRole", None, i + "-viewer"), ("ClusterRoleBinding", None, i)}


def test_other_homes_are_never_pruned(lab, case):
    other = Case(lab)
    try:
        other.run("east")
        case.run("east")
        case.run("east", instance_name=case.instance + "-b")
        assert len(other.labelled("east")) == 4
    finally:
        other.cleanup()


# --- state absent ---------------------------------------------------------------------------------------------

def test_absent_removes_everything_for_the_home(lab, case):
    case.run("east")
    case.run("east", instance_name=case.instance + "-2", namespace="istio-system")  # prunes the first instance
    case.run("west", auth_strategy="openshift", kiali_host="kiali.apps.hub.test")
    istio_labels = client.CoreV1Api(case.admin("east")).read_namespace("istio-system").metadata.labels
    for cluster in ("east", "west"):
        assert case.labelled(cluster)
        mark = lab.audit(cluster).mark()
        result = case.run(cluster, state="absent")
        assert result["changed"] is True
        assert all(o["action"] == "deleted" for o in result["objects"])
        assert result["pruned"] == [{k: o[k] for k in ("kind", "name", "namespace")} for o in result["objects"]]
        assert any(ev["verb"] == "delete" for ev in mutations(lab, cluster, mark, case))
        assert case.labelled(cluster, include_terminating=False) == set()
        wait_gone(lambda c=cluster: case.labelled(c))
        mark = lab.audit(cluster).mark()
        again = case.run(cluster, state="absent")
        assert again["changed"] is False and again["objects"] == []
        assert mutations(lab, cluster, mark, case) == []
    # the pre-existing istio-system namespace is never touched
    assert client.CoreV1Api(case.admin("east")).read_namespace("istio-system").metadata.labels == istio_labels


def test_absent_keeps_a_namespace_someone_else_uses(lab, case):
    case.run("east")
    core = client.CoreV1Api(case.admin("east"))
    core.create_namespaced_service_account(case.namespace, {"metadata": {"name": "istiod"}})
    try:
        result, output = run_module("remote_access", case.args("east", state="absent"))
        assert not result.get("failed"), output
        assert ("Namespace", case.namespace) not in actions(result)
        assert actions(result)[("ServiceAccount", case.instance)] == "deleted"
        warnings = json.dumps(result.get("warnings", []))  # ansible-core 2.19: structured warning summaries
        assert "namespace %s was created by kialiops for home %s but is kept: it holds ServiceAccount istiod" % (
            case.namespace, case.home) in warnings
        assert core.read_namespace(case.namespace).status.phase == "Active"
    finally:
        core.delete_namespace(case.namespace)


# --- validate and ask before writing -------------------------------------------------------------------------------

def test_existing_unlabelled_object_is_never_taken_over(lab, case):
    rbac_api = client.RbacAuthorizationV1Api(case.admin("east"))
    name = case.instance + "-viewer"
    rbac_api.create_cluster_role({"metadata": {"name": name}, "rules": []})
    try:
        mark = lab.audit("east").mark()
        result = case.run("east", expect_ok=False)
        assert result["failed"] is True
        assert result["msg"].startswith("cluster east: ClusterRole %s already exists and is not labelled" % name)
        assert "Nothing was written" in result["msg"]
        assert mutations(lab, "east", mark, case) == []
        assert rbac_api.read_cluster_role(name).metadata.labels is None
    finally:
        rbac_api.delete_cluster_role(name)


@pytest.fixture
def limited(lab, case):
    """A token on east for a ServiceAccount that may read what the module reads, but not write."""
    api = case.admin("east")
    core, rbac_api = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ns, name = case.namespace + "-lim", "lim-" + case.token
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "reader"}})
    rbac_api.create_cluster_role({"metadata": {"name": name}, "rules": [
        {"apiGroups": ["", "rbac.authorization.k8s.io"], "verbs": ["get", "list"],
         "resources": ["namespaces", "serviceaccounts", "clusterroles", "clusterrolebindings"]}]})
    rbac_api.create_cluster_role_binding({"metadata": {"name": name}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]})
    token = request_token(api, ns, "reader")
    ca = Path(case.lab.clusters["east"]["dir"]) / "pki" / "ca.crt"
    yield dict(host=case.lab.server("east"), api_key=token, ca_cert=str(ca), user="system:serviceaccount:%s:reader" % ns,
               role=name)
    rbac_api.delete_cluster_role_binding(name)
    rbac_api.delete_cluster_role(name)
    core.delete_namespace(ns)


def test_denied_writes_are_listed_together_before_anything_is_written(lab, case, limited):
    args = case.args("east", host=limited["host"], api_key=limited["api_key"], ca_cert=limited["ca_cert"])
    del args["kubeconfig"], args["context"]
    mark = lab.audit("east").mark()
    result, output = run_module("remote_access", args)
    assert result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("cluster east: the credential may not ")
    for denied in ("create namespaces", "patch namespaces", "create serviceaccounts in namespace " + case.namespace,
                   "create clusterroles.rbac.authorization.k8s.io", "patch clusterrolebindings.rbac.authorization.k8s.io"):
        assert denied in msg, msg
    assert "Nothing was written" in msg and result["status"] == 403
    assert {"verb": "create", "group": "", "resource": "namespaces", "namespace": None} in result["denied"]
    assert limited["api_key"] not in output
    events = lab.audit("east").since(mark)
    assert audit.mutating(events, limited["user"]) == []
    assert any(ev["user"]["username"] == limited["user"] for ev in events), "the module did talk to east"


def test_denied_reads_are_listed_too(lab, case, limited):
    client.RbacAuthorizationV1Api(case.admin("east")).patch_cluster_role(limited["role"], {"rules": [
        {"apiGroups": [""], "verbs": ["get"], "resources": ["namespaces"]}]})
    args = case.args("east", host=limited["host"], api_key=limited["api_key"], ca_cert=limited["ca_cert"])
    del args["kubeconfig"], args["context"]
    result, output = run_module("remote_access", args)
    assert result["failed"] is True
    assert "list serviceaccounts" in result["msg"] and "get clusterroles.rbac.authorization.k8s.io" in result["msg"]
    assert "kialiops reads these before it plans anything" in result["msg"]
    assert limited["api_key"] not in output


@pytest.mark.parametrize("cluster, over, fragment", [
    ("east", dict(impersonation=True, auth_strategy="openshift", rbac=RBAC_V230),
     "the impersonate rule lives in the OpenShift-only"),
    # data-driven: the v2.28 data set has no impersonate rule (Kiali has impersonation from v2.30.0)
    ("west", dict(impersonation=True, auth_strategy="openshift"), "but Kiali v2.28 has no impersonation"),
    ("east", dict(impersonation=True), "impersonation only with the openshift strategy"),
    ("west", dict(auth_strategy="openshift"), "kiali_host is not set"),
    ("east", dict(rbac=dict(RBAC, viewer=RBAC["write"])), "the viewer rules grant writes"),
])
def test_invalid_combinations_fail_before_any_write(lab, case, cluster, over, fragment):
    mark = lab.audit(cluster).mark()
    result = case.run(cluster, expect_ok=False, **over)
    assert result["failed"] is True and fragment in result["msg"], result["msg"]
    assert result["msg"].startswith("cluster %s: " % cluster)
    assert mutations(lab, cluster, mark, case) == []
