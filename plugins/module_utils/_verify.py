# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The verify_cluster module's work: read every cluster, judge what was read, one row per finding.

A row is ``{cluster, check, status, message, fix}``, status ``ok``, ``warn`` or ``fail``; ``cluster`` is the
cluster the finding is about (a missing remote secret is a row of that remote, although the secret lives on
Kiali's home). The ``judge_*`` functions are pure and unit-tested; the ``verify_*`` functions read (never
write: only GET, LIST and SelfSubjectAccessReviews) and hand what they read to them. A cluster that cannot be
read becomes a row too, so one unreachable cluster never hides the others.
"""

from __future__ import annotations

import base64
import hashlib
import time

from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import fingerprint
from ansible_collections.kialiops.multicluster.plugins.module_utils._auth import HOME_ONLY
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import rfc3339
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import (
    REMOTE_SECRET_PREFIX,
    remote_secret_name,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._openid import stored_configuration, verify_openid
from ansible_collections.kialiops.multicluster.plugins.module_utils._review import review_stored_credential
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    CLUSTER_ANNOTATION,
    MULTI_CLUSTER_LABEL,
    MULTI_CLUSTER_SELECTOR,
    SINGLE,
    SINGLE_LABEL,
    SINGLE_NAME,
    find_stored,
    secret_cluster,
    secret_form,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import lifetime_used

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:  # only the ACM checks need it; the module reports missing_required_lib then
    x509 = serialization = None

OK, WARN, FAIL = "ok", "warn", "fail"
STATUSES = (OK, WARN, FAIL)
DAY = 86400

KIALI_API_VERSION = "kiali.io/v1alpha1"

# ACM Observability names (the seed docs; the acm_metrics role writes the copies).
ACM_NAMESPACE = "open-cluster-management-observability"
ACM_CLIENT_CERT = "observability-grafana-certs"
ACM_SERVER_CA = "observability-server-ca-certs"
ACM_CLIENT_CA = "observability-client-ca-certs"
ACM_CERT_COPY = "acm-observability-certs"
CA_BUNDLE = "kiali-cabundle"
CA_BUNDLE_KEY = "additional-ca-bundle.pem"

PREPARE = "run playbooks/prepare.yml for %s"
ROTATE = ("token revoked/expired, run playbooks/rotate_tokens.yml or prepare.yml for %s "
          "(-e remote_prepare_force_rotate=true mints a new one)")
ACM_FIX = "run the acm_metrics role (kialiops.multicluster.acm_metrics) to copy it again from the hub"


def row(cluster, check, status, message, fix=""):
    """One finding. ``fix`` is what the operator runs or changes (empty for ok rows)."""
    if status not in STATUSES:
        raise ValueError("status must be one of %s, not %r" % (", ".join(STATUSES), status))
    return dict(cluster=cluster, check=check, status=status, message=message, fix=fix if status != OK else "")


def error_row(cluster, check, error):
    """A row for a KialiopsError raised while reading (the error already names cluster, reason and fix). An API
    server that never answered (clients connect at their first request) is the ``reachable`` check failing."""
    return row(error.cluster or cluster, "reachable" if error.unreachable else check, FAIL, error.reason,
               error.fix or "see the message")


def summary(rows):
    """``{ok, warn, fail}`` counts."""
    return {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES}


def days(seconds):
    """Whole days in ``seconds`` (towards zero), for "N days left"/"N days ago"."""
    return int(seconds / DAY)


def when(epoch, now):
    """``2026-03-01T10:00:00Z (89 days left)`` or ``(3 days ago)``; never the token itself."""
    delta = epoch - now
    if delta >= 0:
        return "%s (%d days left)" % (rfc3339(epoch), days(delta))
    return "%s (%d days ago)" % (rfc3339(epoch), days(-delta))


# --- home: the remote-cluster secrets ------------------------------------------------------------------------

def secret_entry(secret):
    """What judging needs of a remote secret: name, form, labels, annotation and key names, and the cluster it
    holds for Kiali (``owner``: secret_cluster()). Never values."""
    meta = secret.get("metadata") or {}
    return dict(name=meta.get("name"), form=secret_form(secret), labels=dict(meta.get("labels") or {}),
                cluster=(meta.get("annotations") or {}).get(CLUSTER_ANNOTATION), owner=secret_cluster(secret),
                keys=sorted((secret.get("data") or {}).keys()))


def _expected_name(cluster):
    try:
        return remote_secret_name(cluster)
    except ValueError:
        return None


def _where(home, namespace, name):
    return "Secret %s/%s on %s" % (namespace, name, home)


def judge_secrets(home, namespace, entries, remotes, secret_modes=None):
    """Remote secrets present on Kiali's home (``entries`` of secret_entry()) against the inventory's ``remotes``.

    ``secret_modes`` maps a remote to the form the inventory wants (per_cluster/single); a remote in the other
    form is a warning (prepare.yml moves it). Returns ``(rows, held)``, ``held`` mapping each cluster key found to
    the ``[(secret name, form)]`` that hold it.
    """
    rows, held = [], {}
    secret_modes = secret_modes or {}
    for entry in sorted((e for e in entries if e["form"]), key=lambda e: e["name"]):
        where = _where(home, namespace, entry["name"])
        if entry["form"] == SINGLE:
            if entry["labels"].get(SINGLE_LABEL) != "true":
                rows.append(row(home, "remote secrets", WARN, "%s is not labelled %s=true: the Kiali operator does not "
                                "restart Kiali when it changes" % (where, SINGLE_LABEL),
                                "re-run playbooks/prepare.yml (it labels the secret), or label it by hand"))
            if not entry["keys"]:
                rows.append(row(home, "remote secrets", WARN, "%s holds no cluster" % where,
                                "delete it, or run playbooks/prepare.yml with kialiops_secret_mode=single"))
        else:
            problems = []
            owner = entry["owner"]
            if not entry["cluster"]:
                problems.append("it has no %s annotation (the operator then names the mount after the secret)"
                                % CLUSTER_ANNOTATION)
            if len(entry["keys"]) != 1:
                problems.append("it holds %d keys (%s); Kiali reads exactly one cluster per secret"
                                % (len(entry["keys"]), ", ".join(entry["keys"]) or "none"))
            elif entry["cluster"] and entry["keys"][0] != entry["cluster"]:
                problems.append("annotation %s=%s but its key is %s (Kiali takes the key as the cluster name)"
                                % (CLUSTER_ANNOTATION, entry["cluster"], entry["keys"][0]))
            expected = _expected_name(owner) if owner else None
            if owner and expected != entry["name"]:
                shown = expected or "(none: %r is not a valid cluster name)" % owner
                problems.append("its name should be %s for cluster %s" % (shown, owner))
            if entry["labels"].get(MULTI_CLUSTER_LABEL) != "true":
                problems.append("it is not labelled %s=true, so the operator does not autodetect it"
                                % MULTI_CLUSTER_LABEL)
            if problems:
                subject = owner if owner in remotes else home
                rows.append(row(subject, "remote secrets", FAIL, "%s: %s" % (where, "; ".join(problems)),
                                "delete it and %s" % (PREPARE % owner) if owner in remotes else
                                "delete it, or rewrite it for a cluster of the inventory with playbooks/prepare.yml"))
        for key in entry["keys"]:
            held.setdefault(key, []).append((entry["name"], entry["form"]))

    for cluster in sorted(held):
        places = held[cluster]
        listed = " and ".join(_where(home, namespace, n) for n, f in places)
        if cluster == home:
            rows.append(row(home, "remote secrets", FAIL, "%s hold%s a credential for Kiali's home cluster %s itself"
                            % (listed, "s" if len(places) == 1 else "", home),
                            "delete it: Kiali reaches its home cluster with its own service account"))
            continue
        if cluster not in remotes:
            names = ", ".join(n for n, f in places)
            rows.append(row(cluster, "remote secrets", FAIL, "orphaned: %s hold%s cluster %s, which is not in the "
                            "inventory" % (listed, "s" if len(places) == 1 else "", cluster),
                            "remove it: ansible-playbook playbooks/remove_cluster.yml -e '{\"cluster_remove_clusters\": "
                            "[\"%s\"]}' (or -e kialiops_prune=true), or if kialiops did not create it kubectl -n %s "
                            "delete secret %s (only key %s if it is %s); or add %s to the inventory"
                            % (cluster, namespace, names, cluster, SINGLE_NAME, cluster)))
            continue
        if len(places) > 1:
            forms = sorted({f for n, f in places})
            rows.append(row(cluster, "remote secrets", FAIL, "duplicated: cluster %s is in %s%s; Kiali rejects the "
                            "same cluster in two secrets" % (cluster, listed,
                                                             " (both secret forms)" if len(forms) > 1 else ""),
                            "re-run playbooks/prepare.yml for %s with the kialiops_secret_mode you want (it removes "
                            "the other form), and delete any secret kialiops did not create" % cluster))
            continue
        name, form = places[0]
        want = secret_modes.get(cluster)
        if want and want != form:
            rows.append(row(cluster, "remote secrets", WARN, "stored in %s (%s form), but the inventory's "
                            "kialiops_secret_mode is %s" % (_where(home, namespace, name), form, want),
                            PREPARE % cluster + " (it moves the credential to the %s form)" % want))
        else:
            rows.append(row(cluster, "remote secrets", OK, "stored in %s (%s)" % (_where(home, namespace, name), form)))
    for cluster in remotes:
        if cluster not in held:
            rows.append(row(cluster, "remote secrets", FAIL, "missing: no remote-cluster secret for %s in namespace %s "
                            "on %s (%s%s or a key %s in %s)" % (cluster, namespace, home, REMOTE_SECRET_PREFIX,
                                                                cluster, cluster, SINGLE_NAME),
                            PREPARE % cluster))
    return rows, held


# --- home: the Kiali CR ------------------------------------------------------------------------------------

def _label_pair(selector):
    key, sep, value = (selector or MULTI_CLUSTER_SELECTOR).partition("=")
    return key.strip(), value.strip() if sep else None


def judge_kiali_cr(home, namespace, cr_name, cr, topology, entries, held, remotes):
    """The Kiali CR's ``spec.clustering`` (and the external-topology fields) against the remote secrets.

    ``cr`` is the live CR (None when absent). Returns rows; cluster names not in the inventory are rows of that
    cluster (orphaned entries), the rest rows of the home.
    """
    check = "kiali cr"
    if cr is None:
        return [row(home, check, FAIL, "no Kiali CR %s/%s on %s" % (namespace, cr_name, home),
                    "run playbooks/install.yml (role kiali_install)")]
    spec = cr.get("spec") or {}
    clustering = spec.get("clustering") or {}
    known = set(remotes) | {home}
    by_name = {e["name"]: e for e in entries if e["form"]}
    rows = []
    autodetect = clustering.get("autodetect_secrets") or {}
    auto_on = autodetect.get("enabled", True) is not False
    label_key, label_value = _label_pair(autodetect.get("label"))
    explicit = clustering.get("clusters") or []
    explicit_secrets = {c.get("secret_name") for c in explicit if c.get("secret_name")}

    for entry in explicit:
        name, secret = entry.get("name"), entry.get("secret_name")
        if name not in known:
            rows.append(row(name or home, check, FAIL, "orphaned: clustering.clusters of Kiali CR %s/%s lists cluster "
                            "%s, which is not in the inventory" % (namespace, cr_name, name),
                            "drop it from kiali_install_clusters and run playbooks/install.yml"))
            continue
        if not secret:
            continue  # an inaccessible cluster: declared on purpose, no credential
        found = by_name.get(secret)
        if found is None:
            rows.append(row(name, check, FAIL, "clustering.clusters entry %s names Secret %s, which does not exist in "
                            "%s on %s" % (name, secret, namespace, home), PREPARE % name))
        elif name not in found["keys"]:
            rows.append(row(name, check, FAIL, "clustering.clusters entry %s names Secret %s, which holds %s, not %s"
                            % (name, secret, ", ".join(found["keys"]) or "no key", name),
                            "correct secret_name in kiali_install_clusters and run playbooks/install.yml"))

    for cluster in sorted(c for c in held if c in remotes):
        for name, form in held[cluster]:
            if form == SINGLE:
                continue  # always mounted (optional: true)
            labels = by_name[name]["labels"]
            detected = auto_on and label_key and (labels.get(label_key) == label_value if label_value is not None
                                                  else label_key in labels)
            if not detected and name not in explicit_secrets:
                why = ("autodetect_secrets is off" if not auto_on else
                       "it lacks the autodetect label %s" % (autodetect.get("label") or MULTI_CLUSTER_SELECTOR))
                rows.append(row(cluster, check, FAIL, "Kiali does not mount Secret %s/%s: %s and clustering.clusters "
                                "has no entry with secret_name %s" % (namespace, name, why, name),
                                "run playbooks/install.yml with kiali_install_clusters listing %s, or re-run "
                                "playbooks/prepare.yml for %s (it labels the secret)" % (cluster, cluster)))

    for entry in clustering.get("kiali_urls") or []:
        name = entry.get("cluster_name")
        if name not in known:
            rows.append(row(name or home, check, FAIL, "orphaned: clustering.kiali_urls of Kiali CR %s/%s lists "
                            "cluster %s, which is not in the inventory" % (namespace, cr_name, name),
                            "drop it from kiali_install_kiali_urls and run playbooks/install.yml"))

    ignore_home = clustering.get("ignore_home_cluster") is True
    cluster_name = (spec.get("kubernetes_config") or {}).get("cluster_name")
    if topology == "external":
        if not ignore_home or cluster_name != home:
            rows.append(row(home, check, FAIL, "Kiali CR %s/%s runs on the external cluster %s but has "
                            "clustering.ignore_home_cluster=%s and kubernetes_config.cluster_name=%s (wanted true and "
                            "%s)" % (namespace, cr_name, home, ignore_home, cluster_name, home),
                            "run playbooks/install.yml (the external topology sets both)"))
    elif ignore_home:
        rows.append(row(home, check, FAIL, "Kiali CR %s/%s sets clustering.ignore_home_cluster=true although its home "
                        "%s is a mesh cluster (co-located topology)" % (namespace, cr_name, home),
                        "run playbooks/install.yml, or put the cluster in the inventory's external group"))

    if not rows:
        mode = ("autodetect (%s)" % (autodetect.get("label") or MULTI_CLUSTER_SELECTOR)) if auto_on else \
            "explicit clustering.clusters"
        rows.append(row(home, check, OK, "Kiali CR %s/%s mounts every remote secret: %s%s" % (
            namespace, cr_name, mode, ", ignore_home_cluster" if ignore_home else "")))
    strategy = (spec.get("auth") or {}).get("strategy")
    if strategy in HOME_ONLY and remotes:
        # accepted only with kialiops_allow_home_only_auth (preflight refuses it otherwise); say it on every verify
        rows.append(row(home, "auth", WARN, "Kiali CR %s/%s uses auth strategy %s: logged-in users see the home "
                        "cluster %s only, not %s (kiali v2.28.0 handlers/authentication/token_auth_controller.go)" % (
                            namespace, cr_name, strategy, home, ", ".join(sorted(remotes))),
                        "set kialiops_auth_strategy: openid or anonymous and run playbooks/install.yml"))
    return rows


# --- remotes: the stored credential -------------------------------------------------------------------------

def token_kind(parsed, claims):
    """``exec``, ``bound`` (a JWT with exp), ``legacy`` (a JWT without exp), ``token`` (not a JWT) or None."""
    if parsed.get("exec"):
        return "exec"
    if not parsed.get("token"):
        return None
    if claims is None:
        return "token"
    return "bound" if claims.get("exp") is not None else "legacy"


def judge_token(cluster, kind, claims, now, rotate_after_percent=80, expected_mode=None, annotated_mode=None):
    """Kind and expiry of the stored credential, decoded locally. Returns rows (check ``token``)."""
    check = "token"
    rows = []
    if kind is None:
        return [row(cluster, check, FAIL, "the stored kubeconfig holds neither a token nor an exec config",
                    PREPARE % cluster)]
    if kind == "exec":
        rows.append(row(cluster, check, OK, "exec credential plugin: no token is stored, the plugin's provider "
                        "manages its expiry"))
    elif kind == "token":
        rows.append(row(cluster, check, WARN, "the stored token is not a service-account JWT: kind and expiry unknown",
                        PREPARE % cluster + " to store a service-account token"))
    elif kind == "legacy":
        rows.append(row(cluster, check, OK, "legacy token (service-account token Secret): never expires, revoked by "
                        "deleting its Secret"))
    else:
        exp = claims["exp"]
        used = lifetime_used(claims, now)
        if now >= exp:
            rows.append(row(cluster, check, FAIL, "bound token expired %s" % when(exp, now), ROTATE % cluster))
        elif used is not None and used * 100 >= rotate_after_percent:
            rows.append(row(cluster, check, WARN, "bound token expires %s: %.0f%% of its lifetime used, past the "
                            "rotation threshold of %d%%" % (when(exp, now), used * 100, rotate_after_percent),
                            "run playbooks/rotate_tokens.yml (schedule it: it rotates only what is due)"))
        else:
            rows.append(row(cluster, check, OK, "bound token, expires %s" % when(exp, now)))
    stored_mode = kind if kind in ("bound", "legacy", "exec") else None
    if expected_mode and stored_mode and expected_mode != stored_mode:
        rows.append(row(cluster, check, WARN, "the stored credential is %s, the inventory's kialiops_token_mode is %s"
                        % (stored_mode, expected_mode), PREPARE % cluster + " to replace it"))
    elif annotated_mode and stored_mode and annotated_mode != stored_mode:
        rows.append(row(cluster, check, WARN, "the secret's annotation says token mode %s, the stored credential is %s"
                        % (annotated_mode, stored_mode), PREPARE % cluster + " to rewrite it"))
    return rows


def judge_connection_error(cluster, error, kind=None):
    """Rows ``reachable``/``authenticates`` for a KialiopsError raised while using the stored credential.

    ``kind`` is the stored credential's (token_kind()); with ``exec`` the controller runs the credential plugin itself
    to check, so a plugin missing here fails too, and the fix says so."""
    if error.status == 401:
        return [row(cluster, "reachable", OK, "the API server answered"),
                row(cluster, "authenticates", FAIL, "the API server rejected Kiali's stored credential (401 "
                    "Unauthorized): the token is revoked, expired or issued by another cluster", ROTATE % cluster)]
    if error.status is None:
        fix = error.fix
        if kind == "exec":
            fix += ("; with an exec credential this controller runs the plugin of the stored kubeconfig to check, so "
                    "it must be installed here too")
        return [row(cluster, "reachable", FAIL, error.reason, fix)]
    return [row(cluster, "reachable", OK, "the API server answered"),
            row(cluster, "rbac", FAIL, error.reason, error.fix or PREPARE % cluster)]


def judge_review(cluster, result, mismatch):
    """Rows ``reachable``/``authenticates``/``rbac`` from review_stored_credential()'s answer."""
    identity = result.get("identity") or "an identity the server would not tell"
    rows = [row(cluster, "reachable", OK, "the API server answered"),
            row(cluster, "authenticates", OK, "as %s" % identity)]
    s = result["summary"]
    if mismatch is not None:
        rows.append(row(cluster, "rbac", FAIL, mismatch.reason, mismatch.fix))
    elif not s["total"]:
        rows.append(row(cluster, "rbac", FAIL, "no permission was checked", "this is a bug in kialiops"))
    else:
        rows.append(row(cluster, "rbac", OK, "%d/%d permission checks as expected for the %s role (%d reads, %d writes)"
                        % (s["passed"], s["total"], result["role_kind"], s["reads"], s["writes"])))
    return rows


