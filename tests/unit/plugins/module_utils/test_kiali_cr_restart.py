# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The credentials digest in spec.deployment.pod_annotations (plugins/module_utils/_kiali_cr.py): what restarts
Kiali once per credential change, the operator's default pod annotation kept, the user's entries winning."""
from __future__ import annotations

import base64

from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import (
    DEFAULT_POD_ANNOTATIONS,
    RECONCILE_KEY,
    RESTART_KEY,
    build_cr,
    foreign_pod_annotations,
    pod_annotations,
    reconcile_value,
    secret_digest,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import legacy_secret_names

BASE = dict(cluster_name="hub", name=None, namespace="istio-system", instance_name="kiali", view_only=True,
            auth_strategy="token", topology="co-located", clusters=[], kiali_urls=[], enable_exec_provider=False,
            spec={})
ISTIO = "proxy.istio.io/config"


def secret(name, **data):
    return {"metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_digest_goes_to_pod_annotations_and_keeps_the_operators_default():
    cr = build_cr(dict(BASE), reconcile="0123456789abcdef", restart="0123456789abcdef")
    assert cr["spec"]["deployment"]["pod_annotations"] == {
        RESTART_KEY: "0123456789abcdef", ISTIO: '{ "holdApplicationUntilProxyStarts": true }'}
    assert cr["metadata"]["annotations"][RECONCILE_KEY] == "0123456789abcdef"
    assert DEFAULT_POD_ANNOTATIONS == {ISTIO: '{ "holdApplicationUntilProxyStarts": true }'}


def test_no_restart_digest_no_pod_annotations():
    cr = build_cr(dict(BASE), reconcile="0123456789abcdef")
    assert "pod_annotations" not in cr["spec"]["deployment"]


def test_user_pod_annotations_win_and_replace_the_default():
    user = {"deployment": {"pod_annotations": {"a": "1", RESTART_KEY: "mine"}}}
    assert pod_annotations(user, "d1") == {"a": "1", RESTART_KEY: "mine"}
    assert pod_annotations({"deployment": {"pod_annotations": {"a": "1"}}}, "d1") == {"a": "1", RESTART_KEY: "d1"}
    # the user's own istio setting wins over the default
    assert pod_annotations({"deployment": {"pod_annotations": {ISTIO: "{}"}}}, "d1") == {ISTIO: "{}", RESTART_KEY: "d1"}
    # pod_annotations: {} is the user's choice too (no default)
    assert pod_annotations({"deployment": {"pod_annotations": {}}}, "d1") == {RESTART_KEY: "d1"}
    cr = build_cr(dict(BASE, spec=user), reconcile="r", restart="d1")
    assert cr["spec"]["deployment"]["pod_annotations"] == {"a": "1", RESTART_KEY: "mine"}


def test_entries_of_another_manager_mean_no_default():
    assert pod_annotations({}, "d1", others=True) == {RESTART_KEY: "d1"}
    live = {"metadata": {"managedFields": [
        {"manager": "kialiops", "fieldsV1": {"f:spec": {"f:deployment": {"f:pod_annotations": {"f:x": {}}}}}},
        {"manager": "kubectl", "fieldsV1": {"f:spec": {"f:auth": {}}}}]}}
    assert foreign_pod_annotations(live) is False
    live["metadata"]["managedFields"].append(
        {"manager": "kubectl", "fieldsV1": {"f:spec": {"f:deployment": {"f:pod_annotations": {"f:team": {}}}}}})
    assert foreign_pod_annotations(live) is True
    assert foreign_pod_annotations(None) is False


def test_digest_changes_with_a_credential_a_server_a_ca_a_removal_and_nothing_else():
    east = secret("kiali-remote-cluster-secret-east", east="server: a\ntoken: t1")
    west = secret("kiali-remote-cluster-secret-west", west="server: b\ntoken: t2")
    base = reconcile_value([east, west])
    assert reconcile_value([west, east]) == base  # order does not matter
    for changed in ("server: a\ntoken: t9", "server: a2\ntoken: t1", "ca: x\nserver: a\ntoken: t1"):
        assert reconcile_value([secret("kiali-remote-cluster-secret-east", east=changed), west]) != base
    assert reconcile_value([west]) != base  # a removed cluster


def test_predicted_digests_stand_in_for_the_live_secrets():
    east = secret("kiali-remote-cluster-secret-east", east="old")
    new = secret("kiali-remote-cluster-secret-east", east="new")
    assert reconcile_value([east], {"kiali-remote-cluster-secret-east": secret_digest(new)}) == reconcile_value([new])
    assert reconcile_value([east], {"kiali-remote-cluster-secret-east": secret_digest(east)}) == reconcile_value([east])
    west = secret("kiali-remote-cluster-secret-west", west="w")
    assert reconcile_value([east], {"kiali-remote-cluster-secret-west": secret_digest(west)}) == reconcile_value(
        [east, west])
    assert reconcile_value([east], {}) == reconcile_value([east])


def test_legacy_token_secret_names_alternate():
    assert legacy_secret_names("kiali") == ("kiali-kialiops-token", "kiali-kialiops-token-b")
