# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Kiali on Red Hat ACM Observability: the pure parts (no cluster access), unit-tested.

Objects on the mesh clusters (the UWM setting, istiod ServiceMonitor, proxies PodMonitor, metrics allowlist),
the merges into what people wrote, the mesh ID, durations, the MCO's values and certificate facts. The
cluster steps are in _acm_mesh.py (acm_monitoring) and _acm_hub.py (acm_observability).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import re


try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # the module reports missing_required_lib
    HAS_CRYPTOGRAPHY = False

from ansible_collections.kialiops.multicluster.plugins.module_utils import _yaml as yaml
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import owned_labels

OBSERVABILITY_NAMESPACE = "open-cluster-management-observability"
MONITORING_NAMESPACE = "openshift-monitoring"
UWM_CONFIGMAP = "cluster-monitoring-config"
UWM_KEY = "config.yaml"
ALLOWLIST = "observability-metrics-custom-allowlist"
ALLOWLIST_KEY = "uwl_metrics_list.yaml"
SERVICE_MONITOR = "istiod-monitor"
POD_MONITOR = "istio-proxies-monitor"
MONITORING_API = "monitoring.coreos.com/v1"
MCO_API = "observability.open-cluster-management.io/v1beta2"
ROUTE_API = "route.openshift.io/v1"
ROUTE = "observatorium-api"
CLIENT_CERTS = "observability-grafana-certs"
# Candidate CAs of the Observatorium API's serving certificate, in the order the docs try them.
CA_SECRETS = ("observability-server-ca-certs", "observability-client-ca-certs")
CABUNDLE_KEY = "additional-ca-bundle.pem"
THANOS_INTERNAL_URL = "http://observability-thanos-query-frontend.%s.svc:9090"
DEFAULT_MESH_ID = "cluster.local"
# MCO spec.observabilityAddonSpec.interval: seconds, CRD default 300, allowed 15..3600.
DEFAULT_INTERVAL = 300
INTERVAL_RANGE = (15, 3600)
# The MCO operator keeps raw samples 365d when spec.advanced.retentionConfig is unset.
DEFAULT_RETENTION = "365d"
PART_OF = {"app.kubernetes.io/part-of": "kialiops-acm"}

# The Istio metrics Kiali needs from ACM (the docs' allowlist): L7 from sidecars and waypoints, L4 from all
# proxies including ztunnel.
DEFAULT_METRICS = (
    "istio_requests_total",
    "istio_request_duration_milliseconds_bucket",
    "istio_request_duration_milliseconds_sum",
    "istio_request_duration_milliseconds_count",
    "istio_request_bytes_bucket",
    "istio_request_bytes_sum",
    "istio_request_bytes_count",
    "istio_response_bytes_bucket",
    "istio_response_bytes_sum",
    "istio_response_bytes_count",
    "istio_tcp_sent_bytes_total",
    "istio_tcp_received_bytes_total",
    "istio_tcp_connections_opened_total",
    "istio_tcp_connections_closed_total",
)

# Namespace labels that put a namespace in the mesh: sidecar injection, a revision, ambient enrolment.
INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"
DATAPLANE_LABEL = "istio.io/dataplane-mode"
# Pods that make their namespace a metrics source in ambient mode.
ZTUNNEL_SELECTOR = "app=ztunnel"
WAYPOINT_SELECTOR = "gateway.networking.k8s.io/gateway-class-name=istio-waypoint"
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def labels(home):
    """Labels of every object acm_metrics creates (never put on an object someone else created)."""
    out = owned_labels(home)
    out.update(PART_OF)
    return out


# ---------------------------------------------------------------- merges into what people wrote
def _load_mapping(text, what):
    try:
        data = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as e:
        raise InputError("%s is not valid YAML (%s)" % (what, str(e).splitlines()[0]),
                         "Correct it by hand (kialiops merges into it and never overwrites it)") from e
    if not isinstance(data, dict):
        raise InputError("%s is not a YAML mapping (it is a %s)" % (what, type(data).__name__),
                         "Correct it by hand (kialiops merges into it and never overwrites it)")
    return data


