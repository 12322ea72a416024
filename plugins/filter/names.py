# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters over cluster names; documented in cluster_name.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name


def cluster_name(name):
    if not isinstance(name, str):
        raise AnsibleFilterError("kialiops.multicluster.cluster_name: expected a string, got %s"
                                 % type(name).__name__)
    try:
        return validate_cluster_name(name)
    except ValueError as e:
        raise AnsibleFilterError("kialiops.multicluster.cluster_name: %s" % e)


class FilterModule:
    def filters(self):
        return {"cluster_name": cluster_name}