# --- ACM -----------------------------------------------------------------------------------------------------

def _require_crypto():
    if x509 is None:
        raise ImportError("the ACM checks need the Python library cryptography")


def certificates(pem):
    """Certificates in PEM text: ``[{subject, issuer, not_after (epoch), fingerprint}]`` (fingerprint of DER)."""
    _require_crypto()
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise ValueError("not PEM certificates: %s" % e) from e
    out = []
    for cert in certs:
        der = cert.public_bytes(serialization.Encoding.DER)
        out.append(dict(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                        not_after=int(cert.not_valid_after_utc.timestamp()),
                        fingerprint="sha256:" + hashlib.sha256(der).hexdigest()[:16]))
    return out


def _expiry(cluster, check, what, cert, now, warn_days, fix):
    left = cert["not_after"] - now
    if left <= 0:
        return row(cluster, check, FAIL, "%s expired %s" % (what, when(cert["not_after"], now)), fix)
    if left < warn_days * DAY:
        text = "%s expires %s, within %d days" % (what, when(cert["not_after"], now), warn_days)
        return row(cluster, check, WARN, text, fix)
    return None


def _decoded(obj, key, secret=True):
    value = ((obj or {}).get("data") or {}).get(key)
    if not value:
        return None
    return base64.b64decode(value).decode("utf-8", "replace") if secret else value


