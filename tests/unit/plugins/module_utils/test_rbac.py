# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Role choice, names, rules and manifests for Kiali on a remote cluster (module_utils/_rbac.py) and the
RBAC data file of each Kiali version (roles/remote_prepare/vars/rbac/)."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
import yaml

from ansible_collections.kialiops.multicluster.plugins.module_utils import _rbac
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (
    home_selector,
    is_owned,
    kiali_labels,
    owned_labels,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import (
    desired_objects,
    names,
    role_kind,
    validate_rbac,
    viewer_write_grants,
)

REPO = Path(__file__).resolve().parents[4]
RBAC_DIR = REPO / "roles" / "remote_prepare" / "vars" / "rbac"
AUTHS = ("anonymous", "openid", "openshift", "token", "header")


def load(version="v2.28"):
    return yaml.safe_load((RBAC_DIR / ("%s.yml" % version)).read_text())["remote_prepare_rbac"]


RBAC = load()
RBAC_IMPERSONATION = load("v2.30")  # the first data set with the impersonate rule


def params(**over):
    p = dict(cluster_name="west", home_cluster="hub", namespace="istio-system", instance_name="kiali",
             flavour="chart", view_only=True, auth_strategy="token", impersonation=False,
             kiali_host="kiali.apps.hub.example.com", platform="kubernetes", rbac=copy.deepcopy(RBAC),
             manage_namespace=False)
    p.update(over)
    return p


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def triples(rules):
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


# --- role choice -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("view_only, auth, expected", [
    (False, "anonymous", "write"),
    (False, "openid", "viewer"),
    (False, "openshift", "viewer"),
    (False, "token", "viewer"),
    (False, "header", "viewer"),
    (True, "anonymous", "viewer"),
    (True, "openid", "viewer"),
    (True, "openshift", "viewer"),
    (True, "token", "viewer"),
    (True, "header", "viewer"),
    (None, "anonymous", "viewer"),  # only an explicit false gives write access
])
def test_role_kind(view_only, auth, expected):
    assert role_kind(view_only, auth) == expected


@pytest.mark.parametrize("view_only, auth, platform, flavour",
                         list(itertools.product((True, False), AUTHS, ("kubernetes", "openshift"), ("chart", "operator"))))
def test_role_choice_table(view_only, auth, platform, flavour):
    objs = desired_objects(params(view_only=view_only, auth_strategy=auth, platform=platform, flavour=flavour))
    kind = "write" if (not view_only and auth == "anonymous") else "viewer"
    role_name = "kiali" if kind == "write" else "kiali-viewer"
    main_role = [o for o in by_kind(objs, "ClusterRole") if not o["metadata"]["name"].endswith("-openshift")]
    assert [r["metadata"]["name"] for r in main_role] == [role_name]
    expected_rules = RBAC[kind] + (RBAC["openshift"][kind] if platform == "openshift" else [])
    assert main_role[0]["rules"] == expected_rules
    main_binding = [o for o in by_kind(objs, "ClusterRoleBinding") if not o["metadata"]["name"].endswith("-openshift")]
    assert len(main_binding) == 1
    binding = main_binding[0]
    assert binding["metadata"]["name"] == (role_name if flavour == "chart" else "kiali")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name}
    sa_name = "kiali" if flavour == "chart" else "kiali-service-account"
    assert [s["metadata"]["name"] for s in by_kind(objs, "ServiceAccount")] == [sa_name]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": "istio-system"}]
    groups = {g for rule in main_role[0]["rules"] for g in rule["apiGroups"]}
    assert ("apps.openshift.io" in groups) == (platform == "openshift")
    assert ("route.openshift.io" in groups) == (platform == "openshift")


