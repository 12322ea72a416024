# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Discovery only where it tells something: built-in kinds are known without a request, and a client is built
without one. Real kubernetes client objects; the only socket is a loopback listener that records connects."""

from __future__ import annotations

import socket
import threading

import pytest
import yaml

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import build_client, connect_kubeconfig
from ansible_collections.kialiops.multicluster.plugins.module_utils._discovery import BUILTIN, builtin_resource
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService


def kubeconfig(server):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "east",
            "clusters": [{"name": "east", "cluster": {"server": server}}],
            "contexts": [{"name": "east", "context": {"cluster": "east", "user": "east"}}],
            "users": [{"name": "east", "user": {"token": "t"}}]}


@pytest.fixture(name="listener")
def fixture_listener():
    """A loopback server socket nobody should connect to (accept() times out when nobody did)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def nobody_connected(sock):
    try:
        sock.accept()
    except socket.timeout:
        return True
    return False


def test_building_a_client_sends_nothing(tmp_path, listener):
    server = "https://127.0.0.1:%d" % listener.getsockname()[1]
    path = tmp_path / "k"
    path.write_text(yaml.safe_dump(kubeconfig(server)))
    client, where, _insecure = build_client({"cluster_name": "east", "kubeconfig": str(path)})
    service = ClusterService("east", client, where)
    assert service.server == server
    connect_kubeconfig("east", kubeconfig(server), dict(kube_context="east", kubeconfig="(stored)"))
    # a built-in kind is resolved without discovery either
    assert service._resource("v1", "Secret").path(name="s", namespace="kiali") == "/api/v1/namespaces/kiali/secrets/s"
    assert nobody_connected(listener)


def test_a_kind_outside_the_built_ins_is_discovered(tmp_path, listener):
    """The Kiali CR's kind needs discovery: looking it up is the first request (here to a server that closes every
    connection, so it fails naming the cluster and what it was doing)."""
    server = "https://127.0.0.1:%d" % listener.getsockname()[1]
    path = tmp_path / "k"
    path.write_text(yaml.safe_dump(kubeconfig(server)))
    client, where, _insecure = build_client({"cluster_name": "east", "kubeconfig": str(path)})
    service = ClusterService("east", client, where)
    assert nobody_connected(listener)
    connects, done = [], threading.Event()

    def close_every_connection():
        while not done.is_set():
            try:
                conn, _addr = listener.accept()
            except socket.timeout:
                continue
            connects.append(1)
            conn.close()

    thread = threading.Thread(target=close_every_connection, daemon=True)
    thread.start()
    try:
        with pytest.raises(KialiopsError) as caught:
            service._resource("kiali.io/v1alpha1", "Kiali")
    finally:
        done.set()
        thread.join(5)
    assert connects
    assert str(caught.value).startswith("cluster east: ")
    assert "discover kind Kiali in kiali.io/v1alpha1" in str(caught.value)


@pytest.mark.parametrize("api_version, kind, name, namespace, path", [
    ("v1", "Namespace", "kiali", None, "/api/v1/namespaces/kiali"),
    ("v1", "ServiceAccount", "kiali", "istio-system", "/api/v1/namespaces/istio-system/serviceaccounts/kiali"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "kiali", None,
     "/apis/rbac.authorization.k8s.io/v1/clusterroles/kiali"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "kiali", "ns",
     "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings/kiali"),
    ("apps/v1", "Deployment", "kiali", "istio-system", "/apis/apps/v1/namespaces/istio-system/deployments/kiali"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "kialis.kiali.io", None,
     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kialis.kiali.io"),
])
def test_builtin_paths_are_the_apis(api_version, kind, name, namespace, path):
    resource = builtin_resource(object(), api_version, kind)
    assert resource.path(name=name, namespace=namespace) == path
    assert resource.group_version == api_version
    assert resource.namespaced is (namespace is not None)


@pytest.mark.parametrize("api_version, kind", [
    ("kiali.io/v1alpha1", "Kiali"),                     # a CRD: served only where installed
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),  # another version of a built-in kind
    ("route.openshift.io/v1", "Route"),
    ("v1", "Secrets"),                                   # not a kind
])
def test_other_kinds_are_left_to_discovery(api_version, kind):
    assert builtin_resource(object(), api_version, kind) is None


def test_every_builtin_is_a_ga_version():
    for api_version, _kind in BUILTIN:
        assert api_version.rpartition("/")[2] == "v1"
