"""Plan, then apply: site.yml plans every remote cluster (reads and server-side dry-runs only) and stops the whole run
before its first write when any plan fails, naming every failing cluster and its fix; the audit logs of every
cluster show no persisted write. kialiops_stop_on_plan_failure=false keeps the per-cluster behaviour."""
from __future__ import annotations

import yaml
from kubernetes import client

from test_cluster_remove import HOME, Mesh, describe, writes

REMOTES = ("east", "west", "hub")


def inventory(mesh, **extra):
    """mgmt is Kiali's home; east, west and hub are the three remote clusters."""
    path = mesh.inventory(spokes=("east", "west"), name="plan.yml", hub_too=True)
    if extra:
        inv = yaml.safe_load(path.read_text())
        inv["all"]["vars"].update(extra)
        path.write_text(yaml.safe_dump(inv))
    return path


def squat(lab, mesh, cluster):
    """Another installation's ServiceAccount of the same name on ``cluster`` (no kialiops labels)."""
    core = client.CoreV1Api(lab.admin(cluster))
    core.create_namespace({"metadata": {"name": mesh.remote_ns}})
    core.create_namespaced_service_account(mesh.remote_ns, {"metadata": {"name": mesh.ns}})
    return core


def test_one_conflict_stops_the_run_before_any_write_on_every_cluster(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    core = squat(lab, mesh, "west")
    inv = inventory(mesh)
    try:
        marks = lab.marks()
        r = mesh.run("site.yml", inv)
        assert r.returncode != 0, r.stdout[-4000:]
        assert "The plan failed on 1 cluster(s), so nothing was written on any cluster" in r.stdout, r.stdout[-4000:]
        assert "cluster west" in r.stdout and "ServiceAccount" in r.stdout and "re-run" in r.stdout
        for c in lab.clusters:
            assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
        # the plan did look at the others: reads, and for east and hub the server-side dry-runs of what they need
        for c in ("east", "hub"):
            assert writes(lab, marks, c, dry_run=True), c
        assert "PLAY [Prepare the remote clusters" not in r.stdout.split("The plan failed")[1]

        # kialiops_stop_on_plan_failure=false: the others are applied, west is left out and named
        r = mesh.run("site.yml", inventory(mesh, kialiops_stop_on_plan_failure=False))
        assert r.returncode != 0
        summary = r.stdout.split("PLAY [Summary]")[1]
        assert "west FAILED: cluster west" in summary, summary
        assert sorted(mesh.secrets()["per_cluster"]) == ["east", "hub"]
        assert not writes(lab, marks, "west")

        # the conflict gone, one run converges
        core.delete_namespaced_service_account(mesh.ns, mesh.remote_ns)
        r = mesh.run("site.yml", inv)
        assert r.returncode == 0, r.stdout[-4000:]
        assert sorted(mesh.secrets()["per_cluster"]) == sorted(REMOTES)
    finally:
        mesh.remove(list(REMOTES), inventory=inv)
        client.CoreV1Api(lab.admin(HOME)).delete_namespace(mesh.ns)
        core.delete_namespace(mesh.remote_ns)


def test_an_unreachable_remote_is_named_by_the_plan_and_nothing_is_written(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    inv = inventory(mesh)
    data = yaml.safe_load(inv.read_text())
    data["all"]["children"]["spoke"]["hosts"]["east"]["kialiops_context"] = "no-such-context"
    inv.write_text(yaml.safe_dump(data))
    try:
        marks = lab.marks()
        r = mesh.run("site.yml", inv)
        assert r.returncode != 0
        assert "The plan failed on 1 cluster(s)" in r.stdout and "cluster east" in r.stdout, r.stdout[-4000:]
        for c in lab.clusters:
            assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
    finally:
        client.CoreV1Api(lab.admin(HOME)).delete_namespace(mesh.ns)
