# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One mesh cluster's part of Kiali on ACM Observability (the acm_monitoring module's work).

Validate (monitoring CRDs served, namespaces exist), read (mesh config, mesh namespaces, what is there), ask
(SelfSubjectAccessReviews for exactly the writes the plan needs), then write with ClusterService.ensure(): a
rerun sends no mutating request. Objects someone else created are merged into (the UWM setting, the
allowlist) or left alone (monitors), never labelled as ours.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils import _acm as acm
from ansible_collections.kialiops.multicluster.plugins.module_utils._change import UNCHANGED, Change
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    InputError,
    KialiopsError,
    describe_object,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import is_owned
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains

NOTHING_WRITTEN = "Nothing was written"
# (apiVersion, kind) -> (API group, resource) for access reviews.
RESOURCES = {
    ("v1", "ConfigMap"): ("", "configmaps"),
    (acm.MONITORING_API, "ServiceMonitor"): ("monitoring.coreos.com", "servicemonitors"),
    (acm.MONITORING_API, "PodMonitor"): ("monitoring.coreos.com", "podmonitors"),
}


def _describe(obj):
    meta = obj["metadata"]
    return describe_object(obj["kind"], meta["name"], meta.get("namespace"))


class MeshMonitoring:
    """One run against one mesh cluster; ``service`` is its ClusterService."""

    def __init__(self, service, params, want_diff=False, warn=None):
        self.service = service
        self.cluster = service.cluster
        self.params = params
        self.home = params["home_cluster"]
        self.want_diff = want_diff
        self.warn = warn or (lambda msg: None)
        self.plan = []  # (desired object, live object or None, merged, note)

    def fail(self, reason, fix, obj=None):
        raise KialiopsError(self.cluster, reason, fix + ". " + NOTHING_WRITTEN, obj)

    # ------------------------------------------------------------ validate and read
    def validate(self):
        if acm.MONITORING_API not in self.service.api_groups():
            self.fail("the cluster does not serve %s (kinds ServiceMonitor and PodMonitor)" % acm.MONITORING_API,
                      "Install the Prometheus operator CRDs servicemonitors.monitoring.coreos.com and "
                      "podmonitors.monitoring.coreos.com (OpenShift monitoring ships them) on cluster %s" % self.cluster)
        wanted = [self.params["control_plane_namespace"]] + list(self.params["mesh_namespaces"] or [])
        if self.params["user_workload_monitoring"]:
            wanted.append(acm.MONITORING_NAMESPACE)
        missing = [ns for ns in dict.fromkeys(wanted) if self.service.get("v1", "Namespace", ns) is None]
        if acm.MONITORING_NAMESPACE in missing:
            self.fail("namespace %s does not exist, so there is no OpenShift monitoring whose user-workload "
                      "Prometheus ACM could collect from" % acm.MONITORING_NAMESPACE,
                      "ACM Observability collects Istio metrics through OpenShift user-workload monitoring: run "
                      "this on OpenShift, or set acm_metrics_user_workload_monitoring (module option "
                      "user_workload_monitoring) to false when the cluster's Prometheus is set up otherwise")
        if missing:
            self.fail("these namespaces do not exist: %s" % ", ".join(missing),
                      "Install the Istio control plane first, or correct acm_metrics_control_plane_namespace / "
                      "acm_metrics_mesh_namespaces")

    def mesh_id(self):
        """``(mesh ID, source)``: Istio's mesh config, else the option, else the documented default."""
        cp = self.params["control_plane_namespace"]
        config = self.service.get("v1", "ConfigMap", "istio", namespace=cp)
        found, source = acm.mesh_id_from_config(((config or {}).get("data") or {}).get("mesh"))
        if found:
            return found, "ConfigMap %s/istio %s" % (cp, source)
        if self.params.get("mesh_id"):
            return self.params["mesh_id"], "option mesh_id"
        return acm.DEFAULT_MESH_ID, "default"

    def namespaces(self):
        """The control-plane namespace, then the mesh namespaces (listed, or discovered), sorted."""
        cp = self.params["control_plane_namespace"]
        listed = list(self.params["mesh_namespaces"] or [])
        if listed:
            found = listed
        else:
            # a namespace being deleted refuses new objects: skip it
            alive = [ns for ns in self.service.list("v1", "Namespace") if not ns["metadata"].get("deletion_timestamp")
                     and not ns["metadata"].get("deletionTimestamp")]
            found = [ns["metadata"]["name"] for ns in alive if acm.is_mesh_namespace(ns)]
            for selector in (acm.ZTUNNEL_SELECTOR, acm.WAYPOINT_SELECTOR):
                found += [pod["metadata"]["namespace"] for pod in self.service.list("v1", "Pod", label_selector=selector)]
            found = set(found) & {ns["metadata"]["name"] for ns in alive}
        out = [cp] + sorted(set(found) - {cp})
        if acm.OBSERVABILITY_NAMESPACE in out:
            self.warn("cluster %s: namespace %s is skipped: ACM ignores allowlists there" % (
                self.cluster, acm.OBSERVABILITY_NAMESPACE))
            out.remove(acm.OBSERVABILITY_NAMESPACE)
        return out

    # ------------------------------------------------------------ plan
    def _own(self, desired):
        meta = desired["metadata"]
        live = self.service.get(desired["apiVersion"], desired["kind"], meta["name"], namespace=meta["namespace"])
        if live is not None and not is_owned(live, self.home):
            self.warn("cluster %s: %s exists and was not created by kialiops for home %s; it is left as it is"
                      % (self.cluster, _describe(desired), self.home))
            self.plan.append((desired, live, False, "kept"))
            return
        self.plan.append((desired, live, False, None))

    def _merge(self, name, namespace, key, merge, create_text):
        live = self.service.get("v1", "ConfigMap", name, namespace=namespace)
        if live is None:
            self.plan.append((acm.configmap(name, namespace, {key: create_text}, acm.labels(self.home)), None, False,
                              None))
            return
        text = (live.get("data") or {}).get(key)
        try:
            new = merge(text)
        except InputError as e:
            self.fail(e.reason, e.fix, "ConfigMap %s/%s" % (namespace, name))
        # ours: keep sending our labels (server-side apply would drop them otherwise); theirs: only the key
        obj_labels = acm.labels(self.home) if is_owned(live, self.home) else None
        self.plan.append((acm.configmap(name, namespace, {key: new}, obj_labels), live, True, None))

    def build(self, mesh_id, namespaces):
        params = self.params
        if params["user_workload_monitoring"]:
            self._merge(acm.UWM_CONFIGMAP, acm.MONITORING_NAMESPACE, acm.UWM_KEY, lambda t: acm.merge_uwm(t)[0],
                        "enableUserWorkload: true\n")
        self._own(acm.service_monitor(params["control_plane_namespace"], self.home, params["scrape_interval"]))
        names = list(dict.fromkeys(list(params["metrics"]) + list(params["extra_metrics"] or [])))
        created = acm.merge_allowlist("", names)[0]
        for ns in namespaces:
            self._own(acm.pod_monitor(ns, self.home, mesh_id, params["scrape_interval"]))
            self._merge(acm.ALLOWLIST, ns, acm.ALLOWLIST_KEY, lambda t: acm.merge_allowlist(t, names)[0], created)

    def _writes(self):
        return [(d, live, merged) for d, live, merged, note in self.plan
                if note is None and (live is None or not contains(live, d))]

    def ask(self):
        denied = []
        seen = set()
        for desired, live, dummy in self._writes():
            group, resource = RESOURCES[(desired["apiVersion"], desired["kind"])]
            namespace = desired["metadata"]["namespace"]
            for verb in (("patch",) if live is not None else ("create", "patch")):
                if (verb, resource, namespace) in seen:
                    continue
                seen.add((verb, resource, namespace))
                review = self.service.access_review(verb, group, resource, namespace=namespace)
                if not review["allowed"]:
                    denied.append("%s %s%s in namespace %s" % (verb, resource, "." + group if group else "", namespace))
        if denied:
            self.fail("the credential may not %s" % "; ".join(denied),
                      "Use an admin context for cluster %s, or grant those verbs" % self.cluster)

    # ------------------------------------------------------------ run
    def run(self):
        self.validate()
        mesh_id, source = self.mesh_id()
        namespaces = self.namespaces()
        self.build(mesh_id, namespaces)
        writes = {id(d) for d, dummy, dummy2 in self._writes()}
        change = Change()
        if writes and not self.params["validate_only"]:
            self.ask()
        for desired, live, merged, note in self.plan:
            if not note and not self.params["validate_only"]:
                self.service.render(desired)
            if note:
                change.note(desired, note)
            elif id(desired) not in writes:
                change.note(desired, UNCHANGED)
            elif self.params["validate_only"]:
                change.note(desired, "create" if live is None else "update")
            else:
                change.record(desired, *self.service.ensure(desired, live=live, merged=merged))
        result = dict(changed=change.changed, mesh_id=mesh_id, mesh_id_source=source, namespaces=namespaces,
                      objects=change.objects())
        if self.want_diff:
            result["diff"] = change.diff()
        return result


def acm_monitoring(service, params, want_diff=False, warn=None):
    return MeshMonitoring(service, params, want_diff=want_diff, warn=warn).run()
