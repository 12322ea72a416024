"""acm_metrics (modules acm_monitoring, acm_observability; playbooks acm.yml, acm_cert_sync.yml) on the lab.

The tests build the ACM side on the lab hub themselves: a MultiClusterObservability valid against the real CRD,
Route observatorium-api, the secrets observability-grafana-certs / -server-ca-certs / -client-ca-certs with
certificates from two test CAs, and a loopback TLS server (python ssl, in a thread) that stands in for the
Observatorium API; acm_metrics_observatorium_address points the CA check at it. Mesh clusters: hub and west
(east has no openshift-monitoring). Each test uses its own Kiali namespace, control-plane and mesh namespaces,
removed afterwards; openshift-monitoring/cluster-monitoring-config is reset around each test."""
from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client
from kubernetes.client.rest import ApiException

from labkit import ansible_playbook, audit, collections_root, run_module, unique

ADMIN = "kialiops-admin"
OBS = "open-cluster-management-observability"
ROUTE_HOST = "observatorium-api-open-cluster-management-observability.apps.hub.kialiops.test"
MON = "openshift-monitoring"
MESH = ("hub", "west")
ISTIO_METRICS = ["istio_requests_total", "istio_tcp_connections_closed_total"]


# ---------------------------------------------------------------- test PKI
def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class CA:
    def __init__(self, cn):
        self.key = _key()
        self.name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Red Hat, Inc."),
                               x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1825))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.pem = _pem(self.cert)

    def issue(self, cn, server_names=(), days=365):
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server_names:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in server_names]), critical=False)
        return _pem(b.sign(self.key, hashes.SHA256())), _pem(key)


class Observatorium:
    """A loopback TLS server standing in for the Observatorium API (mTLS optional, like a client-cert check)."""

    def __init__(self, client_ca):
        self.client_ca = client_ca
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.ctx = None
        self.peers = []  # client certificate subjects seen
        self.stopped = False
        threading.Thread(target=self._loop, daemon=True).start()

    def serve(self, cert_pem, key_pem):
        with tempfile.TemporaryDirectory() as tmp:
            crt, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            crt.write_text(cert_pem)
            key.write_text(key_pem)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(crt), str(key))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cadata=self.client_ca.pem)
        self.ctx = ctx

    def _loop(self):
        while not self.stopped:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert()
                if peer:
                    self.peers.append(dict(x[0] for x in peer["subject"])["commonName"])
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
        except (OSError, ssl.SSLError):
            pass

    def stop(self):
        self.stopped = True
        self.sock.close()


# ---------------------------------------------------------------- the ACM side on the hub
def b64(text):
    return base64.b64encode(text.encode()).decode()


def put_secret(core, name, data):
    body = {"metadata": {"name": name, "namespace": OBS}, "type": "Opaque", "data": {k: b64(v) for k, v in data.items()}}
    try:
        core.replace_namespaced_secret(name, OBS, body)
    except ApiException as e:
        if e.status != 404:
            raise
        core.create_namespaced_secret(OBS, body)


def delete(fn, *args):
    try:
        fn(*args)
    except ApiException as e:
        if e.status != 404:
            raise


MCO = {"apiVersion": "observability.open-cluster-management.io/v1beta2", "kind": "MultiClusterObservability",
       "metadata": {"name": "observability"},
       "spec": {"observabilityAddonSpec": {"interval": 120},
                "advanced": {"retentionConfig": {"retentionResolutionRaw": "14d"}},
                "storageConfig": {"metricObjectStorage": {"name": "thanos-object-storage", "key": "thanos.yaml"}}}}
ROUTE = {"apiVersion": "route.openshift.io/v1", "kind": "Route",
         "metadata": {"name": "observatorium-api", "namespace": OBS},
         "spec": {"host": ROUTE_HOST, "to": {"kind": "Service", "name": "observability-observatorium-api"},
                  "port": {"targetPort": "public"}, "tls": {"termination": "passthrough"}}}


