# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Error wording. API errors are real kubernetes ApiException objects carrying the Status bodies a
kube-apiserver sends; transport errors come from real sockets on loopback (a closed port, a TLS server
with an untrusted certificate, a server that never answers), never from a mocked API."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic.exceptions import ForbiddenError, NotFoundError, ResourceNotFoundError

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    KialiopsError,
    crd_name,
    from_api_exception,
)
from labkit import free_port

EAST = {"server": "https://127.0.0.12:6443", "kube_context": "east-admin", "kubeconfig": "/lab/east.kubeconfig"}


def api_error(status, message="", reason="", details=None, body=None):
    exc = ApiException(status=status, reason=reason or "Status %d" % status)
    if body is None:
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "details": details or {}, "code": status}).encode()
    exc.body = body
    exc.headers = {"Content-Type": "application/json"}
    return exc


FORBIDDEN_CRB = ('clusterrolebindings.rbac.authorization.k8s.io is forbidden: '
                 'User "system:serviceaccount:ops:installer" cannot create resource "clusterrolebindings" '
                 'in API group "rbac.authorization.k8s.io" at the cluster scope')
FORBIDDEN_SECRETS = ('secrets is forbidden: User "system:serviceaccount:istio-system:kiali" cannot list resource '
                     '"secrets" in API group "" in the namespace "istio-system"')
NOT_SERVED = "the server could not find the requested resource"
CONFLICT = ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.east\n'
            'Please review the fields above--they currently have other managers. Here are the ways you can '
            'resolve this warning:\n* If you intend to manage all of these fields, please re-run the apply '
            'command with the `--force-conflicts` flag.')
CONFLICTS = ('Apply failed with 2 conflicts: conflicts with "helm" using kiali.io/v1alpha1:\n'
             '- .spec.deployment.namespace\n- .spec.auth.strategy')

