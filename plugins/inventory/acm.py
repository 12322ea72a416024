# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: acm
short_description: The kialiops topology from the ManagedClusters of a Red Hat ACM hub
description:
  - Reads the C(ManagedCluster) objects (C(cluster.open-cluster-management.io/v1)) of an ACM hub and makes one host
    per cluster, named after the ManagedCluster, in the groups of the kialiops inventory model.
  - An available cluster (condition C(ManagedClusterConditionAvailable) is C(True)) goes to group C(spoke), the one
    named by O(hub_cluster) to C(hub), the one named by O(external_cluster) to C(external).
  - A cluster that is not available goes to group C(acm_unavailable), one whose name is not a DNS-1123 label to
    C(acm_invalid), one whose context is not in the cluster kubeconfig to C(acm_unreachable). Each of them has the
    reason in C(kialiops_acm_reason) and is named in a warning; none is in C(hub), C(spoke) or C(external).
  - "Host variables: C(kialiops_cluster_name) (the ManagedCluster name), C(kialiops_api_url)
    (C(spec.managedClusterClientConfigs[0].url)), C(kialiops_kubeconfig), C(kialiops_context), C(kialiops_acm_labels),
    C(kialiops_acm_claims), C(kialiops_acm_available), C(kialiops_acm_platform) (C(openshift) or C(kubernetes), from the
    claim C(product.open-cluster-management.io)), C(kialiops_acm_product), C(kialiops_acm_cloud) (claim
    C(platform.open-cluster-management.io)), C(ansible_connection=local)."
  - The file must be named C(*.acm.yml) or C(*.acm.yaml).
author:
  - kialiops maintainers (@kialiops)
