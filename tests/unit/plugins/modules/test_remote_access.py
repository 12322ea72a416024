# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""remote_access as Ansible runs it, without an API server: what it rejects before contacting any cluster.

The connection points at a closed loopback port, so a message about anything but the connection proves the
check ran first. Against real API servers the module is covered by tests/integration/test_remote_access.py.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from labkit import free_port, run_module
from ansible_collections.kialiops.multicluster.plugins.modules import remote_access

REPO = Path(__file__).resolve().parents[4]
RBAC = yaml.safe_load((REPO / "roles/remote_prepare/vars/rbac/v2.28.yml").read_text())["remote_prepare_rbac"]
FAKE_TOKEN = "not-a-real-token-for-remote-access-tests"


def run(args):
    return run_module(remote_access, args)


def base(**over):
    args = dict(cluster_name="east", host="https://127.0.0.1:%d" % free_port(), api_key=FAKE_TOKEN,
                home_cluster="hub", rbac=copy.deepcopy(RBAC))
    args.update(over)
    return args


def viewer_with_patch():
    data = copy.deepcopy(RBAC)
    data["viewer"][1]["verbs"].append("patch")
    return data


@pytest.mark.parametrize("over, fragment", [
    (dict(rbac=viewer_with_patch()), "cluster east: invalid rbac data for Kiali v2.28: the viewer rules grant writes"),
    (dict(rbac={"write": []}), "cluster east: invalid rbac data: version is missing"),
    (dict(impersonation=True), "cluster east: impersonation is enabled with auth_strategy token"),
    (dict(instance_name="Kiali"), "cluster east: instance_name 'Kiali' is not a DNS-1123 label"),
    (dict(home_cluster="hub_1", state="absent", rbac=None), "cluster east: home_cluster 'hub_1' is not a DNS-1123"),
    (dict(auth_strategy="openshift", platform="openshift"), "cluster east: auth_strategy openshift on OpenShift"),
    (dict(rbac=None), "state is present but all of the following are missing: rbac"),
    (dict(flavour="helm"), "value of flavour must be one of: chart, operator"),
])
def test_rejected_before_any_cluster_is_contacted(over, fragment):
    args = base(**over)
    if args.get("rbac") is None:
        args.pop("rbac")
    result, output = run(args)
    assert result["failed"] is True
    assert fragment in result["msg"], result["msg"]
    assert "cannot connect" not in result["msg"]
    assert FAKE_TOKEN not in output


def test_valid_arguments_reach_the_cluster():
    args = base()
    result, output = run(args)
    assert result["failed"] is True
    assert result["msg"].startswith("cluster east: cannot connect to the API server at %s" % args["host"])
    assert FAKE_TOKEN not in output
