# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kiali's auth strategy for the topology; documented in kiali_auth.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.module_utils._auth import IMPERSONATION_FIELD, resolve_auth
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError


def kiali_auth(topology, home_info, strategy=None, impersonation=False, allow_home_only=False, platform="auto"):
    if not isinstance(topology, Mapping) or not isinstance(home_info, Mapping):
        raise AnsibleFilterError("kialiops.multicluster.kiali_auth: expected the topology (kialiops.multicluster."
                                 "topology) as input and the home's cluster_info result as argument")
    served = (home_info.get("crd_fields") or {}).get("kialis.kiali.io", {}).get(IMPERSONATION_FIELD)
    try:
        out = resolve_auth(topology["home"]["name"], home_info.get("platform") if platform in (None, "", "auto") else platform,
                           [r["name"] for r in topology.get("remotes") or []], strategy=strategy or None,
                           impersonation=bool(impersonation), impersonation_served=served,
                           allow_home_only=bool(allow_home_only))
    except KialiopsError as e:
        return dict(strategy=None, source=None, impersonation=bool(impersonation), home_only=False, warnings=[],
                    problem=str(e))
    return dict(out, problem=None)


class FilterModule:
    def filters(self):
        return {"kiali_auth": kiali_auth}
