# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._acm_inventory import (
    claims,
    host_vars,
    plan_inventory,
    platform,
    unreachable,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._topology import TopologyError, validate_topology


def mc(name, available="True", url=None, labels=None, claim=None, reason="ManagedClusterAvailable"):
    obj = {"metadata": {"name": name, "labels": labels or {}}, "spec": {}, "status": {}}
    if url:
        obj["spec"]["managedClusterClientConfigs"] = [{"url": url}]
    if available is not None:
        obj["status"]["conditions"] = [{"type": "ManagedClusterJoined", "status": "True"},
                                       {"type": "ManagedClusterConditionAvailable", "status": available,
                                        "reason": reason, "message": "lease"}]
    if claim:
        obj["status"]["clusterClaims"] = [{"name": k, "value": v} for k, v in claim.items()]
    return obj


@pytest.mark.parametrize("product,expected", [("OpenShift", "openshift"), ("EKS", "kubernetes"),
                                              ("Kubernetes", "kubernetes"), (None, None)])
def test_platform_from_the_product_claim(product, expected):
    found = claims(mc("east", claim={"product.open-cluster-management.io": product} if product else None))
    assert platform(found) == expected


def test_host_vars_claims_labels_url():
    out = host_vars(mc("west", url="https://api.west:6443", labels={"mesh": "kiali"},
                       claim={"product.open-cluster-management.io": "OpenShift",
                              "platform.open-cluster-management.io": "AWS", "id.k8s.io": "abc"}))
    assert out["kialiops_cluster_name"] == "west" and out["kialiops_api_url"] == "https://api.west:6443"
    assert out["kialiops_acm_labels"] == {"mesh": "kiali"}
    assert out["kialiops_acm_claims"]["id.k8s.io"] == "abc"
    assert (out["kialiops_acm_platform"], out["kialiops_acm_product"], out["kialiops_acm_cloud"]) == (
        "openshift", "OpenShift", "AWS")
    assert out["kialiops_acm_available"] == "True" and "kialiops_acm_reason" not in out


def test_missing_fields_give_no_url_no_platform_and_an_unreported_condition():
    out = host_vars({"metadata": {"name": "bare"}})
    assert "kialiops_api_url" not in out and "kialiops_acm_platform" not in out
    assert out["kialiops_acm_labels"] == {} and out["kialiops_acm_claims"] == {}
    assert out["kialiops_acm_reason"] == "ManagedClusterConditionAvailable is not reported"
    empty = host_vars({"metadata": {"name": "x"}, "spec": {"managedClusterClientConfigs": []},
                       "status": {"conditions": None, "clusterClaims": [{"value": "no name"}]}})
    assert "kialiops_api_url" not in empty and empty["kialiops_acm_claims"] == {}


def test_plan_groups_and_warnings():
    hosts, warnings = plan_inventory([
        mc("local-cluster"), mc("east"), mc("west"), mc("mgmt"),
        mc("gone", available="Unknown", reason="ManagedClusterLeaseUpdateStopped"),
        mc("new", available=None), mc("bad.name"), mc("Upper"), {"metadata": {}},
    ], external_cluster="mgmt")
    groups = {h: e["group"] for h, e in hosts.items()}
    assert groups == {"local-cluster": "hub", "east": "spoke", "west": "spoke", "mgmt": "external",
                      "gone": "acm_unavailable", "new": "acm_unavailable", "bad.name": "acm_invalid",
                      "Upper": "acm_invalid"}
    assert "ManagedClusterLeaseUpdateStopped" in hosts["gone"]["vars"]["kialiops_acm_reason"]
    text = "\n".join(warnings)
    for name in ("gone", "new", "bad.name", "Upper"):
        assert "ManagedCluster %s is left out of the mesh" % name in text
    assert "without metadata.name" in text


def test_a_hub_or_external_that_is_missing_is_warned_about():
    hosts, warnings = plan_inventory([mc("east")], hub_cluster="hub1", external_cluster="mgmt")
    assert hosts["east"]["group"] == "spoke"
    assert any("hub1 (the hub cluster)" in w for w in warnings)
    assert any("mgmt (the external cluster)" in w for w in warnings)


def test_unreachable_only_in_mesh_groups():
    hosts = {"east": ("spoke", {"kialiops_context": "east"}), "west": ("spoke", {"kialiops_context": "west-x"}),
             "gone": ("acm_unavailable", {"kialiops_context": "nope"})}
    assert unreachable(hosts, {"east", "west"}) == {"west": "west-x"}


def test_topology_validation_on_the_output_names_a_bad_name_put_into_the_mesh():
    """The plugin keeps a bad name out of the mesh; put there anyway (groups:, compose), validation names it."""
    hosts, _warnings = plan_inventory([mc("local-cluster"), mc("bad.name")])
    hostvars = {h: dict(e["vars"], kialiops_context=h) for h, e in hosts.items()}
    validate_topology({"hub": ["local-cluster"], "spoke": []}, hostvars)
    with pytest.raises(TopologyError) as err:
        validate_topology({"hub": ["local-cluster"], "spoke": ["bad.name"]}, hostvars)
    assert "bad.name" in str(err.value)
