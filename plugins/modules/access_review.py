#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: access_review
short_description: Verify Kiali's stored credential for a remote cluster, permission by permission
version_added: 0.1.0
description:
  - Reads the remote-cluster secret that Kiali will mount from Kiali's home cluster (the module's connection), builds
    a client from the kubeconfig stored in it and, with that credential only, asks the remote cluster's API which
    verbs on which group-qualified resources it may use.
  - By default (O(review_method=auto)) one C(SelfSubjectRulesReview) lists the rules of the credential's
    ClusterRoleBindings and each permission is decided from them locally, as the RBAC authorizer would; only the
    permissions the answer leaves undecided (C(incomplete), e.g. a webhook authorizer) get a
    C(SelfSubjectAccessReview) each. On an API server whose authorizers are RBAC (and Node) that is one review
    request per remote instead of one per permission (about 170).
  - Every permission of the role Kiali should have must be allowed; in view-only mode every permission that only the
    write role has must be denied; in full mode those must be allowed too. Rules on every resource of a group (V(*)) are checked
    on the kinds Kiali uses in that group.
  - The role, its rules and the OpenShift extras are derived exactly as M(kialiops.multicluster.remote_access) derives
    them, from the same O(rbac) data.
  - The kubeconfig, its token and keys never leave the module; the result lists permissions only.
  - Access reviews change nothing, so the module runs the same in check mode.
author:
  - kialiops maintainers (@kialiops)
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster.kiali_rbac
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.INFO_MODULE
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
options:
  namespace:
    description: Kiali's namespace on its home cluster, where the remote-cluster secret is.
    type: str
    default: istio-system
  remote_cluster:
    description: Cluster name of the remote (the secret key and C(kiali.io/cluster) annotation).
    type: str
    required: true
  secret_mode:
    description:
      - Where the credential is stored. V(auto) takes C(kiali-remote-cluster-secret-<remote>) when it exists, else the
        remote's key in C(kiali-multi-cluster-secret).
    type: str
    choices: [auto, per_cluster, single]
    default: auto
  remote_namespace:
    description: Namespace of Kiali's service account on the remote cluster.
    type: str
    default: istio-system
  home_cluster:
    description: Value of the C(kialiops.io/home) label of the remote objects (the home's cluster name).
    type: str
    required: true
  rbac:
    description: The RBAC data of the Kiali version (the C(remote_prepare_rbac) mapping of the role's
      C(vars/rbac/<version>.yml), as P(kialiops.multicluster.rbac_data#filter) reads it).
    type: dict
    required: true
  review_method:
    description:
      - How the permissions are asked.
      - V(auto) asks one C(SelfSubjectRulesReview) (in a namespace that cannot exist, so only the
        ClusterRoleBindings count, as for a cluster-wide access review), decides each permission from its rules, and
        asks a C(SelfSubjectAccessReview) for each permission it leaves undecided; when the server refuses the rules
        review, one access review per permission.
      - V(rules) is V(auto) without that last fallback (a refused rules review is an error).
      - V(access) asks one C(SelfSubjectAccessReview) per permission (the only method of earlier versions).
      - All three give the same verdicts; the result's RV(review) says which requests were sent.
    type: str
    choices: [auto, rules, access]
    default: auto
  fail_on_mismatch:
    description: Fail when a permission is not as expected (else only report it).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Check what Kiali's stored credential for east may do
  kialiops.multicluster.access_review:
    cluster_name: hub
    kubeconfig: ~/.kube/hub.kubeconfig
    remote_cluster: east
    home_cluster: hub
    view_only: true
    rbac: "{{ remote_prepare_rbac }}"
  register: review

- name: Report without failing
  kialiops.multicluster.access_review:
    cluster_name: hub
    context: hub-admin
    remote_cluster: west
    home_cluster: hub
    rbac: "{{ remote_prepare_rbac }}"
    fail_on_mismatch: false

- name: One access review per permission (the only method of earlier versions), e.g. to compare verdicts
  kialiops.multicluster.access_review:
    cluster_name: hub
    context: hub-admin
    remote_cluster: east
    home_cluster: hub
    rbac: "{{ remote_prepare_rbac }}"
    review_method: access
"""

RETURN = r"""
remote_cluster:
  description: The remote cluster checked.
  returned: always
  type: str
  sample: east
secret:
  description: Where the credential was read (name, key).
  returned: success
  type: dict
  sample: {name: kiali-remote-cluster-secret-east, key: east}
identity:
  description: The user the stored credential authenticates as on the remote.
  returned: success
  type: str
  sample: system:serviceaccount:istio-system:kiali
platform:
  description: The remote's platform.
  returned: success
  type: str
  sample: kubernetes
role_kind:
  description: V(write) or V(viewer), the role the credential should have.
  returned: success
  type: str
  sample: viewer
summary:
  description: Counts of checks.
  returned: success
  type: dict
  sample: {total: 120, passed: 120, failed: 0, reads: 70, writes: 50}
failures:
  description: The checks whose answer was not the expected one.
  returned: success
  type: list
  elements: dict
  sample: [{verb: patch, group: apps, resource: deployments, name: null, expected: denied, actual: allowed}]
checks:
  description: Every check with its expected and actual answer.
  returned: success
  type: list
  elements: dict
review:
  description:
    - How the checks were asked (O(review_method)), with the number of rules reviews and access reviews sent and of
      checks the rules review left undecided.
  returned: success
  type: dict
  sample: {method: auto, rules_reviews: 1, access_reviews: 0, undecided: 0}
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import kiali_options_spec
from ansible_collections.kialiops.multicluster.plugins.module_utils._review import (
    REVIEW_METHODS,
    review_stored_credential,
)


def argspec():
    spec = connection_argspec()
    spec.update(**kiali_options_spec())
    spec.update(
        namespace=dict(type="str", default="istio-system"),
        remote_cluster=dict(type="str", required=True),
        secret_mode=dict(type="str", choices=["auto", "per_cluster", "single"], default="auto"),
        remote_namespace=dict(type="str", default="istio-system"),
        home_cluster=dict(type="str", required=True),
        rbac=dict(type="dict", required=True),
        review_method=dict(type="str", choices=list(REVIEW_METHODS), default="auto"),
        fail_on_mismatch=dict(type="bool", default=True),
    )
    return spec


def run(module):
    try:
        result, error = review_stored_credential(module.home, module.params, module.mask)
    except KialiopsError as e:
        e.details = dict(remote_cluster=module.params["remote_cluster"])
        raise
    if error is not None and module.params["fail_on_mismatch"]:
        error.details = dict(remote_cluster=module.params["remote_cluster"])
        raise error
    return dict(result, changed=False)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
