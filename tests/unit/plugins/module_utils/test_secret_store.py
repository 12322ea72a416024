# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The remote-cluster secrets on Kiali's home: markers, which cluster a Secret holds, reading a stored kubeconfig
(decode, mask, parse), the Secrets each form writes."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils import _secret_store as store
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    LAST_APPLIED,
    PER_CLUSTER,
    SINGLE,
    SINGLE_MAX_CLUSTER,
    StoredKubeconfig,
    annotation_key,
    find_stored,
    per_cluster_secret,
    redacted,
    secret_cluster,
    secret_form,
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
    out = redacted(obj)
    assert out["metadata"]["annotations"][LAST_APPLIED].startswith("sha256:")
    assert out["metadata"]["annotations"]["a"] == "b"
    assert obj["metadata"]["annotations"][LAST_APPLIED].startswith("{")  # input untouched
    assert redacted(None) is None


# --- which cluster a Secret holds, in which form ----------------------------------------------------------------

def secret(name, keys, annotation=None, labels=None):
    meta = {"name": name, "labels": dict(labels or {})}
    if annotation is not None:
        meta["annotations"] = {"kiali.io/cluster": annotation}
    return {"metadata": meta, "data": {k: "eA==" for k in keys}}


@pytest.mark.parametrize("obj, cluster", [
    (secret("kiali-remote-cluster-secret-east", ["east"], "east"), "east"),
    (secret("by-hand", ["west"], "east"), "east"),                 # the annotation wins over the key
    (secret("by-hand", ["west"]), "west"),                         # no annotation: the only key
    (secret("by-hand", ["west"], ""), "west"),                     # an empty annotation names nothing
    (secret("by-hand", ["east", "west"]), None),                   # no annotation, two keys: none
    (secret("by-hand", []), None),
    ({"metadata": {"name": "bare"}}, None),
])
def test_secret_cluster_is_the_annotation_else_the_only_key(obj, cluster):
    assert secret_cluster(obj) == cluster


@pytest.mark.parametrize("obj, form", [
    (secret("kiali-multi-cluster-secret", ["east"]), SINGLE),
    (secret("other", ["east"], labels={"kiali.io/kiali-multi-cluster-secret": "true"}), SINGLE),
    (secret("other", ["east"], labels={"kiali.io/multiCluster": "true"}), PER_CLUSTER),
    (secret("kiali-remote-cluster-secret-east", ["east"]), PER_CLUSTER),
    (secret("other", ["east"], "east"), PER_CLUSTER),
    (secret("other", ["east"], labels={"kiali.io/multiCluster": "false"}), None),
    (secret("other", ["east"]), None),
])
def test_secret_form_as_kiali_takes_it(obj, form):
    assert secret_form(obj) == form


def test_one_label_constant_and_its_selector_for_kiali():
    assert store.MULTI_CLUSTER_LABEL == "kiali.io/multiCluster"
    assert store.MULTI_CLUSTER_SELECTOR == "kiali.io/multiCluster=true"   # Kiali CR autodetect_secrets.label default
    assert per_cluster_secret("ns", "east", "hub", "eA==", {})["metadata"]["labels"][store.MULTI_CLUSTER_LABEL] == \
        "true"


# --- reading a stored kubeconfig ----------------------------------------------------------------------------------

TOKEN = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
KUBECONFIG = ("apiVersion: v1\nkind: Config\ncurrent-context: east\n"
              "clusters:\n- name: east\n  cluster: {server: 'https://east.example:6443'}\n"
              "contexts:\n- name: east\n  context: {cluster: east, user: east}\n"
              "users:\n- name: east\n  user: {token: '%s', client-key-data: S0VZ, password: pw}\n" % TOKEN)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def stored_secret(text, name="kiali-remote-cluster-secret-east", key="east", annotations=None):
    return {"metadata": {"name": name, "namespace": "istio-system", "annotations": dict(annotations or {})},
            "data": {key: b64(text)}}