# --- names -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flavour, kind, sa, role, binding", [
    ("chart", "viewer", "kiali", "kiali-viewer", "kiali-viewer"),
    ("chart", "write", "kiali", "kiali", "kiali"),
    ("operator", "viewer", "kiali-service-account", "kiali-viewer", "kiali"),
    ("operator", "write", "kiali-service-account", "kiali", "kiali"),
])
def test_names_per_flavour(flavour, kind, sa, role, binding):
    n = names("kiali", "istio-system", flavour, kind)
    assert (n["service_account"], n["role"], n["binding"]) == (sa, role, binding)
    assert n["openshift"] == "kiali-istio-system-openshift"
    assert n["oauthclient"] == "kiali-istio-system"


def test_names_follow_instance_and_namespace():
    n = names("kiali2", "mesh", "operator", "viewer")
    assert n == dict(service_account="kiali2-service-account", role="kiali2-viewer", binding="kiali2",
                     openshift="kiali2-mesh-openshift", oauthclient="kiali2-mesh")


@pytest.mark.parametrize("flavour, kind", [("helm", "viewer"), ("chart", "admin")])
def test_names_reject_unknown(flavour, kind):
    with pytest.raises(InputError):
        names("kiali", "istio-system", flavour, kind)


# --- the data file ---------------------------------------------------------------------------------------------

def test_data_file_loads_and_validates():
    text = (RBAC_DIR / "v2.28.yml").read_text()
    # says where the rules come from: the released tag of the chart and the operator
    assert "released tag v2.28.0 of kiali/helm-charts" in text and "kiali/kiali-operator v2.28.0" in text
    data = yaml.safe_load(text)
    assert list(data) == ["remote_prepare_rbac"]
    assert validate_rbac(data["remote_prepare_rbac"]) == RBAC
    assert RBAC["version"] == "v2.28"


def test_every_data_file_is_named_after_its_version_and_validates():
    files = sorted(RBAC_DIR.glob("*.yml"))
    assert files
    for f in files:
        data = yaml.safe_load(f.read_text())["remote_prepare_rbac"]
        assert data["version"] == f.stem
        validate_rbac(data)


@pytest.mark.parametrize("kind", ["write", "viewer"])
def test_expected_api_groups(kind):
    groups = {g for rule in RBAC[kind] for g in rule["apiGroups"]}
    assert groups == {"", "apps", "batch", "networking.istio.io", "security.istio.io", "extensions.istio.io",
                      "telemetry.istio.io", "inference.networking.k8s.io", "gateway.networking.k8s.io",
                      "authentication.k8s.io", "admissionregistration.k8s.io"}
    openshift_groups = {g for rule in RBAC["openshift"][kind] for g in rule["apiGroups"]}
    assert openshift_groups == {"apps.openshift.io", "route.openshift.io"}


@pytest.mark.parametrize("kind", ["write", "viewer"])
def test_pods_log_and_core_reads_present(kind):
    t = triples(RBAC[kind])
    for verb in ("get", "list", "watch"):
        assert ("", "pods/log", verb) in t
        assert ("", "configmaps", verb) in t
        assert ("apps", "deployments", verb) in t
    assert ("", "pods/portforward", "create") in t
    assert ("authentication.k8s.io", "tokenreviews", "create") in t
    assert ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "list") in t
    # the OAuthClient rule lives in the -openshift ClusterRole, never in the main role
    assert not any(r == "oauthclients" for dummy_g, r, dummy_v in t)


def test_write_rules_as_in_the_chart():
    t = triples(RBAC["write"])
    assert ("", "pods", "patch") in t and ("apps", "deployments", "patch") in t and ("batch", "jobs", "patch") in t
    assert ("networking.istio.io", "*", "create") in t and ("telemetry.istio.io", "*", "delete") in t
    assert ("gateway.networking.k8s.io", "httproutes", "create") in t
    assert ("gateway.networking.k8s.io", "tlsroutes", "patch") in t
    assert ("gateway.networking.k8s.io", "tlsroutes", "create") not in t  # no create on tcp/tls routes
    assert not any(r == "udproutes" for dummy_g, r, dummy_v in t)  # not in v2.28.0 (test_rbac_versions.py)
    assert ("gateway.networking.k8s.io", "gatewayclasses", "patch") not in t
    assert ("", "configmaps", "patch") not in t and ("", "pods/log", "patch") not in t
    ow = triples(RBAC["openshift"]["write"])
    assert ("apps.openshift.io", "deploymentconfigs", "patch") in ow and ("route.openshift.io", "routes", "get") in ow
    assert ("route.openshift.io", "routes", "list") not in ow


