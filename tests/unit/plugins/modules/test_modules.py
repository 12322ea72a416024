# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run the module files as Ansible does (a process with an arguments file) and read their JSON.

No API server: cluster_info is pointed at a closed loopback port, which is what an unreachable cluster
looks like. Against real API servers the modules are covered by tests/integration.
"""

from __future__ import annotations

import pytest

from labkit import free_port, run_module
from ansible_collections.kialiops.multicluster.plugins.modules import cluster_info, kiali_cr, validate_topology

FAKE_TOKEN = "not-a-real-token-for-module-tests"


run = run_module


def test_validate_topology_module():
    args = {"groups": {"hub": ["hub"], "spoke": ["east"], "external": ["mgmt"]},
            "hostvars": {h: {"kialiops_context": h} for h in ("hub", "east", "mgmt")}}
    result, dummy_out = run(validate_topology, args)
    assert result["changed"] is False and "failed" not in result
    assert result["topology"] == "external" and result["home"]["name"] == "mgmt"
    assert [r["name"] for r in result["remotes"]] == ["east", "hub"]


def test_validate_topology_module_lists_all_problems():
    result, dummy_out = run(validate_topology, {"groups": {"hub": [], "spoke": ["a", "a_b"]}, "hostvars": {}})
    assert result["failed"] is True
    assert len(result["problems"]) == 4  # no hub, a_b invalid, two hosts without kubeconfig/context
    assert result["msg"].startswith("the inventory does not describe a valid kialiops topology (4 problems)")


def test_cluster_info_unreachable_names_cluster_and_never_prints_the_token():
    url = "https://127.0.0.1:%d" % free_port()
    result, output = run(cluster_info, {"cluster_name": "east", "host": url, "api_key": FAKE_TOKEN})
    assert result["failed"] is True
    assert result["msg"].startswith("cluster east: cannot connect to the API server at %s" % url)
    assert result["cluster"] == "east" and result["fix"]
    assert FAKE_TOKEN not in output


@pytest.mark.parametrize("args, fragment", [
    ({"cluster_name": "east"}, "one of the following is required: kubeconfig, context, host"),
    ({"cluster_name": "East", "context": "east"}, "cluster East: cluster name 'East' is invalid"),
    ({"cluster_name": "east", "host": "https://h:6443", "api_key": FAKE_TOKEN, "validate_certs": False},
     "TLS verification is off"),
])
def test_cluster_info_rejects_bad_connections(args, fragment):
    result, output = run(cluster_info, args)
    assert result["failed"] is True and fragment in result["msg"]
    assert FAKE_TOKEN not in output


def test_cluster_info_environment_counts_as_naming_the_cluster():
    url = "https://127.0.0.1:%d" % free_port()
    result, output = run(cluster_info, {"cluster_name": "east"},
                         env={"K8S_AUTH_HOST": url, "K8S_AUTH_API_KEY": FAKE_TOKEN})
    assert result["msg"].startswith("cluster east: cannot connect to the API server at %s" % url)
    assert FAKE_TOKEN not in output


def test_kiali_cr_with_acm_enabled_and_no_acm_fields_is_refused_before_any_request():
    """The CR written would lose its ACM fields (acm_metrics has not run): refused naming the home and the fix, and no
    request is sent (the port is closed: a request would fail with 'cannot connect' instead)."""
    url = "https://127.0.0.1:%d" % free_port()
    base = {"cluster_name": "hub", "host": url, "api_key": FAKE_TOKEN, "namespace": "istio-system",
            "auth_strategy": "anonymous", "acm_enabled": True}
    result, output = run(kiali_cr, base)
    assert result["failed"] is True and result["cluster"] == "hub"
    assert result["msg"].startswith("cluster hub: ACM is enabled (kialiops_acm_enabled) but acm_metrics has not run")
    assert "playbooks/acm.yml" in result["fix"] and "Nothing was written" in result["fix"]
    assert FAKE_TOKEN not in output
    # with the ACM fields (or ACM off) the task goes on to the API server
    for args in (dict(base, acm_spec={"external_services": {"prometheus": {"thanos_proxy": {"enabled": True}}}}),
                 dict(base, acm_enabled=False)):
        result, output = run(kiali_cr, args)
        assert result["failed"] is True and "cannot connect to the API server at %s" % url in result["msg"]
