# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The remote-cluster secrets on Kiali's home: names, markers, reading a stored kubeconfig, writing and removing.

Two forms, in Kiali's namespace on the home cluster:

- ``per_cluster``: Secret ``kiali-remote-cluster-secret-<cluster>`` (label ``kiali.io/multiCluster=true``,
  annotation ``kiali.io/cluster``), one key ``<cluster>``; annotations ``kialiops.io/token-*`` record the
  credential.
- ``single``: Secret ``kiali-multi-cluster-secret`` (label ``kiali.io/kiali-multi-cluster-secret=true``), one key
  per cluster. Each cluster's key and its ``kialiops.io/token-*.<cluster>`` annotations are applied by the field
  manager ``kialiops-<cluster>`` (the labels by ``kialiops``), so the server merges concurrent runs for
  different clusters and never drops a key; applying as that manager without the key removes it.

Pure parts (unit-tested): the markers, secret_cluster() and secret_form() (how Kiali takes a Secret),
StoredKubeconfig (decode, mask, parse one stored kubeconfig), the desired objects of each form. Then
find_stored() (the one reader: access_review, verify_cluster) and ClusterSecrets (one remote cluster's secrets:
remote_secret and remote_secrets read, write and remove through it).
"""

from __future__ import annotations

import base64
import json
import time

from ansible_collections.kialiops.multicluster.plugins.module_utils import _yaml as yaml
from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import fingerprint
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    KialiopsError,
    describe_object,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import parse_kubeconfig
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (  # noqa: F401 (re-exported)
    CLUSTER_ANNOTATION,
    MULTI_CLUSTER_LABEL,
    owned_labels,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import (
    REMOTE_SECRET_PREFIX,
    remote_secret_name,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._ownership import (
    ADOPTED,
    FOREIGN,
    Ownership,
    installer_marks,
    maker,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import access_denials, claims_or_none

PER_CLUSTER = "per_cluster"
SINGLE = "single"
FORMS = (PER_CLUSTER, SINGLE)
SINGLE_NAME = "kiali-multi-cluster-secret"
# The label the Kiali operator autodetects per-cluster secrets by: the CR's clustering.autodetect_secrets.label,
# "the name and value of a label that exists on all remote cluster secrets", default "kiali.io/multiCluster=true"
# (kiali-operator v2.28.0 roles/default/kiali-deploy/tasks/main.yml lists the Secrets of Kiali's namespace with it
# and skips kiali-multi-cluster-secret; the Kiali CR reference, kialis.kiali.io, gives the default). The key goes on
# the Secret with the value "true"; the selector (key=value) goes into the Kiali CR and into list requests.
MULTI_CLUSTER_SELECTOR = MULTI_CLUSTER_LABEL + "=true"
# On kiali-multi-cluster-secret: the operator restarts Kiali when a Secret with this label changes
# (kiali-operator playbooks/kiali-multi-cluster-secret-detected.yml).
SINGLE_LABEL = "kiali.io/kiali-multi-cluster-secret"
# The operator names a per-cluster secret's volume after CLUSTER_ANNOTATION (else after the Secret).
TOKEN_ANNOTATION = "kialiops.io/token-"
TOKEN_FIELDS = ("mode", "issued", "expires", "ttl")
# Annotation names are at most 63 characters: "token-expires." leaves 49 for the cluster name.
SINGLE_MAX_CLUSTER = 63 - len("token-expires.")
# Fields of a user entry that carry a credential: masked as soon as a stored kubeconfig is read.
USER_SECRET_FIELDS = ("token", "client-key-data", "password")
# kubectl apply stores the whole object (Secret data included) in this annotation: never show it.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONFLICT_RETRIES = 4


# --- which Secret holds which cluster -------------------------------------------------------------------------

def secret_name(form, cluster):
    """The name of the Secret of ``form`` that holds ``cluster``."""
    return remote_secret_name(cluster) if form == PER_CLUSTER else SINGLE_NAME


def secret_cluster(secret):
    """The cluster a per-cluster Secret holds, as Kiali reads it: its ``kiali.io/cluster`` annotation, else its
    only key; None when it names none (no annotation and not exactly one key)."""
    meta = secret.get("metadata") or {}
    keys = sorted((secret.get("data") or {}).keys())
    return (meta.get("annotations") or {}).get(CLUSTER_ANNOTATION) or (keys[0] if len(keys) == 1 else None)


def secret_form(secret):
    """``per_cluster``, ``single`` or None: how Kiali (or kialiops) would take ``secret`` as a remote secret."""
    meta = secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    name = meta.get("name") or ""
    if name == SINGLE_NAME or labels.get(SINGLE_LABEL) == "true":
        return SINGLE
    if (labels.get(MULTI_CLUSTER_LABEL) == "true" or name.startswith(REMOTE_SECRET_PREFIX)
            or CLUSTER_ANNOTATION in (meta.get("annotations") or {})):
        return PER_CLUSTER
    return None


def secret_digest(secret):
    """Fingerprint of a Secret's keys and values (never the values themselves)."""
    data = secret.get("data") or {}
    return fingerprint(json.dumps({k: fingerprint(v or "") for k, v in sorted(data.items())}, sort_keys=True))


