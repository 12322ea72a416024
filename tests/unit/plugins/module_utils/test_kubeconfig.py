# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kubeconfig Kiali reads: shape and names, parsing back, CA choice, JWT claims."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import (
    CA_INSECURE,
    CA_KUBECONFIG_DATA,
    CA_KUBECONFIG_FILE,
    CA_ROOT_CONFIGMAP,
    build_kubeconfig,
    ca_source,
    check_exec_config,
    dump_kubeconfig,
    kubeconfig_cluster_entry,
    parse_kubeconfig,
    rfc3339,
    same_target,
    token_claims,
)

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
OTHER_PEM = "-----BEGIN CERTIFICATE-----\nMIIBother\n-----END CERTIFICATE-----\n"
SERVER = "https://api.east.example.com:6443"
EXEC = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", "east"], "env": [{"name": "AWS_PROFILE", "value": "ops"}]}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return "%s.%s.%s" % (part({"alg": "RS256", "kid": "k"}), part(claims), "c2lnbmF0dXJl")


def test_one_cluster_user_context_all_named_after_the_cluster():
    config = build_kubeconfig("east", SERVER, ca_data=PEM, token="t0ken")
    assert config["current-context"] == "east"
    assert [c["name"] for c in config["clusters"]] == ["east"]
    assert [u["name"] for u in config["users"]] == ["east"]
    assert config["contexts"] == [{"name": "east", "context": {"cluster": "east", "user": "east"}}]
    cluster = config["clusters"][0]["cluster"]
    assert cluster == {"server": SERVER, "certificate-authority-data": b64(PEM)}
    assert config["users"][0]["user"] == {"token": "t0ken"}
    assert config["kind"] == "Config" and config["apiVersion"] == "v1"


def test_tls_server_name_and_exec_user():
    config = build_kubeconfig("east", SERVER, ca_data=PEM, exec_config=EXEC, tls_server_name="api.internal")
    assert config["clusters"][0]["cluster"]["tls-server-name"] == "api.internal"
    user = config["users"][0]["user"]
    assert "token" not in user
    assert user["exec"] == dict(EXEC, interactiveMode="Never")


def test_insecure_only_without_ca():
    config = build_kubeconfig("east", SERVER, token="t", insecure_skip_tls_verify=True)
    assert config["clusters"][0]["cluster"] == {"server": SERVER, "insecure-skip-tls-verify": True}
    with pytest.raises(ValueError, match="exclude each other"):
        build_kubeconfig("east", SERVER, ca_data=PEM, token="t", insecure_skip_tls_verify=True)
    with pytest.raises(ValueError, match="no CA"):
        build_kubeconfig("east", SERVER, token="t")


@pytest.mark.parametrize("kwargs, message", [
    (dict(token="t", exec_config=EXEC), "exactly one credential"),
    (dict(), "exactly one credential"),
    (dict(token="t", server="http://api:6443"), "not an https"),
    (dict(token="t", server="https://"), "not an https"),
    (dict(token="t", cluster_name="East"), "invalid"),
])
def test_build_refuses(kwargs, message):
    args = dict(cluster_name="east", server=SERVER, ca_data=PEM)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_kubeconfig(**args)


def test_dump_is_stable_and_parses_back():
    config = build_kubeconfig("east", SERVER, ca_data=PEM, token="t0ken", tls_server_name="api.internal")
    text = dump_kubeconfig(config)
    assert text == dump_kubeconfig(build_kubeconfig("east", SERVER, ca_data=PEM, token="t0ken",
                                                    tls_server_name="api.internal"))
    assert yaml.safe_load(text) == config
    parsed = parse_kubeconfig(text)
    assert parsed == {"name": "east", "server": SERVER, "ca_data": PEM, "tls_server_name": "api.internal",
                      "insecure_skip_tls_verify": False, "token": "t0ken", "exec": None, "current_context": "east"}
    assert parse_kubeconfig(text.encode()) == parsed


