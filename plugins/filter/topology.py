# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters over the inventory model; documented in topology.yml and topology_vars.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.module_utils._topology import (
    topology_vars as _topology_vars,
    validate_topology,
)


def topology(groups, hostvars):
    if not isinstance(groups, Mapping):
        raise AnsibleFilterError("kialiops.multicluster.topology: expected the groups mapping as input, got %s"
                                 % type(groups).__name__)
    try:
        return validate_topology(groups, hostvars)
    except ValueError as e:
        raise AnsibleFilterError("kialiops.multicluster.topology: %s" % e)


def topology_vars(hostvars, hosts=None):
    if hosts is not None and (isinstance(hosts, str) or not isinstance(hosts, (list, tuple))):
        raise AnsibleFilterError("kialiops.multicluster.topology_vars: hosts must be a list of host names, got %s"
                                 % type(hosts).__name__)
    try:
        return _topology_vars(hostvars, hosts)
    except ValueError as e:
        raise AnsibleFilterError("kialiops.multicluster.topology_vars: %s" % e)


class FilterModule:
    def filters(self):
        return {"topology": topology, "topology_vars": topology_vars}
