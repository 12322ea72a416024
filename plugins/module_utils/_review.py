# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Permission verification: what Kiali's credential must and must not be allowed to do, checked against the
real remote API with one SelfSubjectRulesReview evaluated locally (group-qualified SelfSubjectAccessReviews for
what it leaves undecided, or for every check).

Pure functions (expand rules into checks, decide the expected answer), then review_stored_credential(): the
checks asked with the kubeconfig Kiali itself will use (read by _secret_store, connected by _connection).
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import connect_kubeconfig
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import find_stored

# How a client built from a stored kubeconfig names it in messages.
STORED_KUBECONFIG = "(stored remote-cluster secret)"
# Verbs that change something. Everything else in a rule (get, list, watch) is a read.
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "impersonate", "bind",
                         "escalate"})
# Rules with resources "*" are checked on the kinds Kiali actually reads and edits in those groups
# (a review of "*" itself would only test the wildcard rule, not what Kiali calls).
STAR_RESOURCES = {
    "networking.istio.io": ["destinationrules", "gateways", "serviceentries", "sidecars", "virtualservices",
                            "workloadentries", "workloadgroups"],
    "security.istio.io": ["authorizationpolicies", "peerauthentications", "requestauthentications"],
    "extensions.istio.io": ["wasmplugins"],
    "telemetry.istio.io": ["telemetries"],
    "inference.networking.k8s.io": ["inferencepools"],
}


def expand(rules):
    """Set of ``(verb, group, resource, name)`` a list of RBAC rules grants (name "" = any)."""
    out = set()
    for rule in rules or []:
        for group in rule.get("apiGroups") or [""]:
            resources = []
            for resource in rule.get("resources") or []:
                if resource == "*":
                    resources.extend(STAR_RESOURCES.get(group, ["*"]))
                else:
                    resources.append(resource)
            names = rule.get("resourceNames") or [""]
            for verb in rule.get("verbs") or []:
                for resource in resources:
                    for name in names:
                        out.add((verb, group, resource, name))
    return out


def plan(granted_rules, all_rules):
    """The checks to run: every permission of ``all_rules`` (the widest role of this Kiali version) and of
    ``granted_rules`` (what this credential should have), each with the answer we expect.

    A permission in ``granted_rules`` must be allowed; one only in ``all_rules`` must be denied (view-only
    really is view-only). Sorted for a stable report.
    """
    granted = expand(granted_rules)
    checks = []
    for verb, group, resource, name in sorted(granted | expand(all_rules)):
        checks.append(dict(verb=verb, group=group, resource=resource, name=name or None,
                           expected="allowed" if (verb, group, resource, name) in granted else "denied",
                           write=verb in WRITE_VERBS))
    return checks


def judge(checks, answers):
    """Join checks with the server's answers (same order). Returns ``(results, failures)``."""
    results, failures = [], []
    for check, allowed in zip(checks, answers):
        outcome = "allowed" if allowed else "denied"
        row = dict(check, actual=outcome, ok=outcome == check["expected"])
        results.append(row)
        if not row["ok"]:
            failures.append(row)
    return results, failures


def describe(row):
    """``create virtualservices.networking.istio.io`` (``get oauthclients.oauth.openshift.io/kiali-x``)."""
    target = row["resource"] + ("." + row["group"] if row["group"] else "")
    if row.get("name"):
        target += "/" + row["name"]
    return "%s %s" % (row["verb"], target)


def summarise(cluster, results, failures, fix):
    """One message for all failures of one cluster, or None."""
    if not failures:
        return None
    parts = ["%s (expected %s, got %s)" % (describe(r), r["expected"], r["actual"]) for r in failures[:20]]
    more = "" if len(failures) <= 20 else "; and %d more" % (len(failures) - 20)
    return KialiopsError(cluster, "%d of %d permission checks of Kiali's credential failed: %s%s"
                         % (len(failures), len(results), "; ".join(parts), more), fix)


def expected_rules(params, platform):
    """``(granted, widest)`` rules for the credential of one remote, from the same data and choices
    remote_access writes: granted = every ClusterRole it renders; widest = the write role (plus the
    OpenShift rows on OpenShift), whose extra permissions must all be denied to a viewer.

    ``params`` are access_review's options (``remote_cluster``, ``remote_namespace``, ...)."""
    from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import desired_objects, validate_rbac

    rparams = dict(params, cluster_name=params["remote_cluster"], namespace=params["remote_namespace"],
                   platform=platform, manage_namespace=False)
    granted = [rule for obj in desired_objects(rparams) if obj["kind"] == "ClusterRole" for rule in obj["rules"]]
    rbac = validate_rbac(params["rbac"])
    widest = list(rbac["write"])
    if platform == "openshift":
        widest += list((rbac.get("openshift") or {}).get("write") or [])
    return granted, widest


