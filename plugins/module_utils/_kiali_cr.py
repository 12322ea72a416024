# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The Kiali custom resource on Kiali's home cluster (the kiali_cr module's work).

Pure parts (unit-tested): build_cr(), deep_merge(), reconcile_value(), immutable_changes(); the auth rules are
_auth.check_auth().
Then the cluster steps: validate (auth rules, the Kiali CRD is served, immutable fields, a server-side dry-run
apply with strict field validation), then write with ClusterService.ensure() so a rerun sends nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json

from ansible_collections.kialiops.multicluster.plugins.module_utils._auth import HOME_ONLY, check_auth, check_home_only
from ansible_collections.kialiops.multicluster.plugins.module_utils._change import UNCHANGED, Change
from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import normalise
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import owned_labels
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    CLUSTER_ANNOTATION,
    MULTI_CLUSTER_SELECTOR,
    SINGLE_NAME,
    secret_digest,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import FIELD_MANAGER, contains

API_VERSION = "kiali.io/v1alpha1"
KIND = "Kiali"
CRD = "kialis.kiali.io"
RECONCILE_KEY = "kiali.io/reconcile"
# Kiali builds its service-account client for each remote once, at start (kiali v2.28.0
# kubernetes/client_factory.go, NewClientFactory, reading /kiali-remote-cluster-secrets/<secret>/<key>): a new token
# in a Secret that keeps its name is used only after a restart. The operator renders spec.deployment.pod_annotations
# into the pod template (kiali-operator v2.28.0 roles/default/kiali-deploy/templates/*/deployment.yaml, lines 40-41),
# so a new value of this entry is one rolling restart. kiali.io/reconcile only makes the operator reconcile (it mounts
# added secrets, unmounts removed ones) and does not restart Kiali for new contents of a secret that stays.
RESTART_KEY = "kialiops.io/credentials-digest"
# The Kiali CRD (deployment.pod_annotations): "By default, the following annotation is applied: proxy.istio.io/config:
# '{ "holdApplicationUntilProxyStarts": true }'. If you define your own pod_annotations, they will overwrite this
# default." Writing our entry must not drop it, unless pod_annotations are the user's own.
DEFAULT_POD_ANNOTATIONS = {"proxy.istio.io/config": '{ "holdApplicationUntilProxyStarts": true }'}
# Digest of the spec we send: when we stop sending a field the digest changes, so ensure() applies and
# server-side apply removes the field we no longer own.
APPLIED_KEY = "kialiops.io/spec-digest"
# Fields the operator refuses to change on an existing CR (it would orphan the old deployment).
IMMUTABLE = ("instance_name", "namespace", "remote_cluster_resources_only")
# status.deployment as the operator reports it (camelCase), next to spec's snake_case.
STATUS_KEYS = {"instance_name": ("instanceName", "instance_name"), "namespace": ("namespace",),
               "remote_cluster_resources_only": ("remoteClusterResourcesOnly", "remote_cluster_resources_only")}


