# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""API discovery, only where it tells us something: the kinds every supported Kubernetes serves are known here.

A client of the kubernetes library discovers the server's API when it is built: it reads (or fetches and writes) a
cache of every resource list it has seen, a JSON file decoded into objects on every task, about 60-90 ms of CPU per
module run on the lab. kialiops writes and reads mostly kinds that are part of Kubernetes itself (core ``v1``,
``rbac.authorization.k8s.io/v1``, ``apps/v1``, ``apiextensions.k8s.io/v1``), whose path and scope are fixed by the
API (``BUILTIN``): those need no discovery. A client is built with ``DeferredDiscoverer``, which builds the real
discoverer only when a kind outside ``BUILTIN`` is looked up (the Kiali CRD, ACM's and OpenShift's kinds), so a run
that needs none sends no discovery request and reads no cache.

``share_discovery()`` gives the clients of one process (the in-process runner: one playbook run) a directory for
that cache, so the kinds that do need discovery are asked once per run and server.
"""

from __future__ import annotations

import contextlib
import tempfile

from ansible_collections.kialiops.multicluster.plugins.module_utils._lazy_kubernetes import install as lazy_kubernetes

lazy_kubernetes()  # before the first kubernetes import: only the classes used are imported (_lazy_kubernetes.py)

try:
    from kubernetes.dynamic.resource import Resource  # pylint: disable=wrong-import-position
except ImportError:  # the module fails earlier with missing_required_lib
    Resource = None

# (apiVersion, kind) -> (resource name, namespaced). Served by every Kubernetes since 1.16 (core v1 and rbac v1
# always, apps/v1 since 1.9, apiextensions.k8s.io/v1 since 1.16): a request for them needs no discovery first.
BUILTIN = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Service"): ("services", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
}

# Where the clients of this process cache API discovery (empty: the kubernetes client's default, the temporary
# directory of the run, which a module's interpreter removes with it): see share_discovery().
_DISCOVERY_DIR = []


def builtin_resource(client, api_version, kind):
    """The ``Resource`` of a ``BUILTIN`` kind bound to ``client`` (a DynamicClient), or None for any other kind."""
    known = BUILTIN.get((api_version, kind))
    if known is None:
        return None
    group, _slash, version = api_version.rpartition("/")
    name, namespaced = known
    return Resource(prefix="apis" if group else "api", group=group, api_version=version, kind=kind,
                    namespaced=namespaced, name=name, client=client, preferred=True)


def share_discovery(directory):
    """Let every client built by this process keep its API discovery (server version, API groups, the resource lists
    it looked up) in ``directory``, one file per server and user, instead of asking the server again for every task.

    The in-process runner calls it once per playbook run with a private directory it removes at the end; the
    discovery client refreshes its cache by itself when it meets a kind the cache does not know (a CRD installed
    during the run).
    """
    _DISCOVERY_DIR[:] = [directory] if directory else []


def discovery_shared():
    """Whether share_discovery() gave this process a directory."""
    return bool(_DISCOVERY_DIR)


@contextlib.contextmanager
def _discovery_cache():
    """Build a discovery client inside: its cache file goes to the shared directory (see share_discovery())."""
    if not _DISCOVERY_DIR:
        yield
        return
    saved, tempfile.tempdir = tempfile.tempdir, _DISCOVERY_DIR[0]
    try:
        yield
    finally:
        tempfile.tempdir = saved


def deferred(discoverer):
    """A discoverer class for a DynamicClient that builds ``discoverer`` (the client's, e.g. LazyDiscoverer) only
    when the client first uses it; until then the client has sent nothing."""

    class DeferredDiscoverer:
        def __init__(self, client, cache_file):
            self._args = (client, cache_file)
            self._real = None

        @property
        def built(self):
            """Whether discovery ran (the server version and resource lists are known)."""
            return self._real is not None

        def __getattr__(self, name):
            if name.startswith("__") or name in ("_args", "_real"):
                raise AttributeError(name)
            if self._real is None:
                with _discovery_cache():
                    self._real = discoverer(*self._args)
            return getattr(self._real, name)

    return DeferredDiscoverer


def discovered_version(client):
    """The server version a DynamicClient's discovery already read, or None (nothing is requested here)."""
    discoverer = getattr(client, "_DynamicClient__discoverer", None)
    if discoverer is None or not getattr(discoverer, "built", True):
        return None
    known = (getattr(client, "version", None) or {}).get("kubernetes")
    return known if isinstance(known, dict) and known.get("gitVersion") else None
