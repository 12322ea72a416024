"""remote_prepare with kialiops_remote_backend=operator on the lab's west (it serves the Kiali CRD). No operator
runs in the lab: the test plays the operator's part (creates <instance>-service-account once the CR exists) and
checks the CR we write and the token path."""
from __future__ import annotations

import base64
import threading
import time

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from labkit import ansible_playbook, audit, unique, whoami

ADMIN = "kialiops-admin"


@pytest.fixture
def west_only(lab, tmp_path):
    inv = yaml.safe_load((lab.dir / "inventory.yml").read_text())
    inv["all"]["children"]["spoke"]["hosts"] = {"west": inv["all"]["children"]["spoke"]["hosts"]["west"]}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    sfx = unique("op").split("-", 1)[1]
    extra = {"kialiops_kiali_namespace": "kiali-" + sfx, "kialiops_remote_namespace": "kr-" + sfx,
             "kialiops_instance_name": "kiali-" + sfx, "remote_prepare_operator_wait": 60}
    hub = client.CoreV1Api(lab.admin("hub"))
    west = client.CoreV1Api(lab.admin("west"))
    hub.create_namespace({"metadata": {"name": extra["kialiops_kiali_namespace"]}})
    yield path, extra, sfx
    client.CustomObjectsApi(lab.admin("west")).delete_collection_namespaced_custom_object(
        "kiali.io", "v1alpha1", extra["kialiops_remote_namespace"], "kialis")
    for api, ns in ((hub, extra["kialiops_kiali_namespace"]), (west, extra["kialiops_remote_namespace"])):
        try:
            api.delete_namespace(ns)
        except ApiException:
            pass


def play_operator(lab, ns, sa, stop):
    """What the Kiali operator would do: once the remote-only CR exists, create the service account."""
    crs = client.CustomObjectsApi(lab.admin("west"))
    core = client.CoreV1Api(lab.admin("west"))
    while not stop.is_set():
        try:
            items = crs.list_namespaced_custom_object("kiali.io", "v1alpha1", ns, "kialis")["items"]
        except ApiException:
            items = []
        if items:
            core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})
            return
        time.sleep(0.5)


def test_operator_backend_writes_the_remote_cr_and_stores_a_token_for_the_operator_sa(lab, west_only):
    inventory, extra, sfx = west_only
    ns, inst = extra["kialiops_remote_namespace"], extra["kialiops_instance_name"]
    west = client.CoreV1Api(lab.admin("west"))
    # first the direct backend, then switch: nothing the direct backend wrote may stay behind
    first = ansible_playbook(inventory, playbook="prepare.yml", extra=dict(extra, remote_prepare_verify="false"))
    assert first.returncode == 0, first.stdout[-4000:]
    assert west.read_namespaced_service_account(inst, ns)                    # chart flavour SA of the direct backend
    stop = threading.Event()
    operator = threading.Thread(target=play_operator, args=(lab, ns, inst + "-service-account", stop), daemon=True)
    operator.start()
    try:
        r = ansible_playbook(inventory, playbook="prepare.yml",
                             extra=dict(extra, kialiops_remote_backend="operator", remote_prepare_verify="false"))
    finally:
        stop.set()
        operator.join(5)
    assert r.returncode == 0, r.stdout[-5000:]
    crs = client.CustomObjectsApi(lab.admin("west"))
    cr = crs.get_namespaced_custom_object("kiali.io", "v1alpha1", ns, "kialis", inst)
    assert cr["spec"]["deployment"]["remote_cluster_resources_only"] is True
    assert cr["spec"]["deployment"]["instance_name"] == inst and "clustering" not in cr["spec"]
    assert cr["metadata"]["labels"]["kialiops.io/home"] == "hub"
    owned = "app.kubernetes.io/managed-by=kialiops,kialiops.io/home=hub"
    rbac = client.RbacAuthorizationV1Api(lab.admin("west"))
    assert [b.metadata.name for b in rbac.list_cluster_role_binding(label_selector=owned).items] == []
    with pytest.raises(ApiException):
        west.read_namespaced_service_account(inst, ns)                       # the direct backend's SA is gone
    sec = client.CoreV1Api(lab.admin("hub")).read_namespaced_secret("kiali-remote-cluster-secret-west",
                                                                    extra["kialiops_kiali_namespace"])
    api = config.new_client_from_config_dict(yaml.safe_load(base64.b64decode(sec.data["west"])))
    api.configuration.proxy = None
    assert whoami(api) == "system:serviceaccount:%s:%s-service-account" % (ns, inst)

    marks = lab.marks()
    again = ansible_playbook(inventory, playbook="prepare.yml",
                             extra=dict(extra, kialiops_remote_backend="operator", remote_prepare_verify="false"))
    assert again.returncode == 0, again.stdout[-3000:]
    for c in ("hub", "west"):
        touched = [e for e in audit.mutating(lab.audit(c).since(marks[c]), ADMIN)
                   if sfx in (e["objectRef"].get("namespace") or "") or sfx in (e["objectRef"].get("name") or "")]
        assert touched == [], c


def test_operator_that_never_comes_is_a_clear_timeout(lab, west_only):
    inventory, extra, sfx = west_only
    client.CoreV1Api(lab.admin("west")).create_namespace({"metadata": {"name": extra["kialiops_remote_namespace"]}})
    r = ansible_playbook(inventory, playbook="prepare.yml",
                         extra=dict(extra, kialiops_remote_backend="operator", remote_prepare_operator_wait=5))
    assert r.returncode != 0
    assert "did not create ServiceAccount" in r.stdout and "Install the Kiali operator on west" in r.stdout


def test_operator_backend_without_the_kiali_crd_says_install_the_operator(lab, tmp_path):
    inv = yaml.safe_load((lab.dir / "inventory.yml").read_text())
    inv["all"]["children"]["spoke"]["hosts"] = {"east": inv["all"]["children"]["spoke"]["hosts"]["east"]}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    r = ansible_playbook(path, playbook="prepare.yml", extra={"kialiops_remote_backend": "operator"})
    assert r.returncode != 0 and "install the Kiali operator first" in r.stdout and "cluster east" in r.stdout


def test_operator_backend_with_openshift_auth_sets_the_redirect_uri(lab, west_only):
    inventory, extra, sfx = west_only
    ns, inst = extra["kialiops_remote_namespace"], extra["kialiops_instance_name"]
    core = client.CoreV1Api(lab.admin("west"))
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": inst + "-service-account"}})  # the operator's
    # auth openshift needs an OpenShift home (preflight); the lab's hub is plain Kubernetes, so it is declared one
    r = ansible_playbook(inventory, playbook="prepare.yml",
                         extra=dict(extra, kialiops_remote_backend="operator", kialiops_auth_strategy="openshift",
                                    kialiops_platform="openshift", kialiops_kiali_host="kiali.apps.hub.example.com",
                                    remote_prepare_verify="false"))
    assert r.returncode == 0, r.stdout[-4000:]
    crs = client.CustomObjectsApi(lab.admin("west"))
    cr = crs.get_namespaced_custom_object("kiali.io", "v1alpha1", ns, "kialis", inst)
    assert cr["spec"]["auth"]["strategy"] == "openshift"
    assert cr["spec"]["auth"]["openshift"]["redirect_uris"] == ["https://kiali.apps.hub.example.com/api/auth/callback/west"]
