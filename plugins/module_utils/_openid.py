# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Kiali's ``openid`` auth strategy across clusters: the client secret where Kiali reads it, and the check that
every API server of the mesh trusts the IdP.

- The client secret: Kiali reads it from the Secret named by the Kiali CR's ``deployment.secret_name`` (default
  ``kiali``), key ``oidc-secret``, mounted at ``/kiali-secret`` (kiali v2.28.0 ``config/config.go``). kialiops
  writes that key with server-side apply (field manager ``kialiops``); a rerun sends nothing.
- The check: with ``openid`` (and RBAC on) Kiali calls every cluster's API server with the logged-in user's ID
  token, so each API server must accept tokens of that IdP (a JWT authenticator for its issuer), or Kiali must be
  given an ``api_proxy`` that does. A SelfSubjectReview with the token as bearer tells: it authenticates as the user,
  or answers 401.

Pure parts (unit-tested): openid_secret(), judge_openid(). The token and the client secret are masked by the module
before anything is done with them, and are never returned.
"""

from __future__ import annotations

import atexit
import base64
import copy
import json
import os
import tempfile

from ansible_collections.kialiops.multicluster.plugins.module_utils._change import CHANGING, action
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import rfc3339, token_claims
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import is_owned, owned_labels

SECRET_KEY = "oidc-secret"
DEFAULT_SECRET_NAME = "kiali"
CHECK = "openid"
OK, WARN, FAIL = "ok", "warn", "fail"


def secret_name(params):
    """``deployment.secret_name`` of the CR kialiops writes (from ``spec``), default ``kiali``."""
    return ((params.get("spec") or {}).get("deployment") or {}).get("secret_name") or DEFAULT_SECRET_NAME


def openid_secret(params, live=None):
    """The Secret kialiops applies for the OIDC client secret, or None when there is nothing to write (strategy
    not ``openid``, no client secret given, or a CR on a remote). Pure.

    Only our key is sent. A Secret that exists and was not created by kialiops gets no kialiops labels (we never mark
    what we do not own) and keeps its type; ours is ``Opaque`` with the labels every kialiops object has.
    """
    value = (params.get("openid") or {}).get("client_secret")
    if params.get("auth_strategy") != "openid" or not value or params.get("remote_resources_only"):
        return None
    home = params.get("home_cluster") or params["cluster_name"]
    meta = {"name": secret_name(params), "namespace": params["namespace"]}
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
           "data": {SECRET_KEY: base64.b64encode(value.encode("utf-8")).decode("ascii")}}
    if live is None or is_owned(live, home):
        meta["labels"] = owned_labels(home)
        obj["type"] = "Opaque"
    return obj


def ensure_openid_secret(service, params):
    """Write the client secret (strategy ``openid`` with a client secret only). Returns what is safe to show:
    ``{name, namespace, key, action}`` (action ``created``, ``updated``, ``unchanged``), or None. The caller has
    masked the value (and its base64 form) already."""
    if openid_secret(params) is None:
        return None
    name, namespace = secret_name(params), params["namespace"]
    live = service.get("v1", "Secret", name, namespace)
    desired = openid_secret(params, live)
    done = action(*service.ensure(desired, live=live))
    return dict(name=name, namespace=namespace, key=SECRET_KEY, action=done, changed=done in CHANGING)


# --- verification: does each API server trust the IdP? -------------------------------------------------------------

def id_token_claims(token):
    """The ID token's payload (every claim) decoded locally, no signature check (the API server does that); None
    when it is not a JWT. ``exp`` is checked to be a number, as token_claims() does."""
    try:
        token_claims(token)   # the JWT shape and numeric iat/exp/nbf
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def _row(cluster, status, message, fix=""):
    return dict(cluster=cluster, check=CHECK, status=status, message=message, fix=fix if status != OK else "")


def precheck(cluster, claims, now, issuer_uri=None):
    """A failing row when the token cannot prove anything on any cluster (not a JWT, expired, another issuer than
    Kiali's), else None. Pure."""
    mint = "log in at the IdP again and pass the new ID token in kialiops_openid_verify_id_token"
    if claims is None:
        return _row(cluster, FAIL, "the ID token given for the openid check is not a JWT", mint)
    if claims.get("exp") is not None and claims["exp"] <= now:
        return _row(cluster, FAIL, "the ID token given for the openid check expired at %s" % rfc3339(claims["exp"]),
                    mint)
    if issuer_uri and claims.get("iss") and claims["iss"].rstrip("/") != issuer_uri.rstrip("/"):
        return _row(cluster, FAIL, "the ID token was issued by %s, but Kiali's openid issuer_uri is %s"
                    % (claims["iss"], issuer_uri), "pass an ID token of %s, or correct kialiops_openid_issuer_uri"
                    % issuer_uri)
    return None


def judge_openid(cluster, claims, identity=None, error=None, username_claim=None, api_proxy=None):
    """The row of one cluster from its answer to a SelfSubjectReview made with the user's ID token. Pure.

    ``identity`` is ``{username, groups}`` (None when the server would not tell), ``error`` a KialiopsError raised by
    the review (401: the API server does not trust the token's issuer).
    """
    issuer = (claims or {}).get("iss") or "the IdP"
    audience = (claims or {}).get("aud")
    audience = ", ".join(audience) if isinstance(audience, list) else audience
    fix = ("configure OIDC (a JWT authenticator: --authentication-config with jwt[].issuer.url %s%s, or the --oidc-* "
           "flags) on the API server of %s, or set kialiops_openid_api_proxy to a proxy that trusts %s (with "
           "kialiops_openid_api_proxy_ca_data)" % (issuer, " and audiences including %s" % audience if audience else "",
                                                   cluster, issuer))
    if error is not None:
        if error.status == 401:
            where = " (Kiali is configured with api_proxy %s, which must then serve %s)" % (api_proxy, cluster) \
                if api_proxy else ""
            return _row(cluster, FAIL, "the API server of %s rejects the user's ID token issued by %s (401 "
                        "Unauthorized): it does not trust that IdP, so a user logged in to Kiali with openid cannot "
                        "see %s%s" % (cluster, issuer, cluster, where), fix)
        return _row(cluster, FAIL, "the openid check could not run: %s" % error.reason,
                    error.fix or "see the message")
    if identity is None:
        return _row(cluster, WARN, "the API server of %s accepted the request but would not say who the ID token "
                    "authenticates as (SelfSubjectReview forbidden or not served)" % cluster,
                    "allow create selfsubjectreviews.authentication.k8s.io (Kubernetes >= 1.28) to check")
    username = identity.get("username") or ""
    if username in ("", "system:anonymous"):
        return _row(cluster, FAIL, "the API server of %s took the ID token issued by %s as anonymous" % (cluster, issuer),
                    fix)
    claim = username_claim or "sub"
    value = (claims or {}).get(claim)
    note = ""
    if value and username != value:
        note = " (claim %s is %s: the API server maps names with a prefix or another claim; grant RBAC to %s)" % (
            claim, value, username)
    return _row(cluster, OK, "the API server of %s trusts %s: the user's ID token authenticates as %s%s"
                % (cluster, issuer, username, note))


def no_token_row(cluster, auth_strategy):
    """The row when no ID token was given: a warning with strategy ``openid`` (the check could not run), else None."""
    if auth_strategy != "openid":
        return None
    return _row(cluster, WARN, "auth strategy openid, but no user ID token was given, so nothing checked that the API "
                "servers of the mesh trust the IdP (else users see only the clusters that do)",
                "pass a user's ID token (no_log) in kialiops_openid_verify_id_token to check every cluster")


def review_token(cluster, configuration, token):
    """``{username, groups}`` the API server of ``configuration`` gives ``token`` (a SelfSubjectReview presenting the
    token and no client certificate, trusting the same CA), or None when it will not tell. ``configuration`` (a
    kubernetes client Configuration: the admin's, or one for Kiali's stored kubeconfig) is copied, never changed.
    Raises KialiopsError (401 when the server does not trust the token)."""
    from kubernetes.client import ApiClient, AuthenticationV1Api
    from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import from_api_exception
    from ansible_collections.kialiops.multicluster.plugins.module_utils._service import API_ERRORS, ApiException

    cfg = copy.copy(configuration)
    cfg.cert_file = cfg.key_file = None
    cfg.username = cfg.password = None
    cfg.refresh_api_key_hook = None
    cfg.api_key_prefix = {}
    cfg.api_key = {"authorization": "Bearer " + token}
    where = dict(server=cfg.host, kube_context=cluster, kubeconfig="(the user's ID token)")
    body = dict(apiVersion="authentication.k8s.io/v1", kind="SelfSubjectReview")
    try:
        answer = AuthenticationV1Api(ApiClient(cfg)).create_self_subject_review(body)
    except ApiException as e:
        if e.status in (403, 404):
            return None
        raise from_api_exception(cluster, e, "review who the user's ID token is", where) from e
    except API_ERRORS as e:  # pylint: disable=catching-non-exception
        raise from_api_exception(cluster, e, "review who the user's ID token is", where) from e
    user = answer.status.user_info if answer.status else None
    if user is None:
        return None
    return dict(username=user.username, groups=list(user.groups or []))


def _remove_file(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def stored_configuration(parsed):
    """A kubernetes client Configuration for the server and CA of a parsed stored kubeconfig (no credential)."""
    from kubernetes.client import Configuration

    cfg = Configuration()
    cfg.host = parsed["server"]
    cfg.proxy = None
    if parsed.get("insecure_skip_tls_verify"):
        cfg.verify_ssl = False
    if parsed.get("ca_data"):
        with tempfile.NamedTemporaryFile("w", prefix="kialiops-ca-", suffix=".crt", delete=False) as f:
            f.write(parsed["ca_data"])
        cfg.ssl_ca_cert = f.name
        # Removed when the interpreter ends (a module's); in-process, the run's private temporary directory goes.
        atexit.register(_remove_file, f.name)
    if parsed.get("tls_server_name"):
        cfg.tls_server_name = parsed["tls_server_name"]
    return cfg


def verify_openid(cluster, configuration, params, now):
    """The ``openid`` row of one cluster (server and CA of ``configuration``), or None when there is nothing to say.

    ``params``: ``openid_id_token`` (masked by the module), ``openid_issuer_uri``, ``openid_username_claim``,
    ``openid_api_proxy``, ``auth_strategy``. Never writes: one SelfSubjectReview."""
    token = params.get("openid_id_token")
    if not token:
        return no_token_row(cluster, params.get("auth_strategy"))
    claims = id_token_claims(token)
    bad = precheck(cluster, claims, now, params.get("openid_issuer_uri"))
    if bad:
        return bad
    try:
        identity = review_token(cluster, configuration, token)
    except KialiopsError as e:
        return judge_openid(cluster, claims, error=e, api_proxy=params.get("openid_api_proxy"))
    return judge_openid(cluster, claims, identity, username_claim=params.get("openid_username_claim"),
                        api_proxy=params.get("openid_api_proxy"))
