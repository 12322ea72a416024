# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Credentials for Kiali's service account on a remote cluster: mint, wait, and decide when to reuse.

Three modes:

- ``bound``: a TokenRequest (``create serviceaccounts/token``) with ``expirationSeconds``; the token expires.
- ``legacy``: a ``kubernetes.io/service-account-token`` Secret ``<sa>-kialiops-token`` that
  kube-controller-manager's token controller fills with a token that never expires.
- ``exec``: no token; the kubeconfig carries the user's exec credential plugin config.

Every token joins the module's ``no_log_values`` (through the ``mask`` callback) the moment it is read.
``decide()`` is pure and unit-tested; the rest talks to the remote through a ClusterService.
"""

from __future__ import annotations

import base64
import time

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError, describe_object
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import (
    same_target,
    token_claims,
)

MODES = ("bound", "legacy", "exec")
TTL_MIN = 600  # the TokenRequest API's minimum expirationSeconds
TTL_MAX = 2 * 365 * 24 * 3600
TTL_DEFAULT = 90 * 24 * 3600
LEGACY_SUFFIX = "-kialiops-token"
LEGACY_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"


def subject(namespace, service_account):
    """The ``sub`` claim (and user name) of a service account's tokens."""
    return "system:serviceaccount:%s:%s" % (namespace, service_account)


def legacy_secret_name(service_account):
    """Name of the legacy token Secret kialiops creates for ``service_account`` on the remote."""
    return service_account + LEGACY_SUFFIX


def legacy_secret_names(service_account):
    """The two names kialiops alternates between for legacy token Secrets: a rotation creates the other one, so
    the old token keeps working until Kiali was told about the new one (then the old Secret is deleted)."""
    return legacy_secret_name(service_account), legacy_secret_name(service_account) + "-b"


def check_ttl(ttl):
    """``ttl`` if it is within what kialiops accepts, else ValueError naming the range."""
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not TTL_MIN <= ttl <= TTL_MAX:
        raise ValueError("token_ttl must be between %d seconds (10 minutes, the TokenRequest minimum) and %d "
                         "seconds (2 years), not %r" % (TTL_MIN, TTL_MAX, ttl))
    return ttl


def lifetime_used(claims, now):
    """Fraction (0..1+) of a token's lifetime (``iat`` to ``exp``) that has passed at ``now``; None if unknown."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if iat is None or exp is None or exp <= iat:
        return None
    return (now - iat) / float(exp - iat)


def decide(stored, want, now, rotate_after_percent=80, force_rotate=False):
    """Whether the stored credential can stay: ``(reuse, reason)``. Pure.

    ``stored`` (None when nothing is stored): the parsed kubeconfig (``parse_kubeconfig``) plus ``mode`` (from
    our annotations, None when unknown), ``ttl`` (the ttl it was requested with, None when unknown) and
    ``claims`` (``token_claims`` of its token, None when it has none or it does not decode).

    ``want``: ``mode``, ``server``, ``ca_data``, ``tls_server_name``, ``insecure_skip_tls_verify``, ``subject``
    (``system:serviceaccount:<ns>:<sa>``), ``sa_uid`` (the live service account's uid, or None), ``ttl``
    (bound), ``legacy_token`` (legacy: the token the live token Secret holds, or None), ``exec`` (exec: the
    normalised exec config).

    A token is reused when it is for the same service account (``sub``, and ``uid`` when both are known),
    the kubeconfig points at the same server with the same CA and TLS name, the mode is the same, and: bound,
    requested with the same ttl, not expired and less than ``rotate_after_percent`` of its lifetime used;
    legacy, the token Secret still holds the same token. Exec: reused when the exec config is the same.
    """
    if not stored:
        return False, "no kubeconfig is stored for this cluster"
    if force_rotate and want["mode"] != "exec":
        return False, "force_rotate is set"
    mode = stored.get("mode") or _infer_mode(stored)
    if mode != want["mode"]:
        return False, "the stored credential is of mode %s, %s is wanted" % (mode, want["mode"])
    if not same_target(stored, want["server"], want.get("ca_data"), want.get("tls_server_name"),
                       want.get("insecure_skip_tls_verify")):
        return False, "the stored kubeconfig points at another server, CA or TLS server name"
    if mode == "exec":
        if stored.get("exec") != want.get("exec"):
            return False, "the exec config changed"
        return True, "the stored exec config is current"
    claims = stored.get("claims")
    if not stored.get("token") or not claims:
        return False, "the stored kubeconfig holds no service-account token"
    if claims.get("sub") != want["subject"]:
        return False, "the stored token is for %s, not %s" % (claims.get("sub"), want["subject"])
    if want.get("sa_uid") and claims.get("service_account_uid") and claims["service_account_uid"] != want["sa_uid"]:
        return False, "the service account was recreated since the stored token was issued"
    if mode == "legacy":
        if not want.get("legacy_token"):
            return False, "the legacy token Secret is gone or empty"
        if want["legacy_token"] != stored["token"]:
            return False, "the legacy token Secret holds another token"
        return True, "the stored legacy token is the one the token Secret holds"
    if claims.get("exp") is None:
        return False, "the stored token has no expiry, a bound token is wanted"
    if now >= claims["exp"]:
        return False, "the stored token expired"
    if stored.get("ttl") != want.get("ttl"):
        return False, "token_ttl changed (stored token requested with %s, now %s)" % (
            stored.get("ttl"), want.get("ttl"))
    used = lifetime_used(claims, now)
    if used is None:
        return False, "the stored token has no usable iat/exp"
    if used * 100 >= rotate_after_percent:
        return False, "%.0f%% of the stored token's lifetime is used (rotate_after_percent=%d)" % (
            used * 100, rotate_after_percent)
    return True, "the stored token is current (%.0f%% of its lifetime used)" % (used * 100)


def _infer_mode(stored):
    if stored.get("exec"):
        return "exec"
    claims = stored.get("claims") or {}
    if not stored.get("token") or not claims:
        return None
    return "bound" if claims.get("exp") is not None else "legacy"


def claims_or_none(token):
    """token_claims(), or None when the token is not a JWT we can read."""
    try:
        return token_claims(token)
    except ValueError:
        return None


def request_token(service, namespace, service_account, ttl, mask):
    """Mint a bound token (ClusterService.request_token()) for ``namespace/service_account`` on ``service``'s
    cluster; only where ``service.may_mint`` (never in check mode, except for a GitOps export with secrets).

    ``mask`` receives the token before anything else sees it. Returns ``(token, claims)``.
    """
    token = service.request_token(namespace, service_account, ttl)
    mask(token)
    if not token:
        raise KialiopsError(service.cluster, "the TokenRequest for ServiceAccount %s/%s returned no token"
                            % (namespace, service_account), "Check the API server's service-account settings")
    return token, claims_or_none(token)


def legacy_secret(namespace, service_account, labels):
    """The legacy token Secret kialiops asks the token controller to fill."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": LEGACY_TYPE,
        "metadata": {
            "name": legacy_secret_name(service_account),
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {SA_NAME_ANNOTATION: service_account},
        },
    }


