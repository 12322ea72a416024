"""One SelfSubjectRulesReview decides the same verdicts as today's ~170 SelfSubjectAccessReviews, on the lab's
real API servers (no mocks): for the viewer role, the write role and the OpenShift-flavoured west (its
-openshift role, apiservers and oauthclients rules), healthy and deliberately broken, with the same stored
credential; and the rules path sends at most 10 review requests per remote (counted in the audit log)."""
from __future__ import annotations

import time

import pytest
from kubernetes import client

from labkit import audit, run_module, unique
from test_access_review import _prepare

REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews")
MAX_REVIEWS_PER_REMOTE = 10

SCENARIOS = {
    "viewer": ("east", dict(view_only=True, auth_strategy="token")),
    "write": ("east", dict(view_only=False, auth_strategy="anonymous")),
    "openshift": ("west", dict(view_only=True, auth_strategy="openshift", kiali_host="kiali.apps.hub.example.com")),
}


@pytest.fixture(params=sorted(SCENARIOS))
def setup(request, lab):
    """Kiali's SA and roles for the scenario written by remote_access on the remote; a kubeconfig with a
    TokenRequest token for it stored on the hub (test_access_review's set-up). Removed afterwards."""
    cluster, options = SCENARIOS[request.param]
    for prepared in _prepare(lab, cluster, **options):      # yields once, then cleans up
        yield dict(name=request.param, cluster=cluster,
                   review=dict(prepared["review"], fail_on_mismatch=False, **options),
                   user="system:serviceaccount:%s:%s" % (prepared["ns_east"], prepared["sa"]), sa=prepared["sa"],
                   ns=prepared["ns_east"], instance=prepared["instance"])


def _run(lab, setup, method):
    """access_review with ``method``; returns (verdicts by check, result, review requests of Kiali's SA on the
    remote, all its requests there)."""
    log = lab.audit(setup["cluster"])
    mark = log.mark()
    result, out = run_module("access_review", dict(setup["review"], review_method=method))
    assert not result.get("failed"), out[-3000:]
    events = [ev for ev in log.since(mark, settle=0.5) if audit.user(ev) == setup["user"]]
    reviews = [ev for ev in events if ev.get("objectRef", {}).get("resource") in REVIEWS]
    verdicts = {(c["verb"], c["group"], c["resource"], c["name"]): (c["expected"], c["actual"])
                for c in result["checks"]}
    assert len(verdicts) == len(result["checks"])
    return verdicts, result, reviews, events


def _compare(lab, setup):
    """Both methods, same credential: identical verdicts for every check. Returns the rules result."""
    by_access, access, access_reviews, dummy_events = _run(lab, setup, "access")
    by_rules, rules, rules_reviews, events = _run(lab, setup, "rules")
    by_auto, auto, dummy_reviews, dummy_events = _run(lab, setup, "auto")
    assert by_rules == by_access == by_auto
    assert rules["failures"] == access["failures"] == auto["failures"]
    assert rules["summary"] == access["summary"]
    # the access path really asked one review per check; the rules path one rules review, nothing undecided
    total = access["summary"]["total"]
    assert len(access_reviews) == total == access["review"]["access_reviews"]
    assert rules["review"] == dict(method="rules", rules_reviews=1, access_reviews=0, undecided=0)
    assert auto["review"] == dict(method="auto", rules_reviews=1, access_reviews=0, undecided=0)
    assert len(rules_reviews) <= MAX_REVIEWS_PER_REMOTE
    assert [ev["objectRef"]["resource"] for ev in rules_reviews] == ["selfsubjectrulesreviews"]
    print("%s: %d checks; access: %d review requests; rules: %d review request(s), %d requests in all"
          % (setup["name"], total, len(access_reviews), len(rules_reviews), len(events)))
    return rules


def _bindings(lab, setup):
    """ClusterRoleBindings of Kiali's SA (name -> roleRef name)."""
    rbac = client.RbacAuthorizationV1Api(lab.admin(setup["cluster"]))
    return {b.metadata.name: b.role_ref.name for b in rbac.list_cluster_role_binding().items
            if any(s.kind == "ServiceAccount" and s.name == setup["sa"] and s.namespace == setup["ns"]
                   for s in b.subjects or [])}


def test_same_verdicts_healthy_and_broken(lab, setup):
    healthy = _compare(lab, setup)
    assert healthy["summary"]["failed"] == 0 and healthy["summary"]["total"] > 50
    rbac = client.RbacAuthorizationV1Api(lab.admin(setup["cluster"]))
    bindings = _bindings(lab, setup)
    openshift = "%s-%s-openshift" % (setup["instance"], setup["ns"])
    main = sorted(name for name, role in bindings.items() if role != openshift)[0]

    # a role missing one rule (its first): the permissions of that rule fail, the same ones in both
    role = rbac.read_cluster_role(bindings[main])
    dropped = role.rules[0]
    rbac.patch_cluster_role(role.metadata.name, {"rules": [lab.admin(setup["cluster"]).sanitize_for_serialization(r)
                                                           for r in role.rules[1:]]})
    time.sleep(1)  # the authorizer's informer
    missing = _compare(lab, setup)
    assert missing["summary"]["failed"] > 0
    assert all(f["expected"] == "allowed" and f["actual"] == "denied" for f in missing["failures"])
    assert {f["resource"] for f in missing["failures"]} <= set(dropped.resources)

    if setup["cluster"] == "west":
        # the -openshift binding gone: apiservers and oauthclients (resourceNames) fail in both
        rbac.delete_cluster_role_binding(openshift)
        time.sleep(1)
        failed = {(f["verb"], f["group"], f["resource"], f["name"]) for f in _compare(lab, setup)["failures"]}
        assert ("get", "config.openshift.io", "apiservers", None) in failed
        assert any(f[2] == "oauthclients" and f[3] == "%s-%s" % (setup["instance"], setup["ns"]) for f in failed)

    # the binding gone: every read denied, in both
    rbac.delete_cluster_role_binding(main)
    time.sleep(1)
    unbound = _compare(lab, setup)
    assert unbound["summary"]["failed"] >= unbound["summary"]["reads"] > 0

    # a write grant too many (edit), through a new binding: the viewer's extra writes allowed, in both
    if setup["review"]["view_only"]:
        name = unique("too-much")
        rbac.create_cluster_role_binding({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": setup["sa"], "namespace": setup["ns"]}]})
        try:
            time.sleep(1)
            extra = _compare(lab, setup)
            assert any(f["expected"] == "denied" and f["actual"] == "allowed" for f in extra["failures"])
        finally:
            rbac.delete_cluster_role_binding(name)


def test_rolebinding_in_a_namespace_does_not_count_as_cluster_wide(lab, setup):
    """A RoleBinding (not cluster-wide) granting a write to the viewer changes no verdict of either method: the
    access reviews are cluster-wide, and the rules review is asked where no RoleBinding can be."""
    if setup["name"] != "viewer":
        pytest.skip("one scenario is enough")
    rbac = client.RbacAuthorizationV1Api(lab.admin(setup["cluster"]))
    rbac.create_namespaced_role_binding(setup["ns"], {
        "metadata": {"name": "too-much-here"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": setup["sa"], "namespace": setup["ns"]}]})
    time.sleep(1)
    assert _compare(lab, setup)["summary"]["failed"] == 0