@pytest.mark.parametrize("section", ["main", "openshift"])
def test_viewer_is_write_without_writes_except_two(section):
    write = RBAC["write"] if section == "main" else RBAC["openshift"]["write"]
    viewer = RBAC["viewer"] if section == "main" else RBAC["openshift"]["viewer"]
    kept = {t for t in triples(write) if t[2] not in _rbac.WRITE_VERBS or t in _rbac.VIEWER_WRITE_GRANTS}
    assert triples(viewer) == kept
    writes = {t for t in triples(viewer) if t[2] in {"patch", "create", "delete", "update", "deletecollection"}}
    assert writes == (set(_rbac.VIEWER_WRITE_GRANTS) if section == "main" else set())
    assert viewer_write_grants(viewer) == []


def test_viewer_collapses_gateway_api_kinds_into_one_rule():
    rules = [r for r in RBAC["viewer"] if r["apiGroups"] == ["gateway.networking.k8s.io"]]
    assert len(rules) == 1
    assert sorted(rules[0]["resources"]) == ["gatewayclasses", "gateways", "grpcroutes", "httproutes",
                                             "referencegrants", "tcproutes", "tlsroutes"]
    assert rules[0]["verbs"] == ["get", "list", "watch"]


# --- validation of the data ---------------------------------------------------------------------------------

def broken(mutate):
    data = copy.deepcopy(RBAC)
    mutate(data)
    return data


@pytest.mark.parametrize("data, fragment", [
    ("v2.28", "rbac is a str, not a dict"),
    (broken(lambda d: d.pop("version")), "version is missing"),
    (broken(lambda d: d.update(viewers=[])), "unknown keys viewers"),
    (broken(lambda d: d.update(write=[])), "write must be a non-empty list"),
    (broken(lambda d: d.pop("viewer")), "viewer must be a non-empty list"),
    (broken(lambda d: d["write"][0].update(verb=["get"])), "write[0] has unknown keys verb"),
    (broken(lambda d: d["write"][1].update(verbs="get")), "write[1]: verbs must be a list of strings"),
    (broken(lambda d: d["viewer"][0].update(resources=[])), "viewer[0]: resources is empty"),
    (broken(lambda d: d["viewer"][0].update(resources=[""])), "viewer[0]: resources holds an empty string"),
    (broken(lambda d: d["viewer"].append("get pods")), "viewer[9] is a str, not a rule"),
    (broken(lambda d: d["viewer"][1]["verbs"].append("patch")), "the viewer rules grant writes: namespaces patch"),
    (broken(lambda d: d["viewer"][3]["verbs"].append("*")), "apps/daemonsets *"),
    (broken(lambda d: d["openshift"]["viewer"][0]["verbs"].append("delete")),
     "grant writes: apps.openshift.io/deploymentconfigs delete"),
    (broken(lambda d: d["openshift"].update(admin=[])), "openshift must be a dict with the keys write and/or viewer"),
    (broken(lambda d: d["openshift_extras"].update(routes={})), "openshift_extras must be a dict"),
    (broken(lambda d: d["openshift_extras"]["oauthclient"].pop("verbs")),
     "openshift_extras.oauthclient: verbs must be a list"),
])
def test_validate_rbac_rejects(data, fragment):
    with pytest.raises(InputError) as e:
        validate_rbac(data)
    assert fragment in e.value.reason
    assert e.value.fix


