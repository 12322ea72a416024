"""Concurrency: two runs at once, each adding a different spoke, in `single` secret mode (one key per cluster in
kiali-multi-cluster-secret). Each run applies only its own key under a field manager of its own (server-side apply),
so neither overwrites the other's: both keys are there afterwards. Twice: adding, then both rotating at once."""
from __future__ import annotations

import base64

from kubernetes import client

from labkit import ansible_playbook
from test_cluster_remove import HOME, SINGLE, Mesh


def single_secret(mesh):
    return {k: base64.b64decode(v).decode() for k, v in
            (client.CoreV1Api(mesh.lab.admin(HOME)).read_namespaced_secret(SINGLE, mesh.ns).data or {}).items()}


def both_at_once(mesh, *args):
    runs = [ansible_playbook(mesh.inventory(spokes=(c,), name="only-%s.yml" % c), *args, playbook="prepare.yml",
                             background=True) for c in ("east", "west")]
    outs = [r.communicate(timeout=900) for r in runs]
    for r, (out, err) in zip(runs, outs):
        assert r.returncode == 0, out[-4000:] + err[-2000:]


def test_two_runs_at_once_keep_both_keys(lab, tmp_path):
    mesh = Mesh(lab, tmp_path, secret_mode="single")
    try:
        both_at_once(mesh)
        first = single_secret(mesh)
        assert sorted(first) == ["east", "west"]
        both_at_once(mesh, "-e", "remote_prepare_force_rotate=true")
        second = single_secret(mesh)
        assert sorted(second) == ["east", "west"]
        for c in ("east", "west"):          # both runs really wrote their key the second time
            assert second[c] != first[c], c
    finally:
        mesh.cleanup()