def judge_client_cert(hub, home, namespace, hub_secret, copy_secret, now, warn_days=30):
    """ACM's client certificate on the hub vs Kiali's copy on its home: same bytes, and not (nearly) expired."""
    check = "acm client cert"
    if hub_secret is None:
        return [row(hub, check, FAIL, "Secret %s/%s is missing on the hub %s" % (ACM_NAMESPACE, ACM_CLIENT_CERT, hub),
                    "install ACM Observability (MultiClusterObservability) on %s, or set kialiops_acm_enabled: false"
                    % hub)]
    if copy_secret is None:
        return [row(home, check, FAIL, "Secret %s/%s (Kiali's copy of %s) is missing on %s"
                    % (namespace, ACM_CERT_COPY, ACM_CLIENT_CERT, home), ACM_FIX)]
    rows = []
    hub_crt, copy_crt = _decoded(hub_secret, "tls.crt"), _decoded(copy_secret, "tls.crt")
    hub_key, copy_key = _decoded(hub_secret, "tls.key"), _decoded(copy_secret, "tls.key")
    missing = [k for k, v in (("tls.crt", copy_crt), ("tls.key", copy_key)) if not v]
    if missing:
        text = "Secret %s/%s on %s lacks %s" % (namespace, ACM_CERT_COPY, home, " and ".join(missing))
        return [row(home, check, FAIL, text, ACM_FIX)]
    try:
        cert = certificates(copy_crt)[0]
    except (ValueError, IndexError):
        return [row(home, check, FAIL, "tls.crt of Secret %s/%s on %s is not a PEM certificate"
                    % (namespace, ACM_CERT_COPY, home), ACM_FIX)]
    if fingerprint(hub_crt or "") != fingerprint(copy_crt) or fingerprint(hub_key or "") != fingerprint(copy_key):
        rows.append(row(home, check, FAIL, "Secret %s/%s on %s differs from %s/%s on the hub %s (tls.crt %s vs %s%s): "
                        "ACM rotated its certificate since the copy was made"
                        % (namespace, ACM_CERT_COPY, home, ACM_NAMESPACE, ACM_CLIENT_CERT, hub,
                           fingerprint(copy_crt), fingerprint(hub_crt or ""),
                           "; tls.key differs" if fingerprint(hub_key or "") != fingerprint(copy_key) else ""),
                        ACM_FIX))
    problem = _expiry(home, check, "the client certificate in %s/%s" % (namespace, ACM_CERT_COPY), cert, now,
                      warn_days, ACM_FIX + " once ACM has renewed it (ACM renews at 80% of its lifetime)")
    if problem:
        rows.append(problem)
    if not rows:
        rows.append(row(home, check, OK, "%s/%s matches the hub's %s (%s), expires %s"
                        % (namespace, ACM_CERT_COPY, ACM_CLIENT_CERT, fingerprint(copy_crt),
                           when(cert["not_after"], now))))
    return rows


