# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import copy

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import dropped_fields, fingerprint, normalise

LIVE_CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "kiali", "namespace": "istio-system", "labels": {"app.kubernetes.io/managed-by": "kialiops"},
        "annotations": {"kiali.io/cluster": "east"},
        "resourceVersion": "4711", "generation": 3, "uid": "0b8c", "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [{"manager": "kialiops", "operation": "Apply"}],
    },
    "data": {"a": "1"},
    "status": {"anything": True},
}


def test_normalise_drops_server_bookkeeping_and_status():
    out = normalise(LIVE_CONFIGMAP)
    assert out == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kiali", "namespace": "istio-system",
                     "labels": {"app.kubernetes.io/managed-by": "kialiops"},
                     "annotations": {"kiali.io/cluster": "east"}},
        "data": {"a": "1"},
    }


def test_normalise_does_not_touch_its_input():
    before = copy.deepcopy(LIVE_CONFIGMAP)
    out = normalise(LIVE_CONFIGMAP)
    out["metadata"]["labels"]["x"] = "y"
    out["data"]["a"] = "2"
    assert LIVE_CONFIGMAP == before


def test_objects_differing_only_in_bookkeeping_compare_equal():
    other = copy.deepcopy(LIVE_CONFIGMAP)
    other["metadata"].update(resourceVersion="4712", generation=4, managedFields=[])
    other["status"] = {"changed": "yes"}
    assert normalise(other) == normalise(LIVE_CONFIGMAP)


def test_a_real_change_still_shows():
    other = copy.deepcopy(LIVE_CONFIGMAP)
    other["data"]["a"] = "2"
    assert normalise(other) != normalise(LIVE_CONFIGMAP)


def test_secret_values_become_fingerprints_in_key_order():
    token = base64.b64encode(b"eyJhbGciOiJSUzI1NiJ9.not-a-real-token").decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "uid": "1"},
              "type": "Opaque", "data": {"z": token, "a": ""}}
    out = normalise(secret)
    assert list(out["data"]) == ["a", "z"]
    assert out["data"]["z"] == fingerprint(token)
    assert token not in repr(out)
    assert out["type"] == "Opaque"


def test_secret_string_data_is_fingerprinted_too():
    out = normalise({"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "plain-secret"}})
    assert out["stringData"] == {"k": fingerprint("plain-secret")}


def test_normalise_none_and_missing_metadata():
    assert normalise(None) is None
    assert normalise({"kind": "Namespace"}) == {"kind": "Namespace", "metadata": {}}


@pytest.mark.parametrize("value", ["token", b"token"])
def test_fingerprint_shape_and_stability(value):
    got = fingerprint(value)
    assert got.startswith("sha256:") and len(got) == len("sha256:") + 16
    assert got == fingerprint("token")  # str and bytes agree
    assert got != fingerprint("token2")
    assert "token" not in got[len("sha256:"):]


KIALI = {"apiVersion": "kiali.io/v1alpha1", "kind": "Kiali", "metadata": {"name": "kiali", "labels": {"a": "b"}},
         "spec": {"auth": {"strategy": "openshift", "openshift": {"impersonation": {"enabled": True}}},
                  "deployment": {"pod_annotations": {}, "view_only_mode": True},
                  "clustering": {"clusters": [{"name": "east", "secret_name": "s-east"}, {"name": "west"}]}}}


def test_nothing_dropped_when_the_answer_holds_every_field_sent():
    answer = dict(KIALI, metadata={"name": "kiali", "uid": "u"}, status={"x": 1})
    assert dropped_fields(KIALI, answer) == []


def test_a_pruned_field_is_named_by_its_path():
    answer = {"apiVersion": "kiali.io/v1alpha1", "kind": "Kiali", "metadata": {},
              "spec": {"auth": {"strategy": "openshift", "openshift": {}},
                       "deployment": {"view_only_mode": True},            # {} pod_annotations: omitted, not pruned
                       "clustering": {"clusters": [{"name": "east"}, {"name": "west"}]}}}
    assert dropped_fields(KIALI, answer) == ["spec.auth.openshift.impersonation", "spec.clustering.clusters[0].secret_name"]


def test_list_items_may_sit_among_other_writers_items():
    sent = {"rules": [{"verbs": ["get"], "resources": ["pods"]}]}
    assert dropped_fields(sent, {"rules": [{"verbs": ["list"], "resources": ["x"]},
                                           {"verbs": ["get"], "resources": ["pods"]}]}) == []
    assert dropped_fields(sent, {"rules": []}) == ["rules[0]"]


def test_secret_string_data_and_metadata_are_not_compared():
    sent = {"kind": "Secret", "metadata": {"annotations": {"x": "y"}}, "stringData": {"k": "v"}}
    assert dropped_fields(sent, {"kind": "Secret", "metadata": {}, "data": {"k": "dg=="}}) == []
