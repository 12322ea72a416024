# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Secrets remote_secret writes on the home cluster: names, markers, per-cluster annotations."""

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secret import (
    LAST_APPLIED,
    PER_CLUSTER,
    SINGLE,
    SINGLE_MAX_CLUSTER,
    _redacted,
    annotation_key,
    check_stored_server,
    per_cluster_secret,
    single_base,
    single_entry,
    single_manager,
    stale_annotations,
    token_annotations,
)

OURS = {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}


def test_per_cluster_secret_has_both_kiali_markers_and_one_key():
    obj = per_cluster_secret("istio-system", "east", "hub", "a3ViZWNvbmZpZw==",
                             token_annotations(PER_CLUSTER, "east", dict(mode="bound", expires="E", issued="I")))
    assert obj["metadata"]["name"] == "kiali-remote-cluster-secret-east"
    assert obj["metadata"]["labels"] == dict(OURS, **{"kiali.io/multiCluster": "true"})
    assert obj["metadata"]["annotations"] == {"kiali.io/cluster": "east", "kialiops.io/token-mode": "bound",
                                              "kialiops.io/token-expires": "E", "kialiops.io/token-issued": "I"}
    assert obj["data"] == {"east": "a3ViZWNvbmZpZw=="} and obj["type"] == "Opaque"
    assert "stringData" not in obj


def test_single_secret_split_between_managers():
    base = single_base("istio-system", "hub")
    assert base["metadata"] == {"name": "kiali-multi-cluster-secret", "namespace": "istio-system",
                                "labels": dict(OURS, **{"kiali.io/kiali-multi-cluster-secret": "true"})}
    assert "data" not in base and "annotations" not in base["metadata"]
    entry = single_entry("istio-system", "east", "hub", "eA==",
                         token_annotations(SINGLE, "east", dict(mode="legacy", issued="I", expires=None)))
    assert entry["data"] == {"east": "eA=="}
    assert entry["metadata"]["annotations"] == {"kialiops.io/token-mode.east": "legacy",
                                                "kialiops.io/token-issued.east": "I"}
    assert "type" not in entry
    assert single_manager("east") == "kialiops-east"


def test_annotation_keys_fit_the_63_character_name_limit():
    longest = "a" * SINGLE_MAX_CLUSTER
    for field in ("mode", "issued", "expires", "ttl"):
        assert len(annotation_key(field, SINGLE, longest).split("/", 1)[1]) <= 63
    assert annotation_key("expires", PER_CLUSTER, "east") == "kialiops.io/token-expires"


def test_stale_annotations_only_this_clusters_own():
    live = {"metadata": {"annotations": {
        "kialiops.io/token-mode.east": "bound", "kialiops.io/token-expires.east": "E",
        "kialiops.io/token-expires.west": "W", "kialiops.io/token-expires.east-2": "X", "other/x": "1"}}}
    desired = {"kialiops.io/token-mode.east": "legacy"}
    assert stale_annotations(live, SINGLE, "east", desired) == ["kialiops.io/token-expires.east"]
    live = {"metadata": {"annotations": {"kialiops.io/token-expires": "E", "kialiops.io/token-mode": "bound",
                                         "kiali.io/cluster": "east"}}}
    assert stale_annotations(live, PER_CLUSTER, "east", {"kialiops.io/token-mode": "legacy"}) == [
        "kialiops.io/token-expires"]
    assert stale_annotations(None, PER_CLUSTER, "east", {}) == []


def test_kubectl_last_applied_is_fingerprinted_in_diffs():
    obj = {"kind": "Secret", "metadata": {"name": "x", "annotations": {LAST_APPLIED: '{"data":{"east":"c2VjcmV0"}}',
                                                                       "a": "b"}}}
    out = _redacted(obj)
    assert out["metadata"]["annotations"][LAST_APPLIED].startswith("sha256:")
    assert out["metadata"]["annotations"]["a"] == "b"
    assert obj["metadata"]["annotations"][LAST_APPLIED].startswith("{")  # input untouched
    assert _redacted(None) is None


# --- the server written into the stored kubeconfig (checked before anything is minted) -----------------------------

@pytest.mark.parametrize("server", ["https://127.0.0.1:6443", "https://api.east.example.com", "https://[::1]:6443"])
def test_check_stored_server_accepts_https(server):
    assert check_stored_server("east", server) == server


@pytest.mark.parametrize("server, from_api_url, origin", [
    ("http://127.0.0.1:8080", False, "the remote connection's server (no api_url given): "),
    ("http://api.east.example.com:6443", True, "api_url: "),
    ("127.0.0.1:6443", False, "the remote connection's server"),
    ("https://", True, "api_url: "),
    (None, False, "the remote connection's server"),
])
def test_check_stored_server_refuses_anything_else_naming_cluster_and_fix(server, from_api_url, origin):
    with pytest.raises(KialiopsError) as e:
        check_stored_server("east", server, from_api_url)
    error = e.value
    assert error.cluster == "east" and error.reason.startswith(origin)
    assert "is not an https:// URL" in error.reason
    assert "allow_insecure_skip_tls only skips the certificate check, it does not allow plain http" in error.reason
    assert "kialiops_api_url" in error.fix and "cluster east" in error.fix
    assert error.fix.endswith("Nothing was minted or written")
