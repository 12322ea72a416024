"""Bad input matrix: every case fails (rc != 0) with a message that names the cluster and the fix, and sends no
mutating request to any cluster of the lab.

Two families:

- topology cases (the inventory itself is wrong): the validation play refuses them before any cluster is
  contacted, so the audit logs show no request at all, not even a read;
- cluster cases (a credential, a CA, a CRD, a variable is wrong): they run against a mesh kialiops has already
  converged (home mgmt, spokes east and west, namespaces of their own), so everything that is right is a no-op and
  any mutating request in any audit log is one the bad input let through. SelfSubjectAccessReviews and
  TokenReviews are ``create`` in the audit log but change nothing; they are how kialiops asks before writing, so
  they are left out (``audit.mutating(include_reviews=False)``, as the integration tests count writes). A request
  that was attempted and denied (401/403) is still in the audit log and still counts.
"""
from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from labkit import ansible_playbook, load_yaml, run_module, unique
from test_cluster_remove import HOME, describe, writes


# --------------------------------------------------------------------------------------------- topology cases
def _move(ch, host, src, dst):
    ch[dst]["hosts"] = ch[dst]["hosts"] or {}
    ch[dst]["hosts"][host] = ch[src]["hosts"].pop(host)


def _set(ch, group, host, **kv):
    ch[group]["hosts"][host].update(kv)


TOPOLOGY = {
    "no_hub": (lambda ch: _move(ch, "hub-cluster", "hub", "lab_spare"), ["hub", "exactly one"]),
    "two_hubs": (lambda ch: _move(ch, "east", "spoke", "hub"), ["east", "hub-cluster"]),
    "two_externals": (lambda ch: (_move(ch, "mgmt", "lab_spare", "external"), _move(ch, "east", "spoke", "external")),
                      ["external", "east", "mgmt"]),
    "spoke_and_external": (lambda ch: ch["external"].update(hosts={"east": copy.deepcopy(ch["spoke"]["hosts"]["east"])}),
                           ["east", "spoke", "external"]),
    "invalid_name": (lambda ch: _set(ch, "spoke", "east", kialiops_cluster_name="East_1"), ["East_1", "DNS-1123"]),
    "duplicate_name": (lambda ch: _set(ch, "spoke", "east", kialiops_cluster_name="west"), ["west", "east"]),
    "no_kubeconfig": (lambda ch: [ch["spoke"]["hosts"]["east"].pop(k) for k in ("kialiops_kubeconfig", "kialiops_context")],
                      ["east", "kialiops_kubeconfig"]),
    "http_api_url": (lambda ch: _set(ch, "spoke", "east", kialiops_api_url="http://127.0.0.12:6443"),
                     ["east", "https"]),
}


@pytest.mark.parametrize("case", sorted(TOPOLOGY))
def test_bad_topology_fails_before_any_request(lab, tmp_path, case):
    mutate, words = TOPOLOGY[case]
    inv = load_yaml(lab.dir / "inventory.yml")
    mutate(inv["all"]["children"])
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    marks = lab.marks()
    r = ansible_playbook(path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    for w in words:
        assert w in out, (case, w, out[-3000:])
    assert "PLAY [Check Kiali's home" not in r.stdout    # failed in the validation play, before the preflight
    for c in lab.clusters:                              # no request at all, reads included
        assert lab.audit(c).since(marks[c], settle=0.3) == [], c


# ---------------------------------------------------------------------------------------------- cluster cases
def _east_kubeconfig(lab, tmp, edit, name="east.kubeconfig") -> dict:
    kc = yaml.safe_load(Path(lab.kubeconfig("east")).read_text())
    edit(kc)
    path = Path(tmp) / name
    path.write_text(kc if isinstance(kc, str) else yaml.safe_dump(kc))
    path.chmod(0o600)
    return {"east": {"kialiops_kubeconfig": str(path), "kialiops_context": kc["current-context"]
                     if isinstance(kc, dict) else "east"}}


def _cluster(kc):
    return kc["clusters"][0]["cluster"]


def _token_user(kc, token):
    kc["users"][0]["user"] = {"token": token}


def kc_unreachable(mesh, tmp):
    return _east_kubeconfig(mesh.lab, tmp, lambda kc: _cluster(kc).update(server="https://127.0.0.1:1"))


def kc_wrong_ca(mesh, tmp):
    hub_ca = base64.b64encode(mesh.lab.ca_pem("hub")).decode()
    return _east_kubeconfig(mesh.lab, tmp, lambda kc: _cluster(kc).update({"certificate-authority-data": hub_ca}))


def kc_bad_token(mesh, tmp):
    forged = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in (
        {"alg": "RS256", "kid": "forged"}, {"sub": "system:serviceaccount:default:nobody"}, {"sig": 1}))
    return _east_kubeconfig(mesh.lab, tmp, lambda kc: _token_user(kc, forged))


