# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What stops a run on Kiali's home before anything is written; documented in home_problems.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def home_problems(home_info, home, namespace, auth=None, crd_required=False):
    if not isinstance(home_info, Mapping) or not isinstance(home, Mapping):
        raise AnsibleFilterError("kialiops.multicluster.home_problems: expected the home's cluster_info result as "
                                 "input and Kiali's home cluster (kialiops_topology.home) as argument")
    problems = []
    if auth and auth.get("problem"):
        problems.append(auth["problem"])
    if not (home_info.get("namespaces") or {}).get(namespace):
        problems.append(
            "cluster %s (Kiali's home): namespace %s does not exist, and Kiali's remote secrets and CR go there. "
            "Create it (Kiali is usually installed in istio-system) or set kialiops_kiali_namespace to Kiali's "
            "namespace, then re-run. Nothing was written." % (home["name"], namespace))
    if crd_required and not any(g.startswith("kiali.io/") for g in home_info.get("api_groups") or []):
        problems.append(
            "cluster %s (Kiali's home): the Kiali CustomResourceDefinition kialis.kiali.io is not served, so the "
            "Kiali CR cannot be written. Install the Kiali operator there first (it brings the CRD), then re-run; "
            "or set kiali_install_create: false to only update an existing CR. Nothing was written." % home["name"])
    return problems


class FilterModule:
    def filters(self):
        return {"home_problems": home_problems}
