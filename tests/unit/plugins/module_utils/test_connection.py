# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connection spec and rules. Configurations are resolved by the real kubernetes client from real
kubeconfig files; the only sockets are on loopback (a closed port, a listener that records connects)."""

from __future__ import annotations

import base64
import socket

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import _create_auth_spec

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    CONNECTION_CONSTRAINTS,
    build_client,
    check_connection,
    connect_kubeconfig,
    connection_spec,
    remote_spec,
    resolve_configuration,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService
from labkit import free_port

FAKE_TOKEN = "not-a-real-token-for-unit-tests"


def validate(spec, params, **constraints):
    return ArgumentSpecValidator(spec, **constraints).validate(params)


# --- the argument spec ---------------------------------------------------------------------------------


def test_spec_exposes_the_documented_options():
    assert set(connection_spec()) == {"kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs",
                                      "cluster_name", "allow_insecure", "render_dir", "render_secrets"}
    # GitOps export belongs to the task, not to its second connection
    assert set(connection_spec(env=False)) == set(connection_spec()) - {"render_dir", "render_secrets"}


@pytest.mark.parametrize("spec", [connection_spec(), connection_spec(env=False), remote_spec()["options"]],
                         ids=["top-level", "no-env", "remote"])
def test_api_key_is_no_log_at_every_depth(spec):
    assert spec["api_key"]["no_log"] is True


def test_remote_api_key_is_masked_by_the_real_validator():
    spec = dict(connection_spec(), remote=remote_spec())
    result = validate(spec, {"cluster_name": "hub", "context": "hub",
                             "remote": {"cluster_name": "east", "context": "east", "api_key": FAKE_TOKEN}},
                      **CONNECTION_CONSTRAINTS)
    assert not result.error_messages, result.error_messages
    assert FAKE_TOKEN in result._no_log_values


def test_options_reuse_kubernetes_core_definitions():
    spec = connection_spec()
    for name in ("context", "host", "api_key", "ca_cert", "validate_certs"):
        for key, value in AUTH_ARG_SPEC[name].items():
            assert spec[name][key] == value, (name, key)
    assert spec["ca_cert"]["aliases"] == ["ssl_ca_cert"]
    assert spec["validate_certs"]["aliases"] == ["verify_ssl"]
    # a path only: never an inline kubeconfig (credentials) as a module argument
    assert spec["kubeconfig"]["type"] == "path" and spec["kubeconfig"]["no_log"] is False
    assert spec["cluster_name"] == {"type": "str", "required": True}
    assert spec["allow_insecure"] == {"type": "bool", "default": False}
    assert AUTH_ARG_SPEC["kubeconfig"]["type"] == "raw"  # we copy, not mutate, upstream's spec


def test_one_of_kubeconfig_context_host_is_required():
    result = validate(connection_spec(env=False), {"cluster_name": "east"}, **CONNECTION_CONSTRAINTS)
    assert "one of the following is required: kubeconfig, context, host" in " ".join(map(str, result.errors))


def test_remote_requires_one_of_too():
    spec = dict(connection_spec(), remote=remote_spec())
    result = validate(spec, {"cluster_name": "hub", "context": "hub", "remote": {"cluster_name": "east"}},
                      **CONNECTION_CONSTRAINTS)
    assert "kubeconfig, context, host" in " ".join(map(str, result.errors))


def test_environment_fills_top_level_only(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_CONTEXT", "from-env")
    monkeypatch.setenv("K8S_AUTH_API_KEY", FAKE_TOKEN)
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "false")
    spec = dict(connection_spec(), remote=remote_spec())
    result = validate(spec, {"cluster_name": "hub", "remote": {"cluster_name": "east", "kubeconfig": "/k"}},
                      **CONNECTION_CONSTRAINTS)
    assert not result.error_messages, result.error_messages  # the environment satisfies required_one_of at the top
    params = result.validated_parameters
    assert params["context"] == "from-env" and params["validate_certs"] is False
    assert FAKE_TOKEN in result._no_log_values
    assert params["remote"]["context"] is None and params["remote"]["api_key"] is None


# --- rules checked before any contact --------------------------------------------------------------------

RULES = [
    ("bad cluster name", {"cluster_name": "East", "context": "e"}, "cluster name 'East' is invalid"),
    ("host+api_key with context", {"cluster_name": "east", "context": "e", "host": "https://h", "api_key": "t"},
     "both host with api_key and kubeconfig/context"),
    ("host+api_key with kubeconfig", {"cluster_name": "east", "kubeconfig": "/k", "host": "https://h", "api_key": "t"},
     "both host with api_key and kubeconfig/context"),
    ("host without credential", {"cluster_name": "east", "host": "https://h"}, "without api_key"),
]


@pytest.mark.parametrize("params, fragment", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_connection_rules(params, fragment):
    with pytest.raises(KialiopsError) as caught:
        check_connection(params)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("cluster %s: " % params["cluster_name"])


@pytest.mark.parametrize("params", [
    {"cluster_name": "east", "context": "e"},
    {"cluster_name": "east", "kubeconfig": "/k", "api_key": "t"},
    {"cluster_name": "east", "host": "https://h", "api_key": "t"},
    {"cluster_name": "east", "host": "https://h", "context": "e"},
])
def test_connection_rules_accept(params):
    check_connection(params)


# --- resolving real kubeconfigs -------------------------------------------------------------------------


def _b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def kubeconfig(tmp_path):
    """Three contexts: east (token), lax (insecure-skip-tls-verify), certs (client certificate data)."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "east",
        "clusters": [
            {"name": "east", "cluster": {"server": "https://127.0.0.12:6443",
                                         "certificate-authority-data": _b64("east CA")}},
            {"name": "lax", "cluster": {"server": "https://127.0.0.13:6443", "insecure-skip-tls-verify": True}},
            {"name": "plain", "cluster": {"server": "http://127.0.0.14:8080"}},
        ],
        "users": [
            {"name": "token", "user": {"token": FAKE_TOKEN}},
            {"name": "certs", "user": {"client-certificate-data": _b64("east cert"),
                                       "client-key-data": _b64("east key")}},
        ],
        "contexts": [
            {"name": "east", "context": {"cluster": "east", "user": "token"}},
            {"name": "lax", "context": {"cluster": "lax", "user": "token"}},
            {"name": "plain", "context": {"cluster": "plain", "user": "token"}},
            {"name": "certs", "context": {"cluster": "east", "user": "certs"}},
        ],
    }
    path = tmp_path / "lab.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_kubeconfig_context_resolves_without_contact(kubeconfig):
    configuration, where, insecure = resolve_configuration({"cluster_name": "east", "kubeconfig": kubeconfig,
                                                           "context": "east"})
    assert configuration.host == "https://127.0.0.12:6443" and configuration.verify_ssl
    assert where == {"server": "https://127.0.0.12:6443", "kube_context": "east", "kubeconfig": kubeconfig}
    assert insecure == []


