# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Kiali CR builder, the deep merge, the reconcile digest and the pure checks (plugins/module_utils/_kiali_cr.py);
the auth rules are in test_auth.py."""
from __future__ import annotations

import base64

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import unknown_fields
from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import (
    APPLIED_KEY,
    RECONCILE_KEY,
    build_cr,
    deep_merge,
    immutable_changes,
    reconcile_value,
)

BASE = dict(cluster_name="hub", name=None, namespace="istio-system", instance_name="kiali", view_only=True,
            auth_strategy="token", topology="co-located", clusters=[], kiali_urls=[], enable_exec_provider=False,
            spec={})


def params(**kw):
    return dict(BASE, **kw)


def secret(name, **data):
    return {"metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_default_cr():
    cr = build_cr(params(), reconcile="0123456789abcdef")
    assert cr["apiVersion"] == "kiali.io/v1alpha1" and cr["kind"] == "Kiali"
    assert cr["metadata"]["name"] == "kiali" and cr["metadata"]["namespace"] == "istio-system"
    assert cr["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}
    assert cr["metadata"]["annotations"][RECONCILE_KEY] == "0123456789abcdef"
    assert cr["spec"] == {
        "auth": {"strategy": "token"},
        "deployment": {"instance_name": "kiali", "namespace": "istio-system", "view_only_mode": True},
        "clustering": {"autodetect_secrets": {"enabled": True, "label": "kiali.io/multiCluster=true"},
                       "ignore_home_cluster": False},
    }


def test_explicit_clusters_urls_exec_and_external():
    cr = build_cr(params(cluster_name="mgmt", name="my-cr", instance_name="k2", topology="external",
                         enable_exec_provider=True, view_only=False,
                         clusters=[{"name": "hub", "secret_name": "s-hub"}, {"name": "dark", "secret_name": None}],
                         kiali_urls=[{"cluster_name": "east", "instance_name": "kiali", "namespace": "istio-system",
                                      "url": "https://kiali.east"}]))
    spec = cr["spec"]
    assert cr["metadata"]["name"] == "my-cr" and spec["deployment"]["instance_name"] == "k2"
    assert spec["deployment"]["view_only_mode"] is False
    assert spec["clustering"]["autodetect_secrets"] == {"enabled": False}
    assert spec["clustering"]["clusters"] == [{"name": "hub", "secret_name": "s-hub"}, {"name": "dark"}]
    assert spec["clustering"]["kiali_urls"][0]["url"] == "https://kiali.east"
    assert spec["clustering"]["enable_exec_provider"] is True
    assert spec["clustering"]["ignore_home_cluster"] is True
    assert spec["kubernetes_config"] == {"cluster_name": "mgmt"}


def test_co_located_says_so_and_has_no_external_fields():
    # written explicitly (false), not left to a CRD default the fixtures or an older CRD may not have
    spec = build_cr(params())["spec"]
    assert spec["clustering"]["ignore_home_cluster"] is False and "kubernetes_config" not in spec
    assert RECONCILE_KEY not in build_cr(params())["metadata"]["annotations"]


def test_user_spec_is_deep_merged_on_top():
    cr = build_cr(params(spec={"deployment": {"view_only_mode": False, "replicas": 2},
                               "clustering": {"autodetect_secrets": {"label": "x=y"}},
                               "external_services": {"prometheus": {"url": "http://p:9090"}}}))
    assert cr["spec"]["deployment"] == {"instance_name": "kiali", "namespace": "istio-system",
                                        "view_only_mode": False, "replicas": 2}
    assert cr["spec"]["clustering"]["autodetect_secrets"] == {"enabled": True, "label": "x=y"}
    assert cr["spec"]["external_services"]["prometheus"]["url"] == "http://p:9090"


def test_spec_digest_follows_the_spec():
    a = build_cr(params())["metadata"]["annotations"][APPLIED_KEY]
    assert a == build_cr(params())["metadata"]["annotations"][APPLIED_KEY]
    assert a != build_cr(params(view_only=False))["metadata"]["annotations"][APPLIED_KEY]


def test_deep_merge():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    out = deep_merge(base, {"a": {"c": [3], "e": {"f": 1}}, "d": {"x": 1}})
    assert out == {"a": {"b": 1, "c": [3], "e": {"f": 1}}, "d": {"x": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not modified
    assert deep_merge(base, None) == base and deep_merge(base, {}) is not base


def test_reconcile_value_is_the_set_of_secrets():
    one = [secret("kiali-remote-cluster-secret-east", east="kubeconfig-east")]
    two = one + [secret("kiali-remote-cluster-secret-west", west="kubeconfig-west")]
    v1, v2 = reconcile_value(one), reconcile_value(two)
    assert len(v1) == 16 and int(v1, 16) >= 0
    assert v1 == reconcile_value(list(one)) and v2 == reconcile_value(list(reversed(two)))  # order does not count
    assert v1 != v2 != reconcile_value([])
    rotated = [secret("kiali-remote-cluster-secret-east", east="kubeconfig-east-new-token")]
    assert reconcile_value(rotated) != v1  # a new credential is a change Kiali must read
    renamed = [secret("kiali-remote-cluster-secret-east2", east="kubeconfig-east")]
    assert reconcile_value(renamed) != v1


def test_reconcile_value_never_contains_secret_material():
    s = secret("x", k="super-secret-token")
    assert "super-secret-token" not in reconcile_value([s])


def test_immutable_changes():
    desired = build_cr(params(instance_name="k2"))
    assert immutable_changes(None, desired) == []
    live = {"spec": {"deployment": {"instance_name": "kiali", "namespace": "istio-system"}}}
    assert immutable_changes(live, desired) == [("deployment.instance_name", "kiali", "k2")]
    same = build_cr(params())
    assert immutable_changes(live, same) == []
    # status.deployment (what the operator deployed) wins over the spec
    live_status = {"spec": {"deployment": {"instance_name": "kiali"}},
                   "status": {"deployment": {"instanceName": "kiali", "namespace": "other"}}}
    assert immutable_changes(live_status, same) == [("deployment.namespace", "other", "istio-system")]
    remote_only = {"spec": {"deployment": {"remote_cluster_resources_only": True}}}
    assert immutable_changes(remote_only, same) == [("deployment.remote_cluster_resources_only", True, False)]


def test_unknown_fields():
    ssa = ('failed to create typed patch object (ns/k; kiali.io/v1alpha1, Kind=Kiali): '
           '.spec.deployment.view_only_mod: field not declared in schema')
    assert unknown_fields(ssa) == ["spec.deployment.view_only_mod"]
    strict = 'Kiali.kiali.io "k" is invalid: unknown field "spec.foo", unknown field "spec.bar"'
    assert unknown_fields(strict) == ["spec.foo", "spec.bar"]
    assert unknown_fields("something else") == []


def test_remote_resources_only_cr_has_no_clustering_and_carries_the_home_label():
    from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import build_cr
    params = dict(cluster_name="west", home_cluster="hub", namespace="istio-system", instance_name="kiali",
                  view_only=True, auth_strategy="openshift", remote_resources_only=True,
                  spec={"auth": {"openshift": {"redirect_uris": ["https://k.example/api/auth/callback/west"]}}})
    cr = build_cr(params)
    assert cr["spec"]["deployment"]["remote_cluster_resources_only"] is True
    assert "clustering" not in cr["spec"] and "kubernetes_config" not in cr["spec"]
    assert cr["spec"]["auth"] == {"strategy": "openshift",
                                  "openshift": {"redirect_uris": ["https://k.example/api/auth/callback/west"]}}
    assert cr["metadata"]["labels"]["kialiops.io/home"] == "hub"
    assert "kiali.io/reconcile" not in cr["metadata"]["annotations"]
