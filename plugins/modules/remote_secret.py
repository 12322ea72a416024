#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_secret
short_description: Mint a credential for Kiali on a remote cluster and store it as a kubeconfig on the home cluster
version_added: 0.1.0
description:
  - Mints a credential for Kiali's service account on a B(remote) cluster (O(remote)) and stores a kubeconfig
    for it in a Secret on Kiali's B(home) cluster (the module's own connection), where Kiali reads it.
  - The kubeconfig has exactly one cluster, one user and one context, all named O(remote.cluster_name), with
    C(current-context) set, which is what Kiali accepts.
  - O(secret_mode=per_cluster) writes Secret C(kiali-remote-cluster-secret-<cluster>) with the label
    C(kiali.io/multiCluster=true) and the annotation C(kiali.io/cluster), which the Kiali operator autodetects.
    O(secret_mode=single) writes one key per cluster into C(kiali-multi-cluster-secret) (label
    C(kiali.io/kiali-multi-cluster-secret=true)); each cluster's key is applied by its own field manager
    C(kialiops-<cluster>), so concurrent runs for different clusters never lose a key. Switching the mode
    moves this cluster's entry and removes the other form (only this cluster's key of the single Secret).
  - The stored token is reused while it is for the same service account (C(sub) claim and uid), the kubeconfig
    points at the same server, CA and TLS server name, the mode and O(token_ttl) are the same, the remote still
    accepts it (C(TokenReview), when allowed), and less than O(rotate_after_percent) of its lifetime has passed.
    Otherwise a new token is minted and replaces it. A rerun with nothing to do sends no write and no
    C(TokenRequest) to either cluster.
  - The token never leaves the module. It is masked in all output from the moment it exists; the result holds
    its fingerprint, mode, issue and expiry times.
  - Before anything is written the module checks the cluster names, that the service account exists on the remote,
    O(api_url), O(token_ttl), the exec settings and the CA, and asks both clusters (C(SelfSubjectAccessReview))
    for every permission it needs; all denials are reported together.
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
      - Never mints a token. The Secret writes are server-side dry-runs, with the stored kubeconfig or, where a
        new token would be minted, a placeholder; RV(would_mint) says so.
  diff_mode:
    support: full
    details:
      - Shows the Secrets before and after with metadata, key names and value fingerprints only.
  idempotent:
    support: partial
    details:
      - A rerun changes nothing until the token needs rotation (O(rotate_after_percent)), or always with
        O(force_rotate=true).
