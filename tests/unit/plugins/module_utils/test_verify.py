# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verify judgements: every check has a passing and a failing case."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.kialiops.multicluster.plugins.module_utils import _verify as v
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError

NOW = 1_800_000_000
NS = "istio-system"


def per_cluster(name, cluster=None, keys=None, labelled=True):
    labels = {"kiali.io/multiCluster": "true"} if labelled else {}
    annotations = {"kiali.io/cluster": cluster} if cluster else {}
    return {"metadata": {"name": name, "labels": labels, "annotations": annotations},
            "data": {k: "c2VjcmV0" for k in (keys if keys is not None else [cluster])}}


def single(*keys, labelled=True):
    labels = {"kiali.io/kiali-multi-cluster-secret": "true"} if labelled else {}
    return {"metadata": {"name": "kiali-multi-cluster-secret", "labels": labels}, "data": {k: "eA==" for k in keys}}


def entries(*secrets):
    return [v.secret_entry(s) for s in secrets]


def statuses(rows, cluster=None):
    return [(r["cluster"], r["status"]) for r in rows if cluster is None or r["cluster"] == cluster]


def test_row_rejects_unknown_status_and_ok_rows_carry_no_fix():
    with pytest.raises(ValueError):
        v.row("east", "token", "bad", "x")
    assert v.row("east", "token", "ok", "fine", "ignored")["fix"] == ""


def test_secret_entry_never_keeps_values():
    e = v.secret_entry(per_cluster("kiali-remote-cluster-secret-east", "east"))
    assert e == dict(name="kiali-remote-cluster-secret-east", form="per_cluster",
                     labels={"kiali.io/multiCluster": "true"}, cluster="east", owner="east", keys=["east"])
    assert "c2VjcmV0" not in json.dumps(e)
    assert v.secret_entry({"metadata": {"name": "other"}, "data": {"a": "b"}})["form"] is None


def test_healthy_secrets_are_ok():
    rows, held = v.judge_secrets("hub", NS, entries(per_cluster("kiali-remote-cluster-secret-east", "east"),
                                                    per_cluster("kiali-remote-cluster-secret-west", "west"),
                                                    {"metadata": {"name": "unrelated"}, "data": {"x": "y"}}),
                                 ["east", "west"], {"east": "per_cluster", "west": "per_cluster"})
    assert statuses(rows) == [("east", "ok"), ("west", "ok")]
    assert held == {"east": [("kiali-remote-cluster-secret-east", "per_cluster")],
                    "west": [("kiali-remote-cluster-secret-west", "per_cluster")]}


def test_missing_secret_fails_naming_the_cluster_and_prepare():
    rows, dummy = v.judge_secrets("hub", NS, entries(per_cluster("kiali-remote-cluster-secret-east", "east")),
                                  ["east", "west"])
    west = [r for r in rows if r["cluster"] == "west"]
    assert [r["status"] for r in west] == ["fail"]
    assert "missing" in west[0]["message"] and "prepare.yml for west" in west[0]["fix"]


def test_orphan_secret_fails_as_a_row_of_that_cluster():
    rows, dummy = v.judge_secrets("hub", NS, entries(per_cluster("kiali-remote-cluster-secret-east", "east"),
                                                     per_cluster("kiali-remote-cluster-secret-ghost", "ghost")),
                                  ["east"])
    ghost = [r for r in rows if r["cluster"] == "ghost"]
    assert ghost and ghost[0]["status"] == "fail" and "orphaned" in ghost[0]["message"]
    assert 'remove_cluster.yml -e \'{"cluster_remove_clusters": ["ghost"]}\'' in ghost[0]["fix"]


def test_orphan_key_in_single_secret():
    rows, dummy = v.judge_secrets("hub", NS, entries(single("east", "gone")), ["east"])
    assert ("gone", "fail") in statuses(rows) and ("east", "ok") in statuses(rows)


