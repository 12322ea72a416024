# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ownership verdict every writer asks before it touches a live object."""

from __future__ import annotations

import copy

from ansible_collections.kialiops.multicluster.plugins.module_utils._ownership import (
    ADOPTED,
    FOREIGN,
    MOVED,
    OWNED,
    SCRIPT_SECRET_MAKER,
    SCRIPT_TOKEN_MAKER,
    Ownership,
    installer_marks,
    kialiops_home,
    maker,
    remote_only_config,
)


def obj(**labels):
    return {"metadata": {"name": "kiali", "labels": labels}}


KIALIOPS_HUB = obj(**{"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"})
CHART = obj(**{"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "kiali-server-2.28.0",
               "app.kubernetes.io/instance": "kiali"})
HAND_MADE = obj(app="kiali")


def test_absent_and_same_home_are_owned():
    assert Ownership("hub").verdict(None) == OWNED
    assert Ownership("hub").verdict(KIALIOPS_HUB) == OWNED


def test_another_home_moves_only_when_the_run_moves_from_it():
    assert Ownership("mgmt").verdict(KIALIOPS_HUB) == FOREIGN
    assert Ownership("mgmt", moving_from=["hub"]).verdict(KIALIOPS_HUB) == MOVED
    assert Ownership("hub", moving_from=["hub"]).verdict(KIALIOPS_HUB) == OWNED


def test_an_installer_object_is_adopted_only_when_asked():
    assert Ownership("hub").verdict(CHART) == FOREIGN
    assert Ownership("hub", adopt=True).verdict(CHART) == ADOPTED
    assert maker(CHART) == "kiali-server chart"


def test_unknown_makers_and_other_homes_stay_foreign_even_with_adopt():
    assert Ownership("hub", adopt=True).verdict(HAND_MADE) == FOREIGN
    assert Ownership("mgmt", adopt=True).verdict(KIALIOPS_HUB) == FOREIGN
    assert kialiops_home(HAND_MADE) is None
    assert kialiops_home(KIALIOPS_HUB) == "hub"


SCRIPT_SA = {"kind": "ServiceAccount", "metadata": {"name": "kiali", "namespace": "istio-system",
                                                    "labels": CHART["metadata"]["labels"]}}
SCRIPT_TOKEN = {"kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": "kiali", "namespace": "istio-system",
                             "annotations": {"kubernetes.io/service-account.name": "kiali"}}}
SCRIPT_HOME_SECRET = {"kind": "Secret", "metadata": {
    "name": "kiali-remote-cluster-secret-east", "namespace": "istio-system",
    "labels": {"kiali.io/multiCluster": "true"}, "annotations": {"kiali.io/cluster": "east"}}}


def test_the_scripts_token_secret_is_recognised_through_its_service_account():
    assert maker(SCRIPT_TOKEN) is None                      # no labels of its own
    assert maker(SCRIPT_TOKEN, account=SCRIPT_SA) == SCRIPT_TOKEN_MAKER
    adopted_sa = {"kind": "ServiceAccount", "metadata": dict(SCRIPT_SA["metadata"],
                                                             labels=KIALIOPS_HUB["metadata"]["labels"])}
    assert maker(SCRIPT_TOKEN, account=adopted_sa) == SCRIPT_TOKEN_MAKER    # adopted earlier in the run
    other_ns = {"kind": "ServiceAccount", "metadata": dict(SCRIPT_SA["metadata"], namespace="other")}
    assert maker(SCRIPT_TOKEN, account=other_ns) is None
    hand_made_sa = {"kind": "ServiceAccount", "metadata": {"name": "kiali", "namespace": "istio-system"}}
    assert maker(SCRIPT_TOKEN, account=hand_made_sa) is None


def test_the_scripts_home_secret_is_recognised_by_name_label_and_annotation():
    assert maker(SCRIPT_HOME_SECRET) == SCRIPT_SECRET_MAKER
    assert Ownership("hub", adopt=True).verdict(SCRIPT_HOME_SECRET) == ADOPTED
    other_name = copy.deepcopy(SCRIPT_HOME_SECRET)
    other_name["metadata"]["annotations"]["kiali.io/cluster"] = "west"
    assert maker(other_name) is None
    no_label = copy.deepcopy(SCRIPT_HOME_SECRET)
    no_label["metadata"]["labels"] = {}
    assert maker(no_label) is None
    ours = copy.deepcopy(SCRIPT_HOME_SECRET)
    ours["metadata"]["labels"].update(KIALIOPS_HUB["metadata"]["labels"])
    assert maker(ours) is None


def test_an_object_of_ours_the_script_ran_over_is_taken_back_only_with_adopt():
    touched = obj(**dict(KIALIOPS_HUB["metadata"]["labels"], **{"helm.sh/chart": "kiali-server-2.28.0"}))
    assert Ownership("hub").verdict(touched) == OWNED
    assert Ownership("hub", adopt=True).verdict(touched) == ADOPTED
    assert Ownership("hub", adopt=True).verdict(KIALIOPS_HUB) == OWNED


def test_installer_marks_are_the_chart_labels_and_kubectl_annotations_kialiops_does_not_set():
    live = copy.deepcopy(CHART)
    live["metadata"]["labels"].update({"version": "v2.28.0", "app.kubernetes.io/version": "v2.28.0", "app": "kiali"})
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}", "other": "x"}
    desired = {"metadata": {"labels": {"app": "kiali", "app.kubernetes.io/managed-by": "kialiops"}}}
    assert installer_marks(live, desired) == (["helm.sh/chart", "version", "app.kubernetes.io/version"],
                                              ["kubectl.kubernetes.io/last-applied-configuration"])


def test_only_a_remote_only_chart_config_map_is_a_leftover():
    cm = copy.deepcopy(CHART)
    cm["kind"] = "ConfigMap"
    cm["data"] = {"config.yaml": "deployment:\n  remote_cluster_resources_only: true\n  instance_name: kiali\n"}
    assert remote_only_config(cm)
    cm["data"]["config.yaml"] = "deployment:\n  remote_cluster_resources_only: false\n"
    assert not remote_only_config(cm)
    cm["data"]["config.yaml"] = ": not yaml ["
    assert not remote_only_config(cm)
    hand_made = {"kind": "ConfigMap", "metadata": {"name": "kiali"},
                 "data": {"config.yaml": "deployment:\n  remote_cluster_resources_only: true\n"}}
    assert not remote_only_config(hand_made)
