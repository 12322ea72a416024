"""Least privilege, for real: the credential kialiops stored for Kiali (default mode: view only) is taken out of the
remote-cluster secret on Kiali's home and used against the remote's API server.

- every write the write role of the RBAC data (roles/remote_prepare/vars/rbac/<version>.yml) grants beyond the
  viewer role is sent for real (no dry-run) and must come back 403 Forbidden; the same request sent by the admin
  as a server-side dry-run must not be 403, which shows the request itself is well-formed and authorizable, so the
  403 is the credential's (authorization runs before the resource is looked up and before admission, so a 403 is
  the answer whether or not the object or even the kind exists);
- every read the viewer role grants is sent and must be allowed: 200, or 404 where the kind is not served or
  the object does not exist (an unauthorized request gets 403 before the server looks).
"""
from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client

from labkit import REPO, kubeconfig_client, stored_kubeconfig, unique, whoami

RBAC = yaml.safe_load((REPO / "roles" / "remote_prepare" / "vars" / "rbac" / "v2.28.yml").read_text())["remote_prepare_rbac"]
# "*" in the data: the kinds of those groups Kiali reads and edits (Istio and Gateway API inference CRDs)
STAR = {"networking.istio.io": ["virtualservices", "destinationrules", "gateways", "serviceentries", "sidecars",
                                "workloadentries", "workloadgroups"],
        "security.istio.io": ["authorizationpolicies", "peerauthentications", "requestauthentications"],
        "extensions.istio.io": ["wasmplugins"], "telemetry.istio.io": ["telemetries"],
        "inference.networking.k8s.io": ["inferencepools"]}
FALLBACK_VERSION = {"extensions.istio.io": "v1alpha1"}
CLUSTER_SCOPED = {"namespaces", "gatewayclasses", "mutatingwebhookconfigurations", "tokenreviews"}
WRITES = {"create", "delete", "patch", "update", "deletecollection"}


def expand(rules):
    """{(group, resource): set(verbs)} of a rule list."""
    out = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for res in (STAR[group] if rule["resources"] == ["*"] else rule["resources"]):
                out.setdefault((group, res), set()).update(rule["verbs"])
    return out


def grants(kind, openshift):
    rules = list(RBAC[kind]) + (list(RBAC["openshift"][kind]) if openshift else [])
    return expand(rules)


def stored_client(lab, mesh, cluster) -> client.ApiClient:
    """An API client with exactly the kubeconfig kialiops stored for ``cluster`` on Kiali's home."""
    kc = stored_kubeconfig(lab, mesh.ns, cluster, home="mgmt")
    assert kc is not None, "no credential stored for %s" % cluster
    assert list(kc["users"][0]["user"]) == ["token"], "not a token credential"
    return kubeconfig_client(kc)


def versions(api):
    """group -> preferred version of what the server serves (core: "")."""
    groups = json.loads(api.call_api("/apis", "GET", _preload_content=False, _return_http_data_only=True).data)
    out = {g["name"]: g["preferredVersion"]["version"] for g in groups["groups"]}
    out[""] = "v1"
    return out


def path(group, version, resource, ns, name=None):
    base = "/api/v1" if group == "" else "/apis/%s/%s" % (group, version)
    sub = None
    if "/" in resource:
        resource, sub = resource.split("/", 1)
        name = name or "no-such-object"
    p = base + ("" if resource in CLUSTER_SCOPED else "/namespaces/" + ns) + "/" + resource
    if name:
        p += "/" + name
    return p + ("/" + sub if sub else "")