# --- the credential annotations -------------------------------------------------------------------------------

def single_manager(cluster):
    """Field manager that owns ``cluster``'s key (and its annotations) in ``kiali-multi-cluster-secret``."""
    return "kialiops-" + cluster


def annotation_key(field, form, cluster):
    """``kialiops.io/token-<field>`` (per_cluster) or ``kialiops.io/token-<field>.<cluster>`` (single)."""
    return TOKEN_ANNOTATION + field + ("." + cluster if form == SINGLE else "")


def token_annotations(form, cluster, values):
    """The credential annotations of one cluster, ``values`` by field (None values left out)."""
    return {annotation_key(f, form, cluster): str(values[f]) for f in TOKEN_FIELDS if values.get(f) is not None}


def is_token_annotation(key, form, cluster):
    """Whether annotation ``key`` is one of ``cluster``'s credential annotations in the Secret of ``form``."""
    if not key.startswith(TOKEN_ANNOTATION):
        return False
    rest = key[len(TOKEN_ANNOTATION):]
    if form == SINGLE:
        return rest.endswith("." + cluster) and rest[:-len(cluster) - 1] in TOKEN_FIELDS
    return rest in TOKEN_FIELDS


def stale_annotations(live, form, cluster, desired):
    """Our credential annotations on ``live`` that ``desired`` (a dict) no longer has."""
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    return sorted(k for k in annotations if is_token_annotation(k, form, cluster) and k not in desired)


# --- reading a stored kubeconfig ------------------------------------------------------------------------------

def user_secrets(document):
    """The credential values of every user entry of a kubeconfig document (anything YAML gave), to mask."""
    users = document.get("users") if isinstance(document, dict) else None
    out = []
    for user in users if isinstance(users, list) else []:
        fields = (user or {}).get("user") if isinstance(user, dict) else None
        if isinstance(fields, dict):
            out.extend(fields.get(f) for f in USER_SECRET_FIELDS if isinstance(fields.get(f), str))
    return out