version_added: 0.1.0
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [kialiops.multicluster.acm]
  kubeconfig:
    description:
      - Path to the kubeconfig of the ACM hub.
      - One of O(kubeconfig), O(context) or O(host) is required.
    type: path
    env:
      - name: K8S_AUTH_KUBECONFIG
  context:
    description: Context of the ACM hub in O(kubeconfig) (without it, the kubeconfig's current context).
    type: str
    env:
      - name: K8S_AUTH_CONTEXT
  host:
    description:
      - URL of the ACM hub's API server; with O(api_key), and then without O(kubeconfig) and O(context).
    type: str
    env:
      - name: K8S_AUTH_HOST
  api_key:
    description: Bearer token for the ACM hub. Never logged nor put into a message.
    type: str
    env:
      - name: K8S_AUTH_API_KEY
  ca_cert:
    description: Path to the CA certificate of the ACM hub's API server.
    type: path
    aliases: [ssl_ca_cert]
    env:
      - name: K8S_AUTH_SSL_CA_CERT
      - name: K8S_AUTH_CA_CERT
  validate_certs:
    description:
      - Whether to verify the hub's TLS certificate. V(false) is refused unless O(allow_insecure=true).
    type: bool
    aliases: [verify_ssl]
    env:
      - name: K8S_AUTH_VERIFY_SSL
      - name: K8S_AUTH_VALIDATE_CERTS
  allow_insecure:
    description:
      - Explicit opt-in to read the hub without TLS verification (V(validate_certs=false),
        C(insecure-skip-tls-verify) or an C(http://) URL). For throw-away labs only.
    type: bool
    default: false
  label_selector:
    description:
      - Label selector of the ManagedClusters that belong to the mesh, for example C(mesh=kiali).
      - Without it, every ManagedCluster of the hub.
    type: str
  hub_cluster:
    description: The ManagedCluster that goes to group C(hub) (ACM registers its own hub as C(local-cluster)).
    type: str
    default: local-cluster
  external_cluster:
    description: The ManagedCluster that goes to group C(external) (External Kiali), if any.
    type: str
  cluster_kubeconfig:
    description:
      - The kubeconfig holding a context for every cluster, set as C(kialiops_kubeconfig) on every host.
      - Unset, C(kialiops_kubeconfig) is C({{ lookup('ansible.builtin.env', 'KIALIOPS_KUBECONFIG') }}), read when
        the play runs (the file the AWX credential type of C(awx/) writes for each job), and the contexts are
        checked in the file E(KIALIOPS_KUBECONFIG) names as the inventory is read.
      - One of the two is required.
    type: path
  context_template:
    description:
      - C(kialiops_context) of each host; C({name}) is replaced by the ManagedCluster name.
      - Use O(compose) for anything else; the context check runs after O(compose).
    type: str
    default: "{name}"
"""

EXAMPLES = r"""
# mesh.acm.yml: the ManagedClusters labelled mesh=kiali; the hub's kubeconfig from K8S_AUTH_KUBECONFIG, every
# cluster's context (named after it) in the file named by KIALIOPS_KUBECONFIG
plugin: kialiops.multicluster.acm
label_selector: mesh=kiali
---
# An External Kiali on the ManagedCluster mgmt, contexts named <cluster>-admin, a group per cloud
plugin: kialiops.multicluster.acm
kubeconfig: ~/.kube/acm-hub.kubeconfig
external_cluster: mgmt
cluster_kubeconfig: ~/.kube/mesh.kubeconfig
context_template: "{name}-admin"
keyed_groups:
  - key: kialiops_acm_cloud | default('unknown')
    prefix: cloud
"""

import os

import yaml

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.kialiops.multicluster.plugins.module_utils._acm_inventory import (
    GROUP_INVALID,
    GROUP_UNAVAILABLE,
    GROUP_UNREACHABLE,
    MESH_GROUPS,
    context_names,
    plan_inventory,
    unreachable,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import connect
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 templates every inventory string
    def trust_as_template(value):
        return value

API_VERSION = "cluster.open-cluster-management.io/v1"
KIND = "ManagedCluster"
display = Display()
KUBECONFIG_ENV = "KIALIOPS_KUBECONFIG"
HUB_CONNECTION = ("kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs", "allow_insecure")


def _slim(obj):
    """What the mapping reads of a ManagedCluster (all that goes into the cache)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    return dict(
        metadata=dict(name=meta.get("name"), labels=meta.get("labels") or {}),
        spec=dict(managedClusterClientConfigs=[dict(url=c.get("url")) for c in
                                               spec.get("managedClusterClientConfigs") or [] if isinstance(c, dict)]),
        status=dict(conditions=[{k: c.get(k) for k in ("type", "status", "reason", "message")}
                                for c in status.get("conditions") or [] if isinstance(c, dict)],
                    clusterClaims=status.get("clusterClaims") or []))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "kialiops.multicluster.acm"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".acm.yml", ".acm.yaml"))

    def _fetch(self):
        params = {name: self.get_option(name) for name in HUB_CONNECTION}
        params["cluster_name"] = "acm-hub"
        try:
            service, insecure = connect(params)
            if insecure:
                display.warning("ACM hub: TLS verification is off (%s), accepted because allow_insecure=true"
                                % "; ".join(insecure))
            found = service.list(API_VERSION, KIND, label_selector=self.get_option("label_selector"))
        except KialiopsError as e:
            raise AnsibleParserError("kialiops.multicluster.acm: %s" % e) from None
        return [_slim(obj) for obj in found]

    def _cluster_kubeconfig(self):
        """``(value of kialiops_kubeconfig, the file to check contexts in)``."""
        path = self.get_option("cluster_kubeconfig")
        if path:
            return path, path
        from_env = os.environ.get(KUBECONFIG_ENV)
        if not from_env:
            raise AnsibleParserError(
                "kialiops.multicluster.acm: set cluster_kubeconfig, or %s to the kubeconfig that holds a context for "
                "every cluster" % KUBECONFIG_ENV)
        return trust_as_template("{{ lookup('ansible.builtin.env', '%s') }}" % KUBECONFIG_ENV), from_env

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        objects = None
        if use_cache:
            try:
                objects = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if objects is None:
            objects = self._fetch()
        if update_cache:
            self._cache[cache_key] = objects
        self._populate(objects)

    def _populate(self, objects):
        kubeconfig, check_file = self._cluster_kubeconfig()
        try:
            with open(check_file, encoding="utf-8") as f:
                contexts = context_names(yaml.safe_load(f))
        except (OSError, yaml.YAMLError) as e:
            raise AnsibleParserError("kialiops.multicluster.acm: cannot read the cluster kubeconfig %s: %s"
                                     % (check_file, e)) from None
        hosts, warnings = plan_inventory(objects, self.get_option("hub_cluster"), self.get_option("external_cluster"))
        template = self.get_option("context_template")
        strict = self.get_option("strict")
        for group in MESH_GROUPS + (GROUP_UNAVAILABLE, GROUP_INVALID, GROUP_UNREACHABLE):
            self.inventory.add_group(group)
        for host, entry in hosts.items():
            self.inventory.add_host(host, group=entry["group"])
            variables = dict(entry["vars"], kialiops_kubeconfig=kubeconfig,
                             kialiops_context=template.replace("{name}", host), ansible_connection="local",
                             ansible_python_interpreter=trust_as_template("{{ ansible_playbook_python }}"))
            for key, value in variables.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), self.inventory.get_host(host).get_vars(), host,
                                     strict=strict)
            host_vars = self.inventory.get_host(host).get_vars()
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, host, strict=strict)
        final = {host: (entry["group"], self.inventory.get_host(host).get_vars()) for host, entry in hosts.items()}
        for host, context in sorted(unreachable(final, contexts).items()):
            reason = "context %r is not in the cluster kubeconfig %s" % (context, check_file)
            warnings.append("ManagedCluster %s is left out of the mesh (group %s): %s"
                            % (host, GROUP_UNREACHABLE, reason))
            self.inventory.groups[hosts[host]["group"]].remove_host(self.inventory.get_host(host))
            self.inventory.add_child(GROUP_UNREACHABLE, host)
            self.inventory.set_variable(host, "kialiops_acm_reason", reason)
        for warning in warnings:
            display.warning("kialiops.multicluster.acm: %s" % warning)