@pytest.mark.parametrize("text, message", [
    ("a: [", "not YAML"),
    ("- 1\n- 2\n", "not a kubeconfig"),
    ("clusters: []\nusers: [{name: u, user: {}}]\n", "0 clusters"),
    ("clusters: [{name: a, cluster: {}}, {name: b, cluster: {}}]\nusers: [{name: u, user: {}}]\n", "2 clusters"),
    ("clusters: [{name: a, cluster: {}}]\nusers: []\n", "0 users"),
    ("clusters: [{name: a, cluster: {certificate-authority-data: '%%%'}}]\nusers: [{name: u, user: {}}]\n",
     "not base64"),
])
def test_parse_refuses_what_kiali_would_not_read(text, message):
    with pytest.raises(ValueError, match=message):
        parse_kubeconfig(text)


def test_same_target():
    stored = parse_kubeconfig(dump_kubeconfig(build_kubeconfig("east", SERVER, ca_data=PEM, token="t")))
    assert same_target(stored, SERVER, PEM, None, False)
    assert same_target(stored, SERVER, PEM.replace("\n", "\r\n"), None, False)
    assert not same_target(stored, "https://other:6443", PEM, None, False)
    assert not same_target(stored, SERVER, OTHER_PEM, None, False)
    assert not same_target(stored, SERVER, PEM, "api.internal", False)
    assert not same_target(stored, SERVER, None, None, True)


# --- CA selection --------------------------------------------------------------------------------------------

def test_ca_order_kubeconfig_data_first(tmp_path):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(OTHER_PEM)
    assert ca_source(b64(PEM), str(ca_file), "root") == (PEM, CA_KUBECONFIG_DATA, None)


def test_ca_order_then_kubeconfig_file(tmp_path):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(OTHER_PEM)
    assert ca_source(None, str(ca_file), "root") == (OTHER_PEM, CA_KUBECONFIG_FILE, None)


def test_ca_order_then_root_configmap_and_empty_file_falls_through(tmp_path):
    empty = tmp_path / "empty.crt"
    empty.write_text("\n")
    assert ca_source(None, None, PEM) == (PEM, CA_ROOT_CONFIGMAP, None)
    assert ca_source(None, str(empty), PEM) == (PEM, CA_ROOT_CONFIGMAP, None)


def test_no_ca_is_an_error_unless_insecure_opt_in():
    with pytest.raises(ValueError, match="no CA found"):
        ca_source(None, None, None)
    with pytest.raises(ValueError, match="no CA found"):
        ca_source(None, None, "  \n")
    pem, source, warning = ca_source(None, None, None, allow_insecure_skip_tls=True)
    assert pem is None and source == CA_INSECURE
    assert "insecure-skip-tls-verify: true" in warning


def test_insecure_opt_in_never_wins_over_a_found_ca():
    assert ca_source(None, None, PEM, allow_insecure_skip_tls=True) == (PEM, CA_ROOT_CONFIGMAP, None)


def test_ca_file_unreadable_and_bad_data(tmp_path):
    with pytest.raises(ValueError, match="cannot read the kubeconfig's certificate-authority file"):
        ca_source(None, str(tmp_path / "missing.crt"))
    with pytest.raises(ValueError, match="not base64"):
        ca_source("not base64!", None)


def test_kubeconfig_cluster_entry_merges_files_first_wins(tmp_path):
    first = {"current-context": "east", "contexts": [{"name": "east", "context": {"cluster": "c-east"}}],
             "clusters": [{"name": "c-east", "cluster": {"server": SERVER, "certificate-authority": "pki/ca.crt"}}]}
    second = {"current-context": "west",
              "contexts": [{"name": "east", "context": {"cluster": "ignored"}},
                           {"name": "west", "context": {"cluster": "c-west"}}],
              "clusters": [{"name": "c-west", "cluster": {"server": "https://w:6443",
                                                          "certificate-authority-data": b64(PEM)}},
                           {"name": "c-east", "cluster": {"server": "https://ignored"}}]}
    docs = [(str(tmp_path / "a" / "config"), first), (str(tmp_path / "b" / "config"), second)]
    entry, path = kubeconfig_cluster_entry(docs)
    assert entry["server"] == SERVER and path == docs[0][0]
    assert entry["certificate-authority"] == str(tmp_path / "a" / "pki" / "ca.crt")
    entry, path = kubeconfig_cluster_entry(docs, "west")
    assert entry["certificate-authority-data"] == b64(PEM) and path == docs[1][0]
    assert kubeconfig_cluster_entry(docs, "nope") == (None, None)
    assert first["clusters"][0]["cluster"]["certificate-authority"] == "pki/ca.crt"  # input left alone


