#!/usr/bin/python
# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: verify_cluster
short_description: Check one part of a Kiali multi-cluster installation and report every finding as a row
version_added: 0.1.0
description:
  - Reads, never writes (only C(get), C(list), C(SelfSubjectRulesReview) and C(SelfSubjectAccessReview) requests),
    and returns one row per finding with the cluster it is about, the check, a status (V(ok), V(warn) or V(fail)), a
    message and the fix.
  - O(scope=home) reads Kiali's home cluster (the module's connection) and compares the remote-cluster secrets in
    O(namespace) with the inventory's O(remotes) (missing, orphaned, duplicated between the per-cluster and the single
    secret form, name, annotation or key mismatch), then the Kiali CR's C(spec.clustering) with those secrets
    (autodetect label or C(clustering.clusters) C(secret_name), C(kiali_urls), C(ignore_home_cluster)).
  - O(scope=remote) reads the credential stored for O(remote_cluster) on Kiali's home and, with that credential only
    (never the admin's), checks that the remote API server is reachable, accepts it, and grants every permission of
    the role for the configured mode and denies the rest, exactly as M(kialiops.multicluster.access_review) does. The
    token's kind (bound, legacy or exec) and expiry are decoded locally; the token is never returned or printed.
  - O(scope=acm) compares ACM Observability's client certificate C(observability-grafana-certs) on the hub (O(hub))
    with Kiali's copy C(acm-observability-certs) on the home, and the CA bundle ConfigMap C(kiali-cabundle) (key
    C(additional-ca-bundle.pem)) with the hub's C(observability-server-ca-certs) and C(observability-client-ca-certs),
    including the expiry of the certificates.
  - With O(openid_id_token) (a user's ID token from the IdP Kiali's C(openid) strategy uses), O(scope=home) and
    O(scope=remote) also check that the API server of that cluster trusts the IdP (check C(openid)). A
    C(SelfSubjectReview) presenting the token (and nothing else) must authenticate as the user, and a 401 is a failing row
    naming the fix (a JWT authenticator for the issuer on that API server, or C(api_proxy)). The home is reached at the
    module connection's server and CA, a remote at the server and CA of Kiali's stored kubeconfig (where Kiali sends
    the user's token). Without a token, O(scope=home) warns when O(auth_strategy=openid).
  - Findings never fail the task when O(fail_on_problem=false), so a play can collect the rows of every cluster and fail
    once at the end (as C(playbooks/verify.yml) does).
author:
  - kialiops maintainers (@kialiops)
extends_documentation_fragment:
  - kialiops.multicluster.connection
  - kialiops.multicluster.kiali_rbac
  - kialiops.multicluster._attributes
  - kialiops.multicluster._attributes.INFO_MODULE
  - kialiops.multicluster._attributes.ACTIONGROUP_KIALIOPS
requirements:
  - cryptography (for O(scope=acm))
options:
  scope:
    description: What to check; the module's connection is always Kiali's home cluster.
    type: str
    choices: [home, remote, acm]
    required: true
  namespace:
    description: Kiali's namespace on its home cluster (remote secrets, Kiali CR, ACM copies).
    type: str
    default: istio-system
  remotes:
    description:
      - O(scope=home) only. Cluster names of every remote cluster in the inventory (spokes, and the hub when Kiali is
        external). A secret for any other cluster is orphaned.
    type: list
    elements: str
  secret_modes:
    description:
      - O(scope=home) only. The secret form the inventory wants per remote (V(per_cluster) or V(single)); a remote
        stored in the other form is a warning.
    type: dict
  topology:
    description: O(scope=home) only. V(external) when Kiali's home is the external cluster.
    type: str
    choices: [co-located, external]
    default: co-located
  cr_name:
    description: O(scope=home) only. Name of the Kiali CR (default O(instance_name)).
    type: str
  remote_cluster:
    description: O(scope=remote) only. Cluster name of the remote whose stored credential is checked.
    type: str
  home_cluster:
    description: O(scope=remote) only. Value of the C(kialiops.io/home) label of the remote objects.
    type: str
  remote_namespace:
    description: O(scope=remote) only. Namespace of Kiali's service account on the remote cluster.
    type: str
    default: istio-system
  secret_mode:
    description:
      - O(scope=remote) only. Where the credential is read. V(auto) takes C(kiali-remote-cluster-secret-<remote>)
        when it holds the key, else the key in C(kiali-multi-cluster-secret).
    type: str
    choices: [auto, per_cluster, single]
    default: auto
  token_mode:
    description:
      - O(scope=remote) only. The token mode the inventory wants (V(bound), V(legacy) or V(exec)); a stored
        credential of another kind is a warning.
    type: str
    choices: [bound, legacy, exec]
  rotate_after_percent:
    description: O(scope=remote) only. A bound token with this share of its lifetime used is a warning (rotate it).
    type: int
    default: 80
  rbac:
    description: O(scope=remote) only. The RBAC data of the Kiali version (the role's C(__remote_prepare_rbac), see
      P(kialiops.multicluster.rbac_data#filter)).
    type: dict
  hub:
    description:
      - O(scope=acm) only. Connection of the ACM hub (options as the top-level connection, no E(K8S_AUTH_*)
        fallback). With Kiali co-located on the hub, the same connection as the top level.
      - One of O(hub.kubeconfig), O(hub.context) or O(hub.host) is required.
    type: dict
    suboptions:
      cluster_name:
        description: The kialiops name of the hub, quoted in every message about it.
        type: str
        required: true
      kubeconfig:
        description: Path to a kubeconfig file for the hub.
        type: path
      context:
        description: Name of a context in O(hub.kubeconfig).
        type: str
      host:
        description: URL of the hub's API server (with O(hub.api_key)).
        type: str
      api_key:
        description: Bearer token for the hub's API server. Never logged.
        type: str
      ca_cert:
        description: Path to the CA certificate that signed the hub's API server certificate.
        type: path
        aliases: [ssl_ca_cert]
      validate_certs:
        description: Whether to verify the hub's TLS certificate; V(false) only with O(hub.allow_insecure=true).
        type: bool
        aliases: [verify_ssl]
      allow_insecure:
        description: Explicit opt-in to talk to the hub without TLS verification. Throw-away labs only.
        type: bool
        default: false
  expiry_warn_days:
    description: O(scope=acm) only. A certificate that expires within this many days is a warning.
    type: int
    default: 30
  openid_id_token:
    description:
      - O(scope=home) and O(scope=remote). A user's ID token (a JWT) from the IdP of Kiali's C(openid) strategy, for
        the C(openid) check. Never logged or returned; decoded locally only for its issuer, audience and expiry.
    type: str
  openid_issuer_uri:
    description: Kiali's C(auth.openid.issuer_uri); a token of another issuer is a failing row.
    type: str
  openid_username_claim:
    description: Kiali's C(auth.openid.username_claim), shown next to the user name the API server reports.
    type: str
    default: sub
  openid_api_proxy:
    description: Kiali's C(auth.openid.api_proxy), named in the message of a cluster that rejects the token.
    type: str
  predicted:
    description:
      - Check mode only (ignored otherwise); what this run would have written, so that a preview reports it instead
        of failing on what was never applied. A mapping of remote cluster name to the result of
        M(kialiops.multicluster.remote_secret) for it in this run (only RV(kialiops.multicluster.remote_secret#module:changed),
        RV(kialiops.multicluster.remote_secret#module:would_mint), C(secret) and C(token.mode)/C(token.ttl) are read;
        it holds no credential), and C(kiali_cr) the RV(kialiops.multicluster.kiali_cr#module:action) of the Kiali CR.
      - O(scope=remote) - when the credential of O(remote_cluster) would be stored anew, one row C(credential)
        "would mint ..." (status V(ok)) replaces the checks of the stored credential, which does not exist yet.
      - O(scope=home) - a missing remote secret that would be stored, and a missing Kiali CR that would be created,
        are V(ok) rows that say "would".
    type: dict
    default: {}
  review_method:
    description:
      - With O(scope=remote), how the permissions are asked, as
        O(kialiops.multicluster.access_review#module:review_method) does.
      - V(auto) one C(SelfSubjectRulesReview) decided locally (access reviews only for what it leaves undecided),
        V(rules) the same but a refused rules review is an error, V(access) one C(SelfSubjectAccessReview) per
        permission. The verdicts are the same.
    type: str
    choices: [auto, rules, access]
    default: auto
  fail_on_problem:
    description:
      - Fail the task when a row has status V(fail) (the message lists them). V(false) returns the rows and never
        fails for a finding; invalid options still fail.
    type: bool
    default: true
notes:
  - The module makes no mutating request on any cluster; access reviews and the local decoding of the token change
    nothing. It therefore runs the same in check mode.
seealso:
  - module: kialiops.multicluster.access_review
"""

EXAMPLES = r"""
- name: Remote secrets and Kiali CR on the home cluster against the inventory
  kialiops.multicluster.verify_cluster:
    cluster_name: hub
    kubeconfig: ~/.kube/hub.kubeconfig
    scope: home
    remotes: [east, west]
  register: home_rows

- name: Kiali's stored credential for east (reachable, authenticates, expiry, RBAC), without failing the task
  kialiops.multicluster.verify_cluster:
    cluster_name: hub
    kubeconfig: ~/.kube/hub.kubeconfig
    scope: remote
    remote_cluster: east
    home_cluster: hub
    token_mode: bound
    rbac: "{{ remote_prepare_rbac }}"
    fail_on_problem: false
  register: east_rows

- name: Every API server trusts the IdP of Kiali's openid login (a user's ID token, never logged)
  kialiops.multicluster.verify_cluster:
    cluster_name: hub
    kubeconfig: ~/.kube/hub.kubeconfig
    scope: home
    remotes: [east, west]
    auth_strategy: openid
    openid_issuer_uri: https://idp.example.com/realms/mesh
    openid_id_token: "{{ kialiops_openid_verify_id_token }}"

- name: ACM certificate and CA copies on an external Kiali's home against the hub
  kialiops.multicluster.verify_cluster:
    cluster_name: mgmt
    context: mgmt-admin
    scope: acm
    hub:
      cluster_name: hub
      context: hub-admin
"""

RETURN = r"""
rows:
  description: One row per finding, ok rows included.
  returned: always
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster the finding is about.
      type: str
      sample: east
    check:
      description: >-
        What was checked: V(remote secrets), V(kiali cr), V(credential), V(token), V(reachable), V(authenticates),
        V(rbac), V(acm client cert), V(acm ca bundle), V(acm), V(openid).
      type: str
      sample: authenticates
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
      sample: fail
    message:
      description: What was found. Never a token or key; expiry as a time and days left.
      type: str
      sample: "bound token, expires 2027-03-01T10:00:00Z (89 days left)"
    fix:
      description: What to run or change (empty for ok rows).
      type: str
      sample: "token revoked/expired, run playbooks/rotate_tokens.yml or prepare.yml for east"
  sample:
    - {cluster: east, check: token, status: ok, message: "bound token, expires 2027-03-01T10:00:00Z (89 days left)",
       fix: ""}
summary:
  description: Number of rows per status.
  returned: always
  type: dict
  sample: {ok: 5, warn: 0, fail: 1}
"""

import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    connection_argspec,
    remote_spec,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._module import main_for
from ansible_collections.kialiops.multicluster.plugins.module_utils._openid import verify_openid
from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import kiali_options_spec
from ansible_collections.kialiops.multicluster.plugins.module_utils._verify import (
    FAIL,
    error_row,
    summary,
    verify_acm,
    verify_home,
    verify_remote,
    would_store,
    x509,
)


def argspec():
    spec = connection_argspec()
    spec.update(**kiali_options_spec())
    spec.update(
        scope=dict(type="str", choices=["home", "remote", "acm"], required=True),
        namespace=dict(type="str", default="istio-system"),
        remotes=dict(type="list", elements="str"),
        secret_modes=dict(type="dict", no_log=False),  # form names (per_cluster/single), no secret
        topology=dict(type="str", choices=["co-located", "external"], default="co-located"),
        cr_name=dict(type="str"),
        remote_cluster=dict(type="str"),
        home_cluster=dict(type="str"),
        remote_namespace=dict(type="str", default="istio-system"),
        secret_mode=dict(type="str", choices=["auto", "per_cluster", "single"], default="auto"),
        token_mode=dict(type="str", choices=["bound", "legacy", "exec"]),
        rotate_after_percent=dict(type="int", default=80),
        rbac=dict(type="dict"),
        hub=remote_spec(required=False),
        expiry_warn_days=dict(type="int", default=30),
        openid_id_token=dict(type="str", no_log=True),
        openid_issuer_uri=dict(type="str"),
        openid_username_claim=dict(type="str", default="sub"),
        openid_api_proxy=dict(type="str"),
        predicted=dict(type="dict", default={}, no_log=False),
        review_method=dict(type="str", choices=["auto", "rules", "access"], default="auto"),
        fail_on_problem=dict(type="bool", default=True),
    )
    return spec.constrain(required_if=[("scope", "home", ("remotes",)),
                                       ("scope", "remote", ("remote_cluster", "home_cluster", "rbac")),
                                       ("scope", "acm", ("hub",))])


def rows_of(module):
    p = module.params
    module.mask(p.get("openid_id_token"))
    predicted = p["predicted"] if module.check_mode else {}
    if p["scope"] == "home":
        rows = verify_home(module.home, p, predicted)
        openid = verify_openid(module.home.cluster, module.home.configuration, p, time.time())
        return rows + ([openid] if openid else [])
    if p["scope"] == "remote":
        would = would_store(p["remote_cluster"], predicted.get(p["remote_cluster"]))
        return [would] if would else verify_remote(module.home, p, module.mask)
    try:
        hub = module.connect(p["hub"])
    except KialiopsError as e:
        return [error_row(p["hub"]["cluster_name"], "acm", e)]
    return verify_acm(module.home, hub, p, module.mask)


def run(module):
    if module.params["scope"] == "acm" and x509 is None:
        return dict(failed=True, msg=missing_required_lib("cryptography"))
    try:
        rows = rows_of(module)
    except KialiopsError as e:  # Kiali's home itself cannot be reached: that is the finding
        rows = [error_row(module.params["cluster_name"], "reachable", e)]
    result = dict(changed=False, rows=rows, summary=summary(rows))
    failing = [r for r in rows if r["status"] == FAIL]
    if failing and module.params["fail_on_problem"]:
        result.update(failed=True, msg="; ".join("cluster %s: %s: %s. Fix: %s" % (
            r["cluster"], r["check"], r["message"], r["fix"]) for r in failing))
    return result


def main():
    main_for(argspec(), run)


if __name__ == "__main__":
    main()