def deep_merge(base, override):
    """A copy of ``base`` with ``override`` merged in: dicts merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _clean(items, keys):
    """List items reduced to the given keys, empty values dropped (an inaccessible cluster has no secret_name)."""
    return [{k: item[k] for k in keys if item.get(k) not in (None, "")} for item in items or []]


def build_cr(params, reconcile=None, restart=None, others_pod_annotations=False):
    """The Kiali CR kialiops wants, from the module's parameters (pure).

    ``restart``: the credentials digest written to ``spec.deployment.pod_annotations`` (see pod_annotations()).
    """
    instance = params["instance_name"]
    namespace = params["namespace"]
    home = params.get("home_cluster") or params["cluster_name"]
    if params.get("remote_resources_only"):
        # A CR on a remote cluster: the operator there renders only Kiali's service account and RBAC.
        spec = deep_merge({"auth": {"strategy": params["auth_strategy"]},
                           "deployment": {"instance_name": instance, "namespace": namespace,
                                          "view_only_mode": bool(params["view_only"]),
                                          "remote_cluster_resources_only": True}}, params.get("spec") or {})
        return {"apiVersion": API_VERSION, "kind": KIND,
                "metadata": {"name": params.get("name") or instance, "namespace": namespace,
                             "labels": owned_labels(home), "annotations": {APPLIED_KEY: spec_digest(spec)}},
                "spec": spec}
    clustering = {}
    if params.get("clusters"):
        clustering["autodetect_secrets"] = {"enabled": False}
        clustering["clusters"] = _clean(params["clusters"], ("name", "secret_name"))
    else:
        clustering["autodetect_secrets"] = {"enabled": True, "label": MULTI_CLUSTER_SELECTOR}
    if params.get("kiali_urls"):
        clustering["kiali_urls"] = _clean(params["kiali_urls"], ("cluster_name", "instance_name", "namespace", "url"))
    if params.get("enable_exec_provider"):
        clustering["enable_exec_provider"] = True
    spec = {
        "auth": {"strategy": params["auth_strategy"]},
        "deployment": {"instance_name": instance, "namespace": namespace,
                       "view_only_mode": bool(params["view_only"])},
        "clustering": clustering,
    }
    # Always written, never left to the CRD's default: the CR says what the topology needs, and kialiops relies
    # on no default it cannot see (the Kiali CRD defaults it to false; a CRD without that default would not).
    clustering["ignore_home_cluster"] = params.get("topology") == "external"
    spec["auth"].update(openid_spec(params))
    if params.get("topology") == "external":
        spec["kubernetes_config"] = {"cluster_name": params["cluster_name"]}
    if restart:
        spec["deployment"]["pod_annotations"] = pod_annotations(params.get("spec"), restart, others_pod_annotations)
    spec = deep_merge(spec, params.get("spec") or {})
    annotations = {APPLIED_KEY: spec_digest(spec)}
    if reconcile:
        annotations[RECONCILE_KEY] = reconcile
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": params.get("name") or instance, "namespace": namespace,
                     "labels": owned_labels(home), "annotations": annotations},
        "spec": spec,
    }


def spec_digest(spec):
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def reconcile_value(secrets, predicted=None):
    """Same secrets (names and data) -> same value -> no reconcile; 16 hex digits of sha256.

    ``predicted``: ``{secret name: secret_digest()}`` of what this run would store (check mode), replacing or adding
    to the live secrets, so that ``--check`` reports the change the real run makes.
    """
    digests = {s["metadata"]["name"]: secret_digest(s) for s in secrets}
    digests.update(predicted or {})
    h = hashlib.sha256()
    for name, digest in sorted(digests.items()):
        h.update(name.encode() + b"\0" + digest.encode() + b"\n")
    return h.hexdigest()[:16]


def pod_annotations(user_spec, digest, others=False):
    """``spec.deployment.pod_annotations`` kialiops sends: its credentials digest under RESTART_KEY, plus the
    operator's default annotation (DEFAULT_POD_ANNOTATIONS) which any pod_annotations would otherwise overwrite
    (Kiali CRD, deployment.pod_annotations) - unless the user defines pod_annotations (``user_spec``, the module's
    ``spec`` option, or ``others``: another field manager set entries on the live CR); the user's entries win."""
    user = ((user_spec or {}).get("deployment") or {})
    out = {} if ("pod_annotations" in user or others) else dict(DEFAULT_POD_ANNOTATIONS)
    out[RESTART_KEY] = digest
    out.update(user.get("pod_annotations") or {})
    return out


