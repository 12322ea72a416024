# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Kiali's auth strategy for a topology, decided once, before anything is written (pure).

What Kiali does with each strategy when it has remote clusters (the rules this file encodes):

- ``token`` and ``header`` show the home cluster only: after a login Kiali builds the user's clients for the home
  cluster alone (kiali v2.28.0 ``handlers/authentication/token_auth_controller.go``, "TODO: Support multi-cluster",
  twice); ``/api/namespaces`` then lists home namespaces only and a remote namespace answers HTTP 500 "cluster [east]
  is not found or is not accessible for Kiali". Kiali's multi-cluster documentation: "The unified multi-cluster
  configuration currently only supports anonymous, OpenID and OpenShift authentication strategies" (kiali.io,
  Unified multi-cluster, Requirements 2); External Kiali: "supports openid, openshift, and anonymous ... token auth
  is untested and considered experimental".
- ``anonymous``: every request uses Kiali's service account, on every cluster (its credential in the remote secret).
- ``openid``: the user's ID token is sent to every cluster, so every API server must trust the same identity
  provider (or Kiali's ``auth.openid.api_proxy`` sits in front of them).
- ``openshift``: an OAuth login per cluster (an OAuthClient on each remote), or one login at home with
  ``auth.openshift.impersonation``, which exists only from Kiali v2.30.0 (kiali ``config/config.go``; absent from
  v2.28.0 and v2.29.0, and from the Kiali CRD of those operators, which prunes it).
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError

STRATEGIES = ("anonymous", "header", "openid", "openshift", "token")
MULTI_CLUSTER = ("anonymous", "openid", "openshift")
HOME_ONLY = ("header", "token")
# The field of the Kiali CRD that says Kiali (and its operator) know OpenShift impersonation.
IMPERSONATION_FIELD = "spec.auth.openshift.impersonation"


def check_auth(cluster, auth_strategy, impersonation, platform):
    """The rules that hold on Kiali's home whatever the topology; raises KialiopsError."""
    if auth_strategy == "openshift" and platform != "openshift":
        raise KialiopsError(cluster, "auth strategy openshift needs an OpenShift home cluster, and %s is %s" % (
            cluster, platform), "Use auth strategy openid or anonymous on plain Kubernetes (token and header show "
                                "the home cluster only). Nothing was written")
    if impersonation and auth_strategy != "openshift":
        raise KialiopsError(cluster, "impersonation works only with auth strategy openshift (it is %s)" % auth_strategy,
                            "Set impersonation to false or use auth strategy openshift on OpenShift. Nothing was "
                            "written")


def check_home_only(home, strategy, remotes, allow_home_only=False, platform=None):
    """With remote clusters, ``token`` and ``header`` give a Kiali that shows the home cluster only: raises
    KialiopsError naming the fix, or, with ``allow_home_only``, returns the warning. None when the rule does not
    apply."""
    remotes = sorted(remotes or [])
    if strategy not in HOME_ONLY or not remotes:
        return None
    what = ("auth strategy %s shows logged-in users Kiali's home cluster %s only, not the remote cluster%s %s "
            "(kiali v2.28.0 handlers/authentication/token_auth_controller.go builds a user's clients for the home "
            "cluster alone; Kiali's multi-cluster docs support anonymous, openid and openshift)" % (
                strategy, home, "" if len(remotes) == 1 else "s", ", ".join(remotes)))
    if not allow_home_only:
        raise KialiopsError(home, what, "Use kialiops_auth_strategy: openid or anonymous%s, or set "
                            "kialiops_allow_home_only_auth: true to accept a Kiali that shows the home cluster "
                            "only. Nothing was written" % (" (or openshift)" if platform == "openshift" else ""))
    return what + "; accepted with kialiops_allow_home_only_auth"


def resolve_auth(home, platform, remotes, strategy=None, impersonation=False, impersonation_served=None,
                 allow_home_only=False):
    """The strategy Kiali gets on ``home`` (its ``platform``) with the remote clusters ``remotes`` (names).

    ``strategy`` None or "" means the user chose none: ``openshift`` on an OpenShift home, ``token`` (Kiali's own
    default) when there is no remote, and otherwise no default at all (the user must choose). ``impersonation_served``
    says whether the Kiali CRD on the home declares ``auth.openshift.impersonation`` (None: not looked up).
    Returns ``{strategy, source, impersonation, home_only, warnings}``; raises KialiopsError naming the home and the
    fix when the choice cannot give a working multi-cluster Kiali.
    """
    remotes = sorted(remotes or [])
    listed = ", ".join(remotes)
    warnings = []
    if strategy in (None, ""):
        if platform == "openshift":
            strategy, source = "openshift", "default on an OpenShift home"
        elif not remotes:
            strategy, source = "token", "Kiali's default (no remote cluster)"
        else:
            raise KialiopsError(
                home, "no auth strategy is set (kialiops_auth_strategy), Kiali's home %s is plain Kubernetes and Kiali "
                "has %d remote cluster%s (%s); Kiali's default strategy, token, would show logged-in users the home "
                "cluster only (kiali v2.28.0 handlers/authentication/token_auth_controller.go)" % (
                    home, len(remotes), "" if len(remotes) == 1 else "s", listed),
                "Choose one: kialiops_auth_strategy: openid (users log in through your identity provider; every "
                "cluster's API server must trust it, or set kialiops_openid_api_proxy) or kialiops_auth_strategy: "
                "anonymous (no login: Kiali's service account serves everyone, so protect Kiali's URL yourself). "
                "Nothing was written")
    else:
        source = "kialiops_auth_strategy"
    if strategy not in STRATEGIES:
        raise KialiopsError(home, "auth strategy %r is not one of %s" % (strategy, ", ".join(STRATEGIES)),
                            "Set kialiops_auth_strategy to one of them. Nothing was written")
    check_auth(home, strategy, impersonation, platform)
    warning = check_home_only(home, strategy, remotes, allow_home_only, platform)
    home_only = warning is not None
    if warning:
        warnings.append(warning)
    if impersonation and impersonation_served is False:
        raise KialiopsError(
            home, "impersonation is asked for (kialiops_impersonation), but the Kiali CRD on %s does not declare %s: "
            "the installed Kiali operator predates it (it exists from Kiali v2.30.0, kiali config/config.go), so the "
            "field would be pruned and Kiali would never impersonate, while the remotes would grant the impersonate "
            "verb for nothing" % (home, IMPERSONATION_FIELD),
            "Upgrade the Kiali operator on %s to a version whose CRD has auth.openshift.impersonation, or set "
            "kialiops_impersonation: false (per-cluster OpenShift logins). Nothing was written" % home)
    return dict(strategy=strategy, source=source, impersonation=bool(impersonation), home_only=home_only,
                warnings=warnings)


def schema_declares(crd, path):
    """Whether the served version of CustomResourceDefinition ``crd`` (a dict) declares the field ``path``
    (``spec.a.b``; a map's values are declared by additionalProperties). A field only kept by
    x-kubernetes-preserve-unknown-fields is not declared."""
    versions = [v for v in ((crd or {}).get("spec") or {}).get("versions") or [] if v.get("served")]
    for version in versions:
        node = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        for part in path.split("."):
            props = node.get("properties") or {}
            if part in props:
                node = props[part]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                node = None
                break
        if node is not None:
            return True
    return False
