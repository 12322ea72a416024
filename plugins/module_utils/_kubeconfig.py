# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The kubeconfig Kiali reads for one remote cluster: assembled, parsed back, and its token's claims.

Pure functions, no API calls. Kiali (kiali/kiali:kubernetes/cluster_secret.go) rejects a kubeconfig with more
than one cluster and takes the first user only, so what we store has exactly one cluster, one user and one
context, all named after the cluster, with ``current-context`` set.

Values that are errors raise ValueError; the caller wraps them in a KialiopsError naming the cluster.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import datetime, timezone
from urllib.parse import urlsplit

from ansible_collections.kialiops.multicluster.plugins.module_utils import _yaml as yaml
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
EXEC_KEYS = frozenset({"apiVersion", "command", "args", "env", "interactiveMode", "provideClusterInfo",
                       "installHint"})

# ca_source() answers, in the order they are tried.
CA_KUBECONFIG_DATA = "kubeconfig-data"
CA_KUBECONFIG_FILE = "kubeconfig-file"
CA_ROOT_CONFIGMAP = "kube-root-ca.crt"
CA_INSECURE = "insecure-skip-tls-verify"


def _b64(text):
    return base64.b64encode(text.encode("utf-8") if isinstance(text, str) else text).decode("ascii")


def check_server(server):
    """``server`` if it is an https URL with a host, else ValueError (Kiali would send the token in clear)."""
    parts = urlsplit(server or "")
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("the API URL %r is not an https:// URL; Kiali would send the remote credential over it"
                         % (server,))
    return server


def check_exec_config(exec_config):
    """A normalised copy of an exec credential plugin config, or ValueError saying what is wrong.

    ``interactiveMode`` defaults to ``Never``: Kiali runs without a terminal, and client-go refuses a
    ``client.authentication.k8s.io/v1`` exec config without it.
    """
    if not isinstance(exec_config, dict):
        raise ValueError("exec_config must be a dictionary (apiVersion, command, args, env)")
    unknown = sorted(set(exec_config) - EXEC_KEYS)
    if unknown:
        raise ValueError("exec_config has unknown keys %s (allowed: %s)"
                         % (", ".join(unknown), ", ".join(sorted(EXEC_KEYS))))
    out = dict(exec_config)
    if out.get("apiVersion") not in EXEC_API_VERSIONS:
        raise ValueError("exec_config.apiVersion must be one of %s, not %r"
                         % (", ".join(EXEC_API_VERSIONS), out.get("apiVersion")))
    if not isinstance(out.get("command"), str) or not out["command"]:
        raise ValueError("exec_config.command must be a non-empty string (the program Kiali runs to get a token)")
    args = out.get("args")
    if args is not None and (not isinstance(args, list) or not all(isinstance(a, str) for a in args)):
        raise ValueError("exec_config.args must be a list of strings")
    env = out.get("env")
    if env is not None:
        if not isinstance(env, list) or not all(
                isinstance(e, dict) and set(e) == {"name", "value"} and isinstance(e["name"], str) and e["name"]
                and isinstance(e["value"], str) for e in env):
            raise ValueError("exec_config.env must be a list of {name, value} dictionaries with string values")
    out.setdefault("interactiveMode", "Never")
    if out["interactiveMode"] not in EXEC_INTERACTIVE_MODES:
        raise ValueError("exec_config.interactiveMode must be one of %s" % ", ".join(EXEC_INTERACTIVE_MODES))
    if "provideClusterInfo" in out and not isinstance(out["provideClusterInfo"], bool):
        raise ValueError("exec_config.provideClusterInfo must be a boolean")
    if "installHint" in out and not isinstance(out["installHint"], str):
        raise ValueError("exec_config.installHint must be a string")
    for key in ("args", "env"):
        if out.get(key) is None:
            out.pop(key, None)
    return out


