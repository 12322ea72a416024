# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ClusterService's verbs over an in-memory client: the requests they send, and check mode decided once."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from ansible_collections.kialiops.multicluster.plugins.module_utils import _service, _token
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def api_error(status, message="", details=None):
    e = ApiException(status=status, reason="x")
    e.body = json.dumps({"message": message, "details": details or {}})
    return e


class Answer:
    def __init__(self, obj):
        self.obj = obj

    def to_dict(self):
        return copy.deepcopy(self.obj)


class FakeDynamic:
    """DynamicClient: records every request as (verb, name, params); answers from ``objects``."""

    def __init__(self, objects, fail=None):
        self.objects = objects
        self.fail = fail or {}
        self.requests = []
        self.client = SimpleNamespace(sanitize_for_serialization=lambda x: x)

    def _send(self, verb, params):
        self.requests.append((verb, params["name"], params))
        if verb in self.fail:
            raise self.fail[verb]

    def server_side_apply(self, resource, **params):
        self._send("apply", params)
        body = params["body"]
        live = self.objects.get((resource.kind, params["name"])) or {}
        merged = dict(live, **copy.deepcopy(body))
        merged["metadata"] = {**(live.get("metadata") or {}), **body["metadata"], "resourceVersion": "2"}
        return Answer(merged)

    def patch(self, resource, **params):
        self._send("patch", params)
        live = copy.deepcopy(self.objects[(resource.kind, params["name"])])
        for op in params["body"]:
            live["data"].pop(op["path"].rsplit("/", 1)[1])
        return Answer(live)

    def delete(self, resource, **params):
        self._send("delete", params)
        return Answer({})


class FakeClient:
    """K8SClient: resource discovery, get, the dry_run flag (check mode) and the DynamicClient."""

    def __init__(self, objects=(), dry_run=False, fail=None):
        self.dry_run = dry_run
        self.configuration = SimpleNamespace(host="https://east.example:6443")
        self.client = FakeDynamic({(o["kind"], o["metadata"]["name"]): o for o in objects}, fail)
        self.reads = []

    @staticmethod
    def resource(kind, api_version):
        return SimpleNamespace(kind=kind, api_version=api_version, namespaced=kind not in CLUSTER_SCOPED)

    def get(self, resource, name=None, namespace=None):
        self.reads.append((resource.kind, name))
        found = self.client.objects.get((resource.kind, name))
        if found is None:
            raise NotFoundError(api_error(404, "not found", {"name": name}))
        return Answer(found)


def secret(name="x", data=None, rv="1"):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv, "labels": {"a": "1"}},
            "data": dict(data or {"k": "dmFsdWU="})}


def service(objects=(), check=False, fail=None, renderer=None):
    return ClusterService("east", FakeClient(objects, check, fail), {"kube_context": "east-admin"}, renderer=renderer)


def requests(svc):
    return svc.client.client.requests


@pytest.mark.parametrize("check", [False, True])
def test_apply_is_a_dry_run_exactly_in_check_mode(check):
    svc = service([secret()], check=check)
    before, after = svc.apply(secret(data={"k": "bmV3"}))
    (verb, name, params), = requests(svc)
    assert (verb, name, params["field_manager"], params["force_conflicts"]) == ("apply", "x", "kialiops", False)
    assert params["query_params"] == [("fieldValidation", "Strict")]
    assert params.get("dry_run") == ("All" if check else None)
    assert before["data"]["k"] != after["data"]["k"] and after["data"]["k"].startswith("sha256:")


def test_ensure_sends_nothing_when_the_live_object_holds_everything():
    svc = service([secret()])
    before, after = svc.ensure(secret())
    assert before == after and requests(svc) == []


def test_dry_run_apply_is_a_dry_run_outside_check_mode_too():
    svc = service([secret()])
    svc.dry_run_apply(secret(), "Fix %s")
    assert requests(svc)[0][2]["dry_run"] == "All"


def test_dry_run_apply_names_unknown_fields_with_the_callers_fix():
    svc = service(fail={"apply": api_error(422, 'Secret in version "v1" cannot be handled: strict decoding error: '
                                                'unknown field "spec.nope", unknown field "spec.other"')})
    with pytest.raises(KialiopsError) as e:
        svc.dry_run_apply(secret(), "Remove %s from the spec. Nothing was written")
    assert str(e.value) == ("cluster east: Secret ns/x: the Secret CRD rejects unknown fields spec.nope, spec.other "
                            "(server-side dry-run, strict field validation). Remove them from the spec. Nothing was "
                            "written.")
    assert e.value.status == 422