def ask_all(service, checks, workers=8):
    """One SelfSubjectAccessReview per check, a few in flight at once (each is a round trip of a few ms;
    a hundred in a row would dominate the run). Answers in the order of ``checks``."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(check):
        return service.access_review(check["verb"], check["group"], check["resource"], name=check["name"])["allowed"]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(ask, checks))


# The SelfSubjectRulesReview is asked in a namespace that cannot exist (not a DNS-1123 label), so no RoleBinding
# adds to the answer: what is left are the rules of the ClusterRoleBindings, exactly the rules a cluster-wide
# SelfSubjectAccessReview (no namespace, as ask_all() sends them) is decided by.
RULES_NAMESPACE = "kialiops.cluster-wide"
REVIEW_METHODS = ("auto", "rules", "access")


def rule_allows(rule, verb, group, resource, name):
    """True when one RBAC rule (API spelling) grants ``verb`` on ``group``/``resource`` (named ``name`` or, with
    None, any): as Kubernetes' RBAC authorizer matches it. ``pods/log`` is matched by ``pods/log``, ``*/log``
    and ``*``; a rule with ``resourceNames`` grants only those names, never a request without a name."""
    if not ({"*", verb} & set(rule.get("verbs") or [])):
        return False
    if not ({"*", group or ""} & set(rule.get("apiGroups") or [])):
        return False
    subresource = resource.partition("/")[2]
    resources = rule.get("resources") or []
    if not ("*" in resources or resource in resources or (subresource and "*/" + subresource in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


def decide(checks, review):
    """The answer of a SelfSubjectRulesReview (``rules_review()``) for each check: True (allowed), False
    (denied) or None (undecided: ask a SelfSubjectAccessReview).

    A listed rule that grants the check decides it allowed. When the answer is complete, nothing else can grant
    it, so it is denied; when it is ``incomplete`` (another authorizer, e.g. a webhook, could not list its rules)
    or carries an ``evaluationError`` (a rule could not be read), it stays undecided."""
    rules = review.get("resourceRules") or []
    complete = not review.get("incomplete") and not review.get("evaluationError")
    answers = []
    for check in checks:
        if any(rule_allows(rule, check["verb"], check["group"], check["resource"], check["name"]) for rule in rules):
            answers.append(True)
        else:
            answers.append(False if complete else None)
    return answers


def ask(service, checks, method="auto"):
    """Answers (allowed or not, in the order of ``checks``) and the requests that gave them.

    ``access``: one SelfSubjectAccessReview per check. ``rules``/``auto``: one SelfSubjectRulesReview, decided
    locally; the checks it leaves undecided get a SelfSubjectAccessReview each. ``auto`` also falls back to
    access reviews for every check when the server refuses the rules review; ``rules`` reports that error."""
    counts = dict(method=method, rules_reviews=0, access_reviews=0, undecided=0)
    if method == "access":
        counts["access_reviews"] = len(checks)
        return ask_all(service, checks), counts
    try:
        review = service.rules_review(RULES_NAMESPACE)
        counts["rules_reviews"] = 1
    except KialiopsError:
        if method == "rules":
            raise
        counts["access_reviews"] = len(checks)
        return ask_all(service, checks), counts
    answers = decide(checks, review)
    undecided = [i for i, answer in enumerate(answers) if answer is None]
    counts["undecided"] = counts["access_reviews"] = len(undecided)
    for i, answer in zip(undecided, ask_all(service, [checks[i] for i in undecided])):
        answers[i] = answer
    return answers, counts


def review_stored_credential(home, params, mask, stored=None):
    """Run every check with the credential Kiali will use. Returns ``(result, error or None)``.

    ``stored``: the StoredKubeconfig already read (verify_cluster reads it once), else it is found here."""
    remote = params["remote_cluster"]
    if stored is None:
        stored, names = find_stored(home, params["namespace"], remote, params["secret_mode"], mask)
        if stored is None:
            raise KialiopsError(home.cluster, "no credential for cluster %s in Secret %s in namespace %s"
                                % (remote, " or ".join(names), params["namespace"]),
                                "Run the remote_prepare role (playbooks/prepare.yml) for %s first" % remote)
    if stored.document is None:
        raise KialiopsError(home.cluster, "the kubeconfig for %s in Secret %s is not valid YAML"
                            % (remote, stored.secret_name), "Re-run remote_prepare for %s to rewrite it" % remote)
    service = connect_kubeconfig(remote, stored.document, dict(kube_context=remote, kubeconfig=STORED_KUBECONFIG),
                                 pool_size=8)   # ask_all() keeps up to 8 reviews in flight
    identity = service.whoami()
    platform = params["platform"] if params["platform"] != "auto" else service.platform()
    try:
        granted, widest = expected_rules(params, platform)
    except ValueError as e:  # RbacError: reason + fix
        raise KialiopsError(remote, getattr(e, "reason", str(e)), getattr(e, "fix", "")) from e
    checks = plan(granted, widest)
    answers, counts = ask(service, checks, params.get("review_method") or "auto")
    results, failures = judge(checks, answers)
    from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import role_kind
    kind = role_kind(params["view_only"], params["auth_strategy"])
    result = dict(
        remote_cluster=remote, secret=dict(name=stored.secret_name, key=stored.cluster), platform=platform,
        role_kind=kind,
        identity=identity["username"] if identity else None,
        summary=dict(total=len(results), passed=len(results) - len(failures), failed=len(failures),
                     reads=sum(1 for r in results if not r["write"]), writes=sum(1 for r in results if r["write"])),
        failures=failures, checks=results, review=counts)
    fix = ("Re-run the remote_prepare role for %s (it rewrites the role and binding for view_only=%s, auth_strategy=%s)"
           % (remote, params["view_only"], params["auth_strategy"]))
    return result, summarise(remote, results, failures, fix)