def test_duplicate_between_the_two_forms_fails():
    rows, dummy = v.judge_secrets("hub", NS, entries(per_cluster("kiali-remote-cluster-secret-east", "east"),
                                                     single("east")), ["east"])
    assert statuses(rows, "east") == [("east", "fail")]
    assert "duplicated" in rows[0]["message"] and "both secret forms" in rows[0]["message"]


@pytest.mark.parametrize("secret, words", [
    (per_cluster("kiali-remote-cluster-secret-east", "east", keys=["west"]), "annotation kiali.io/cluster=east but"),
    (per_cluster("kiali-remote-cluster-secret-east", None, keys=["east"]), "no kiali.io/cluster annotation"),
    (per_cluster("kiali-remote-cluster-secret-east", "east", keys=["east", "west"]), "holds 2 keys"),
    (per_cluster("kiali-remote-cluster-secret-west", "east"), "name should be kiali-remote-cluster-secret-east"),
    (per_cluster("kiali-remote-cluster-secret-east", "east", labelled=False), "not labelled kiali.io/multiCluster"),
])
def test_name_annotation_key_mismatch_fails(secret, words):
    rows, dummy = v.judge_secrets("hub", NS, entries(secret), ["east", "west"])
    bad = [r for r in rows if r["status"] == "fail" and words in r["message"]]
    assert bad, rows


def test_a_secret_without_the_annotation_belongs_to_its_only_key():
    """Kiali takes the only key as the cluster: a misnamed Secret without kiali.io/cluster is a finding of that
    cluster, with the name it should have (the rule is _secret_store.secret_cluster(), not re-derived here)."""
    rows, dummy = v.judge_secrets("hub", NS, entries(per_cluster("by-hand", None, keys=["east"])), ["east"])
    bad = [r for r in rows if r["status"] == "fail" and "name should be" in r["message"]]
    assert [r["cluster"] for r in bad] == ["east"], rows
    assert "its name should be kiali-remote-cluster-secret-east for cluster east" in bad[0]["message"]
    assert "prepare.yml for east" in bad[0]["fix"]


def test_secret_for_the_home_itself_fails():
    rows, dummy = v.judge_secrets("hub", NS, entries(single("east", "hub")), ["east"])
    assert any(r["cluster"] == "hub" and r["status"] == "fail" and "home cluster hub itself" in r["message"]
               for r in rows)


def test_form_other_than_the_inventory_wants_warns():
    rows, dummy = v.judge_secrets("hub", NS, entries(single("east")), ["east"], {"east": "per_cluster"})
    assert statuses(rows) == [("east", "warn")]
    rows, dummy = v.judge_secrets("hub", NS, entries(single("east", labelled=False)), ["east"], {"east": "single"})
    assert ("hub", "warn") in statuses(rows) and ("east", "ok") in statuses(rows)


def cr(**clustering):
    return {"spec": {"clustering": clustering}}


def judge_cr(the_cr, secrets, remotes=("east",), topology="co-located", home="hub"):
    es = entries(*secrets)
    dummy, held = v.judge_secrets(home, NS, es, list(remotes))
    return v.judge_kiali_cr(home, NS, "kiali", the_cr, topology, es, held, list(remotes))


EAST = per_cluster("kiali-remote-cluster-secret-east", "east")


def test_cr_autodetect_mounts_labelled_secret():
    rows = judge_cr(cr(autodetect_secrets={"enabled": True, "label": "kiali.io/multiCluster=true"}), [EAST])
    assert statuses(rows) == [("hub", "ok")]


def test_cr_missing_fails():
    rows = judge_cr(None, [EAST])
    assert statuses(rows) == [("hub", "fail")] and "install.yml" in rows[0]["fix"]


def test_cr_autodetect_off_without_entry_fails_but_single_is_always_mounted():
    rows = judge_cr(cr(autodetect_secrets={"enabled": False}, clusters=[]), [EAST])
    assert statuses(rows) == [("east", "fail")] and "does not mount" in rows[0]["message"]
    rows = judge_cr(cr(autodetect_secrets={"enabled": False}), [single("east")])
    assert statuses(rows) == [("hub", "ok")]
    rows = judge_cr(cr(autodetect_secrets={"enabled": False},
                       clusters=[{"name": "east", "secret_name": "kiali-remote-cluster-secret-east"}]), [EAST])
    assert statuses(rows) == [("hub", "ok")]


