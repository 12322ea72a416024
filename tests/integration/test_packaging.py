"""The collection as users install it: the Galaxy tarball, installed offline into an empty collections path (its
dependency kubernetes.core comes from the pinned `ansible` package), runs site.yml by its FQCN against the lab; the
execution environment definition renders a build context with ansible-builder."""
from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from labkit import REPO

BIN = REPO / ".venv" / "bin"
VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]


def run(args, cwd, env=None, timeout=900):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    r = run([BIN / "ansible-galaxy", "collection", "build", "--output-path", out, REPO], cwd=out)
    assert r.returncode == 0, r.stdout + r.stderr
    path = out / ("kialiops-multicluster-%s.tar.gz" % VERSION)
    assert path.is_file()
    return path


def test_tarball_holds_the_collection_and_nothing_local(tarball):
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    for wanted in ("playbooks/site.yml", "playbooks/remove_cluster.yml", "roles/cluster_remove/tasks/main.yml",
                   "plugins/modules/remote_secrets.py", "meta/runtime.yml", "execution-environment.yml"):
        assert wanted in names, wanted
    for local in (".lab", ".venv", ".collections", "build", "bench", "ansible.cfg", ".ci"):
        assert not any(n == local or n.startswith(local + "/") for n in names), local
    assert manifest["collection_info"]["dependencies"] == {"kubernetes.core": ">=6.0.0,<7.0.0"}


def test_installed_tarball_runs_site_by_fqcn(lab, tarball, tmp_path):
    collections = tmp_path / "collections"
    r = run([BIN / "ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", collections, tarball], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # A config of the user's, outside the checkout: only the installed copy and the `ansible` package are found.
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\nstdout_callback = default\n" % collections)
    env = {"ANSIBLE_CONFIG": str(cfg), "ANSIBLE_NOCOLOR": "1"}
    listed = run([BIN / "ansible-galaxy", "collection", "list"], cwd=tmp_path, env=env)
    assert str(collections) in listed.stdout and "kubernetes.core" in listed.stdout, listed.stdout[-3000:]
    assert str(REPO / ".collections") not in listed.stdout
    doc = run([BIN / "ansible-doc", "kialiops.multicluster.remote_secrets"], cwd=tmp_path, env=env)
    assert doc.returncode == 0 and str(collections) in doc.stdout, doc.stdout[-2000:] + doc.stderr[-2000:]
    r = run([BIN / "ansible-playbook", "-i", lab.dir / "inventory.yml", "kialiops.multicluster.site"], cwd=tmp_path,
            env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "co-located; Kiali home: hub" in r.stdout and "Kiali CR istio-system/kiali on hub:" in r.stdout
    assert str(REPO / "roles") not in r.stdout + r.stderr


def test_execution_environment_context(tarball, tmp_path):
    build = REPO / "build"
    build.mkdir(exist_ok=True)
    local = build / tarball.name
    local.write_bytes(tarball.read_bytes())
    try:
        r = run([BIN / "ansible-builder", "create", "-f", REPO / "execution-environment.yml", "-c", tmp_path / "ctx"],
                cwd=REPO)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        local.unlink()
    ctx = tmp_path / "ctx"
    containerfile = next(p for p in (ctx / "Containerfile", ctx / "Dockerfile") if p.is_file()).read_text()
    assert "ansible-galaxy collection install" in containerfile and "requirements.yml" in containerfile
    assert (ctx / "_build" / "collections" / tarball.name).is_file()
    wanted = yaml.safe_load((REPO / "ee" / "requirements.yml").read_text())["collections"]
    assert wanted[0]["name"] == "/build/collections/" + tarball.name          # the copy the galaxy stage installs
    bundled = json.loads((Path(next((REPO / ".venv" / "lib").glob("python3*"))) / "site-packages" / "ansible_collections"
                          / "kubernetes" / "core" / "MANIFEST.json").read_text())["collection_info"]["version"]
    assert {"name": "kubernetes.core", "version": bundled} in wanted
    pins = {ln.split("==")[0]: ln for ln in (REPO / "requirements.txt").read_text().splitlines() if "==" in ln}
    for ln in (ctx / "_build" / "requirements.txt").read_text().splitlines():
        if "==" in ln:
            assert pins[ln.split("==")[0]] == ln, ln                              # same pins as the controller
