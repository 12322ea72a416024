# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The remote_secret module's work: a credential minted on a remote cluster, stored as a kubeconfig on the home.

Where and how it is stored (the two secret forms, their markers, reading, writing, removing) is _secret_store's;
this file decides the credential: validate the options, read what is stored, read the remote service account, ask
both clusters for every permission needed (all denials reported together), resolve server and CA; only then mint
(RemoteCredential: reuse, mint a bound token, or rotate the legacy token Secrets with LegacyTokenSecrets) and
write. A rerun with nothing to do sends no write and no TokenRequest.
"""

from __future__ import annotations

import base64
import os
import time

from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import fingerprint
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError, describe_object
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import (
    CA_INSECURE,
    build_kubeconfig,
    ca_source,
    check_exec_config,
    check_server,
    dump_kubeconfig,
    kubeconfig_cluster_entry,
    read_kubeconfig_files,
    rfc3339,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (
    INSTANCE_KEY,
    KIALI_LABELS,
    home_selector,
    owned_labels,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name
from ansible_collections.kialiops.multicluster.plugins.module_utils._ownership import (
    ADOPTED,
    FOREIGN,
    SCRIPT_TOKEN_MAKER,
    Ownership,
    maker,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    PER_CLUSTER,
    SINGLE,
    SINGLE_MAX_CLUSTER,
    Changes,
    ClusterSecrets,
    same_kubeconfig,
    secret_name,
    token_annotations,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import (
    LEGACY_TYPE,
    SA_NAME_ANNOTATION,
    access_denials,
    check_ttl,
    decide,
    legacy_secret,
    legacy_secret_names,
    request_token,
    secret_token,
    subject,
    token_accepted,
    wait_legacy_token,
)

EXEC_REQUIREMENT = "clustering.enable_exec_provider: true"
# What check mode writes (dry-run only) where a new token would go: never a real credential.
PLACEHOLDER_TOKEN = "kialiops-check-mode-placeholder-token"


def check_stored_server(cluster, server, from_api_url=False):
    """``server`` (the URL the stored kubeconfig will name) if it is https, else KialiopsError naming the cluster.

    Checked before anything is read, minted or written: Kiali would send the remote credential over a plain-http
    URL, and allow_insecure_skip_tls only skips the certificate check, it never allows http.
    """
    try:
        return check_server(server)
    except ValueError as e:
        origin = "api_url" if from_api_url else "the remote connection's server (no api_url given)"
        raise KialiopsError(
            cluster, "%s: %s; allow_insecure_skip_tls only skips the certificate check, it does not allow plain http"
            % (origin, e),
            "Set api_url (the inventory's kialiops_api_url) to the https:// URL Kiali uses to reach cluster %s. "
            "Nothing was minted or written" % cluster) from e


def check_options(params, cluster, label_home, form):
    """The rules on remote_secret's options the argument spec cannot express; returns the checked exec config
    (None unless token_mode=exec). Raises KialiopsError before anything is contacted."""
    p, mode = params, params.get("token_mode")
    try:
        validate_cluster_name(label_home)
    except ValueError as e:
        raise KialiopsError(p["cluster_name"], "home_cluster: %s" % e, "Set home_cluster to the home's cluster "
                            "name") from e
    if cluster == label_home:
        raise KialiopsError(cluster, "the remote cluster is Kiali's home cluster %s" % label_home,
                            "Kiali reaches its home cluster through its own service account; store remote "
                            "secrets only for the other clusters")
    if not 1 <= p["rotate_after_percent"] <= 99:
        raise KialiopsError(cluster, "rotate_after_percent must be between 1 and 99, not %s"
                            % p["rotate_after_percent"], "Set it to the share of a token's lifetime after which "
                            "a new token is minted (default 80)")
    if not 1 <= p["legacy_timeout"] <= 3600:
        raise KialiopsError(cluster, "legacy_timeout must be between 1 and 3600 seconds, not %s"
                            % p["legacy_timeout"], "Set legacy_timeout to how long to wait for the token "
                            "controller (default 60)")
    try:
        check_ttl(p["token_ttl"])
    except ValueError as e:
        raise KialiopsError(cluster, str(e), "Set token_ttl in seconds, for example 7776000 for 90 days") from e
    if p.get("api_url"):
        try:
            check_server(p["api_url"])
        except ValueError as e:
            raise KialiopsError(cluster, "api_url: %s" % e, "Give the https:// URL Kiali uses to reach the remote "
                                "API server") from e
    exec_config = None
    if mode == "exec":
        if not p.get("exec_provider_enabled"):
            raise KialiopsError(
                cluster, "token_mode=exec stores an exec credential plugin, which Kiali silently drops unless %s is "
                "set in the Kiali CR" % EXEC_REQUIREMENT,
                "Set clustering.enable_exec_provider: true in the Kiali CR and pass exec_provider_enabled=true, "
                "or use token_mode=bound")
        try:
            exec_config = check_exec_config(p.get("exec_config"))
        except ValueError as e:
            raise KialiopsError(cluster, str(e), "Give exec_config as a client.authentication.k8s.io ExecConfig "
                                "(apiVersion, command, args, env)") from e
    elif not p.get("service_account"):
        raise KialiopsError(cluster, "token_mode=%s needs service_account" % mode,
                            "Set service_account to Kiali's service account on cluster %s" % cluster)
    elif p.get("exec_config") is not None:
        raise KialiopsError(cluster, "exec_config is given but token_mode is %s" % mode,
                            "Set token_mode=exec to store an exec credential plugin, or drop exec_config")
    if form == SINGLE and len(cluster) > SINGLE_MAX_CLUSTER:
        raise KialiopsError(cluster, "secret_mode=single records the credential in annotations named "
                            "kialiops.io/token-expires.<cluster>, which allow cluster names of at most %d "
                            "characters" % SINGLE_MAX_CLUSTER, "Use secret_mode=per_cluster or a shorter name")
    return exec_config


def check_permissions(home, remote, params, cluster, removing_other, removing_tokens=False):
    """Every permission a present run needs, on both clusters (SelfSubjectAccessReviews); all denials in one
    error, before anything is minted or written."""
    p, mode = params, params.get("token_mode")
    ns = p["namespace"]
    home_checks = [("get", "", "secrets", None, ns, None), ("create", "", "secrets", None, ns, None),
                   ("patch", "", "secrets", None, ns, None)]
    if removing_other:
        home_checks.append(("delete", "", "secrets", None, ns, None))
    home_denials = access_denials(home, home_checks)
    sa_ns, sa = p["service_account_namespace"], p["service_account"]
    remote_checks = []
    if mode == "bound":
        remote_checks.append(("create", "", "serviceaccounts", "token", sa_ns, sa))
    elif mode == "legacy":
        remote_checks += [("get", "", "secrets", None, sa_ns, None), ("create", "", "secrets", None, sa_ns, None),
                          ("patch", "", "secrets", None, sa_ns, None)]
        if p["force_rotate"]:
            remote_checks.append(("delete", "", "secrets", None, sa_ns, None))
    if removing_tokens:
        remote_checks.append(("delete", "", "secrets", None, sa_ns, None))
    remote_denials = access_denials(remote, remote_checks)
    if home_denials or remote_denials:
        clusters = [c for c, d in ((home.cluster, home_denials), (cluster, remote_denials)) if d]
        raise KialiopsError(
            ", ".join(clusters), "the credentials lack permissions: %s" % "; ".join(home_denials + remote_denials),
            "Grant those verbs to the connection's credential (or use one that has them). Nothing was written")


def _remote_kubeconfig_entry(remote_params):
    paths = remote_params.get("kubeconfig") or os.environ.get("KUBECONFIG") or "~/.kube/config"
    # An unreadable file is skipped: the connection already loaded what it needs; a CA is then looked for elsewhere.
    return kubeconfig_cluster_entry(read_kubeconfig_files(paths), remote_params.get("context"))[0]


def resolve_target(remote, params, cluster, warn):
    """The server URL and CA the stored kubeconfig uses: ``(server, ca_pem, ca_source, insecure)``."""
    p, remote_params = params, params["remote"]
    server = p.get("api_url") or remote.server
    ca_data = ca_file = None
    if remote_params.get("ca_cert"):
        ca_file = remote_params["ca_cert"]  # the connection itself trusts it (it overrides the kubeconfig)
    elif remote_params.get("kubeconfig") or remote_params.get("context"):
        entry = _remote_kubeconfig_entry(remote_params)
        if entry:
            ca_data, ca_file = entry.get("certificate-authority-data"), entry.get("certificate-authority")
    root_ca = None
    if not ca_data and not ca_file:
        cm = remote.get("v1", "ConfigMap", "kube-root-ca.crt", p["service_account_namespace"])
        root_ca = ((cm or {}).get("data") or {}).get("ca.crt")
    try:
        pem, source, warning = ca_source(ca_data, ca_file, root_ca, p["allow_insecure_skip_tls"])
    except ValueError as e:
        raise KialiopsError(cluster, "%s, so Kiali could not verify %s" % (e, server),
                            "Give the remote CA (remote.ca_cert or certificate-authority-data in the remote "
                            "kubeconfig); for a throw-away lab only, opt in with allow_insecure_skip_tls=true") from e
    if warning:
        warn("cluster %s: %s" % (cluster, warning))
    return server, pem, source, source == CA_INSECURE


class LegacyTokenSecrets:
    """The legacy token Secrets of Kiali's service account on the remote: two names that alternate
    (legacy_secret_names()), so a rotation creates the other one and leaves the Secret whose token Kiali runs with
    in place (``superseded``) until the new credential is stored and Kiali told."""

    def __init__(self, module, label_home, changes, ownership=None):
        self.remote, self.params, self.check_mode = module.remote, module.params, module.check_mode
        self.warn, self.mask = module.warn, module.mask
        self.label_home = label_home
        # A token Secret of a home this run moves Kiali away from is re-labelled and its token reused (no second one)
        self.ownership = ownership or Ownership(label_home)
        self.changes = changes
        self.superseded = []

    def _record(self, obj, before, after):
        self.changes.record(self.remote.cluster, obj, before, after)

    def read(self, name):
        """The live legacy token Secret ``name`` of Kiali's service account on the remote, checked, or None."""
        p = self.params
        sa_ns, sa = p["service_account_namespace"], p["service_account"]
        live = self.remote.get("v1", "Secret", name, sa_ns)
        if live is not None:
            annotations = (live.get("metadata") or {}).get("annotations") or {}
            if live.get("type") != LEGACY_TYPE or annotations.get(SA_NAME_ANNOTATION) != sa:
                raise KialiopsError(
                    self.remote.cluster, "it exists but is not a service-account token Secret of %s" % sa,
                    "Delete or rename it; kialiops uses this name for the legacy token of %s" % sa,
                    describe_object("Secret", name, sa_ns))
        return live

    def ensure(self, sa, stored_token=None):
        """Ensure the legacy token Secret of ``sa`` (the live ServiceAccount); ``(token or None, secret or None,
        created)``.

        A rotation (force_rotate) creates the other name and puts the Secret whose token Kiali runs with in
        ``superseded``. That one is deleted only after the new credential is stored and Kiali told (legacy_cleanup=
        defer, then state=superseded_absent after the Kiali CR carries the new credentials digest), because deleting
        a token Secret revokes its token at once and a running Kiali keeps the token it read at start (kiali v2.28.0
        kubernetes/client_factory.go, NewClientFactory).
        """
        p = self.params
        remote = self.remote
        self.superseded = []
        sa_ns, sa_name = p["service_account_namespace"], p["service_account"]
        names = legacy_secret_names(sa_name)
        lives = {n: self.read(n) for n in names}
        tokens = {n: secret_token(lives[n], self.mask) for n in names}
        current = next((n for n in names if tokens[n] and tokens[n] == stored_token), None)
        if current is None:
            current = next((n for n in names if tokens[n]), next((n for n in names if lives[n]), names[0]))
        target = current
        if p["force_rotate"] and tokens[current]:
            target = next(n for n in names if n != current)
            if lives[target] is not None:
                # Left by an interrupted rotation and never stored for Kiali: start it afresh.
                before = remote.delete("v1", "Secret", target, sa_ns)
                self._record(lives[target], before, None)
                lives[target], tokens[target] = None, None
        self.superseded = [n for n in names if n != target and lives[n] is not None]
        sa_labels = (sa.get("metadata") or {}).get("labels") or {}
        labels = {k: sa_labels[k] for k in list(KIALI_LABELS) + [INSTANCE_KEY] if k in sa_labels}
        labels.update(owned_labels(self.label_home))
        desired = legacy_secret(sa_ns, sa_name, labels)
        desired["metadata"]["name"] = target
        live = lives[target]
        created = live is None
        remote.render(desired)
        if live is None or not contains(live, desired):
            before, after = remote.apply(desired)
            self._record(desired, before if live is not None else None, after)
        if live is not None and tokens[target]:
            return tokens[target], live, created
        if self.check_mode:
            return None, None, created
        token, live = wait_legacy_token(remote, sa_ns, target, p["legacy_timeout"], self.mask)
        return token, live, True

    def leftovers(self):
        """The legacy token Secrets kialiops made for Kiali's service account and this home, when the token mode is
        no longer legacy (a switch to bound or exec): long-lived tokens that keep working until deleted, superseded
        like a rotated one - deleted only once the new credential is stored and Kiali told. One list request (the
        Secrets labelled for this home in the service account's namespace)."""
        p = self.params
        sa_ns, sa = p["service_account_namespace"], p["service_account"]
        names = set(legacy_secret_names(sa))
        found = []
        for obj in self.remote.list("v1", "Secret", namespace=sa_ns, label_selector=home_selector(self.label_home)):
            meta = obj.get("metadata") or {}
            if (meta.get("name") in names and obj.get("type") == LEGACY_TYPE
                    and (meta.get("annotations") or {}).get(SA_NAME_ANNOTATION) == sa):
                found.append(meta["name"])
        return sorted(found)

    def remove_superseded(self, names, stored_token):
        """Delete the superseded legacy token Secrets ``names`` on the remote (never the one ``stored_token`` is
        from, never one kialiops did not create). Returns the names deleted (or, in check mode, to delete)."""
        p = self.params
        sa_ns = p["service_account_namespace"]
        allowed = set(legacy_secret_names(p["service_account"]))
        if p.get("adopt"):
            allowed.add(p["service_account"])  # the prepare script's token Secret (installer_made() checks it)
        removed = []
        for name in names:
            if name not in allowed:
                self.warn("cluster %s: %s is not a legacy token Secret name of %s; left alone" % (
                    self.remote.cluster, describe_object("Secret", name, sa_ns), p["service_account"]))
                continue
            live = self.read(name)
            if live is None:
                continue
            if self.ownership.verdict(live) == FOREIGN and not self.installer_made(live):
                self.warn("cluster %s: %s was not created by kialiops for home %s; left alone" % (
                    self.remote.cluster, describe_object("Secret", name, sa_ns), self.label_home))
                continue
            token = secret_token(live, self.mask)
            if token and token == stored_token and not self.check_mode:
                continue  # the credential Kiali is told to use: never revoke it
            before = self.remote.delete("v1", "Secret", name, sa_ns)
            self._record(live, before, None)
            removed.append(name)
        return removed

    def installer_made(self, live):
        """With adopt: whether ``live`` is the prepare script's token Secret of Kiali's service account."""
        p = self.params
        if not p.get("adopt"):
            return False
        account = self.remote.get("v1", "ServiceAccount", p["service_account"], p["service_account_namespace"])
        return maker(live, account=account) == SCRIPT_TOKEN_MAKER


