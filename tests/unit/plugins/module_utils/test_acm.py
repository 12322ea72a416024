# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure parts of acm_metrics: merges into what people wrote, mesh ID, durations, MCO values, certificates."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.kialiops.multicluster.plugins.module_utils import _acm as acm
from ansible_collections.kialiops.multicluster.plugins.module_utils._acm_hub import split_address
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError


# ---------------------------------------------------------------- UWM merge
def test_uwm_created_from_nothing():
    text, changed = acm.merge_uwm(None)
    assert changed and yaml.safe_load(text) == {"enableUserWorkload": True}


def test_uwm_keeps_every_other_setting_and_the_comments():
    person = "# platform team\nprometheusK8s:\n  retention: 15d  # keep\nalertmanagerMain:\n  enabled: false\n"
    text, changed = acm.merge_uwm(person)
    assert changed and text.startswith(person) and text.endswith("enableUserWorkload: true\n")
    assert yaml.safe_load(text) == {"prometheusK8s": {"retention": "15d"}, "alertmanagerMain": {"enabled": False},
                                    "enableUserWorkload": True}


def test_uwm_false_is_flipped_in_place():
    text, changed = acm.merge_uwm("a: 1\nenableUserWorkload: false\nb: 2\n")
    assert changed and text == "a: 1\nenableUserWorkload: true\nb: 2\n"


def test_uwm_already_on_is_left_byte_for_byte():
    person = "enableUserWorkload: true   # on\nx: {y: 1}\n"
    assert acm.merge_uwm(person) == (person, False)


def test_uwm_flow_style_is_rewritten_keeping_values():
    text, changed = acm.merge_uwm("{a: 1, enableUserWorkload: false}")
    assert changed and yaml.safe_load(text) == {"a": 1, "enableUserWorkload": True}


def test_uwm_nested_key_of_the_same_name_is_not_touched():
    text, dummy = acm.merge_uwm("other:\n  enableUserWorkload: false\n")
    assert yaml.safe_load(text) == {"other": {"enableUserWorkload": False}, "enableUserWorkload": True}


@pytest.mark.parametrize("bad", ["a: [1", "- a\n- b\n"])
def test_uwm_invalid_yaml_is_refused_not_overwritten(bad):
    with pytest.raises(InputError) as e:
        acm.merge_uwm(bad)
    assert "cluster-monitoring-config" in e.value.reason and "never overwrites" in e.value.fix


# ---------------------------------------------------------------- allowlist merge
def test_allowlist_keeps_names_and_keys_a_person_added():
    person = "names:\n- my_metric\nmatches:\n- __name__=\"x\"\n"
    text, added = acm.merge_allowlist(person, ["istio_requests_total", "my_metric"])
    doc = yaml.safe_load(text)
    assert added == ["istio_requests_total"]
    assert doc == {"names": ["my_metric", "istio_requests_total"], "matches": ['__name__="x"']}


def test_allowlist_complete_is_unchanged():
    text = "names:\n- a\n- b\n- extra\n"
    assert acm.merge_allowlist(text, ["b", "a"]) == (text, [])


def test_allowlist_names_not_a_list_is_refused():
    with pytest.raises(InputError):
        acm.merge_allowlist("names: oops\n", ["a"])


# ---------------------------------------------------------------- objects
def test_pod_monitor_is_the_documented_one_with_the_mesh_id():
    pm = acm.pod_monitor("bookinfo", "hub", "mesh-1")
    assert pm["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub",
                                        "app.kubernetes.io/part-of": "kialiops-acm"}
    endpoint = pm["spec"]["podMetricsEndpoints"][0]
    assert endpoint["path"] == "/stats/prometheus" and endpoint["interval"] == "30s"
    rel = endpoint["relabelings"]
    assert rel[0] == {"action": "keep", "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                      "regex": "istio-proxy"}
    assert rel[2]["regex"] == r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})"
    assert rel[3]["regex"] == r"(\d+);((([0-9]+?)(\.|$)){4})" and rel[3]["replacement"] == "$2:$1"
    assert [r.get("targetLabel") for r in rel[4:]] == ["app", "version", "namespace", "mesh_id"]
    assert rel[-1]["replacement"] == "mesh-1"


def test_service_monitor():
    sm = acm.service_monitor("istio-system", "hub")
    assert sm["spec"] == {"targetLabels": ["app"], "selector": {"matchLabels": {"istio": "pilot"}},
                          "endpoints": [{"port": "http-monitoring", "interval": "30s"}]}


@pytest.mark.parametrize("labels, mesh", [
    ({"istio-injection": "enabled"}, True), ({"istio-injection": "disabled"}, False),
    ({"istio.io/rev": "canary"}, True), ({"istio.io/dataplane-mode": "ambient"}, True),
    ({"istio.io/dataplane-mode": "none"}, False), ({}, False)])
