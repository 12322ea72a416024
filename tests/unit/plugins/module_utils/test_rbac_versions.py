# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The RBAC data sets of every Kiali version (roles/remote_prepare/vars/rbac/*.yml), compared with each other,
and rbac_differences(), which says in words what differs between two of them.

What the data must encode (checked against the released tags, kiali-facts 3b and 4):
- the role templates of kiali/helm-charts and kiali/kiali-operator v2.28.0 and v2.29.0 are identical;
- gateway.networking.k8s.io udproutes came after v2.29.0 (helm-charts#425, kiali-operator 1bb0a2db): no released
  data set may carry it;
- the impersonate rule exists only for Kiali with auth.openshift.impersonation (Kiali server v2.30.0,
  config/config.go);
- the -openshift ClusterRole's apiservers get (clusterrole-openshift.yaml) is in every data set.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import (
    has_impersonation,
    rbac_differences,
    validate_rbac,
)

REPO = Path(__file__).resolve().parents[4]
RBAC_DIR = REPO / "roles" / "remote_prepare" / "vars" / "rbac"
# Data set -> the released chart/operator tag its rules were checked against. A data set not listed here holds
# rules of no released chart and must say so in its header.
RELEASED = {"v2.28": "v2.28.0", "v2.29": "v2.29.0"}
GW = "gateway.networking.k8s.io"


def _version_key(name):
    return tuple(int(x) for x in name.lstrip("v").split("."))


DATA = {f.stem: yaml.safe_load(f.read_text())["remote_prepare_rbac"]
        for f in sorted(RBAC_DIR.glob("*.yml"), key=lambda f: _version_key(f.stem))}
VERSIONS = list(DATA)


def grants(rules):
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def all_rules(rbac):
    rules = list(rbac["write"]) + list(rbac["viewer"])
    for kind in ("write", "viewer"):
        rules += (rbac.get("openshift") or {}).get(kind) or []
    rules += list((rbac.get("openshift_extras") or {}).values())
    return rules


# --- the data sets -----------------------------------------------------------------------------------------------

def test_the_supported_versions():
    assert VERSIONS == ["v2.28", "v2.29", "v2.30"]
    for version, data in DATA.items():
        assert data["version"] == version
        validate_rbac(data)


@pytest.mark.parametrize("version", sorted(RELEASED))
def test_released_data_sets_have_no_unreleased_rows(version):
    data = DATA[version]
    assert not any(r == "udproutes" for dummy_g, r, dummy_v in grants(all_rules(data))), \
        "%s carries udproutes, which no released chart or operator has (helm-charts#425, after v2.29.0)" % version
    assert not has_impersonation(data), "%s has an impersonate rule; Kiali has impersonation from v2.30.0" % version
    text = (RBAC_DIR / ("%s.yml" % version)).read_text()
    assert "released tag %s of kiali/helm-charts" % RELEASED[version] in text


@pytest.mark.parametrize("version", [v for v in VERSIONS if v not in RELEASED])
def test_unreleased_data_sets_say_so(version):
    text = (RBAC_DIR / ("%s.yml" % version)).read_text()
    assert "NOT from a released chart or operator" in text and "after v2.29.0" in text


def test_v2_28_and_v2_29_are_the_same_rules():
    lines = rbac_differences(DATA["v2.28"], DATA["v2.29"])
    print("\n".join(lines) or "v2.28 -> v2.29: no difference")
    assert lines == []
    # the very same rules in the same order, not only the same grants
    assert dict(DATA["v2.28"], version="v2.29") == DATA["v2.29"]


