#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_secrets
short_description: List, remove and prune the remote-cluster credentials on Kiali's home cluster
version_added: 0.1.0
description:
  - Reads every remote-cluster credential Kiali's home holds in O(namespace) - the per-cluster Secrets labelled
    C(kiali.io/multiCluster=true) (cluster named by the annotation C(kiali.io/cluster)) and the keys of
    C(kiali-multi-cluster-secret) - and says for each whether kialiops stored it for O(home_cluster).
  - Removes the clusters of O(remove) and, with O(prune=true), every cluster kialiops stored for O(home_cluster) that
    O(keep) does not list; for each, its per-cluster Secret or only its key of C(kiali-multi-cluster-secret) (other
    keys are untouched; the Secret is deleted once it is empty), exactly as M(kialiops.multicluster.remote_secret)
    with O(kialiops.multicluster.remote_secret#module:state=absent) does.
  - Credentials kialiops did not store (no labels C(app.kubernetes.io/managed-by=kialiops) and
    C(kialiops.io/home=<home_cluster>)) are never removed; they are listed in RV(unowned) with a warning.
  - Works on the home cluster only; the remote clusters are not contacted (they may be unreachable). Before anything
    is removed the module asks the API server whether it may get, patch and delete Secrets in O(namespace).
  - Follow it with M(kialiops.multicluster.kiali_cr) (the C(kiali_install) role) so the Kiali operator reconciles;
    RV(removed_secrets) is what that module's O(kialiops.multicluster.kiali_cr#module:ignore_secrets) takes, so that
    a check-mode run predicts the reconcile digest too.
  - The module's connection is Kiali's B(home) cluster.
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
    description: Kiali's namespace on its home cluster, where the remote-cluster secrets are.
    type: str
    default: istio-system
  home_cluster:
    description:
      - The C(kialiops.io/home) label value the credentials were stored with. Defaults to O(cluster_name).
    type: str
  remove:
    description: Cluster names whose credential is removed from the home.
    type: list
    elements: str
    default: []
  prune:
    description:
      - Also remove every cluster kialiops stored for O(home_cluster) that O(keep) does not list (for example the
        clusters dropped from the inventory).
    type: bool
    default: false
  keep:
    description: With O(prune=true), the clusters that stay (the inventory's remote clusters).
    type: list
    elements: str
    default: []
notes:
  - With O(remove=[]) and O(prune=false) the module only reads; use it to see what the home holds.
seealso:
  - module: kialiops.multicluster.remote_secret
  - module: kialiops.multicluster.kiali_cr
"""

EXAMPLES = r"""
- name: What does the hub hold?
  kialiops.multicluster.remote_secrets:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
  register: held

- name: Forget west (its Secret, or its key of kiali-multi-cluster-secret)
  kialiops.multicluster.remote_secrets:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
    remove: [west]
  register: removed

- name: Remove every cluster kialiops stored that is no longer in the inventory
  kialiops.multicluster.remote_secrets:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
    prune: true
    keep: "{{ kialiops_topology.remotes | map(attribute='name') | list }}"

- name: Then let the operator reconcile Kiali
  kialiops.multicluster.kiali_cr:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
    ignore_secrets: "{{ removed.removed_secrets }}"
    create: false
"""

RETURN = r"""
clusters:
  description: What the home held before the run, one entry per cluster and form.
  returned: success
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster name (annotation C(kiali.io/cluster), else the only key); null when the Secret names
        none.
      type: str
      sample: west
    form:
      description: Where it is stored.
      type: str
      choices: [per_cluster, single]
    secret:
      description: Name of the Secret.
      type: str
      sample: kiali-remote-cluster-secret-west
    owned:
      description: Whether kialiops stored it for O(home_cluster).
      type: bool
targets:
  description: The clusters the run was to remove (O(remove) and the pruned ones).
  returned: success
  type: list
  elements: str
  sample: [west]
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
  sample: [{cluster: west, forms: [per_cluster], secrets: [kiali-remote-cluster-secret-west]}]
removed_secrets:
  description: The per-cluster Secrets deleted (for the reconcile digest of M(kialiops.multicluster.kiali_cr)).
  returned: success
  type: list
  elements: str
  sample: [kiali-remote-cluster-secret-west]
unowned:
  description: Targets held in Secrets kialiops did not store for O(home_cluster); left alone.
  returned: success
  type: list
  elements: str
  sample: []
diff:
  description: Per Secret, C(before) and C(after) (values as fingerprints).
  returned: diff mode
  type: dict
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secrets import remote_secrets


def argspec():
    spec = connection_argspec()
    spec.update(
        namespace=dict(type="str", default="istio-system"),
        home_cluster=dict(type="str"),
        remove=dict(type="list", elements="str", default=[]),
        prune=dict(type="bool", default=False),
        keep=dict(type="list", elements="str", default=[]),
    )
    return spec


def run(module):
    return remote_secrets(module)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