def collector(into):
    def mask(*values):
        into.extend(v for v in values if v)
    return mask


def test_stored_kubeconfig_decodes_and_masks_every_secret_before_parsing():
    masked = []
    stored = StoredKubeconfig.of(stored_secret(KUBECONFIG), "east", collector(masked))
    assert stored.text == KUBECONFIG and stored.form == PER_CLUSTER and stored.secret_name.endswith("-east")
    for value in (b64(KUBECONFIG), KUBECONFIG, TOKEN, "S0VZ", "pw"):
        assert value in masked, value
    parsed = stored.parse()
    assert parsed["server"] == "https://east.example:6443" and parsed["token"] == TOKEN


def test_stored_kubeconfig_masks_even_what_it_cannot_parse():
    masked = []
    text = "users:\n- user: {token: abc}\n- user: {token: def}\n"   # two users: parse() refuses it
    stored = StoredKubeconfig.of(stored_secret(text), "east", collector(masked))
    assert {"abc", "def", text} <= set(masked)
    with pytest.raises(ValueError):
        stored.credential()
    assert StoredKubeconfig.of(stored_secret(": not yaml ["), "east", collector(masked)).document is None
    assert StoredKubeconfig.of(stored_secret("- a list"), "east", collector(masked)).document is None


def test_no_key_or_an_empty_one_is_nothing_stored():
    assert StoredKubeconfig.of(None, "east", collector([])) is None
    assert StoredKubeconfig.of(stored_secret(KUBECONFIG, key="west"), "east", collector([])) is None
    assert StoredKubeconfig.of({"metadata": {"name": "x"}, "data": {"east": ""}}, "east", collector([])) is None


def test_credential_reads_this_clusters_annotations_per_form():
    per = StoredKubeconfig.of(stored_secret(KUBECONFIG, annotations={"kialiops.io/token-mode": "legacy",
                                                                     "kialiops.io/token-ttl": "600"}),
                              "east", collector([]))
    got = per.credential()
    assert (got["form"], got["mode"], got["ttl"], got["encoded"]) == (PER_CLUSTER, "legacy", 600, b64(KUBECONFIG))
    assert got["claims"] is not None and got["annotations"]["mode"] == "legacy"
    single = StoredKubeconfig.of(stored_secret(KUBECONFIG, name="kiali-multi-cluster-secret", annotations={
        "kialiops.io/token-mode": "legacy", "kialiops.io/token-mode.east": "bound", "kialiops.io/token-ttl.east": "x"}),
        "east", collector([]))
    got = single.credential()
    assert (got["form"], got["mode"], got["ttl"]) == (SINGLE, "bound", None)


class Home:
    cluster = "hub"

    def __init__(self, *objects):
        self.objects = {o["metadata"]["name"]: o for o in objects}
        self.gets = []

    def get(self, api_version, kind, name, namespace=None):
        self.gets.append(name)
        return self.objects.get(name)


@pytest.mark.parametrize("mode, looked", [
    ("auto", ["kiali-remote-cluster-secret-east", "kiali-multi-cluster-secret"]),
    ("per_cluster", ["kiali-remote-cluster-secret-east"]),
    ("single", ["kiali-multi-cluster-secret"]),
])
def test_find_stored_looks_per_cluster_first_and_reads_each_secret_once(mode, looked):
    home = Home()
    assert find_stored(home, "istio-system", "east", mode, collector([])) == (None, looked)
    assert home.gets == looked
    home = Home(stored_secret(KUBECONFIG), stored_secret(KUBECONFIG, name="kiali-multi-cluster-secret"))
    stored, names = find_stored(home, "istio-system", "east", mode, collector([]))
    assert stored.secret_name == looked[0] and names == looked[:1] and home.gets == looked[:1]
    assert stored.form == (SINGLE if looked[0] == "kiali-multi-cluster-secret" else PER_CLUSTER)