def test_v2_30_is_v2_29_plus_udproutes_and_impersonation():
    lines = rbac_differences(DATA["v2.29"], DATA["v2.30"])
    print("\n".join(lines))
    assert lines == [
        "v2.29 -> v2.30: write: + delete udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: write: + get udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: write: + list udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: write: + patch udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: write: + watch udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: viewer: + get udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: viewer: + list udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: viewer: + watch udproutes.gateway.networking.k8s.io",
        "v2.29 -> v2.30: openshift_extras.impersonation: + impersonate groups",
        "v2.29 -> v2.30: openshift_extras.impersonation: + impersonate users",
    ], "\n".join(lines)
    assert has_impersonation(DATA["v2.30"])
    # udproutes as tcproutes and tlsroutes: no create (Kiali cannot create them)
    write = grants(DATA["v2.30"]["write"])
    assert {v for g, r, v in write if (g, r) == (GW, "udproutes")} == \
        {v for g, r, v in write if (g, r) == (GW, "tlsroutes")} == {"get", "list", "watch", "delete", "patch"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_reads_the_openshift_tls_profile(version):
    # clusterrole-openshift.yaml: config.openshift.io apiservers get with tls_config.source auto (the default)
    assert DATA[version]["openshift_extras"]["apiservers"] == {
        "apiGroups": ["config.openshift.io"], "resources": ["apiservers"], "verbs": ["get"]}
    assert DATA[version]["openshift_extras"]["oauthclient"]["resources"] == ["oauthclients"]


def test_differences_between_consecutive_versions_are_only_the_known_ones():
    """Any new data set shows up here with what it changes; the lines are the report."""
    for old, new in zip(VERSIONS, VERSIONS[1:]):
        lines = rbac_differences(DATA[old], DATA[new])
        print("\n".join(lines) or "%s -> %s: no difference" % (old, new))
        assert all(line.startswith("%s -> %s: " % (old, new)) for line in lines)


# --- rbac_differences() ------------------------------------------------------------------------------------------

BASE = {"version": "a",
        "write": [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "patch"]}],
        "viewer": [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get"]}],
        "openshift": {"viewer": [{"apiGroups": ["route.openshift.io"], "resources": ["routes"], "verbs": ["get"]}]},
        "openshift_extras": {"oauthclient": {"apiGroups": ["oauth.openshift.io"], "resources": ["oauthclients"],
                                             "verbs": ["get"]}}}


def changed(mutate, version="b"):
    data = copy.deepcopy(BASE)
    data["version"] = version
    mutate(data)
    return data


def test_differences_of_identical_sets_is_empty():
    assert rbac_differences(BASE, copy.deepcopy(BASE)) == []


def test_differences_ignore_how_rules_are_grouped():
    regrouped = changed(lambda d: d.update(write=[
        {"apiGroups": [""], "resources": ["services"], "verbs": ["patch", "get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]))
    assert rbac_differences(BASE, regrouped) == []


ROUTES_GET = {"apiGroups": ["route.openshift.io"], "resources": ["routes"], "verbs": ["get"]}


@pytest.mark.parametrize("mutate, lines", [
    (lambda d: d["viewer"][0]["resources"].remove("services"), ["a -> b: viewer: - get services"]),
    (lambda d: d["write"].append({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}),
     ["a -> b: write: + patch deployments.apps"]),
    (lambda d: d["openshift"].update(write=[ROUTES_GET]),
     ["a -> b: openshift.write: + get routes.route.openshift.io"]),
    (lambda d: d["openshift_extras"].pop("oauthclient"),
     ["a -> b: openshift_extras.oauthclient: - get oauthclients.oauth.openshift.io"]),
    (lambda d: d["openshift_extras"]["oauthclient"].update(resourceNames=["kiali-x"]),
     ["a -> b: openshift_extras.oauthclient: + get oauthclients.oauth.openshift.io/kiali-x",
      "a -> b: openshift_extras.oauthclient: - get oauthclients.oauth.openshift.io"]),
    (lambda d: d.pop("openshift"), ["a -> b: openshift.viewer: - get routes.route.openshift.io"]),
])
def test_differences_say_what_was_added_and_removed(mutate, lines):
    assert rbac_differences(BASE, changed(mutate)) == lines


def test_differences_are_directed():
    more = changed(lambda d: d["viewer"][0]["verbs"].append("list"))
    assert rbac_differences(BASE, more) == ["a -> b: viewer: + list pods", "a -> b: viewer: + list services"]
    assert rbac_differences(more, BASE) == ["b -> a: viewer: - list pods", "b -> a: viewer: - list services"]