@pytest.mark.parametrize("params, fragment", [
    ({"context": "lax"}, "context 'lax' of kubeconfig"),
    ({"context": "east", "validate_certs": False}, "validate_certs is false"),
    ({"context": "plain"}, "the server URL http://127.0.0.14:8080 is not https"),
])
def test_tls_off_needs_the_opt_in(kubeconfig, params, fragment):
    params = dict(params, cluster_name="east", kubeconfig=kubeconfig)
    with pytest.raises(KialiopsError) as caught:
        resolve_configuration(params)
    text = str(caught.value)
    assert text.startswith("cluster east: TLS verification is off for ")
    assert fragment in text and "allow_insecure=true" in text
    dummy_config, dummy_where, insecure = resolve_configuration(dict(params, allow_insecure=True))
    assert any(fragment in item for item in insecure)


def test_environment_cannot_redirect_an_explicit_context(kubeconfig, monkeypatch):
    # What AWX injects for a Kubernetes credential; kubernetes.core's get_api_client() would let these win.
    monkeypatch.setenv("K8S_AUTH_HOST", "https://elsewhere.example.com:6443")
    monkeypatch.setenv("K8S_AUTH_API_KEY", FAKE_TOKEN + "-env")
    assert _create_auth_spec(None, context="east")["host"] == "https://elsewhere.example.com:6443"  # upstream
    params = {"cluster_name": "east", "kubeconfig": kubeconfig, "context": "east"}
    configuration, dummy_where, dummy_insecure = resolve_configuration(params)
    assert configuration.host == "https://127.0.0.12:6443"
    assert list(configuration.api_key.values()) == ["Bearer " + FAKE_TOKEN]  # the kubeconfig's token


