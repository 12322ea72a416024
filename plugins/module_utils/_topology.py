# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The inventory model: which cluster is Kiali's home, which are remotes. Pure functions, no cluster access.

Groups: ``hub`` (exactly one host), ``spoke`` (any number), ``external`` (at most one). Without an
external host Kiali runs on the hub (co-located topology) and the spokes are its remotes; with one,
Kiali runs on the external cluster and the hub becomes a remote too.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name

ROLE_GROUPS = ("hub", "spoke", "external")
HOST_VARS = ("kialiops_cluster_name", "kialiops_kubeconfig", "kialiops_context", "kialiops_api_url")


class TopologyError(ValueError):
    """All problems of an inventory at once; ``problems`` lists them, ``str()`` numbers them."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(
            "the inventory does not describe a valid kialiops topology (%d problem%s): %s" % (
                len(self.problems), "" if len(self.problems) == 1 else "s",
                "; ".join("%d) %s" % (i, p) for i, p in enumerate(self.problems, 1))))


def topology_vars(hostvars, hosts=None):
    """Only the kialiops_* variables of ``hosts`` (default: every host in ``hostvars``), as plain dicts."""
    if not isinstance(hostvars, Mapping):
        raise ValueError("hostvars must be a mapping of host name to variables, got %s" % type(hostvars).__name__)
    out = {}
    for host in (hostvars if hosts is None else hosts):
        host_vars = hostvars.get(host) or {}
        out[host] = {key: host_vars[key] for key in HOST_VARS if key in host_vars and host_vars[key] is not None}
    return out


def _members(groups, group, problems):
    hosts = groups.get(group) or []
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        problems.append("group '%s' must be a list of host names, got %s" % (group, type(hosts).__name__))
        return []
    bad = [h for h in hosts if not isinstance(h, str)]
    if bad:
        problems.append("group '%s' holds entries that are not host names: %s" % (group, ", ".join(map(repr, bad))))
    return list(dict.fromkeys(h for h in hosts if isinstance(h, str)))


def _cluster(host, host_vars, role, problems):
    name = host_vars.get("kialiops_cluster_name")
    name = host if name is None else name
    try:
        validate_cluster_name(name)
    except ValueError as e:
        problems.append("host %s: %s" % (host, e))
    kubeconfig, context = host_vars.get("kialiops_kubeconfig"), host_vars.get("kialiops_context")
    if not kubeconfig and not context:
        problems.append(
            "host %s has neither kialiops_kubeconfig nor kialiops_context: set one, so that every task names the "
            "cluster it acts on" % host)
    api_url = host_vars.get("kialiops_api_url")
    if api_url is not None:
        try:
            parts = urlsplit(api_url) if isinstance(api_url, str) else None
            valid = parts is not None and parts.scheme == "https" and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            valid = False
        if not valid:
            problems.append(
                "host %s: kialiops_api_url %r must be an https:// URL with a host name, for example "
                "https://api.%s.example.com:6443 (Kiali sends a token to it)" % (host, api_url, host))
    return dict(host=host, name=name, kubeconfig=kubeconfig or None, context=context or None,
                api_url=api_url or None, role=role)


def validate_topology(groups, hostvars):
    """Check the inventory's hub/spoke/external groups and kialiops_* host variables; describe the topology.

    ``groups`` maps group name to host names (Ansible's ``groups``), ``hostvars`` host name to variables
    (Ansible's ``hostvars`` or the output of ``topology_vars``). Collects every problem and raises one
    TopologyError (a ValueError) listing them. Returns::

        {topology: "co-located" | "external",
         home: cluster, hub: cluster, external: cluster | None,
         remotes: [cluster, ...],   # the spokes, then the hub when an external cluster is home
         clusters: [cluster, ...],  # home, then remotes
         others: [cluster, ...],    # hosts outside the three groups with a connection and a valid name
                                    # (role "other"): where Kiali's home may have been before a move
         move_candidates: [name, ...]}  # every cluster of the inventory but the home (remotes, others)

    where each cluster is ``{host, name, kubeconfig, context, api_url, role}``, role one of
    hub, spoke, external.
    """
    problems = []
    if not isinstance(groups, Mapping):
        raise TopologyError(["groups must be a mapping of group name to host names, got %s" % type(groups).__name__])
    if hostvars is None:
        hostvars = {}
    if not isinstance(hostvars, Mapping):
        raise TopologyError(["hostvars must be a mapping of host name to variables, got %s"
                             % type(hostvars).__name__])

    members = {group: _members(groups, group, problems) for group in ROLE_GROUPS}
    hubs, spokes, externals = members["hub"], members["spoke"], members["external"]
    if not hubs:
        problems.append("group 'hub' is empty: exactly one host must be the hub")
    elif len(hubs) > 1:
        problems.append("group 'hub' has %d hosts (%s): exactly one host must be the hub"
                        % (len(hubs), ", ".join(hubs)))
    if len(externals) > 1:
        problems.append("group 'external' has %d hosts (%s): at most one cluster runs an external Kiali"
                        % (len(externals), ", ".join(externals)))
    for first, second in (("hub", "spoke"), ("hub", "external"), ("spoke", "external")):
        for host in members[first]:
            if host in members[second]:
                problems.append("host %s is in both '%s' and '%s': a cluster has exactly one role"
                                % (host, first, second))

    clusters = {}
    for group in ("hub", "external", "spoke"):
        for host in members[group]:
            if host not in clusters:
                host_vars = hostvars.get(host) or {}
                if not isinstance(host_vars, Mapping):
                    problems.append("host %s: variables must be a mapping, got %s" % (host, type(host_vars).__name__))
                    host_vars = {}
                clusters[host] = _cluster(host, host_vars, group, problems)

    by_name = {}
    for cluster in clusters.values():
        if isinstance(cluster["name"], str):
            by_name.setdefault(cluster["name"], []).append(cluster["host"])
    for name, hosts in by_name.items():
        if len(hosts) > 1:
            problems.append("hosts %s share the cluster name '%s': cluster names must be unique"
                            % (" and ".join(hosts), name))

    if problems:
        raise TopologyError(problems)

    hub = clusters[hubs[0]]
    external = clusters[externals[0]] if externals else None
    remotes = [clusters[h] for h in spokes]
    if external:
        remotes.append(hub)
    home = external or hub
    others = []
    for host in _members(groups, "all", []):
        host_vars = hostvars.get(host)
        if host in clusters or not isinstance(host_vars, Mapping):
            continue
        if host_vars.get("kialiops_kubeconfig") or host_vars.get("kialiops_context"):
            flaws = []   # not part of the topology: never a reason to refuse it, only to leave it out
            other = _cluster(host, host_vars, "other", flaws)
            if not flaws and other["name"] not in by_name:
                others.append(other)
    return dict(
        topology="external" if external else "co-located",
        home=home,
        hub=hub,
        external=external,
        remotes=remotes,
        clusters=[home] + remotes,
        others=others,
        move_candidates=[c["name"] for c in remotes + others],
    )
