# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Connection options, the rules on them, and the one factory that builds a client per cluster.

The options are kubernetes.core's (``AUTH_ARG_SPEC``), the subset we expose, plus ``cluster_name``
and ``allow_insecure``. Clients come from kubernetes.core's client layer (``k8s/client.py``).
"""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback
from ansible_collections.kialiops.multicluster.plugins.module_utils._lazy_kubernetes import install as lazy_kubernetes

lazy_kubernetes()  # before kubernetes.core's client imports kubernetes: only the classes used (_lazy_kubernetes.py)

# pylint: disable=wrong-import-position
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_MAP, AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import K8SClient, _create_configuration

from ansible_collections.kialiops.multicluster.plugins.module_utils._argspec import ArgSpec
from ansible_collections.kialiops.multicluster.plugins.module_utils._discovery import deferred
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    KialiopsError,
    from_api_exception,
    where_text,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.client.discovery import LazyDiscoverer
    from ansible_collections.kubernetes.core.plugins.module_utils.k8sdynamicclient import K8SDynamicClient
    from kubernetes.client import ApiClient, Configuration
except ImportError:  # AnsibleK8SModule fails with missing_required_lib
    ApiClient = Configuration = K8SDynamicClient = LazyDiscoverer = None

# kubernetes.core's options we expose; doc fragments connection and remote_connection describe them.
CONNECTION_OPTIONS = ("kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs")
ENV_VARS = {
    "kubeconfig": ["K8S_AUTH_KUBECONFIG"],
    "context": ["K8S_AUTH_CONTEXT"],
    "host": ["K8S_AUTH_HOST"],
    "api_key": ["K8S_AUTH_API_KEY"],
    "ca_cert": ["K8S_AUTH_SSL_CA_CERT", "K8S_AUTH_CA_CERT"],
    "validate_certs": ["K8S_AUTH_VERIFY_SSL", "K8S_AUTH_VALIDATE_CERTS"],
}
NAMING_OPTIONS = ("kubeconfig", "context", "host")
CONNECTION_CONSTRAINTS = dict(required_one_of=[list(NAMING_OPTIONS)])


def connection_spec(env=True):
    """Argument spec of one connection. ``env=False`` for ``remote:``: K8S_AUTH_* describe one cluster."""
    spec = {}
    for name in CONNECTION_OPTIONS:
        option = copy.deepcopy(AUTH_ARG_SPEC[name])
        option.setdefault("type", "str")
        if env:
            option["fallback"] = (env_fallback, list(ENV_VARS[name]))
        spec[name] = option
    # kubernetes.core takes a path or an inline dict (hence raw and no_log); we take a path only, so a
    # kubeconfig's credentials never become a module argument and the path may appear in messages.
    spec["kubeconfig"].update(type="path", no_log=False)
    spec["cluster_name"] = dict(type="str", required=True)
    spec["allow_insecure"] = dict(type="bool", default=False)
    if env:  # GitOps export is a property of the task, not of one of its connections
        spec["render_dir"] = dict(type="path")
        spec["render_secrets"] = dict(type="bool", default=False)
    return spec


def connection_argspec():
    """A module's ArgSpec to start from: one connection (connection_spec()) and the rule that names its cluster."""
    return ArgSpec(connection_spec(), **copy.deepcopy(CONNECTION_CONSTRAINTS))


def remote_spec(required=True):
    """The ``remote:`` option: a second connection, same options, no environment fallback."""
    return dict(type="dict", required=required, options=connection_spec(env=False), **copy.deepcopy(
        CONNECTION_CONSTRAINTS))


def check_connection(params):
    """Rules the argument spec cannot express; raises KialiopsError before anything is contacted."""
    cluster = params.get("cluster_name")
    try:
        validate_cluster_name(cluster)
    except ValueError as e:
        raise KialiopsError(cluster, str(e), "Set cluster_name to a valid name") from e
    names_file = params.get("kubeconfig") or params.get("context")
    if params.get("host") and params.get("api_key") and names_file:
        raise KialiopsError(
            cluster, "both host with api_key and kubeconfig/context name the cluster; kubernetes.core would use "
            "host and api_key and ignore the kubeconfig",
            "Give either kubeconfig/context or host with api_key (check K8S_AUTH_HOST and K8S_AUTH_API_KEY in "
            "the environment)")
    if params.get("host") and not params.get("api_key") and not names_file:
        raise KialiopsError(
            cluster, "host %s is given without api_key, kubeconfig or context, so the credential would come "
            "from whatever the default kubeconfig holds" % params["host"],
            "Add api_key, or name a kubeconfig/context instead of host")