def build_kubeconfig(cluster_name, server, ca_data=None, token=None, exec_config=None, tls_server_name=None,
                     insecure_skip_tls_verify=False):
    """The kubeconfig (a dict) for one remote cluster: one cluster, user and context, all ``cluster_name``.

    ``ca_data`` is the PEM text of the CA (stored base64 as ``certificate-authority-data``). Exactly one of
    ``token`` and ``exec_config`` gives the credential. ``insecure_skip_tls_verify`` excludes ``ca_data``
    (client-go refuses both).
    """
    validate_cluster_name(cluster_name)
    check_server(server)
    if (token is None) == (exec_config is None):
        raise ValueError("give exactly one credential: a token or an exec config")
    if insecure_skip_tls_verify and ca_data:
        raise ValueError("a CA and insecure-skip-tls-verify exclude each other")
    if not insecure_skip_tls_verify and not ca_data:
        raise ValueError("no CA for %s: the kubeconfig would not verify the server" % server)
    cluster = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = _b64(ca_data)
    if insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    user = {"token": token} if token is not None else {"exec": check_exec_config(exec_config)}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": cluster_name, "user": user}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
    }


def dump_kubeconfig(config):
    """The YAML text stored in the Secret: stable for the same input, so a rerun sends the same bytes."""
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def parse_kubeconfig(text):
    """What a stored kubeconfig holds, checked the way Kiali reads it: exactly one cluster and one user.

    Returns ``{name, server, ca_data (PEM or None), tls_server_name, insecure_skip_tls_verify, token, exec}``.
    ``name`` is the cluster entry's name. Raises ValueError when the text is not such a kubeconfig.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError("not YAML: %s" % str(e).splitlines()[0]) from e
    if not isinstance(config, dict):
        raise ValueError("not a kubeconfig (a mapping with clusters, users and contexts)")
    clusters = config.get("clusters") or []
    users = config.get("users") or []
    if len(clusters) != 1:
        raise ValueError("it has %d clusters; Kiali needs exactly one" % len(clusters))
    if len(users) != 1:
        raise ValueError("it has %d users; kialiops writes exactly one" % len(users))
    cluster = (clusters[0] or {}).get("cluster") or {}
    user = (users[0] or {}).get("user") or {}
    ca = cluster.get("certificate-authority-data")
    if ca:
        try:
            ca = base64.b64decode(ca, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as e:
            raise ValueError("its certificate-authority-data is not base64") from e
    return {
        "name": clusters[0].get("name"),
        "server": cluster.get("server"),
        "ca_data": ca or None,
        "tls_server_name": cluster.get("tls-server-name") or None,
        "insecure_skip_tls_verify": bool(cluster.get("insecure-skip-tls-verify")),
        "token": user.get("token") or None,
        "exec": user.get("exec") or None,
        "current_context": config.get("current-context"),
    }


def same_target(stored, server, ca_data, tls_server_name, insecure_skip_tls_verify):
    """True when a parsed kubeconfig points at the same server, trusts the same CA and TLS name."""
    return (stored.get("server") == server
            and _pem(stored.get("ca_data")) == _pem(ca_data)
            and (stored.get("tls_server_name") or None) == (tls_server_name or None)
            and bool(stored.get("insecure_skip_tls_verify")) == bool(insecure_skip_tls_verify))


def _pem(text):
    return (text or "").strip().replace("\r\n", "\n")


def token_claims(token):
    """The payload of a service-account JWT, decoded locally (no signature check), for expiry decisions.

    Returns ``{sub, iss, aud, iat, exp, nbf, namespace, service_account, service_account_uid, secret_name}``
    (missing claims are None). Bound tokens carry ``kubernetes.io``; legacy Secret tokens carry the
    ``kubernetes.io/serviceaccount/*`` claims and no ``exp``. Raises ValueError for anything else.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise ValueError("not a JWT (three dot-separated parts)")
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise ValueError("the JWT payload is not base64url JSON") from e
    if not isinstance(claims, dict):
        raise ValueError("the JWT payload is not a JSON object")
    k8s = claims.get("kubernetes.io") if isinstance(claims.get("kubernetes.io"), dict) else {}
    sa = k8s.get("serviceaccount") if isinstance(k8s.get("serviceaccount"), dict) else {}
    legacy = "kubernetes.io/serviceaccount/"
    out = {
        "sub": claims.get("sub"),
        "iss": claims.get("iss"),
        "aud": claims.get("aud"),
        "namespace": k8s.get("namespace") or claims.get(legacy + "namespace"),
        "service_account": sa.get("name") or claims.get(legacy + "service-account.name"),
        "service_account_uid": sa.get("uid") or claims.get(legacy + "service-account.uid"),
        "secret_name": claims.get(legacy + "secret.name"),
    }
    for name in ("iat", "exp", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError("the JWT claim %s is not a number" % name)
        out[name] = int(value) if value is not None else None
    return out


def rfc3339(epoch):
    """``2026-01-02T03:04:05Z`` for a Unix time (None stays None)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ca_source(ca_data=None, ca_file=None, root_ca=None, allow_insecure_skip_tls=False, read_file=None):
    """Choose the CA the stored kubeconfig trusts. Returns ``(pem or None, source, warning or None)``.

    Order: the remote admin kubeconfig's ``certificate-authority-data`` (``ca_data``, base64 as in the file),
    else its ``certificate-authority`` file (``ca_file``, a path), else the ``ca.crt`` of the remote
    ``kube-root-ca.crt`` ConfigMap (``root_ca``, PEM), else no CA: ValueError unless
    ``allow_insecure_skip_tls``, then ``insecure-skip-tls-verify`` with a warning.
    """
    if ca_data:
        try:
            pem = base64.b64decode(ca_data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as e:
            raise ValueError("the kubeconfig's certificate-authority-data is not base64") from e
        return pem, CA_KUBECONFIG_DATA, None
    if ca_file:
        try:
            pem = (read_file or _read)(ca_file)
        except OSError as e:
            raise ValueError("cannot read the kubeconfig's certificate-authority file %s (%s)"
                             % (ca_file, e.strerror or e)) from e
        if pem.strip():
            return pem, CA_KUBECONFIG_FILE, None
    if root_ca and root_ca.strip():
        return root_ca, CA_ROOT_CONFIGMAP, None
    if allow_insecure_skip_tls:
        return None, CA_INSECURE, (
            "no CA found for the remote API server (kubeconfig, kube-root-ca.crt): the stored kubeconfig sets "
            "insecure-skip-tls-verify: true, so Kiali does not verify the server it sends the token to")
    raise ValueError("no CA found for the remote API server: not in the kubeconfig (certificate-authority-data or "
                     "certificate-authority) and no kube-root-ca.crt ConfigMap")


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_kubeconfig_files(paths):
    """``[(path, parsed kubeconfig)]`` of a ``KUBECONFIG``-style list of paths (``os.pathsep``-separated, ``~``
    expanded), in order; an unreadable or non-YAML file is skipped."""
    documents = []
    for path in [os.path.expanduser(x) for x in paths.split(os.pathsep) if x]:
        try:
            documents.append((path, yaml.safe_load(_read(path))))
        except (OSError, yaml.YAMLError):
            continue
    return documents


def kubeconfig_cluster_entry(documents, context=None):
    """The ``cluster`` entry (dict) a context of a (possibly multi-file) kubeconfig names, and its file.

    ``documents`` is a list of ``(path, parsed kubeconfig)`` in ``KUBECONFIG`` order; as in client-go the first
    file that defines a name wins, and ``current-context`` comes from the first file that sets it. A relative
    ``certificate-authority`` path is made absolute against the directory of the file that defines the cluster.
    Returns ``(entry, path)``, or ``(None, None)`` when the context or its cluster is not found.
    """
    contexts, clusters, current = {}, {}, None
    for path, doc in documents:
        doc = doc or {}
        current = current or doc.get("current-context")
        for item in doc.get("contexts") or []:
            contexts.setdefault(item.get("name"), item.get("context") or {})
        for item in doc.get("clusters") or []:
            clusters.setdefault(item.get("name"), (dict(item.get("cluster") or {}), path))
    name = context or current
    cluster_name = contexts.get(name, {}).get("cluster")
    if cluster_name not in clusters:
        return None, None
    entry, path = clusters[cluster_name]
    ca_file = entry.get("certificate-authority")
    if ca_file and not os.path.isabs(ca_file):
        entry["certificate-authority"] = os.path.join(os.path.dirname(os.path.abspath(path)), ca_file)
    return entry, path
