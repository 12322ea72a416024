# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kubernetes client imported lazily (_lazy_kubernetes.py): what kialiops imports costs 22 modules, not ~860,
and every name of the kubernetes package still resolves to the same object as with its own eager import.

Each check runs in a fresh interpreter (this one imported kubernetes eagerly already: ``install()`` does nothing
then, which is checked too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import kubernetes
import kubernetes.client
import kubernetes.client.api
import kubernetes.client.models
import pytest

from labkit import collections_root
from ansible_collections.kialiops.multicluster.plugins.module_utils import _lazy_kubernetes
from ansible_collections.kialiops.multicluster.plugins.module_utils._lazy_kubernetes import enabled, install, module_file


def fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter that sees the collection; it prints one JSON document, returned."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False,
                       env=dict(os.environ, PYTHONPATH=collections_root(), **env), timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


COUNT = "len([m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')])"


def test_the_client_layer_imports_only_what_it_uses():
    out = fresh("""
        import json, sys
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _connection, _service  # noqa
        loaded = %s
        import kubernetes, kubernetes.client as c
        from kubernetes.dynamic import DynamicClient
        from kubernetes.config import load_kube_config_from_dict
        light = (c.VersionApi, c.CoreApi, c.ApisApi, c.AuthenticationV1Api, c.ApiClient, c.Configuration)
        print(json.dumps({"loaded": loaded, "after_typed_apis": %s, "version": kubernetes.__version__,
                          "models": "kubernetes.client.models.v1_pod" in sys.modules,
                          "names": [x.__module__ + "." + x.__name__ for x in light]}))
    """ % (COUNT, COUNT))
    assert out["loaded"] < 40, out          # kubernetes 36: 14 (the dynamic client's 7 more when a client is built)
    assert out["after_typed_apis"] < 50, out
    assert out["version"] == kubernetes.__version__
    assert not out["models"]
    assert out["names"] == ["kubernetes.client.api.version_api.VersionApi", "kubernetes.client.api.core_api.CoreApi",
                            "kubernetes.client.api.apis_api.ApisApi",
                            "kubernetes.client.api.authentication_v1_api.AuthenticationV1Api",
                            "kubernetes.client.api_client.ApiClient", "kubernetes.client.configuration.Configuration"]


def test_every_name_resolves_as_with_the_eager_import():
    """Every public name of the four packages, looked up lazily (the light path or the package's own __init__),
    is the object the eager import gives; dir() and star-imports see them all; a missing name is AttributeError."""
    packages = {"kubernetes": kubernetes, "kubernetes.client": kubernetes.client,
                "kubernetes.client.api": kubernetes.client.api, "kubernetes.client.models": kubernetes.client.models}
    eager = {p: sorted(n for n in dir(m) if not n.startswith("_")) for p, m in packages.items()}
    out = fresh("""
        import importlib, json, sys
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _lazy_kubernetes
        assert _lazy_kubernetes.install()
        names = json.loads(%r)
        where = {}
        for package, attrs in names.items():
            module = sys.modules[package]
            for attr in attrs:
                value = getattr(module, attr)
                where[package + "." + attr] = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        import kubernetes.client as c
        listed = set(dir(c))
        ns = {}
        exec("from kubernetes.client.models import *", ns)
        try:
            c.NoSuchName
            missing = "resolved"
        except AttributeError as e:
            missing = str(e)
        print(json.dumps({"where": where, "listed": sorted(listed), "star": sorted(ns), "missing": missing}))
    """ % json.dumps(eager))
    for package, attrs in eager.items():
        for attr in attrs:
            value = getattr(packages[package], attr)
            expected = getattr(value, "__module__", None) or getattr(value, "__name__", "")
            assert out["where"][package + "." + attr] == expected, (package, attr)
    assert set(eager["kubernetes.client"]) <= set(out["listed"])
    assert {"V1Pod", "V1APIGroup", "V1ObjectMeta"} <= set(out["star"])
    assert out["missing"] == "module 'kubernetes.client' has no attribute 'NoSuchName'"


@pytest.mark.parametrize("package", [kubernetes.client.api, kubernetes.client.models])
def test_the_generator_naming_rule_holds_for_every_class_of_this_client(package):
    """module_file() finds the file of every API and model class of the installed kubernetes client: the light
    path is taken for all of them (a name it missed would still resolve, through the package's __init__)."""
    classes = [(n, v) for n, v in vars(package).items() if isinstance(v, type) and v.__module__.startswith(
        package.__name__ + ".")]
    assert len(classes) > 50
    wrong = [(n, v.__module__) for n, v in classes if v.__module__.rsplit(".", 1)[1] != module_file(n)]
    assert not wrong


def test_module_file_names():
    assert module_file("CoreV1Api") == "core_v1_api"
    assert module_file("V1APIGroup") == "v1_api_group"
    assert module_file("V1beta2CapacityRequestPolicyRange") == "v1beta2_capacity_request_policy_range"
    assert module_file("ApiClient") == "api_client"


def test_turned_off_or_already_imported_nothing_changes():
    out = fresh("""
        import json, sys
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _connection  # noqa
        print(json.dumps({"loaded": %s}))
    """ % COUNT, KIALIOPS_LAZY_KUBERNETES="false")
    assert out["loaded"] > 500, out   # the kubernetes client's own eager import
    assert not enabled({"KIALIOPS_LAZY_KUBERNETES": "0"}) and enabled({}) and enabled({"KIALIOPS_LAZY_KUBERNETES": "yes"})
    # this interpreter imported kubernetes eagerly: install() leaves it alone
    assert install() is False and sys.modules["kubernetes"] is kubernetes
    assert _lazy_kubernetes.PACKAGES[0] == "kubernetes"


def test_no_kubernetes_package_leaves_nothing_behind():
    out = fresh("""
        import importlib.abc, json, sys
        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "kubernetes" or name.startswith("kubernetes."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _lazy_kubernetes
        done = _lazy_kubernetes.install()
        print(json.dumps({"done": done, "left": [m for m in sys.modules if m.startswith("kubernetes")]}))
    """)
    assert out == {"done": False, "left": []}


def test_preload_imports_every_class_an_answer_needs():
    """_service.preload() (run once in the controller by the in-process runner) imports the typed APIs and the
    models of their answers: deserialising each answer afterwards, as a forked worker does, imports nothing more."""
    out = fresh("""
        import json, sys
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _service
        from kubernetes.client import ApiClient
        _service.preload()
        before = set(sys.modules)
        client = ApiClient()
        answers = {
            "V1SelfSubjectRulesReview": {"spec": {"namespace": "x"}, "status": {
                "incomplete": False, "resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/version"]}]}},
            "V1SelfSubjectAccessReview": {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}},
                                          "status": {"allowed": True}},
            "AuthenticationV1TokenRequest": {"metadata": {"name": "kiali"}, "spec": {"expirationSeconds": 600},
                                             "status": {"token": "t", "expirationTimestamp": "2026-12-04T00:00:00Z"}},
            "V1TokenReview": {"spec": {"token": "t"}, "status": {"authenticated": True, "user": {"username": "u"}}},
            "V1SelfSubjectReview": {"status": {"userInfo": {"username": "u", "groups": ["g"]}}},
            "VersionInfo": {"major": "1", "minor": "36", "gitVersion": "v1.36.0", "buildDate": "", "compiler": "",
                            "gitCommit": "", "gitTreeState": "", "goVersion": "", "platform": ""},
            "V1APIGroupList": {"groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}]},
            "V1APIVersions": {"versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                                   "serverAddress": "x:6443"}]},
        }
        for kind, data in answers.items():
            assert type(client._ApiClient__deserialize(data, kind)).__name__ == kind
        print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith("kubernetes"))))
    """)
    assert out == []


def test_threads_asking_while_the_package_initialises_wait_for_it():
    """``ApiException`` is in no file named after it: the first lookup runs kubernetes/client/__init__.py (~0.4 s).
    Eight threads asking at once (the permission reviews ask from threads) all get it; none sees a half-run package."""
    out = fresh("""
        import json, threading
        from ansible_collections.kialiops.multicluster.plugins.module_utils import _lazy_kubernetes
        assert _lazy_kubernetes.install()
        import kubernetes.client as c
        start, got = threading.Barrier(8), []

        def ask():
            start.wait()
            try:
                got.append(c.ApiException.__module__)
            except AttributeError as e:
                got.append(str(e))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps(got))
    """)
    assert out == ["kubernetes.client.exceptions"] * 8
