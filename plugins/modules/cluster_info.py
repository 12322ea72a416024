#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_info
short_description: Describe one cluster (version, platform, API groups, identity)
version_added: 0.1.0
description:
  - Connects to one cluster and reports its Kubernetes version, whether it is OpenShift, the API
    group versions it serves, its API URL and the user name the credential authenticates as.
  - Use it to check that every cluster of the inventory is reachable, and with which identity,
    before anything is written.
  - Changes nothing.
author:
  - kialiops maintainers (@kialiops)
options:
  namespaces:
    description:
      - Namespaces to look up; RV(namespaces) says which of them exist (for example Kiali's namespace on its home,
        checked before anything is written).
    type: list
    elements: str
    default: []
  crd_fields:
    description:
      - Field paths to look up in the schema of installed CustomResourceDefinitions, as a mapping of CRD name to a list
        of paths (C(spec.auth.openshift.impersonation)); RV(crd_fields) says which of them a served version declares.
        A field that a CRD only keeps through C(x-kubernetes-preserve-unknown-fields) counts as not declared.
      - Kiali's home is read this way before anything is written, to learn whether its Kiali operator knows a field
        kialiops would write (a CRD that does not declare a field prunes it).
    type: dict
    default: {}
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.INFO_MODULE
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
notes:
  - The platform is C(openshift) when any of the API groups C(config.openshift.io), C(operator.openshift.io) or
    C(oauth.openshift.io) is served (every OpenShift 4 cluster serves them). C(route.openshift.io) alone does not
    count, since a Route CRD can be installed on plain Kubernetes.
  - The identity comes from a C(SelfSubjectReview) (Kubernetes 1.28 or later). When the server does not
    serve it or forbids it, RV(user) is V(null).
seealso:
  - module: kialiops.multicluster.validate_topology
"""

EXAMPLES = r"""
- name: Describe the east cluster through a context of the default kubeconfig
  kialiops.multicluster.cluster_info:
    cluster_name: east
    context: east-admin
  register: east_info

- name: Describe every cluster of the inventory from the controller
  kialiops.multicluster.cluster_info:
    cluster_name: "{{ kialiops_cluster_name | default(inventory_hostname) }}"
    kubeconfig: "{{ kialiops_kubeconfig | default(omit) }}"
    context: "{{ kialiops_context | default(omit) }}"
  delegate_to: localhost
  register: cluster

- name: Describe a cluster by URL and token (the token is never logged)
  kialiops.multicluster.cluster_info:
    cluster_name: west
    host: https://api.west.example.com:6443
    api_key: "{{ west_token }}"
    ca_cert: /etc/kialiops/west-ca.crt

- name: Check that Kiali's namespace exists on its home
  kialiops.multicluster.cluster_info:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
    namespaces: [istio-system]
  register: hub
  failed_when: not hub.namespaces['istio-system']

- name: Set the connection once for the kialiops modules of a play
  module_defaults:
    group/kialiops.multicluster.kialiops:
      kubeconfig: /etc/kialiops/hub.kubeconfig
  block:
    - name: Describe the hub
      kialiops.multicluster.cluster_info:
        cluster_name: hub
"""

RETURN = r"""
cluster_name:
  description: The kialiops name of the cluster, as given.
  returned: success
  type: str
  sample: east
server:
  description: URL of the API server the connection reached.
  returned: success
  type: str
  sample: https://127.0.0.12:6443
server_version:
  description: The server's C(/version).
  returned: success
  type: dict
  contains:
    gitVersion:
      description: Full version string.
      type: str
      sample: v1.36.3
    major:
      description: Major version.
      type: str
      sample: "1"
    minor:
      description: Minor version (OpenShift and some distributions append C(+)).
      type: str
      sample: "36"
platform:
  description: V(openshift) when an OpenShift API group is served, else V(kubernetes).
  returned: success
  type: str
  choices: [kubernetes, openshift]
  sample: kubernetes
api_groups:
  description: Every group/version the server serves (not only the preferred ones), sorted; the core group is V(v1).
  returned: success
  type: list
  elements: str
  sample: [apps/v1, authentication.k8s.io/v1, kiali.io/v1alpha1, v1]
user:
  description:
    - User name the credential authenticates as, from a C(SelfSubjectReview).
    - V(null) when the server forbids or does not serve that review.
  returned: success
  type: str
  sample: system:serviceaccount:kiali-operator:kialiops
namespaces:
  description: Each namespace of O(namespaces), V(true) when it exists.
  returned: success
  type: dict
  sample: {istio-system: true}
crd_fields:
  description: For each CRD of O(crd_fields), each path and whether the CRD declares it (V(false) for every path when
    the CRD is not installed).
  returned: success
  type: dict
  sample: {kialis.kiali.io: {spec.auth.openshift.impersonation: false}}
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import describe_cluster


def argspec():
    return connection_argspec().update(namespaces=dict(type="list", elements="str", default=[]),
                                       crd_fields=dict(type="dict", default={}))


def run(module):
    return dict(changed=False, **describe_cluster(module.home, module.params["namespaces"],
                                                  module.params["crd_fields"]))


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
