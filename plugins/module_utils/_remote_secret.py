# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The remote_secret module's work: a credential minted on a remote cluster, stored as a kubeconfig on the home.

Two forms on the home cluster, in Kiali's namespace:

- ``per_cluster``: Secret ``kiali-remote-cluster-secret-<cluster>`` (label ``kiali.io/multiCluster``,
  annotation ``kiali.io/cluster``), one key ``<cluster>``; annotations ``kialiops.io/token-*`` record the
  credential.
- ``single``: Secret ``kiali-multi-cluster-secret`` (label ``kiali.io/kiali-multi-cluster-secret``), one key
  per cluster. Each cluster's key and its ``kialiops.io/token-*.<cluster>`` annotations are applied by the field
  manager ``kialiops-<cluster>`` (the labels by ``kialiops``), so the server merges concurrent runs for
  different clusters and never drops a key; applying as that manager without the key removes it.

Order of work: validate the options, read what is stored, read the remote service account, ask both clusters
for every permission needed (all denials reported together), resolve server and CA; only then mint and write.
A rerun with nothing to do sends no write and no TokenRequest.
"""

from __future__ import annotations

import base64
import os
import time

try:
    import yaml
except ImportError:  # ansible-core requires PyYAML; guarded for the import sanity test
    yaml = None

from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import fingerprint
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    KialiopsError,
    describe_object,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import secret_digest
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import (
    CA_INSECURE,
    build_kubeconfig,
    ca_source,
    check_exec_config,
    check_server,
    dump_kubeconfig,
    kubeconfig_cluster_entry,
    parse_kubeconfig,
    rfc3339,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (
    INSTANCE_KEY,
    KIALI_LABELS,
    is_owned,
    owned_labels,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import (
    remote_secret_name,
    validate_cluster_name,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import (
    LEGACY_TYPE,
    SA_NAME_ANNOTATION,
    access_denials,
    check_ttl,
    claims_or_none,
    decide,
    legacy_secret,
    legacy_secret_names,
    request_token,
    secret_token,
    subject,
    token_accepted,
    wait_legacy_token,
)

PER_CLUSTER = "per_cluster"
SINGLE = "single"
SINGLE_NAME = "kiali-multi-cluster-secret"
MULTI_CLUSTER_LABEL = "kiali.io/multiCluster"
SINGLE_LABEL = "kiali.io/kiali-multi-cluster-secret"
CLUSTER_ANNOTATION = "kiali.io/cluster"
TOKEN_ANNOTATION = "kialiops.io/token-"
TOKEN_FIELDS = ("mode", "issued", "expires", "ttl")
# Annotation names are at most 63 characters: "token-expires." leaves 49 for the cluster name.
SINGLE_MAX_CLUSTER = 63 - len("token-expires.")
EXEC_REQUIREMENT = "clustering.enable_exec_provider: true"
# What check mode writes (dry-run only) where a new token would go: never a real credential.
PLACEHOLDER_TOKEN = "kialiops-check-mode-placeholder-token"
CONFLICT_RETRIES = 4
# kubectl apply stores the whole object (Secret data included) in this annotation: never show it.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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


def single_manager(cluster):
    """Field manager that owns ``cluster``'s key (and its annotations) in ``kiali-multi-cluster-secret``."""
    return "kialiops-" + cluster


def annotation_key(field, form, cluster):
    """``kialiops.io/token-<field>`` (per_cluster) or ``kialiops.io/token-<field>.<cluster>`` (single)."""
    return TOKEN_ANNOTATION + field + ("." + cluster if form == SINGLE else "")


def token_annotations(form, cluster, values):
    """The credential annotations of one cluster, ``values`` by field (None values left out)."""
    return {annotation_key(f, form, cluster): str(values[f]) for f in TOKEN_FIELDS if values.get(f) is not None}


def _ours(key, form, cluster):
    if not key.startswith(TOKEN_ANNOTATION):
        return False
    rest = key[len(TOKEN_ANNOTATION):]
    if form == SINGLE:
        return rest.endswith("." + cluster) and rest[:-len(cluster) - 1] in TOKEN_FIELDS
    return rest in TOKEN_FIELDS


