"""The reliability suite runs against the same lab as tests/integration, with the same session semantics: a
healthy lab at LAB_DIR is reused, otherwise the session starts one and stops it at the end."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from labkit import kubeconfig_client, request_token, session_lab, stored_kubeconfig, unique, whoami  # noqa: E402
from test_cluster_remove import HOME, Mesh, onboard  # noqa: E402


@pytest.fixture(scope="session")
def lab():
    with session_lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="session")
def _converged(lab, tmp_path_factory):
    """A mesh kialiops converged once: home mgmt, spokes east and west; plus a view-only identity on east."""
    mesh = Mesh(lab, tmp_path_factory.mktemp("converged"))
    onboard(mesh)
    east = lab.admin("east")
    sa_ns = unique("viewer")
    core, rbac = client.CoreV1Api(east), client.RbacAuthorizationV1Api(east)
    core.create_namespace({"metadata": {"name": sa_ns}})
    core.create_namespaced_service_account(sa_ns, {"metadata": {"name": "viewer"}})
    rbac.create_cluster_role_binding({"metadata": {"name": sa_ns}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": sa_ns}]})
    mesh.viewer_token = request_token(east, sa_ns, "viewer", 3600)
    yield mesh
    rbac.delete_cluster_role_binding(sa_ns)
    core.delete_namespace(sa_ns)
    mesh.cleanup()


def _stored_credentials_work(mesh) -> bool:
    """Each spoke's kubeconfig stored on the home still authenticates (not 401)."""
    for cluster in ("east", "west"):
        stored = stored_kubeconfig(mesh.lab, mesh.ns, cluster, home=HOME)
        assert stored is not None, "no credential stored for %s on %s" % (cluster, HOME)
        try:
            whoami(kubeconfig_client(stored))
        except client.ApiException as e:
            if e.status == 401:
                return False
            raise
    return True


@pytest.fixture
def converged(_converged):
    """The converged mesh, converged again if another test's mesh pruned it: every mesh of these tests has Kiali's
    home on mgmt, and kialiops keeps one Kiali instance per home on a remote, so onboarding another one removes this
    one's service account and RBAC there (its stored tokens then get 401)."""
    if not _stored_credentials_work(_converged):
        r = _converged.run("site.yml", None, "-e", "remote_prepare_force_rotate=true")
        assert r.returncode == 0, r.stdout[-4000:]
    return _converged