class Acm:
    """The hub's ACM Observability as the tests build it; every piece can be broken and restored."""

    def __init__(self, lab):
        self.lab = lab
        self.core = client.CoreV1Api(lab.admin("hub"))
        self.co = client.CustomObjectsApi(lab.admin("hub"))
        self.server_ca = CA("observability-server-ca-certificate")
        self.client_ca = CA("observability-client-ca-certificate")
        self.endpoint = Observatorium(self.client_ca)
        self.endpoint.serve(*self.server_ca.issue("observability-observatorium-api", [ROUTE_HOST]))
        self.rotate_client()
        put_secret(self.core, "observability-server-ca-certs", {"ca.crt": self.server_ca.pem})
        put_secret(self.core, "observability-client-ca-certs", {"ca.crt": self.client_ca.pem})
        self.mco()
        self.route()
        try:
            self.co.create_cluster_custom_object("cluster.open-cluster-management.io", "v1", "managedclusters", {
                "apiVersion": "cluster.open-cluster-management.io/v1", "kind": "ManagedCluster",
                "metadata": {"name": "hub"}, "spec": {"hubAcceptsClient": True}})
        except ApiException as e:
            if e.status != 409:
                raise

    def rotate_client(self):
        self.client_crt, self.client_key = self.client_ca.issue("grafana")
        put_secret(self.core, "observability-grafana-certs", {"tls.crt": self.client_crt, "tls.key": self.client_key})

    def mco(self, present=True, spec=None):
        grp = ("observability.open-cluster-management.io", "v1beta2", "multiclusterobservabilities", "observability")
        delete(self.co.delete_cluster_custom_object, *grp)
        if present:
            body = dict(MCO, spec=spec or MCO["spec"])
            self.co.create_cluster_custom_object(*grp[:3], body)

    def route(self, present=True):
        delete(self.co.delete_namespaced_custom_object, "route.openshift.io", "v1", OBS, "routes", "observatorium-api")
        if present:
            self.co.create_namespaced_custom_object("route.openshift.io", "v1", OBS, "routes", ROUTE)


@pytest.fixture(scope="module")
def acm(lab):
    the_acm = Acm(lab)
    yield the_acm
    the_acm.endpoint.stop()
    the_acm.mco(present=False)
    the_acm.route(present=False)


@pytest.fixture
def world(lab, acm):
    """Fresh namespaces: Kiali's (hub and mgmt), the control plane on hub and west, and mesh namespaces."""
    w = dict(kiali=unique("kiali"), cp=unique("cp"), made={c: [] for c in ("hub", "west", "mgmt")})

    def ns(cluster, name, labels=None):
        client.CoreV1Api(lab.admin(cluster)).create_namespace({"metadata": {"name": name, "labels": labels or {}}})
        w["made"][cluster].append(name)
        return name

    w["ns"] = ns
    for c in ("hub", "mgmt"):
        ns(c, w["kiali"])
    for c in MESH:
        ns(c, w["cp"])
    reset_uwm(lab)
    yield w
    reset_uwm(lab)
    for cluster, names in w["made"].items():
        core = client.CoreV1Api(lab.admin(cluster))
        for name in names:
            delete(core.delete_namespace, name)
    acm.mco()
    acm.route()


def reset_uwm(lab):
    for c in MESH:
        delete(client.CoreV1Api(lab.admin(c)).delete_namespaced_config_map, "cluster-monitoring-config", MON)


def conn(lab, cluster):
    return dict(cluster_name=cluster, kubeconfig=lab.kubeconfig(cluster), context=cluster)


def writes(lab, marks, clusters=("hub", "east", "west", "mgmt")):
    return {c: audit.mutating(lab.audit(c).since(marks[c]), ADMIN) for c in clusters}


def no_writes(lab, marks):
    found = writes(lab, marks)
    return all(v == [] for v in found.values()), {c: [(e["verb"], e["requestURI"]) for e in v] for c, v in found.items()}


def inventory(lab, tmp_path, external=False):
    inv = yaml.safe_load((lab.dir / ("inventory-external.yml" if external else "inventory.yml")).read_text())
    inv["all"]["children"]["spoke"]["hosts"].pop("east")  # no openshift-monitoring there: not an ACM cluster
    p = tmp_path / "inventory.yml"
    p.write_text(yaml.safe_dump(inv))
    return p


def playbook(inv, name, extra, *args):
    """ansible_playbook() with ``extra`` as typed YAML (an extra-vars file beside the inventory)."""
    ev = Path(inv).parent / "extra.yml"
    ev.write_text(yaml.safe_dump(extra))
    return ansible_playbook(inv, "-e", "@" + str(ev), *args, playbook=name)


def extra_vars(w, acm, **kw):
    out = dict(kialiops_acm_enabled=True, kialiops_kiali_namespace=w["kiali"], kialiops_instance_name=w["kiali"],
               kialiops_acm_control_plane_namespace=w["cp"], kialiops_acm_observatorium_address=acm.endpoint.address)
    out.update(kw)
    return out