def send(api, method, url, body=None, dry_run=False):
    query = [("dryRun", "All")] if dry_run else []
    if method == "GET" and url.endswith("?watch"):
        url, query = url[:-len("?watch")], query + [("watch", "true"), ("timeoutSeconds", "1")]
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    try:
        r = api.call_api(url, method, query_params=query, header_params=headers, body=body,
                         auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
        return r.status
    except client.ApiException as e:
        return e.status


def request(group, version, resource, verb, ns, existing):
    """(method, url, body) of one real request for ``verb`` on ``group/resource``."""
    api_version = version if group == "" else "%s/%s" % (group, version)
    name = existing.get(resource) or unique("lp")
    if verb == "create":
        return "POST", path(group, version, resource, ns), {
            "apiVersion": api_version, "kind": "Probe", "metadata": {"name": unique("lp")}}
    if verb == "patch":
        return "PATCH", path(group, version, resource, ns, name), {"metadata": {"labels": {"kialiops-probe": "x"}}}
    if verb == "update":
        return "PUT", path(group, version, resource, ns, name), {"apiVersion": api_version, "metadata": {"name": name}}
    if verb == "delete":
        return "DELETE", path(group, version, resource, ns, name), None
    if verb == "deletecollection":
        return "DELETE", path(group, version, resource, ns), None
    raise ValueError(verb)


@pytest.mark.parametrize("cluster", ["east", "west"])       # west has the OpenShift flavour
def test_stored_view_only_credential_is_denied_every_write_and_allowed_every_read(lab, converged, cluster):
    mesh = converged
    openshift = cluster == "west"
    viewer = stored_client(lab, mesh, cluster)
    admin = lab.admin(cluster)
    served = versions(admin)
    write, view = grants("write", openshift), grants("viewer", openshift)
    ns = mesh.remote_ns
    existing = {"namespaces": ns}       # a patch or delete aims at a real object where there is one

    denied_checked, problems = [], []
    # the probes are the stored service account's, never anonymous (an anonymous request is 403 too)
    assert whoami(viewer) == "system:serviceaccount:%s:%s" % (mesh.remote_ns, mesh.ns)
    for (group, res), verbs in sorted(write.items()):
        for verb in sorted((verbs & WRITES) - view.get((group, res), set())):
            version = served.get(group) or FALLBACK_VERSION.get(group, "v1")
            method, url, body = request(group, version, res, verb, ns, existing)
            as_admin = send(admin, method, url, body, dry_run=True)
            as_kiali = send(viewer, method, url, body)
            denied_checked.append("%s %s" % (verb, url))
            if as_admin == 403:
                problems.append("admin refused too (bad probe): %s %s" % (verb, url))
            if as_kiali != 403:
                problems.append("stored credential got %s, not 403: %s %s" % (as_kiali, verb, url))
    # what no role grants, the credential must not do either
    for method, url, body in (("POST", "/api/v1/namespaces/%s/secrets" % ns, {"metadata": {"name": unique("lp")}}),
                              ("DELETE", "/api/v1/namespaces/%s" % ns, None),
                              ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
                                  "metadata": {"name": unique("lp")}, "roleRef": {
                                      "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                      "name": "cluster-admin"}, "subjects": []})):
        if send(viewer, method, url, body) != 403:
            problems.append("stored credential not denied: %s %s" % (method, url))
    assert len(denied_checked) >= 40, denied_checked        # the data really has that many writes
    assert problems == [], "\n".join(problems)
    assert client.CoreV1Api(admin).read_namespace(ns).metadata.labels.get("kialiops-probe") is None

    allowed = []
    for (group, res), verbs in sorted(view.items()):
        version = served.get(group) or FALLBACK_VERSION.get(group, "v1")
        for verb in sorted(verbs):
            if verb == "create":            # tokenreviews, pods/portforward: viewers keep them
                if res == "tokenreviews":
                    status = send(viewer, "POST", path(group, version, res, ns), {
                        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "x"}})
                    ok = status == 201
                else:
                    status = send(viewer, "POST", path(group, version, res, ns), {})
                    ok = status not in (401, 403)     # no such pod (or no upgrade): authorized, then refused
            else:
                url = path(group, version, res, ns, "no-such-object" if verb == "get" else None)
                status = send(viewer, "GET", url + ("?watch" if verb == "watch" else ""))
                exact = verb != "get" and group in served and "/" not in res     # a list of what is served
                ok = status == 200 if exact else status in (200, 404)
            allowed.append((verb, group, res, status))
            if not ok:
                problems.append("stored credential got %s for %s %s/%s" % (status, verb, group or "core", res))
    assert len(allowed) >= 50, allowed
    assert problems == [], "\n".join(problems)