def kc_view_only(mesh, tmp):
    return _east_kubeconfig(mesh.lab, tmp, lambda kc: _token_user(kc, mesh.viewer_token))


def kc_skip_tls(mesh, tmp):
    def edit(kc):
        _cluster(kc).pop("certificate-authority-data", None)
        _cluster(kc)["insecure-skip-tls-verify"] = True
    return _east_kubeconfig(mesh.lab, tmp, edit)


def kc_malformed(mesh, tmp):
    path = Path(tmp) / "malformed.kubeconfig"
    path.write_text("apiVersion: v1\nclusters: [ {name: east, cluster: {server: \n")
    path.chmod(0o600)
    return {"east": {"kialiops_kubeconfig": str(path), "kialiops_context": "east"}}


def kc_missing_file(mesh, tmp):
    return {"east": {"kialiops_kubeconfig": str(Path(tmp) / "does-not-exist.kubeconfig")}}


def kc_unknown_context(mesh, tmp):
    return {"east": {"kialiops_context": "no-such-context"}}


def home_without_kiali_crd(mesh, tmp):
    # east as Kiali's home: the lab's spokes have no Kiali CRD (checked in the test)
    return {"__home__": "east", "__spokes__": ("west",)}


def openshift_home_with_kiali_crd(mesh, tmp):
    # west as Kiali's home: OpenShift-flavoured, with the Kiali CRD (upstream or the project's fixture: neither
    # declares auth.openshift.impersonation, which exists from Kiali v2.30.0)
    return {"__home__": "west", "__spokes__": ("east",), "__home_has_crd__": True}


EXEC = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", "east"]}

