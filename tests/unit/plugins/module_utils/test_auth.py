# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kiali's auth strategy for a topology (plugins/module_utils/_auth.py) and the filter over it.

The rules encoded: token and header show the home cluster only (kiali v2.28.0
handlers/authentication/token_auth_controller.go); multi-cluster works with anonymous, openid, openshift (Kiali's
multi-cluster docs); impersonation exists from Kiali v2.30.0 (config/config.go) and needs a CRD that declares it."""
from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.filter.auth import kiali_auth
from ansible_collections.kialiops.multicluster.plugins.module_utils._auth import (
    check_auth,
    check_home_only,
    resolve_auth,
    schema_declares,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError


@pytest.mark.parametrize("platform, remotes, strategy", [
    ("openshift", ["east"], "openshift"),      # an OpenShift home: OpenShift's own login, on every cluster
    ("openshift", [], "openshift"),
    ("kubernetes", [], "token"),               # no remote: Kiali's own default is fine
])
def test_default_strategy(platform, remotes, strategy):
    out = resolve_auth("hub", platform, remotes)
    assert out["strategy"] == strategy and out["source"].startswith(("default", "Kiali's default"))
    assert out["warnings"] == [] and out["home_only"] is False


def test_no_default_on_a_kubernetes_home_with_remotes():
    with pytest.raises(KialiopsError) as e:
        resolve_auth("hub", "kubernetes", ["west", "east"], strategy="")
    text = str(e.value)
    assert text.startswith("cluster hub: no auth strategy is set") and "2 remote clusters (east, west)" in text
    assert "kialiops_auth_strategy: openid" in text and "kialiops_auth_strategy: anonymous" in text
    assert "token_auth_controller.go" in text and text.endswith("Nothing was written.")


@pytest.mark.parametrize("strategy", ["token", "header"])
@pytest.mark.parametrize("platform", ["kubernetes", "openshift"])
def test_home_only_strategies_are_refused_with_remotes(strategy, platform):
    with pytest.raises(KialiopsError, match="shows logged-in users Kiali's home cluster hub only, not the remote "
                                            "cluster east") as e:
        resolve_auth("hub", platform, ["east"], strategy=strategy)
    assert ("(or openshift)" in str(e.value)) is (platform == "openshift")
    out = resolve_auth("hub", platform, ["east"], strategy=strategy, allow_home_only=True)
    assert out["strategy"] == strategy and out["home_only"] is True
    assert out["warnings"] and "accepted with kialiops_allow_home_only_auth" in out["warnings"][0]
    assert resolve_auth("hub", platform, [], strategy=strategy)["home_only"] is False    # no remote: fine


@pytest.mark.parametrize("strategy", ["anonymous", "openid"])
def test_multi_cluster_strategies_pass_on_kubernetes(strategy):
    out = resolve_auth("hub", "kubernetes", ["east", "west"], strategy=strategy)
    assert out == dict(strategy=strategy, source="kialiops_auth_strategy", impersonation=False, home_only=False,
                       warnings=[])


def test_unknown_strategy():
    with pytest.raises(KialiopsError, match="'ldap' is not one of anonymous, header, openid, openshift, token"):
        resolve_auth("hub", "kubernetes", [], strategy="ldap")


@pytest.mark.parametrize("served, ok", [(True, True), (False, False), (None, True)])
def test_impersonation_needs_the_field_in_the_served_crd(served, ok):
    kw = dict(strategy="openshift", impersonation=True, impersonation_served=served)
    if ok:
        assert resolve_auth("west", "openshift", ["east"], **kw)["impersonation"] is True
    else:
        with pytest.raises(KialiopsError) as e:
            resolve_auth("west", "openshift", ["east"], **kw)
        assert "spec.auth.openshift.impersonation" in str(e.value) and "Kiali v2.30.0" in str(e.value)
        assert "kialiops_impersonation: false" in str(e.value)


def test_check_home_only_applies_to_token_and_header_with_remotes_only():
    assert check_home_only("hub", "anonymous", ["east"]) is None
    assert check_home_only("hub", "token", []) is None
    with pytest.raises(KialiopsError):
        check_home_only("hub", "header", ["east"])


CRD = {"spec": {"versions": [
    {"name": "v1", "served": False, "schema": {"openAPIV3Schema": {"properties": {"spec": {"properties": {
        "old": {"type": "string"}}}}}}},
    {"name": "v2", "served": True, "schema": {"openAPIV3Schema": {"properties": {"spec": {"properties": {
        "auth": {"type": "object", "properties": {"openshift": {"type": "object", "properties": {
            "impersonation": {"type": "object"}}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}]}}


@pytest.mark.parametrize("path, declared", [
    ("spec.auth.openshift.impersonation", True),
    ("spec.labels.any-key", True),
    ("spec.free.anything", False),      # kept, not declared: Kiali's operator would not know it
    ("spec.old", False),                # only in a version that is not served
    ("spec.auth.openid", False),
])
def test_schema_declares(path, declared):
    assert schema_declares(CRD, path) is declared
    assert schema_declares(None, path) is False


def test_filter_returns_the_problem_instead_of_failing():
    topology = {"home": {"name": "hub"}, "remotes": [{"name": "east"}]}
    out = kiali_auth(topology, {"platform": "kubernetes"}, strategy="token")
    assert out["strategy"] is None and out["problem"].startswith("cluster hub: auth strategy token shows")
    info = {"platform": "openshift", "crd_fields": {"kialis.kiali.io": {"spec.auth.openshift.impersonation": False}}}
    assert "Kiali v2.30.0" in kiali_auth(topology, info, strategy="openshift", impersonation=True)["problem"]
    assert kiali_auth(topology, {"platform": "openshift"})["strategy"] == "openshift"


@pytest.mark.parametrize("strategy,impersonation,platform,ok", [
    ("token", False, "kubernetes", True),
    ("openshift", False, "openshift", True),
    ("openshift", True, "openshift", True),
    ("openshift", False, "kubernetes", False),
    ("token", True, "openshift", False),
    ("anonymous", True, "kubernetes", False),
])
def test_auth_rules(strategy, impersonation, platform, ok):
    if ok:
        check_auth("hub", strategy, impersonation, platform)
    else:
        with pytest.raises(KialiopsError, match="cluster hub"):
            check_auth("hub", strategy, impersonation, platform)


def test_filter_honours_a_platform_the_user_set():
    topology = {"home": {"name": "hub"}, "remotes": [{"name": "west"}]}
    assert kiali_auth(topology, {"platform": "kubernetes"}, strategy="openshift")["problem"]
    out = kiali_auth(topology, {"platform": "kubernetes"}, strategy="openshift", platform="openshift")
    assert out["problem"] is None and out["strategy"] == "openshift"
    assert kiali_auth(topology, {"platform": "kubernetes"}, platform="auto")["problem"].startswith(
        "cluster hub: no auth strategy is set")