options:
  home_cluster:
    description:
      - Value of the label C(kialiops.io/home) on everything this module creates, which selects the objects that
        serve this Kiali home when clusters are pruned or removed.
      - Defaults to O(cluster_name), the home cluster's name.
    type: str
  namespace:
    description:
      - Kiali's namespace on the home cluster, where the Secret is written.
    type: str
    default: istio-system
  service_account:
    description:
      - Name of Kiali's service account on the remote cluster (created by M(kialiops.multicluster.remote_access)).
      - Required unless O(token_mode=exec).
    type: str
  service_account_namespace:
    description:
      - Namespace of O(service_account) on the remote cluster. The C(kube-root-ca.crt) ConfigMap read as a CA
        fallback and the legacy token Secret are in this namespace too.
    type: str
    default: istio-system
  token_mode:
    description:
      - V(bound) mints an expiring token with a C(TokenRequest) (C(expirationSeconds=token_ttl)).
      - V(legacy) creates a C(kubernetes.io/service-account-token) Secret C(<service_account>-kialiops-token) on the
        remote and stores the non-expiring token kube-controller-manager's token controller puts into it. It is
        reused as long as that Secret holds the same token.
      - V(exec) stores O(exec_config) as the kubeconfig user's C(exec) credential plugin and no token. Kiali uses
        it only with C(clustering.enable_exec_provider=true) in the Kiali CR (O(exec_provider_enabled)), and the
        command must exist in the Kiali container.
    type: str
    choices: [bound, legacy, exec]
    default: bound
  token_ttl:
    description:
      - Lifetime in seconds requested for a bound token, between V(600) (the API minimum) and V(63072000)
        (2 years). The API server may cap it (C(--service-account-max-token-expiration)); a warning says so.
      - Changing it mints a new token.
    type: int
    default: 7776000
  rotate_after_percent:
    description:
      - Mint a new bound token once this share (1-99) of the stored token's lifetime (C(iat) to C(exp)) has passed.
    type: int
    default: 80
  force_rotate:
    description:
      - Mint a new token even if the stored one is current. In V(legacy) mode a new token Secret is created under
        the other of the two names kialiops alternates between (C(<sa>-kialiops-token), C(<sa>-kialiops-token-b));
        the old one (whose token the running Kiali still uses) is deleted after the new credential is stored, see
        O(legacy_cleanup).
    type: bool
    default: false
  legacy_timeout:
    description:
      - Seconds (1-3600) to wait for the token controller to fill the legacy token Secret.
    type: int
    default: 60
  exec_config:
    description:
      - With O(token_mode=exec), the exec credential plugin config put into the kubeconfig as C(users[].user.exec).
      - Keys C(apiVersion) (V(client.authentication.k8s.io/v1) or V(client.authentication.k8s.io/v1beta1)),
        C(command), C(args), C(env) (list of C(name)/C(value)), C(interactiveMode) (default V(Never)),
        C(provideClusterInfo), C(installHint).
      - Do not put secrets into C(env); they would be stored in the Secret and shown in the task arguments.
    type: dict
  exec_provider_enabled:
    description:
      - Whether the Kiali CR sets C(clustering.enable_exec_provider=true). Required for O(token_mode=exec), since
        Kiali otherwise drops exec credentials silently.
    type: bool
    default: false
  api_url:
    description:
      - The C(https://) URL Kiali uses to reach the remote API server, when it differs from the remote
        connection's server (the inventory's C(kialiops_api_url)).
    type: str
  tls_server_name:
    description:
      - Server name Kiali checks the remote API server's certificate against (C(tls-server-name)), when it differs
        from the host of the URL.
    type: str
  allow_insecure_skip_tls:
    description:
      - When no CA for the remote API server is found, store C(insecure-skip-tls-verify=true) instead of failing.
      - The CA is looked for in O(remote.ca_cert), else the remote kubeconfig's C(certificate-authority-data),
        else its C(certificate-authority) file, else the C(kube-root-ca.crt) ConfigMap of
        O(service_account_namespace) on the remote.
      - Kiali would then send the token to whoever answers at the URL. Throw-away labs only; a warning says so.
    type: bool
    default: false
  secret_mode:
    description:
      - V(per_cluster) writes Secret C(kiali-remote-cluster-secret-<cluster>); V(single) writes key C(<cluster>) of
        C(kiali-multi-cluster-secret).
      - With V(single) the cluster name may have at most 49 characters (it is part of annotation names).
    type: str
    choices: [per_cluster, single]
    default: per_cluster
  legacy_cleanup:
    description:
      - In V(legacy) mode (and with O(adopt), for the prepare script's token Secret), when to delete the superseded
        token Secret (deleting it revokes its token).
      - V(now) deletes it in this call, after the new credential is stored.
      - V(defer) keeps it and returns its name in RV(superseded_token_secrets), for a later call with
        O(state=superseded_absent) once Kiali was told (the Kiali CR's credentials digest updated). A running Kiali
        keeps the token it read at start (kiali v2.28.0 C(kubernetes/client_factory.go), C(NewClientFactory)), so
        this order never leaves it without a working credential. The kialiops playbooks do this.
    type: str
    choices: [now, defer]
    default: now
  adopt:
    description:
      - Take over C(kiali-remote-cluster-secret-<cluster>) on the home when C(kiali-prepare-remote-cluster.sh) made it
        (label C(kiali.io/multiCluster=true), annotation C(kiali.io/cluster=<cluster>), no kialiops labels); it is
        server-side applied with C(force_conflicts), then left with the field manager C(kialiops) alone and without
        the C(kubectl.kubernetes.io/last-applied-configuration) annotation (which holds the script's token in clear),
        and it holds kialiops' credential from then on (RV(adopted)).
      - The script's long-lived token Secret on the remote (named after O(service_account), of type
        C(kubernetes.io/service-account-token), annotated for that service account, which a known installer made or
        kialiops adopted) is then superseded like a rotated legacy token Secret (see O(legacy_cleanup)), deleted
        only once Kiali was told, never while its token is the stored one.
      - Objects no known installer made are still refused. Never the default.
    type: bool
    default: false
  superseded:
    description:
      - With O(state=superseded_absent), the legacy token Secrets to delete on the remote
        (RV(superseded_token_secrets) of the O(state=present) call). The one whose token is stored on the home, and
        any Secret kialiops did not create, are never deleted.
    type: list
    elements: str
    default: []
  moving_from:
    description:
      - The clusters Kiali's home may be moving away from (C(site.yml) passes the homes its plan found). A legacy
        token Secret on the remote, or a Secret on the home, labelled C(kialiops.io/home=<one of them>) is taken
        over for O(home_cluster) (re-labelled; the legacy token is reused, no second token Secret is made) instead
        of refused.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) stores the credential. V(absent) removes this cluster's Secret (V(per_cluster)) and its key of
        C(kiali-multi-cluster-secret) (both forms), on the home cluster only; the remote is not contacted.
      - V(superseded_absent) (V(legacy) mode) only deletes the token Secrets named in O(superseded) on the remote,
        after reading the stored credential on the home; it mints and stores nothing.
    type: str
    choices: [present, absent, superseded_absent]
    default: present
notes:
  - The credential is written only on the home cluster, and on the remote only the legacy token Secret. Objects
    that kialiops did not create (without the labels C(app.kubernetes.io/managed-by=kialiops) and
    C(kialiops.io/home)) are not changed; the module fails before writing when it would have to.
  - The Kiali operator finds new per-cluster Secrets only when it reconciles, and restarts Kiali when the labelled
    C(kiali-multi-cluster-secret) changes.
  - Permissions used on the home cluster; C(get), C(create), C(patch), C(delete) Secrets in O(namespace). On the
    remote; C(get) serviceaccounts, C(create serviceaccounts/token) (bound), C(get)/C(create)/C(patch) Secrets
    (legacy), C(get) the C(kube-root-ca.crt) ConfigMap when it is the CA source, and C(create tokenreviews)
    (optional, to check the stored token).
seealso:
  - module: kialiops.multicluster.cluster_info
  - name: Kiali multi-cluster
    description: How Kiali reads remote cluster secrets.
    link: https://kiali.io/docs/configuration/multi-cluster/
"""

EXAMPLES = r"""
- name: Store a bound token of Kiali's service account on east in a Secret on the hub
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    kubeconfig: /etc/kialiops/hub.kubeconfig
    namespace: istio-system
    remote:
      cluster_name: east
      kubeconfig: /etc/kialiops/east.kubeconfig
    service_account: kiali-service-account
  register: east_secret

- name: Store a legacy (non-expiring) token Secret's token, with the URL Kiali uses
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: west
      context: west-admin
    service_account: kiali
    token_mode: legacy
    api_url: https://api.west.example.com:6443

- name: Kiali moved from the hub to mgmt - store west's credential on mgmt, taking over the hub's token Secret
  kialiops.multicluster.remote_secret:
    cluster_name: mgmt
    context: mgmt-admin
    remote:
      cluster_name: west
      context: west-admin
    service_account: kiali
    token_mode: legacy
    moving_from: [hub]

- name: Keep every cluster in the single kiali-multi-cluster-secret, 30-day tokens rotated at half-life
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: "{{ item }}"
      context: "{{ item }}-admin"
    service_account: kiali-service-account
    secret_mode: single
    token_ttl: 2592000
    rotate_after_percent: 50
  loop: [east, west]

- name: Store an exec credential plugin (EKS) instead of a token
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: eks-east
      context: eks-east-admin
    token_mode: exec
    exec_provider_enabled: true
    exec_config:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, eks-east]

