"""kiali_cr module and kiali_install role on the lab: the hub and mgmt serve the real Kiali CRD, east none.

Each test works in its own namespace on the home with a unique instance name and removes it afterwards."""
from __future__ import annotations

import re

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from labkit import ansible_playbook, audit, run_module, unique

ADMIN = "kialiops-admin"
GROUP, VERSION, PLURAL = "kiali.io", "v1alpha1", "kialis"


def conn(lab, cluster):
    return dict(cluster_name=cluster, kubeconfig=lab.kubeconfig(cluster), context=cluster)


@pytest.fixture
def home_ns(lab, request):
    """A fresh namespace on the home cluster (hub, or the cluster given by indirect parametrisation)."""
    cluster = getattr(request, "param", "hub")
    ns = unique("ki")
    core = client.CoreV1Api(lab.admin(cluster))
    core.create_namespace({"metadata": {"name": ns}})
    yield cluster, ns
    crs = client.CustomObjectsApi(lab.admin(cluster))
    for item in crs.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"]:
        crs.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, item["metadata"]["name"])
    core.delete_namespace(ns)


def get_cr(lab, cluster, ns, name):
    crs = client.CustomObjectsApi(lab.admin(cluster))
    try:
        return crs.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def ns_writes(events, ns):
    return [e for e in audit.mutating(events, ADMIN) if (e.get("objectRef") or {}).get("namespace") == ns]


def run(lab, cluster, ns, inst, **kw):
    # a strategy Kiali supports across clusters (token is refused once a remote secret exists: see below)
    args = dict(conn(lab, cluster), namespace=ns, instance_name=inst, auth_strategy="anonymous")
    args.update(kw.pop("args", {}))
    return run_module("kiali_cr", args, **kw)


def add_remote_secret(lab, cluster, ns, name):
    client.CoreV1Api(lab.admin(cluster)).create_namespaced_secret(ns, {
        "metadata": {"name": name, "labels": {"kiali.io/multiCluster": "true"},
                     "annotations": {"kiali.io/cluster": name}},
        "stringData": {name: "kubeconfig-of-" + name}})