def test_validate_rbac_lists_every_problem_at_once():
    def mutate(d):
        d.pop("version")
        d["write"][0]["verbs"] = "get"
        d["viewer"][0]["resources"] = []
    with pytest.raises(InputError) as e:
        validate_rbac(broken(mutate))
    assert "version is missing" in e.value.reason
    assert "write[0]: verbs" in e.value.reason and "viewer[0]: resources" in e.value.reason


def test_validate_rbac_returns_a_copy():
    data = copy.deepcopy(RBAC)
    out = validate_rbac(data)
    out["viewer"].clear()
    assert data["viewer"]


def test_desired_objects_refuses_bad_data():
    with pytest.raises(InputError, match="grant writes"):
        desired_objects(params(rbac=broken(lambda d: d["viewer"][1]["verbs"].append("patch"))))


# --- OpenShift extras ------------------------------------------------------------------------------------------

APISERVERS = {"apiGroups": ["config.openshift.io"], "resources": ["apiservers"], "verbs": ["get"]}
OAUTH_RULE = {"apiGroups": ["oauth.openshift.io"], "resources": ["oauthclients"], "verbs": ["get"],
              "resourceNames": ["kiali-istio-system"]}
IMPERSONATE = {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}


# kiali/helm-charts kiali-server/templates/clusterrole-openshift.yaml (v2.29.0): the -openshift role exists on
# OpenShift whenever auth is openshift or TLS config source is auto (the default): so on every OpenShift remote.
EXTRAS_TABLE = [  # platform, auth, impersonation, oauthclients rule, impersonate rule, OAuthClient object
    ("openshift", "openshift", False, True, False, True),
    ("openshift", "openshift", True, True, True, False),  # impersonation: Kiali skips per-cluster OAuth
    ("openshift", "token", False, False, False, False),
    ("openshift", "anonymous", False, False, False, False),
    ("openshift", "openid", False, False, False, False),
    ("openshift", "header", False, False, False, False),
    ("kubernetes", "openshift", False, False, False, False),
    ("kubernetes", "token", False, False, False, False),
]


# Every data set, except impersonation rows with a data set without it (refused: see
# test_impersonation_needs_a_version_that_has_it).
@pytest.mark.parametrize("platform, auth, impersonation, oauth_rule, impersonate_rule, oauthclient, version", [
    row + (version,) for version in ("v2.28", "v2.29", "v2.30") for row in EXTRAS_TABLE
    if not row[2] or version == "v2.30"])
def test_openshift_extras(platform, auth, impersonation, oauth_rule, impersonate_rule, oauthclient, version):
    objs = desired_objects(params(platform=platform, auth_strategy=auth, impersonation=impersonation,
                                  rbac=load(version)))
    extra_roles = [o for o in by_kind(objs, "ClusterRole") if o["metadata"]["name"] == "kiali-istio-system-openshift"]
    extra_bindings = [o for o in by_kind(objs, "ClusterRoleBinding")
                      if o["metadata"]["name"] == "kiali-istio-system-openshift"]
    rendered = platform == "openshift"
    assert len(extra_roles) == len(extra_bindings) == (1 if rendered else 0)
    if rendered:
        rules = extra_roles[0]["rules"]
        # in the chart's order; apiservers whatever the auth strategy
        assert rules == [OAUTH_RULE] * oauth_rule + [IMPERSONATE] * impersonate_rule + [APISERVERS]
        assert extra_bindings[0]["roleRef"]["name"] == "kiali-istio-system-openshift"
        assert extra_bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": "kiali",
                                                  "namespace": "istio-system"}]
    clients = by_kind(objs, "OAuthClient")
    assert len(clients) == (1 if oauthclient else 0)
    if oauthclient:
        assert clients[0] == {
            "apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient",
            "metadata": {"name": "kiali-istio-system", "labels": kiali_labels("kiali", "hub")},
            "redirectURIs": ["https://kiali.apps.hub.example.com/api/auth/callback/west"],
            "grantMethod": "auto"}