- name: Take over east's remote cluster secret made by kiali-prepare-remote-cluster.sh, storing a bound token
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: east
      context: east-admin
    service_account: kiali
    adopt: true
    legacy_cleanup: defer

- name: Remove east's credential from the home cluster (both secret forms)
  kialiops.multicluster.remote_secret:
    cluster_name: hub
    context: hub-admin
    remote:
      cluster_name: east
      context: east-admin
    service_account: kiali-service-account
    state: absent

- name: Set the home connection once for the kialiops modules of a play
  module_defaults:
    group/kialiops.multicluster.kialiops:
      cluster_name: hub
      kubeconfig: /etc/kialiops/hub.kubeconfig
  block:
    - name: Rotate east's token now
      kialiops.multicluster.remote_secret:
        remote:
          cluster_name: east
          kubeconfig: /etc/kialiops/east.kubeconfig
        service_account: kiali-service-account
        force_rotate: true
"""

RETURN = r"""
secret:
  description: The Secret on the home cluster that holds (or held) the kubeconfig, and its key.
  returned: always
  type: dict
  contains:
    name:
      description: Secret name.
      type: str
      sample: kiali-remote-cluster-secret-east
    namespace:
      description: Secret namespace (Kiali's).
      type: str
      sample: istio-system
    key:
      description: The data key, the remote cluster's name.
      type: str
      sample: east
secret_mode:
  description: The form written, O(secret_mode).
  returned: always
  type: str
  sample: per_cluster
would_mint:
  description: In check mode, whether a real run would mint a new token (none is minted in check mode).
  returned: always
  type: bool
  sample: false
stored_digest:
  description:
    - Fingerprint of the data of the Secret Kiali mounts for this cluster after the write (in check mode, as a
      real run would store it, a minted token replaced by a placeholder); pass it to
      O(kialiops.multicluster.kiali_cr#module:secret_digests) so C(--check) predicts the Kiali CR's digests.
  returned: state is present
  type: str
  sample: sha256:5d41402abc4b2a76
adopted:
  description: The Secrets on the home taken over (O(adopt)); empty otherwise.
  returned: state is present
  type: list
  elements: str
  sample: [kiali-remote-cluster-secret-east]
superseded_token_secrets:
  description: With O(legacy_cleanup=defer), the legacy token Secrets on the remote this run superseded (to delete
    with O(state=superseded_absent) once Kiali was told), the prepare script's one included with O(adopt).
  returned: state is present
  type: list
  elements: str
  sample: [kiali-kialiops-token]
removed_token_secrets:
  description: With O(state=superseded_absent), the legacy token Secrets deleted (in check mode, to delete).
  returned: state is superseded_absent
  type: list
  elements: str
  sample: [kiali-kialiops-token]
removed:
  description: With O(state=absent), the forms this cluster was removed from.
  returned: state is absent
  type: list
  elements: str
  sample: [per_cluster]
server:
  description: The API URL in the stored kubeconfig.
  returned: state is present
  type: str
  sample: https://api.east.example.com:6443
ca_source:
  description:
    - Where the CA in the kubeconfig came from; V(kubeconfig-data), V(kubeconfig-file), V(kube-root-ca.crt) or
      V(insecure-skip-tls-verify) (no CA, with O(allow_insecure_skip_tls)).
  returned: state is present
  type: str
  sample: kubeconfig-data
kiali_cr_requires:
  description: Kiali CR settings the stored kubeconfig needs (V(exec) mode needs C(clustering.enable_exec_provider)).
  returned: state is present
  type: list
  elements: str
  sample: []
token:
  description: The credential stored, without the token itself.
  returned: state is present
  type: dict
  contains:
    mode:
      description: O(token_mode).
      type: str
      sample: bound
    ttl:
      description: The lifetime asked for a bound token, in seconds; V(null) for legacy and exec.
      type: int
      sample: 7776000
    expires:
      description: Expiry (RFC 3339, UTC) of a bound token; V(null) for legacy and exec, and for a token check mode
        only predicts (RV(would_mint)).
      type: str
      sample: "2026-11-23T10:00:00Z"
    issued:
      description: When the token was issued (RFC 3339); for legacy, when its token Secret was created.
      type: str
      sample: "2026-08-25T10:00:00Z"
    minted:
      description: Whether this run minted a new token.
      type: bool
      sample: true
    rotated:
      description: Whether the new token replaced a stored one.
      type: bool
      sample: false
    reason:
      description: Why the stored credential was kept or replaced.
      type: str
      sample: the stored token is current (3% of its lifetime used)
    fingerprint:
      description: C(sha256:) fingerprint of the stored token; V(null) in exec mode and for a check-mode placeholder.
      type: str
      sample: sha256:2c26b46b68ffc68f
diff:
  description: With C(--diff), the Secrets written or removed (by cluster), before and after, values fingerprinted.
  returned: diff mode
  type: dict
"""

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
    remote_spec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secret import ensure_remote_secret


def argspec():
    spec = connection_argspec()
    spec.update(
        remote=remote_spec(),
        home_cluster=dict(type="str"),
        namespace=dict(type="str", default="istio-system"),
        service_account=dict(type="str"),
        service_account_namespace=dict(type="str", default="istio-system"),
        token_mode=dict(type="str", choices=["bound", "legacy", "exec"], default="bound", no_log=False),
        token_ttl=dict(type="int", default=7776000, no_log=False),
        rotate_after_percent=dict(type="int", default=80),
        force_rotate=dict(type="bool", default=False),
        legacy_timeout=dict(type="int", default=60),
        exec_config=dict(type="dict"),
        exec_provider_enabled=dict(type="bool", default=False),
        api_url=dict(type="str"),
        tls_server_name=dict(type="str"),
        allow_insecure_skip_tls=dict(type="bool", default=False),
        secret_mode=dict(type="str", choices=["per_cluster", "single"], default="per_cluster"),
        legacy_cleanup=dict(type="str", choices=["now", "defer"], default="now"),
        superseded=dict(type="list", elements="str", default=[], no_log=False),
        adopt=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent", "superseded_absent"], default="present"),
        moving_from=dict(type="list", elements="str", default=[]),
    )
    return spec.constrain(required_if=[("token_mode", "bound", ["service_account"]),
                                       ("token_mode", "legacy", ["service_account"]),
                                       ("token_mode", "exec", ["exec_config"])])


def run(module):
    return ensure_remote_secret(module)


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