def test_cr_other_autodetect_label_fails():
    rows = judge_cr(cr(autodetect_secrets={"label": "team=mesh"}), [EAST])
    assert statuses(rows) == [("east", "fail")] and "team=mesh" in rows[0]["message"]


def test_cr_clusters_entries_orphan_wrong_secret():
    rows = judge_cr(cr(clusters=[{"name": "ghost"},
                                 {"name": "east", "secret_name": "nope"}],
                       kiali_urls=[{"cluster_name": "gone", "url": "https://k"}]), [EAST])
    assert ("ghost", "fail") in statuses(rows) and ("gone", "fail") in statuses(rows)
    assert any(r["cluster"] == "east" and "nope, which does not exist" in r["message"] for r in rows)
    rows = judge_cr(cr(clusters=[{"name": "east", "secret_name": "kiali-multi-cluster-secret"}]), [EAST, single("x")],
                    remotes=("east", "x"))
    assert any(r["cluster"] == "east" and "which holds x, not east" in r["message"] for r in rows)


def test_cr_ignore_home_cluster_per_topology():
    good = {"spec": {"clustering": {"ignore_home_cluster": True}, "kubernetes_config": {"cluster_name": "mgmt"}}}
    assert statuses(judge_cr(good, [EAST], topology="external", home="mgmt")) == [("mgmt", "ok")]
    assert statuses(judge_cr(cr(), [EAST], topology="external", home="mgmt")) == [("mgmt", "fail")]
    assert statuses(judge_cr(cr(ignore_home_cluster=True), [EAST])) == [("hub", "fail")]


@pytest.mark.parametrize("strategy, remotes, warned", [
    ("token", ("east",), True), ("header", ("east",), True),
    ("token", (), False), ("anonymous", ("east",), False), ("openid", ("east",), False)])
def test_home_only_auth_is_reported(strategy, remotes, warned):
    # kiali v2.28.0 handlers/authentication/token_auth_controller.go: token logins see the home cluster only
    the_cr = {"spec": {"auth": {"strategy": strategy}, "clustering": {}}}
    rows = [r for r in judge_cr(the_cr, [EAST] if remotes else [], remotes=remotes) if r["check"] == "auth"]
    assert [(r["cluster"], r["status"]) for r in rows] == ([("hub", "warn")] if warned else [])
    if warned:
        assert "see the home cluster hub only, not east" in rows[0]["message"] and "openid or anonymous" in rows[0]["fix"]


def claims(iat, exp):
    return {"iat": iat, "exp": exp, "sub": "system:serviceaccount:istio-system:kiali"}


def test_token_kinds():
    assert v.token_kind({"exec": {"command": "aws"}}, None) == "exec"
    assert v.token_kind({"token": "abc"}, None) == "token"
    assert v.token_kind({"token": "a.b.c"}, claims(1, 2)) == "bound"
    assert v.token_kind({"token": "a.b.c"}, {"exp": None}) == "legacy"
    assert v.token_kind({}, None) is None


def test_bound_token_ok_warn_fail():
    ok = v.judge_token("east", "bound", claims(NOW - 10 * v.DAY, NOW + 80 * v.DAY), NOW)
    assert statuses(ok) == [("east", "ok")] and "(80 days left)" in ok[0]["message"]
    due = v.judge_token("east", "bound", claims(NOW - 85 * v.DAY, NOW + 5 * v.DAY), NOW, rotate_after_percent=80)
    assert statuses(due) == [("east", "warn")] and "rotate_tokens.yml" in due[0]["fix"]
    expired = v.judge_token("east", "bound", claims(NOW - 91 * v.DAY, NOW - 1 * v.DAY), NOW)
    assert statuses(expired) == [("east", "fail")]
    assert "expired" in expired[0]["message"] and "(1 days ago)" in expired[0]["message"]
    assert expired[0]["fix"].startswith("token revoked/expired, run playbooks/rotate_tokens.yml or prepare.yml for east")