@pytest.mark.parametrize("check", [False, True])
def test_json_patch_honours_check_mode(check):
    svc = service([secret(data={"east": "YQ==", "west": "Yg=="})], check=check)
    after = svc.json_patch("v1", "Secret", "x", "ns", [{"op": "remove", "path": "/data/east"}], "remove key east")
    (verb, dummy, params), = requests(svc)
    assert verb == "patch" and params["content_type"] == "application/json-patch+json"
    assert params["body"] == [{"op": "remove", "path": "/data/east"}]
    assert params.get("dry_run") == ("All" if check else None)
    assert list(after["data"]) == ["west"]


def test_json_patch_failure_names_the_action():
    svc = service([secret()], fail={"patch": api_error(422, "the server rejected our request")})
    with pytest.raises(KialiopsError, match="remove key east"):
        svc.json_patch("v1", "Secret", "x", "ns", [{"op": "remove", "path": "/data/east"}], "remove key east")


def test_locked_delete_sends_the_version_read_and_skips_the_read():
    live = secret(rv="42")
    svc = service([live])
    before = svc.delete("v1", "Secret", "x", "ns", live=live, locked=True)
    assert svc.client.reads == []
    (verb, dummy, params), = requests(svc)
    assert verb == "delete" and params["body"] == {"preconditions": {"resourceVersion": "42"}}
    assert before["metadata"]["name"] == "x" and "resourceVersion" not in before["metadata"]


def test_locked_delete_of_a_changed_object_deletes_nothing():
    live = secret(rv="42")
    svc = service([live], fail={"delete": api_error(409, "the object has been modified")})
    assert svc.delete("v1", "Secret", "x", "ns", live=live, locked=True) is None
    with pytest.raises(KialiopsError, match="409"):
        svc.delete("v1", "Secret", "x", "ns", live=live)


@pytest.mark.parametrize("check", [False, True])
def test_delete_reads_then_deletes_dry_run_in_check_mode(check):
    svc = service([secret()], check=check)
    assert svc.delete("v1", "Secret", "x", "ns")["metadata"]["name"] == "x"
    assert svc.client.reads == [("Secret", "x")]
    assert requests(svc)[0][2].get("dry_run") == ("All" if check else None)
    assert svc.delete("v1", "Secret", "absent", "ns") is None and len(requests(svc)) == 1


def binding(role):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "b", "resourceVersion": "1"}, "roleRef": {"name": role}}


def test_replace_in_check_mode_predicts_the_new_object():
    svc = service([binding("viewer")], check=True)
    new = binding("writer")
    del new["metadata"]["resourceVersion"]
    before, after = svc.replace(new)
    assert [r[0] for r in requests(svc)] == ["delete"] and requests(svc)[0][2]["dry_run"] == "All"
    assert before["roleRef"] == {"name": "viewer"} and after["roleRef"] == {"name": "writer"}


def test_check_mode_predicts_writes_inside_a_namespace_it_only_dry_run_created():
    svc = service(check=True)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    assert svc.ensure(ns)[0] is None
    before, after = svc.ensure(secret(name="inside") | {"metadata": {"name": "inside", "namespace": "fresh"}})
    assert before is None and after["metadata"] == {"name": "inside", "namespace": "fresh"}
    assert [(r[0], r[1]) for r in requests(svc)] == [("apply", "fresh")]  # nothing sent for the Secret
    assert svc.client.reads == [("Namespace", "fresh")]


def test_a_real_run_writes_inside_a_new_namespace():
    svc = service()
    svc.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}})
    svc.ensure(secret() | {"metadata": {"name": "inside", "namespace": "fresh"}})
    assert [(r[0], r[1]) for r in requests(svc)] == [("apply", "fresh"), ("apply", "inside")]


# --- TokenRequest and the reviews --------------------------------------------------------------------------------

class TypedApis:
    """kubernetes.client's typed APIs as _service uses them; ``answers``/``errors`` by method name."""

    def __init__(self, answers=None, errors=None):
        self.calls = []
        self.answers = answers or {}
        self.errors = errors or {}

    def api(self, *dummy):
        return self

    def __getattr__(self, method):
        def call(*args):
            self.calls.append((method, args))
            if method in self.errors:
                raise self.errors[method]
            return self.answers[method]
        return call


@pytest.fixture
def apis(monkeypatch):
    fake = TypedApis()
    monkeypatch.setattr(_service, "k8s_api", SimpleNamespace(CoreV1Api=fake.api, AuthenticationV1Api=fake.api,
                                                             AuthorizationV1Api=fake.api))
    return fake