def test_no_certificate_leaks_from_one_cluster_to_the_next(kubeconfig):
    params = {"cluster_name": "east", "kubeconfig": kubeconfig, "context": "certs"}
    first, dummy_where, dummy_insecure = resolve_configuration(params)
    assert first.cert_file and first.key_file
    params = {"cluster_name": "west", "host": "https://127.0.0.13:6443", "api_key": FAKE_TOKEN}
    second, dummy_where2, dummy_insecure2 = resolve_configuration(params)
    assert second.host == "https://127.0.0.13:6443"
    assert second.cert_file is None and second.key_file is None and second.ssl_ca_cert is None


def test_missing_context_is_a_kialiops_error(kubeconfig):
    with pytest.raises(KialiopsError) as caught:
        resolve_configuration({"cluster_name": "east", "kubeconfig": kubeconfig, "context": "nope"})
    assert "cannot load the connection settings from context 'nope'" in str(caught.value)


# --- building clients against loopback -----------------------------------------------------------------


def test_unreachable_cluster_names_url_and_context(tmp_path):
    port = free_port()
    path = tmp_path / "k"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "west",
        "clusters": [{"name": "w", "cluster": {"server": "https://127.0.0.1:%d" % port}}],
        "users": [{"name": "u", "user": {"token": FAKE_TOKEN}}],
        "contexts": [{"name": "west", "context": {"cluster": "w", "user": "u"}}]}))
    client, where, _insecure = build_client({"cluster_name": "west", "kubeconfig": str(path), "context": "west"})
    with pytest.raises(KialiopsError) as caught:  # building sent nothing; the first request names the failure
        ClusterService("west", client, where).get("v1", "Namespace", "default")
    text = str(caught.value)
    assert text.startswith("cluster west: cannot connect to the API server at https://127.0.0.1:%d" % port)
    assert "context 'west' of kubeconfig %s" % path in text
    assert FAKE_TOKEN not in text


def test_insecure_cluster_is_refused_before_any_connection(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.3)
    path = tmp_path / "k"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lax",
        "clusters": [{"name": "l", "cluster": {"server": "https://127.0.0.1:%d" % listener.getsockname()[1],
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": FAKE_TOKEN}}],
        "contexts": [{"name": "lax", "context": {"cluster": "l", "user": "u"}}]}))
    try:
        with pytest.raises(KialiopsError, match="TLS verification is off"):
            build_client({"cluster_name": "lab", "kubeconfig": str(path)})
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody connected: the token never left
    finally:
        listener.close()


def stored(server, **cluster):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "east",
            "clusters": [{"name": "east", "cluster": dict(cluster, server=server)}],
            "contexts": [{"name": "east", "context": {"cluster": "east", "user": "east"}}],
            "users": [{"name": "east", "user": {"token": "t"}}]}


def test_a_stored_kubeconfig_over_plain_http_is_refused_before_any_request():
    where = dict(kube_context="east", kubeconfig="(stored remote-cluster secret)")
    with pytest.raises(KialiopsError) as e:
        connect_kubeconfig("east", stored("http://127.0.0.1:1"), where)
    assert e.value.cluster == "east" and "is not https" in e.value.reason
    assert "https://" in e.value.fix and "allow_insecure" not in e.value.fix