class StoredKubeconfig:
    """One remote cluster's kubeconfig as a Secret on Kiali's home stores it: decoded, every secret in it masked
    (through ``mask``) before anything else is done with it.

    ``document`` is the YAML mapping (None when the text is not one), for a client built from it; parse() is what
    kialiops and Kiali make of it (one cluster, one user).
    """

    def __init__(self, secret, form, cluster, mask):
        meta = secret.get("metadata") or {}
        self.secret_name = meta.get("name")
        self.namespace = meta.get("namespace")
        self.form = form
        self.cluster = cluster
        self.annotations = dict(meta.get("annotations") or {})
        self.encoded = secret["data"][cluster]
        mask(self.encoded)
        self.text = base64.b64decode(self.encoded).decode("utf-8", "replace")
        mask(self.text)
        try:
            document = yaml.safe_load(self.text)
        except yaml.YAMLError:
            document = None
        self.document = document if isinstance(document, dict) else None
        mask(*user_secrets(self.document))

    @classmethod
    def of(cls, secret, cluster, mask, form=None):
        """The kubeconfig ``secret`` stores for ``cluster``, or None when it holds no (non-empty) key ``cluster``."""
        if not ((secret or {}).get("data") or {}).get(cluster):
            return None
        return cls(secret, form or secret_form(secret) or PER_CLUSTER, cluster, mask)

    def parse(self):
        """parse_kubeconfig() of the text: ``{name, server, ca_data, ..., token, exec}``; ValueError if unusable."""
        return parse_kubeconfig(self.text)

    def credential(self):
        """parse() plus what the Secret records of the credential: ``form``, ``encoded``, ``text``, ``mode``,
        ``ttl`` (annotations), ``claims`` (of the token, decoded locally) and ``annotations`` by field. ValueError
        if the kubeconfig is unusable."""
        parsed = self.parse()
        parsed.update(
            form=self.form, encoded=self.encoded, text=self.text, mode=self.annotation("mode"), ttl=self.ttl(),
            claims=claims_or_none(parsed["token"]) if parsed.get("token") else None,
            annotations={f: self.annotation(f) for f in TOKEN_FIELDS})
        return parsed

    def annotation(self, field):
        """The ``kialiops.io/token-<field>`` annotation this cluster's credential carries (None if absent)."""
        return self.annotations.get(annotation_key(field, self.form, self.cluster))

    def ttl(self):
        value = self.annotation("ttl")
        return int(value) if value and value.isdigit() else None


def same_kubeconfig(text, config):
    """Whether the stored kubeconfig ``text`` says exactly ``config`` (a kubeconfig dict)."""
    try:
        return yaml.safe_load(text) == config
    except yaml.YAMLError:
        return False


def lookup_forms(secret_mode):
    """The forms a reader looks in, in order, for ``secret_mode`` ``auto``, ``per_cluster`` or ``single``."""
    return [form for form in FORMS if secret_mode in ("auto", form)]


def find_stored(home, namespace, cluster, secret_mode, mask):
    """The kubeconfig stored for ``cluster`` on the home (per-cluster Secret first), masked: ``(stored or None,
    names looked in)``. One GET per form looked in, none after the first that holds it."""
    names = []
    for form in lookup_forms(secret_mode):
        name = secret_name(form, cluster)
        names.append(name)
        stored = StoredKubeconfig.of(home.get("v1", "Secret", name, namespace), cluster, mask, form)
        if stored is not None:
            return stored, names
    return None, names


# --- the desired Secrets --------------------------------------------------------------------------------------

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


# --- what a run changed ---------------------------------------------------------------------------------------