def test_co_located_cr_accepted_rerun_silent_and_nudged_exactly_once(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    log = lab.audit(cluster)
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is True and res["action"] == "created", out
    cr = get_cr(lab, cluster, ns, inst)
    spec = cr["spec"]
    assert spec["deployment"]["instance_name"] == inst and spec["deployment"]["namespace"] == ns
    assert spec["deployment"]["view_only_mode"] is True and spec["auth"]["strategy"] == "anonymous"
    assert spec["clustering"]["autodetect_secrets"] == {"enabled": True, "label": "kiali.io/multiCluster=true"}
    assert spec["clustering"]["ignore_home_cluster"] is False  # written by kialiops, not a CRD default
    assert cr["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kialiops"
    managers = {m["manager"] for m in cr["metadata"]["managedFields"]}
    assert managers == {"kialiops"}
    first = cr["metadata"]["annotations"]["kiali.io/reconcile"]
    assert re.fullmatch(r"[0-9a-f]{16}", first)

    mark = log.mark()
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is False and res["action"] == "unchanged", out
    assert ns_writes(log.since(mark), ns) == []

    # a new remote-cluster secret changes the nudge once ...
    add_remote_secret(lab, cluster, ns, "kiali-remote-cluster-secret-" + unique("sp"))
    mark = log.mark()
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is True and res["reconcile"] != first, out
    assert get_cr(lab, cluster, ns, inst)["metadata"]["annotations"]["kiali.io/reconcile"] == res["reconcile"]
    assert len(ns_writes(log.since(mark), ns)) >= 1
    # ... and the run after changes nothing and sends no mutating request
    mark = log.mark()
    res2, out = run(lab, cluster, ns, inst)
    assert res2.get("changed") is False and res2["reconcile"] == res["reconcile"], out
    assert ns_writes(log.since(mark), ns) == []


def test_single_mode_ignores_the_single_secret(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst, args=dict(secret_mode="single"))
    assert res.get("changed") is True, out
    client.CoreV1Api(lab.admin(cluster)).create_namespaced_secret(ns, {
        "metadata": {"name": "kiali-multi-cluster-secret", "labels": {"kiali.io/kiali-multi-cluster-secret": "true"}},
        "stringData": {"east": "kubeconfig"}})
    res2, out = run(lab, cluster, ns, inst, args=dict(secret_mode="single"))
    assert res2.get("changed") is False and res2["reconcile"] == res["reconcile"], out
    res3, out = run(lab, cluster, ns, inst)  # per_cluster mode counts it
    assert res3.get("changed") is True and res3["secrets"] == ["kiali-multi-cluster-secret"], out


def test_token_with_a_remote_is_refused_unless_home_only_is_accepted(lab, home_ns):
    # kiali v2.28.0 handlers/authentication/token_auth_controller.go: a token login gets clients for the home only
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst, args=dict(auth_strategy="token"))
    assert res.get("changed") is True, out                      # no remote yet: Kiali's default is fine
    add_remote_secret(lab, cluster, ns, "kiali-remote-cluster-secret-east")
    log = lab.audit(cluster)
    for strategy in ("token", "header"):
        mark = log.mark()
        res, out = run(lab, cluster, ns, inst, args=dict(auth_strategy=strategy))
        assert res.get("failed") is True, out
        assert "shows logged-in users Kiali's home cluster %s only" % cluster in res["msg"], res["msg"]
        assert "openid or anonymous" in res["msg"] and "kialiops_allow_home_only_auth" in res["msg"]
        assert ns_writes(log.since(mark), ns) == [] and "Traceback" not in out
    res, out = run(lab, cluster, ns, inst, args=dict(auth_strategy="token", allow_home_only=True))
    assert res.get("failed") is not True and res["changed"] is True, out   # the new secret changes the digest


@pytest.mark.parametrize("home_ns", ["mgmt"], indirect=True)
def test_external_cr_on_mgmt(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst, args=dict(
        topology="external", clusters=[{"name": "hub", "secret_name": "kiali-remote-cluster-secret-hub"},
                                       {"name": "dark"}],
        kiali_urls=[{"cluster_name": "east", "url": "https://kiali.east.example.com"}], enable_exec_provider=True))
    assert res.get("changed") is True, out
    spec = get_cr(lab, cluster, ns, inst)["spec"]
    assert spec["clustering"]["ignore_home_cluster"] is True
    assert spec["kubernetes_config"]["cluster_name"] == "mgmt"
    assert spec["clustering"]["clusters"] == [{"name": "hub", "secret_name": "kiali-remote-cluster-secret-hub"},
                                              {"name": "dark"}]
    assert spec["clustering"]["autodetect_secrets"]["enabled"] is False
    assert spec["clustering"]["enable_exec_provider"] is True
    assert spec["clustering"]["kiali_urls"][0] == {"cluster_name": "east", "instance_name": "kiali",
                                                   "namespace": "istio-system", "url": "https://kiali.east.example.com"}


def test_field_of_another_manager_survives(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is True, out
    crs = client.CustomObjectsApi(lab.admin(cluster))
    crs.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, inst, {"spec": {"istio_namespace": "mesh-x"}},
                                       field_manager="human")
    res, out = run(lab, cluster, ns, inst, args=dict(view_only=False))  # a real apply of ours
    assert res.get("changed") is True, out
    cr = get_cr(lab, cluster, ns, inst)
    assert cr["spec"]["istio_namespace"] == "mesh-x" and cr["spec"]["deployment"]["view_only_mode"] is False
    # a field the other manager owns is not taken over: the conflict names the manager and the field
    crs.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, inst, {"spec": {"auth": {"strategy": "openid"}}},
                                       field_manager="human")
    res, out = run(lab, cluster, ns, inst, args=dict(view_only=False))
    assert res.get("failed") is True, out
    assert "human" in res["msg"] and ".spec.auth.strategy" in res["msg"] and "409" in res["msg"], res["msg"]
    assert get_cr(lab, cluster, ns, inst)["spec"]["auth"]["strategy"] == "openid"


def test_a_field_we_stop_sending_is_removed(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst, args=dict(spec={"istio_namespace": "mesh-y"}))
    assert res.get("changed") is True and get_cr(lab, cluster, ns, inst)["spec"]["istio_namespace"] == "mesh-y", out
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is True, out
    assert "istio_namespace" not in get_cr(lab, cluster, ns, inst)["spec"]


