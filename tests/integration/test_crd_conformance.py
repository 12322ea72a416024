"""Conformance of everything kialiops writes with the CRDs installed on the lab.

Where ../shared/crds exists (CI, the project's developers) the lab installs the upstream CRDs (Kiali, ServiceMonitor,
PodMonitor, Route, ManagedCluster, MultiClusterObservability); without it, the project's own fixtures. Every object
of a GitOps export of site.yml (co-located with per-cluster secrets and bound tokens; External Kiali with the single
secret, legacy tokens and Kiali's write role), and every shape of Kiali CR the builders produce (ACM fields, the
operator backend's remote CR), is sent to the cluster it is for as a server-side dry-run with field validation
*off*: the API server then prunes silently whatever its schema does not declare, so comparing its answer with what
was sent shows every field the installed CRD would drop. Expected: every object accepted, nothing dropped."""
from __future__ import annotations

import sys

import pytest
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from labkit import REPO, ansible_playbook, collections_root, load_yaml, unique

collections_root()
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
from kiali_shapes import written_crs  # noqa: E402  (tests/fixtures/kiali_shapes.py)
from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import dropped_fields  # noqa: E402

MANAGER = "kialiops-conformance"


def crd_source(lab):
    return "upstream CRDs of %s" % lab.state["shared_crds"] if lab.state.get("shared_crds") else \
        "the project's own fixtures (tests/fixtures/crds; ../shared/crds was absent when the lab started)"


def dry_run(api, doc):
    """What the API server would store for ``doc`` (server-side apply, dry-run, unknown fields pruned silently)."""
    res = DynamicClient(api).resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    return DynamicClient(api).server_side_apply(
        res, body=doc, name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace"),
        field_manager=MANAGER, force_conflicts=True, dry_run="All",
        query_params=[("fieldValidation", "Ignore")]).to_dict()


def check(lab, objects, created):
    """``{"<cluster> <Kind> <ns>/<name>": problem}`` for every object refused or pruned; makes missing namespaces
    (a dry-run into a namespace that does not exist is refused) and records them in ``created``."""
    problems = {}
    for cluster, doc in objects:
        api = lab.admin(cluster)
        ns = doc["metadata"].get("namespace")
        if ns and (cluster, ns) not in created:
            core = client.CoreV1Api(api)
            try:
                core.read_namespace(ns)
            except client.ApiException as e:
                assert e.status == 404
                core.create_namespace({"metadata": {"name": ns}})
                created.append((cluster, ns))
        key = "%s %s %s/%s" % (cluster, doc["kind"], ns or "", doc["metadata"]["name"])
        try:
            answer = dry_run(api, doc)
        except client.ApiException as e:
            problems[key] = "refused: %s %s" % (e.status, e.body)
            continue
        dropped = dropped_fields(doc, answer)
        if dropped:
            problems[key] = "pruned: %s" % ", ".join(dropped)
    return problems


def exported(root):
    for path in sorted(root.rglob("*.yaml")):
        yield path.parent.name, yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def namespaces(lab):
    created = []
    yield created
    for cluster, ns in created:
        client.CoreV1Api(lab.admin(cluster)).delete_namespace(ns)


def inventory(lab, tmp_path, topology, ns, remote_ns, **variables):
    """The lab's inventory (co-located, home hub) or inventory-external.yml (mgmt hosts Kiali, hub is a remote)."""
    inv = load_yaml(lab.dir / ("inventory-external.yml" if topology == "external" else "inventory.yml"))
    inv["all"]["vars"] = dict(inv["all"].get("vars") or {}, kialiops_kiali_namespace=ns,
                              kialiops_remote_namespace=remote_ns, kialiops_instance_name=ns, **variables)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


@pytest.mark.parametrize("topology, variables", [
    ("co-located", {"kialiops_secret_mode": "per_cluster", "kialiops_token_mode": "bound"}),
    # the single secret, legacy token Secrets on the remotes, and Kiali's write role (anonymous, not view-only)
    ("external", {"kialiops_secret_mode": "single", "kialiops_token_mode": "legacy", "kialiops_view_only": False}),
])
def test_every_exported_object_conforms(lab, tmp_path, namespaces, topology, variables):
    home = "mgmt" if topology == "external" else "hub"
    ns, remote_ns = unique("kc"), unique("kc-remote")
    client.CoreV1Api(lab.admin(home)).create_namespace({"metadata": {"name": ns}})
    namespaces.append((home, ns))
    out = tmp_path / "gitops"
    r = ansible_playbook(inventory(lab, tmp_path, topology, ns, remote_ns, **variables),
                         "-e", "kialiops_render_dir=%s" % out)
    assert r.returncode == 0, r.stdout[-4000:]
    objects = list(exported(out))
    kinds = {doc["kind"] for dummy_cluster, doc in objects}
    assert {"Kiali", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Secret", "Namespace"} <= kinds, kinds
    cr = next(doc for cluster, doc in objects if doc["kind"] == "Kiali")
    assert cr["spec"]["clustering"]["ignore_home_cluster"] is (topology == "external")
    assert check(lab, objects, namespaces) == {}, crd_source(lab)


def test_every_kiali_cr_shape_conforms(lab, namespaces):
    # on Kiali's home (mgmt) and on an OpenShift-flavoured remote (west: the operator backend's remote CR)
    ns = unique("kc-shapes")
    objects = [("west" if "remote" in name else "mgmt", cr) for name, cr in written_crs(namespace=ns, instance=ns)]
    assert check(lab, objects, namespaces) == {}, crd_source(lab)