def test_token_other_kinds_and_mode_mismatch():
    assert statuses(v.judge_token("east", "legacy", {"exp": None}, NOW)) == [("east", "ok")]
    assert statuses(v.judge_token("east", "exec", None, NOW)) == [("east", "ok")]
    assert statuses(v.judge_token("east", "token", None, NOW)) == [("east", "warn")]
    assert statuses(v.judge_token("east", None, None, NOW)) == [("east", "fail")]
    rows = v.judge_token("east", "legacy", {"exp": None}, NOW, expected_mode="bound")
    assert [r["status"] for r in rows] == ["ok", "warn"] and "kialiops_token_mode is bound" in rows[1]["message"]
    rows = v.judge_token("east", "legacy", {"exp": None}, NOW, annotated_mode="bound")
    assert [r["status"] for r in rows] == ["ok", "warn"]


def test_connection_errors():
    rows = v.judge_connection_error("east", KialiopsError("east", "rejected", "refresh", status=401))
    assert statuses(rows) == [("east", "ok"), ("east", "fail")] and rows[1]["check"] == "authenticates"
    assert "rotate_tokens.yml or prepare.yml for east" in rows[1]["fix"]
    rows = v.judge_connection_error("east", KialiopsError("east", "cannot connect", "check it"))
    assert [(r["check"], r["status"]) for r in rows] == [("reachable", "fail")]
    rows = v.judge_connection_error("east", KialiopsError("east", "server failed", "retry", status=503))
    assert [(r["check"], r["status"]) for r in rows] == [("reachable", "ok"), ("rbac", "fail")]


def test_review_rows():
    result = dict(identity="system:serviceaccount:istio-system:kiali", role_kind="viewer",
                  summary=dict(total=10, passed=10, failed=0, reads=7, writes=3))
    rows = v.judge_review("east", result, None)
    assert [(r["check"], r["status"]) for r in rows] == [("reachable", "ok"), ("authenticates", "ok"), ("rbac", "ok")]
    rows = v.judge_review("east", result, KialiopsError("east", "2 of 10 failed", "re-run remote_prepare"))
    assert rows[-1]["status"] == "fail" and rows[-1]["fix"] == "re-run remote_prepare"
    empty = dict(result, summary=dict(total=0, passed=0, failed=0, reads=0, writes=0))
    assert v.judge_review("east", empty, None)[-1]["status"] == "fail"


# --- ACM -----------------------------------------------------------------------------------------------------

def make_cert(cn, days_valid, issuer_key=None, issuer_cn=None, ca=False, days_before=1):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.fromtimestamp(NOW, tz=dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or cn)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=days_before)).not_valid_after(now + dt.timedelta(days=days_valid))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key or key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem


def b64(text):
    return base64.b64encode(text.encode()).decode()


def tls_secret(pem, key):
    return {"data": {"tls.crt": b64(pem), "tls.key": b64(key)}}


def ca_secret(pem):
    return {"data": {"ca.crt": b64(pem)}}


def test_certificates_parses_bundles():
    a, dummy = make_cert("a", 10)
    b, dummy = make_cert("b", 20)
    certs = v.certificates(a + b)
    assert [c["subject"] for c in certs] == ["CN=a", "CN=b"]
    assert certs[0]["not_after"] == NOW + 10 * v.DAY and certs[0]["fingerprint"].startswith("sha256:")
    with pytest.raises(ValueError):
        v.certificates("not a pem")


