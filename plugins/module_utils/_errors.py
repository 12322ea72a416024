# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One failure type for the whole collection, and the one place API failures are put into words.

Every message names the cluster and says what to do. ``from_api_exception`` turns what the
kubernetes client raises (``ApiException`` and the dynamic client's subclasses, urllib3 connection
and TLS errors, kubeconfig errors) into a ``KialiopsError``; raise it ``from`` the original.
"""

from __future__ import annotations

import json
import re
import ssl
import sys


def _loaded(module, *names):
    """The classes ``names`` of ``module`` when it is already imported, else an empty tuple each (isinstance-safe).

    The kubernetes client, urllib3 and kubernetes.core are never imported here: an exception can only be one of
    their types when they are loaded, and importing the client costs ~0.5 s of CPU, which the filter plugins that
    import this file (through ``_auth``) would pay in every Ansible worker forked before the controller loaded it.
    """
    mod = sys.modules.get(module)
    return tuple(getattr(mod, n, ()) for n in names) if mod is not None else ((),) * len(names)


def _client_types():
    """(ApiException, ConfigException, ResourceNotFoundError, CoreException) as far as they are loaded."""
    return (_loaded("kubernetes.client.exceptions", "ApiException")
            + _loaded("kubernetes.config.config_exception", "ConfigException")
            + _loaded("kubernetes.dynamic.exceptions", "ResourceNotFoundError")
            + _loaded("ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions", "CoreException"))


class KialiopsError(Exception):
    """A failure on one cluster: what went wrong (``reason``) and what the operator should do (``fix``).

    ``str()`` gives ``cluster east: <object>: <reason>. <fix>`` (the object part only when set). ``unreachable``:
    the request never got an HTTP answer (connection refused, TLS, DNS, timeout, dropped connection).
    """

    def __init__(self, cluster, reason, fix="", obj=None, status=None):
        super().__init__(reason)
        self.cluster = cluster
        self.object = obj
        self.reason = reason
        self.fix = fix
        self.status = status
        self.unreachable = False

    def __str__(self):
        head = "cluster %s: " % self.cluster
        if self.object:
            head += "%s: " % self.object
        text = head + self.reason.rstrip(". ") + "."
        if self.fix:
            text += " " + self.fix.rstrip(". ") + "."
        return text

    def to_result(self):
        """The structured fields a module adds to its failure result."""
        return dict(cluster=self.cluster, object=self.object, reason=self.reason, fix=self.fix, status=self.status)


class InputError(ValueError):
    """A value that cannot work, found by pure code that does not know the cluster: ``reason`` says what is wrong,
    ``fix`` what to do. The caller, which knows the cluster, raises ``KialiopsError(cluster, e.reason, e.fix)``."""

    def __init__(self, reason, fix):
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


# "secrets is forbidden: User \"x\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns\""
_FORBIDDEN_RESOURCE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]*)" '
    r'in API group "(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]*)")?'
)
# "forbidden: User \"system:anonymous\" cannot get path \"/apis\""
_FORBIDDEN_PATH = re.compile(r'User "(?P<user>[^"]*)" cannot (?P<verb>[\w-]+) path "(?P<path>[^"]*)"')
# "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a"
_CONFLICT_MANAGER = re.compile(r'conflicts? with "(?P<manager>[^"]+)"')
_CONFLICT_FIELD = re.compile(r"(?:^|[\s:])(?:- )?(\.[^\s,]+)", re.MULTILINE)


def describe_object(kind=None, name=None, namespace=None):
    """``"Secret istio-system/x"``, ``"ClusterRole x"``, or None when there is no kind."""
    if not kind:
        return None
    if not name:
        return kind
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def crd_name(kind, api_version):
    """Name of the CustomResourceDefinition serving ``kind`` in ``api_version``, or None for built-in groups."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if "." not in group or group.endswith(".k8s.io"):
        return None
    return "%s.%s" % (_plural(kind.lower()), group)