def foreign_pod_annotations(live):
    """Whether the live CR has pod_annotations entries that another field manager than ``kialiops`` owns."""
    for entry in ((live or {}).get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER:
            continue
        fields = ((((entry.get("fieldsV1") or {}).get("f:spec") or {}).get("f:deployment") or {})
                  .get("f:pod_annotations") or {})
        if any(k.startswith("f:") for k in fields):
            return True
    return False


def immutable_changes(live, desired):
    """``[(field, live value, wanted value)]`` for deployment fields the operator cannot change in place."""
    if not live:
        return []
    wanted = (desired.get("spec") or {}).get("deployment") or {}
    spec_dep = (live.get("spec") or {}).get("deployment") or {}
    status_dep = (live.get("status") or {}).get("deployment") or {}
    changes = []
    for field in IMMUTABLE:
        want = wanted.get(field)
        have = spec_dep.get(field)
        for key in STATUS_KEYS[field]:
            if status_dep.get(key) not in (None, ""):
                have = status_dep[key]
                break
        if field == "remote_cluster_resources_only":
            want, have = bool(want), bool(have)
        elif have in (None, "") or want in (None, ""):
            continue
        if want != have:
            changes.append(("deployment." + field, have, want))
    return changes


def _remote_secrets(service, namespace, secret_mode, ignore=()):
    """The secrets whose set the nudge digests: per-cluster ones, plus kiali-multi-cluster-secret unless in
    ``single`` mode (the operator restarts Kiali itself when that labelled secret changes: no nudge twice).
    ``ignore``: Secrets being removed in this run (still there in check mode)."""
    secrets = [s for s in service.list("v1", "Secret", namespace=namespace, label_selector=MULTI_CLUSTER_SELECTOR)
               if s["metadata"]["name"] != SINGLE_NAME and s["metadata"]["name"] not in ignore]
    if secret_mode != "single":
        single = service.get("v1", "Secret", SINGLE_NAME, namespace=namespace)
        if single is not None:
            secrets.append(single)
    return secrets


def _stored_clusters(service, namespace, secrets, params):
    """Names of the remote clusters this Kiali would read: the per-cluster secrets (their kiali.io/cluster
    annotation, else their name), the keys of kiali-multi-cluster-secret, and O(clusters) with a secret."""
    names = {((s["metadata"].get("annotations") or {}).get(CLUSTER_ANNOTATION) or s["metadata"]["name"])
             for s in secrets if s["metadata"]["name"] != SINGLE_NAME}
    single = service.get("v1", "Secret", SINGLE_NAME, namespace=namespace)
    names.update((single or {}).get("data") or {})
    names.update(c["name"] for c in params.get("clusters") or [] if c.get("secret_name"))
    return sorted(names)


# A field the Kiali CRD does not know: the fix in the error of the strict dry-run (%s is "it" or "them"). A Kiali
# CRD keeps unknown fields in some subtrees (x-kubernetes-preserve-unknown-fields) and prunes them in others;
# strict validation catches the pruning, and the answer must still hold every field we sent (refuse_dropped).
UNKNOWN_FIELDS_FIX = ("Correct or remove %s in kiali_install_cr_spec (the module's spec option); see the Kiali CR "
                      "reference for the field names. Nothing was written")


def _kind_served(service):
    return API_VERSION in service.api_groups()


def _digests(service, params):
    """``(secret names covered, kiali.io/reconcile value, credentials digest or None)`` on Kiali's home."""
    if params.get("remote_resources_only"):
        return [], None, None  # a remote-resources-only CR mounts no secrets: nothing to nudge or restart
    ignore = set(params.get("ignore_secrets") or ())
    secrets = _remote_secrets(service, params["namespace"], params["secret_mode"], ignore=ignore)
    # In check mode nothing was stored: what remote_secret said it would store stands in for the live data.
    predicted = {k: v for k, v in (params.get("secret_digests") or {}).items()
                 if k not in ignore and (k != SINGLE_NAME or params["secret_mode"] != "single")
                 } if service.check_mode else {}
    digest = reconcile_value(secrets, predicted)
    covered = sorted(set(s["metadata"]["name"] for s in secrets) | set(predicted))
    return covered, digest, digest if params.get("restart_on_change", True) else None


def kiali_cr(service, params, want_diff=False):
    """Validate, ask, write the Kiali CR on ``service`` (Kiali's home). Returns the module result."""
    cluster = service.cluster
    strategy, impersonation = params["auth_strategy"], params["impersonation"]
    if strategy == "openshift" or impersonation:
        platform = params["platform"] if params["platform"] != "auto" else service.platform()
        check_auth(cluster, strategy, impersonation, platform)
    if not _kind_served(service) and not params.get("create", True):
        # Kiali without its operator (helm) has no CR to tell: report the digest to set (README, Rotation sequence).
        covered, digest, restart = _digests(service, params)
        return dict(changed=False, name=params.get("name") or params["instance_name"], namespace=params["namespace"],
                    reconcile=digest, credentials_digest=restart, action="absent", secrets=covered, cr=None)
    if not _kind_served(service):
        raise KialiopsError(cluster, "cluster %s does not serve kind %s in %s (CustomResourceDefinition %s is "
                            "missing)" % (cluster, KIND, API_VERSION, CRD),
                            "install the Kiali operator first (it brings the CRD %s) on cluster %s, then re-run. "
                            "Nothing was written" % (CRD, cluster), status=404)
    namespace = params["namespace"]
    covered, digest, restart = _digests(service, params)
    if strategy in HOME_ONLY and not params.get("remote_resources_only"):
        # token and header show the home cluster only (see _auth.py): refused while Kiali has remotes
        stored = _remote_secrets(service, namespace, params["secret_mode"])
        check_home_only(cluster, strategy, _stored_clusters(service, namespace, stored, params),
                        params.get("allow_home_only"))
    name = params.get("name") or params["instance_name"]
    live = service.get(API_VERSION, KIND, name, namespace=namespace)
    desired = build_cr(params, reconcile=digest, restart=restart, others_pod_annotations=foreign_pod_annotations(live))
    if live is None and not params.get("create", True):
        # Only updates were asked for (cluster removal, prepare, rotation): no Kiali CR, nothing to reconcile.
        return dict(changed=False, name=name, namespace=namespace, reconcile=digest, credentials_digest=restart,
                    action="absent", secrets=covered, cr=None)
    changes = immutable_changes(live, desired)
    if changes:
        raise KialiopsError(
            cluster, "Kiali CR %s/%s exists with %s; the Kiali operator cannot change %s on an existing CR" % (
                namespace, name, ", ".join("%s=%s (wanted %s)" % c for c in changes),
                " or ".join(c[0] for c in changes)),
            "Keep the current value, or delete the CR (kubectl delete kiali %s -n %s; the operator then removes "
            "that Kiali) and re-run to create it with the new value. Nothing was written" % (name, namespace))
    change = Change()
    after = normalise(live)
    service.render(desired)
    if live is None or not contains(live, desired):
        service.dry_run_apply(desired, UNKNOWN_FIELDS_FIX)
        before, after = service.ensure(desired)
        change.record(desired, before, after)
    else:
        change.note(desired, UNCHANGED)
    result = dict(changed=change.changed, name=name, namespace=namespace, reconcile=digest, credentials_digest=restart,
                  action=change.objects()[0]["action"], secrets=covered, cr=after)
    if want_diff:
        result["diff"] = change.diff()
    return result


# auth.openid fields of the Kiali CR (CRD kialis.kiali.io, spec.auth.openid) that kialiops sets from options. The client
# secret is not among them: Kiali reads it from Secret deployment.secret_name, key oidc-secret (see _openid.py).
OPENID_FIELDS = ("issuer_uri", "client_id", "scopes", "username_claim", "disable_rbac", "api_proxy",
                 "api_proxy_ca_data", "insecure_skip_verify_tls")


def openid_spec(params):
    """``{"openid": {...}}`` for ``spec.auth`` when the strategy is ``openid``, else ``{}`` (pure).

    Only the fields given are written (None, "" and [] are left to Kiali's defaults; booleans are written as given),
    so a field the user sets in ``spec`` (kiali_install_cr_spec) still wins by the deep merge. Raises KialiopsError
    when issuer_uri or client_id is missing: Kiali cannot log anyone in without them.
    """
    if params.get("auth_strategy") != "openid":
        return {}
    given = params.get("openid") or {}
    openid = {k: given[k] for k in OPENID_FIELDS if given.get(k) not in (None, "", [])}
    user_openid = ((params.get("spec") or {}).get("auth") or {}).get("openid") or {}
    missing = [k for k in ("issuer_uri", "client_id") if k not in openid and not user_openid.get(k)]
    if missing:
        raise KialiopsError(params.get("cluster_name"), "auth strategy openid needs %s" % " and ".join(missing),
                            "Set %s (kiali_install_openid_* or kialiops_openid_* variables). Nothing was written"
                            % " and ".join("openid.%s" % m for m in missing))
    if openid.get("issuer_uri") and not str(openid["issuer_uri"]).startswith("https://"):
        raise KialiopsError(params.get("cluster_name"), "openid issuer_uri %s is not an https URL"
                            % openid["issuer_uri"], "Give the IdP's https issuer URL. Nothing was written")
    return {"openid": openid}