# case: (playbook, hostvars builder or None, extra vars, words the output must contain)
#  words: the cluster the failure is about, and the words of the fix. The connection cases run prepare.yml with east
#  as the one spoke (the connection layer is the same in every module; site.yml reads each cluster with it first).
CASES = {
    "unreachable_api": ("prepare.yml", kc_unreachable, {}, ["cluster east", "127.0.0.1:1"]),
    "wrong_ca": ("prepare.yml", kc_wrong_ca, {}, ["cluster east", "certificate", "CA"]),
    "bad_token_401": ("prepare.yml", kc_bad_token, {}, ["cluster east", "401"]),
    "admin_lacks_rights_403": ("prepare.yml", kc_view_only, {}, ["cluster east", "403", "Grant"]),
    "skip_tls_without_opt_in": ("prepare.yml", kc_skip_tls, {}, ["cluster east", "insecure-skip-tls-verify",
                                                                 "allow_insecure"]),
    "malformed_kubeconfig": ("prepare.yml", kc_malformed, {}, ["cluster east", "kubeconfig"]),
    "kubeconfig_file_missing": ("prepare.yml", kc_missing_file, {}, ["cluster east", "does-not-exist.kubeconfig"]),
    "unknown_context": ("prepare.yml", kc_unknown_context, {}, ["cluster east", "no-such-context"]),
    # site.yml plans every remote before its first write (playbooks/plan.yml): the 403 stops the whole run
    "site_403_stops_the_plan": ("site.yml", kc_view_only, {}, ["The plan failed on 1 cluster(s)", "cluster east", "403",
                                                               "Grant"]),
    "kiali_crd_missing": ("install.yml", home_without_kiali_crd, {"kialiops_kiali_namespace": "istio-system"},
                          ["cluster east", "CustomResourceDefinition", "Kiali operator"]),
    "unknown_kiali_version": ("prepare.yml", None, {"kialiops_kiali_version": "v9.99"},
                              ["cluster east", "cluster west", "v9.99", "Known versions: v2.28",
                               "remote_prepare_kiali_version"]),
    "exec_without_its_flag": ("prepare.yml", None, {"kialiops_token_mode": "exec", "kialiops_exec_config": EXEC},
                              ["cluster east", "cluster west", "kialiops_enable_exec_provider: true"]),
    "bad_ttl": ("prepare.yml", None, {"kialiops_token_ttl": 60, "remote_prepare_force_rotate": True},
                ["cluster east", "cluster west", "token_ttl", "7776000"]),
    "unknown_secret_mode": ("prepare.yml", None, {"kialiops_secret_mode": "both"},
                            ["remote_prepare_secret_mode", "per_cluster, single"]),
    # hub (here mgmt) without ACM's MultiClusterObservability; the mesh side is valid (no UWM, hub not in the mesh)
    "acm_without_mco": ("acm.yml", None, {"kialiops_acm_enabled": True, "kialiops_acm_hub_in_mesh": False,
                                          "kialiops_acm_user_workload_monitoring": False},
                        ["cluster %s" % HOME, "MultiClusterObservability"]),
    "unknown_cr_field": ("install.yml", None, {"kiali_install_cr_spec": {"deployment": {"no_such_field": 1}}},
                         ["cluster %s" % HOME, "spec.deployment.no_such_field"]),
    # site.yml plans the Kiali CR with the remotes (playbooks/plan.yml): no remote is written before it is refused
    "site_unknown_cr_field": ("site.yml", None, {"kiali_install_cr_spec": {"deployment": {"no_such_field": 1}}},
                              ["The plan failed on 1 cluster(s)", "cluster %s" % HOME, "spec.deployment.no_such_field"]),
    # Kiali's home is read before any remote is prepared (playbooks/preflight.yml): nothing is written half-way
    "site_kiali_crd_missing": ("site.yml", home_without_kiali_crd, {"kialiops_kiali_namespace": "istio-system",
                                                                    "kialiops_instance_name": unique("crdless")},
                               ["cluster east", "CustomResourceDefinition", "Kiali operator"]),
    "site_home_namespace_missing": ("site.yml", None, {"kialiops_kiali_namespace": "no-such-ns"},
                                    ["cluster %s" % HOME, "no-such-ns does not exist", "kialiops_kiali_namespace"]),
    "prepare_home_namespace_missing": ("prepare.yml", None, {"kialiops_kiali_namespace": "no-such-ns"},
                                       ["cluster %s" % HOME, "no-such-ns does not exist", "kialiops_kiali_namespace"]),
    # Kiali's auth strategy (plugins/module_utils/_auth.py): token and header show the home cluster only
    # (kiali v2.28.0 handlers/authentication/token_auth_controller.go); no default on a Kubernetes home with remotes
    "no_auth_strategy_with_remotes": ("site.yml", None, {"kialiops_auth_strategy": ""},
                                      ["cluster %s" % HOME, "no auth strategy is set", "kialiops_auth_strategy: openid",
                                       "kialiops_auth_strategy: anonymous", "Nothing was written"]),
    "token_with_remotes": ("site.yml", None, {"kialiops_auth_strategy": "token"},
                           ["cluster %s" % HOME, "home cluster %s only" % HOME, "openid or anonymous",
                            "kialiops_allow_home_only_auth: true"]),
    "header_with_remotes": ("prepare.yml", None, {"kialiops_auth_strategy": "header"},
                            ["cluster %s" % HOME, "auth strategy header shows", "kialiops_allow_home_only_auth"]),
    "impersonation_not_served": ("site.yml", openshift_home_with_kiali_crd, {
        "kialiops_auth_strategy": "openshift", "kialiops_impersonation": True, "kialiops_kiali_namespace": "istio-system",
        "kialiops_kiali_host": "kiali.apps.west.example.com"},
        ["cluster west", "spec.auth.openshift.impersonation", "Kiali v2.30.0", "kialiops_impersonation: false"]),
}
ONE_SPOKE = {"prepare.yml"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_names_cluster_and_fix_and_writes_nothing(lab, converged, tmp_path, case):
    playbook, build, extra, words = CASES[case]
    hostvars = build(converged, tmp_path) if build else {}
    home = hostvars.pop("__home__", None)
    home_has_crd = hostvars.pop("__home_has_crd__", False)
    spokes = hostvars.pop("__spokes__", ("east",) if build and playbook in ONE_SPOKE else ("east", "west"))
    inv = converged.inventory(spokes=spokes, name="inventory-%s.yml" % case, **hostvars)
    if home:        # another cluster as Kiali's home
        doc = load_yaml(inv)
        ch = doc["all"]["children"]
        ch["hub"]["hosts"] = {home + "-home": load_yaml(lab.dir / "inventory.yml")["all"]["children"]["spoke"]
                              ["hosts"][home]}
        inv.write_text(yaml.safe_dump(doc))
    if home and not home_has_crd:
        crds = client.ApiextensionsV1Api(lab.admin(home)).list_custom_resource_definition().items
        assert "kialis.kiali.io" not in [c.metadata.name for c in crds], "the case needs a home without the CRD"
    marks = lab.marks()
    try:
        r = ansible_playbook(inv, "-e", json.dumps(extra), playbook=playbook)
        out = r.stdout + r.stderr
        (tmp_path / "output.txt").write_text(out)
        assert r.returncode != 0, out[-4000:]
        for w in words:
            assert w in out, (case, w, out[-4000:])
        for c in lab.clusters:     # real writes; server-side dry-runs (strict CR validation) persist nothing
            assert writes(lab, marks, c) == [], (case, c, describe(writes(lab, marks, c)))
    finally:
        if home:        # whatever a run for this home wrote (nothing, when all is well)
            for c in spokes:
                run_module("remote_access", dict(cluster_name=c, kubeconfig=lab.kubeconfig(c), home_cluster=home,
                                                 state="absent"))
            client.CoreV1Api(lab.admin(home)).delete_collection_namespaced_secret(
                "istio-system", label_selector="app.kubernetes.io/managed-by=kialiops,kialiops.io/home=" + home)
