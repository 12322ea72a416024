# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Reconcile what Kiali needs on one remote cluster (the remote_access module's work).

Three steps, as everywhere in kialiops: validate (pure, _rbac.py), ask (SelfSubjectAccessReviews for the
reads, then for exactly the writes the plan needs, every denial reported together), then write
(ClusterService.ensure(): a rerun sends no mutating request). Everything kialiops created for the same home
(labels ``app.kubernetes.io/managed-by=kialiops,kialiops.io/home=<home>``) that is not wanted any more is
deleted, so switching role, flavour or instance name leaves nothing behind.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._change import ADOPTED, REPLACED, Change
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError, KialiopsError, where_text
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import INSTANCE_KEY, home_selector
from ansible_collections.kialiops.multicluster.plugins.module_utils._ownership import (
    ADOPTED as ADOPT,
    CHART_MAKER,
    FOREIGN,
    MOVED,
    Ownership,
    installer_marks,
    kialiops_home,
    maker,
    remote_only_config,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import (
    OAUTH_API_VERSION,
    RBAC_API,
    check_params,
    check_platform_params,
    desired_objects,
    dns_label,
    names,
    role_kind,
    validate_rbac,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains

KIALI_API_VERSION = "kiali.io/v1alpha1"
MONITORING_API_VERSION = "monitoring.coreos.com/v1"
# Kinds the module writes or removes: (apiVersion, kind) -> (API group, resource) for access reviews.
RESOURCES = {
    ("v1", "Namespace"): ("", "namespaces"),
    ("v1", "ServiceAccount"): ("", "serviceaccounts"),
    ("v1", "Secret"): ("", "secrets"),
    ("v1", "ConfigMap"): ("", "configmaps"),
    (RBAC_API + "/v1", "ClusterRole"): (RBAC_API, "clusterroles"),
    (RBAC_API + "/v1", "ClusterRoleBinding"): (RBAC_API, "clusterrolebindings"),
    (OAUTH_API_VERSION, "OAuthClient"): ("oauth.openshift.io", "oauthclients"),
    (KIALI_API_VERSION, "Kiali"): ("kiali.io", "kialis"),
    (MONITORING_API_VERSION, "ServiceMonitor"): ("monitoring.coreos.com", "servicemonitors"),
    (MONITORING_API_VERSION, "PodMonitor"): ("monitoring.coreos.com", "podmonitors"),
}
# Pruned kinds, in deletion order (bindings before the roles they grant, the subject last). Secrets are not
# pruned: service-account token Secrets belong to the token module and go with their ServiceAccount.
PRUNED = ((RBAC_API + "/v1", "ClusterRoleBinding"), (RBAC_API + "/v1", "ClusterRole"), ("v1", "ServiceAccount"),
          (OAUTH_API_VERSION, "OAuthClient"))
# state=absent removes every kind kialiops writes on a remote, whatever mode or backend wrote it: the operator's
# remote-resources-only Kiali CR first (the operator then removes what it rendered), the RBAC kinds, the token
# Secrets (removed explicitly: the token controller's clean-up after the ServiceAccount is asynchronous).
REMOVED = ((KIALI_API_VERSION, "Kiali"),) + PRUNED[:2] + (("v1", "Secret"),) + PRUNED[2:]
# With include_metrics: what acm_metrics writes on a mesh cluster (monitors, metric allowlists).
METRICS = ((MONITORING_API_VERSION, "ServiceMonitor"), (MONITORING_API_VERSION, "PodMonitor"), ("v1", "ConfigMap"))
# User-workload monitoring is switched on in this shared ConfigMap; other workloads rely on it, so it is kept.
KEPT = {("ConfigMap", "openshift-monitoring", "cluster-monitoring-config")}


def _key(obj):
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace") or None, meta["name"]


def _describe(obj):
    kind, namespace, name = _key(obj)
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def _deleting(obj):
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _target(verb, group, resource, namespace=None):
    text = "%s %s%s" % (verb, resource, "." + group if group else "")
    return text + (" in namespace %s" % namespace if namespace else "")


class RemoteAccess:
    """One run of the module against one remote cluster: ``service`` is its ClusterService."""

    def __init__(self, service, params, want_diff=False, warn=None):
        self.service = service
        self.params = dict(params)
        self.want_diff = want_diff
        self.warn = warn or (lambda msg: None)
        self.cluster = service.cluster
        self.home = params["home_cluster"]
        # Objects labelled for a home this run moves Kiali away from (moving_from) are re-labelled for this home,
        # never duplicated; the homes found on them are reported (moved_from): the plan's detection of a move.
        # Objects the prepare script or the kiali-server chart made are taken over only with adopt.
        self.ownership = Ownership(self.home, params.get("moving_from"), adopt=params.get("adopt"))
        self.moved_from = set()
        self.change = Change()

    def fail(self, reason, fix, **kwargs):
        raise KialiopsError(self.cluster, reason, fix, **kwargs)

    @property
    def oauth_served(self):
        return self.served(OAUTH_API_VERSION)

    def served(self, api_version):
        """Whether the cluster serves ``api_version`` (core ``v1`` always)."""
        return api_version == "v1" or api_version in self.service.api_groups()

    def kinds(self, absent):
        """The kinds one run reads and deletes, in deletion order, limited to those the cluster serves."""
        kinds = PRUNED
        if absent and self.params.get("remove_scope", "everything") == "everything":
            kinds = ((METRICS if self.params.get("include_metrics") else ()) + REMOVED)
        return [(api_version, kind) for api_version, kind in kinds if self.served(api_version)]

    # --- ask -----------------------------------------------------------------------------------------------
    def review(self, wanted, writes):
        """SelfSubjectAccessReview per (verb, group, resource, namespace); one error listing every denial."""
        denied, seen = [], set()
        for item in wanted:
            if item in seen:
                continue
            seen.add(item)
            verb, group, resource, namespace = item
            answer = self.service.access_review(verb, group, resource, namespace=namespace)
            if not answer["allowed"]:
                denied.append(answer)
        if denied:
            listed = ", ".join(_target(d["verb"], d["group"], d["resource"], d["namespace"]) for d in denied)
            fix = ("Grant %s to %s (for example through a ClusterRole bound to that user) or use a credential that "
                   "has %s" % ("these verbs" if len(denied) > 1 else "that verb", where_text(self.service.where),
                               "them" if len(denied) > 1 else "it"))
            error = KialiopsError(
                self.cluster, "the credential may not %s (SelfSubjectAccessReview, %d denied)%s" % (
                    listed, len(denied), "" if writes else "; kialiops reads these before it plans anything"),
                fix + ". Nothing was written", status=403)
            error.details = dict(denied=[dict(verb=d["verb"], group=d["group"], resource=d["resource"],
                                              namespace=d["namespace"]) for d in denied])
            raise error

    def _read_reviews(self, absent):
        wanted = [("get", "", "namespaces", None)]
        if absent:
            wanted += [("list", "", "namespaces", None), ("list", "", "pods", None)]
        for api_version, kind in self.kinds(absent):
            group, resource = RESOURCES[(api_version, kind)]
            wanted += [("get", group, resource, None), ("list", group, resource, None)]
        self.review(wanted, writes=False)

    # --- reads ---------------------------------------------------------------------------------------------
    def owned(self, absent=False):
        """Live objects of the pruned (or, ``absent``, removed) kinds labelled for this home, not being deleted.
        (Not those of a home of ``moving_from``: only the objects this home wants are taken over from it.)"""
        found = []
        for api_version, kind in self.kinds(absent):
            for obj in self.service.list(api_version, kind, label_selector=home_selector(self.home)):
                obj.setdefault("kind", kind)
                if _key(obj) in KEPT:
                    continue
                if not _deleting(obj):
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                    found.append(obj)
        return found

    # --- present -------------------------------------------------------------------------------------------
    def present(self):
        try:
            return self._present()
        except KialiopsError as e:
            if e.status == 403:
                # The reads are not reviewed up front (a rerun would pay seven reviews for nothing): on a denial,
                # name every read the credential lacks at once; the write reviews ran before any write.
                self._read_reviews(absent=False)
            raise

    def _present(self):
        params = self.params
        if params["platform"] == "auto":
            params["platform"] = self.service.platform()
            check_platform_params(params)  # precheck() left out the rules that depend on the platform

        namespace = params["namespace"]
        live_ns = self.service.get("v1", "Namespace", namespace)
        if live_ns is not None and _deleting(live_ns):
            self.fail("namespace %s is being deleted" % namespace, "Wait until it is gone, then re-run")
        # Create the namespace only when it is absent; one kialiops created for this home earlier is reported
        # (unchanged); any other namespace is never touched.
        params["manage_namespace"] = self.ownership.verdict(live_ns) != FOREIGN
        desired = desired_objects(params)

        plan, conflicts = [], []
        for obj in desired:
            live = live_ns if obj["kind"] == "Namespace" else self.service.get(
                obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
            verdict = self.ownership.verdict(live)
            if live is not None and verdict == FOREIGN:
                conflicts.append((obj, live))
            elif live is not None and _deleting(live):
                self.fail("%s is being deleted" % _describe(obj), "Wait until it is gone, then re-run")
            if verdict == MOVED:
                self.moved_from.add(kialiops_home(live))
            if live is None:
                op = "create"
            elif obj["kind"] == "ClusterRoleBinding" and live.get("roleRef") != obj["roleRef"]:
                op = "replace"  # roleRef is immutable
            elif verdict == ADOPT:
                op = "adopt"
            elif contains(live, obj):
                op = "unchanged"
            else:
                op = "update"
            plan.append((obj, op, live))
        if conflicts:
            self.refuse(conflicts)

        wanted_keys = {_key(obj) for obj in desired}
        prune = [obj for obj in self.owned() if _key(obj) not in wanted_keys]
        if self.ownership.adopt:
            prune += self.installer_leftovers(wanted_keys)

        writes = []
        for obj, op, live in plan:
            group, resource = RESOURCES[(obj["apiVersion"], obj["kind"])]
            ns = obj["metadata"].get("namespace")
            verbs = {"create": ("create", "patch"), "update": ("patch",), "adopt": ("patch",),
                     "replace": ("delete", "create", "patch")}.get(op, ())
            writes += [(verb, group, resource, ns) for verb in verbs]
        for obj in prune:
            group, resource = RESOURCES[(obj["apiVersion"], obj["kind"])]
            writes.append(("delete", group, resource, obj["metadata"].get("namespace")))
        self.review(writes, writes=True)

        for obj, op, live in plan:
            if op == "replace":
                self.change.record(obj, *self.service.replace(obj), done=REPLACED)
            elif op == "adopt":
                labels, annotations = installer_marks(live, obj)
                self.change.record(obj, *self.service.adopt(obj, live, labels, annotations), done=ADOPTED)
            else:
                self.change.record(obj, *self.service.ensure(obj, live=live))
        for obj in prune:
            self._delete(obj)
        return self.result(present=True)

    def refuse(self, conflicts):
        """Fail naming the objects of the same names kialiops did not make (``[(desired, live)]``): those a known
        installer made can be adopted (``adopt``), the others only deleted or renamed."""
        described = ", ".join(_describe(o) for o, live in conflicts)
        makers = sorted({maker(live) or "" for o, live in conflicts})
        if "" not in makers and not self.ownership.adopt:
            fix = ("They were made by the %s (the prepare script kiali-prepare-remote-cluster.sh renders it): set "
                   "kialiops_adopt: true (remote_prepare_adopt, the module's adopt) to have kialiops take them over, "
                   "or delete them and re-run. Nothing was written" % ", ".join(makers))
        else:
            fix = ("kialiops takes over only what the kiali-server chart or the prepare script made (kialiops_adopt): "
                   "choose another instance_name, or delete them (or label them %s) and re-run. Nothing was "
                   "written" % home_selector(self.home))
        others = sorted({kialiops_home(live) for o, live in conflicts if kialiops_home(live)})
        if others:
            fix += (". If Kiali's home moved from %s, put %s in the inventory (any group, with its connection) and run "
                    "site.yml: it moves them" % (", ".join(others), "it" if len(others) == 1 else "them"))
        self.fail("%s already exist%s and %s not labelled %s (another installation of Kiali, the prepare script, or "
                  "another home's kialiops)" % (described, "s" if len(conflicts) == 1 else "",
                                                "is" if len(conflicts) == 1 else "are", home_selector(self.home)),
                  fix)

    def installer_leftovers(self, wanted_keys):
        """With ``adopt``: what the kiali-server chart (the prepare script) made for this instance that Kiali does
        not need here: its ClusterRoles and ClusterRoleBindings not wanted (the write role of a view-only
        Kiali, or the other way round) and the remote-only ConfigMap ``<instance>`` (remote_only_config())."""
        p = self.params
        found = []
        selector = "%s=%s" % (INSTANCE_KEY, p["instance_name"])
        for kind in ("ClusterRoleBinding", "ClusterRole"):
            for obj in self.service.list(RBAC_API + "/v1", kind, label_selector=selector):
                obj.update(apiVersion=RBAC_API + "/v1", kind=kind)
                if maker(obj) == CHART_MAKER and _key(obj) not in wanted_keys and not _deleting(obj):
                    found.append(obj)
        config = self.service.get("v1", "ConfigMap", p["instance_name"], p["namespace"])
        if config is not None and remote_only_config(config):
            config.update(apiVersion="v1", kind="ConfigMap")
            found.append(config)
        return found

    def _delete(self, obj):
        meta = obj["metadata"]
        before = self.service.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if before is not None:
            self.change.record(obj, before, None)

    # --- absent --------------------------------------------------------------------------------------------
    def absent(self):
        self._read_reviews(absent=True)
        found = self.owned(absent=True)
        namespaces = [] if self.params.get("keep_namespaces") else [
            ns for ns in self.service.list("v1", "Namespace", label_selector=home_selector(self.home))
            if not _deleting(ns)]
        gone = {_key(obj) for obj in found}
        doomed = []
        for ns in namespaces:
            users = self._other_users(ns["metadata"]["name"], gone)
            if users:
                self.warn("cluster %s: namespace %s was created by kialiops for home %s but is kept: it holds %s"
                          % (self.cluster, ns["metadata"]["name"], self.home, ", ".join(users[:5])))
            else:
                ns.setdefault("apiVersion", "v1")
                ns.setdefault("kind", "Namespace")
                doomed.append(ns)
        writes = []
        for obj in found + doomed:
            group, resource = RESOURCES[(obj["apiVersion"], obj["kind"])]
            writes.append(("delete", group, resource, obj["metadata"].get("namespace")))
        self.review(writes, writes=True)
        for obj in found + doomed:
            self._delete(obj)
        return self.result(present=False)

    def _other_users(self, namespace, gone):
        """What else lives in a namespace we created: ServiceAccounts (other than ``default`` and ours) and Pods."""
        users = []
        for sa in self.service.list("v1", "ServiceAccount", namespace=namespace):
            name = sa["metadata"]["name"]
            if name != "default" and ("ServiceAccount", namespace, name) not in gone:
                users.append("ServiceAccount %s" % name)
        users += ["Pod %s" % p["metadata"]["name"] for p in self.service.list("v1", "Pod", namespace=namespace)]
        return users

    # --- result --------------------------------------------------------------------------------------------
    def result(self, present):
        objects = self.change.objects()
        out = dict(
            changed=self.change.changed,
            objects=objects,
            pruned=[dict(kind=o["kind"], name=o["name"], namespace=o["namespace"]) for o in objects
                    if o["action"] == "deleted"],
            platform=self.params["platform"] if self.params["platform"] != "auto" else self.service.platform(),
            # for the run's summary (site.yml reads no cluster_info of a remote)
            server=self.service.server,
            server_version=self.service.version(),
            moved_from=sorted(self.moved_from),
        )
        if present:
            p = self.params
            kind = role_kind(p["view_only"], p["auth_strategy"])
            n = names(p["instance_name"], p["namespace"], p["flavour"], kind)
            out.update(service_account=dict(name=n["service_account"], namespace=p["namespace"]), role=n["role"],
                       role_kind=kind, rbac_version=p["rbac"]["version"],
                       adopted=[dict(kind=o["kind"], name=o["name"], namespace=o["namespace"]) for o in objects
                                if o["action"] == ADOPTED])
        if self.want_diff:
            out["diff"] = self.change.diff()
        return out


def precheck(params):
    """What can be rejected before any cluster is contacted (the rbac data, names, option combinations): the one
    run of check_params(); with ``platform: auto`` RemoteAccess.present() checks the platform's rules once known."""
    try:
        if params["state"] != "present":
            dns_label(params["home_cluster"], "home_cluster")
            return
        validate_rbac(params["rbac"])
        check_params(params)
    except InputError as e:
        raise KialiopsError(params["cluster_name"], e.reason, e.fix) from e


def remote_access(service, params, want_diff=False, warn=None):
    """Run the module's work on ``service`` (the remote cluster), after precheck(); returns the module result."""
    run = RemoteAccess(service, params, want_diff=want_diff, warn=warn)
    try:
        return run.present() if params["state"] == "present" else run.absent()
    except InputError as e:
        raise KialiopsError(service.cluster, e.reason, e.fix) from e
