#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_access
short_description: Give a home cluster's Kiali its service account and RBAC on a remote cluster
version_added: 0.1.0
description:
  - Creates on a remote cluster what Kiali on another (home) cluster needs to read it, as the Kiali Helm chart
    and operator render it with C(deployment.remote_cluster_resources_only) - without helm or network access.
    The objects are the namespace (only when it is absent), the ServiceAccount, a ClusterRole and its
    ClusterRoleBinding and, on OpenShift, the C(<instance>-<namespace>-openshift) ClusterRole and binding (always, for
    C(get) on C(apiservers.config.openshift.io)) and, with O(auth_strategy=openshift) without O(impersonation), the
    OAuthClient.
  - The ClusterRole is the write role C(<instance>) only when O(view_only=false) and O(auth_strategy=anonymous);
    in every other case it is the viewer role C(<instance>-viewer), because with the other strategies Kiali writes
    with the user's own credential.
  - The rules come from O(rbac), the data of one Kiali version (C(roles/remote_prepare/vars/rbac/<version>.yml)
    in this collection), checked before anything is contacted. A viewer rule set that grants a write verb is
    refused.
  - Every object carries the labels C(app.kubernetes.io/managed-by=kialiops) and C(kialiops.io/home=<home_cluster>)
    besides Kiali's own (C(app=kiali), C(app.kubernetes.io/name=kiali), C(app.kubernetes.io/instance=<instance>),
    C(app.kubernetes.io/part-of=kiali)). Anything so labelled for the same home that is no longer wanted
    (ServiceAccounts, ClusterRoles, ClusterRoleBindings, OAuthClients) is deleted, so switching between view-only
    and full access, between flavours or renaming the instance leaves nothing behind. Secrets are never pruned.
  - An object of the same name that exists without those labels (or for another home) is never taken over; the
    module fails, naming it, before it writes anything. The exceptions are O(adopt), and a move of Kiali's home; an
    object labelled for a home listed in O(moving_from) is re-labelled for O(home_cluster) (the same object, never a
    duplicate), and that home is reported in RV(moved_from).
  - Before writing, the module asks the API server (C(SelfSubjectAccessReview)) for every verb it is about to use
    and fails listing all denials if any is missing. A second run with the same arguments sends no write request.
  - The module's connection (O(cluster_name), O(kubeconfig), O(context), ...) is the B(remote) cluster.
author:
  - kialiops maintainers (@kialiops)
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster.kiali_rbac
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
attributes:
  check_mode:
    support: full
    details:
      - Writes and deletions are sent as server-side dry-runs, so admission and validation run. Objects inside a
        namespace that would be created are predicted instead (the server refuses a dry-run in a namespace that
        does not exist yet), as is the re-creation of a binding whose role changes.
  diff_mode:
    support: full
    details:
      - One entry per created, updated, replaced or deleted object.
  idempotent:
    support: full