# (id, exception, context, exact str() or fragments of it)
CASES = [
    ("401 stale credential", api_error(401, "Unauthorized", "Unauthorized"), EAST,
     "cluster east: the API server rejected the credential while trying to read Secret x (401 Unauthorized). "
     "The credential of context 'east-admin' of kubeconfig /lab/east.kubeconfig is stale or invalid (expired or "
     "revoked token, or issued by another cluster): refresh it, or check that it belongs to cluster east."),
    ("403 names verb, resource, user and context (STYLE example)", api_error(403, FORBIDDEN_CRB, "Forbidden"), EAST,
     "cluster east: cannot create clusterrolebindings.rbac.authorization.k8s.io (403, user "
     "system:serviceaccount:ops:installer). Grant that verb to context 'east-admin' or use a context that has it."),
    ("403 core group in a namespace", api_error(403, FORBIDDEN_SECRETS, "Forbidden"), EAST,
     ["cannot list secrets in namespace istio-system (403, user system:serviceaccount:istio-system:kiali)"]),
    ("403 without context names the user", api_error(403, FORBIDDEN_SECRETS, "Forbidden"),
     {"server": "https://h:6443"},
     ["Grant that verb to user system:serviceaccount:istio-system:kiali or use a credential that has it"]),
    ("403 non-resource path", api_error(403, 'forbidden: User "system:anonymous" cannot get path "/apis"',
                                        "Forbidden"), EAST,
     ["cannot get path /apis (403, user system:anonymous)", "no credential was sent"]),
    ("403 admission denial keeps the server's words",
     api_error(403, 'admission webhook "policy.example.com" denied the request: no', "Forbidden"), EAST,
     ["refused to read Secret x (403 Forbidden): admission webhook \"policy.example.com\" denied the request"]),
    ("404 kind of a CRD names the CRD", api_error(404, NOT_SERVED, "NotFound"),
     dict(EAST, kind="Kiali", api_version="kiali.io/v1alpha1"),
     "cluster east: the API server does not serve kind Kiali in kiali.io/v1alpha1. Install the "
     "CustomResourceDefinition kialis.kiali.io on cluster east (it ships with the operator that owns the kind), "
     "then re-run."),
    ("404 built-in kind says too old", api_error(404, NOT_SERVED, "NotFound"),
     dict(EAST, kind="SelfSubjectReview", api_version="authentication.k8s.io/v1"),
     ["does not serve kind SelfSubjectReview in authentication.k8s.io/v1", "too old"]),
    ("404 object", api_error(404, 'secrets "x" not found', "NotFound", {"name": "x", "kind": "secrets"}),
     dict(EAST, kind="Secret", name="x", namespace="istio-system"),
     ["cluster east: Secret istio-system/x: cannot read Secret x: it does not exist (404)"]),
    ("404 missing namespace", api_error(404, 'namespaces "istio-system" not found', "NotFound",
                                        {"name": "istio-system", "kind": "namespaces"}),
     dict(EAST, kind="Secret", name="x", namespace="istio-system"),
     ["namespace istio-system does not exist", "Create namespace istio-system first"]),
    ("409 apply conflict names the other manager", api_error(409, CONFLICT, "Conflict"), EAST,
     ["field manager kubectl-client-side-apply owns .data.east (409 Conflict)", "never forces ownership"]),
    ("409 several conflicts", api_error(409, CONFLICTS, "Conflict"), EAST,
     ["field manager helm owns .spec.deployment.namespace, .spec.auth.strategy"]),
    ("422 invalid", api_error(422, 'Kiali.kiali.io "kiali" is invalid: spec.auth.strategy: Unsupported value',
                              "Invalid"), EAST,
     ["rejected the request to read Secret x as invalid (422): Kiali.kiali.io \"kiali\" is invalid"]),
    ("503 unhealthy", api_error(503, "", "Service Unavailable"), EAST, ["(503 Service Unavailable)", "/readyz"]),
    ("body not JSON", api_error(500, body="upstream connect error"), EAST, ["upstream connect error"]),
    ("body as str", api_error(403, body=json.dumps({"message": FORBIDDEN_SECRETS})), EAST, ["cannot list secrets"]),
    ("dynamic client's ForbiddenError", ForbiddenError(api_error(403, FORBIDDEN_CRB, "Forbidden")), EAST,
     ["cannot create clusterrolebindings.rbac.authorization.k8s.io (403"]),
    ("dynamic client's ResourceNotFoundError", ResourceNotFoundError("No matches found for {'kind': 'Kiali'}"),
     dict(EAST, kind="Kiali", api_version="kiali.io/v1alpha1"), ["kialis.kiali.io"]),
    ("kubeconfig error", ConfigException("Invalid kube-config file. Expected object with name nope"),
     dict(EAST, kube_context="nope"), ["cannot load the connection settings from context 'nope'", "get-contexts"]),
    ("unreadable file", FileNotFoundError(2, "No such file or directory", "/lab/ca.crt"), EAST,
     ["cannot load the connection settings", "ca_cert"]),
]