def test_client_cert_copy():
    pem, key = make_cert("grafana", 300)
    ok = v.judge_client_cert("hub", "mgmt", NS, tls_secret(pem, key), tls_secret(pem, key), NOW)
    assert statuses(ok) == [("mgmt", "ok")] and "(300 days left)" in ok[0]["message"]
    assert key not in json.dumps(ok) and b64(key) not in json.dumps(ok)
    new, new_key = make_cert("grafana", 365)
    stale = v.judge_client_cert("hub", "mgmt", NS, tls_secret(new, new_key), tls_secret(pem, key), NOW)
    assert statuses(stale) == [("mgmt", "fail")] and "differs" in stale[0]["message"]
    assert "acm_metrics" in stale[0]["fix"]
    assert statuses(v.judge_client_cert("hub", "mgmt", NS, None, tls_secret(pem, key), NOW)) == [("hub", "fail")]
    assert statuses(v.judge_client_cert("hub", "mgmt", NS, tls_secret(pem, key), None, NOW)) == [("mgmt", "fail")]


def test_client_cert_expiry():
    soon, key = make_cert("grafana", 10)
    rows = v.judge_client_cert("hub", "hub", NS, tls_secret(soon, key), tls_secret(soon, key), NOW, warn_days=30)
    assert statuses(rows) == [("hub", "warn")]
    old, key = make_cert("grafana", -2, days_before=400)
    rows = v.judge_client_cert("hub", "hub", NS, tls_secret(old, key), tls_secret(old, key), NOW)
    assert statuses(rows) == [("hub", "fail")] and "expired" in rows[0]["message"]


def test_ca_bundle():
    server, dummy = make_cert("observability-server-ca", 1800, ca=True)
    client_ca, dummy = make_cert("observability-client-ca", 1800, ca=True)
    other, dummy = make_cert("somebody-else", 1800, ca=True)
    cm = {"data": {"additional-ca-bundle.pem": server}}
    rows = v.judge_ca_bundle("hub", "hub", NS, cm, ca_secret(server), ca_secret(client_ca), NOW)
    assert statuses(rows) == [("hub", "ok")] and "observability-server-ca-certs" in rows[0]["message"]
    cm2 = {"data": {"additional-ca-bundle.pem": other + client_ca}}
    rows = v.judge_ca_bundle("hub", "hub", NS, cm2, ca_secret(server), ca_secret(client_ca), NOW)
    assert statuses(rows) == [("hub", "ok")] and "observability-client-ca-certs" in rows[0]["message"]
    rows = v.judge_ca_bundle("hub", "hub", NS, {"data": {"additional-ca-bundle.pem": other}}, ca_secret(server),
                             ca_secret(client_ca), NOW)
    assert statuses(rows) == [("hub", "fail")] and "matches neither" in rows[0]["message"]
    assert statuses(v.judge_ca_bundle("hub", "hub", NS, None, ca_secret(server), None, NOW)) == [("hub", "fail")]
    assert statuses(v.judge_ca_bundle("hub", "hub", NS, {"data": {}}, ca_secret(server), None, NOW)) == [("hub", "fail")]
    assert statuses(v.judge_ca_bundle("hub", "mgmt", NS, cm, None, None, NOW)) == [("hub", "fail")]


def test_ca_bundle_expiry():
    old, dummy = make_cert("observability-server-ca", -1, ca=True, days_before=100)
    rows = v.judge_ca_bundle("hub", "hub", NS, {"data": {"additional-ca-bundle.pem": old}}, ca_secret(old), None, NOW)
    assert statuses(rows) == [("hub", "fail")] and "expired" in rows[0]["message"]


def test_summary_counts():
    rows = [v.row("a", "x", "ok", "m"), v.row("a", "y", "fail", "m", "f"), v.row("b", "x", "fail", "m", "f")]
    assert v.summary(rows) == {"ok": 1, "warn": 0, "fail": 2}


def test_key_material_lists_raw_and_decoded():
    dummy, key = make_cert("x", 1)
    assert v.key_material({"data": {"tls.key": b64(key)}}, None) == [b64(key), key]


# --- the reading side, over an in-memory stand-in for ClusterService ------------------------------------------

