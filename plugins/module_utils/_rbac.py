# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What Kiali needs on a remote cluster, as manifests: pure logic, no API calls.

Which role (write or viewer), the names the Helm chart and the operator give the objects, the OpenShift
extras (``<i>-<ns>-openshift`` ClusterRole, OAuthClient) and the rules, which come from a data file per
Kiali version (``roles/remote_prepare/vars/rbac/<version>.yml``) checked here with validate_rbac();
rbac_differences() says, in words, what differs between two such data sets.

The ``<i>-<ns>-openshift`` ClusterRole follows kiali/helm-charts kiali-server/templates/clusterrole-openshift.yaml
(v2.28.0, v2.29.0; kiali-operator roles/default/kiali-deploy/templates/openshift/clusterrole-openshift.yaml): on
OpenShift it is rendered whenever auth.strategy is openshift or deployment.tls_config.source is auto (Kiali's
default, which kialiops never changes), so on every OpenShift remote, with ``config.openshift.io`` apiservers
``get``; the oauthclients rule only with the openshift strategy, the impersonate rule only with impersonation.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import kiali_labels, owned_labels

FLAVOURS = ("chart", "operator")
AUTH_STRATEGIES = ("anonymous", "openid", "openshift", "token", "header")
PLATFORMS = ("kubernetes", "openshift")
ROLE_KINDS = ("write", "viewer")

RBAC_API = "rbac.authorization.k8s.io"
OAUTH_API_VERSION = "oauth.openshift.io/v1"

RULE_KEYS = frozenset({"apiGroups", "resources", "verbs", "resourceNames"})
RBAC_KEYS = frozenset({"version", "write", "viewer", "openshift", "openshift_extras"})
EXTRA_RULES = ("oauthclient", "impersonation", "apiservers")
# Verbs that change something. A viewer role holds none of them, except the two grants below.
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "escalate", "bind",
                         "impersonate", "approve", "sign", "*"})
# (apiGroup, resource, verb) a viewer keeps: port-forward (Envoy details) and token reviews create nothing lasting.
VIEWER_WRITE_GRANTS = frozenset({("", "pods/portforward", "create"),
                                 ("authentication.k8s.io", "tokenreviews", "create")})

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$")


def kiali_options_spec():
    """Argument spec of the Kiali settings the remote RBAC depends on (doc fragment kialiops.multicluster.kiali_rbac)."""
    return dict(
        instance_name=dict(type="str", default="kiali"),
        flavour=dict(type="str", choices=list(FLAVOURS), default="chart"),
        view_only=dict(type="bool", default=True),
        auth_strategy=dict(type="str", choices=list(AUTH_STRATEGIES), default="token"),
        impersonation=dict(type="bool", default=False),
        kiali_host=dict(type="str"),
        platform=dict(type="str", choices=["auto"] + list(PLATFORMS), default="auto"),
    )


def role_kind(view_only, auth_strategy):
    """``write`` only when view-only mode is off AND Kiali runs with anonymous auth, else ``viewer``.

    With every other strategy Kiali writes with the user's own credential, so its service account only reads.
    """
    return "write" if view_only is False and auth_strategy == "anonymous" else "viewer"


def names(instance, namespace, flavour, kind):
    """Object names for an instance: ``{service_account, role, binding, openshift, oauthclient}``.

    chart: SA ``<i>``, binding named like the role; operator: SA ``<i>-service-account``, binding always
    ``<i>`` (its roleRef points at ``<i>`` or ``<i>-viewer``).
    """
    if flavour not in FLAVOURS:
        raise InputError("flavour %r is not one of %s" % (flavour, ", ".join(FLAVOURS)),
                         "Set flavour to chart or operator")
    if kind not in ROLE_KINDS:
        raise InputError("role kind %r is not one of %s" % (kind, ", ".join(ROLE_KINDS)), "This is a bug in kialiops")
    role = instance if kind == "write" else instance + "-viewer"
    return dict(
        service_account=instance if flavour == "chart" else instance + "-service-account",
        role=role,
        binding=role if flavour == "chart" else instance,
        openshift="%s-%s-openshift" % (instance, namespace),
        oauthclient="%s-%s" % (instance, namespace),
    )


