#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: kiali_cr
short_description: Write and keep the Kiali custom resource on Kiali's home cluster
version_added: 0.1.0
description:
  - Builds the Kiali CR (C(kiali.io/v1alpha1) C(Kiali)) from the options and writes it with server-side apply under
    the field manager C(kialiops), never forcing ownership. Fields set by anyone else (a person, another tool)
    are kept; a field another manager owns is reported (409, naming the manager and the field), not taken over.
  - C(spec.clustering.autodetect_secrets) (label C(kiali.io/multiCluster=true)) unless O(clusters) is given;
    C(clustering.ignore_home_cluster) is always written (V(true) for O(topology=external), else V(false)), never
    left to a CRD default; O(topology=external) also sets C(kubernetes_config.cluster_name) = O(cluster_name).
    O(spec) is deep-merged on top, so every field Kiali supports can be set.
  - Validation before anything is written; the Kiali CRD must be served (else the error says to install the Kiali
    operator first); C(openshift) auth only on an OpenShift home and impersonation only with it;
    C(deployment.instance_name), C(deployment.namespace) and C(deployment.remote_cluster_resources_only) of an
    existing CR (spec, or C(status.deployment) when the operator reported it) are never changed; then a
    server-side dry-run apply with strict field validation, so an unknown field fails naming its path.
  - The annotation C(kiali.io/reconcile) is a digest of the remote-cluster secrets in O(namespace) (names and data
    fingerprints of the Secrets labelled C(kiali.io/multiCluster=true) and, unless O(secret_mode=single), of
    C(kiali-multi-cluster-secret)), so the CR changes, and the operator reconciles, exactly when that set changes.
  - With O(auth_strategy=openid), C(spec.auth.openid) from O(openid) (issuer, client id, scopes, username claim,
    C(disable_rbac), C(api_proxy), C(api_proxy_ca_data), C(insecure_skip_verify_tls)), and with
    O(openid.client_secret) the Secret Kiali reads the client secret from - C(deployment.secret_name) (default
    C(kiali)), key C(oidc-secret), mounted by Kiali at C(/kiali-secret) (kiali v2.28.0 C(config/config.go)) - written
    in O(namespace) right after the CR, in the same run, with server-side apply under the field manager C(kialiops).
    The client secret is never logged, returned or shown in a diff.
  - The same digest goes into C(spec.deployment.pod_annotations) entry C(kialiops.io/credentials-digest) (unless
    O(restart_on_change=false)), because Kiali builds its client for each remote once, at start (kiali v2.28.0
    C(kubernetes/client_factory.go), C(NewClientFactory)), and the operator renders C(pod_annotations) into the pod
    template (kiali-operator v2.28.0 C(roles/default/kiali-deploy/templates/*/deployment.yaml)), so a changed
    credential is exactly one rolling restart of Kiali. The operator's default pod annotation
    C(proxy.istio.io/config) (holdApplicationUntilProxyStarts), which any C(pod_annotations) overwrite (Kiali CRD),
    is sent along unless the user's O(spec) or another field manager defines C(pod_annotations); the user's entries
    win.
  - A second run with the same arguments and secrets sends no write request.
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
      - The write is a server-side dry-run, so the CRD schema and admission run.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description: Name of the Kiali CR. Defaults to O(instance_name).
    type: str
  namespace:
    description: Kiali's namespace; the CR lives there and it is C(spec.deployment.namespace).
    type: str
    default: istio-system
  instance_name:
    description: C(spec.deployment.instance_name).
    type: str
    default: kiali
  view_only:
    description: C(spec.deployment.view_only_mode).
    type: bool
    default: true
  auth_strategy:
    description:
      - C(spec.auth.strategy); V(openshift) only on an OpenShift home.
      - V(token) and V(header) show logged-in users the home cluster only (kiali v2.28.0
        C(handlers/authentication/token_auth_controller.go) builds a user's clients for the home cluster alone), so
        they are refused while Kiali's namespace holds a remote-cluster secret (or O(clusters) names one), unless
        O(allow_home_only=true). Multi-cluster Kiali works with V(anonymous), V(openid) and V(openshift).
    type: str
    choices: [anonymous, header, openid, openshift, token]
    default: token
  allow_home_only:
    description: Accept V(token) or V(header) with remote clusters (a Kiali that shows the home cluster only).
    type: bool
    default: false
  impersonation:
    description:
      - Whether Kiali uses OpenShift impersonation (the RBAC is written by M(kialiops.multicluster.remote_access)).
        Only checked here; refused unless O(auth_strategy=openshift).
    type: bool
    default: false
  platform:
    description: The home's platform for the auth rules; V(auto) detects OpenShift (only when the rules need it).
    type: str
    choices: [auto, kubernetes, openshift]
    default: auto
  topology:
    description:
      - V(co-located) (Kiali on the hub) or V(external) (Kiali on a management cluster outside the mesh; adds
        C(clustering.ignore_home_cluster) and C(kubernetes_config.cluster_name)).
    type: str
    choices: [co-located, external]
    default: co-located
  clusters:
    description:
      - Explicit C(spec.clustering.clusters); when given, C(autodetect_secrets) is disabled.
      - An inaccessible cluster (known to Kiali, not readable) has no O(clusters[].secret_name).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Cluster name.
        type: str
        required: true
      secret_name:
        description: Remote-cluster secret in O(namespace) holding its kubeconfig.
        type: str
  kiali_urls:
    description: C(spec.clustering.kiali_urls), for clusters that run their own Kiali.
    type: list
    elements: dict
    default: []
    suboptions:
      cluster_name:
        description: Cluster name.
        type: str
        required: true
      instance_name:
        description: That Kiali's instance name.
        type: str
        default: kiali
      namespace:
        description: That Kiali's namespace.
        type: str
        default: istio-system
      url:
        description: That Kiali's URL.
        type: str
        required: true
  enable_exec_provider:
    description: Set C(spec.clustering.enable_exec_provider) (needed when a remote uses exec credentials).
    type: bool
    default: false
  secret_mode:
    description:
      - How remote-cluster secrets are stored. With V(single), C(kiali-multi-cluster-secret) does not count in
        the reconcile digest (the operator restarts Kiali itself when it changes).
    type: str
    choices: [per_cluster, single]
    default: per_cluster
  openid:
    description:
      - Kiali's C(openid) auth strategy; used only with O(auth_strategy=openid), which needs O(openid.issuer_uri) and
        O(openid.client_id) (here or in O(spec)). Empty values are not written (Kiali's defaults apply).
    type: dict
    default: {}
    suboptions:
      issuer_uri:
        description: C(auth.openid.issuer_uri), the IdP's https issuer URL.
        type: str
      client_id:
        description: C(auth.openid.client_id); the API servers must accept ID tokens with this audience.
        type: str
      client_secret:
        description:
          - The OIDC client secret, stored in the Secret C(deployment.secret_name) (default C(kiali)), key
            C(oidc-secret), in O(namespace). Not written when empty (a public client, or a Secret managed elsewhere).
          - Never logged, returned or shown in a diff or a GitOps export (unless O(render_secrets=true)).
        type: str
      scopes:
        description: C(auth.openid.scopes) (Kiali's default C(openid), C(profile), C(email)).
        type: list
        elements: str
        default: []
      username_claim:
        description: C(auth.openid.username_claim) (Kiali's default C(sub)).
        type: str
      disable_rbac:
        description:
          - C(auth.openid.disable_rbac); with V(true) Kiali uses its service account, not the user's token, so the API
            servers need not trust the IdP. Not written when omitted.
        type: bool
      api_proxy:
        description: C(auth.openid.api_proxy), a proxy Kiali sends the user's requests through when the API servers do
          not trust the IdP (e.g. kube-oidc-proxy).
        type: str
      api_proxy_ca_data:
        description: C(auth.openid.api_proxy_ca_data), the base64 PEM CA of O(openid.api_proxy).
        type: str
      insecure_skip_verify_tls:
        description: C(auth.openid.insecure_skip_verify_tls); Kiali then does not verify the IdP's certificate.
        type: bool
  spec:
    description: Any Kiali CR C(spec) fields, deep-merged over the built spec (dicts merge, other values replace).
    type: dict
    default: {}
  acm_spec:
    description:
      - The Kiali CR fields of ACM Observability (the C(acm_metrics_kiali_spec) fact of the acm_metrics role), under
        O(spec) (O(spec) wins where both set a field).
    type: dict
  acm_enabled:
    description:
      - ACM Observability is enabled for this installation. Without O(acm_spec) the task then fails before anything is
        written, since the CR written would lose its ACM fields (run the acm_metrics role first).
    type: bool
    default: false
  home_cluster:
    description:
      - Cluster name of Kiali's home, the value of the C(kialiops.io/home) label. Defaults to O(cluster_name) (the CR
        is on Kiali's home); set it with O(remote_resources_only=true), where the CR is on a remote cluster.
    type: str
  remote_resources_only:
    description:
      - Write the CR for the Kiali operator of a B(remote) cluster (C(kialiops_remote_backend=operator)), with
        C(deployment.remote_cluster_resources_only=true), so that operator renders only Kiali's service account and
        RBAC there. No C(clustering) section and no reconcile digest (nothing is mounted on a remote).
      - The operator refuses to change this flag on an existing CR; so does this module.
    type: bool
    default: false
  ignore_secrets:
    description:
      - Names of remote-cluster Secrets the digest leaves out although they still exist, namely the ones removed in
        the same run (RV(kialiops.multicluster.remote_secrets#module:removed_secrets)), so that check mode predicts
        the reconcile the removal causes.
    type: list
    elements: str
    default: []
  restart_on_change:
    description:
      - Write the credentials digest into C(spec.deployment.pod_annotations), so that a changed credential restarts
        Kiali once (Kiali reads its remote credentials only at start). With V(false), only C(kiali.io/reconcile)
        changes, which mounts added secrets but leaves a running Kiali on its old credentials.
    type: bool
    default: true
  secret_digests:
    description:
      - In check mode only, the digests of the remote-cluster Secrets as this run would store them (Secret name to
        RV(kialiops.multicluster.remote_secret#module:stored_digest)), replacing the live ones, so that C(--check)
        predicts the change of both digests. Ignored in a real run, which reads what was stored.
    type: dict
    default: {}
  create:
    description:
      - With V(false), an absent CR is not created (RV(action=absent)); an existing one is updated as usual. Cluster
        removal, C(prepare.yml) and C(rotate_tokens.yml) use it, so they tell an existing Kiali and never install one.
        With V(false) a home that does not serve the Kiali CRD (Kiali installed by helm) is not an error either,
        RV(action=absent), and RV(credentials_digest) is the value to set as a helm pod annotation.
    type: bool
    default: true
notes:
  - Kiali reads remote secrets only when the operator reconciles; the C(kiali.io/reconcile) digest triggers that.
    It stays next to the pod annotation, as it makes the operator mount added and unmount removed secrets even with
    O(restart_on_change=false). Both change in the same apply, so one credential change is one reconcile and one
    rolling restart.
  - In C(single) secret mode the operator restarts Kiali itself when C(kiali-multi-cluster-secret) changes
    (kiali-operator C(playbooks/kiali-multi-cluster-secret-detected.yml)), so that Secret counts in neither digest.
  - The annotation C(kialiops.io/spec-digest) lets a run notice fields it stopped sending, which server-side apply
    then removes.
seealso:
  - module: kialiops.multicluster.remote_secret
"""

EXAMPLES = r"""
- name: Co-located Kiali on the hub, remote secrets autodetected
  kialiops.multicluster.kiali_cr:
    cluster_name: hub
    context: hub-admin

- name: Kiali with openid login; the client secret goes to Secret kiali, key oidc-secret
  kialiops.multicluster.kiali_cr:
    cluster_name: hub
    context: hub-admin
    auth_strategy: openid
    openid:
      issuer_uri: https://idp.example.com/realms/mesh
      client_id: kiali
      client_secret: "{{ vault_kiali_oidc_client_secret }}"
      username_claim: email
      scopes: [openid, profile, email]

- name: External Kiali on the management cluster, with an explicit cluster list and extra fields
  kialiops.multicluster.kiali_cr:
    cluster_name: mgmt
    kubeconfig: /etc/kialiops/mgmt.kubeconfig
    topology: external
    clusters:
      - {name: hub, secret_name: kiali-remote-cluster-secret-hub}
      - {name: legacy}
    spec:
      external_services:
        prometheus:
          url: http://prometheus.istio-system:9090
"""

RETURN = r"""
name:
  description: Name of the Kiali CR.
  returned: success
  type: str
  sample: kiali
namespace:
  description: Its namespace.
  returned: success
  type: str
  sample: istio-system
action:
  description: What happened to the CR (or would have, in check mode); V(absent) with O(create=false) and no CR.
  returned: success
  type: str
  choices: [created, updated, unchanged, absent]
reconcile:
  description: The C(kiali.io/reconcile) digest (16 hex digits); null with O(remote_resources_only=true).
  returned: success
  type: str
  sample: 3f9a0c1b2d4e5f60
credentials_digest:
  description:
    - The digest written to C(spec.deployment.pod_annotations["kialiops.io/credentials-digest"]) (16 hex digits);
      null with O(restart_on_change=false) or O(remote_resources_only=true). With RV(action=absent), the value to
      give a Kiali installed without the operator (helm C(deployment.pod_annotations)).
  returned: success
  type: str
  sample: 3f9a0c1b2d4e5f60
secrets:
  description: Names of the secrets the digest covers.
  returned: success
  type: list
  elements: str
  sample: [kiali-remote-cluster-secret-east]
cr:
  description: The CR after the run, normalised (in check mode, the server's dry-run answer).
  returned: success
  type: dict
openid_secret:
  description: The Secret holding the OIDC client secret (never its value or a fingerprint of it); null when none is
    written (strategy not V(openid), or no O(openid.client_secret)).
  returned: success
  type: dict
  contains:
    name:
      description: Its name (C(deployment.secret_name)).
      type: str
      sample: kiali
    namespace:
      description: Its namespace.
      type: str
      sample: istio-system
    key:
      description: The key Kiali reads.
      type: str
      sample: oidc-secret
    action:
      description: What happened to it (or would have, in check mode).
      type: str
      choices: [created, updated, unchanged]
diff:
  description:
    - C(before) and C(after), each mapping the Kiali CR, named C(Kiali namespace/name), to the CR as it was and as it is
      (normalised, V(null) when absent); both empty when it did not change (in check mode, would not change).
  returned: diff mode
  type: dict
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import deep_merge, kiali_cr
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._openid import ensure_openid_secret


def argspec():
    spec = connection_argspec()
    spec.update(
        name=dict(type="str"),
        namespace=dict(type="str", default="istio-system"),
        instance_name=dict(type="str", default="kiali"),
        view_only=dict(type="bool", default=True),
        auth_strategy=dict(type="str", choices=["anonymous", "header", "openid", "openshift", "token"],
                           default="token"),
        allow_home_only=dict(type="bool", default=False),
        impersonation=dict(type="bool", default=False),
        platform=dict(type="str", choices=["auto", "kubernetes", "openshift"], default="auto"),
        topology=dict(type="str", choices=["co-located", "external"], default="co-located"),
        clusters=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True), secret_name=dict(type="str"))),
        kiali_urls=dict(type="list", elements="dict", default=[], options=dict(
            cluster_name=dict(type="str", required=True), instance_name=dict(type="str", default="kiali"),
            namespace=dict(type="str", default="istio-system"), url=dict(type="str", required=True))),
        enable_exec_provider=dict(type="bool", default=False),
        secret_mode=dict(type="str", choices=["per_cluster", "single"], default="per_cluster"),
        openid=dict(type="dict", default={}, options=dict(
            issuer_uri=dict(type="str"), client_id=dict(type="str"), client_secret=dict(type="str", no_log=True),
            scopes=dict(type="list", elements="str", default=[]), username_claim=dict(type="str"),
            disable_rbac=dict(type="bool"), api_proxy=dict(type="str"), api_proxy_ca_data=dict(type="str"),
            insecure_skip_verify_tls=dict(type="bool"))),
        spec=dict(type="dict", default={}),
        acm_spec=dict(type="dict"),
        acm_enabled=dict(type="bool", default=False),
        home_cluster=dict(type="str"),
        remote_resources_only=dict(type="bool", default=False),
        ignore_secrets=dict(type="list", elements="str", default=[], no_log=False),
        create=dict(type="bool", default=True),
        restart_on_change=dict(type="bool", default=True),
        secret_digests=dict(type="dict", default={}, no_log=False),
    )
    return spec


def run(module):
    p = module.params
    module.mask((p.get("openid") or {}).get("client_secret"))
    if p["acm_enabled"] and p.get("acm_spec") is None:
        raise KialiopsError(
            p["cluster_name"], "ACM is enabled (kialiops_acm_enabled) but acm_metrics has not run in this play run, so "
            "the Kiali CR would lose its ACM fields", "Run playbooks/acm.yml or playbooks/site.yml (they run acm_metrics "
            "first). Nothing was written")
    params = dict(p, spec=deep_merge(p.get("acm_spec") or {}, p["spec"]))  # one writer, one apply
    result = kiali_cr(module.home, params, want_diff=module.diff)
    # The client secret right after the CR (everything was validated by then, so a bad CR writes nothing): the
    # operator creates Kiali's pod, which mounts the Secret, only when it reconciles the CR, later.
    # (With create=false and no CR, nothing mounts it: nothing is written.)
    secret = None if result["action"] == "absent" else ensure_openid_secret(module.home, params)
    result["openid_secret"] = {k: v for k, v in (secret or {}).items() if k != "changed"} or None
    result["changed"] = result["changed"] or bool(secret and secret["changed"])
    return result


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
