"""Kiali's openid strategy end to end on the lab, whose OIDC issuer (tools/lab/oidc.py) the API servers of
lab.state["oidc"]["trusted_by"] trust (hub, east, mgmt by default) and the others (west) do not.

- site.yml with strategy openid writes the CR's auth.openid fields and the client secret where Kiali reads it
  (Secret kiali, key oidc-secret, field manager kialiops, kialiops labels); a rerun sends no mutating request; the
  client secret is in no output of a -vvv run; verify without an ID token warns that the openid check did not run.
- verify.yml with a user's ID token of the lab issuer: the openid row is ok on every cluster that trusts the issuer
  and fails, naming the cluster and the fix, on one that does not; no write anywhere; the token is never printed."""
from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import pytest
import yaml
from kubernetes import client

import oidc  # tools/lab/oidc.py (labkit puts tools/lab on sys.path)
from labkit import ansible_playbook, audit, remove_remote_access, unique

REMOTES = ("east", "west")
ADMIN = "kialiops-admin"


def write_vars(path, data):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(yaml.safe_dump(data))
    return path


def openid_rows(report):
    return {r["cluster"]: r for r in json.loads(Path(report).read_text())["rows"] if r["check"] == "openid"}


@pytest.fixture(scope="module")
def mesh(lab, tmp_path_factory):
    """east and west onboarded by site.yml -vvv with strategy openid, into namespaces of this module."""
    tmp = tmp_path_factory.mktemp("openid")
    sfx = unique("oi").split("-", 1)[1]
    issuer = lab.state["oidc"]["issuer"]
    data = {"kialiops_kiali_namespace": "kiali-" + sfx, "kialiops_remote_namespace": "kr-" + sfx,
            "kialiops_instance_name": "kiali-" + sfx, "kialiops_auth_strategy": "openid",
            "kialiops_openid_issuer_uri": issuer, "kialiops_openid_client_id": oidc.AUDIENCE,
            "kialiops_openid_client_secret": "cs-" + secrets.token_urlsafe(24),
            "kialiops_openid_scopes": ["openid", "email"], "kialiops_openid_username_claim": "sub",
            "kialiops_report_file": str(tmp / "site.json")}
    varfile = write_vars(tmp / "vars.yml", data)
    hub = client.CoreV1Api(lab.admin("hub"))
    hub.create_namespace({"metadata": {"name": data["kialiops_kiali_namespace"]}})
    site = ansible_playbook(lab.inventory, "-e", "@%s" % varfile, "-vvv", playbook="site.yml")
    assert site.returncode == 0, site.stdout[-5000:] + site.stderr[-2000:]
    yield dict(data=data, vars=varfile, tmp=tmp, site=site, ns=data["kialiops_kiali_namespace"],
               instance=data["kialiops_instance_name"], secret=data["kialiops_openid_client_secret"])
    remove_remote_access(lab, REMOTES)
    hub.delete_namespace(data["kialiops_kiali_namespace"])


def test_openid_cr_fields_and_client_secret_written_then_rerun_writes_nothing(lab, mesh):
    ns, issuer = mesh["ns"], lab.state["oidc"]["issuer"]
    cr = client.CustomObjectsApi(lab.admin("hub")).get_namespaced_custom_object(
        "kiali.io", "v1alpha1", ns, "kialis", mesh["instance"])
    assert cr["spec"]["auth"]["strategy"] == "openid"
    want = {"issuer_uri": issuer, "client_id": "kiali", "scopes": ["openid", "email"], "username_claim": "sub",
            "disable_rbac": False}
    assert {k: cr["spec"]["auth"]["openid"].get(k) for k in want} == want   # the CRD's schema defaults the rest
    assert "api_proxy" not in cr["spec"]["auth"]["openid"]                  # not given, not written
    assert mesh["secret"] not in json.dumps(cr)
    # where Kiali reads it: Secret deployment.secret_name (default kiali), key oidc-secret, in Kiali's namespace
    secret = client.CoreV1Api(lab.admin("hub")).read_namespaced_secret("kiali", ns)
    assert base64.b64decode(secret.data["oidc-secret"]).decode() == mesh["secret"]
    assert secret.metadata.labels == {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}
    assert [m.manager for m in secret.metadata.managed_fields] == ["kialiops"]
    # a rerun (install.yml: the same CR and secret) sends no mutating request at all
    log = lab.audit("hub")
    mark = log.mark()
    again = ansible_playbook(lab.inventory, "-e", "@%s" % mesh["vars"], "-vvv", playbook="install.yml")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-4000:]
    writes = [e for e in audit.mutating(log.since(mark), ADMIN) if (e.get("objectRef") or {}).get("namespace") == ns]
    assert writes == [], [(e["verb"], e.get("objectRef")) for e in writes]
    # the client secret (and its base64 form) is in no output of either -vvv run
    raw = mesh["secret"]
    for run in (mesh["site"], again):
        out = run.stdout + run.stderr
        assert "oidc-secret" in out or "openid_secret" in out   # the run did talk about it ...
        assert raw not in out and base64.b64encode(raw.encode()).decode() not in out   # ... never showing it