def test_request_token_mints_and_the_token_module_masks_it_first(apis):
    masked = []
    apis.answers["create_namespaced_service_account_token"] = SimpleNamespace(status=SimpleNamespace(token="t0k"))
    token, dummy_claims = _token.request_token(service(), "istio-system", "kiali", 600, masked.append)
    assert token == "t0k" and masked == ["t0k"]
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
    assert apis.calls == [("create_namespaced_service_account_token", ("kiali", "istio-system", body))]


@pytest.mark.parametrize("renderer, sent", [(None, False), (SimpleNamespace(secrets=False), False),
                                            (SimpleNamespace(secrets=True), True)])
def test_check_mode_mints_only_for_an_export_with_secrets(apis, renderer, sent):
    apis.answers["create_namespaced_service_account_token"] = SimpleNamespace(status=SimpleNamespace(token="t0k"))
    svc = service(check=True, renderer=renderer)
    assert svc.may_mint is sent
    assert svc.request_token("istio-system", "kiali", 600) == ("t0k" if sent else None)
    assert len(apis.calls) == int(sent)


def test_request_token_forbidden_names_the_cluster_and_the_verb(apis):
    apis.errors["create_namespaced_service_account_token"] = api_error(
        403, 'serviceaccounts "kiali" is forbidden: User "bob" cannot create resource "serviceaccounts/token" in API '
        'group "" in the namespace "istio-system"')
    with pytest.raises(KialiopsError) as e:
        _token.request_token(service(), "istio-system", "kiali", 600, lambda t: None)
    assert str(e.value).startswith("cluster east: ServiceAccount istio-system/kiali: ")
    assert "cannot create serviceaccounts/token in namespace istio-system (403, user bob)" in str(e.value)


@pytest.mark.parametrize("error, expected", [(None, True), (api_error(403, "forbidden"), None),
                                             (api_error(404, "not served"), None)])
def test_token_review(apis, error, expected):
    apis.answers["create_token_review"] = SimpleNamespace(status=SimpleNamespace(authenticated=True))
    if error is not None:
        apis.errors["create_token_review"] = error
    assert _token.token_accepted(service(check=True), "t0k") is expected


def test_access_denials_ask_one_review_per_check_with_the_subresource(apis):
    denied = SimpleNamespace(status=SimpleNamespace(allowed=False, reason=""))
    apis.answers["create_self_subject_access_review"] = denied
    denials = _token.access_denials(service(), [("create", "", "serviceaccounts", "token", "ns", "kiali"),
                                                ("get", "", "secrets", None, "ns", None)])
    assert denials == ["cluster east: cannot create serviceaccounts/token in namespace ns",
                       "cluster east: cannot get secrets in namespace ns"]
    attributes = [args[0]["spec"]["resourceAttributes"] for dummy, args in apis.calls]
    assert attributes == [dict(verb="create", group="", resource="serviceaccounts", subresource="token",
                               namespace="ns", name="kiali"),
                          dict(verb="get", group="", resource="secrets", namespace="ns")]


@pytest.mark.parametrize("check", [False, True])
def test_adopt_forces_the_apply_then_leaves_kialiops_the_only_manager(check, monkeypatch):
    last_applied = "kubectl.kubernetes.io/last-applied-configuration"
    live = secret()
    live["metadata"]["labels"]["helm.sh/chart"] = "kiali-server-2.28.0"
    live["metadata"]["annotations"] = {last_applied: "{}"}
    kialiops = {"manager": "kialiops", "operation": "Apply", "fieldsV1": {"f:data": {"f:k": {}}}}
    live["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update"}, kialiops]
    svc = service([live], check=check)
    patches = []
    monkeypatch.setattr(svc, "json_patch", lambda *args: patches.append(args) or {"patched": True})
    desired = secret()
    del desired["metadata"]["labels"]   # (the fake merges metadata shallowly)
    before, after = svc.adopt(desired, live, ["helm.sh/chart"], [last_applied])
    (verb, name, params), = requests(svc)
    assert (verb, params["force_conflicts"], params.get("dry_run")) == ("apply", True, "All" if check else None)
    if check:   # predicted, not sent
        assert patches == [] and "helm.sh/chart" not in after["metadata"]["labels"]
        assert last_applied not in after["metadata"]["annotations"]
        return
    (api_version, kind, patched, namespace, ops, action), = patches
    assert (kind, patched, namespace) == ("Secret", "x", "ns") and after == {"patched": True}
    assert ops == [{"op": "test", "path": "/metadata/resourceVersion", "value": "2"},
                   {"op": "remove", "path": "/metadata/labels/helm.sh~1chart"},
                   {"op": "remove", "path": "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"},
                   {"op": "replace", "path": "/metadata/managedFields", "value": [kialiops]}]
    assert before["metadata"]["labels"]["helm.sh/chart"] == "kiali-server-2.28.0"