def redacted(obj):
    """``obj`` with kubectl's last-applied annotation (a copy of the whole object, Secret data included) replaced
    by its fingerprint."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED not in annotations:
        return obj
    out = dict(obj, metadata=dict(obj["metadata"], annotations=dict(annotations)))
    out["metadata"]["annotations"][LAST_APPLIED] = fingerprint(annotations[LAST_APPLIED])
    return out


class Changes:
    """What one run changed: ``changed``, and the diff by ``<cluster>: <object>`` (first before, last after)."""

    def __init__(self):
        self.changed = False
        self.before, self.after = {}, {}

    def record(self, cluster, obj, before, after):
        meta = obj["metadata"]
        key = "%s: %s" % (cluster, describe_object(obj["kind"], meta["name"], meta.get("namespace")))
        if key not in self.before:
            self.before[key] = redacted(before)
        self.after[key] = redacted(after)
        if before != after:
            self.changed = True

    def diff(self):
        return dict(before=self.before, after=self.after)


# --- one remote cluster's secrets on the home -----------------------------------------------------------------

class ClusterSecrets:
    """The Secrets on Kiali's home that hold (or would hold) one remote ``cluster``: its per-cluster Secret and
    ``kiali-multi-cluster-secret``. read() reads both; stored(), write() and remove() work per form. Every write is
    recorded in ``changes``; kialiops writes and removes only what ``ownership`` (default: stored for ``label_home``)
    does not call foreign."""

    def __init__(self, home, namespace, cluster, label_home, changes, warn, ownership=None):
        self.home = home
        self.namespace = namespace
        self.cluster = cluster
        self.label_home = label_home
        self.ownership = ownership or Ownership(label_home)
        self.changes = changes
        self.warn = warn
        self.live = {PER_CLUSTER: None, SINGLE: None}

    def read(self):
        """GET both forms (per-cluster first)."""
        self.live = {form: self.home.get("v1", "Secret", secret_name(form, self.cluster), self.namespace)
                     for form in FORMS}

    def holds(self, form):
        """Whether the live Secret of ``form`` holds this cluster's key or annotations."""
        live = self.live[form]
        if live is None:
            return False
        if form == PER_CLUSTER:
            return True
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        return self.cluster in (live.get("data") or {}) or any(
            is_token_annotation(k, SINGLE, self.cluster) for k in annotations)

    def holding(self):
        """The forms that hold this cluster on the home (reads them)."""
        self.read()
        return [form for form in FORMS if self.holds(form)]

    def stored(self, form, mask):
        """What the live Secret of ``form`` stores for this cluster (StoredKubeconfig.credential()), or None; an
        unusable kubeconfig is None too, with a warning (it is replaced)."""
        stored = StoredKubeconfig.of(self.live[form], self.cluster, mask, form)
        if stored is None:
            return None
        try:
            return stored.credential()
        except ValueError as e:
            self.warn("cluster %s: the kubeconfig stored in %s is not usable (%s); it is replaced" % (
                self.home.cluster, describe_object("Secret", stored.secret_name, self.namespace), e))
            return None

    def check_namespace(self):
        """Fail before writing when Kiali's namespace does not exist (a 403 on reading it lets the write say)."""
        try:
            found = self.home.get("v1", "Namespace", self.namespace)
        except KialiopsError as e:
            if e.status == 403:
                return  # may not read namespaces: the write names a missing one anyway
            raise
        if found is None:
            raise KialiopsError(self.home.cluster, "namespace %s does not exist" % self.namespace,
                                "Set namespace to Kiali's namespace on the home cluster (or create it). Nothing was "
                                "written")

    def check_ownership(self, form):
        """Fail before writing when a Secret this run would write (form ``form``) or remove is not ours."""
        for other in FORMS:
            live = self.live[other]
            if live is None or self.ownership.verdict(live) != FOREIGN:
                continue
            if other == form or self.holds(other):
                made_by = maker(live)
                raise KialiopsError(
                    self.home.cluster, "it exists but was not created by kialiops for home %s (labels "
                    "app.kubernetes.io/managed-by=kialiops, kialiops.io/home=%s missing)%s" % (
                        self.label_home, self.label_home, "; it was made by the %s" % made_by if made_by else ""),
                    ("set kialiops_adopt: true (the module's adopt) to have kialiops take it over and store its own "
                     "credential in it, or delete it and re-run" if made_by and not self.ownership.adopt else
                     "kialiops writes and removes only its own objects: delete it if it was made by "
                     "kiali-prepare-remote-cluster.sh or by hand (Kiali must not find cluster %s in two secrets), "
                     "then re-run" % self.cluster),
                    describe_object("Secret", live["metadata"]["name"], self.namespace))

    def check_removal(self):
        """SelfSubjectAccessReviews for what removal sends; raises before anything is removed."""
        ns = self.namespace
        denials = access_denials(self.home, [("get", "", "secrets", None, ns, None),
                                             ("patch", "", "secrets", None, ns, None),
                                             ("delete", "", "secrets", None, ns, None)])
        if denials:
            raise KialiopsError(self.home.cluster, "the credential lacks permissions: %s" % "; ".join(denials),
                                "Grant those verbs to the connection's credential. Nothing was removed")

    def digest_after(self, form, encoded):
        """secret_digest() of the Secret of ``form`` Kiali mounts once it stores ``encoded`` for this cluster."""
        data = dict(((self.live[form] or {}).get("data") or {}), **{self.cluster: encoded})
        return secret_digest({"data": data})

    # --- write ----------------------------------------------------------------------------------------------
    def apply(self, obj, field_manager="kialiops"):
        """Server-side apply on the home; retries the create race of two concurrent first writers."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self.home.apply(obj, field_manager=field_manager)
            except KialiopsError as e:
                # A field conflict names the other manager and is final; an AlreadyExists/optimistic-lock
                # 409 means another run created or changed the Secret at the same moment: read and retry.
                if e.status != 409 or "field manager" in e.reason or attempt == CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def _record(self, obj, before, after):
        self.changes.record(self.home.cluster, obj, before, after)

    def write(self, form, encoded, annotations):
        """Store ``encoded`` (the base64 kubeconfig) and the credential ``annotations`` in the Secret of ``form``;
        nothing is sent when the live Secret already says so."""
        live = self.live[form]
        if form == PER_CLUSTER:
            obj = per_cluster_secret(self.namespace, self.cluster, self.label_home, encoded, annotations)
            stale = stale_annotations(live, PER_CLUSTER, self.cluster, obj["metadata"]["annotations"])
            self.home.render(obj)
            if live is not None and self.ownership.verdict(live) == ADOPTED:
                labels, notes = installer_marks(live, obj)
                before, after = self.home.adopt(obj, live, labels, notes)
                self._record(obj, before, after)
            elif live is None or not contains(live, obj) or stale:
                before, after = self.apply(obj)
                self._record(obj, before, after)
            return
        base = single_base(self.namespace, self.label_home)
        self.home.render(base)
        if live is None or not contains(live, base):
            before, after = self.apply(base)
            self._record(base, before, after)
        entry = single_entry(self.namespace, self.cluster, self.label_home, encoded, annotations)
        self.home.render(entry)
        if live is None or not contains(live, entry) or stale_annotations(live, SINGLE, self.cluster, annotations):
            before, after = self.apply(entry, field_manager=single_manager(self.cluster))
            self._record(entry, before, after)

    def remove(self, form):
        """Remove this cluster's form ``form`` from the home (the Secret, or only its key). True if removed."""
        live = self.live[form]
        if live is None or not self.holds(form):
            return False
        name = live["metadata"]["name"]
        if self.ownership.verdict(live) == FOREIGN:
            self.warn("cluster %s: %s holds cluster %s but was not created by kialiops for home %s; left alone" % (
                self.home.cluster, describe_object("Secret", name, self.namespace), self.cluster, self.label_home))
            return False
        if form == PER_CLUSTER:
            before = self.home.delete("v1", "Secret", name, self.namespace)
            self._record(live, before, None)
            return before is not None
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SINGLE_NAME, "namespace": self.namespace}}
        before, after = self.apply(body, field_manager=single_manager(self.cluster))
        self._record(body, before, after)
        if after is not None and self.cluster in (after.get("data") or {}):
            # Another manager (kubectl, an older tool) co-owns the key: remove just that key, atomically.
            after = self._json_patch_remove_key()
            self._record(body, before, after)
        self._delete_if_empty(after)
        return True

    def _json_patch_remove_key(self):
        return self.home.json_patch("v1", "Secret", SINGLE_NAME, self.namespace,
                                    [{"op": "remove", "path": "/data/" + self.cluster}], "remove key %s" % self.cluster)

    def _delete_if_empty(self, after):
        """Delete ``kiali-multi-cluster-secret`` once it holds no key, unless another run wrote to it meanwhile."""
        if after is None or after.get("data") or self.ownership.verdict(after) == FOREIGN:
            return
        home = self.home
        if home.check_mode:  # ``after`` is the dry-run answer; the live Secret still holds the key
            home.delete("v1", "Secret", SINGLE_NAME, self.namespace)
            self._record(after, after, None)
            return
        live = home.get("v1", "Secret", SINGLE_NAME, self.namespace)
        if live is None or live.get("data") or self.ownership.verdict(live) == FOREIGN:
            return
        # locked: None when gone already, or another run added a key meanwhile (then it is kept)
        before = home.delete("v1", "Secret", SINGLE_NAME, self.namespace, live=live, locked=True,
                             action="delete the emptied Secret")
        if before is not None:
            self._record(live, before, None)

    def absent(self, checked=False):
        """Remove this cluster from the home, every form that holds it; the forms removed. ``checked``: the
        access review for removal (check_removal()) was already asked."""
        holding = self.holding()
        if holding and not checked:
            self.check_removal()
        return [form for form in holding if self.remove(form)]