def test_invalid_spec_fails_with_the_path_and_writes_nothing(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    log = lab.audit(cluster)
    mark = log.mark()
    res, out = run(lab, cluster, ns, inst, args=dict(spec={"deployment": {"view_only_mod": True}}))
    assert res.get("failed") is True and "spec.deployment.view_only_mod" in res["msg"], out
    assert "cluster %s" % cluster in res["msg"] and "Nothing was written" in res["msg"]
    assert get_cr(lab, cluster, ns, inst) is None
    assert all("dryRun=All" in e["requestURI"] for e in ns_writes(log.since(mark), ns))


def test_immutable_fields_are_refused(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    res, out = run(lab, cluster, ns, inst)
    assert res.get("changed") is True, out
    before = get_cr(lab, cluster, ns, inst)
    log = lab.audit(cluster)
    mark = log.mark()
    res, out = run(lab, cluster, ns, inst + "-new", args=dict(name=inst))
    assert res.get("failed") is True and "deployment.instance_name" in res["msg"], out
    assert "delete the CR" in res["msg"]
    res, out = run(lab, cluster, ns, inst, args=dict(spec={"deployment": {"namespace": "elsewhere"}}))
    assert res.get("failed") is True and "deployment.namespace" in res["msg"], out
    assert ns_writes(log.since(mark), ns) == []
    assert get_cr(lab, cluster, ns, inst)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_check_mode_writes_nothing_and_diff_shows_the_change(lab, home_ns):
    cluster, ns = home_ns
    inst = unique("kiali")
    log = lab.audit(cluster)
    mark = log.mark()
    res, out = run(lab, cluster, ns, inst, check=True, diff=True)
    label = "Kiali %s/%s" % (ns, inst)
    assert res.get("changed") is True and res["diff"]["before"] == {label: None}, out
    assert res["diff"]["after"][label]["spec"]["deployment"]["instance_name"] == inst
    assert get_cr(lab, cluster, ns, inst) is None
    writes = ns_writes(log.since(mark), ns)
    assert writes and all("dryRun=All" in e["requestURI"] for e in writes)
    run(lab, cluster, ns, inst)
    mark = log.mark()
    res, out = run(lab, cluster, ns, inst, args=dict(view_only=False), check=True, diff=True)
    assert res.get("changed") is True, out
    assert res["diff"]["before"][label]["spec"]["deployment"]["view_only_mode"] is True
    assert res["diff"]["after"][label]["spec"]["deployment"]["view_only_mode"] is False
    assert get_cr(lab, cluster, ns, inst)["spec"]["deployment"]["view_only_mode"] is True
    assert all("dryRun=All" in e["requestURI"] for e in ns_writes(log.since(mark), ns))


def test_missing_crd_on_east_is_a_clear_error(lab):
    res, out = run_module("kiali_cr", dict(conn(lab, "east"), namespace="istio-system", instance_name=unique("k")))
    assert res.get("failed") is True, out
    assert "install the Kiali operator first" in res["msg"] and "cluster east" in res["msg"]
    assert "Traceback" not in out


def test_openshift_auth_refused_on_plain_home(lab):
    res, out = run_module("kiali_cr", dict(conn(lab, "hub"), namespace="istio-system", instance_name=unique("k"),
                                           auth_strategy="openshift"))
    assert res.get("failed") is True and "OpenShift" in res["msg"], out


@pytest.mark.parametrize("home_ns,inventory", [("hub", "inventory.yml"), ("mgmt", "inventory-external.yml")],
                         indirect=["home_ns"])
def test_role_writes_the_cr_for_the_topology_then_is_silent(lab, home_ns, inventory):
    cluster, ns = home_ns
    inst = unique("kiali")
    extra = {"kialiops_kiali_namespace": ns, "kialiops_instance_name": inst}
    done = ansible_playbook(lab.dir / inventory, playbook="install.yml", extra=extra, timeout=600)
    assert done.returncode == 0 and "changed=1" in done.stdout, done.stdout + done.stderr
    spec = get_cr(lab, cluster, ns, inst)["spec"]
    assert spec["clustering"]["ignore_home_cluster"] is (cluster == "mgmt")
    if cluster == "mgmt":
        assert spec["kubernetes_config"]["cluster_name"] == "mgmt"
    log = lab.audit(cluster)
    mark = log.mark()
    done = ansible_playbook(lab.dir / inventory, playbook="install.yml", extra=extra, timeout=600)
    assert done.returncode == 0 and "changed=0" in done.stdout, done.stdout + done.stderr
    assert ns_writes(log.since(mark), ns) == []