@pytest.mark.parametrize("exc, context, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_api_errors_name_cluster_and_fix(exc, context, expected):
    err = from_api_exception("east", exc, "read Secret x", context)
    assert isinstance(err, KialiopsError)
    text = str(err)
    assert text.startswith("cluster east: ")
    assert err.cluster == "east" and err.fix
    assert ".." not in text
    if isinstance(expected, str):
        assert text == expected
    else:
        for fragment in expected:
            assert fragment in text, (fragment, text)


@pytest.mark.parametrize("status", [401, 403, 404, 409, 422, 500])
def test_status_is_kept(status):
    assert from_api_exception("east", api_error(status, "m"), "x", EAST).status == status


def test_dynamic_not_found_is_the_same_as_api_404():
    exc = NotFoundError(api_error(404, 'secrets "x" not found', "NotFound", {"name": "x", "kind": "secrets"}))
    assert "it does not exist" in str(from_api_exception("east", exc, "read Secret x", EAST))


def test_kialiops_error_passes_through():
    err = KialiopsError("west", "already explained", "nothing to do")
    assert from_api_exception("east", err, "x") is err


def test_unknown_exception_still_names_cluster_and_type():
    text = str(from_api_exception("east", RuntimeError("boom"), "read Secret x"))
    assert text.startswith("cluster east: cannot read Secret x (RuntimeError: boom).")


@pytest.mark.parametrize("kwargs, expected", [
    (dict(cluster="east", reason="r", fix="f"), "cluster east: r. f."),
    (dict(cluster="east", reason="r.", fix="f."), "cluster east: r. f."),
    (dict(cluster="east", reason="r", fix="", obj="Secret ns/x"), "cluster east: Secret ns/x: r."),
])
def test_kialiops_error_str(kwargs, expected):
    err = KialiopsError(**kwargs)
    assert str(err) == expected
    assert err.to_result()["cluster"] == "east"


@pytest.mark.parametrize("kind, api_version, expected", [
    ("Kiali", "kiali.io/v1alpha1", "kialis.kiali.io"),
    ("ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitors.monitoring.coreos.com"),
    ("PodMonitor", "monitoring.coreos.com/v1", "podmonitors.monitoring.coreos.com"),
    ("Route", "route.openshift.io/v1", "routes.route.openshift.io"),
    ("ManagedCluster", "cluster.open-cluster-management.io/v1", "managedclusters.cluster.open-cluster-management.io"),
    ("MultiClusterObservability", "observability.open-cluster-management.io/v1beta2",
     "multiclusterobservabilities.observability.open-cluster-management.io"),
    ("Gateway", "networking.istio.io/v1", "gateways.networking.istio.io"),
    ("Secret", "v1", None),
    ("Deployment", "apps/v1", None),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", None),
])
def test_crd_name(kind, api_version, expected):
    assert crd_name(kind, api_version) == expected


# --- real transport failures on loopback ---------------------------------------------------------------


def _version_call(url, **config):
    configuration = k8s.Configuration(host=url)
    for key, value in config.items():
        setattr(configuration, key, value)
    configuration.retries = 0
    with k8s.ApiClient(configuration) as api:
        return k8s.VersionApi(api).get_code(_request_timeout=1)


def _capture(url, context, **config):
    try:
        _version_call(url, **config)
    except Exception as e:  # what the kubernetes client really raises
        return from_api_exception("east", e, "read the server version", context)
    raise AssertionError("the call should have failed")


def test_connection_refused_names_url_and_context():
    url = "https://127.0.0.1:%d" % free_port()
    text = str(_capture(url, dict(EAST, server=url)))
    assert text.startswith("cluster east: cannot connect to the API server at %s while trying to read the server "
                           "version (connection refused)." % url)
    assert "context 'east-admin' of kubeconfig /lab/east.kubeconfig" in text


def test_server_url_comes_from_the_error_without_context():
    port = free_port()
    text = str(_capture("https://127.0.0.1:%d" % port, {}))
    assert "https://127.0.0.1:%d" % port in text


@pytest.fixture
def silent_listener():
    """A TCP server that accepts and never answers: TLS handshakes time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield "https://127.0.0.1:%d" % server.getsockname()[1]
    server.close()


def test_timeout_names_url(silent_listener):
    err = _capture(silent_listener, dict(EAST, server=silent_listener))
    assert "timed out talking to the API server at %s" % silent_listener in str(err)
    assert "context 'east-admin'" in str(err)


@pytest.fixture
def untrusted_tls_server(tmp_path):
    """A TLS server on loopback whose self-signed certificate nobody trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "untrusted")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, dummy_addr = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client rejected our certificate, as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "https://127.0.0.1:%d" % server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_tls_verification_failure_names_the_ca_problem(untrusted_tls_server):
    text = str(_capture(untrusted_tls_server, dict(EAST, server=untrusted_tls_server)))
    assert text.startswith("cluster east: TLS verification of %s failed while trying to read the server version ("
                           % untrusted_tls_server)
    assert "self-signed certificate" in text or "certificate verify failed" in text
    assert "ca_cert" in text and "certificate-authority-data in context 'east-admin'" in text
    assert "allow_insecure=true" in text


def test_tls_failure_with_host_options_points_at_ca_cert(untrusted_tls_server):
    text = str(_capture(untrusted_tls_server, {"server": untrusted_tls_server}))
    assert "Give the CA that signed its certificate with ca_cert and use a URL" in text
    assert "certificate-authority-data" not in text