class RemoteCredential:
    """The credential Kiali uses for one remote cluster: reused while current, else minted (bound token) or rotated
    (legacy token Secret), and stored on the home in the form ``secret_mode`` asks (``secrets``)."""

    def __init__(self, module):
        p = module.params
        self.module = module
        self.params = p
        self.check_mode = module.check_mode
        self.cluster = p["remote"]["cluster_name"]
        self.label_home = p.get("home_cluster") or p["cluster_name"]
        self.form = p.get("secret_mode") or PER_CLUSTER
        self.other = SINGLE if self.form == PER_CLUSTER else PER_CLUSTER
        self.mode = p.get("token_mode")
        self.exec_config = check_options(p, self.cluster, self.label_home, self.form)
        self.changes = Changes()
        self.ownership = Ownership(self.label_home, p.get("moving_from"), adopt=p.get("adopt"))
        self.secrets = ClusterSecrets(module.home, p["namespace"], self.cluster, self.label_home, self.changes,
                                      module.warn, self.ownership)
        self.sa = None
        self.sa_pending = False

    def legacy_tokens(self):
        return LegacyTokenSecrets(self.module, self.label_home, self.changes, self.ownership)

    def secret(self):
        return dict(name=secret_name(self.form, self.cluster), namespace=self.params["namespace"], key=self.cluster)

    def stored(self):
        """The stored credential, in the wanted form first (read() first)."""
        return self.secrets.stored(self.form, self.module.mask) or self.secrets.stored(self.other, self.module.mask)

    def read_service_account(self):
        p = self.params
        self.sa = None
        if self.mode == "exec":
            return
        self.sa = self.module.remote.get("v1", "ServiceAccount", p["service_account"], p["service_account_namespace"])
        if self.sa is None and self.check_mode:
            # In check mode remote_access only predicted Kiali's service account: report what would be minted.
            self.module.warn("cluster %s: ServiceAccount %s/%s does not exist yet; check mode assumes the "
                             "remote_access step creates it" % (self.cluster, p["service_account_namespace"],
                                                                p["service_account"]))
            self.sa_pending = True
            self.sa = dict(metadata=dict(name=p["service_account"], namespace=p["service_account_namespace"]))
            return
        if self.sa is None:
            raise KialiopsError(
                self.cluster, "ServiceAccount %s/%s does not exist, so there is no identity to mint a credential "
                "for" % (p["service_account_namespace"], p["service_account"]),
                "Run kialiops.multicluster.remote_access for cluster %s first (it creates Kiali's service account "
                "and RBAC), or set service_account/service_account_namespace to Kiali's service account there. "
                "Nothing was written" % self.cluster,
                describe_object("ServiceAccount", p["service_account"], p["service_account_namespace"]))

    def installer_tokens(self):
        """With adopt: the prepare script's long-lived token Secret of Kiali's service account (it names it after
        the service account: kiali-prepare-remote-cluster.sh d733a096), superseded once kialiops' credential is
        stored. Never revoked before Kiali was told (legacy_cleanup=defer) nor while it is the stored token."""
        p = self.params
        if not p.get("adopt") or self.mode == "exec" or self.sa is None or self.sa_pending:
            return []
        live = self.module.remote.get("v1", "Secret", p["service_account"], p["service_account_namespace"])
        if live is None or maker(live, account=self.sa) != SCRIPT_TOKEN_MAKER:
            return []
        secret_token(live, self.module.mask)  # never shown, but masked like every token kialiops reads
        return [p["service_account"]]

    def present(self):
        p = self.params
        module = self.module
        secrets = self.secrets
        secrets.read()
        secrets.check_namespace()
        # The server goes into the stored kubeconfig: an http one is refused before anything is minted or written.
        check_stored_server(self.cluster, p.get("api_url") or module.remote.server, bool(p.get("api_url")))
        self.read_service_account()
        secrets.check_ownership(self.form)
        installer_tokens = self.installer_tokens()
        # A switch away from legacy tokens: the old token Secrets go like a rotated one (after Kiali was told).
        leftovers = (self.legacy_tokens().leftovers()
                     if self.mode != "legacy" and self.sa is not None and not self.sa_pending else [])
        adopted = [secrets.live[f]["metadata"]["name"] for f in (self.form, self.other)
                   if secrets.live[f] is not None and secrets.ownership.verdict(secrets.live[f]) == ADOPTED]
        check_permissions(module.home, module.remote, p, self.cluster, removing_other=secrets.holds(self.other),
                          removing_tokens=bool(installer_tokens or leftovers))
        server, ca_pem, ca_src, insecure = resolve_target(module.remote, p, self.cluster, module.warn)
        stored = self.stored()
        want = dict(mode=self.mode, server=server, ca_data=ca_pem, tls_server_name=p.get("tls_server_name"),
                    insecure_skip_tls_verify=insecure, ttl=p["token_ttl"] if self.mode == "bound" else None,
                    exec=self.exec_config)
        if self.sa is not None:
            want.update(subject=subject(p["service_account_namespace"], p["service_account"]),
                        sa_uid=(self.sa.get("metadata") or {}).get("uid"))
        now = time.time()
        token = claims = None
        minted = would_mint = False
        values = dict(mode=self.mode)
        legacy = None
        if self.mode == "legacy":
            legacy = self.legacy_tokens()
            if self.sa_pending:
                # check mode, service account not created yet: nothing to read or dry-run
                token, token_secret, created = None, None, True
            else:
                token, token_secret, created = legacy.ensure(self.sa, (stored or {}).get("token"))
            want["legacy_token"] = token
            reuse, reason = decide(stored, want, now, p["rotate_after_percent"], p["force_rotate"])
            minted = bool(created and token)
            would_mint = token is None
            if token is None:
                token = PLACEHOLDER_TOKEN
            values["issued"] = ((token_secret or {}).get("metadata") or {}).get("creationTimestamp") or rfc3339(now)
        elif self.mode == "bound":
            reuse, reason = decide(stored, want, now, p["rotate_after_percent"], p["force_rotate"])
            if reuse and token_accepted(module.remote, stored["token"]) is False:
                reuse, reason = False, "the remote cluster no longer accepts the stored token"
            if reuse:
                token, claims = stored["token"], stored["claims"]
            elif not self.module.remote.may_mint:
                # (A GitOps export that asks for secrets mints for real: TokenRequest writes no object.)
                would_mint = True
                token, claims = PLACEHOLDER_TOKEN, dict(iat=int(now), exp=int(now) + p["token_ttl"])
            else:
                token, claims = request_token(module.remote, p["service_account_namespace"],
                                              p["service_account"], p["token_ttl"], module.mask)
                claims = claims or {}
                minted = True
                self._check_lifetime(claims)
            values.update(issued=rfc3339(claims.get("iat")), expires=rfc3339(claims.get("exp")), ttl=p["token_ttl"])
        else:
            reuse, reason = decide(stored, want, now)
        encoded = self._encoded(stored if reuse else None, server, ca_pem, token, insecure)
        secrets.write(self.form, encoded, token_annotations(self.form, self.cluster, values))
        secrets.remove(self.other)
        real_token = token if token != PLACEHOLDER_TOKEN else None
        superseded = (list(legacy.superseded) if legacy is not None else []) + installer_tokens + leftovers
        if superseded and p.get("legacy_cleanup", "now") == "now":
            # Only now that the new credential is stored (check mode: would be).
            (legacy or self.legacy_tokens()).remove_superseded(superseded, real_token)
            superseded = []
        return dict(
            changed=self.changes.changed or minted or would_mint,
            stored_digest=secrets.digest_after(self.form, encoded),
            superseded_token_secrets=superseded,
            adopted=adopted,
            secret=self.secret(),
            secret_mode=self.form,
            server=server,
            ca_source=ca_src,
            would_mint=would_mint,
            kiali_cr_requires=[EXEC_REQUIREMENT] if self.mode == "exec" else [],
            # a token that check mode only predicts has no expiry nor issue time to show (nothing was minted)
            token=dict(mode=self.mode, expires=None if would_mint else values.get("expires"),
                       issued=None if would_mint else values.get("issued"), ttl=values.get("ttl"),
                       minted=minted, rotated=bool(minted and stored and stored.get("token")), reason=reason,
                       fingerprint=fingerprint(real_token) if real_token else None),
        )

    def superseded_absent(self):
        """state=superseded_absent: delete the superseded legacy token Secrets, once Kiali was told."""
        if self.mode != "legacy":
            raise KialiopsError(self.cluster, "state=superseded_absent removes legacy token Secrets, and token_mode "
                                "is %s" % self.mode, "Use it with token_mode=legacy")
        self.secrets.read()
        stored_token = (self.stored() or {}).get("token")
        names = self.params.get("superseded") or []
        if names and not stored_token and not self.check_mode:
            raise KialiopsError(self.module.home.cluster, "no stored credential for cluster %s, so the legacy token "
                                "Secrets %s may be the only ones Kiali has" % (self.cluster, ", ".join(names)),
                                "Store the credential first (state=present); nothing was deleted")
        removed = self.legacy_tokens().remove_superseded(names, stored_token)
        return dict(changed=self.changes.changed, removed_token_secrets=removed, would_mint=False,
                    secret=self.secret(), secret_mode=self.form)

    def absent(self):
        removed = self.secrets.absent()
        return dict(changed=self.changes.changed, secret=self.secret(), secret_mode=self.form, removed=removed,
                    would_mint=False)

    def _check_lifetime(self, claims):
        granted = (claims.get("exp") or 0) - (claims.get("iat") or 0)
        if claims.get("exp") and granted < self.params["token_ttl"] - 60:
            self.module.warn(
                "cluster %s: the API server issued a token valid for %d s although token_ttl=%d was requested "
                "(capped by --service-account-max-token-expiration); it is rotated after %d%% of that" % (
                    self.cluster, granted, self.params["token_ttl"], self.params["rotate_after_percent"]))

    def _encoded(self, stored, server, ca_pem, token, insecure):
        """The base64 kubeconfig to store: the stored bytes when they already say the same, else new ones."""
        p = self.params
        try:
            config = build_kubeconfig(self.cluster, server, ca_data=ca_pem,
                                      token=token if self.mode != "exec" else None,
                                      exec_config=self.exec_config if self.mode == "exec" else None,
                                      tls_server_name=p.get("tls_server_name"), insecure_skip_tls_verify=insecure)
        except ValueError as e:  # validated before minting; a failure here is a bug, but never a traceback
            raise KialiopsError(self.cluster, "cannot assemble the kubeconfig to store: %s" % e,
                                "This is a bug in kialiops; nothing was written to Kiali's home") from e
        text = dump_kubeconfig(config)
        self.module.mask(text)
        if stored is not None and same_kubeconfig(stored["text"], config):
            return stored["encoded"]
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        self.module.mask(encoded)
        return encoded


def ensure_remote_secret(module):
    """The module's result; raises KialiopsError (nothing written when it fails in validation)."""
    credential = RemoteCredential(module)
    result = dict(present=credential.present, absent=credential.absent,
                  superseded_absent=credential.superseded_absent)[module.params["state"]]()
    if module.diff:
        result["diff"] = credential.changes.diff()
    return result