def _rule_problems(where, rule):
    if not isinstance(rule, dict):
        return ["%s is a %s, not a rule (a dict with apiGroups, resources, verbs)" % (where, type(rule).__name__)]
    problems = []
    unknown = sorted(set(rule) - RULE_KEYS)
    if unknown:
        problems.append("%s has unknown keys %s (allowed: %s)" % (where, ", ".join(unknown),
                                                                  ", ".join(sorted(RULE_KEYS))))
    for key in ("apiGroups", "resources", "verbs", "resourceNames"):
        value = rule.get(key)
        if value is None and key == "resourceNames":
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append("%s: %s must be a list of strings" % (where, key))
        elif not value:
            problems.append("%s: %s is empty" % (where, key))
        elif key != "apiGroups" and "" in value:
            problems.append("%s: %s holds an empty string" % (where, key))
    return problems


def viewer_write_grants(rules):
    """The ``group/resource verb`` strings by which ``rules`` grant more than a viewer may (empty when fine)."""
    found = []
    for rule in rules:
        for verb in rule.get("verbs") or []:
            if verb not in WRITE_VERBS:
                continue
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    if (group, resource, verb) not in VIEWER_WRITE_GRANTS:
                        found.append("%s%s %s" % (group + "/" if group else "", resource, verb))
    return found


def validate_rbac(rbac):
    """Check the shape of the ``rbac`` data (one Kiali version) and return a deep copy of it.

    Raises InputError listing every problem: unknown keys, rules that are not apiGroups/resources/verbs(/
    resourceNames) lists, and a viewer rule set that grants a write verb (beyond port-forward and token reviews).
    """
    fix = ("Pass the data of one Kiali version as loaded from roles/remote_prepare/vars/rbac/<version>.yml "
           "(keys version, write, viewer, optional openshift and openshift_extras)")
    if not isinstance(rbac, dict):
        raise InputError("rbac is a %s, not a dict" % type(rbac).__name__, fix)
    problems = []
    unknown = sorted(set(rbac) - RBAC_KEYS)
    if unknown:
        problems.append("unknown keys %s" % ", ".join(unknown))
    if not isinstance(rbac.get("version"), str) or not rbac.get("version"):
        problems.append("version is missing (the Kiali version the rules are for, e.g. v2.28)")
    for kind in ROLE_KINDS:
        rules = rbac.get(kind)
        if not isinstance(rules, list) or not rules:
            problems.append("%s must be a non-empty list of rules" % kind)
            continue
        for i, rule in enumerate(rules):
            problems.extend(_rule_problems("%s[%d]" % (kind, i), rule))
    openshift = rbac.get("openshift", {})
    if not isinstance(openshift, dict) or set(openshift) - set(ROLE_KINDS):
        problems.append("openshift must be a dict with the keys write and/or viewer")
    else:
        for kind, rules in openshift.items():
            if not isinstance(rules, list):
                problems.append("openshift.%s must be a list of rules" % kind)
                continue
            for i, rule in enumerate(rules):
                problems.extend(_rule_problems("openshift.%s[%d]" % (kind, i), rule))
    extras = rbac.get("openshift_extras", {})
    if not isinstance(extras, dict) or set(extras) - set(EXTRA_RULES):
        problems.append("openshift_extras must be a dict with the keys %s" % " and/or ".join(EXTRA_RULES))
    else:
        for key, rule in extras.items():
            problems.extend(_rule_problems("openshift_extras.%s" % key, rule))
    if not problems:
        granted = viewer_write_grants(rbac["viewer"] + list((openshift or {}).get("viewer") or []))
        if granted:
            problems.append("the viewer rules grant writes: %s" % ", ".join(granted))
    if problems:
        version = " for Kiali %s" % rbac["version"] if isinstance(rbac.get("version"), str) else ""
        raise InputError("invalid rbac data%s: %s" % (version, "; ".join(problems)), fix)
    return copy.deepcopy(rbac)


