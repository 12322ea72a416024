# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Kiali's former home, when Kiali's home moves to another cluster of the inventory (the former_home module's work).

The plan runs it in check mode (reads and server-side dry-runs only), the apply for real once the new home holds a
credential for every remote and carries the new Kiali CR. It

- reads what the former home holds for its Kiali: the remote-cluster secrets kialiops stored there (both forms,
  labelled ``kialiops.io/home=<former home>``) and the Kiali CR(s) labelled so in Kiali's namespace;
- refuses, before anything is written anywhere, what cannot be moved safely: the former home unreachable (its
  secrets could not be removed, and what it reads could not be known), or a cluster it reads that the new home will
  not (``covered``: the inventory's remotes and the new home itself) - Kiali on the new home would lose it;
- removes those remote-cluster secrets (``keep``: the clusters whose move failed in this run keep theirs until a
  rerun moves them), and the Kiali CR only with ``remove_cr`` (else reports it with the command that removes it).
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import home_selector
from ansible_collections.kialiops.multicluster.plugins.module_utils._names import validate_cluster_name
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secrets import read_entries
from ansible_collections.kialiops.multicluster.plugins.module_utils._secret_store import (
    Changes,
    ClusterSecrets,
    secret_name,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import access_denials

KIALI_API_VERSION = "kiali.io/v1alpha1"


def dropped_clusters(held, covered, new_home):
    """Pure: the clusters the former home holds a credential for that Kiali on ``new_home`` will not read."""
    covered = set(covered or ()) | {new_home}
    return sorted({c for c in held if c and c not in covered})


def delete_command(cr, connection):
    """The kubectl command that removes the former home's Kiali CR ``cr`` (``{name, namespace}``)."""
    words = ["kubectl"]
    if connection.get("kubeconfig"):
        words += ["--kubeconfig", connection["kubeconfig"]]
    if connection.get("context"):
        words += ["--context", connection["context"]]
    return " ".join(words + ["-n", cr["namespace"], "delete", "kialis.kiali.io", cr["name"]])


def summary(former, new_home, removed, keep, kiali_crs, check_mode):
    """Pure: one line saying what the move did (check mode: would do) on the former home."""
    verb = "would remove" if check_mode else "removed"
    parts = ["Kiali's home moves from %s to %s" % (former, new_home)]
    if removed:
        parts.append("%s on %s the remote-cluster secrets of %s" % (verb, former, ", ".join(
            r["cluster"] for r in removed)))
    if keep:
        parts.append("kept on %s the credentials of %s (not moved in this run: re-run)" % (former, ", ".join(keep)))
    for cr in kiali_crs:
        if cr["action"] == "removed":
            parts.append("%s the Kiali CR %s/%s on %s" % (verb, cr["namespace"], cr["name"], former))
        else:
            parts.append("the Kiali CR %s/%s on %s is kept (set kialiops_remove_old_home_cr: true, or remove it "
                         "with: %s)" % (cr["namespace"], cr["name"], former, cr["command"]))
    return "; ".join(parts)


class FormerHome:
    """One former home: ``service`` is its ClusterService, ``params`` the module's."""

    def __init__(self, module):
        self.module = module
        self.params = p = module.params
        self.service = None   # connected in read(): a connection that fails is refused as the move's
        self.former = p["cluster_name"]
        self.new_home = p["home_cluster"]
        self.namespace = p["namespace"]
        self.changes = Changes()

    def fail(self, reason, fix, **kwargs):
        raise KialiopsError(self.former, reason, fix, **kwargs)

    def check_names(self):
        p = self.params
        for option in ("covered", "keep"):
            for name in p[option]:
                try:
                    validate_cluster_name(name)
                except ValueError as e:
                    self.fail("%s: %s" % (option, e), "List cluster names (DNS-1123 labels). Nothing was written")
        if self.former == self.new_home:
            self.fail("Kiali's former home and its new home are the same cluster %s" % self.new_home,
                      "former_home names the cluster Kiali moves away from")

    def read(self):
        """``(entries, crs)`` of the former home; an unreachable home is refused with what to do."""
        try:
            self.service = self.module.home
            entries = read_entries(self.service, self.namespace, self.former)
            crs = []
            if KIALI_API_VERSION in self.service.api_groups():
                crs = [dict(name=cr["metadata"]["name"], namespace=cr["metadata"].get("namespace") or self.namespace)
                       for cr in self.service.list(KIALI_API_VERSION, "Kiali", namespace=self.namespace,
                                                   label_selector=home_selector(self.former))]
        except KialiopsError as e:
            raise KialiopsError(
                self.former,
                "Kiali's home is moving from %s to %s, and %s cannot be read (%s): its remote-cluster secrets could "
                "not be removed, nor could kialiops know which clusters its Kiali reads" % (
                    self.former, self.new_home, self.former, e.reason),
                "Nothing was written on any cluster. Make %s reachable (its connection in the inventory) and re-run. "
                "If %s is gone for good, its Kiali is gone with it: remove it from the inventory and re-label the "
                "objects the plan names for home %s (kubectl label --overwrite ... kialiops.io/home=%s), or delete "
                "them, then re-run" % (self.former, self.former, self.former, self.new_home),
                status=e.status) from e
        return entries, crs

    def check_removal(self, crs):
        ns = self.namespace
        wanted = [("get", "", "secrets", None, ns, None), ("patch", "", "secrets", None, ns, None),
                  ("delete", "", "secrets", None, ns, None)]
        if crs and self.params["remove_cr"]:
            wanted.append(("delete", "kiali.io", "kialis", None, ns, None))
        denials = access_denials(self.service, wanted)
        if denials:
            self.fail("the credential lacks permissions: %s" % "; ".join(denials),
                      "Grant those verbs on Kiali's former home %s to the connection's credential. Nothing was "
                      "removed" % self.former)

    def run(self):
        p = self.params
        self.check_names()
        entries, crs = self.read()
        held = sorted({e["cluster"] for e in entries if e["owned"] and e["cluster"]})
        dropped = dropped_clusters(held, p["covered"], self.new_home)
        if dropped:
            error = KialiopsError(
                self.former,
                "Kiali's home is moving from %s to %s, and Kiali on %s reads %s, which this inventory does not list "
                "as a remote cluster: Kiali on %s would be left without a credential for %s" % (
                    self.former, self.new_home, self.former, ", ".join(dropped), self.new_home,
                    "it" if len(dropped) == 1 else "them"),
                "Nothing was written on any cluster. Add %s to group spoke (with its connection) so that it moves "
                "too, or first remove it from Kiali on %s (remove_cluster.yml with the inventory whose home is %s, "
                "-e '{\"cluster_remove_clusters\": [%s]}'), then re-run" % (
                    ", ".join(dropped), self.former, self.former, ", ".join('"%s"' % c for c in dropped)))
            error.details = dict(dropped=dropped, held=held)
            raise error
        keep = [c for c in held if c in set(p["keep"])]
        targets = [c for c in held if c not in set(keep)]
        if targets or (crs and p["remove_cr"]):
            self.check_removal(crs)
        removed = []
        for cluster in targets:
            store = ClusterSecrets(self.service, self.namespace, cluster, self.former, self.changes,
                                   self.module.warn)
            forms = store.absent(checked=True)
            if forms:
                removed.append(dict(cluster=cluster, forms=forms,
                                    secrets=sorted({secret_name(form, cluster) for form in forms})))
        connection = dict(kubeconfig=p.get("kubeconfig"), context=p.get("context"))
        kiali_crs = []
        for cr in crs:
            cr = dict(cr, command=delete_command(cr, connection))
            if p["remove_cr"]:
                before = self.service.delete(KIALI_API_VERSION, "Kiali", cr["name"], cr["namespace"])
                if before is not None:
                    self.changes.record(self.service.cluster, dict(kind="Kiali", metadata=dict(
                        name=cr["name"], namespace=cr["namespace"])), before, None)
                cr["action"] = "removed"
            else:
                cr["action"] = "kept"
            kiali_crs.append(cr)
        result = dict(
            summary=summary(self.former, self.new_home, removed, keep, kiali_crs, self.service.check_mode),
            changed=self.changes.changed,
            former_home=self.former,
            held=held,
            kept=keep,
            removed=removed,
            kiali_crs=kiali_crs,
            unowned=sorted({e["cluster"] for e in entries if not e["owned"] and e["cluster"]}),
        )
        if self.module.diff:
            result["diff"] = self.changes.diff()
        return result


def former_home(module):
    """The module's result; raises KialiopsError (nothing written when the former home cannot be left)."""
    return FormerHome(module).run()