def stale_annotations(live, form, cluster, desired):
    """Our credential annotations on ``live`` that ``desired`` (a dict) no longer has."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    return sorted(k for k in annotations if _ours(k, form, cluster) and k not in desired)


def per_cluster_secret(namespace, cluster, home, encoded, annotations):
    """The per-cluster Secret Kiali's operator autodetects (label + annotation), one key ``cluster``."""
    labels = {MULTI_CLUSTER_LABEL: "true"}
    labels.update(owned_labels(home))
    notes = {CLUSTER_ANNOTATION: cluster}
    notes.update(annotations)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": remote_secret_name(cluster), "namespace": namespace, "labels": labels,
                     "annotations": notes},
        "data": {cluster: encoded},
    }


def single_labels(home):
    labels = {SINGLE_LABEL: "true"}
    labels.update(owned_labels(home))
    return labels


def single_base(namespace, home):
    """What the manager ``kialiops`` owns in ``kiali-multi-cluster-secret``: type and labels."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": SINGLE_NAME, "namespace": namespace, "labels": single_labels(home)}}


def single_entry(namespace, cluster, home, encoded, annotations):
    """What the manager ``kialiops-<cluster>`` owns: its key and annotations (and, shared, the labels).

    The labels are also applied here (same values, so shared ownership and no conflict): the Secret carries them
    whenever it holds a key, even if another run deleted and re-created it in between.
    """
    metadata = {"name": SINGLE_NAME, "namespace": namespace, "labels": single_labels(home)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": {cluster: encoded}}


def _redacted(obj):
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED not in annotations:
        return obj
    out = dict(obj, metadata=dict(obj["metadata"], annotations=dict(annotations)))
    out["metadata"]["annotations"][LAST_APPLIED] = fingerprint(annotations[LAST_APPLIED])
    return out


def _key(cluster, obj):
    meta = obj["metadata"]
    return "%s: %s" % (cluster, describe_object(obj["kind"], meta["name"], meta.get("namespace")))


class Work:
    """One run: options, the two services, what was done (diff, changed, warnings)."""

    def __init__(self, module, cluster=None):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        # ``cluster``: the remote's name when the module has no remote: connection (removal from the home only).
        self.cluster = cluster or self.params["remote"]["cluster_name"]
        self.home_name = self.params["cluster_name"]
        self.label_home = self.params.get("home_cluster") or self.home_name
        self.namespace = self.params["namespace"]
        self.form = self.params.get("secret_mode") or PER_CLUSTER
        self.mode = self.params.get("token_mode")
        self.changed = False
        self.diff_before, self.diff_after = {}, {}
        self.exec_config = None
        self.live = {}
        self.sa = None
        self.sa_pending = False
        self.superseded = []

    # --- bookkeeping --------------------------------------------------------------------------------------
    def mask(self, *values):
        self.module.mask(*values)

    def warn(self, text):
        self.module.warn(text)

    def record(self, cluster, obj, before, after):
        key = _key(cluster, obj)
        if key not in self.diff_before:
            self.diff_before[key] = _redacted(before)
        self.diff_after[key] = _redacted(after)
        if before != after:
            self.changed = True

    # --- validate -----------------------------------------------------------------------------------------
    def check_options(self):
        p = self.params
        try:
            validate_cluster_name(self.label_home)
        except ValueError as e:
            raise KialiopsError(self.home_name, "home_cluster: %s" % e, "Set home_cluster to the home's cluster "
                                "name") from e
        if self.cluster == self.label_home:
            raise KialiopsError(self.cluster, "the remote cluster is Kiali's home cluster %s" % self.label_home,
                                "Kiali reaches its home cluster through its own service account; store remote "
                                "secrets only for the other clusters")
        if not 1 <= p["rotate_after_percent"] <= 99:
            raise KialiopsError(self.cluster, "rotate_after_percent must be between 1 and 99, not %s"
                                % p["rotate_after_percent"], "Set it to the share of a token's lifetime after which "
                                "a new token is minted (default 80)")
        if not 1 <= p["legacy_timeout"] <= 3600:
            raise KialiopsError(self.cluster, "legacy_timeout must be between 1 and 3600 seconds, not %s"
                                % p["legacy_timeout"], "Set legacy_timeout to how long to wait for the token "
                                "controller (default 60)")
        try:
            check_ttl(p["token_ttl"])
        except ValueError as e:
            raise KialiopsError(self.cluster, str(e), "Set token_ttl in seconds, for example 7776000 for 90 "
                                "days") from e
        if p.get("api_url"):
            try:
                check_server(p["api_url"])
            except ValueError as e:
                raise KialiopsError(self.cluster, "api_url: %s" % e, "Give the https:// URL Kiali uses to reach "
                                    "the remote API server") from e
        if self.mode == "exec":
            if not p.get("exec_provider_enabled"):
                raise KialiopsError(
                    self.cluster, "token_mode=exec stores an exec credential plugin, which Kiali silently drops "
                    "unless %s is set in the Kiali CR" % EXEC_REQUIREMENT,
                    "Set clustering.enable_exec_provider: true in the Kiali CR and pass exec_provider_enabled=true, "
                    "or use token_mode=bound")
            try:
                self.exec_config = check_exec_config(p.get("exec_config"))
            except ValueError as e:
                raise KialiopsError(self.cluster, str(e), "Give exec_config as a client.authentication.k8s.io "
                                    "ExecConfig (apiVersion, command, args, env)") from e
        elif not p.get("service_account"):
            raise KialiopsError(self.cluster, "token_mode=%s needs service_account" % self.mode,
                                "Set service_account to Kiali's service account on cluster %s" % self.cluster)
        elif p.get("exec_config") is not None:
            raise KialiopsError(self.cluster, "exec_config is given but token_mode is %s" % self.mode,
                                "Set token_mode=exec to store an exec credential plugin, or drop exec_config")
        if self.form == SINGLE and len(self.cluster) > SINGLE_MAX_CLUSTER:
            raise KialiopsError(self.cluster, "secret_mode=single records the credential in annotations named "
                                "kialiops.io/token-expires.<cluster>, which allow cluster names of at most %d "
                                "characters" % SINGLE_MAX_CLUSTER, "Use secret_mode=per_cluster or a shorter name")

    # --- read ---------------------------------------------------------------------------------------------
    def read_home(self):
        home = self.module.home
        self.live = {
            PER_CLUSTER: home.get("v1", "Secret", remote_secret_name(self.cluster), self.namespace),
            SINGLE: home.get("v1", "Secret", SINGLE_NAME, self.namespace),
        }

    def check_namespace(self):
        try:
            found = self.module.home.get("v1", "Namespace", self.namespace)
        except KialiopsError as e:
            if e.status == 403:
                return  # may not read namespaces: the write names a missing one anyway
            raise
        if found is None:
            raise KialiopsError(self.home_name, "namespace %s does not exist" % self.namespace,
                                "Set namespace to Kiali's namespace on the home cluster (or create it). Nothing was "
                                "written")

    def holds(self, form):
        """Whether the live Secret of ``form`` holds this cluster's key or annotations."""
        live = self.live[form]
        if live is None:
            return False
        if form == PER_CLUSTER:
            return True
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        return self.cluster in (live.get("data") or {}) or any(_ours(k, SINGLE, self.cluster) for k in annotations)

    def stored(self, form):
        """What the live Secret of ``form`` stores for this cluster (parsed, masked), or None."""
        live = self.live[form]
        encoded = ((live or {}).get("data") or {}).get(self.cluster)
        if not encoded:
            return None
        text = base64.b64decode(encoded).decode("utf-8", "replace")
        self.mask(text)
        try:
            parsed = parse_kubeconfig(text)
        except ValueError as e:
            self.warn("cluster %s: the kubeconfig stored in %s is not usable (%s); it is replaced" % (
                self.home_name, describe_object("Secret", live["metadata"]["name"], self.namespace), e))
            return None
        self.mask(parsed.get("token"))
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        ttl = annotations.get(annotation_key("ttl", form, self.cluster))
        parsed.update(
            form=form, encoded=encoded, text=text,
            mode=annotations.get(annotation_key("mode", form, self.cluster)),
            ttl=int(ttl) if ttl and ttl.isdigit() else None,
            claims=claims_or_none(parsed["token"]) if parsed.get("token") else None,
            annotations={f: annotations.get(annotation_key(f, form, self.cluster)) for f in TOKEN_FIELDS})
        return parsed

    def read_service_account(self):
        p = self.params
        self.sa = None
        if self.mode == "exec":
            return
        self.sa = self.module.remote.get("v1", "ServiceAccount", p["service_account"], p["service_account_namespace"])
        if self.sa is None and self.check_mode:
            # In check mode remote_access only predicted Kiali's service account: report what would be minted.
            self.warn("cluster %s: ServiceAccount %s/%s does not exist yet; check mode assumes the remote_access step "
                      "creates it" % (self.cluster, p["service_account_namespace"], p["service_account"]))
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

    def ask(self, removing_other):
        """Every permission this run needs, on both clusters; all denials in one error."""
        p = self.params
        ns = self.namespace
        home_checks = [("get", "", "secrets", None, ns, None), ("create", "", "secrets", None, ns, None),
                       ("patch", "", "secrets", None, ns, None)]
        if removing_other:
            home_checks.append(("delete", "", "secrets", None, ns, None))
        home_denials = access_denials(self.module.home, home_checks)
        sa_ns, sa = p["service_account_namespace"], p["service_account"]
        remote_checks = []
        if self.mode == "bound":
            remote_checks.append(("create", "", "serviceaccounts", "token", sa_ns, sa))
        elif self.mode == "legacy":
            remote_checks += [("get", "", "secrets", None, sa_ns, None), ("create", "", "secrets", None, sa_ns, None),
                              ("patch", "", "secrets", None, sa_ns, None)]
            if p["force_rotate"]:
                remote_checks.append(("delete", "", "secrets", None, sa_ns, None))
        remote_denials = access_denials(self.module.remote, remote_checks)
        if home_denials or remote_denials:
            clusters = [c for c, d in ((self.home_name, home_denials), (self.cluster, remote_denials)) if d]
            raise KialiopsError(
                ", ".join(clusters), "the credentials lack permissions: %s" % "; ".join(home_denials + remote_denials),
                "Grant those verbs to the connection's credential (or use one that has them). Nothing was written")

    def resolve_target(self):
        """The server URL and CA the stored kubeconfig uses: ``(server, ca_pem, ca_source, insecure)``."""
        p, remote_params = self.params, self.params["remote"]
        remote = self.module.remote
        server = p.get("api_url") or remote.server
        ca_data = ca_file = None
        if remote_params.get("ca_cert"):
            ca_file = remote_params["ca_cert"]  # the connection itself trusts it (it overrides the kubeconfig)
        elif remote_params.get("kubeconfig") or remote_params.get("context"):
            entry = self._kubeconfig_entry(remote_params)
            if entry:
                ca_data, ca_file = entry.get("certificate-authority-data"), entry.get("certificate-authority")
        root_ca = None
        if not ca_data and not ca_file:
            cm = remote.get("v1", "ConfigMap", "kube-root-ca.crt", p["service_account_namespace"])
            root_ca = ((cm or {}).get("data") or {}).get("ca.crt")
        try:
            pem, source, warning = ca_source(ca_data, ca_file, root_ca, p["allow_insecure_skip_tls"])
        except ValueError as e:
            raise KialiopsError(self.cluster, "%s, so Kiali could not verify %s" % (e, server),
                                "Give the remote CA (remote.ca_cert or certificate-authority-data in the remote "
                                "kubeconfig); for a throw-away lab only, opt in with allow_insecure_skip_tls=true"
                                ) from e
        if warning:
            self.warn("cluster %s: %s" % (self.cluster, warning))
        return server, pem, source, source == CA_INSECURE

    @staticmethod
    def _kubeconfig_entry(remote_params):
        paths = remote_params.get("kubeconfig") or os.environ.get("KUBECONFIG") or "~/.kube/config"
        documents = []
        for path in [os.path.expanduser(x) for x in paths.split(os.pathsep) if x]:
            try:
                with open(path, encoding="utf-8") as f:
                    documents.append((path, yaml.safe_load(f)))
            except (OSError, yaml.YAMLError):
                continue  # the connection already loaded what it needs; a CA is then looked for elsewhere
        return kubeconfig_cluster_entry(documents, remote_params.get("context"))[0]

    def check_ownership(self):
        """Fail before writing when a Secret we would write or remove for this cluster is not ours."""
        for form in (PER_CLUSTER, SINGLE):
            live = self.live[form]
            if live is None or is_owned(live, self.label_home):
                continue
            if form == self.form or self.holds(form):
                raise KialiopsError(
                    self.home_name, "it exists but was not created by kialiops for home %s (labels "
                    "app.kubernetes.io/managed-by=kialiops, kialiops.io/home=%s missing)" % (
                        self.label_home, self.label_home),
                    "kialiops writes and removes only its own objects: delete it if it was made by "
                    "kiali-prepare-remote-cluster.sh or by hand (Kiali must not find cluster %s in two secrets), then "
                    "re-run" % self.cluster,
                    describe_object("Secret", live["metadata"]["name"], self.namespace))

    # --- credential ---------------------------------------------------------------------------------------
    def _token_secret(self, name):
        """The live legacy token Secret ``name`` of Kiali's service account on the remote, checked, or None."""
        p = self.params
        sa_ns, sa = p["service_account_namespace"], p["service_account"]
        live = self.module.remote.get("v1", "Secret", name, sa_ns)
        if live is not None:
            annotations = (live.get("metadata") or {}).get("annotations") or {}
            if live.get("type") != LEGACY_TYPE or annotations.get(SA_NAME_ANNOTATION) != sa:
                raise KialiopsError(
                    self.cluster, "it exists but is not a service-account token Secret of %s" % sa,
                    "Delete or rename it; kialiops uses this name for the legacy token of %s" % sa,
                    describe_object("Secret", name, sa_ns))
        return live

    def legacy_token(self, stored_token=None):
        """Ensure the legacy token Secret on the remote; ``(token or None, secret or None, created)``.

        Two names alternate (legacy_secret_names()): a rotation creates the other one and leaves the Secret whose
        token Kiali runs with in place, in ``self.superseded``. It is deleted only after the new credential is
        stored and Kiali told (legacy_cleanup=defer, then state=superseded_absent after the Kiali CR carries the
        new credentials digest), because deleting a token Secret revokes its token at once and a running Kiali
        keeps the token it read at start (kiali v2.28.0 kubernetes/client_factory.go, NewClientFactory).
        """
        p = self.params
        self.superseded = []
        if self.sa_pending:
            return None, None, True   # check mode, service account not created yet: nothing to read or dry-run
        remote = self.module.remote
        sa_ns, sa = p["service_account_namespace"], p["service_account"]
        names = legacy_secret_names(sa)
        lives = {n: self._token_secret(n) for n in names}
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
                self.record(self.cluster, lives[target], before, None)
                lives[target], tokens[target] = None, None
        self.superseded = [n for n in names if n != target and lives[n] is not None]
        sa_labels = (self.sa.get("metadata") or {}).get("labels") or {}
        labels = {k: sa_labels[k] for k in list(KIALI_LABELS) + [INSTANCE_KEY] if k in sa_labels}
        labels.update(owned_labels(self.label_home))
        desired = legacy_secret(sa_ns, sa, labels)
        desired["metadata"]["name"] = target
        live = lives[target]
        created = live is None
        remote.render(desired)
        if live is None or not contains(live, desired):
            before, after = remote.apply(desired)
            self.record(self.cluster, desired, before if live is not None else None, after)
        if live is not None and tokens[target]:
            return tokens[target], live, created
        if self.check_mode:
            return None, None, created
        token, live = wait_legacy_token(remote, sa_ns, target, p["legacy_timeout"], self.mask)
        return token, live, True

    def remove_superseded(self, names, stored_token):
        """Delete the superseded legacy token Secrets ``names`` on the remote (never the one ``stored_token`` is
        from, never one kialiops did not create). Returns the names deleted (or, in check mode, to delete)."""
        p = self.params
        remote = self.module.remote
        sa_ns = p["service_account_namespace"]
        allowed = set(legacy_secret_names(p["service_account"]))
        removed = []
        for name in names:
            if name not in allowed:
                self.warn("cluster %s: %s is not a legacy token Secret name of %s; left alone" % (
                    self.cluster, describe_object("Secret", name, sa_ns), p["service_account"]))
                continue
            live = self._token_secret(name)
            if live is None:
                continue
            if not is_owned(live, self.label_home):
                self.warn("cluster %s: %s was not created by kialiops for home %s; left alone" % (
                    self.cluster, describe_object("Secret", name, sa_ns), self.label_home))
                continue
            token = secret_token(live, self.mask)
            if token and token == stored_token and not self.check_mode:
                continue  # the credential Kiali is told to use: never revoke it
            before = remote.delete("v1", "Secret", name, sa_ns)
            self.record(self.cluster, live, before, None)
            removed.append(name)
        return removed

    # --- write --------------------------------------------------------------------------------------------
    def apply(self, obj, field_manager="kialiops"):
        """Server-side apply on the home; retries the create race of two concurrent first writers."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self.module.home.apply(obj, field_manager=field_manager)
            except KialiopsError as e:
                # A field conflict names the other manager and is final; an AlreadyExists/optimistic-lock
                # 409 means another run created or changed the Secret at the same moment: read and retry.
                if e.status != 409 or "field manager" in e.reason or attempt == CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def write(self, encoded, annotations):
        live = self.live[self.form]
        if self.form == PER_CLUSTER:
            obj = per_cluster_secret(self.namespace, self.cluster, self.label_home, encoded, annotations)
            stale = stale_annotations(live, PER_CLUSTER, self.cluster, obj["metadata"]["annotations"])
            self.module.home.render(obj)
            if live is None or not contains(live, obj) or stale:
                before, after = self.apply(obj)
                self.record(self.home_name, obj, before, after)
            return
        base = single_base(self.namespace, self.label_home)
        self.module.home.render(base)
        if live is None or not contains(live, base):
            before, after = self.apply(base)
            self.record(self.home_name, base, before, after)
        entry = single_entry(self.namespace, self.cluster, self.label_home, encoded, annotations)
        self.module.home.render(entry)
        if live is None or not contains(live, entry) or stale_annotations(live, SINGLE, self.cluster, annotations):
            before, after = self.apply(entry, field_manager=single_manager(self.cluster))
            self.record(self.home_name, entry, before, after)

    def remove(self, form):
        """Remove this cluster's form ``form`` from the home (the Secret, or only its key). True if removed."""
        live = self.live[form]
        if live is None or not self.holds(form):
            return False
        name = live["metadata"]["name"]
        if not is_owned(live, self.label_home):
            self.warn("cluster %s: %s holds cluster %s but was not created by kialiops for home %s; left alone" % (
                self.home_name, describe_object("Secret", name, self.namespace), self.cluster, self.label_home))
            return False
        home = self.module.home
        if form == PER_CLUSTER:
            before = home.delete("v1", "Secret", name, self.namespace)
            self.record(self.home_name, live, before, None)
            return before is not None
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SINGLE_NAME, "namespace": self.namespace}}
        before, after = self.apply(body, field_manager=single_manager(self.cluster))
        self.record(self.home_name, body, before, after)
        if after is not None and self.cluster in (after.get("data") or {}):
            # Another manager (kubectl, an older tool) co-owns the key: remove just that key, atomically.
            after = self._json_patch_remove_key()
            self.record(self.home_name, body, before, after)
        self._delete_if_empty(after)
        return True

    def _json_patch_remove_key(self):
        return self.module.home.json_patch("v1", "Secret", SINGLE_NAME, self.namespace,
                                           [{"op": "remove", "path": "/data/" + self.cluster}],
                                           "remove key %s" % self.cluster)

    def _delete_if_empty(self, after):
        """Delete ``kiali-multi-cluster-secret`` once it holds no key, unless another run wrote to it meanwhile."""
        if after is None or after.get("data") or not is_owned(after, self.label_home):
            return
        home = self.module.home
        if self.check_mode:  # ``after`` is the dry-run answer; the live Secret still holds the key
            home.delete("v1", "Secret", SINGLE_NAME, self.namespace)
            self.record(self.home_name, after, after, None)
            return
        live = home.get("v1", "Secret", SINGLE_NAME, self.namespace)
        if live is None or live.get("data") or not is_owned(live, self.label_home):
            return
        # locked: None when gone already, or another run added a key meanwhile (then it is kept)
        before = home.delete("v1", "Secret", SINGLE_NAME, self.namespace, live=live, locked=True,
                             action="delete the emptied Secret")
        if before is not None:
            self.record(self.home_name, live, before, None)

    # --- the two states -----------------------------------------------------------------------------------
    def present(self):
        p = self.params
        other = SINGLE if self.form == PER_CLUSTER else PER_CLUSTER
        self.read_home()
        self.check_namespace()
        # The server goes into the stored kubeconfig: an http one is refused before anything is minted or written.
        check_stored_server(self.cluster, p.get("api_url") or self.module.remote.server, bool(p.get("api_url")))
        self.read_service_account()
        self.check_ownership()
        self.ask(removing_other=self.holds(other))
        server, ca_pem, ca_src, insecure = self.resolve_target()
        stored = self.stored(self.form) or self.stored(other)
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
        if self.mode == "legacy":
            token, token_secret, created = self.legacy_token((stored or {}).get("token"))
            want["legacy_token"] = token
            reuse, reason = decide(stored, want, now, p["rotate_after_percent"], p["force_rotate"])
            minted = bool(created and token)
            would_mint = token is None
            if token is None:
                token = PLACEHOLDER_TOKEN
            values["issued"] = ((token_secret or {}).get("metadata") or {}).get("creationTimestamp") or rfc3339(now)
        elif self.mode == "bound":
            reuse, reason = decide(stored, want, now, p["rotate_after_percent"], p["force_rotate"])
            if reuse and token_accepted(self.module.remote, stored["token"]) is False:
                reuse, reason = False, "the remote cluster no longer accepts the stored token"
            if reuse:
                token, claims = stored["token"], stored["claims"]
            elif not self.module.remote.may_mint:
                # (A GitOps export that asks for secrets mints for real: TokenRequest writes no object.)
                would_mint = True
                token, claims = PLACEHOLDER_TOKEN, dict(iat=int(now), exp=int(now) + p["token_ttl"])
            else:
                token, claims = request_token(self.module.remote, p["service_account_namespace"],
                                              p["service_account"], p["token_ttl"], self.mask)
                claims = claims or {}
                minted = True
                self._check_lifetime(claims)
            values.update(issued=rfc3339(claims.get("iat")), expires=rfc3339(claims.get("exp")), ttl=p["token_ttl"])
        else:
            reuse, reason = decide(stored, want, now)
        encoded = self._encoded(stored if reuse else None, server, ca_pem, token, insecure)
        self.write(encoded, token_annotations(self.form, self.cluster, values))
        self.remove(other)
        key = remote_secret_name(self.cluster) if self.form == PER_CLUSTER else SINGLE_NAME
        real_token = token if token != PLACEHOLDER_TOKEN else None
        superseded = list(self.superseded)
        if superseded and p.get("legacy_cleanup", "now") == "now":
            # Only now that the new credential is stored (check mode: would be).
            self.remove_superseded(superseded, real_token)
            superseded = []
        return dict(
            changed=self.changed or minted or would_mint,
            stored_digest=self.stored_digest(encoded),
            superseded_token_secrets=superseded,
            secret=dict(name=key, namespace=self.namespace, key=self.cluster),
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

    def stored_digest(self, encoded):
        """secret_digest() of the Secret Kiali mounts after this run's write (in check mode: would mount)."""
        data = dict(((self.live[self.form] or {}).get("data") or {}), **{self.cluster: encoded})
        return secret_digest({"data": data})

    def superseded_absent(self):
        """state=superseded_absent: delete the superseded legacy token Secrets, once Kiali was told."""
        self.read_home()
        stored = self.stored(self.form) or self.stored(PER_CLUSTER if self.form == SINGLE else SINGLE)
        stored_token = (stored or {}).get("token")
        names = self.params.get("superseded") or []
        if names and not stored_token and not self.check_mode:
            raise KialiopsError(self.home_name, "no stored credential for cluster %s, so the legacy token Secrets "
                                "%s may be the only ones Kiali has" % (self.cluster, ", ".join(names)),
                                "Store the credential first (state=present); nothing was deleted")
        removed = self.remove_superseded(names, stored_token)
        return dict(changed=self.changed, removed_token_secrets=removed, would_mint=False,
                    secret=dict(name=remote_secret_name(self.cluster) if self.form == PER_CLUSTER else SINGLE_NAME,
                                namespace=self.namespace, key=self.cluster), secret_mode=self.form)

    def _check_lifetime(self, claims):
        granted = (claims.get("exp") or 0) - (claims.get("iat") or 0)
        if claims.get("exp") and granted < self.params["token_ttl"] - 60:
            self.warn("cluster %s: the API server issued a token valid for %d s although token_ttl=%d was "
                      "requested (capped by --service-account-max-token-expiration); it is rotated after %d%% of "
                      "that" % (self.cluster, granted, self.params["token_ttl"], self.params["rotate_after_percent"]))

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
        self.mask(text)
        if stored is not None:
            try:
                same = yaml.safe_load(stored["text"]) == config
            except yaml.YAMLError:
                same = False
            if same:
                return stored["encoded"]
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        self.mask(encoded)
        return encoded

    def holding(self):
        """The forms that hold this cluster on the home (reads them)."""
        self.read_home()
        return [form for form in (PER_CLUSTER, SINGLE) if self.holds(form)]

    def check_removal(self):
        """SelfSubjectAccessReviews for what removal sends; raises before anything is removed."""
        ns = self.namespace
        denials = access_denials(self.module.home, [("get", "", "secrets", None, ns, None),
                                                    ("patch", "", "secrets", None, ns, None),
                                                    ("delete", "", "secrets", None, ns, None)])
        if denials:
            raise KialiopsError(self.home_name, "the credential lacks permissions: %s" % "; ".join(denials),
                                "Grant those verbs to the connection's credential. Nothing was removed")

    def absent(self, checked=False):
        holding = self.holding()
        if holding and not checked:
            self.check_removal()
        removed = [form for form in holding if self.remove(form)]
        key = remote_secret_name(self.cluster) if self.form == PER_CLUSTER else SINGLE_NAME
        return dict(changed=self.changed, secret=dict(name=key, namespace=self.namespace, key=self.cluster),
                    secret_mode=self.form, removed=removed, would_mint=False)

    def diff(self):
        return dict(before=self.diff_before, after=self.diff_after)


def ensure_remote_secret(module):
    """The module's result; raises KialiopsError (nothing written when it fails in validation)."""
    work = Work(module)
    work.check_options()
    state = module.params["state"]
    if state == "superseded_absent" and work.mode != "legacy":
        raise KialiopsError(work.cluster, "state=superseded_absent removes legacy token Secrets, and token_mode is %s"
                            % work.mode, "Use it with token_mode=legacy")
    result = dict(present=work.present, absent=work.absent, superseded_absent=work.superseded_absent)[state]()
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = work.diff()
    return result