def dns_label(value, option):
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise InputError(
            "%s %r is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter "
            "or digit, at most 63 characters)" % (option, value),
            "Set %s to a valid name: it becomes part of object names and label values" % option)
    return value


def check_params(params):
    """Reject combinations Kiali does not support; raises InputError, returns nothing.

    With ``platform`` ``auto`` (not detected yet) the rules that depend on the platform are skipped: run
    check_platform_params() once it is known.
    """
    dns_label(params["instance_name"], "instance_name")
    dns_label(params["namespace"], "namespace")
    dns_label(params["home_cluster"], "home_cluster")
    for option, allowed in (("flavour", FLAVOURS), ("auth_strategy", AUTH_STRATEGIES),
                            ("platform", PLATFORMS + ("auto",))):
        if params[option] not in allowed:
            raise InputError("%s %r is not one of %s" % (option, params[option], ", ".join(allowed)),
                             "Set %s to one of them" % option)
    openshift_auth = params["auth_strategy"] == "openshift"
    if params.get("impersonation") and not openshift_auth:
        raise InputError(
            "impersonation is enabled with auth_strategy %s; Kiali supports impersonation only with the openshift "
            "strategy" % params["auth_strategy"],
            "Set auth_strategy=openshift, or impersonation=false")
    if params.get("impersonation"):
        check_impersonation_supported(params.get("rbac"))
    if params["platform"] != "auto":
        check_platform_params(params)


def check_platform_params(params):
    """The rules of check_params() that depend on the platform (``kubernetes`` or ``openshift``, resolved).

    check_params() runs them when the platform is given; with ``auto``, call this once it is detected.
    """
    openshift_auth = params["auth_strategy"] == "openshift"
    if params.get("impersonation") and params["platform"] != "openshift":
        raise InputError(
            "impersonation is enabled but the cluster is plain Kubernetes; the impersonate rule lives in the "
            "OpenShift-only ClusterRole %s" % names(params["instance_name"], params["namespace"], params["flavour"],
                                                    "viewer")["openshift"],
            "Use impersonation only with OpenShift remote clusters (or set platform=openshift if detection is wrong)")
    if openshift_auth and params["platform"] == "openshift" and not params.get("impersonation"):
        host = params.get("kiali_host")
        if not host:
            raise InputError(
                "auth_strategy openshift on OpenShift needs an OAuthClient whose redirect URI is Kiali's "
                "https://<kiali host>/api/auth/callback/%s, but kiali_host is not set" % params["cluster_name"],
                "Set kiali_host to the host name of Kiali's route on the home cluster (e.g. kiali-istio-system.apps."
                "hub.example.com)")
        if not _HOST.match(host):
            raise InputError("kiali_host %r is not a host name (with an optional :port)" % host,
                             "Give the host only, without https:// or a path, e.g. kiali.apps.hub.example.com")


def has_impersonation(rbac):
    """Whether the data set of a Kiali version carries the impersonate rule (Kiali has impersonation from v2.30.0)."""
    return isinstance(rbac, dict) and "impersonation" in (rbac.get("openshift_extras") or {})


