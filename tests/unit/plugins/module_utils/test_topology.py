# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._topology import (
    TopologyError,
    topology_vars,
    validate_topology,
)


def ctx(**extra):
    """Host variables of a well-formed host (context named after nothing in particular)."""
    out = {"kialiops_context": "ctx"}
    out.update(extra)
    return out


LAB_GROUPS = {"all": ["hub", "east", "west", "mgmt"], "ungrouped": [], "hub": ["hub"], "spoke": ["east", "west"],
              "external": [], "lab_spare": ["mgmt"]}
LAB_VARS = {
    "hub": {"kialiops_kubeconfig": "/lab/hub.kubeconfig", "kialiops_context": "hub",
            "kialiops_api_url": "https://127.0.0.11:6443", "unrelated": "ignored"},
    "east": {"kialiops_kubeconfig": "/lab/east.kubeconfig", "kialiops_context": "east"},
    "west": {"kialiops_kubeconfig": "/lab/west.kubeconfig"},
    "mgmt": {"kialiops_context": "mgmt"},
}

# (id, groups, hostvars, fragments that must appear among the problems, expected number of problems)
INVALID = [
    ("no hub", {"spoke": ["east"]}, {"east": ctx()}, ["group 'hub' is empty"], 1),
    ("hub group missing and empty lists", {"hub": [], "spoke": [], "external": []}, {}, ["group 'hub' is empty"], 1),
    ("two hubs", {"hub": ["h1", "h2"]}, {"h1": ctx(), "h2": ctx()}, ["group 'hub' has 2 hosts (h1, h2)"], 1),
    ("two externals", {"hub": ["h"], "external": ["x1", "x2"]}, {"h": ctx(), "x1": ctx(), "x2": ctx()},
     ["group 'external' has 2 hosts (x1, x2)"], 1),
    ("spoke and external", {"hub": ["h"], "spoke": ["x"], "external": ["x"]}, {"h": ctx(), "x": ctx()},
     ["host x is in both 'spoke' and 'external'"], 1),
    ("hub and spoke", {"hub": ["h"], "spoke": ["h"]}, {"h": ctx()}, ["host h is in both 'hub' and 'spoke'"], 1),
    ("hub and external", {"hub": ["h"], "external": ["h"]}, {"h": ctx()}, ["host h is in both 'hub' and 'external'"],
     1),
    ("duplicate names", {"hub": ["h"], "spoke": ["a", "b"]},
     {"h": ctx(), "a": ctx(kialiops_cluster_name="east"), "b": ctx(kialiops_cluster_name="east")},
     ["hosts a and b share the cluster name 'east'"], 1),
    ("explicit name equal to another host name", {"hub": ["east"], "spoke": ["e2"]},
     {"east": ctx(), "e2": ctx(kialiops_cluster_name="east")}, ["hosts east and e2 share the cluster name 'east'"], 1),
    ("invalid explicit name", {"hub": ["h"]}, {"h": ctx(kialiops_cluster_name="East_1")},
     ["host h: cluster name 'East_1' is invalid"], 1),
    ("invalid host name as default", {"hub": ["hub.example.com"]}, {"hub.example.com": ctx()},
     ["host hub.example.com: cluster name 'hub.example.com' is invalid", "'.'"], 1),
    ("name too long", {"hub": ["h"]}, {"h": ctx(kialiops_cluster_name="c" * 64)}, ["64 characters"], 1),
    ("missing kubeconfig and context", {"hub": ["h"]}, {"h": {"kialiops_api_url": "https://h:6443"}},
     ["host h has neither kialiops_kubeconfig nor kialiops_context"], 1),
    ("host without any vars", {"hub": ["h"]}, {}, ["host h has neither kialiops_kubeconfig nor kialiops_context"], 1),
    ("http api_url", {"hub": ["h"]}, {"h": ctx(kialiops_api_url="http://h:6443")},
     ["host h: kialiops_api_url 'http://h:6443' must be an https:// URL"], 1),
    ("api_url without host", {"hub": ["h"]}, {"h": ctx(kialiops_api_url="https://")}, ["must be an https:// URL"], 1),
    ("api_url not a string", {"hub": ["h"]}, {"h": ctx(kialiops_api_url=6443)}, ["must be an https:// URL"], 1),
    ("api_url unparsable", {"hub": ["h"]}, {"h": ctx(kialiops_api_url="https://[::1")}, ["must be an https:// URL"],
     1),
    ("group not a list", {"hub": "h"}, {"h": ctx()}, ["group 'hub' must be a list", "group 'hub' is empty"], 2),
    ("non-string host", {"hub": ["h", 3]}, {"h": ctx()}, ["group 'hub' holds entries that are not host names: 3"], 1),
    ("host vars not a mapping", {"hub": ["h"]}, {"h": "oops"}, ["host h: variables must be a mapping"], 2),
    ("everything at once", {"hub": ["a", "b"], "spoke": ["c"], "external": ["c", "d"]},
     {"a": ctx(), "b": {"kialiops_cluster_name": "Bad_Name"}, "c": ctx(kialiops_api_url="http://x")},
     ["group 'hub' has 2 hosts (a, b)", "group 'external' has 2 hosts (c, d)", "host c is in both 'spoke' and "
      "'external'", "host b: cluster name 'Bad_Name' is invalid", "host b has neither", "host c: kialiops_api_url",
      "host d has neither"], 7),
]


