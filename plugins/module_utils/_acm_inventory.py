# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""ACM ManagedClusters to the kialiops topology: pure functions, no API access (inventory plugin kialiops.multicluster.acm).

``plan_inventory`` maps a list of ManagedCluster objects (``cluster.open-cluster-management.io/v1``, as dicts) to
hosts: each host has a group and variables, and the problems the plugin warns about.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name

AVAILABLE = "ManagedClusterConditionAvailable"
PRODUCT_CLAIM = "product.open-cluster-management.io"
PLATFORM_CLAIM = "platform.open-cluster-management.io"
GROUP_UNAVAILABLE = "acm_unavailable"
GROUP_INVALID = "acm_invalid"
GROUP_UNREACHABLE = "acm_unreachable"
MESH_GROUPS = ("hub", "spoke", "external")


def condition(obj, kind=AVAILABLE):
    """``(status, reason, message)`` of one status condition; ``(None, None, None)`` when the cluster reports none."""
    for cond in ((obj.get("status") or {}).get("conditions") or []):
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond.get("status"), cond.get("reason"), cond.get("message")
    return None, None, None


def claims(obj):
    """The cluster claims (``status.clusterClaims``) as a dict of name to value."""
    out = {}
    for claim in ((obj.get("status") or {}).get("clusterClaims") or []):
        if isinstance(claim, dict) and isinstance(claim.get("name"), str):
            out[claim["name"]] = claim.get("value")
    return out


def platform(cluster_claims):
    """``openshift`` or ``kubernetes`` from the product claim; None when ACM reports no product."""
    product = cluster_claims.get(PRODUCT_CLAIM)
    if not product:
        return None
    return "openshift" if str(product).lower().startswith("openshift") else "kubernetes"


def api_url(obj):
    """``spec.managedClusterClientConfigs[0].url``, or None."""
    configs = (obj.get("spec") or {}).get("managedClusterClientConfigs") or []
    first = configs[0] if configs and isinstance(configs[0], dict) else {}
    return first.get("url") or None


def host_vars(obj, prefix="kialiops_acm_"):
    """The variables of one ManagedCluster that do not depend on the plugin's options."""
    meta = obj.get("metadata") or {}
    cluster_claims = claims(obj)
    status, reason, message = condition(obj)
    out = {
        "kialiops_cluster_name": meta.get("name"),
        prefix + "labels": dict(meta.get("labels") or {}),
        prefix + "claims": cluster_claims,
        prefix + "available": status,
    }
    url = api_url(obj)
    if url:
        out["kialiops_api_url"] = url
    for key, value in (("platform", platform(cluster_claims)), ("product", cluster_claims.get(PRODUCT_CLAIM)),
                       ("cloud", cluster_claims.get(PLATFORM_CLAIM))):
        if value:
            out[prefix + key] = value
    if status != "True":
        out[prefix + "reason"] = "%s is %s%s%s" % (
            AVAILABLE, status or "not reported", " (%s)" % reason if reason else "", ": %s" % message if message else "")
    return out


def plan_inventory(objects, hub_cluster="local-cluster", external_cluster=None):
    """Hosts for a list of ManagedClusters (the label selector already applied by the API).

    Returns ``(hosts, warnings)``: ``hosts`` maps the ManagedCluster name (the host name) to
    ``{group, vars}``; group is hub, spoke or external for an available cluster with a valid name,
    ``acm_unavailable`` for a cluster whose ManagedClusterConditionAvailable is not True, ``acm_invalid`` for a
    name that is not a DNS-1123 label (ManagedCluster names are DNS-1123 subdomains, so ``a.b`` exists in ACM but
    cannot name a Kiali cluster). A host out of the mesh groups carries ``kialiops_acm_reason`` and is named in a
    warning: none is dropped silently.
    """
    hosts, warnings = {}, []
    for obj in objects:
        name = (obj.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            warnings.append("a ManagedCluster without metadata.name was skipped")
            continue
        variables = host_vars(obj)
        group = "external" if name == external_cluster else "hub" if name == hub_cluster else "spoke"
        try:
            validate_cluster_name(name)
        except ValueError as e:
            variables["kialiops_acm_reason"] = str(e)
            warnings.append("ManagedCluster %s is left out of the mesh (group %s): %s"
                            % (name, GROUP_INVALID, e))
            group = GROUP_INVALID
        else:
            if variables["kialiops_acm_available"] != "True":
                warnings.append("ManagedCluster %s is left out of the mesh (group %s): %s"
                                % (name, GROUP_UNAVAILABLE, variables["kialiops_acm_reason"]))
                group = GROUP_UNAVAILABLE
        hosts[name] = dict(group=group, vars=variables)
    for role, wanted in (("hub", hub_cluster), ("external", external_cluster)):
        if wanted and wanted not in hosts:
            warnings.append("no ManagedCluster named %s (the %s cluster) was found on the ACM hub with the label "
                            "selector given" % (wanted, role))
    return hosts, warnings


def context_names(kubeconfig):
    """Names of the contexts of a loaded kubeconfig dict."""
    return {c.get("name") for c in (kubeconfig or {}).get("contexts") or [] if isinstance(c, dict)}


def unreachable(hosts, contexts):
    """Hosts of the mesh groups whose kialiops_context is not in ``contexts``: ``{host: context}``.

    ``hosts`` maps host name to ``(group, variables)`` after compose."""
    return {host: variables.get("kialiops_context") for host, (group, variables) in hosts.items()
            if group in MESH_GROUPS and variables.get("kialiops_context") not in contexts}