def test_mesh_namespace(labels, mesh):
    assert acm.is_mesh_namespace({"metadata": {"name": "n", "labels": labels}}) is mesh


@pytest.mark.parametrize("mesh, expect", [
    ("defaultConfig:\n  meshId: m1\ntrustDomain: td\n", ("m1", "defaultConfig.meshId")),
    ("defaultConfig:\n  proxyMetadata:\n    ISTIO_META_MESH_ID: m2\ntrustDomain: td\n",
     ("m2", "defaultConfig.proxyMetadata.ISTIO_META_MESH_ID")),
    ("trustDomain: td.local\n", ("td.local", "trustDomain")),
    ("accessLogFile: /dev/stdout\n", (None, None)), (None, (None, None)), ("a: [", (None, None))])
def test_mesh_id_from_config(mesh, expect):
    assert acm.mesh_id_from_config(mesh) == expect


# ---------------------------------------------------------------- MCO values
@pytest.mark.parametrize("seconds, text", [(300, "5m"), (30, "30s"), (90, "90s"), (3600, "1h"), (120, "2m"),
                                           (15, "15s")])
def test_duration(seconds, text):
    assert acm.duration(seconds) == text


@pytest.mark.parametrize("value", [14, 3601, 0, -5, "abc", True])
def test_interval_out_of_range_is_refused(value):
    with pytest.raises(InputError) as e:
        acm.check_interval(value, "spec.observabilityAddonSpec.interval of MultiClusterObservability observability")
    assert "spec.observabilityAddonSpec.interval" in e.value.reason and ("15" in e.value.fix or "15" in e.value.reason)


@pytest.mark.parametrize("value", [15, 300, 3600, "60"])
def test_interval_in_range(value):
    assert acm.check_interval(value, "x") == int(value)


def test_mco_defaults_and_values():
    assert acm.mco_interval({"spec": {}}) == 300
    assert acm.mco_interval({"spec": {"observabilityAddonSpec": {"interval": 60}}}) == 60
    assert acm.mco_retention({"spec": {}}) == ("365d", "default (spec.advanced.retentionConfig unset)")
    assert acm.mco_retention({"spec": {"advanced": {"retentionConfig": {"retentionResolutionRaw": "14d"}}}})[0] == "14d"


@pytest.mark.parametrize("value, ok", [("14d", True), ("1d12h", True), ("5m", True), ("14 days", False), ("", False)])
def test_check_duration(value, ok):
    if ok:
        assert acm.check_duration(value, "x") == value
    else:
        with pytest.raises(InputError):
            acm.check_duration(value, "x")


def test_prometheus_spec():
    spec = acm.prometheus_spec("https://h/api/metrics/v1/default", "acm-observability-certs", "5m", "365d",
                               {"mesh_id": "m"})
    assert spec == {"external_services": {"prometheus": {
        "url": "https://h/api/metrics/v1/default",
        "auth": {"type": "none", "cert_file": "secret:acm-observability-certs:tls.crt",
                 "key_file": "secret:acm-observability-certs:tls.key"},
        "thanos_proxy": {"enabled": True, "scrape_interval": "5m", "retention_period": "365d"},
        "query_scope": {"mesh_id": "m"}}}}
    internal = acm.prometheus_spec(acm.THANOS_INTERNAL_URL % acm.OBSERVABILITY_NAMESPACE)
    assert internal["external_services"]["prometheus"]["auth"] == {"type": "none"}
    assert "query_scope" not in internal["external_services"]["prometheus"]


# ---------------------------------------------------------------- certificates, addresses
def _cert(cn, issuer_cn, days):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
            .public_key(key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_cert_facts():
    cert, pem = _cert("grafana", "observability-client-ca-certificate", 100)
    facts = acm.cert_facts(pem)
    assert facts["subject"] == "grafana" and facts["issuer"] == "observability-client-ca-certificate"
    assert facts["days_left"] in (99, 100)
    der = cert.public_bytes(serialization.Encoding.DER)
    import hashlib
    assert facts["fingerprint"] == "sha256:" + hashlib.sha256(der).hexdigest()
    assert facts["not_after"].endswith("Z")


def test_cert_facts_refuses_no_certificate():
    with pytest.raises(ValueError):
        acm.cert_facts("not a certificate")


@pytest.mark.parametrize("address, expect", [("h.example.com", ("h.example.com", 443)),
                                             ("127.0.0.1:8443", ("127.0.0.1", 8443)), ("[::1]:9", ("::1", 9))])
def test_split_address(address, expect):
    assert split_address(address) == expect


@pytest.mark.parametrize("address", ["h:x", "h:0", ":443"])
def test_split_address_refuses(address):
    with pytest.raises(ValueError):
        split_address(address)