def judge_ca_bundle(hub, home, namespace, configmap, server_ca, client_ca, now, warn_days=30):
    """Kiali's CA bundle ConfigMap vs the hub's observability server and client CAs: a match, and expiry."""
    check = "acm ca bundle"
    hub_cas = {}
    for name, secret in ((ACM_SERVER_CA, server_ca), (ACM_CLIENT_CA, client_ca)):
        pem = _decoded(secret, "ca.crt")
        if pem:
            try:
                hub_cas[name] = certificates(pem)
            except ValueError:
                pass
    if not hub_cas:
        return [row(hub, check, FAIL, "neither Secret %s/%s nor %s/%s holds a ca.crt on the hub %s"
                    % (ACM_NAMESPACE, ACM_SERVER_CA, ACM_NAMESPACE, ACM_CLIENT_CA, hub),
                    "install ACM Observability on %s, or set kialiops_acm_enabled: false" % hub)]
    bundle = ((configmap or {}).get("data") or {}).get(CA_BUNDLE_KEY)
    if not bundle:
        return [row(home, check, FAIL, "ConfigMap %s/%s on %s %s" % (
            namespace, CA_BUNDLE, home, "is missing" if configmap is None else "has no key %s" % CA_BUNDLE_KEY),
            ACM_FIX)]
    try:
        certs = certificates(bundle)
    except ValueError:
        certs = []
    if not certs:
        return [row(home, check, FAIL, "key %s of ConfigMap %s/%s on %s holds no PEM certificate"
                    % (CA_BUNDLE_KEY, namespace, CA_BUNDLE, home), ACM_FIX)]
    matched = None
    for name, cas in sorted(hub_cas.items()):
        prints = {c["fingerprint"] for c in cas}
        hit = [c for c in certs if c["fingerprint"] in prints]
        if hit:
            matched = (name, hit[0])
            break
    rows = []
    if matched is None:
        rows.append(row(home, check, FAIL, "ConfigMap %s/%s on %s matches neither %s nor %s on the hub %s (bundle %s)"
                        % (namespace, CA_BUNDLE, home, ACM_SERVER_CA, ACM_CLIENT_CA, hub,
                           ", ".join(c["fingerprint"] for c in certs)), ACM_FIX))
    cert = matched[1] if matched else min(certs, key=lambda c: c["not_after"])
    problem = _expiry(home, check, "the CA in %s/%s" % (namespace, CA_BUNDLE), cert, now, warn_days,
                      ACM_FIX + " once ACM has renewed its CA")
    if problem:
        rows.append(problem)
    if not rows:
        rows.append(row(home, check, OK, "%s/%s matches the hub's %s (%s), expires %s" % (
            namespace, CA_BUNDLE, matched[0], cert["fingerprint"], when(cert["not_after"], now))))
    return rows


