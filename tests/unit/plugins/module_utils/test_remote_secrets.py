"""The pure parts of the remote_secrets module: which clusters the home holds, which prune removes."""
from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secrets import entries, prune_targets

OWNED = {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}


def per_cluster(name, key, annotation=None, labels=None):
    meta = {"name": name, "labels": dict(labels if labels is not None else OWNED, **{"kiali.io/multiCluster": "true"})}
    if annotation:
        meta["annotations"] = {"kiali.io/cluster": annotation}
    return {"metadata": meta, "data": {key: "eA=="}}


def test_entries_name_clusters_as_kiali_does():
    found = entries([per_cluster("kiali-remote-cluster-secret-east", "east", "east"),
                     per_cluster("legacy-west", "west"),                      # no annotation: the only key
                     per_cluster("by-hand", "south", "south", labels={})],    # not ours
                    {"metadata": {"name": "kiali-multi-cluster-secret", "labels": OWNED},
                     "data": {"north": "eA==", "east": "eA=="}}, "hub")
    assert found == [
        dict(cluster="east", form="per_cluster", secret="kiali-remote-cluster-secret-east", owned=True),
        dict(cluster="east", form="single", secret="kiali-multi-cluster-secret", owned=True),
        dict(cluster="north", form="single", secret="kiali-multi-cluster-secret", owned=True),
        dict(cluster="south", form="per_cluster", secret="by-hand", owned=False),
        dict(cluster="west", form="per_cluster", secret="legacy-west", owned=True),
    ]


def test_entries_of_another_home_are_not_owned():
    found = entries([per_cluster("kiali-remote-cluster-secret-east", "east", "east")], None, "mgmt")
    assert [e["owned"] for e in found] == [False]


def test_a_secret_naming_no_cluster_is_listed_without_one():
    secret = per_cluster("odd", "a")
    secret["data"]["b"] = "eA=="
    assert entries([secret], None, "hub")[0]["cluster"] is None


def test_the_single_secret_is_not_read_as_a_per_cluster_one():
    single = per_cluster("kiali-multi-cluster-secret", "east")
    assert entries([single], None, "hub") == []


@pytest.mark.parametrize("keep, expected", [
    ([], ["east", "west"]),
    (["east"], ["west"]),
    (["east", "west"], []),
])
def test_prune_targets_only_what_kialiops_stored(keep, expected):
    found = [dict(cluster="east", owned=True), dict(cluster="west", owned=True), dict(cluster="south", owned=False),
             dict(cluster=None, owned=True)]
    assert prune_targets(found, keep) == expected