def _plural(word):
    # Kubernetes' own default (gengo namer): what a CRD without an explicit plural would be called.
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def missing_kind(cluster, kind, api_version):
    """The error for a kind the API server does not serve: names the CRD to install."""
    crd = crd_name(kind, api_version)
    reason = "the API server does not serve kind %s in %s" % (kind, api_version)
    if crd:
        fix = ("Install the CustomResourceDefinition %s on cluster %s (it ships with the operator that owns the "
               "kind), then re-run" % (crd, cluster))
    else:
        fix = ("The server is too old for %s or has that API group disabled; upgrade it or enable the group"
               % api_version)
    return KialiopsError(cluster, reason, fix, status=404)


def _names_kubeconfig(context):
    return bool(context.get("kube_context") or context.get("kubeconfig"))


def where_text(context):
    """How the operator named this connection: "context 'east' of kubeconfig /p", "host https://..."."""
    kube_context, kubeconfig = context.get("kube_context"), context.get("kubeconfig")
    if kube_context and kubeconfig:
        return "context '%s' of kubeconfig %s" % (kube_context, kubeconfig)
    if kube_context:
        return "context '%s'" % kube_context
    if kubeconfig:
        return "the current context of kubeconfig %s" % kubeconfig
    return "the connection options (host, api_key)"


def _grant(context, user):
    if context.get("kube_context"):
        return "Grant that verb to context '%s' or use a context that has it" % context["kube_context"]
    return "Grant that verb to user %s or use a credential that has it" % user