def get(lab, cluster, kind, name, ns):
    api = lab.admin(cluster)
    try:
        if kind == "ConfigMap":
            return client.CoreV1Api(api).read_namespaced_config_map(name, ns).to_dict()
        if kind == "Secret":
            return client.CoreV1Api(api).read_namespaced_secret(name, ns).to_dict()
        plural = {"ServiceMonitor": "servicemonitors", "PodMonitor": "podmonitors"}[kind]
        return client.CustomObjectsApi(api).get_namespaced_custom_object("monitoring.coreos.com", "v1", ns, plural,
                                                                         name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def owned(obj, home):
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return labels.get("app.kubernetes.io/managed-by") == "kialiops" and labels.get("kialiops.io/home") == home


def kiali_cr(lab, cluster, ns, name):
    return client.CustomObjectsApi(lab.admin(cluster)).get_namespaced_custom_object("kiali.io", "v1alpha1", ns,
                                                                                    "kialis", name)


def pod(lab, cluster, ns, name, labels):
    """A pod object (the lab has no nodes: it stays Pending, which is all discovery needs)."""
    body = {"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "istio-proxy", "image": "registry.invalid/proxyv2"}]}}
    for attempt in range(50):  # the controller-manager creates the namespace's default service account first
        try:
            return client.CoreV1Api(lab.admin(cluster)).create_namespaced_pod(ns, body)
        except ApiException as e:
            if e.status != 403 or attempt == 49:
                raise
            time.sleep(0.2)


# ---------------------------------------------------------------- the whole flow through the playbooks
def test_acm_playbook_writes_everything_then_is_silent_and_follows_rotation(lab, acm, world, tmp_path):
    w, ns = world, world["ns"]
    inv = inventory(lab, tmp_path)
    hub_mesh = ns("hub", unique("bookinfo"), {"istio-injection": "enabled"})
    west_rev = ns("west", unique("travel"), {"istio.io/rev": "canary"})
    west_ambient = ns("west", unique("ambient"), {"istio.io/dataplane-mode": "ambient"})
    west_ztunnel = ns("west", unique("ztunnel"))
    west_waypoint = ns("west", unique("waypoint"))
    ns("west", unique("plain"))  # not in the mesh: gets nothing
    pod(lab, "west", west_ztunnel, "ztunnel-x", {"app": "ztunnel"})
    pod(lab, "west", west_waypoint, "waypoint-x", {"gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"})
    # Istio's mesh config on the hub gives the mesh ID; west has none and gets the variable
    client.CoreV1Api(lab.admin("hub")).create_namespaced_config_map(w["cp"], {
        "metadata": {"name": "istio"}, "data": {"mesh": "defaultConfig:\n  meshId: mesh-1\ntrustDomain: td.local\n"}})
    # what people made before: UWM settings on west, an allowlist with their own metric in a mesh namespace
    person_uwm = "# tuned by the platform team\nprometheusK8s:\n  retention: 15d\nalertmanagerMain:\n  enabled: false\n"
    client.CoreV1Api(lab.admin("west")).create_namespaced_config_map(MON, {
        "metadata": {"name": "cluster-monitoring-config"}, "data": {"config.yaml": person_uwm}}, field_manager="person")
    client.CoreV1Api(lab.admin("west")).create_namespaced_config_map(west_rev, {
        "metadata": {"name": "observability-metrics-custom-allowlist"},
        "data": {"uwl_metrics_list.yaml": "names:\n- my_app_requests_total\nmatches:\n- __name__=\"x\"\n"}},
        field_manager="person")
    extra = extra_vars(w, acm, kialiops_acm_mesh_id="mesh-1", kialiops_acm_query_scope=["mesh_id", "cluster"])

    r = playbook(inv, "acm.yml", extra)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]

    # --- Kiali CR: every ACM field, accepted by the real Kiali CRD, next to kiali_install's own fields
    cr = kiali_cr(lab, "hub", w["kiali"], w["kiali"])
    prom = cr["spec"]["external_services"]["prometheus"]
    assert prom["url"] == "https://%s/api/metrics/v1/default" % ROUTE_HOST
    assert prom["auth"]["type"] == "none"
    assert prom["auth"]["cert_file"] == "secret:acm-observability-certs:tls.crt"
    assert prom["auth"]["key_file"] == "secret:acm-observability-certs:tls.key"
    assert prom["thanos_proxy"] == {"enabled": True, "scrape_interval": "2m", "retention_period": "14d"}
    assert prom["query_scope"] == {"mesh_id": "mesh-1", "cluster": "hub"}
    assert cr["spec"]["deployment"]["instance_name"] == w["kiali"]
    assert cr["spec"]["clustering"]["autodetect_secrets"]["enabled"] is True
    assert {m["manager"] for m in cr["metadata"]["managedFields"]} == {"kialiops"}

    # --- Kiali's home: the client certificate copy and the CA that verifies the endpoint (the server CA)
    secret = get(lab, "hub", "Secret", "acm-observability-certs", w["kiali"])
    assert base64.b64decode(secret["data"]["tls.crt"]).decode() == acm.client_crt
    assert base64.b64decode(secret["data"]["tls.key"]).decode() == acm.client_key
    assert owned(secret, "hub")
    bundle = get(lab, "hub", "ConfigMap", w["kiali"] + "-cabundle", w["kiali"])
    assert bundle["data"]["additional-ca-bundle.pem"] == acm.server_ca.pem and owned(bundle, "hub")
    assert "grafana" in acm.endpoint.peers  # the check presented the client certificate, as Kiali will

    # --- mesh clusters: monitors and allowlists where the mesh is, accepted (and stored unpruned) by the CRDs
    west_mesh = [w["cp"], west_rev, west_ambient, west_ztunnel, west_waypoint]
    expect = {"hub": [w["cp"], hub_mesh], "west": west_mesh}
    for cluster, namespaces in expect.items():
        sm = get(lab, cluster, "ServiceMonitor", "istiod-monitor", w["cp"])
        assert sm["spec"]["selector"] == {"matchLabels": {"istio": "pilot"}} and owned(sm, "hub")
        assert sm["spec"]["endpoints"] == [{"port": "http-monitoring", "interval": "30s"}]
        for n in namespaces:
            pm = get(lab, cluster, "PodMonitor", "istio-proxies-monitor", n)
            assert pm is not None and owned(pm, "hub"), (cluster, n)
            relabel = pm["spec"]["podMetricsEndpoints"][0]["relabelings"]
            assert len(relabel) == 8 and relabel[-1] == {"action": "replace", "replacement": "mesh-1",
                                                         "targetLabel": "mesh_id"}, relabel
            assert relabel[2]["replacement"] == "[$2]:$1" and relabel[4]["regex"] == "(.+);.*|.*;(.+)"
            allow = yaml.safe_load(get(lab, cluster, "ConfigMap", "observability-metrics-custom-allowlist", n)
                                   ["data"]["uwl_metrics_list.yaml"])
            assert set(ISTIO_METRICS) <= set(allow["names"]) and len(allow["names"]) >= 14, (cluster, n)
    assert get(lab, "west", "PodMonitor", "istio-proxies-monitor", w["made"]["west"][-1]) is None  # "plain"
    assert get(lab, "hub", "ConfigMap", "observability-metrics-custom-allowlist", OBS) is None
    # the person's allowlist keeps their name and other keys, gains ours, and is not labelled as ours
    theirs = get(lab, "west", "ConfigMap", "observability-metrics-custom-allowlist", west_rev)
    doc = yaml.safe_load(theirs["data"]["uwl_metrics_list.yaml"])
    assert doc["names"][0] == "my_app_requests_total" and doc["matches"] == ['__name__="x"']
    assert "istio_requests_total" in doc["names"] and not owned(theirs, "hub")
    # UWM: west keeps every setting and the comment; the hub had none, so kialiops created it (labelled)
    uwm = get(lab, "west", "ConfigMap", "cluster-monitoring-config", MON)
    text = uwm["data"]["config.yaml"]
    assert text.startswith(person_uwm) and yaml.safe_load(text) == {
        "prometheusK8s": {"retention": "15d"}, "alertmanagerMain": {"enabled": False}, "enableUserWorkload": True}
    assert not owned(uwm, "hub")
    hub_uwm = get(lab, "hub", "ConfigMap", "cluster-monitoring-config", MON)
    assert yaml.safe_load(hub_uwm["data"]["config.yaml"]) == {"enableUserWorkload": True} and owned(hub_uwm, "hub")

    # --- rerun: nothing changes, no mutating request anywhere
    marks = lab.marks()
    r = playbook(inv, "acm.yml", extra)
    assert r.returncode == 0 and "changed=0" in r.stdout, r.stdout[-4000:]
    ok, found = no_writes(lab, marks)
    assert ok, found

    # --- a person adds a metric to an allowlist kialiops created: kept by the next run, which writes nothing
    cm_api = client.CoreV1Api(lab.admin("hub"))
    mine = cm_api.read_namespaced_config_map("observability-metrics-custom-allowlist", hub_mesh)
    mine.data["uwl_metrics_list.yaml"] += "- team_metric_total\n"
    cm_api.replace_namespaced_config_map("observability-metrics-custom-allowlist", hub_mesh, mine)
    marks = lab.marks()
    r = playbook(inv, "acm.yml", extra)
    assert r.returncode == 0 and "changed=0" in r.stdout, r.stdout[-4000:]
    ok, found = no_writes(lab, marks)
    assert ok, found
    doc = yaml.safe_load(get(lab, "hub", "ConfigMap", "observability-metrics-custom-allowlist", hub_mesh)
                         ["data"]["uwl_metrics_list.yaml"])
    assert "team_metric_total" in doc["names"]

    # --- ACM rotates the client certificate: the cert sync copies it once, the CR stays as it is
    acm.rotate_client()
    cr_version = kiali_cr(lab, "hub", w["kiali"], w["kiali"])["metadata"]["resourceVersion"]
    marks = lab.marks()
    r = playbook(inv, "acm_cert_sync.yml", extra)
    assert r.returncode == 0 and "changed=1" in r.stdout, r.stdout[-4000:]
    found = writes(lab, marks)
    assert [e["objectRef"]["resource"] + "/" + e["objectRef"]["name"] for e in found["hub"]] == [
        "secrets/acm-observability-certs"], found
    assert all(v == [] for c, v in found.items() if c != "hub"), found
    secret = get(lab, "hub", "Secret", "acm-observability-certs", w["kiali"])
    assert base64.b64decode(secret["data"]["tls.crt"]).decode() == acm.client_crt
    assert kiali_cr(lab, "hub", w["kiali"], w["kiali"])["metadata"]["resourceVersion"] == cr_version
    assert "expires 20" in r.stdout and "sha256:" in r.stdout  # expiry and fingerprint reported
    marks = lab.marks()
    r = playbook(inv, "acm_cert_sync.yml", extra)
    assert r.returncode == 0 and "changed=0" in r.stdout, r.stdout[-4000:]
    ok, found = no_writes(lab, marks)
    assert ok, found

    # --- check mode with a rotation pending: reports the change, leaves the server as it was, even at -vvv no key
    acm.rotate_client()
    before = get(lab, "hub", "Secret", "acm-observability-certs", w["kiali"])["metadata"]["resource_version"]
    marks = lab.marks()
    r = playbook(inv, "acm.yml", extra, "--check", "--diff", "-vvv")
    assert r.returncode == 0 and "changed=1" in r.stdout, r.stdout[-4000:]
    assert get(lab, "hub", "Secret", "acm-observability-certs", w["kiali"])["metadata"]["resource_version"] == before
    found = writes(lab, marks)
    assert found["hub"] and all("dryRun=All" in e["requestURI"] for v in found.values() for e in v), found
    out = r.stdout + r.stderr
    assert_no_key(out, acm)
    # and a real run at -vvv --diff (it copies the new key) prints no key either
    r = playbook(inv, "acm.yml", extra, "--diff", "-vvv")
    assert r.returncode == 0 and "changed=1" in r.stdout, r.stdout[-4000:]
    assert_no_key(r.stdout + r.stderr, acm)
    assert "sha256:" in r.stdout  # the diff shows the Secret's values as fingerprints


def assert_no_key(out, acm):
    key = acm.client_key
    body = "".join(key.splitlines()[1:-1])
    for secret in (key, b64(key), body[:40], body[-40:], b64(key)[:60]):
        assert secret not in out
    assert "PRIVATE KEY" not in out


# ---------------------------------------------------------------- external topology, module level
def obs_args(lab, acm, w, home="hub", **kw):
    args = dict(conn(lab, home), remote=conn(lab, "hub"), namespace=w["kiali"],
                observatorium_address=acm.endpoint.address, cabundle_name="kiali-cabundle", tls_timeout=5)
    args.update(kw)
    return args


def test_external_home_gets_the_copies_and_the_fragment_is_accepted_by_the_kiali_crd(lab, acm, world):
    w = world
    marks = lab.marks()
    res, out = run_module("acm_observability", obs_args(lab, acm, w, home="mgmt"))
    assert res.get("changed") is True, out
    assert res["ca_source"] == "observability-server-ca-certs"
    assert res["mco"]["scrape_interval"] == "2m" and res["mco"]["retention_period"] == "14d"
    assert res["certificates"]["client"]["issuer"] == "observability-client-ca-certificate"
    assert res["certificates"]["client"]["fingerprint"].startswith("sha256:")
    assert 360 <= res["certificates"]["client"]["days_left"] <= 365
    assert get(lab, "mgmt", "Secret", "acm-observability-certs", w["kiali"]) is not None
    assert get(lab, "hub", "Secret", "acm-observability-certs", w["kiali"]) is None
    found = writes(lab, marks)
    assert found["hub"] == [] and len(found["mgmt"]) == 2, found  # the hub is only read
    assert acm.client_key not in out and "PRIVATE KEY" not in out
    # the fragment through kiali_cr (strict server-side dry-run against the real CRD, then the apply)
    res2, out = run_module("kiali_cr", dict(conn(lab, "mgmt"), namespace=w["kiali"], instance_name=w["kiali"],
                                            topology="external", spec=res["kiali_spec"]))
    assert res2.get("changed") is True, out
    cr = kiali_cr(lab, "mgmt", w["kiali"], w["kiali"])
    assert cr["spec"]["external_services"]["prometheus"]["thanos_proxy"]["scrape_interval"] == "2m"
    assert cr["spec"]["clustering"]["ignore_home_cluster"] is True
    marks = lab.marks()
    res3, out = run_module("acm_observability", obs_args(lab, acm, w, home="mgmt"))
    assert res3.get("changed") is False, out
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_ca_is_found_by_verifying_the_chain_not_by_name(lab, acm, world):
    """The endpoint serves a certificate of the *client* CA: that one is kept."""
    acm.endpoint.serve(*acm.client_ca.issue("observability-observatorium-api", [ROUTE_HOST]))
    try:
        res, out = run_module("acm_observability", obs_args(lab, acm, world))
        assert res.get("changed") is True and res["ca_source"] == "observability-client-ca-certs", out
        bundle = get(lab, "hub", "ConfigMap", "kiali-cabundle", world["kiali"])
        assert bundle["data"]["additional-ca-bundle.pem"] == acm.client_ca.pem
    finally:
        acm.endpoint.serve(*acm.server_ca.issue("observability-observatorium-api", [ROUTE_HOST]))


def test_check_mode_changes_nothing(lab, acm, world):
    marks = lab.marks()
    res, out = run_module("acm_observability", obs_args(lab, acm, world), check=True, diff=True)
    assert res.get("changed") is True and [o["action"] for o in res["objects"]] == ["created", "created"], out
    assert get(lab, "hub", "Secret", "acm-observability-certs", world["kiali"]) is None
    found = writes(lab, marks)
    assert found["hub"] and all("dryRun=All" in e["requestURI"] for e in found["hub"]), found
    assert res["diff"]["before"] == {"Secret %s/acm-observability-certs" % world["kiali"]: None,
                                     "ConfigMap %s/kiali-cabundle" % world["kiali"]: None}, out
    secret_diff = res["diff"]["after"]["Secret %s/acm-observability-certs" % world["kiali"]]
    assert secret_diff["data"]["tls.key"].startswith("sha256:") and acm.client_key not in out


# ---------------------------------------------------------------- bad input: a clear error, nothing written
def _break_nothing(acm):
    return None


BAD = {
    "no_mco": (lambda acm: acm.mco(present=False), {},
               ["cluster hub", "no MultiClusterObservability", "Enable ACM Observability"]),
    "no_route": (lambda acm: acm.route(present=False), {},
                 ["cluster hub", "Route open-cluster-management-observability/observatorium-api does not exist"]),
    "interval_out_of_range": (_break_nothing, {"scrape_interval": 5},
                              ["cluster hub", "5 seconds, outside the range ACM accepts (15..3600)", "Set it to"]),
    "unreachable": (_break_nothing, {"observatorium_address": "127.0.0.1:1"},
                    ["cluster hub", "cannot connect to the Observatorium API", "acm_metrics_observatorium_address"]),
    "unknown_cluster_scope": (_break_nothing, {"query_scope": {"cluster": "nowhere"}},
                              ["cluster hub", "names no ManagedCluster"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_clearly_and_writes_nothing(lab, acm, world, case):
    breaker, args, words = BAD[case]
    breaker(acm)
    marks = lab.marks()
    res, out = run_module("acm_observability", obs_args(lab, acm, world, **args))
    assert res.get("failed") is True, out
    for word in words:
        assert word in res["msg"], (word, res["msg"])
    assert "Nothing was written" in res["msg"] and "Traceback" not in out
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_neither_ca_verifies_the_endpoint_role_writes_nothing_anywhere(lab, acm, world, tmp_path):
    rogue = CA("some-ingress-default-ca")
    acm.endpoint.serve(*rogue.issue("router-default", [ROUTE_HOST]))
    try:
        marks = lab.marks()
        r = playbook(inventory(lab, tmp_path), "acm.yml", extra_vars(world, acm))
        out = r.stdout + r.stderr
        assert r.returncode != 0
        assert "cluster hub: neither candidate CA verifies the certificate" in out, out[-4000:]
        assert "issuer some-ingress-default-ca" in out and "Nothing was written" in out
        ok, found = no_writes(lab, marks)  # the mesh clusters were only validated (read), the hub only read
        assert ok, found
    finally:
        acm.endpoint.serve(*acm.server_ca.issue("observability-observatorium-api", [ROUTE_HOST]))


def test_mco_interval_out_of_range_through_the_role(lab, acm, world, tmp_path):
    """The real MCO CRD itself refuses an interval outside 15..3600, so the override is what can be wrong."""
    with pytest.raises(ApiException) as e:
        acm.mco(spec=dict(MCO["spec"], observabilityAddonSpec={"interval": 5}))
    assert e.value.status == 422
    acm.mco()
    marks = lab.marks()
    r = playbook(inventory(lab, tmp_path), "acm.yml", extra_vars(world, acm, kialiops_acm_scrape_interval=7200))
    assert r.returncode != 0 and "7200 seconds, outside the range ACM accepts (15..3600)" in r.stdout, r.stdout[-3000:]
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_acm_enabled_without_a_hub(lab, acm, world, tmp_path):
    # the inventory has no hub: the topology check refuses it before any request
    inv = yaml.safe_load(inventory(lab, tmp_path).read_text())
    ch = inv["all"]["children"]
    ch["lab_spare"]["hosts"] = dict(ch["lab_spare"]["hosts"] or {}, **ch["hub"]["hosts"])
    ch["hub"]["hosts"] = None
    p = tmp_path / "nohub.yml"
    p.write_text(yaml.safe_dump(inv))
    marks = lab.marks()
    r = playbook(p, "acm.yml", extra_vars(world, acm))
    assert r.returncode != 0 and "group 'hub' is empty" in r.stdout, r.stdout[-3000:]
    # the role on its own, without a topology and without acm_metrics_hub: its own message
    play = tmp_path / "role.yml"
    play.write_text(yaml.safe_dump([{"name": "ACM alone", "hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": "kialiops.multicluster.acm_metrics"}]}]))
    done = ansible_playbook("localhost,", playbook=play, timeout=300)
    assert done.returncode != 0 and "no ACM hub is known" in done.stdout, done.stdout[-3000:]
    assert "Put the ACM hub cluster in inventory group hub" in done.stdout
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_missing_openshift_monitoring_is_named_before_any_write(lab, acm, world):
    marks = lab.marks()
    res, out = run_module("acm_monitoring", dict(conn(lab, "east"), home_cluster="hub"))
    assert res.get("failed") is True and "cluster east" in res["msg"], out
    assert "namespace openshift-monitoring does not exist" in res["msg"] and "Nothing was written" in res["msg"]
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_monitor_someone_else_made_is_left_alone(lab, acm, world):
    w = world
    co = client.CustomObjectsApi(lab.admin("west"))
    theirs = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
              "metadata": {"name": "istiod-monitor", "namespace": w["cp"]},
              "spec": {"selector": {"matchLabels": {"istio": "pilot"}}, "endpoints": [{"port": "http-monitoring"}]}}
    co.create_namespaced_custom_object("monitoring.coreos.com", "v1", w["cp"], "servicemonitors", theirs)
    res, out = run_module("acm_monitoring", dict(conn(lab, "west"), home_cluster="hub",
                                                 control_plane_namespace=w["cp"], mesh_namespaces=[]))
    assert res.get("changed") is True, out
    entry = next(o for o in res["objects"] if o["kind"] == "ServiceMonitor")
    assert entry["action"] == "kept" and "not created by kialiops" in out
    sm = get(lab, "west", "ServiceMonitor", "istiod-monitor", w["cp"])
    assert not owned(sm, "hub") and "interval" not in sm["spec"]["endpoints"][0]
    assert get(lab, "west", "PodMonitor", "istio-proxies-monitor", w["cp"]) is not None


# ---------------------------------------------------------------- site.yml: one CR write with everything
def test_site_with_acm_writes_one_cr_with_every_field_and_reruns_silently(lab, acm, world, tmp_path):
    w = world
    inv = inventory(lab, tmp_path)
    extra = extra_vars(w, acm, kialiops_instance_name="kiali")
    r = playbook(inv, "site.yml", extra)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    cr = kiali_cr(lab, "hub", w["kiali"], "kiali")
    assert cr["spec"]["external_services"]["prometheus"]["thanos_proxy"]["enabled"] is True
    assert cr["spec"]["clustering"]["autodetect_secrets"]["enabled"] is True       # kiali_install's own fields
    assert cr["metadata"]["annotations"]["kiali.io/reconcile"]                     # and its nudge
    assert {m["manager"] for m in cr["metadata"]["managedFields"]} == {"kialiops"}
    marks = lab.marks()
    r = playbook(inv, "site.yml", extra)
    assert r.returncode == 0 and "changed=0" in r.stdout, r.stdout[-4000:]
    ok, found = no_writes(lab, marks)
    assert ok, found
    # install.yml alone would drop the ACM fields: refused, nothing written
    r = playbook(inv, "install.yml", extra)
    assert r.returncode != 0 and "acm_metrics has not run" in r.stdout, r.stdout[-3000:]
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_hub_outside_the_mesh_gets_no_monitors_and_kiali_ignores_its_home(lab, acm, world, tmp_path):
    w = world
    r = playbook(inventory(lab, tmp_path), "acm.yml", extra_vars(w, acm, kialiops_acm_hub_in_mesh=False))
    assert r.returncode == 0, r.stdout[-5000:]
    cr = kiali_cr(lab, "hub", w["kiali"], w["kiali"])
    assert cr["spec"]["clustering"]["ignore_home_cluster"] is True
    assert cr["spec"]["kubernetes_config"]["cluster_name"] == "hub"
    assert get(lab, "hub", "ServiceMonitor", "istiod-monitor", w["cp"]) is None
    assert get(lab, "hub", "ConfigMap", "cluster-monitoring-config", MON) is None
    assert get(lab, "west", "ServiceMonitor", "istiod-monitor", w["cp"]) is not None


def test_internal_thanos_url_for_a_kiali_on_the_hub_only(lab, acm, world):
    marks = lab.marks()
    res, out = run_module("acm_observability", obs_args(lab, acm, world, url_mode="internal"))
    assert res.get("changed") is False and res["objects"] == [], out
    prom = res["kiali_spec"]["external_services"]["prometheus"]
    assert prom["url"] == "http://observability-thanos-query-frontend.%s.svc:9090" % OBS
    assert prom["auth"] == {"type": "none"} and prom["thanos_proxy"]["scrape_interval"] == "2m"
    res, out = run_module("acm_observability", obs_args(lab, acm, world, home="mgmt", url_mode="internal"))
    assert res.get("failed") is True and "works only for a Kiali on the hub" in res["msg"], out
    ok, found = no_writes(lab, marks)
    assert ok, found


def test_merged_apply_refuses_a_stale_read(lab, world):
    """ClusterService.apply(merged=True) forces ownership of a shared field only against what it read: a change
    made in between is a 409, never overwritten."""
    collections_root()
    from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import build_client
    from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
    from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService

    ns = world["cp"]
    core = client.CoreV1Api(lab.admin("hub"))
    core.create_namespaced_config_map(ns, {"metadata": {"name": "shared"}, "data": {"k": "a: 1\n"}},
                                      field_manager="person")
    svc = ClusterService("hub", build_client(conn(lab, "hub"))[0])
    stale = svc.get("v1", "ConfigMap", "shared", namespace=ns)
    core.patch_namespaced_config_map("shared", ns, {"data": {"k": "a: 1\nb: 2\n"}}, field_manager="person")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": ns},
           "data": {"k": "a: 1\nenableUserWorkload: true\n"}}
    with pytest.raises(KialiopsError) as e:
        svc.ensure(obj, live=stale, merged=True)
    assert e.value.status == 409 and "cluster hub" in str(e.value)
    assert core.read_namespaced_config_map("shared", ns).data["k"] == "a: 1\nb: 2\n"
    # with a fresh read the forced apply goes through (the person's manager owned the key: a plain apply conflicts)
    with pytest.raises(KialiopsError) as e:
        svc.ensure(obj)
    assert e.value.status == 409 and "person" in str(e.value)
    before, after = svc.ensure(obj, merged=True)
    assert before != after and core.read_namespaced_config_map("shared", ns).data["k"] == obj["data"]["k"]
