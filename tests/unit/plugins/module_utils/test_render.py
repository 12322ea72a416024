"""The pure parts of the GitOps export: file names, what a manifest keeps, merging renderings of one object."""
from __future__ import annotations

import os
import stat

import yaml

from ansible_collections.kialiops.multicluster.plugins.module_utils._render import (
    OMITTED,
    Renderer,
    file_name,
    manifest,
)


def secret(key, value="dG9rZW4="):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "kiali-multi-cluster-secret", "namespace": "istio-system",
                         "annotations": {"kialiops.io/token-expires." + key: "2027-01-01T00:00:00Z", "keep": "me"}},
            "data": {key: value}}


def test_file_names_are_stable_and_safe():
    assert file_name({"kind": "ClusterRole", "metadata": {"name": "kiali-viewer"}}) == "clusterrole_cluster_kiali-viewer.yaml"
    assert file_name({"kind": "Secret", "metadata": {"name": "A_b", "namespace": "ns"}}) == "secret_ns_a-b.yaml"


def test_secret_values_and_their_bookkeeping_are_left_out():
    out = manifest(dict(secret("east"), metadata=dict(secret("east")["metadata"], resourceVersion="7")))
    assert "data" not in out and "resourceVersion" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"keep": "me", OMITTED: "east"}
    assert manifest(secret("east"), secrets=True)["data"] == {"east": "dG9rZW4="}


def test_renderings_of_one_object_merge(tmp_path):
    r = Renderer(str(tmp_path))
    r.write("hub", secret("east"))
    path = r.write("hub", secret("west"))
    doc = yaml.safe_load(open(path).read())
    assert doc["metadata"]["annotations"][OMITTED] == "east,west"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_with_secrets_the_files_are_private(tmp_path):
    r = Renderer(str(tmp_path), secrets=True)
    r.write("hub", secret("east"))
    path = r.write("hub", secret("west"))
    assert yaml.safe_load(open(path).read())["data"] == {"east": "dG9rZW4=", "west": "dG9rZW4="}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
