# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Who may write an object kialiops wants: the one decision every writer asks before it touches a live object.

A live object is
- ``owned``: labelled ``managed-by=kialiops, kialiops.io/home=<this home>`` (kialiops writes it as always);
- ``moved``: labelled for kialiops of another home that this run moves Kiali away from (``moving_from``, the clusters
  of the inventory that were Kiali's home): re-labelled for the new home, never duplicated;
- ``adopted``: made by a known Kiali installer (the prepare script, the kiali-server chart; maker()), only when the
  user asked for adoption (``adopt``): labelled and brought under kialiops' field manager (ClusterService.adopt());
  also, with ``adopt``, an object of ours the prepare script was run over since (touched_by_installer());
- ``foreign``: anything else: refused, named, nothing written.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils import _yaml as yaml
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (
    CLUSTER_ANNOTATION,
    HOME_KEY,
    INSTANCE_KEY,
    MANAGED_BY,
    MANAGED_BY_KEY,
    MULTI_CLUSTER_LABEL,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import remote_secret_name

OWNED, MOVED, ADOPTED, FOREIGN = "owned", "moved", "adopted", "foreign"
HELM_CHART_KEY = "helm.sh/chart"
# The installers kialiops takes over (adopt). What they make, read from their sources:
# - kiali/helm-charts kiali-server/templates/_helpers.tpl (c7b6cf98, "kiali-server.labels"): every object the chart
#   renders carries helm.sh/chart: kiali-server-<version>, app: kiali, app.kubernetes.io/name: kiali,
#   app.kubernetes.io/instance: <instance_name>, version and app.kubernetes.io/version: <Kiali version>,
#   app.kubernetes.io/part-of: kiali; `helm install` adds app.kubernetes.io/managed-by: Helm and the
#   meta.helm.sh/release-* annotations, `helm template` does not.
# - kiali/kiali hack/istio/multicluster/kiali-prepare-remote-cluster.sh (d733a096): `helm template kiali-server` with
#   deployment.remote_cluster_resources_only=true piped to `kubectl apply` (ServiceAccount <krn>, ClusterRole and
#   binding <krn>-viewer or <krn>, on OpenShift <krn>-<ns>-openshift, the ConfigMap <krn> holding a whole Kiali
#   config); then, without any label, a Secret <krn> of type kubernetes.io/service-account-token annotated
#   kubernetes.io/service-account.name: <krn>; on the home, kiali-remote-cluster-secret-<cluster> labelled
#   kiali.io/multiCluster: "true" and annotated kiali.io/cluster: <cluster>. kubectl apply leaves
#   kubectl.kubernetes.io/last-applied-configuration (a copy of the object: the home secret's holds the token).
CHART_MAKER = "kiali-server chart"
SCRIPT_TOKEN_MAKER = "prepare script (token Secret)"
SCRIPT_SECRET_MAKER = "prepare script (remote cluster secret)"
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
# What an installer puts on an object that kialiops does not: removed when kialiops adopts it (the chart's version
# labels would lie after the next Kiali upgrade; the last-applied copy would make `kubectl apply` fight kialiops and,
# on the home secret, keeps the replaced token in clear).
INSTALLER_LABELS = (HELM_CHART_KEY, "version", "app.kubernetes.io/version")
INSTALLER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "meta.helm.sh/release-name",
                         "meta.helm.sh/release-namespace")


def labels_of(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def kialiops_home(obj):
    """The home an object kialiops made serves, or None when kialiops did not make it."""
    labels = labels_of(obj)
    return labels.get(HOME_KEY) if labels.get(MANAGED_BY_KEY) == MANAGED_BY else None


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def maker(obj, account=None):
    """The Kiali installer that made ``obj``, or None (never kialiops):

    - ``kiali-server chart`` (the prepare script renders it with ``helm template``): labels ``helm.sh/chart:
      kiali-server-*`` and ``app.kubernetes.io/instance``;
    - ``prepare script (token Secret)``: a service-account token Secret of ``account`` (the live ServiceAccount it
      is annotated for, in the same namespace), when that ServiceAccount was made by a known installer or was
      adopted by kialiops already;
    - ``prepare script (remote cluster secret)``: on Kiali's home, ``kiali-remote-cluster-secret-<cluster>``
      labelled ``kiali.io/multiCluster: "true"``, annotated ``kiali.io/cluster: <cluster>``, without kialiops' labels.
    """
    labels = labels_of(obj)
    if not obj or labels.get(MANAGED_BY_KEY) == MANAGED_BY or HOME_KEY in labels:
        return None
    if str(labels.get(HELM_CHART_KEY, "")).startswith("kiali-server-") and labels.get(INSTANCE_KEY):
        return CHART_MAKER
    meta = _meta(obj)
    annotations = meta.get("annotations") or {}
    if obj.get("kind", "Secret") != "Secret":
        return None
    if obj.get("type") == SA_TOKEN_TYPE and account is not None:
        sa = _meta(account)
        if (annotations.get(SA_NAME_ANNOTATION) == sa.get("name") and meta.get("namespace") == sa.get("namespace")
                and (maker(account) or kialiops_home(account))):
            return SCRIPT_TOKEN_MAKER
    cluster = annotations.get(CLUSTER_ANNOTATION)
    if cluster and labels.get(MULTI_CLUSTER_LABEL) == "true" and meta.get("name") == _secret_name(cluster):
        return SCRIPT_SECRET_MAKER
    return None


def _secret_name(cluster):
    try:
        return remote_secret_name(cluster)
    except ValueError:
        return None


def installer_marks(obj, desired=None):
    """``(labels, annotations)``: the keys an installer put on ``obj`` that kialiops removes when it adopts it
    (those ``desired`` sets itself are kept)."""
    meta = _meta(obj)
    want = _meta(desired)
    labels = [k for k in INSTALLER_LABELS if k in (meta.get("labels") or {}) and k not in (want.get("labels") or {})]
    annotations = [k for k in INSTALLER_ANNOTATIONS if k in (meta.get("annotations") or {})
                   and k not in (want.get("annotations") or {})]
    return labels, annotations


def touched_by_installer(obj):
    """Whether an object kialiops made carries an installer's marks: the prepare script was run over it (its
    ``kubectl apply`` takes the fields it sends, and kialiops' next change to them would conflict)."""
    labels = labels_of(obj)
    return labels.get(MANAGED_BY_KEY) == MANAGED_BY and str(labels.get(HELM_CHART_KEY, "")).startswith(
        "kiali-server-")


def remote_only_config(obj):
    """Whether ``obj`` is the chart's ConfigMap of a remote-resources-only render (what the prepare script leaves
    on a remote, kiali-prepare-remote-cluster.sh d733a096): chart-made, and its ``config.yaml`` says
    ``deployment.remote_cluster_resources_only: true``. A running Kiali's ConfigMap never says so; it is kept."""
    if obj is None or maker(obj) != CHART_MAKER:
        return False
    try:
        config = yaml.safe_load(((obj.get("data") or {}).get("config.yaml")) or "")
    except yaml.YAMLError:
        return False
    deployment = config.get("deployment") if isinstance(config, dict) else None
    return isinstance(deployment, dict) and deployment.get("remote_cluster_resources_only") is True


class Ownership:
    """The verdict on live objects for one run writing for ``home``."""

    def __init__(self, home, moving_from=(), adopt=False):
        self.home = home
        self.moving_from = frozenset(h for h in (moving_from or ()) if h and h != home)
        self.adopt = bool(adopt)

    def verdict(self, live):
        """OWNED (also for an absent object: kialiops creates it), MOVED, ADOPTED or FOREIGN."""
        if live is None:
            return OWNED
        home = kialiops_home(live)
        if home == self.home:
            # Ours, but the prepare script was run over it since: with adopt, taken back (forced) like any adoption.
            return ADOPTED if self.adopt and touched_by_installer(live) else OWNED
        if home is not None:
            return MOVED if home in self.moving_from else FOREIGN
        if self.adopt and maker(live):
            return ADOPTED
        return FOREIGN
