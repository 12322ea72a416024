# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The project's own Kiali CRD fixture (tests/fixtures/crds/kialis.kiali.io.yaml) models what kialiops depends on.

Every field path kialiops can write into a Kiali CR (every topology and option the builders have) must be declared
by the fixture with the value's type, not merely kept by x-kubernetes-preserve-unknown-fields, and the subtrees in
which kialiops relies on a misspelt field being rejected must prune unknown fields. Where ../shared/crds holds the
upstream CRD, the same paths must be declared there too, with the same types (the integration test
test_crd_conformance.py then sends the objects to an API server that has the upstream CRDs installed)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
from kiali_shapes import written_crs  # noqa: E402  (tests/fixtures/kiali_shapes.py)

FIXTURE = REPO / "tests" / "fixtures" / "crds" / "kialis.kiali.io.yaml"
UPSTREAM = Path(os.environ.get("LAB_SHARED_CRDS") or REPO.parent / "shared" / "crds") / "kialis.kiali.io.yaml"
# Where a misspelt field must fail (strict field validation names it) rather than be kept.
STRICT_SUBTREES = ("spec", "spec.auth", "spec.auth.openid", "spec.auth.openshift", "spec.deployment",
                   "spec.clustering", "spec.kubernetes_config", "spec.external_services",
                   "spec.external_services.prometheus", "spec.external_services.prometheus.auth")
TYPES = {str: "string", bool: "boolean", int: "integer", dict: "object", list: "array"}


def leaves(value, path=()):
    """``(path, value)`` of every leaf and every map/list node; ``path`` a tuple of keys, ``[]`` for list items (map
    keys may hold dots, as pod annotation names do)."""
    if isinstance(value, dict):
        yield path, value
        for key, sub in value.items():
            yield from leaves(sub, path + (key,))
    elif isinstance(value, list):
        yield path, value
        for item in value:
            yield from leaves(item, path + ("[]",))
    else:
        yield path, value


def dotted(path):
    return ".".join(path).replace(".[]", "[]")


def schema_of(crd):
    return next(v for v in crd["spec"]["versions"] if v.get("served"))["schema"]["openAPIV3Schema"]


def lookup(schema, path):
    """The schema node declaring ``path`` (a tuple, or a dotted string without dotted keys); "kept" when only
    preserve-unknown-fields keeps it; None when pruned."""
    parts = path if isinstance(path, tuple) else tuple(path.replace("[]", ".[]").split("."))
    node = schema
    for part in parts:
        if part == "[]":
            node = node.get("items")
        elif part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif node.get("x-kubernetes-preserve-unknown-fields"):
            return "kept"
        else:
            return None
        if node is None:
            return None
    return node


def mismatches(schema, cr):
    out = []
    for path, value in leaves({k: v for k, v in cr.items() if k != "metadata"}):
        if path[:1] != ("spec",):
            continue
        node = lookup(schema, path)
        if node is None:
            out.append("%s: pruned (not declared)" % dotted(path))
        elif node == "kept":
            out.append("%s: only kept by x-kubernetes-preserve-unknown-fields, not declared" % dotted(path))
        elif node.get("type") and TYPES.get(type(value)) != node["type"]:
            out.append("%s: %s in the CR, %s in the schema" % (dotted(path), TYPES.get(type(value)), node["type"]))
    return out


@pytest.fixture(scope="module")
def fixture_schema():
    return schema_of(yaml.safe_load(FIXTURE.read_text()))


@pytest.mark.parametrize("name, cr", list(written_crs()), ids=[shape for shape, dummy in written_crs()])
def test_the_fixture_declares_every_field_kialiops_writes(fixture_schema, name, cr):
    assert mismatches(fixture_schema, cr) == [], name


@pytest.mark.parametrize("name, cr", list(written_crs()), ids=[shape for shape, dummy in written_crs()])
def test_the_upstream_crd_declares_every_field_kialiops_writes(name, cr):
    if not UPSTREAM.is_file():
        pytest.skip("no upstream Kiali CRD at %s (../shared/crds is absent, as in a user's clone): the fields kialiops "
                    "writes are checked against the project's own fixture only" % UPSTREAM)
    assert mismatches(schema_of(yaml.safe_load(UPSTREAM.read_text())), cr) == [], name


@pytest.mark.parametrize("subtree", STRICT_SUBTREES)
def test_the_fixture_prunes_unknown_fields_where_kialiops_relies_on_it(fixture_schema, subtree):
    node = lookup(fixture_schema, subtree)
    assert isinstance(node, dict) and not node.get("x-kubernetes-preserve-unknown-fields"), subtree
    assert lookup(fixture_schema, subtree + ".no_such_field") is None


def test_the_fixture_relies_on_no_default(fixture_schema):
    assert [dotted(p) for p, v in leaves(fixture_schema) if p[-1:] == ("default",)] == []


def test_the_fixture_agrees_with_the_upstream_types_it_declares(fixture_schema):
    if not UPSTREAM.is_file():
        pytest.skip("no upstream Kiali CRD at %s (../shared/crds is absent)" % UPSTREAM)
    upstream = schema_of(yaml.safe_load(UPSTREAM.read_text()))
    differ = []
    for path, node in leaves(fixture_schema["properties"]["spec"], ("spec",)):
        if path[-1:] == ("type",) and isinstance(node, str):
            field = tuple({"items": "[]", "additionalProperties": "x"}.get(p, p) for p in path[:-1] if p != "properties")
            theirs = lookup(upstream, field)
            if isinstance(theirs, dict) and theirs.get("type") != node:
                differ.append("%s: %s here, %s upstream" % (dotted(field), node, theirs.get("type")))
    assert differ == []