options:
  home_cluster:
    description:
      - The kialiops name of the cluster where the Kiali that reads this remote runs.
      - Becomes the value of the C(kialiops.io/home) label, by which the module prunes and removes what it
        created. Use the same value in every run for the same Kiali.
      - Must be a DNS-1123 label.
    type: str
    required: true
  moving_from:
    description:
      - The clusters Kiali's home may be moving away from (C(site.yml) passes every other cluster of the inventory).
      - The objects this run wants that are labelled C(kialiops.io/home=<one of them>) are taken over for
        O(home_cluster) (re-labelled) instead of refused; the homes found are returned in RV(moved_from). Other
        objects of those homes are left alone.
      - Only with O(state=present).
    type: list
    elements: str
    default: []
  namespace:
    description:
      - Namespace of the ServiceAccount on the remote cluster (Kiali's namespace on its home, as the operator and
        chart require).
      - Created, labelled C(app.kubernetes.io/managed-by=kialiops) and C(kialiops.io/home=<home_cluster>), when
        absent. A namespace that already exists is never modified.
    type: str
    default: istio-system
  rbac:
    description:
      - The RBAC data of the Kiali version in use, the C(remote_prepare_rbac) mapping of
        C(roles/remote_prepare/vars/rbac/<version>.yml), as the filter P(kialiops.multicluster.rbac_data#filter) reads
        and checks it (the role's variable C(__remote_prepare_rbac)).
      - Keys C(version), C(write) and C(viewer) (lists of rules with C(apiGroups), C(resources), C(verbs) and
        optional C(resourceNames)), optional C(openshift) (C(write) and C(viewer) rows for OpenShift only) and
        C(openshift_extras) (C(oauthclient), C(apiservers) and, from Kiali v2.30, C(impersonation) rules).
      - Required with O(state=present).
    type: dict
  state:
    description:
      - V(present) creates or updates the objects and prunes what is no longer wanted.
      - V(absent) deletes every object labelled for O(home_cluster) that kialiops writes on a remote, whatever its
        instance name, mode or backend - the remote-resources-only Kiali CR of the operator backend, ClusterRoleBindings,
        ClusterRoles, token Secrets, ServiceAccounts, OAuthClients (and, with O(include_metrics), the acm_metrics
        ServiceMonitors, PodMonitors and metric allowlist ConfigMaps) - and then each namespace kialiops created for
        that home unless it holds other ServiceAccounts or Pods (then it is kept with a warning). Kinds the cluster
        does not serve are skipped.
    type: str
    choices: [present, absent]
    default: present
  adopt:
    description:
      - Take over the objects of the same names that the Kiali Helm chart C(kiali-server) made, which is how
        C(kiali-prepare-remote-cluster.sh) makes them (labels C(helm.sh/chart=kiali-server-*) and
        C(app.kubernetes.io/instance), no C(app.kubernetes.io/managed-by=kialiops)), and objects of ours the script
        was run over since. Each is server-side applied with C(force_conflicts) (only these objects), then left
        with the field manager C(kialiops) alone and without the chart's C(helm.sh/chart), C(version),
        C(app.kubernetes.io/version) labels and the C(kubectl.kubernetes.io/last-applied-configuration) and
        C(meta.helm.sh/release-*) annotations; it is reported with the action V(adopted).
      - Also deletes what the chart made for this O(instance_name) that Kiali does not need here (reported in
        RV(pruned)) - its ClusterRoles and ClusterRoleBindings of the role not used (the write role of a view-only
        Kiali) and the ConfigMap C(<instance_name>) whose C(config.yaml) says
        C(deployment.remote_cluster_resources_only=true) (a running Kiali's ConfigMap never does).
      - Objects that no known installer made are still refused. Never the default.
    type: bool
    default: false
  keep_namespaces:
    description:
      - With O(state=absent), keep the namespaces kialiops created (for example when the Kiali operator takes over
        Kiali's RBAC there, C(kialiops_remote_backend=operator)).
    type: bool
    default: false
  remove_scope:
    description:
      - With O(state=absent), V(everything) removes every kind listed there; V(rbac) only what the direct backend
        writes (ServiceAccounts, ClusterRoles, ClusterRoleBindings, OAuthClients and, unless O(keep_namespaces), the
        namespaces), which is how the operator backend hands Kiali's RBAC over to the Kiali operator while its own
        remote-resources-only Kiali CR and token Secrets stay.
    type: str
    choices: [everything, rbac]
    default: everything
  include_metrics:
    description:
      - With O(state=absent), also delete the ServiceMonitors, PodMonitors and ConfigMaps (metric allowlists) labelled
        for O(home_cluster), which the acm_metrics role writes.
      - The ConfigMap C(openshift-monitoring/cluster-monitoring-config) is never deleted (user-workload monitoring is
        a cluster-wide setting other workloads rely on).
    type: bool
    default: false
notes:
  - No token is created; the ServiceAccount's credential is minted separately.
  - Access reviews are C(create) requests on C(selfsubjectaccessreviews); they change nothing.
seealso:
  - module: kialiops.multicluster.cluster_info
"""

EXAMPLES = r"""
- name: Load the RBAC rules of the Kiali version in use
  ansible.builtin.include_vars:
    file: "{{ playbook_dir }}/../roles/remote_prepare/vars/rbac/v2.28.yml"

- name: Give Kiali on the hub view-only access to east (chart names, token auth)
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: hub
    rbac: "{{ remote_prepare_rbac }}"
  register: east_access

- name: Full access for an operator-installed Kiali with anonymous auth
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: hub
    flavour: operator
    view_only: false
    auth_strategy: anonymous
    rbac: "{{ remote_prepare_rbac }}"

- name: Kiali moved from the hub to the management cluster mgmt - east's objects are re-labelled for mgmt
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: mgmt
    moving_from: [hub]
    rbac: "{{ remote_prepare_rbac }}"

- name: Load the RBAC rules of a Kiali version with impersonation
  ansible.builtin.include_vars:
    file: "{{ playbook_dir }}/../roles/remote_prepare/vars/rbac/v2.30.yml"

- name: OpenShift remote, Kiali with OpenShift auth and impersonation (no OAuthClient then)
  kialiops.multicluster.remote_access:
    cluster_name: west
    kubeconfig: /etc/kialiops/west.kubeconfig
    home_cluster: hub
    auth_strategy: openshift
    impersonation: true
    rbac: "{{ remote_prepare_rbac }}"

- name: Take over what kiali-prepare-remote-cluster.sh made on east (same names, the chart's labels)
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: hub
    rbac: "{{ remote_prepare_rbac }}"
    adopt: true

- name: Remove everything kialiops created on east for the hub's Kiali
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: hub
    state: absent

- name: Remove it all, the ACM monitors and allowlists too
  kialiops.multicluster.remote_access:
    cluster_name: east
    context: east-admin
    home_cluster: hub
    state: absent
    include_metrics: true
"""

RETURN = r"""
service_account:
  description: The ServiceAccount Kiali's remote credential belongs to.
  returned: state=present
  type: dict
  contains:
    name:
      description: Its name.
      type: str
      sample: kiali
    namespace:
      description: Its namespace.
      type: str
      sample: istio-system
role:
  description: Name of the ClusterRole bound to the ServiceAccount.
  returned: state=present
  type: str
  sample: kiali-viewer
role_kind:
  description: Which role was chosen.
  returned: state=present
  type: str
  choices: [write, viewer]
  sample: viewer
rbac_version:
  description: The C(version) of the O(rbac) data used.
  returned: state=present
  type: str
  sample: v2.28
platform:
  description: The platform the objects were rendered for (detected when O(platform=auto)).
  returned: success
  type: str
  choices: [kubernetes, openshift]
  sample: kubernetes
moved_from:
  description:
    - The homes of O(moving_from) whose objects this run took over (would take over, in check mode), a move of
      Kiali's home away from them. Empty when nothing moved.
  returned: success
  type: list
  elements: str
  sample: [hub]
objects:
  description:
    - Every object the module handled, in order, with what happened to it (or would have, in check mode).
    - V(replaced) is a ClusterRoleBinding deleted and created again because its role changed (C(roleRef) cannot
      be updated).
    - V(adopted) is an object another installer made, taken over (O(adopt)).
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: ClusterRoleBinding
    name:
      description: Its name.
      type: str
      sample: kiali-viewer
    namespace:
      description: Its namespace, V(null) for cluster-scoped objects.
      type: str
      sample: null
    action:
      description: What happened to it.
      type: str
      choices: [created, updated, replaced, adopted, unchanged, deleted]
      sample: created
adopted:
  description: The objects taken over (O(adopt)); empty otherwise.
  returned: state=present
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
    name:
      description: Its name.
      type: str
    namespace:
      description: Its namespace, V(null) for cluster-scoped objects.
      type: str
  sample: [{kind: ServiceAccount, name: kiali, namespace: istio-system}]
pruned:
  description: The objects deleted because they are labelled for O(home_cluster) but no longer wanted (all of them
    with O(state=absent)).
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
    name:
      description: Its name.
      type: str
    namespace:
      description: Its namespace, V(null) for cluster-scoped objects.
      type: str
  sample: [{kind: ClusterRoleBinding, name: kiali-viewer, namespace: null}]
diff:
  description:
    - C(before) and C(after), each mapping an object that changed (in check mode, would change), named
      C(Kind namespace/name), to the object as it was and as it is (normalised, V(null) when absent).
  returned: diff mode
  type: dict
denied:
  description:
    - When the access reviews deny some verbs, every denial (C(verb), C(group), C(resource), C(namespace)); the
      module then fails before it writes anything.
  returned: failure of an access review
  type: list
  elements: dict
  sample: [{verb: create, group: rbac.authorization.k8s.io, resource: clusterroles, namespace: null}]
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import kiali_options_spec
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_access import precheck, remote_access


def argspec():
    spec = connection_argspec()
    spec.update(**kiali_options_spec())
    spec.update(
        home_cluster=dict(type="str", required=True),
        namespace=dict(type="str", default="istio-system"),
        rbac=dict(type="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        keep_namespaces=dict(type="bool", default=False),
        include_metrics=dict(type="bool", default=False),
        remove_scope=dict(type="str", choices=["everything", "rbac"], default="everything"),
        adopt=dict(type="bool", default=False),
        moving_from=dict(type="list", elements="str", default=[]),
    )
    return spec.constrain(required_if=[("state", "present", ("rbac",))])


def run(module):
    precheck(module.params)  # before any cluster is contacted
    return remote_access(module.home, module.params, want_diff=module.diff, warn=module.warn)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