class FakeHome:
    """get/list/api_groups of ClusterService over a dict of objects; records every call (all reads)."""

    cluster = "hub"

    def __init__(self, objects, groups=("v1", "kiali.io/v1alpha1"), fail=None):
        self.objects = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}
        self.groups = list(groups)
        self.fail = fail
        self.calls = []

    def _maybe_fail(self):
        if self.fail:
            raise self.fail

    def api_groups(self):
        self.calls.append("api_groups")
        self._maybe_fail()
        return self.groups

    def get(self, api_version, kind, name, namespace=None):
        self.calls.append(("get", kind, name))
        self._maybe_fail()
        return self.objects.get((kind, namespace, name))

    def list(self, api_version, kind, namespace=None, label_selector=None):
        self.calls.append(("list", kind))
        self._maybe_fail()
        return [o for (k, ns, n), o in self.objects.items() if k == kind and ns == namespace]


def collector(into):
    """A ``mask(*values)`` callback that keeps what it was given."""
    return lambda *values: into.extend(values)


def secret_obj(secret, ns=NS):
    out = dict(secret, kind="Secret")
    out["metadata"] = dict(secret["metadata"], namespace=ns)
    return out


def kiali_cr_obj(ns=NS):
    return {"kind": "Kiali", "metadata": {"name": "kiali", "namespace": ns},
            "spec": {"clustering": {"autodetect_secrets": {"enabled": True}}}}


HOME_PARAMS = dict(namespace=NS, remotes=["east"], instance_name="kiali", cr_name=None, topology="co-located",
                   secret_modes=None)


def test_verify_home_reads_secrets_and_cr_and_judges_them():
    fake = FakeHome([secret_obj(per_cluster("kiali-remote-cluster-secret-east", "east")), kiali_cr_obj(),
                     secret_obj(per_cluster("kiali-remote-cluster-secret-ghost", "ghost"))])
    rows = v.verify_home(fake, HOME_PARAMS)
    assert ("east", "ok") in statuses(rows) and ("ghost", "fail") in statuses(rows) and ("hub", "ok") in statuses(rows)
    assert all(c == "api_groups" or c[0] in ("get", "list") for c in fake.calls)


def test_verify_home_without_crd_or_cr_fails():
    fake = FakeHome([secret_obj(per_cluster("kiali-remote-cluster-secret-east", "east"))], groups=("v1",))
    rows = v.verify_home(fake, HOME_PARAMS)
    assert any(r["check"] == "kiali cr" and r["status"] == "fail" and "CRD is missing" in r["message"] for r in rows)
    rows = v.verify_home(FakeHome([secret_obj(per_cluster("kiali-remote-cluster-secret-east", "east"))]), HOME_PARAMS)
    assert any(r["check"] == "kiali cr" and r["status"] == "fail" and "no Kiali CR" in r["message"] for r in rows)


def test_verify_home_unreadable_is_a_row():
    fake = FakeHome([], fail=KialiopsError("hub", "cannot list secrets (403)", "grant list"))
    assert v.verify_home(fake, HOME_PARAMS) == [v.row("hub", "remote secrets", "fail", "cannot list secrets (403)",
                                                      "grant list")]


REMOTE_PARAMS = dict(namespace=NS, remote_cluster="east", secret_mode="auto", rotate_after_percent=80,
                     token_mode="bound")


def stored_secret(kubeconfig_text, name="kiali-remote-cluster-secret-east", key="east"):
    return secret_obj({"metadata": {"name": name, "annotations": {"kiali.io/cluster": key}},
                       "data": {key: b64(kubeconfig_text)}})


def test_verify_remote_without_a_stored_credential_fails_naming_prepare():
    rows = v.verify_remote(FakeHome([]), REMOTE_PARAMS, lambda *a: None, now=NOW)
    assert statuses(rows) == [("east", "fail")] and rows[0]["check"] == "credential"
    assert "prepare.yml for east" in rows[0]["fix"]


def test_verify_remote_unusable_kubeconfig_fails_and_masks_what_it_read():
    masked = []
    text = "clusters: []\nusers: []\n"
    rows = v.verify_remote(FakeHome([stored_secret(text)]), REMOTE_PARAMS, collector(masked), now=NOW)
    assert statuses(rows) == [("hub", "fail")] and "not usable" in rows[0]["message"]
    assert text in masked and b64(text) in masked


def _jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "%s.%s.%s" % (enc({"alg": "ES256"}), enc(claims), "c2ln")