def secret_token(secret, mask):
    """The decoded ``data.token`` of a token Secret (masked), or None."""
    encoded = ((secret or {}).get("data") or {}).get("token")
    if not encoded:
        return None
    token = base64.b64decode(encoded).decode("utf-8")
    mask(token)
    return token


def wait_legacy_token(service, namespace, name, timeout, mask, sleep=time.sleep, clock=time.monotonic):
    """Wait (exponential backoff, 0.25 s doubling to 5 s) until the token controller fills ``data.token``.

    Returns ``(token, secret)``. Raises a KialiopsError naming the cluster and the token controller after
    ``timeout`` seconds.
    """
    deadline = clock() + timeout
    delay = 0.25
    while True:
        secret = service.get("v1", "Secret", name, namespace)
        if secret is None:
            raise KialiopsError(
                service.cluster, "the legacy token Secret was deleted while waiting for its token",
                "The token controller deletes token Secrets whose ServiceAccount is gone: check that the "
                "ServiceAccount exists (run kialiops.multicluster.remote_access), then re-run",
                describe_object("Secret", name, namespace))
        token = secret_token(secret, mask)
        if token:
            return token, secret
        left = deadline - clock()
        if left <= 0:
            raise KialiopsError(
                service.cluster, "the token controller did not fill data.token within %ss" % timeout,
                "kube-controller-manager's service-account token controller must run on cluster %s with a "
                "service-account signing key (--service-account-private-key-file) for legacy tokens; check it, "
                "raise legacy_timeout, or use token_mode=bound" % service.cluster,
                describe_object("Secret", name, namespace))
        sleep(min(delay, left))
        delay = min(delay * 2, 5.0)


def token_accepted(service, token):
    """Whether ``service``'s cluster still accepts ``token`` (TokenReview); None when we may not ask.

    A TokenReview changes nothing on the server; it catches revoked tokens and rotated signing keys that the
    claims cannot show.
    """
    return service.token_review(token)


def access_denials(service, checks):
    """Ask (SelfSubjectAccessReview) for each ``(verb, group, resource, subresource, namespace, name)``.

    Returns one line per denial, ``cluster east: cannot create serviceaccounts/token in namespace x``.
    Not a write, so it runs in check mode too.
    """
    denials = []
    for verb, group, resource, subresource, namespace, name in checks:
        full = resource + ("/" + subresource if subresource else "")
        if not service.access_review(verb, group, full, namespace=namespace, name=name)["allowed"]:
            denials.append("cluster %s: cannot %s %s%s%s" % (
                service.cluster, verb, full, "." + group if group else "",
                " in namespace %s" % namespace if namespace else ""))
    return denials