def test_openshift_extras_follow_the_operator_names():
    objs = desired_objects(params(platform="openshift", auth_strategy="openshift", flavour="operator",
                                  instance_name="k2", namespace="mesh"))
    extra = [o for o in by_kind(objs, "ClusterRoleBinding") if o["metadata"]["name"] == "k2-mesh-openshift"][0]
    assert extra["subjects"][0]["name"] == "k2-service-account"
    assert by_kind(objs, "OAuthClient")[0]["metadata"]["name"] == "k2-mesh"
    role = [o for o in by_kind(objs, "ClusterRole") if o["metadata"]["name"] == "k2-mesh-openshift"][0]
    assert role["rules"][0]["resourceNames"] == ["k2-mesh"] and role["rules"][1] == APISERVERS
    assert "resourceNames" not in RBAC["openshift_extras"]["oauthclient"]  # the data is not modified


@pytest.mark.parametrize("over, fragment", [
    (dict(impersonation=True, auth_strategy="token", platform="openshift"), "impersonation only with the openshift"),
    (dict(impersonation=True, auth_strategy="anonymous", platform="auto"), "impersonation only with the openshift"),
    (dict(impersonation=True, auth_strategy="openshift", platform="kubernetes", rbac=RBAC_IMPERSONATION),
     "the impersonate rule lives in the OpenShift-only ClusterRole kiali-istio-system-openshift"),
    (dict(impersonation=True, auth_strategy="openshift", platform="openshift"),
     "impersonation is enabled, but Kiali v2.28 has no impersonation"),
    (dict(impersonation=True, auth_strategy="openshift", platform="auto", rbac=load("v2.29")),
     "Kiali v2.29 has no impersonation"),
    (dict(auth_strategy="openshift", platform="openshift", kiali_host=None), "kiali_host is not set"),
    (dict(auth_strategy="openshift", platform="openshift", kiali_host="https://kiali.example.com"),
     "is not a host name"),
    (dict(auth_strategy="openshift", platform="openshift", kiali_host="kiali.example.com/x"), "is not a host name"),
    (dict(instance_name="Kiali"), "instance_name 'Kiali' is not a DNS-1123 label"),
    (dict(instance_name="k" * 64), "is not a DNS-1123 label"),
    (dict(namespace="istio_system"), "namespace 'istio_system' is not a DNS-1123 label"),
    (dict(home_cluster="hub."), "home_cluster 'hub.' is not a DNS-1123 label"),
    (dict(flavour="helm"), "flavour 'helm' is not one of chart, operator"),
    (dict(auth_strategy="ldap"), "auth_strategy 'ldap' is not one of"),
])
def test_check_params_rejects(over, fragment):
    with pytest.raises(InputError) as e:
        _rbac.check_params(params(**over))
    assert fragment in e.value.reason
    assert e.value.fix


@pytest.mark.parametrize("over", [
    dict(auth_strategy="openshift", platform="kubernetes", kiali_host=None),  # no OAuthClient on Kubernetes
    dict(auth_strategy="openshift", platform="openshift", kiali_host="kiali.apps.hub.example.com:8443"),
    dict(auth_strategy="openshift", platform="auto", kiali_host=None),  # decided once the platform is known
    dict(impersonation=True, auth_strategy="openshift", platform="openshift", rbac=RBAC_IMPERSONATION),
    # no OAuthClient with impersonation, so no redirect URI and no kiali_host needed
    dict(impersonation=True, auth_strategy="openshift", platform="openshift", rbac=RBAC_IMPERSONATION, kiali_host=None),
])
def test_check_params_accepts(over):
    _rbac.check_params(params(**over))


def test_desired_objects_needs_a_resolved_platform():
    with pytest.raises(InputError, match="not resolved"):
        desired_objects(params(platform="auto"))