@pytest.mark.parametrize("groups, hostvars, fragments, count", [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_inventories_list_every_problem(groups, hostvars, fragments, count):
    with pytest.raises(TopologyError) as caught:
        validate_topology(groups, hostvars)
    problems = caught.value.problems
    assert len(problems) == count, problems
    for fragment in fragments:
        assert any(fragment in p for p in problems), (fragment, problems)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert message.startswith("the inventory does not describe a valid kialiops topology (%d problem" % count)
    for i in range(1, count + 1):
        assert "%d) " % i in message


@pytest.mark.parametrize("groups, hostvars", [
    (["hub"], {}),
    (None, {}),
    ({"hub": ["h"]}, ["h"]),
])
def test_wrong_input_types(groups, hostvars):
    with pytest.raises(TopologyError) as caught:
        validate_topology(groups, hostvars)
    assert "must be a mapping" in str(caught.value)


def test_lab_inventory_is_co_located_with_hub_home():
    got = validate_topology(LAB_GROUPS, LAB_VARS)
    assert got["topology"] == "co-located"
    assert got["home"] == {"host": "hub", "name": "hub", "kubeconfig": "/lab/hub.kubeconfig", "context": "hub",
                           "api_url": "https://127.0.0.11:6443", "role": "hub"}
    assert got["hub"] == got["home"]
    assert got["external"] is None
    assert [(r["name"], r["role"]) for r in got["remotes"]] == [("east", "spoke"), ("west", "spoke")]
    assert got["remotes"][1] == {"host": "west", "name": "west", "kubeconfig": "/lab/west.kubeconfig",
                                 "context": None, "api_url": None, "role": "spoke"}
    assert [c["name"] for c in got["clusters"]] == ["hub", "east", "west"]  # mgmt is in no role group


def test_external_topology_makes_the_hub_a_remote():
    groups = dict(LAB_GROUPS, external=["mgmt"])
    got = validate_topology(groups, LAB_VARS)
    assert got["topology"] == "external"
    assert got["home"]["name"] == "mgmt" and got["home"]["role"] == "external"
    assert got["external"] == got["home"]
    assert got["hub"]["name"] == "hub"
    assert [(r["name"], r["role"]) for r in got["remotes"]] == [("east", "spoke"), ("west", "spoke"), ("hub", "hub")]
    assert [c["name"] for c in got["clusters"]] == ["mgmt", "east", "west", "hub"]


def test_hub_alone_is_a_valid_topology():
    got = validate_topology({"hub": ["solo"]}, {"solo": ctx()})
    assert got["remotes"] == [] and got["clusters"] == [got["home"]]


def test_cluster_name_var_overrides_host_name():
    got = validate_topology({"hub": ["hub.example.com"]}, {"hub.example.com": ctx(kialiops_cluster_name="hub")})
    assert got["home"]["host"] == "hub.example.com" and got["home"]["name"] == "hub"


def test_duplicate_hosts_in_a_group_count_once():
    got = validate_topology({"hub": ["h"], "spoke": ["s", "s"]}, {"h": ctx(), "s": ctx()})
    assert [r["host"] for r in got["remotes"]] == ["s"]


def test_topology_vars_keeps_only_kialiops_vars():
    got = topology_vars(LAB_VARS)
    assert got["hub"] == {"kialiops_kubeconfig": "/lab/hub.kubeconfig", "kialiops_context": "hub",
                          "kialiops_api_url": "https://127.0.0.11:6443"}
    assert set(got) == {"hub", "east", "west", "mgmt"}
    assert topology_vars(LAB_VARS, ["west", "nowhere"]) == {"west": {"kialiops_kubeconfig": "/lab/west.kubeconfig"},
                                                            "nowhere": {}}
    assert validate_topology(LAB_GROUPS, got) == validate_topology(LAB_GROUPS, LAB_VARS)


def test_topology_vars_rejects_non_mapping():
    with pytest.raises(ValueError):
        topology_vars(["hub"])