def check_impersonation_supported(rbac):
    """InputError unless the data set has the impersonate rule: impersonation is a Kiali feature of some versions only.

    ``auth.openshift.impersonation`` exists from Kiali server v2.30.0 (kiali/kiali config/config.go); v2.28.0 and
    v2.29.0 have no such setting, so granting ``impersonate`` there (close to cluster-admin) would serve nothing.
    """
    if has_impersonation(rbac):
        return
    version = rbac.get("version") if isinstance(rbac, dict) else None
    raise InputError(
        "impersonation is enabled, but Kiali %s has no impersonation: its RBAC data (roles/remote_prepare/vars/rbac/"
        "%s.yml) has no openshift_extras.impersonation rule (auth.openshift.impersonation exists from Kiali v2.30.0, "
        "kiali/kiali config/config.go)" % (version, version),
        "Set the Kiali version (remote_prepare_kiali_version / kialiops_kiali_version) to one whose data has the "
        "impersonate rule (v2.30), or set impersonation to false. Nothing was written")


def openshift_rules(rbac, instance, namespace, auth_strategy, impersonation):
    """Rules of the ``<i>-<ns>-openshift`` ClusterRole on an OpenShift remote, in the chart's order.

    kiali/helm-charts kiali-server/templates/clusterrole-openshift.yaml (v2.29.0): oauthclients ``get`` on
    ``<i>-<ns>`` with auth strategy openshift; ``impersonate`` users and groups with impersonation (from Kiali
    v2.30); ``config.openshift.io`` apiservers ``get`` with TLS config source ``auto`` (the default): always here.
    """
    extras = rbac.get("openshift_extras") or {}
    rules = []
    if auth_strategy == "openshift":
        if "oauthclient" not in extras:
            raise InputError("the rbac data for Kiali %s has no openshift_extras.oauthclient rule, needed with "
                             "auth_strategy openshift" % rbac.get("version"), "Use rbac data that has it")
        rule = copy.deepcopy(extras["oauthclient"])
        rule["resourceNames"] = ["%s-%s" % (instance, namespace)]
        rules.append(rule)
    if impersonation:
        if "impersonation" not in extras:
            raise InputError("the rbac data for Kiali %s has no openshift_extras.impersonation rule, needed with "
                             "impersonation" % rbac.get("version"),
                             "Use rbac data of a Kiali version that supports impersonation")
        rules.append(copy.deepcopy(extras["impersonation"]))
    if "apiservers" not in extras:
        raise InputError("the rbac data for Kiali %s has no openshift_extras.apiservers rule, which Kiali needs on "
                         "every OpenShift cluster (config.openshift.io apiservers get, TLS config source auto)"
                         % rbac.get("version"), "Use rbac data that has it")
    rules.append(copy.deepcopy(extras["apiservers"]))
    return rules


def _meta(name, labels, namespace=None):
    meta = dict(name=name, labels=dict(labels))
    if namespace:
        meta["namespace"] = namespace
    return meta