def test_missing_extra_rules_in_data_are_reported():
    data = broken(lambda d: d.pop("openshift_extras"))
    with pytest.raises(InputError, match="no openshift_extras.oauthclient rule"):
        desired_objects(params(rbac=data, platform="openshift", auth_strategy="openshift"))
    with pytest.raises(InputError, match="no openshift_extras.apiservers rule, which Kiali needs on every OpenShift"):
        desired_objects(params(rbac=data, platform="openshift", auth_strategy="token"))
    assert desired_objects(params(rbac=data, platform="kubernetes", auth_strategy="token"))


def test_impersonation_needs_a_version_that_has_it():
    """Data-driven: impersonation is refused with a data set without the impersonate rule, before any platform is
    known (the module checks this before it contacts the cluster)."""
    for version in ("v2.28", "v2.29"):
        with pytest.raises(InputError) as e:
            _rbac.check_params(params(rbac=load(version), impersonation=True, auth_strategy="openshift",
                                      platform="auto"))
        assert e.value.reason.startswith("impersonation is enabled, but Kiali %s has no impersonation" % version)
        assert "v2.30" in e.value.fix and "Nothing was written" in e.value.fix
    assert _rbac.has_impersonation(RBAC_IMPERSONATION) and not _rbac.has_impersonation(RBAC)
    assert not _rbac.has_impersonation(None)


# --- labels, order, namespace ------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform, auth, flavour", [("kubernetes", "token", "chart"),
                                                     ("openshift", "openshift", "operator")])
def test_desired_objects_labels_and_order(platform, auth, flavour):
    objs = desired_objects(params(platform=platform, auth_strategy=auth, flavour=flavour, manage_namespace=True,
                                  instance_name="k1", home_cluster="home-a"))
    kinds = [o["kind"] for o in objs]
    assert kinds[:4] == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    expected = {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "home-a", "app": "kiali",
                "app.kubernetes.io/name": "kiali", "app.kubernetes.io/instance": "k1",
                "app.kubernetes.io/part-of": "kiali"}
    for obj in objs[1:]:
        assert obj["metadata"]["labels"] == expected, obj["kind"]
        assert is_owned(obj, "home-a") and not is_owned(obj, "home-b")
    assert objs[0]["metadata"] == {"name": "istio-system", "labels": {"app.kubernetes.io/managed-by": "kialiops",
                                                                      "kialiops.io/home": "home-a"}}
    assert [o["metadata"].get("namespace") for o in objs if o["kind"] == "ServiceAccount"] == ["istio-system"]
    assert all("namespace" not in o["metadata"] for o in objs if o["kind"] != "ServiceAccount")
    if platform == "openshift":
        assert kinds[4:] == ["ClusterRole", "ClusterRoleBinding", "OAuthClient"]
    else:
        assert len(kinds) == 4


def test_namespace_only_when_managed():
    assert "Namespace" not in [o["kind"] for o in desired_objects(params(manage_namespace=False))]
    assert "Namespace" in [o["kind"] for o in desired_objects(params(manage_namespace=True))]


def test_desired_objects_do_not_share_data_between_calls():
    p = params(platform="openshift")
    first = by_kind(desired_objects(p), "ClusterRole")[0]
    first["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    first["rules"][0]["verbs"].append("patch")
    assert by_kind(desired_objects(p), "ClusterRole")[0]["rules"] == RBAC["viewer"] + RBAC["openshift"]["viewer"]
    assert p["rbac"] == RBAC


def test_labels_helpers():
    assert owned_labels("hub") == {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}
    assert home_selector("hub") == "app.kubernetes.io/managed-by=kialiops,kialiops.io/home=hub"
    assert not is_owned({"metadata": {"labels": {"kialiops.io/home": "hub"}}}, "hub")
    assert not is_owned({"metadata": {}}, "hub") and not is_owned(None, "hub")
