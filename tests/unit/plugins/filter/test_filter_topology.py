# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.filter.topology import FilterModule

FILTERS = FilterModule().filters()
GROUPS = {"hub": ["hub"], "spoke": ["east"]}
HOSTVARS = {"hub": {"kialiops_context": "hub", "ansible_password": "unrelated"}, "east": {"kialiops_context": "east"}}


def test_filters_are_registered():
    assert set(FILTERS) == {"topology", "topology_vars"}


def test_topology_filter_returns_the_pure_function_result():
    got = FILTERS["topology"](GROUPS, HOSTVARS)
    assert got["home"]["name"] == "hub" and [r["name"] for r in got["remotes"]] == ["east"]


@pytest.mark.parametrize("groups, hostvars, fragment", [
    (["hub"], HOSTVARS, "expected the groups mapping as input, got list"),
    ({"spoke": ["east"]}, HOSTVARS, "group 'hub' is empty"),
    (GROUPS, "hostvars", "hostvars must be a mapping"),
])
def test_topology_filter_errors_name_the_filter(groups, hostvars, fragment):
    with pytest.raises(AnsibleFilterError) as caught:
        FILTERS["topology"](groups, hostvars)
    assert str(caught.value).startswith("kialiops.multicluster.topology: ")
    assert fragment in str(caught.value)


def test_topology_vars_filter_drops_other_variables():
    assert FILTERS["topology_vars"](HOSTVARS) == {"hub": {"kialiops_context": "hub"},
                                                  "east": {"kialiops_context": "east"}}
    assert FILTERS["topology_vars"](HOSTVARS, ["east"]) == {"east": {"kialiops_context": "east"}}


@pytest.mark.parametrize("hostvars, hosts", [(["hub"], None), (HOSTVARS, "east")])
def test_topology_vars_filter_errors_name_the_filter(hostvars, hosts):
    with pytest.raises(AnsibleFilterError, match="^kialiops.multicluster.topology_vars: "):
        FILTERS["topology_vars"](hostvars, hosts)
