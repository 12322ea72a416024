# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kiali's openid strategy: the CR's auth.openid (_kiali_cr.openid_spec), the client-secret Secret and the verify row
that says whether an API server trusts the IdP (_openid.py). Pure functions only; the lab tests do the real thing."""
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils import _openid as o
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import build_cr, openid_spec

NOW = 1_800_000_000
ISSUER = "https://idp.example.com/realms/mesh"
BASE = dict(cluster_name="hub", name=None, namespace="istio-system", instance_name="kiali", view_only=True,
            auth_strategy="openid", topology="co-located", clusters=[], kiali_urls=[], enable_exec_provider=False,
            spec={}, openid=dict(issuer_uri=ISSUER, client_id="kiali", client_secret=None, scopes=[],
                                 username_claim=None, disable_rbac=None, api_proxy=None, api_proxy_ca_data=None,
                                 insecure_skip_verify_tls=None))


def params(openid=None, **kw):
    out = dict(BASE, **kw)
    out["openid"] = dict(BASE["openid"], **(openid or {}))
    return out


def jwt(**claims):
    def part(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return "%s.%s.%s" % (part({"alg": "RS256"}), part(claims), "c2ln")


# --- the CR -------------------------------------------------------------------------------------------------------

def test_openid_fields_written_only_when_given():
    cr = build_cr(params(openid=dict(scopes=["openid", "email"], username_claim="email", disable_rbac=False,
                                     api_proxy="https://proxy:8443", api_proxy_ca_data="Q0E=")))
    assert cr["spec"]["auth"] == {"strategy": "openid", "openid": {
        "issuer_uri": ISSUER, "client_id": "kiali", "scopes": ["openid", "email"], "username_claim": "email",
        "disable_rbac": False, "api_proxy": "https://proxy:8443", "api_proxy_ca_data": "Q0E="}}
    assert build_cr(params())["spec"]["auth"]["openid"] == {"issuer_uri": ISSUER, "client_id": "kiali"}


def test_client_secret_never_in_the_cr():
    cr = build_cr(params(openid=dict(client_secret="s3cr3t-value")))
    assert "s3cr3t-value" not in json.dumps(cr)


@pytest.mark.parametrize("strategy", ["anonymous", "token", "openshift", "header"])
def test_no_openid_section_for_other_strategies(strategy):
    assert openid_spec(params(auth_strategy=strategy)) == {}
    assert "openid" not in build_cr(params(auth_strategy=strategy))["spec"]["auth"]


def test_user_spec_wins_over_the_options():
    cr = build_cr(params(spec={"auth": {"openid": {"client_id": "other", "allowed_domains": ["example.com"]}}}))
    assert cr["spec"]["auth"]["openid"] == {"issuer_uri": ISSUER, "client_id": "other",
                                            "allowed_domains": ["example.com"]}


@pytest.mark.parametrize("missing", ["issuer_uri", "client_id"])
def test_openid_needs_issuer_and_client_id(missing):
    with pytest.raises(KialiopsError) as e:
        openid_spec(params(openid={missing: ""}))
    assert missing in str(e.value) and "Nothing was written" in str(e.value)
    # ... unless the user's spec gives it
    assert openid_spec(params(openid={missing: ""}, spec={"auth": {"openid": {missing: "x"}}}))


def test_issuer_must_be_https():
    with pytest.raises(KialiopsError, match="not an https URL"):
        openid_spec(params(openid=dict(issuer_uri="http://idp")))


# --- the client secret --------------------------------------------------------------------------------------------

def test_secret_where_kiali_reads_it():
    s = o.openid_secret(params(openid=dict(client_secret="s3cr3t")))
    assert s["metadata"] == {"name": "kiali", "namespace": "istio-system", "labels": {
        "app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}}
    assert s["type"] == "Opaque"
    assert s["data"] == {"oidc-secret": base64.b64encode(b"s3cr3t").decode()}


def test_secret_follows_deployment_secret_name():
    s = o.openid_secret(params(openid=dict(client_secret="x"), spec={"deployment": {"secret_name": "kiali-oidc"}}))
    assert s["metadata"]["name"] == "kiali-oidc"


def test_someone_elses_secret_gets_only_our_key():
    theirs = {"metadata": {"name": "kiali", "labels": {"app": "kiali"}}, "type": "kubernetes.io/opaque"}
    s = o.openid_secret(params(openid=dict(client_secret="x")), live=theirs)
    assert "labels" not in s["metadata"] and "type" not in s and list(s["data"]) == ["oidc-secret"]


@pytest.mark.parametrize("kw", [dict(auth_strategy="anonymous", openid=dict(client_secret="x")),
                                dict(openid=dict(client_secret="")),
                                dict(remote_resources_only=True, openid=dict(client_secret="x"))])
def test_no_secret_written(kw):
    assert o.openid_secret(params(**kw)) is None


# --- verify -------------------------------------------------------------------------------------------------------

CLAIMS = dict(iss=ISSUER, sub="alice", aud="kiali", exp=NOW + 600, email="alice@example.com")


def test_trusting_api_server_is_ok():
    r = o.judge_openid("east", CLAIMS, identity={"username": "alice", "groups": []})
    assert r["status"] == "ok" and r["check"] == "openid" and "alice" in r["message"] and r["fix"] == ""


def test_prefixed_user_name_is_ok_and_said():
    r = o.judge_openid("east", CLAIMS, identity={"username": "oidc:alice@example.com"}, username_claim="email")
    assert r["status"] == "ok" and "oidc:alice@example.com" in r["message"] and "prefix" in r["message"]


def test_untrusting_api_server_fails_naming_cluster_issuer_and_fix():
    e = KialiopsError("west", "Unauthorized", "rotate", status=401)
    r = o.judge_openid("west", CLAIMS, error=e)
    assert r["status"] == "fail" and r["cluster"] == "west"
    assert "401" in r["message"] and ISSUER in r["message"]
    assert "JWT authenticator" in r["fix"] and ISSUER in r["fix"] and "api_proxy" in r["fix"] and "kiali" in r["fix"]


def test_unreachable_is_a_failing_row_with_the_reason():
    e = KialiopsError("west", "connection refused", "start it")
    r = o.judge_openid("west", CLAIMS, error=e)
    assert r["status"] == "fail" and "connection refused" in r["message"] and r["fix"] == "start it"


def test_anonymous_fails_and_unknown_identity_warns():
    assert o.judge_openid("east", CLAIMS, identity={"username": "system:anonymous"})["status"] == "fail"
    assert o.judge_openid("east", CLAIMS, identity=None)["status"] == "warn"


@pytest.mark.parametrize("claims,issuer,why", [
    (None, None, "not a JWT"),
    (dict(CLAIMS, exp=NOW - 1), None, "expired"),
    (dict(CLAIMS, iss="https://other"), ISSUER, "issued by https://other"),
])
def test_precheck_fails_before_any_request(claims, issuer, why):
    r = o.precheck("hub", claims, NOW, issuer)
    assert r["status"] == "fail" and why in r["message"]


def test_precheck_passes_a_good_token():
    assert o.precheck("hub", CLAIMS, NOW, ISSUER + "/") is None


def test_no_token_warns_only_with_openid():
    assert o.no_token_row("hub", "openid")["status"] == "warn"
    assert o.no_token_row("hub", "anonymous") is None
    assert o.verify_openid("hub", None, {"auth_strategy": "anonymous"}, NOW) is None


def test_id_token_claims_decodes_every_claim_locally():
    assert o.id_token_claims(jwt(**CLAIMS))["email"] == "alice@example.com"
    assert o.id_token_claims("not-a-jwt") is None
