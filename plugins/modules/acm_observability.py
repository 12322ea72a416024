#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: acm_observability
short_description: Connect Kiali to Red Hat ACM Observability - client certificate, CA, URL and Thanos values
version_added: 0.1.0
description:
  - Reads the ACM hub (O(remote)) and writes to Kiali's namespace on Kiali's B(home) cluster (the module's own
    connection; the same cluster as O(remote) when Kiali runs on the hub, another one in the external topology).
  - Takes the Thanos values from the hub's C(MultiClusterObservability) -
    C(spec.observabilityAddonSpec.interval) (seconds, default 300, range 15..3600) becomes C(scrape_interval)
    (V(5m)), C(spec.advanced.retentionConfig.retentionResolutionRaw) (default 365d) becomes C(retention_period).
  - With O(url_mode=route), the URL is C(https://<host of Route observatorium-api>/api/metrics/v1/default); the
    client certificate in Secret C(observability-grafana-certs) is copied to Secret O(secret_name) (keys C(tls.crt),
    C(tls.key)); the module connects to the Observatorium API (or O(observatorium_address)) as Kiali will, with
    that certificate, and keeps the CA of C(observability-server-ca-certs) or C(observability-client-ca-certs)
    that verifies the served chain and host name; its C(ca.crt) goes to ConfigMap O(cabundle_name), key
    C(additional-ca-bundle.pem).
  - With O(url_mode=internal) (Kiali on the hub only) the URL is the in-cluster Thanos query frontend and no
    certificate is copied.
  - The Secret and ConfigMap are written only when their content changed (rotation), with server-side apply
    (field manager C(kialiops)); a rerun with the same certificates sends no write request. The key is never
    returned or printed, the diff shows fingerprints only. Certificate subjects, SHA-256 fingerprints and expiry
    are returned, with a warning within 30 days of expiry.
  - The Kiali CR is not written here. The module returns the C(spec) fragment (RV(kiali_spec)) for
    M(kialiops.multicluster.kiali_cr), so one writer applies the whole CR.
  - Everything is validated before anything is written - the MCO exists, its interval is in range, the Route
    exists, one candidate CA verifies the endpoint, Kiali's namespace exists - and failures name the cluster and
    the fix.
author:
  - kialiops maintainers (@kialiops)
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster.remote_connection
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
attributes:
  check_mode:
    support: full
    details:
      - Writes are server-side dry-runs. The TLS check with the Observatorium endpoint runs in check mode too.
  diff_mode:
    support: full
    details:
      - Secret values are shown as fingerprints.
  idempotent:
    support: full
notes:
  - O(remote) is the B(ACM hub), where C(MultiClusterObservability), the Route and the certificates are read.
    Nothing is written there.
options:
  home_cluster:
    description: Value of the C(kialiops.io/home) label on the objects created. Defaults to O(cluster_name).
    type: str
  namespace:
    description: Kiali's namespace on its home.
    type: str
    default: istio-system
  secret_name:
    description: The copy of the client certificate in O(namespace); the Kiali CR refers to it.
    type: str
    default: acm-observability-certs
  cabundle_name:
    description: The ConfigMap Kiali reads extra CAs from (C(<instance>-cabundle)).
    type: str
    default: kiali-cabundle
  observability_namespace:
    description: ACM Observability's namespace on the hub.
    type: str
    default: open-cluster-management-observability
  mco_name:
    description: Name of the C(MultiClusterObservability); needed only when the hub has several.
    type: str
  url_mode:
    description:
      - V(route), the Observatorium API with mTLS; V(internal), the in-cluster Thanos query frontend (HTTP, Kiali on
        the hub only).
    type: str
    choices: [route, internal]
    default: route
  observatorium_address:
    description:
      - C(host:port) to connect to for the CA check instead of C(<route host>:443); the TLS name checked is still
        the Route's host. For air-gapped controllers that reach the router by another address, and for tests.
    type: str
  tls_timeout:
    description: Seconds to wait for the Observatorium endpoint.
    type: float
    default: 10
  scrape_interval:
    description: Collection interval in seconds instead of the MCO's (15..3600).
    type: int
  retention_period:
    description: Retention instead of the MCO's, a duration such as V(14d).
    type: str
  query_scope:
    description: Labels added to every Kiali query (C(external_services.prometheus.query_scope)).
    type: dict
    default: {}
  validate_only:
    description: Only read, check and report; no write at all (not even a dry-run).
    type: bool
    default: false
requirements:
  - cryptography
seealso:
  - module: kialiops.multicluster.acm_monitoring
  - module: kialiops.multicluster.kiali_cr
"""

EXAMPLES = r"""
- name: Kiali on the hub, Observatorium API with mTLS
  kialiops.multicluster.acm_observability:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: hub
      context: hub-admin
  register: acm

- name: Write the Kiali CR with the ACM fields
  kialiops.multicluster.kiali_cr:
    cluster_name: hub
    context: hub-admin
    spec: "{{ acm.kiali_spec }}"

- name: External Kiali on mgmt reading ACM on the hub, queries scoped to one mesh
  kialiops.multicluster.acm_observability:
    cluster_name: mgmt
    kubeconfig: /etc/kialiops/mgmt.kubeconfig
    remote:
      cluster_name: hub
      kubeconfig: /etc/kialiops/hub.kubeconfig
    query_scope:
      mesh_id: mesh-1
"""

RETURN = r"""
url:
  description: The URL Kiali queries.
  returned: success
  type: str
  sample: https://observatorium-api-open-cluster-management-observability.apps.hub.example.com/api/metrics/v1/default
ca_source:
  description: The hub Secret whose CA verifies the Observatorium API (null with O(url_mode=internal)).
  returned: success
  type: str
  sample: observability-server-ca-certs
mco:
  description: The MultiClusterObservability values used.
  returned: success
  type: dict
  sample: {name: observability, interval_seconds: 300, scrape_interval: 5m, retention_period: 365d,
           retention_source: default (spec.advanced.retentionConfig unset)}
certificates:
  description: Public facts of the C(client) certificate, the C(ca) and the C(served) certificate.
  returned: url_mode=route
  type: dict
  sample:
    client: {subject: grafana, issuer: observability-client-ca-certificate, fingerprint: "sha256:9f...",
             not_after: "2027-11-30T10:00:00Z", days_left: 364}
kiali_spec:
  description: The Kiali CR C(spec) fragment (C(external_services.prometheus)).
  returned: success
  type: dict
objects:
  description: The Secret and ConfigMap on Kiali's home and what happened to them.
  returned: success
  type: list
  elements: dict
diff:
  description:
    - C(before) and C(after), each mapping an object that changed (in check mode, would change), named
      C(Kind namespace/name), to the object as it was and as it is (normalised, V(null) when absent); Secret
      values as fingerprints.
  returned: diff mode
  type: dict
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kialiops.multicluster.plugins.module_utils._acm import HAS_CRYPTOGRAPHY
from ansible_collections.kialiops.multicluster.plugins.module_utils._acm_hub import acm_observability
from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
    remote_spec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for


def argspec():
    spec = connection_argspec()
    spec.update(
        remote=remote_spec(),
        home_cluster=dict(type="str"),
        namespace=dict(type="str", default="istio-system"),
        secret_name=dict(type="str", default="acm-observability-certs"),
        cabundle_name=dict(type="str", default="kiali-cabundle"),
        observability_namespace=dict(type="str", default="open-cluster-management-observability"),
        mco_name=dict(type="str"),
        url_mode=dict(type="str", choices=["route", "internal"], default="route"),
        observatorium_address=dict(type="str"),
        tls_timeout=dict(type="float", default=10),
        scrape_interval=dict(type="int"),
        retention_period=dict(type="str"),
        query_scope=dict(type="dict", default={}),
        validate_only=dict(type="bool", default=False),
    )
    return spec


def run(module):
    if not HAS_CRYPTOGRAPHY:
        return dict(failed=True, msg=missing_required_lib("cryptography"))
    return acm_observability(module.home, module.remote, module.params, want_diff=module.diff, mask=module.mask,
                             warn=module.warn)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
