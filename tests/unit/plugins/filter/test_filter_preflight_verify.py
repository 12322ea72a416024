# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions the playbooks take in one task each: what stops a run on Kiali's home; the rows of a report."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.filter.preflight import home_problems
from ansible_collections.kialiops.multicluster.plugins.filter.verify import verify_rows

HOME = {"host": "hub-cluster", "name": "hub"}
SERVED = {"namespaces": {"istio-system": True}, "api_groups": ["v1", "kiali.io/v1alpha1"]}


def test_nothing_stops_a_home_that_has_everything():
    assert home_problems(SERVED, HOME, "istio-system", auth={"problem": None}, crd_required=True) == []


def test_every_reason_is_named_at_once_in_order():
    info = {"namespaces": {"kiali": False}, "api_groups": ["v1"]}
    got = home_problems(info, HOME, "kiali", auth={"problem": "cluster hub: pick openid. Nothing was written"},
                        crd_required=True)
    assert len(got) == 3
    assert got[0].startswith("cluster hub: pick openid")
    assert "namespace kiali does not exist" in got[1] and "kialiops_kiali_namespace" in got[1]
    assert "kialis.kiali.io is not served" in got[2] and "kiali_install_create: false" in got[2]
    assert all("hub" in p and "Nothing was written" in p for p in got)


def test_the_crd_matters_only_when_the_run_writes_the_cr():
    info = dict(SERVED, api_groups=["v1"])
    assert home_problems(info, HOME, "istio-system") == []
    assert len(home_problems(info, HOME, "istio-system", crd_required=True)) == 1


def test_home_problems_refuses_wrong_input():
    with pytest.raises(AnsibleFilterError, match="cluster_info result"):
        home_problems([], HOME, "istio-system")


TOPOLOGY = {"remotes": [{"host": "east-host", "name": "east"}, {"host": "west-host", "name": "west"}]}


def test_rows_home_first_then_each_remote_in_topology_order():
    home = [{"cluster": "hub", "check": "kiali cr", "status": "ok"}]
    hostvars = {"west-host": {"kialiops_verify_rows": [{"cluster": "west", "check": "token", "status": "ok"}]},
                "east-host": {"kialiops_verify_rows": [{"cluster": "east", "check": "token", "status": "warn"}]}}
    assert [r["cluster"] for r in verify_rows(home, TOPOLOGY, hostvars)] == ["hub", "east", "west"]


def test_a_remote_that_did_not_report_is_a_failing_row_naming_it():
    rows = verify_rows([], TOPOLOGY, {"east-host": {"kialiops_verify_rows": []}, "west-host": {}})
    assert rows == [{"cluster": "west", "check": "verify", "status": "fail",
                     "message": "not verified: an earlier step of this run failed on this cluster",
                     "fix": "see the errors above for west"}]
