#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: acm_monitoring
short_description: Make one mesh cluster's Istio metrics reach Red Hat ACM Observability
version_added: 0.1.0
description:
  - On one mesh cluster (the module's connection), writes what ACM Observability needs to collect the Istio
    metrics Kiali reads, as the Kiali documentation describes it.
  - User-workload monitoring, C(enableUserWorkload=true) in key C(config.yaml) of ConfigMap
    C(openshift-monitoring/cluster-monitoring-config), merged into what is there (every other setting, comments
    included, is kept; the ConfigMap is created when absent).
  - ServiceMonitor C(istiod-monitor) in O(control_plane_namespace) (selector C(istio=pilot), port
    C(http-monitoring)).
  - PodMonitor C(istio-proxies-monitor) in the control-plane namespace and every mesh namespace (OpenShift
    monitoring ignores C(namespaceSelector)), with the documented relabelings and a constant C(mesh_id) label.
  - ConfigMap C(observability-metrics-custom-allowlist), key C(uwl_metrics_list.yaml), in the same namespaces,
    with the Istio metric names Kiali needs; names (and other keys) a person added are kept. Never written into
    C(open-cluster-management-observability).
  - Mesh namespaces are O(mesh_namespaces) when given, else discovered - labels C(istio-injection=enabled),
    C(istio.io/rev), C(istio.io/dataplane-mode=ambient), and for ambient mode the namespaces of the ztunnel pods
    (C(app=ztunnel)) and of every waypoint (C(gateway.networking.k8s.io/gateway-class-name=istio-waypoint)).
  - The mesh ID is read from Istio's mesh config (ConfigMap C(istio) in the control-plane namespace, key C(mesh) -
    C(defaultConfig.meshId), C(ISTIO_META_MESH_ID), C(trustDomain)), else O(mesh_id), else C(cluster.local).
  - Objects kialiops creates carry C(app.kubernetes.io/managed-by=kialiops), C(kialiops.io/home=<home_cluster>)
    and C(app.kubernetes.io/part-of=kialiops-acm). A monitor of the same name that someone else created is left
    as it is (with a warning); merged ConfigMaps someone else created are not labelled.
  - Validation (the monitoring CRDs are served, the namespaces exist) and access reviews come before any write;
    a second run sends no write request.
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
      - Writes are server-side dry-runs, so the CRD schemas and admission run.
  diff_mode:
    support: full
    details:
      - One entry per created or updated object.
  idempotent:
    support: full
options:
  home_cluster:
    description: Cluster name of Kiali's home, the value of the C(kialiops.io/home) label.
    type: str
    required: true
  control_plane_namespace:
    description: The Istio control-plane namespace (istiod, the mesh config).
    type: str
    default: istio-system
  mesh_namespaces:
    description: The mesh namespaces; empty means discover them (see above).
    type: list
    elements: str
    default: []
  mesh_id:
    description: The mesh ID when Istio's mesh config does not give one.
    type: str
  user_workload_monitoring:
    description: Enable OpenShift user-workload monitoring (needs namespace C(openshift-monitoring)).
    type: bool
    default: true
  scrape_interval:
    description: Interval of the ServiceMonitor and PodMonitor endpoints.
    type: str
    default: 30s
  metrics:
    description: Metric names in the allowlist.
    type: list
    elements: str
    default: [istio_requests_total, istio_request_duration_milliseconds_bucket,
              istio_request_duration_milliseconds_sum, istio_request_duration_milliseconds_count,
              istio_request_bytes_bucket, istio_request_bytes_sum, istio_request_bytes_count,
              istio_response_bytes_bucket, istio_response_bytes_sum, istio_response_bytes_count,
              istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total, istio_tcp_connections_opened_total,
              istio_tcp_connections_closed_total]
  extra_metrics:
    description: More metric names added to O(metrics).
    type: list
    elements: str
    default: []
  validate_only:
    description:
      - Only validate and read, report what would be written (V(create)/V(update)) and send no write at all, not
        even a dry-run (the role runs this on every mesh cluster before it writes anywhere).
    type: bool
    default: false
seealso:
  - module: kialiops.multicluster.acm_observability
"""

EXAMPLES = r"""
- name: Monitors, allowlists and user-workload monitoring on a spoke, mesh namespaces discovered
  kialiops.multicluster.acm_monitoring:
    cluster_name: west
    context: west-admin
    home_cluster: hub

- name: Explicit mesh namespaces and a mesh ID for clusters without one in the mesh config
  kialiops.multicluster.acm_monitoring:
    cluster_name: east
    kubeconfig: /etc/kialiops/east.kubeconfig
    home_cluster: hub
    mesh_namespaces: [bookinfo, travel-agency]
    mesh_id: mesh-1
    extra_metrics: [pilot_proxy_convergence_time_bucket]
"""

RETURN = r"""
mesh_id:
  description: The constant C(mesh_id) label of the PodMonitors.
  returned: success
  type: str
  sample: cluster.local
mesh_id_source:
  description: Where the mesh ID came from.
  returned: success
  type: str
  sample: ConfigMap istio-system/istio defaultConfig.meshId
namespaces:
  description: The namespaces that got a PodMonitor and an allowlist (the control-plane namespace first).
  returned: success
  type: list
  elements: str
  sample: [istio-system, bookinfo]
objects:
  description: Every object handled and what happened to it (or would, in check mode or with O(validate_only)).
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: Kind.
      type: str
      sample: PodMonitor
    namespace:
      description: Namespace.
      type: str
      sample: bookinfo
    name:
      description: Name.
      type: str
      sample: istio-proxies-monitor
    action:
      description: V(kept) is an object someone else created, left alone.
      type: str
      choices: [created, updated, unchanged, kept, create, update]
diff:
  description:
    - C(before) and C(after), each mapping an object that changed (in check mode, would change), named
      C(Kind namespace/name), to the object as it was and as it is (normalised, V(null) when absent).
  returned: diff mode
  type: dict
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._acm import DEFAULT_METRICS
from ansible_collections.kialiops.multicluster.plugins.module_utils._acm_mesh import acm_monitoring
from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for


def argspec():
    spec = connection_argspec()
    spec.update(
        home_cluster=dict(type="str", required=True),
        control_plane_namespace=dict(type="str", default="istio-system"),
        mesh_namespaces=dict(type="list", elements="str", default=[]),
        mesh_id=dict(type="str"),
        user_workload_monitoring=dict(type="bool", default=True),
        scrape_interval=dict(type="str", default="30s"),
        metrics=dict(type="list", elements="str", default=list(DEFAULT_METRICS)),
        extra_metrics=dict(type="list", elements="str", default=[]),
        validate_only=dict(type="bool", default=False),
    )
    return spec


def run(module):
    return acm_monitoring(module.home, module.params, want_diff=module.diff, warn=module.warn)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