def _check_transport(cluster, params, configuration, where):
    """TLS verification off only with the explicit opt-in: the one place this rule lives.

    Runs on the resolved configuration, before any request, so it covers validate_certs=false, a kubeconfig
    with insecure-skip-tls-verify and plain http alike. Returns what is insecure (empty when all is well).
    """
    insecure = []
    if not configuration.verify_ssl:
        if params.get("validate_certs") is False:
            insecure.append("validate_certs is false")
        else:
            insecure.append("%s sets insecure-skip-tls-verify" % where_text(where))
    if urlsplit(configuration.host or "").scheme != "https":
        insecure.append("the server URL %s is not https" % configuration.host)
    if insecure and not params.get("allow_insecure"):
        raise KialiopsError(
            cluster, "TLS verification is off for %s (%s), so the credential could be read by anyone on the "
            "path" % (configuration.host, "; ".join(insecure)),
            "Give the cluster's CA with ca_cert (or certificate-authority-data in the kubeconfig) and an https URL; "
            "for a throw-away lab only, opt in explicitly with allow_insecure=true")
    return insecure


def resolve_configuration(params):
    """The kubernetes client configuration of one connection, checked; no request is made.

    Returns ``(configuration, where, insecure)``: ``where`` is ``{server, kube_context, kubeconfig}``
    for messages, ``insecure`` lists what allow_insecure let through (empty normally).
    """
    check_connection(params)
    cluster = params["cluster_name"]
    where = dict(server=params.get("host"), kube_context=params.get("context"), kubeconfig=params.get("kubeconfig"))
    # Only the options of this connection. kubernetes.core's get_api_client() would fill every unset option
    # from K8S_AUTH_* (AWX injects K8S_AUTH_HOST and K8S_AUTH_API_KEY), which then wins over an explicit
    # context: a remote would silently become the environment's cluster. Top-level options already had their
    # documented environment fallback in the argument spec.
    auth = {true: params[arg] for true, arg in AUTH_ARG_MAP.items() if arg in CONNECTION_OPTIONS
            and params.get(arg) is not None}
    # load_kube_config() writes the process-wide default configuration, and kubernetes.core starts each
    # configuration from a copy of it: reset it, or the previous cluster's certificates leak into this one.
    Configuration.set_default(None)
    try:
        configuration = _create_configuration(auth)
    except Exception as e:  # ConfigException, exec credential plugins, unreadable files
        raise from_api_exception(cluster, e, "load the kubeconfig", where) from e
    where["server"] = configuration.host
    return configuration, where, _check_transport(cluster, params, configuration, where)


def build_client(params, check_mode=False):
    """A kubernetes.core ``K8SClient`` for one connection: ``(client, where, insecure)``.

    See resolve_configuration(). The client's ``dry_run`` is ``check_mode``: check mode is server-side
    dry-run, set here once. Building it sends nothing: API discovery waits until a kind that is not built in is
    looked up (_discovery.py), so the first request is the first the caller makes.
    """
    configuration, where, insecure = resolve_configuration(params)
    client = K8SDynamicClient(ApiClient(configuration), discoverer=deferred(LazyDiscoverer))
    return K8SClient(configuration=configuration, client=client, dry_run=check_mode), where, insecure


def connect(params):
    """A ClusterService from plain options (no AnsibleModule: inventory plugins): ``(service, insecure)``.

    ``params`` holds ``cluster_name`` and the connection options (environment fallbacks already applied by the
    caller); the same rules as for modules apply (check_connection, TLS verification off only with allow_insecure).
    """
    client, where, insecure = build_client(params)
    return ClusterService(params["cluster_name"], client, where), insecure


def connect_kubeconfig(cluster, kubeconfig, where, pool_size=None):
    """A ClusterService for ``cluster`` from an in-memory kubeconfig (a dict: the credential stored for Kiali), so
    what it asks is asked with exactly that credential; never in check mode (it is used to read and review).

    The TLS rule of every connection applies (_check_transport()), before any request: insecure-skip-tls-verify in
    a stored kubeconfig is itself the explicit opt-in (remote_secret writes it only with allow_insecure_skip_tls),
    a plain-http server is refused (remote_secret never stores one). ``where`` names the kubeconfig in messages;
    its secrets must already be masked.
    """
    # Imported here: the kubernetes client is checked by the module (missing_required_lib) first.
    from kubernetes import config as k8s_config
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.discovery import LazyDiscoverer as DynamicLazyDiscoverer

    configuration = Configuration()
    if pool_size:
        configuration.connection_pool_maxsize = pool_size
    where = dict(where, server=None)
    try:
        k8s_config.load_kube_config_from_dict(kubeconfig, client_configuration=configuration)
    except Exception as e:  # exec plugins, malformed kubeconfig
        raise from_api_exception(cluster, e, "connect with the stored kubeconfig", where) from e
    where["server"] = configuration.host
    try:
        _check_transport(cluster, dict(allow_insecure=urlsplit(configuration.host or "").scheme == "https"),
                         configuration, where)
    except KialiopsError as e:
        raise KialiopsError(cluster, e.reason, "Store the credential again with an https:// server (api_url of "
                            "remote_secret); a stored credential is never sent over plain http") from e
    dynamic = DynamicClient(ApiClient(configuration), discoverer=deferred(DynamicLazyDiscoverer))
    return ClusterService(cluster, K8SClient(configuration=configuration, client=dynamic, dry_run=False), where)
