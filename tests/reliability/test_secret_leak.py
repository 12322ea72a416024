"""Secret leak: the whole lifecycle at -vvvv with the JSON stdout callback and --diff, then a search for every
credential the run minted or used in everything the run printed or left on disk.

Lifecycle (Kiali's home mgmt, spokes east and west, namespaces of this test): site.yml with forced rotation (the
tokens are minted in this run), a GitOps export (kialiops_render_dir, secret values not asked for), rotate_tokens.yml
with forced rotation (new tokens again), remove_cluster.yml for west. After each step the credentials stored on the
home are read back (kubeconfig, its base64 form, the token, the token's base64 form and its JWT signature); the
lab's admin client keys (the run's own credentials) are added. None of them may appear in stdout, stderr (the JSON
callback's output is stdout), the log file, the export directory, or any file created or modified during the run
under the checkout or the temporary directories the run was given (TMPDIR, ANSIBLE_LOCAL_TEMP,
ANSIBLE_REMOTE_TEMP, ANSIBLE_LOG_PATH all point into this test's tmp_path).

The end of remove_cluster.yml is also the cleanup guarantee: nothing labelled managed-by kialiops for this home is
left on west (every served kind listed, see labkit.labelled_objects). test_cluster_remove.py proves the same for
both secret modes, legacy token Secrets, the operator backend's CR and with the remote unreachable.
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import yaml
from kubernetes import client

from labkit import REPO, ansible_playbook
from test_cluster_remove import HOME, PER_CLUSTER, Mesh

SKIP_DIRS = {".git", ".venv", ".collections", ".lab"}     # .lab: the lab's own state and audit logs, not the run's


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def stored_secrets(mesh) -> dict[str, str]:
    """Every credential stored on the home for the remotes, in every form it could leak in."""
    found = {}
    core = client.CoreV1Api(mesh.lab.admin(HOME))
    for s in core.list_namespaced_secret(mesh.ns).items:
        for key, value in (s.data or {}).items():
            text = base64.b64decode(value).decode()
            found["%s/%s data" % (s.metadata.name, key)] = value
            found["%s/%s kubeconfig" % (s.metadata.name, key)] = text
            token = yaml.safe_load(text)["users"][0]["user"].get("token")
            if token:
                found["%s/%s token" % (s.metadata.name, key)] = token
                found["%s/%s token b64" % (s.metadata.name, key)] = b64(token)
                found["%s/%s token signature" % (s.metadata.name, key)] = token.split(".")[2]
    return found


def admin_keys(lab) -> dict[str, str]:
    found = {}
    for c in lab.clusters:
        kc = yaml.safe_load(Path(lab.kubeconfig(c)).read_text())
        key_b64 = kc["users"][0]["user"]["client-key-data"]
        body = "".join(base64.b64decode(key_b64).decode().splitlines()[1:-1])
        found.update({"%s admin key b64" % c: key_b64, "%s admin key head" % c: body[:40],
                      "%s admin key tail" % c: body[-40:]})
    return found


def files_written(roots, since: float):
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for f in filenames:
                p = Path(dirpath) / f
                try:
                    if p.is_file() and not p.is_symlink() and p.stat().st_mtime >= since:
                        yield p
                except FileNotFoundError:
                    continue


def test_no_credential_leaks_anywhere_in_the_lifecycle(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    tmp = tmp_path / "run-tmp"
    for d in ("local", "remote", "tmp"):
        (tmp / d).mkdir(parents=True)
    log = tmp / "ansible.log"
    env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOCAL_TEMP": str(tmp / "local"),
           "ANSIBLE_REMOTE_TEMP": str(tmp / "remote"), "TMPDIR": str(tmp / "tmp"), "ANSIBLE_LOG_PATH": str(log)}
    render = tmp_path / "gitops"
    inv = mesh.inventory()
    started = time.time() - 1
    outputs, secrets = [], admin_keys(lab)

    def step(playbook, *args):
        run = ansible_playbook(inv, "-vvvv", "--diff", *args, playbook=playbook, env=env)
        out, err = run.stdout, run.stderr
        outputs.append(("%s stdout" % playbook, out))
        outputs.append(("%s stderr" % playbook, err))
        assert run.returncode == 0, (playbook, out[-4000:], err[-3000:])
        doc = json.loads(out[out.index("{"):])          # the JSON callback wrote it
        assert doc["plays"] and doc["stats"], playbook
        return doc

    try:
        step("site.yml", "-e", "remote_prepare_force_rotate=true")
        first = stored_secrets(mesh)
        assert len([k for k in first if k.endswith(" token")]) == 2, sorted(first)
        secrets.update(first)

        step("site.yml", "-e", "kialiops_render_dir=%s" % render)
        rendered = sorted(render.rglob("*.yaml"))
        assert any(p.name.startswith("secret_") for p in rendered), rendered

        step("rotate_tokens.yml", "-e", "remote_prepare_force_rotate=true")
        rotated = stored_secrets(mesh)
        for c in ("east", "west"):        # really minted again
            key = "%s/%s token" % (PER_CLUSTER % c, c)
            assert rotated[key] != first[key], c
        secrets.update({k + " (rotated)": v for k, v in rotated.items()})

        step("remove_cluster.yml", "-e", '{"cluster_remove_clusters": ["west"]}')
        assert mesh.wait_clean("west") == []          # cleanup: nothing labelled for this home is left on west
        assert "Namespace " + mesh.remote_ns in mesh.left_on("east")
    finally:
        places = list(outputs)
        for p in files_written([REPO, tmp_path], started):
            places.append((str(p), p.read_bytes().decode("utf-8", "replace")))
        mesh.cleanup()

    assert any(str(render) in place[0] for place in places) and any(str(log) == place[0] for place in places)
    leaks = sorted("%s in %s" % (what, where) for where, text in places for what, value in secrets.items()
                   if value in text)
    assert leaks == [], "\n".join(leaks)
    assert not [where for where, text in places if "PRIVATE KEY" in text]
