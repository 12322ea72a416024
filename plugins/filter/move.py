# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The former homes of a move of Kiali's home; documented in former_homes.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def former_homes(topology, hostvars, hosts, extra=None):
    """The cluster records of Kiali's former homes: the homes the remotes' remote_access runs took objects over from
    (``remote_prepare_access.moved_from`` of ``hosts``), and the names in ``extra`` (kialiops_move_from), sorted by
    name; never the home. A name that is not a cluster of the inventory fails, naming it."""
    if not isinstance(topology, Mapping) or not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("kialiops.multicluster.former_homes: expected the topology (kialiops_topology) as "
                                 "input and hostvars as first argument")
    if extra is not None and (isinstance(extra, str) or not isinstance(extra, (list, tuple))):
        raise AnsibleFilterError("kialiops_move_from must be a list of cluster names, got %s" % type(extra).__name__)
    names = set(extra or [])
    for host in hosts or []:
        access = (hostvars.get(host) or {}).get("remote_prepare_access")
        if isinstance(access, Mapping):
            names.update(access.get("moved_from") or [])
    home = topology["home"]
    records = {c["name"]: c for c in list(topology.get("remotes") or []) + list(topology.get("others") or [])}
    names.discard(home["name"])
    unknown = sorted(n for n in names if n not in records)
    if unknown:
        raise AnsibleFilterError(
            "kialiops_move_from names %s, which %s not a cluster of this inventory: Kiali's former home must be in "
            "the inventory (any group, with kialiops_kubeconfig or kialiops_context) so that kialiops can clean it"
            % (", ".join(unknown), "is" if len(unknown) == 1 else "are"))
    return [records[n] for n in sorted(names)]


class FilterModule:
    def filters(self):
        return {"former_homes": former_homes}
