# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rows of one verify report; documented in verify_rows.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def verify_rows(home_rows, topology, hostvars):
    if not isinstance(topology, Mapping):
        raise AnsibleFilterError("kialiops.multicluster.verify_rows: expected the topology (kialiops_topology) as "
                                 "first argument")
    rows = list(home_rows or [])
    for remote in topology.get("remotes") or []:
        host_vars = hostvars.get(remote["host"]) or {}
        reported = host_vars.get("kialiops_verify_rows")
        if reported is None:
            reported = [dict(cluster=remote["name"], check="verify", status="fail",
                             message="not verified: an earlier step of this run failed on this cluster",
                             fix="see the errors above for " + remote["name"])]
        rows.extend(reported)
    return rows


class FilterModule:
    def filters(self):
        return {"verify_rows": verify_rows}
