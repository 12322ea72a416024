# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._change import Change, action, label


def obj(kind="Secret", name="x", namespace="ns", **fields):
    meta = dict(name=name)
    if namespace:
        meta["namespace"] = namespace
    return dict(apiVersion="v1", kind=kind, metadata=meta, **fields)


@pytest.mark.parametrize("before, after, expected", [
    (None, obj(), "created"),
    (obj(), None, "deleted"),
    (obj(data={"a": "1"}), obj(data={"a": "2"}), "updated"),
    (obj(), obj(), "unchanged"),
    (None, None, "unchanged"),
])
def test_action(before, after, expected):
    assert action(before, after) == expected


def test_label():
    assert label(obj()) == "Secret ns/x"
    assert label(obj("ClusterRole", "r", None)) == "ClusterRole r"
    assert label(obj(), cluster="hub") == "hub: Secret ns/x"


def test_objects_changed_and_one_diff_shape():
    change = Change()
    assert change.record(obj(name="new"), None, obj(name="new")) == "created"
    assert change.record(obj(name="same"), obj(name="same"), obj(name="same")) == "unchanged"
    assert change.record(obj("ClusterRole", "gone", None), obj("ClusterRole", "gone", None), None) == "deleted"
    assert change.note(obj(name="theirs"), "kept") == "kept"
    assert change.changed is True
    assert change.objects() == [dict(kind="Secret", name="new", namespace="ns", action="created"),
                                dict(kind="Secret", name="same", namespace="ns", action="unchanged"),
                                dict(kind="ClusterRole", name="gone", namespace=None, action="deleted"),
                                dict(kind="Secret", name="theirs", namespace="ns", action="kept")]
    assert change.diff() == dict(before={"Secret ns/new": None, "ClusterRole gone": obj("ClusterRole", "gone", None)},
                                 after={"Secret ns/new": obj(name="new"), "ClusterRole gone": None})


def test_nothing_changed():
    change = Change()
    change.record(obj(), obj(), obj())
    change.note(obj(name="planned"), "create")  # validate_only: what a run would send
    assert change.changed is False
    assert change.diff() == dict(before={}, after={})


def test_a_write_in_two_steps_is_one_change():
    change = Change()
    first, second, third = obj(data={"a": "1", "b": "2"}), obj(data={"b": "2"}), obj(data={})
    change.record(first, first, second, cluster="hub")
    change.record(first, second, third, cluster="hub")
    assert change.objects() == [dict(kind="Secret", name="x", namespace="ns", action="updated")]
    assert change.diff() == dict(before={"hub: Secret ns/x": first}, after={"hub: Secret ns/x": third})


def test_a_named_action_wins():
    change = Change()
    before, after = obj("ClusterRoleBinding", "b", None), obj("ClusterRoleBinding", "b", None, roleRef={"name": "w"})
    assert change.record(before, before, after, done="replaced") == "replaced"
    assert change.changed is True and list(change.diff()["after"]) == ["ClusterRoleBinding b"]