# --- what the module runs: read, then judge ----------------------------------------------------------------

def would_store(cluster, result):
    """In check mode, the row that replaces the checks of a credential this run would store anew (``result``: the
    remote_secret module's result for ``cluster`` in this run, holding no credential); None when it would not."""
    if not (result or {}).get("changed"):
        return None
    token = result.get("token") or {}
    ttl = token.get("ttl")
    valid = " valid %d days" % (ttl // 86400) if ttl and ttl >= 86400 else ""
    what = "mint a %s token%s and store" % (token.get("mode") or "new", valid) if result.get("would_mint") else "store"
    where = (result.get("secret") or {}).get("name") or "its remote-cluster secret"
    return row(cluster, "credential", OK, "would %s its kubeconfig in %s (check mode: nothing was minted or written, "
               "so the stored credential is verified by the real run)" % (what, where))


def _predicted_rows(rows, predicted):
    """Check mode: the failing rows that only say what this run would have written become ok rows saying "would"."""
    stored = {c for c, r in predicted.items() if c != "kiali_cr" and isinstance(r, dict) and r.get("changed")}
    out = []
    for r in rows:
        if r["status"] == FAIL and r["check"] == "remote secrets" and r["cluster"] in stored and \
                r["message"].startswith("missing:"):
            r = row(r["cluster"], r["check"], OK, "would be stored by this run (check mode: nothing was written)")
        out.append(r)
    return out


def verify_home(home, params, predicted=None):
    """Rows of the home scope: remote secrets vs the inventory, the Kiali CR vs the secrets. ``predicted`` (check
    mode): what this run would have written (see the verify_cluster module's option)."""
    predicted = predicted or {}
    namespace, name = params["namespace"], home.cluster
    remotes = list(params.get("remotes") or [])
    cr_name = params.get("cr_name") or params["instance_name"]
    try:
        secrets = home.list("v1", "Secret", namespace=namespace)
    except KialiopsError as e:
        return [error_row(name, "remote secrets", e)]
    entries = [secret_entry(s) for s in secrets]
    del secrets  # values are not needed (nor kept) past this point
    rows, held = judge_secrets(name, namespace, entries, remotes, params.get("secret_modes"))
    rows = _predicted_rows(rows, predicted)
    try:
        if KIALI_API_VERSION not in home.api_groups():
            rows.append(row(name, "kiali cr", FAIL, "%s does not serve kind Kiali (%s): the Kiali CRD is missing"
                            % (name, KIALI_API_VERSION), "install the Kiali operator on %s, then run "
                            "playbooks/install.yml" % name))
            return rows
        cr = home.get(KIALI_API_VERSION, "Kiali", cr_name, namespace)
    except KialiopsError as e:
        rows.append(error_row(name, "kiali cr", e))
        return rows
    if cr is None and predicted.get("kiali_cr") == "created":
        rows.append(row(name, "kiali cr", OK, "Kiali CR %s/%s would be created by this run (check mode: nothing was "
                        "written)" % (namespace, cr_name)))
        return rows
    rows.extend(judge_kiali_cr(name, namespace, cr_name, cr, params.get("topology") or "co-located", entries, held,
                               remotes))
    return rows


def verify_remote(home, params, mask, now=None):
    """Rows of one remote: stored credential (kind, expiry), reachable, authenticates, RBAC for its mode."""
    remote = params["remote_cluster"]
    now = time.time() if now is None else now
    namespace = params["namespace"]
    try:
        stored, dummy = find_stored(home, namespace, remote, params["secret_mode"], mask)
    except KialiopsError as e:
        return [error_row(remote, "credential", e)]
    if stored is None:
        return [row(remote, "credential", FAIL, "no credential for %s is stored on Kiali's home %s (namespace %s)"
                    % (remote, home.cluster, namespace), PREPARE % remote)]
    try:
        parsed = stored.credential()
    except ValueError as e:
        return [row(home.cluster, "credential", FAIL, "the kubeconfig stored for %s in Secret %s/%s is not usable: %s"
                    % (remote, namespace, stored.secret_name, e), PREPARE % remote)]
    claims, annotated = parsed["claims"], parsed["mode"]
    kind = token_kind(parsed, claims)
    rows = judge_token(remote, kind, claims, now, params["rotate_after_percent"], params.get("token_mode"), annotated)
    if params.get("openid_id_token") and parsed.get("server"):
        # Kiali reaches the remote at the stored kubeconfig's server and CA, with the user's ID token under openid
        rows.append(verify_openid(remote, stored_configuration(parsed), params, now))
    try:
        result, mismatch = review_stored_credential(home, params, mask, stored)
    except KialiopsError as e:
        rows.extend(judge_connection_error(remote, e, kind))
        return rows
    rows.extend(judge_review(remote, result, mismatch))
    return rows


def verify_acm(home, hub, params, mask, now=None):
    """Rows of the ACM checks: the client certificate copy and the CA bundle, each against the hub.

    The private keys read (``tls.key`` of the hub's Secret and of the copy) are masked as soon as they are read."""
    now = time.time() if now is None else now
    namespace, warn_days = params["namespace"], params["expiry_warn_days"]
    rows = []
    try:
        hub_secret = hub.get("v1", "Secret", ACM_CLIENT_CERT, ACM_NAMESPACE)
        mask(*key_material(hub_secret))
        server_ca = hub.get("v1", "Secret", ACM_SERVER_CA, ACM_NAMESPACE)
        client_ca = hub.get("v1", "Secret", ACM_CLIENT_CA, ACM_NAMESPACE)
    except KialiopsError as e:
        return [error_row(hub.cluster, "acm", e)]
    try:
        copy_secret = home.get("v1", "Secret", ACM_CERT_COPY, namespace)
        mask(*key_material(copy_secret))
        configmap = home.get("v1", "ConfigMap", CA_BUNDLE, namespace)
    except KialiopsError as e:
        return [error_row(home.cluster, "acm", e)]
    rows.extend(judge_client_cert(hub.cluster, home.cluster, namespace, hub_secret, copy_secret, now, warn_days))
    rows.extend(judge_ca_bundle(hub.cluster, home.cluster, namespace, configmap, server_ca, client_ca, now, warn_days))
    return rows


def key_material(*secrets):
    """The values of ``tls.key`` in Secrets (decoded), to mask before anything else is done with them."""
    out = []
    for secret in secrets:
        value = ((secret or {}).get("data") or {}).get("tls.key")
        if value:
            out.append(value)
            out.append(base64.b64decode(value).decode("utf-8", "replace"))
    return out
