# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The set of remote-cluster credentials on Kiali's home (the remote_secrets module's work).

Which clusters the home holds a credential for, in which form, and whether kialiops stored it for this home;
removal of some clusters (or pruning of every cluster kialiops stored that is no longer wanted), from the home only:
the remote clusters are never contacted. The removal of one cluster is ``_secret_store.ClusterSecrets.absent``, as
for remote_secret, so both modules remove exactly alike: the per-cluster Secret, or only that cluster's key of
``kiali-multi-cluster-secret``.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import is_owned
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    MULTI_CLUSTER_SELECTOR,
    PER_CLUSTER,
    SINGLE,
    SINGLE_NAME,
    Changes,
    ClusterSecrets,
    secret_cluster,
    secret_name,
)


def entries(per_cluster_secrets, single_secret, home):
    """Pure: one entry per (cluster, form) the home holds, sorted: ``{cluster, form, secret, owned}``.

    A per-cluster Secret names its cluster by the annotation ``kiali.io/cluster`` (as Kiali reads it), else by its
    only key; a Secret that names none is listed with cluster None. ``owned``: kialiops stored it for ``home``.
    """
    out = []
    for secret in per_cluster_secrets:
        meta = secret.get("metadata") or {}
        if meta.get("name") == SINGLE_NAME:
            continue
        out.append(dict(cluster=secret_cluster(secret), form=PER_CLUSTER, secret=meta.get("name"),
                        owned=is_owned(secret, home)))
    if single_secret is not None:
        owned = is_owned(single_secret, home)
        for key in sorted((single_secret.get("data") or {}).keys()):
            out.append(dict(cluster=key, form=SINGLE, secret=SINGLE_NAME, owned=owned))
    return sorted(out, key=lambda e: (e["cluster"] or "", e["form"]))


def prune_targets(found, keep):
    """Pure: clusters kialiops stored for this home that ``keep`` does not list, sorted."""
    keep = set(keep or [])
    return sorted({e["cluster"] for e in found if e["owned"] and e["cluster"] and e["cluster"] not in keep})


def read_entries(service, namespace, home):
    """What the home holds now (see entries())."""
    per_cluster = service.list("v1", "Secret", namespace=namespace, label_selector=MULTI_CLUSTER_SELECTOR)
    single = service.get("v1", "Secret", SINGLE_NAME, namespace=namespace)
    return entries(per_cluster, single, home)


def _check_names(cluster, names, option):
    for name in names:
        try:
            validate_cluster_name(name)
        except ValueError as e:
            raise KialiopsError(cluster, "%s: %s" % (option, e), "List cluster names (DNS-1123 labels) in %s. "
                                "Nothing was removed" % option) from e


def remote_secrets(module):
    """The module's result; raises KialiopsError (nothing removed when validation or an access review fails)."""
    p = module.params
    home = module.home
    label_home = p.get("home_cluster") or p["cluster_name"]
    _check_names(home.cluster, p["remove"], "remove")
    _check_names(home.cluster, p["keep"], "keep")
    if label_home in p["remove"]:
        raise KialiopsError(home.cluster, "remove lists %s, Kiali's home cluster itself" % label_home,
                            "Remove only remote clusters; to remove Kiali itself delete its Kiali CR. Nothing was "
                            "removed")
    before = read_entries(home, p["namespace"], label_home)
    targets = sorted(set(p["remove"]) | set(prune_targets(before, p["keep"]) if p["prune"] else ()))
    stores = [ClusterSecrets(home, p["namespace"], cluster, label_home, Changes(), module.warn) for cluster in targets]
    pending = [store for store in stores if store.holding()]
    if pending:
        pending[0].check_removal()  # one review: the same verbs on the same namespace for every cluster
    removed, diff_before, diff_after = [], {}, {}
    for store in pending:
        forms = store.absent(checked=True)
        if forms:
            removed.append(dict(cluster=store.cluster, forms=forms,
                                secrets=sorted({secret_name(form, store.cluster) for form in forms})))
        diff_before.update(store.changes.before)
        diff_after.update(store.changes.after)
    # ClusterSecrets.remove() warns about each of these: kialiops never removes what it did not store.
    unowned = sorted({e["cluster"] for e in before if e["cluster"] in targets and not e["owned"]})
    result = dict(
        changed=any(store.changes.changed for store in stores),
        clusters=before,
        targets=targets,
        removed=removed,
        removed_secrets=sorted({s for r in removed for s in r["secrets"] if s != SINGLE_NAME}),
        unowned=unowned,
    )
    if module.diff:
        result["diff"] = dict(before=diff_before, after=diff_after)
    return result
