# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Deciding permission checks from a SelfSubjectRulesReview as the RBAC authorizer would, and asking access
reviews only for what it leaves undecided."""

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils import _review as r
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError


def rule(verbs, groups, resources, names=None):
    out = dict(verbs=verbs, apiGroups=groups, resources=resources)
    if names is not None:
        out["resourceNames"] = names
    return out


def check(verb, group, resource, name=None):
    return dict(verb=verb, group=group, resource=resource, name=name)


@pytest.mark.parametrize("rule_, request_, allowed", [
    (rule(["get"], [""], ["pods"]), ("get", "", "pods", None), True),
    (rule(["get"], [""], ["pods"]), ("list", "", "pods", None), False),
    (rule(["get"], [""], ["pods"]), ("get", "apps", "pods", None), False),
    (rule(["get"], [""], ["pods"]), ("get", "", "services", None), False),
    (rule(["*"], [""], ["pods"]), ("delete", "", "pods", None), True),
    (rule(["get"], ["*"], ["deployments"]), ("get", "apps", "deployments", None), True),
    (rule(["get"], ["apps"], ["*"]), ("get", "apps", "replicasets", None), True),
    (rule(["*"], ["*"], ["*"]), ("patch", "networking.istio.io", "virtualservices", None), True),
    # "*" asked literally (a group without a STAR_RESOURCES entry) matches only a "*" rule
    (rule(["get"], ["x.io"], ["things"]), ("get", "x.io", "*", None), False),
    (rule(["get"], ["x.io"], ["*"]), ("get", "x.io", "*", None), True),
    # subresources: exact, */sub and *; the parent resource alone does not grant them, nor the reverse
    (rule(["get"], [""], ["pods/log"]), ("get", "", "pods/log", None), True),
    (rule(["get"], [""], ["*/log"]), ("get", "", "pods/log", None), True),
    (rule(["get"], [""], ["*/log"]), ("get", "", "pods", None), False),
    (rule(["get"], [""], ["*/exec"]), ("get", "", "pods/log", None), False),
    (rule(["get"], [""], ["pods"]), ("get", "", "pods/log", None), False),
    (rule(["get"], [""], ["pods/log"]), ("get", "", "pods", None), False),
    (rule(["get"], [""], ["pods/*"]), ("get", "", "pods/log", None), False),  # RBAC has no resource/* form
    # resourceNames: only those names, never a request without a name
    (rule(["get"], ["oauth.openshift.io"], ["oauthclients"], ["kiali-x"]),
     ("get", "oauth.openshift.io", "oauthclients", "kiali-x"), True),
    (rule(["get"], ["oauth.openshift.io"], ["oauthclients"], ["kiali-y"]),
     ("get", "oauth.openshift.io", "oauthclients", "kiali-x"), False),
    (rule(["get"], ["oauth.openshift.io"], ["oauthclients"], ["kiali-x"]),
     ("get", "oauth.openshift.io", "oauthclients", None), False),
    (rule(["get"], ["oauth.openshift.io"], ["oauthclients"], []),
     ("get", "oauth.openshift.io", "oauthclients", "kiali-x"), True),
    (rule(["get"], ["oauth.openshift.io"], ["oauthclients"]),
     ("get", "oauth.openshift.io", "oauthclients", "kiali-x"), True),
    # cluster-scoped resources are rules like any other
    (rule(["get", "list"], [""], ["namespaces"]), ("list", "", "namespaces", None), True),
    (rule(["get"], ["config.openshift.io"], ["apiservers"]), ("get", "config.openshift.io", "apiservers", None), True),
])
def test_rule_allows_like_rbac(rule_, request_, allowed):
    assert r.rule_allows(rule_, *request_) is allowed


def test_a_rule_without_groups_or_verbs_grants_nothing():
    assert not r.rule_allows(dict(verbs=["get"], resources=["pods"]), "get", "", "pods", None)
    assert not r.rule_allows(dict(apiGroups=[""], resources=["pods"]), "get", "", "pods", None)


CHECKS = [check("get", "", "pods"), check("patch", "apps", "deployments"), check("get", "", "pods/log")]


def test_complete_answer_decides_every_check():
    review = dict(resourceRules=[rule(["get"], [""], ["pods", "pods/log"])], incomplete=False)
    assert r.decide(CHECKS, review) == [True, False, True]


@pytest.mark.parametrize("review", [
    dict(resourceRules=[rule(["get"], [""], ["pods"])], incomplete=True),
    dict(resourceRules=[rule(["get"], [""], ["pods"])], incomplete=False,
         evaluationError="clusterrole.rbac.authorization.k8s.io \"gone\" not found"),
])
def test_incomplete_answer_leaves_only_the_unlisted_checks_undecided(review):
    assert r.decide(CHECKS, review) == [True, None, None]


class FakeService:
    """Counts requests; the access reviews answer from ``granted`` (verb, group, resource)."""

    def __init__(self, review=None, granted=(), refuse=False):
        self.review, self.granted, self.refuse = review, set(granted), refuse
        self.rules_reviews, self.access_reviews, self.namespaces = 0, [], []

    def rules_review(self, namespace):
        self.rules_reviews += 1
        self.namespaces.append(namespace)
        if self.refuse:
            raise KialiopsError("east", "cannot review the rules (403)", "")
        return self.review

    def access_review(self, verb, group, resource, namespace=None, name=None):
        self.access_reviews.append((verb, group, resource, name))
        return dict(allowed=(verb, group, resource) in self.granted)


GRANTED = {("get", "", "pods"), ("get", "", "pods/log")}


def test_rules_method_sends_one_rules_review_when_complete():
    svc = FakeService(review=dict(resourceRules=[rule(["get"], [""], ["pods", "pods/log"])]))
    answers, counts = r.ask(svc, CHECKS, "auto")
    assert answers == [True, False, True]
    assert svc.rules_reviews == 1 and svc.access_reviews == []
    assert counts == dict(method="auto", rules_reviews=1, access_reviews=0, undecided=0)
    # a namespace no RoleBinding can live in: only ClusterRoleBindings, as a cluster-wide access review
    assert svc.namespaces == [r.RULES_NAMESPACE] and "." in r.RULES_NAMESPACE


def test_incomplete_falls_back_to_access_reviews_for_the_undecided_only():
    svc = FakeService(review=dict(resourceRules=[rule(["get"], [""], ["pods"])], incomplete=True), granted=GRANTED)
    answers, counts = r.ask(svc, CHECKS, "auto")
    assert answers == [True, False, True]
    assert svc.access_reviews == [("patch", "apps", "deployments", None), ("get", "", "pods/log", None)]
    assert counts == dict(method="auto", rules_reviews=1, access_reviews=2, undecided=2)


def test_access_method_asks_every_check():
    svc = FakeService(granted=GRANTED)
    answers, counts = r.ask(svc, CHECKS, "access")
    assert answers == [True, False, True] and svc.rules_reviews == 0 and len(svc.access_reviews) == 3
    assert counts["access_reviews"] == 3


def test_refused_rules_review_auto_falls_back_rules_fails():
    svc = FakeService(granted=GRANTED, refuse=True)
    answers, counts = r.ask(svc, CHECKS, "auto")
    assert answers == [True, False, True] and counts["access_reviews"] == 3 and counts["rules_reviews"] == 0
    with pytest.raises(KialiopsError):
        r.ask(FakeService(refuse=True), CHECKS, "rules")


def test_rules_and_access_agree_on_a_planned_role():
    """The plan of a real role (wildcards expanded to Kiali's kinds, resourceNames, subresources), decided from
    the role's own rules, equals what access reviews answer for a server holding that role."""
    viewer = [rule(["get", "list", "watch"], ["", "apps"], ["pods", "pods/log", "deployments", "namespaces"]),
              rule(["get", "list"], ["networking.istio.io"], ["*"]),
              rule(["get"], ["oauth.openshift.io"], ["oauthclients"], ["kiali-x"])]
    write = viewer + [rule(["patch", "delete"], ["apps"], ["deployments"]),
                      rule(["create"], ["networking.istio.io"], ["*"])]
    checks = r.plan(viewer, write)
    granted = {(c["verb"], c["group"], c["resource"]) for c in checks if c["expected"] == "allowed"}
    from_rules, dummy_counts = r.ask(FakeService(review=dict(resourceRules=viewer)), checks)
    from_access, dummy_counts = r.ask(FakeService(granted=granted), checks, "access")
    assert from_rules == from_access
    assert r.judge(checks, from_rules)[1] == []