def desired_objects(params, checked=False):
    """The manifests to ensure on the remote cluster, in apply order.

    ``params``: cluster_name, home_cluster, namespace, instance_name, flavour, view_only, auth_strategy,
    impersonation, kiali_host, platform (kubernetes|openshift, resolved), rbac (validated or not) and
    manage_namespace (include the Namespace: it is absent, or ours from an earlier run). ``checked``: the caller
    ran check_params() (and, after detecting the platform, check_platform_params()) on them; else it runs here.
    """
    if not checked:
        check_params(params)
    if params["platform"] not in PLATFORMS:
        raise InputError("platform %r is not resolved to one of %s" % (params["platform"], ", ".join(PLATFORMS)),
                         "Detect the platform before rendering (this is a bug in kialiops)")
    rbac = validate_rbac(params["rbac"])
    instance, namespace, home = params["instance_name"], params["namespace"], params["home_cluster"]
    on_openshift = params["platform"] == "openshift"
    kind = role_kind(params["view_only"], params["auth_strategy"])
    n = names(instance, namespace, params["flavour"], kind)
    labels = kiali_labels(instance, home)
    subject = dict(kind="ServiceAccount", name=n["service_account"], namespace=namespace)
    rules = list(rbac[kind])
    if on_openshift:
        rules += list((rbac.get("openshift") or {}).get(kind) or [])

    out = []
    if params.get("manage_namespace"):
        out.append(dict(apiVersion="v1", kind="Namespace", metadata=_meta(namespace, owned_labels(home))))
    out.append(dict(apiVersion="v1", kind="ServiceAccount", metadata=_meta(n["service_account"], labels, namespace)))
    out.append(dict(apiVersion=RBAC_API + "/v1", kind="ClusterRole", metadata=_meta(n["role"], labels), rules=rules))
    out.append(dict(apiVersion=RBAC_API + "/v1", kind="ClusterRoleBinding", metadata=_meta(n["binding"], labels),
                    roleRef=dict(apiGroup=RBAC_API, kind="ClusterRole", name=n["role"]), subjects=[subject]))
    if on_openshift:
        # Every OpenShift remote gets the -openshift role: its apiservers rule is always there.
        extra = openshift_rules(rbac, instance, namespace, params["auth_strategy"], params.get("impersonation"))
        out.append(dict(apiVersion=RBAC_API + "/v1", kind="ClusterRole", metadata=_meta(n["openshift"], labels),
                        rules=extra))
        out.append(dict(apiVersion=RBAC_API + "/v1", kind="ClusterRoleBinding",
                        metadata=_meta(n["openshift"], labels),
                        roleRef=dict(apiGroup=RBAC_API, kind="ClusterRole", name=n["openshift"]),
                        subjects=[dict(subject)]))
        # With impersonation Kiali skips the per-cluster OAuth login on remotes, so no OAuthClient is needed
        # (kiali/kiali v2.30.0, auth.openshift.impersonation); one written earlier is pruned.
        if params["auth_strategy"] == "openshift" and not params.get("impersonation"):
            out.append(dict(apiVersion=OAUTH_API_VERSION, kind="OAuthClient", metadata=_meta(n["oauthclient"], labels),
                            redirectURIs=["https://%s/api/auth/callback/%s" % (params["kiali_host"],
                                                                               params["cluster_name"])],
                            grantMethod="auto"))
    return out


def _grants(rules):
    """``{(group, resource, verb, resourceNames)}`` of a rule list (resourceNames as a tuple, () for any)."""
    out = set()
    for rule in rules or []:
        names_ = tuple(rule.get("resourceNames") or ())
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    out.add((group, resource, verb, names_))
    return out


def _sections(rbac):
    """The rule lists of one data set by section: write, viewer, openshift.<kind>, openshift_extras.<rule>."""
    out = {kind: rbac.get(kind) or [] for kind in ROLE_KINDS}
    for kind in ROLE_KINDS:
        out["openshift." + kind] = (rbac.get("openshift") or {}).get(kind) or []
    for key in EXTRA_RULES:
        rule = (rbac.get("openshift_extras") or {}).get(key)
        out["openshift_extras." + key] = [rule] if rule else []
    return out


def _grant_text(grant):
    group, resource, verb, names_ = grant
    text = "%s %s%s" % (verb, resource, "." + group if group else "")
    return text + ("/" + ",".join(names_) if names_ else "")


def rbac_differences(old, new):
    """What ``new`` grants that ``old`` does not, and the reverse, as readable lines (empty when they grant the same).

    Compared per section (``write``, ``viewer``, ``openshift.write``, ``openshift.viewer``,
    ``openshift_extras.<rule>``) by single grants (verb, resource, group, resourceNames), so rules split or merged
    differently are no difference. A line reads ``v2.29 -> v2.30: viewer: + get udproutes.gateway.networking.k8s.io``
    (``-`` for a grant ``new`` drops).
    """
    label = "%s -> %s: " % (old.get("version"), new.get("version"))
    before, after = _sections(old), _sections(new)
    lines = []
    for section in before:
        was, now = _grants(before[section]), _grants(after[section])
        lines += [label + "%s: + %s" % (section, _grant_text(g)) for g in sorted(now - was)]
        lines += [label + "%s: - %s" % (section, _grant_text(g)) for g in sorted(was - now)]
    return lines
