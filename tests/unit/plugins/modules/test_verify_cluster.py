# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""verify_cluster run as Ansible runs it, without an API server: options are checked first, and an unreachable home
is a failing row (the task fails only when fail_on_problem asks it to)."""

from __future__ import annotations

import pytest

from labkit import free_port, run_module
from ansible_collections.kialiops.multicluster.plugins.modules import verify_cluster

FAKE_TOKEN = "not-a-real-token-for-module-tests"


def home(**kw):
    return dict({"cluster_name": "hub", "host": "https://127.0.0.1:%d" % free_port(), "api_key": FAKE_TOKEN}, **kw)


@pytest.mark.parametrize("args, fragment", [
    (dict(scope="home"), "scope is home but all of the following are missing: remotes"),
    (dict(scope="remote", remote_cluster="east"), "missing: home_cluster, rbac"),
    (dict(scope="acm"), "missing: hub"),
    (dict(scope="everything", remotes=[]), "value of scope must be one of: home, remote, acm"),
])
def test_options_are_checked_before_any_request(args, fragment):
    result, output = run_module(verify_cluster, home(**args))
    assert result["failed"] is True and fragment in result["msg"], result["msg"]
    assert FAKE_TOKEN not in output


def test_unreachable_home_is_a_failing_row():
    result, output = run_module(verify_cluster, home(scope="home", remotes=["east"], fail_on_problem=False))
    assert "failed" not in result and result["changed"] is False
    assert result["summary"] == {"ok": 0, "warn": 0, "fail": 1}
    (row,) = result["rows"]
    assert row["cluster"] == "hub" and row["check"] == "reachable" and row["status"] == "fail"
    assert "cannot connect" in row["message"] and row["fix"]
    assert FAKE_TOKEN not in output


def test_fail_on_problem_fails_the_task_naming_cluster_and_fix():
    result, output = run_module(verify_cluster, home(scope="home", remotes=["east"]))
    assert result["failed"] is True and result["msg"].startswith("cluster hub: reachable: ")
    assert "Fix: " in result["msg"] and len(result["rows"]) == 1
    assert FAKE_TOKEN not in output