def merge_uwm(text):
    """``config.yaml`` of cluster-monitoring-config with ``enableUserWorkload: true``: ``(text, changed)``.

    Everything else stays as the person wrote it, comments and layout included: the text is returned
    unchanged when the setting is already there, else one line is replaced or appended.
    """
    what = "key %s of ConfigMap %s/%s" % (UWM_KEY, MONITORING_NAMESPACE, UWM_CONFIGMAP)
    data = _load_mapping(text, what)
    if data.get("enableUserWorkload") is True:
        return text, False
    text = text or ""
    line = re.compile(r"^enableUserWorkload\s*:.*$", re.MULTILINE)
    if "enableUserWorkload" in data and len(line.findall(text)) == 1:
        new = line.sub("enableUserWorkload: true", text)
    elif "enableUserWorkload" not in data and not text.lstrip().startswith("{"):
        new = text + ("" if not text or text.endswith("\n") else "\n") + "enableUserWorkload: true\n"
    else:  # flow style or something unusual: rewrite the document
        new = yaml.safe_dump(dict(data, enableUserWorkload=True), default_flow_style=False, sort_keys=False)
    merged = _load_mapping(new, what)
    wanted = dict(data, enableUserWorkload=True)
    if merged != wanted:  # the line edit touched something else: fall back to a rewrite
        new = yaml.safe_dump(wanted, default_flow_style=False, sort_keys=False)
    return new, True


def merge_allowlist(text, names):
    """``uwl_metrics_list.yaml`` with every name of ``names`` in ``names:``: ``(text, added names)``.

    Names (and any other keys, such as ``matches`` or ``recording_rules``) a person added are kept; the text
    is unchanged when nothing is missing.
    """
    data = _load_mapping(text, "key %s of ConfigMap %s" % (ALLOWLIST_KEY, ALLOWLIST))
    have = data.get("names") or []
    if not isinstance(have, list):
        raise InputError("names in %s is not a list" % ALLOWLIST_KEY, "Correct it by hand")
    missing = [n for n in names if n not in have]
    if not missing:
        return text, []
    data["names"] = list(have) + missing
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False), missing