def test_verify_remote_masks_token_and_key_before_connecting(monkeypatch):
    token = _jwt(claims(NOW - v.DAY, NOW + 80 * v.DAY))
    text = yaml_kubeconfig(token)
    masked = []

    def review(home, params, mask, stored=None):
        assert token in masked and "S0VZ" in masked         # masked before any request with it
        raise KialiopsError("east", "rejected (401)", "refresh", status=401)

    monkeypatch.setattr(v, "review_stored_credential", review)
    rows = v.verify_remote(FakeHome([stored_secret(text)]), REMOTE_PARAMS, collector(masked), now=NOW)
    want = [("token", "ok"), ("reachable", "ok"), ("authenticates", "fail")]
    assert [(r["check"], r["status"]) for r in rows] == want
    assert token not in json.dumps(rows)


def yaml_kubeconfig(token):
    return ("apiVersion: v1\nkind: Config\ncurrent-context: east\n"
            "clusters:\n- name: east\n  cluster: {server: 'https://127.0.0.1:1'}\n"
            "contexts:\n- name: east\n  context: {cluster: east, user: east}\n"
            "users:\n- name: east\n  user: {token: '%s', client-key-data: S0VZ}\n" % token)


def test_verify_acm_masks_keys_and_judges_both_copies():
    pem, key = make_cert("grafana", 300)
    ca, dummy = make_cert("server-ca", 1000)

    def obj(kind, ns, name, data):
        return {"kind": kind, "metadata": {"name": name, "namespace": ns}, "data": data}
    hub = FakeHome([obj("Secret", v.ACM_NAMESPACE, v.ACM_CLIENT_CERT, {"tls.crt": b64(pem), "tls.key": b64(key)}),
                    obj("Secret", v.ACM_NAMESPACE, v.ACM_SERVER_CA, {"ca.crt": b64(ca)})])
    home = FakeHome([obj("Secret", NS, v.ACM_CERT_COPY, {"tls.crt": b64(pem), "tls.key": b64(key)}),
                     obj("ConfigMap", NS, v.CA_BUNDLE, {v.CA_BUNDLE_KEY: ca})])
    home.cluster = "mgmt"
    masked = []
    rows = v.verify_acm(home, hub, dict(namespace=NS, expiry_warn_days=30), collector(masked), now=NOW)
    assert statuses(rows) == [("mgmt", "ok"), ("mgmt", "ok")]
    assert key in masked and b64(key) in masked
    hub.fail = KialiopsError("hub", "cannot connect", "check it")
    assert statuses(v.verify_acm(home, hub, dict(namespace=NS, expiry_warn_days=30), collector(masked), now=NOW)) == [
        ("hub", "fail")]


PREDICTED = {"changed": True, "would_mint": True, "secret": {"name": "kiali-remote-cluster-secret-east"},
             "token": {"mode": "bound", "ttl": 7776000, "expires": None}}


def test_a_credential_check_mode_would_store_is_a_would_row():
    r = v.would_store("east", PREDICTED)
    assert (r["cluster"], r["check"], r["status"]) == ("east", "credential", "ok")
    assert r["message"].startswith(
        "would mint a bound token valid 90 days and store its kubeconfig in kiali-remote-cluster-secret-east (check mode")
    assert "store its kubeconfig" in v.would_store("east", dict(PREDICTED, would_mint=False))["message"]
    assert v.would_store("east", dict(PREDICTED, changed=False)) is None and v.would_store("east", None) is None


def test_check_mode_turns_only_the_missing_secret_of_a_predicted_cluster_into_would():
    es = entries()
    rows, held = v.judge_secrets("hub", NS, es, ["east", "west"])
    assert statuses(rows) == [("east", "fail"), ("west", "fail")]
    out = v._predicted_rows(rows, {"east": PREDICTED, "west": {"changed": False}, "kiali_cr": "created"})
    assert statuses(out) == [("east", "ok"), ("west", "fail")]
    assert out[0]["message"].startswith("would be stored by this run")