def test_verify_without_token_warns_that_openid_was_not_checked(lab, mesh):
    rows = openid_rows(mesh["data"]["kialiops_report_file"])
    assert list(rows) == ["hub"] and rows["hub"]["status"] == "warn", rows
    assert "kialiops_openid_verify_id_token" in rows["hub"]["fix"]


def test_verify_with_an_id_token_fails_exactly_the_clusters_that_do_not_trust_the_idp(lab, mesh):
    trusted = set(lab.state["oidc"]["trusted_by"])
    assert "hub" in trusted and "east" in trusted and "west" not in trusted, "the lab's default trust"
    token = oidc.mint_token(Path(lab.state["oidc"]["dir"]), "alice")
    report = mesh["tmp"] / "verify.json"
    varfile = write_vars(mesh["tmp"] / "verify-vars.yml", dict(mesh["data"], kialiops_openid_verify_id_token=token,
                                                               kialiops_report_file=str(report)))
    marks = lab.marks()
    r = ansible_playbook(lab.inventory, "-e", "@%s" % varfile, "-vvv", playbook="verify.yml")
    out = r.stdout + r.stderr
    for c in lab.clusters:   # reads and reviews only
        assert audit.mutating(lab.audit(c).since(marks[c], settle=0.3)) == [], c
    for value in (token, token.split(".")[1], token.split(".")[2]):
        assert value not in out
    rows = openid_rows(report)
    assert set(rows) == {"hub", "east", "west"}, rows
    for c in ("hub", "east"):
        assert rows[c]["status"] == "ok" and "authenticates as alice" in rows[c]["message"], rows[c]
    west = rows["west"]
    assert west["status"] == "fail" and "401" in west["message"], west
    assert "JWT authenticator" in west["fix"] and lab.state["oidc"]["issuer"] in west["fix"] and \
        "api_proxy" in west["fix"] and "west" in west["fix"], west
    assert r.returncode != 0 and json.loads(report.read_text())["failing_clusters"] == ["west"], out[-3000:]
    assert "cluster west: openid:" in out


def test_changed_client_secret_check_mode_predicts_then_one_write(lab, mesh):
    """kiali_cr alone: a new client secret in check mode is predicted (dry-run only), then written once; the module's
    output (result and everything it printed) never holds the old or the new value."""
    from labkit import run_module
    ns, new = mesh["ns"], "cs-" + secrets.token_urlsafe(24)
    args = dict(cluster_name="hub", kubeconfig=lab.kubeconfig("hub"), context="hub", namespace=ns,
                instance_name=mesh["instance"], auth_strategy="openid",
                openid=dict(issuer_uri=lab.state["oidc"]["issuer"], client_id="kiali", client_secret=new,
                            scopes=["openid", "email"], username_claim="sub", disable_rbac=False,
                            insecure_skip_verify_tls=False))   # as the role sends them: the CR stays as is
    log = lab.audit("hub")
    for check, action in ((True, "updated"), (False, "updated"), (False, "unchanged")):
        mark = log.mark()
        res, out = run_module("kiali_cr", args, check=check, diff=True)
        assert res.get("failed") is not True, out[-3000:]
        assert res["openid_secret"] == {"name": "kiali", "namespace": ns, "key": "oidc-secret", "action": action}
        assert res["changed"] is (action != "unchanged")
        for value in (new, mesh["secret"]):
            assert value not in out and base64.b64encode(value.encode()).decode() not in out
        writes = [e for e in audit.mutating(log.since(mark), ADMIN) if (e.get("objectRef") or {}).get("namespace") == ns]
        if check or action == "unchanged":
            assert all("dryRun=All" in e["requestURI"] for e in writes), writes
        else:
            assert [(e["verb"], e["objectRef"]["resource"]) for e in writes] == [("patch", "secrets")], writes
    stored = client.CoreV1Api(lab.admin("hub")).read_namespaced_secret("kiali", ns).data["oidc-secret"]
    assert base64.b64decode(stored).decode() == new
