#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: former_home
short_description: Check and clean Kiali's former home cluster when Kiali's home moves
version_added: 0.1.0
description:
  - When Kiali's home moves to another cluster (co-located hub to an external management cluster, back, or one
    external cluster to another), the former home still holds the remote-cluster secrets kialiops stored there and
    its Kiali CR. This module, connected to the B(former) home, reads them, refuses what cannot be moved safely and
    removes the secrets.
  - Reads the remote-cluster secrets kialiops stored for the former home (labels
    C(app.kubernetes.io/managed-by=kialiops), C(kialiops.io/home=<cluster_name>)), in both forms (per-cluster
    Secrets, keys of C(kiali-multi-cluster-secret)), and the Kiali CRs so labelled in O(namespace).
  - Fails, before anything is removed, when the former home cannot be read, or when it holds a credential for a
    cluster O(covered) does not list (Kiali on the new home would be left without it); the message names the
    clusters and the fix.
  - Removes every such credential except those of O(keep); the Kiali CR only with O(remove_cr=true), else it is
    returned in RV(kiali_crs) with the command that removes it.
  - Credentials kialiops did not store for the former home are never removed (RV(unowned)).
  - The C(site.yml) playbook runs it in check mode in its plan (before anything is written anywhere) and for real
    after the new home holds every credential and its Kiali CR.
author:
  - kialiops maintainers (@kialiops)
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
attributes:
  check_mode:
    support: full
    details:
      - Deletions and patches are server-side dry-runs.
  diff_mode:
    support: full
    details:
      - Secret values are shown as fingerprints.
  idempotent:
    support: full
options:
  namespace:
    description: Kiali's namespace on the former home, where its remote-cluster secrets and Kiali CR are.
    type: str
    default: istio-system
  home_cluster:
    description: The cluster Kiali moves to (its new home).
    type: str
    required: true
  covered:
    description:
      - The clusters Kiali on the new home reads (the inventory's remote clusters). The new home itself is covered
        too.
    type: list
    elements: str
    default: []
  keep:
    description:
      - Clusters whose credential stays on the former home for now (their move did not complete in this run; a
        rerun moves them and removes it).
    type: list
    elements: str
    default: []
  remove_cr:
    description:
      - Also delete the former home's Kiali CR (the Kiali operator then removes that Kiali).
    type: bool
    default: false
notes:
  - The module's connection is Kiali's B(former) home; C(cluster_name) is the C(kialiops.io/home) label value the
    former home's objects carry.
  - Permissions used; C(list) Secrets and C(get) the Secret C(kiali-multi-cluster-secret) in O(namespace), C(list)
    Kiali CRs there; to remove, C(get), C(patch), C(delete) Secrets (and C(delete) Kiali CRs with O(remove_cr)).
seealso:
  - module: kialiops.multicluster.remote_secrets
"""

EXAMPLES = r"""
- name: Plan the move of Kiali from the hub to mgmt (fails naming what cannot be moved)
  kialiops.multicluster.former_home:
    cluster_name: hub
    context: hub-admin
    home_cluster: mgmt
    covered: [east, west, hub]
  check_mode: true

- name: Clean the hub once mgmt holds every credential and its Kiali CR, the hub's Kiali CR too
  kialiops.multicluster.former_home:
    cluster_name: hub
    context: hub-admin
    home_cluster: mgmt
    covered: [east, west, hub]
    remove_cr: true
"""

RETURN = r"""
summary:
  description: One line saying what the move did (in check mode, would do) on the former home.
  returned: success
  type: str
  sample: "Kiali's home moves from hub to mgmt; removed on hub the remote-cluster secrets of east, west; ..."
former_home:
  description: The former home's cluster name.
  returned: success
  type: str
  sample: hub
held:
  description: The clusters the former home held a credential for (kialiops-stored, for the former home).
  returned: success
  type: list
  elements: str
  sample: [east, west]
kept:
  description: The clusters of O(keep) whose credential was left on the former home.
  returned: success
  type: list
  elements: str
  sample: []
removed:
  description: What was removed (would be, in check mode), per cluster.
  returned: success
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster.
      type: str
    forms:
      description: The forms it was removed from.
      type: list
      elements: str
    secrets:
      description: The Secrets changed or deleted.
      type: list
      elements: str
  sample: [{cluster: east, forms: [per_cluster], secrets: [kiali-remote-cluster-secret-east]}]
kiali_crs:
  description: The former home's Kiali CRs, what happened to them and the command that removes one.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The CR's name.
      type: str
    namespace:
      description: Its namespace.
      type: str
    action:
      description: V(removed) with O(remove_cr=true), else V(kept).
      type: str
      choices: [kept, removed]
    command:
      description: The kubectl command that removes it.
      type: str
  sample: [{name: kiali, namespace: istio-system, action: kept,
            command: kubectl --context hub-admin -n istio-system delete kialis.kiali.io kiali}]
unowned:
  description: Clusters held in Secrets kialiops did not store for the former home; left alone.
  returned: success
  type: list
  elements: str
  sample: []
dropped:
  description: On failure, the clusters the former home reads that O(covered) does not list.
  returned: failure
  type: list
  elements: str
  sample: [south]
diff:
  description: Per object, C(before) and C(after) (Secret values as fingerprints).
  returned: diff mode
  type: dict
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._former_home import former_home
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for


def argspec():
    spec = connection_argspec()
    spec.update(
        namespace=dict(type="str", default="istio-system"),
        home_cluster=dict(type="str", required=True),
        covered=dict(type="list", elements="str", default=[]),
        keep=dict(type="list", elements="str", default=[]),
        remove_cr=dict(type="bool", default=False),
    )
    return spec


def run(module):
    return former_home(module)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