def status_message(exc):
    """The ``message`` and ``details`` of the Status object in an API error body (any of str, bytes, dict)."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip(), {}
    if isinstance(body, dict):
        return str(body.get("message") or ""), body.get("details") or {}
    return "", {}


def _chain(exc):
    """``exc``, its urllib3 ``reason`` and its causes, outermost first."""
    seen, todo = [], [exc]
    while todo and len(seen) < 12:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        # MaxRetryError.reason is the underlying error (ApiException.reason is a string, skipped above).
        todo.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        todo.extend(getattr(current, "args", ()))
    return seen


def _connection_problem(exc):
    """('tls'|'dns'|'timeout'|'refused'|'dropped', detail, server-or-None) for transport failures, else None."""
    _u3 = sys.modules.get("urllib3.exceptions")
    if _u3 is None:   # urllib3 comes with the client: not loaded, no transport failure of it
        return None
    chain = _chain(exc)
    server = None
    for e in chain:
        pool = getattr(e, "pool", None)
        if isinstance(e, _u3.MaxRetryError) and pool is not None:
            server = "%s://%s:%s" % (pool.scheme, pool.host, pool.port)
            break
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return "tls", e.verify_message or str(e), server
    for e in chain:
        if isinstance(e, (_u3.SSLError, ssl.SSLError)):
            return "tls", str(e), server
    for e in chain:
        if isinstance(e, _u3.NameResolutionError):
            return "dns", str(getattr(e, "_reason", e)), server
    for e in chain:
        if isinstance(e, (_u3.NewConnectionError, ConnectionRefusedError)):
            detail = getattr(e, "_message", str(e))
            return "refused", detail.rsplit("]", 1)[-1].strip().lower() or detail, server
    for e in chain:
        if isinstance(e, (_u3.ConnectTimeoutError, _u3.ReadTimeoutError, TimeoutError)):
            return "timeout", str(e), server
    for e in chain:
        if isinstance(e, (_u3.ProtocolError, ConnectionError)):
            return "dropped", str(e), server
    return None


def _unreachable(cluster, problem, action, context, obj, where):
    """The KialiopsError of a request that got no HTTP answer (see _connection_problem())."""
    kind, detail, pool_server = problem
    if obj and action.endswith(" it"):
        # The cluster is the problem, not the object the request was for: name the object in the action
        # ("... while trying to read Namespace default"), not in front of the message.
        action, obj = action[:-len("it")] + obj, None
    server = context.get("server") or pool_server or "the API server"
    if kind == "tls":
        return KialiopsError(
            cluster, "TLS verification of %s failed while trying to %s (%s)" % (server, action, detail),
            "Give the CA that signed its certificate with ca_cert%s and use a URL the certificate was issued "
            "for. Verification off (validate_certs=false) is accepted only with the explicit opt-in "
            "allow_insecure=true, for throw-away labs" % (
                " (or certificate-authority-data in %s)" % where if _names_kubeconfig(context) else ""), obj)
    if kind == "dns":
        return KialiopsError(
            cluster, "cannot resolve the host name of %s while trying to %s (%s)" % (server, action, detail),
            "Check the server URL in %s and this controller's DNS" % where, obj)
    if kind == "refused":
        return KialiopsError(
            cluster, "cannot connect to the API server at %s while trying to %s (%s)" % (server, action, detail),
            "Check that the API server runs and is the one meant by %s" % where, obj)
    if kind == "timeout":
        return KialiopsError(
            cluster, "timed out talking to the API server at %s while trying to %s" % (server, action),
            "Check that %s is reachable from this controller (firewall, VPN, proxy) and is the one meant by %s"
            % (server, where), obj)
    return KialiopsError(
        cluster, "the connection to %s was dropped while trying to %s (%s)" % (server, action, detail),
        "Retry; if it persists, check the API server's health and any load balancer or proxy in between", obj)


def from_api_exception(cluster, exc, action, context=None):
    """Turn what the kubernetes client raised while doing ``action`` on ``cluster`` into a KialiopsError.

    ``action`` reads after "cannot": ``"create Secret istio-system/x"``, ``"list API groups"``.
    ``context`` (optional dict) says where the call went and on what, all keys optional:
    ``server`` (API URL), ``kube_context``, ``kubeconfig`` (path), ``kind``, ``api_version``, ``name``,
    ``namespace``. Use as ``raise from_api_exception(...) from exc``.
    """
    if isinstance(exc, KialiopsError):
        return exc
    api_exception, config_exception, resource_not_found, core_exception = _client_types()
    context = dict(context or {})
    obj = describe_object(context.get("kind"), context.get("name"), context.get("namespace"))
    where = where_text(context)

    if isinstance(exc, resource_not_found) and context.get("kind") and context.get("api_version"):
        return missing_kind(cluster, context["kind"], context["api_version"])

    status = getattr(exc, "status", None)
    if isinstance(exc, api_exception) and status:
        return _from_status(cluster, exc, int(status), action, context, obj, where)

    problem = _connection_problem(exc)
    if problem:
        error = _unreachable(cluster, problem, action, context, obj, where)
        error.unreachable = True
        return error

    if isinstance(exc, (config_exception, core_exception, OSError)):
        return KialiopsError(
            cluster, "cannot load the connection settings from %s (%s)" % (where, exc),
            "Check that the kubeconfig file exists and is readable, that the context is in it "
            "(kubectl config get-contexts) and that ca_cert names a readable file", obj)

    return KialiopsError(cluster, "cannot %s (%s: %s)" % (action, type(exc).__name__, exc),
                         "See the message above; nothing in kialiops explains this failure yet", obj)


# What the API server says about a field the schema lacks: server-side apply answers 500 "... .spec.x: field not
# declared in schema" (it cannot build the typed patch), strict field validation 400 'unknown field "spec.x"'.
_UNDECLARED = re.compile(r"(\.[\w.\[\]=-]+): field not declared in schema")
_UNKNOWN = re.compile(r'unknown field "([^"]+)"')


def unknown_fields(message):
    """Field paths (``spec.deployment.x``) an API server message calls unknown, in order, without duplicates."""
    found = _UNDECLARED.findall(message or "") + _UNKNOWN.findall(message or "")
    return list(dict.fromkeys(f.lstrip(".") for f in found))


def _from_status(cluster, exc, status, action, context, obj, where):
    message, details = status_message(exc)
    fields = unknown_fields(message)
    if fields and status in (400, 422, 500):
        return KialiopsError(
            cluster, "the schema of %s on this cluster does not declare %s (the API server refused to %s)" % (
                context.get("kind") or "the object", ", ".join(fields), action),
            "Install the version of its CRD (or operator) that has %s, or stop setting %s" % (
                "them" if len(fields) > 1 else "it", "them" if len(fields) > 1 else "it"), obj, 422)
    said = (": " + message) if message else ""
    if status == 401:
        return KialiopsError(
            cluster, "the API server rejected the credential while trying to %s (401 Unauthorized)" % action,
            "The credential of %s is stale or invalid (expired or revoked token, or issued by another cluster): "
            "refresh it, or check that it belongs to cluster %s" % (where, cluster), obj, 401)
    if status == 403:
        found = _FORBIDDEN_RESOURCE.search(message)
        if found:
            resource = found["resource"] + ("." + found["group"] if found["group"] else "")
            scope = " in namespace %s" % found["namespace"] if found["namespace"] else ""
            return KialiopsError(
                cluster, "cannot %s %s%s (403, user %s)" % (found["verb"], resource, scope, found["user"]),
                _grant(context, found["user"]), obj, 403)
        found = _FORBIDDEN_PATH.search(message)
        if found:
            return KialiopsError(
                cluster, "cannot %s path %s (403, user %s)" % (found["verb"], found["path"], found["user"]),
                _grant(context, found["user"]) + " (system:anonymous means no credential was sent)", obj, 403)
        return KialiopsError(
            cluster, "the API server refused to %s (403 Forbidden)%s" % (action, said),
            "The message says why: RBAC, an admission policy or a namespace being deleted", obj, 403)
    if status == 404:
        if details.get("kind") == "namespaces" and details.get("name") and context.get("kind") != "Namespace":
            return KialiopsError(
                cluster, "cannot %s: namespace %s does not exist" % (action, details["name"]),
                "Create namespace %s first, or set the namespace that is meant" % details["name"], obj, 404)
        if details.get("name"):
            return KialiopsError(cluster, "cannot %s: it does not exist (404)%s" % (action, said),
                                 "Check the name and namespace, or create it first", obj, 404)
        if context.get("kind") and context.get("api_version"):
            return missing_kind(cluster, context["kind"], context["api_version"])
        return KialiopsError(cluster, "cannot %s: the API server has no such path (404)%s" % (action, said),
                             "The API server may be too old for this request", obj, 404)
    if status == 409:
        managers = _CONFLICT_MANAGER.findall(message)
        if managers:
            # The server appends advice ("Please review the fields above..."); the fields come before it.
            fields = _CONFLICT_FIELD.findall(message.split("\nPlease", 1)[0].split(":", 1)[-1])
            return KialiopsError(
                cluster, "cannot %s: field manager %s owns %s (409 Conflict)" % (
                    action, ", ".join(sorted(set(managers))), ", ".join(fields) or "fields kialiops sets"),
                "kialiops never forces ownership: stop the other manager from setting those fields or remove them "
                "from the object, then re-run", obj, 409)
        return KialiopsError(cluster, "cannot %s (409 Conflict)%s" % (action, said),
                             "Re-run; if it persists, another writer is changing the object at the same time",
                             obj, 409)
    if status in (400, 422):
        return KialiopsError(cluster, "the API server rejected the request to %s as invalid (%d)%s" % (
            action, status, said), "Correct the values the message names (API validation or the CRD schema "
                                   "rejected them)", obj, status)
    if status == 429 or status >= 500:
        return KialiopsError(cluster, "the API server failed to %s (%d %s)%s" % (
            action, status, getattr(exc, "reason", "") or "", said),
            "The server is overloaded or unhealthy: check its /readyz and retry later", obj, status)
    return KialiopsError(cluster, "cannot %s (%d %s)%s" % (action, status, getattr(exc, "reason", "") or "", said),
                         "See the message above", obj, status)
