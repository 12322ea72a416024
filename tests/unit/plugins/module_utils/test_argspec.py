# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import importlib
import pathlib

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kialiops.multicluster.plugins.module_utils._argspec import ArgSpec

MODULES = sorted(p.stem for p in (pathlib.Path(__file__).parents[4] / "plugins" / "modules").glob("*.py")
                 if not p.stem.startswith("_"))


def validate(spec, params):
    kwargs = spec.kwargs()
    return ArgumentSpecValidator(kwargs.pop("argument_spec"), **kwargs).validate(params)


def test_kwargs_hold_the_spec_and_only_the_constraints_given():
    spec = ArgSpec(dict(a=dict(type="str")), required_one_of=[("a", "b")]).update(b=dict(type="int"))
    assert spec.kwargs() == dict(argument_spec=dict(a=dict(type="str"), b=dict(type="int")),
                                 required_one_of=[("a", "b")])


def test_kwargs_are_copies():
    spec = ArgSpec(dict(a=dict(type="list", default=[])), required_if=[("a", "x", ["b"])])
    kwargs = spec.kwargs()
    kwargs["argument_spec"]["a"]["default"].append(1)
    kwargs["required_if"].append(("c", "y", ["d"]))
    assert spec.argument_spec["a"]["default"] == [] and spec.required_if == [("a", "x", ["b"])]


def test_merge_adds_options_and_constraints():
    one = ArgSpec(dict(a=dict(type="str")), mutually_exclusive=[("a", "b")], required_by=dict(a="c"))
    two = ArgSpec(dict(b=dict(type="str"), c=dict(type="str")), required_together=[("b", "c")],
                  required_by=dict(a=["c", "d"]))
    assert one.merge(two) is one
    assert sorted(one.argument_spec) == ["a", "b", "c"]
    assert one.mutually_exclusive == [("a", "b")] and one.required_together == [("b", "c")]
    assert one.required_by == dict(a=["c", "d"])


def test_constraints_are_enforced():
    spec = ArgSpec(dict(a=dict(type="str"), b=dict(type="str"), state=dict(type="str")),
                   required_one_of=[("a", "b")], required_if=[("state", "present", ("b",))])
    assert validate(spec, dict(a="x")).error_messages == []
    assert "one of the following is required: a, b" in validate(spec, {}).error_messages[0]
    assert "state is present but all of the following are missing: b" in validate(
        spec, dict(a="x", state="present")).error_messages[0]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_exposes_its_argspec(name):
    module = importlib.import_module("ansible_collections.kialiops.multicluster.plugins.modules." + name)
    spec = module.argspec()
    assert isinstance(spec, ArgSpec)
    assert spec.argument_spec
    if "cluster_name" in spec.argument_spec:  # a connection: its cluster is named explicitly
        assert ["kubeconfig", "context", "host"] in spec.required_one_of