# ---------------------------------------------------------------- objects on a mesh cluster
def configmap(name, namespace, data, obj_labels=None):
    meta = {"name": name, "namespace": namespace}
    if obj_labels:
        meta["labels"] = dict(obj_labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


def service_monitor(namespace, home, interval="30s"):
    """ServiceMonitor istiod-monitor (the docs' object): istiod's http-monitoring port."""
    return {
        "apiVersion": MONITORING_API, "kind": "ServiceMonitor",
        "metadata": {"name": SERVICE_MONITOR, "namespace": namespace, "labels": labels(home)},
        "spec": {"targetLabels": ["app"], "selector": {"matchLabels": {"istio": "pilot"}},
                 "endpoints": [{"port": "http-monitoring", "interval": interval}]},
    }


def pod_monitor(namespace, home, mesh_id, interval="30s"):
    """PodMonitor istio-proxies-monitor (the docs' object) with a constant ``mesh_id`` label."""
    keep_app = {"separator": ";", "action": "replace", "regex": "(.+);.*|.*;(.+)", "replacement": "${1}${2}"}
    relabelings = [
        {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"], "regex": "istio-proxy"},
        {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"]},
        {"action": "replace", "regex": r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
         "replacement": "[$2]:$1",
         "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
         "targetLabel": "__address__"},
        {"action": "replace", "regex": r"(\d+);((([0-9]+?)(\.|$)){4})", "replacement": "$2:$1",
         "sourceLabels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
         "targetLabel": "__address__"},
        dict(keep_app, sourceLabels=["__meta_kubernetes_pod_label_app_kubernetes_io_name",
                                     "__meta_kubernetes_pod_label_app"], targetLabel="app"),
        dict(keep_app, sourceLabels=["__meta_kubernetes_pod_label_app_kubernetes_io_version",
                                     "__meta_kubernetes_pod_label_version"], targetLabel="version"),
        {"sourceLabels": ["__meta_kubernetes_namespace"], "action": "replace", "targetLabel": "namespace"},
        {"action": "replace", "replacement": mesh_id, "targetLabel": "mesh_id"},
    ]
    return {
        "apiVersion": MONITORING_API, "kind": "PodMonitor",
        "metadata": {"name": POD_MONITOR, "namespace": namespace, "labels": labels(home)},
        "spec": {"selector": {"matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]},
                 "podMetricsEndpoints": [{"path": "/stats/prometheus", "interval": interval,
                                          "relabelings": relabelings}]},
    }


def is_mesh_namespace(namespace):
    """True for a namespace labelled for sidecar injection, an Istio revision or ambient mode."""
    lab = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    return (lab.get(INJECTION_LABEL) == "enabled" or bool(lab.get(REVISION_LABEL))
            or lab.get(DATAPLANE_LABEL) == "ambient")


def mesh_id_from_config(mesh_text):
    """``(mesh ID, source)`` from the ``mesh`` key of Istio's ConfigMap, or ``(None, None)``.

    Order as kiali/kiali:hack/install-acm.sh: defaultConfig.meshId, the ISTIO_META_MESH_ID proxy metadata,
    trustDomain.
    """
    try:
        mesh = yaml.safe_load(mesh_text or "") or {}
    except yaml.YAMLError:
        return None, None
    if not isinstance(mesh, dict):
        return None, None
    default = mesh.get("defaultConfig") if isinstance(mesh.get("defaultConfig"), dict) else {}
    metadata = default.get("proxyMetadata") if isinstance(default.get("proxyMetadata"), dict) else {}
    for value, source in ((default.get("meshId"), "defaultConfig.meshId"),
                          (metadata.get("ISTIO_META_MESH_ID"), "defaultConfig.proxyMetadata.ISTIO_META_MESH_ID"),
                          (mesh.get("trustDomain"), "trustDomain")):
        if isinstance(value, str) and value:
            return value, source
    return None, None


# ---------------------------------------------------------------- the MCO, durations
def duration(seconds):
    """Seconds as the duration Kiali reads: 300 -> "5m", 3600 -> "1h", 90 -> "90s"."""
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return "%dh" % (seconds // 3600)
    if seconds % 60 == 0:
        return "%dm" % (seconds // 60)
    return "%ds" % seconds


def check_interval(value, where):
    """The metrics collection interval in seconds, checked against the MCO's range 15..3600."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise InputError("%s is %r, not a number of seconds" % (where, value),
                             "Give the interval in seconds, %d to %d" % INTERVAL_RANGE) from None
    low, high = INTERVAL_RANGE
    if not low <= value <= high:
        raise InputError(
            "%s is %d seconds, outside the range ACM accepts (%d..%d)" % (where, value, low, high),
            "Set it to %d..%d seconds (default %d, 5 minutes)" % (low, high, DEFAULT_INTERVAL))
    return value


def mco_interval(mco):
    """``spec.observabilityAddonSpec.interval`` (seconds), the CRD default 300 when unset."""
    value = ((mco.get("spec") or {}).get("observabilityAddonSpec") or {}).get("interval")
    return DEFAULT_INTERVAL if value is None else value


def mco_retention(mco):
    """``(retention, source)``: retentionResolutionRaw of spec.advanced.retentionConfig, else 365d."""
    config = (((mco.get("spec") or {}).get("advanced") or {}).get("retentionConfig") or {})
    raw = config.get("retentionResolutionRaw")
    if raw:
        return str(raw), "spec.advanced.retentionConfig.retentionResolutionRaw"
    return DEFAULT_RETENTION, "default (spec.advanced.retentionConfig unset)"


def check_duration(value, where):
    if not isinstance(value, str) or not _DURATION.match(value):
        raise InputError("%s is %r, not a duration" % (where, value),
                         "Use a duration such as 14d, 365d or 5m")
    return value


def observatorium_url(host):
    return "https://%s/api/metrics/v1/default" % host


def prometheus_spec(url, secret_name=None, scrape_interval="5m", retention_period=DEFAULT_RETENTION,
                    query_scope=None):
    """``external_services.prometheus`` for the Kiali CR (mTLS with the copied certificate when secret_name)."""
    auth = {"type": "none"}
    if secret_name:
        auth.update(cert_file="secret:%s:tls.crt" % secret_name, key_file="secret:%s:tls.key" % secret_name)
    prometheus = {"url": url, "auth": auth,
                  "thanos_proxy": {"enabled": True, "scrape_interval": scrape_interval,
                                   "retention_period": retention_period}}
    if query_scope:
        prometheus["query_scope"] = copy.deepcopy(query_scope)
    return {"external_services": {"prometheus": prometheus}}


# ---------------------------------------------------------------- certificates
def load_certs(pem):
    """The certificates of a PEM text, in order; ValueError when there is none."""
    if isinstance(pem, str):
        pem = pem.encode("ascii", "replace")
    certs = x509.load_pem_x509_certificates(pem)
    if not certs:
        raise ValueError("no certificate")
    return certs


def _name_cn(name):
    for attr in name:
        if attr.oid == NameOID.COMMON_NAME:
            return attr.value
    return name.rfc4514_string()


def cert_facts(pem, now=None):
    """Public facts of the first certificate: subject and issuer CN, SHA-256 fingerprint, expiry, days left."""
    cert = load_certs(pem)[0]
    der = cert.public_bytes(serialization.Encoding.DER)
    not_after = cert.not_valid_after_utc
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"subject": _name_cn(cert.subject), "issuer": _name_cn(cert.issuer),
            "fingerprint": "sha256:" + hashlib.sha256(der).hexdigest(),
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": (not_after - now).days}