# --- exec config ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ("aws", "must be a dictionary"),
    (dict(EXEC, apiVersion="client.authentication.k8s.io/v1alpha1"), "apiVersion must be one of"),
    (dict(EXEC, command=""), "command must be a non-empty string"),
    (dict(EXEC, args="eks get-token"), "args must be a list of strings"),
    (dict(EXEC, env={"AWS_PROFILE": "ops"}), "env must be a list"),
    (dict(EXEC, env=[{"name": "A"}]), "env must be a list"),
    (dict(EXEC, interactiveMode="Sometimes"), "interactiveMode must be one of"),
    (dict(EXEC, provideClusterInfo="yes"), "provideClusterInfo must be a boolean"),
    (dict(EXEC, token="x"), "unknown keys token"),
])
def test_exec_config_rejected(config, message):
    with pytest.raises(ValueError, match=message):
        check_exec_config(config)


def test_exec_config_keeps_interactive_mode_and_drops_null_lists():
    out = check_exec_config({"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "args": None,
                             "interactiveMode": "IfAvailable"})
    assert out == {"apiVersion": "client.authentication.k8s.io/v1", "command": "x", "interactiveMode": "IfAvailable"}


# --- JWT claims ----------------------------------------------------------------------------------------------

def test_bound_token_claims():
    token = jwt({"aud": ["https://east.kialiops.test"], "exp": 1800000600, "iat": 1800000000, "nbf": 1800000000,
                 "iss": "https://east.kialiops.test", "sub": "system:serviceaccount:istio-system:kiali",
                 "kubernetes.io": {"namespace": "istio-system",
                                   "serviceaccount": {"name": "kiali", "uid": "u-1"}}})
    claims = token_claims(token)
    assert claims == {"sub": "system:serviceaccount:istio-system:kiali", "iss": "https://east.kialiops.test",
                      "aud": ["https://east.kialiops.test"], "namespace": "istio-system", "service_account": "kiali",
                      "service_account_uid": "u-1", "secret_name": None, "iat": 1800000000, "exp": 1800000600,
                      "nbf": 1800000000}


def test_legacy_token_claims_have_no_expiry():
    token = jwt({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ns:kiali",
                 "kubernetes.io/serviceaccount/namespace": "ns",
                 "kubernetes.io/serviceaccount/secret.name": "kiali-kialiops-token",
                 "kubernetes.io/serviceaccount/service-account.name": "kiali",
                 "kubernetes.io/serviceaccount/service-account.uid": "u-2"})
    claims = token_claims(token)
    assert claims["exp"] is None and claims["iat"] is None
    assert (claims["namespace"], claims["service_account"], claims["service_account_uid"], claims["secret_name"]) == (
        "ns", "kiali", "u-2", "kiali-kialiops-token")


@pytest.mark.parametrize("token, message", [
    ("opaque-token", "not a JWT"),
    (None, "not a JWT"),
    ("a.!!!.c", "not base64url JSON"),
    ("a.%s.c" % base64.urlsafe_b64encode(b"[1]").decode().rstrip("="), "not a JSON object"),
    (jwt({"exp": "soon"}), "exp is not a number"),
    (jwt({"iat": True}), "iat is not a number"),
])
def test_token_claims_refuses(token, message):
    with pytest.raises(ValueError, match=message):
        token_claims(token)


def test_rfc3339():
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1800000000) == "2027-01-15T08:00:00Z"
    assert rfc3339(None) is None
