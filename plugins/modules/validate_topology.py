#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_topology
short_description: Check that the inventory describes one valid hub/spoke/external topology
version_added: 0.1.0
description:
  - Reads the inventory groups C(hub) (exactly one host), C(spoke) (any number) and C(external) (at most one)
    and the C(kialiops_*) variables of their hosts, checks them, and returns which cluster is Kiali's home and
    which are its remotes.
  - Without an C(external) host Kiali runs on the hub (C(co-located)) and the spokes are remotes; with one,
    Kiali runs on the external cluster (C(external)) and the hub is a remote too.
  - Reports every problem at once and fails before any cluster is contacted. Talks to no cluster; run it on
    the controller, once.
  - Host variables read, per host; all others are ignored.
  - C(kialiops_cluster_name), the cluster's kialiops name, a DNS-1123 label, unique across hosts; defaults to
    the inventory host name.
  - C(kialiops_kubeconfig) and/or C(kialiops_context), at least one, so that every task names its cluster.
  - C(kialiops_api_url), optional, the API URL Kiali should use; must be C(https://).
author:
  - kialiops maintainers (@kialiops)
options:
  groups:
    description:
      - Group name to list of host names, normally the C(groups) magic variable.
      - Only the groups C(hub), C(spoke) and C(external) are read.
    type: dict
    required: true
  hostvars:
    description:
      - Host name to that host's variables. Only the C(kialiops_*) variables listed above are read.
      - Pass C(hostvars | kialiops.multicluster.topology_vars) rather than C(hostvars) itself, so that no other
        variable of any host becomes a module argument (and appears in C(-vvv) output).
    type: dict
    default: {}
extends_documentation_fragment:
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.INFO_MODULE
seealso:
  - plugin: kialiops.multicluster.topology
    plugin_type: filter
  - plugin: kialiops.multicluster.topology_vars
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the inventory before touching any cluster
  kialiops.multicluster.validate_topology:
    groups: "{{ groups }}"
    hostvars: "{{ hostvars | kialiops.multicluster.topology_vars }}"
  run_once: true
  delegate_to: localhost
  register: kialiops_topology

- name: Show where Kiali runs
  ansible.builtin.debug:
    msg: "Kiali's home is {{ kialiops_topology.home.name }} ({{ kialiops_topology.topology }})"
  run_once: true

- name: Check an explicit description (external Kiali on mgmt)
  kialiops.multicluster.validate_topology:
    groups:
      hub: [hub]
      spoke: [east, west]
      external: [mgmt]
    hostvars:
      hub: {kialiops_context: hub}
      east: {kialiops_context: east}
      west: {kialiops_context: west, kialiops_api_url: "https://api.west.example.com:6443"}
      mgmt: {kialiops_context: mgmt, kialiops_cluster_name: mgmt}
"""

RETURN = r"""
topology:
  description: V(co-located) (Kiali on the hub) or V(external) (Kiali on the external cluster).
  returned: success
  type: str
  choices: [co-located, external]
  sample: co-located
home:
  description: The cluster Kiali runs on, the external one if any, else the hub. Same keys as RV(clusters[]).
  returned: success
  type: dict
  sample: {host: hub, name: hub, kubeconfig: /lab/hub.kubeconfig, context: hub, api_url: null, role: hub}
hub:
  description: The hub cluster. Same keys as RV(clusters[]).
  returned: success
  type: dict
external:
  description: The external cluster, V(null) in a co-located topology. Same keys as RV(clusters[]).
  returned: success
  type: dict
remotes:
  description:
    - The clusters Kiali reaches remotely, the spokes (in inventory order), then the hub when Kiali is external.
    - Same keys as RV(clusters[]).
  returned: success
  type: list
  elements: dict
clusters:
  description: Every cluster, home first, then the remotes.
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: Inventory host name.
      type: str
    name:
      description: kialiops cluster name (C(kialiops_cluster_name), else the host name).
      type: str
    kubeconfig:
      description: C(kialiops_kubeconfig), or V(null).
      type: str
    context:
      description: C(kialiops_context), or V(null).
      type: str
    api_url:
      description: C(kialiops_api_url), or V(null).
      type: str
    role:
      description: The host's group.
      type: str
      choices: [hub, spoke, external]
problems:
  description: Every problem found, one sentence each.
  returned: failure
  type: list
  elements: str
  sample: ["group 'hub' is empty: exactly one host must be the hub"]
"""


from ansible_collections.kialiops.multicluster.plugins.module_utils._argspec import ArgSpec
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._topology import TopologyError, validate_topology


def argspec():
    return ArgSpec(dict(groups=dict(type="dict", required=True), hostvars=dict(type="dict", default={})))


def run(module):
    try:
        result = validate_topology(module.params["groups"], module.params["hostvars"])
    except TopologyError as e:
        return dict(failed=True, msg=str(e), problems=e.problems)
    return dict(changed=False, **result)


def main():
    # this module reads no cluster: it needs neither the kubernetes client nor PyYAML
    main_for(argspec(), run, check_k8s=False, check_pyyaml=False)


if __name__ == "__main__":
    main()
