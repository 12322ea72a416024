"""playbooks/verify.yml against the lab: it passes on a freshly onboarded mesh (site.yml, which ends with it) and
fails, naming the cluster and the fix, after each way a working installation breaks: a legacy token revoked on
the remote, an orphan secret on the home, a ClusterRoleBinding removed, an expired token. It never sends a
mutating request to any cluster, and never prints a token or key, even at -vvvv.

Each case restores the mesh (re-running prepare.yml) and proves it with a passing verify, so cases are independent."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from labkit import ansible_playbook, audit, free_port, remove_remote_access, unique, wait_refused, whoami

REMOTES = ("east", "west")
CLUSTERS = ("hub", "east", "west")
ACM_NS = "open-cluster-management-observability"


def verify(lab, extra, *args, report=None):
    """Run verify.yml; assert that no cluster received a mutating request meanwhile. Returns (result, report)."""
    marks = lab.marks()
    if report is not None:
        extra = dict(extra, kialiops_report_file=str(report))
    r = ansible_playbook(lab.inventory, *args, playbook="verify.yml", extra=extra)
    for c in lab.clusters:
        writes = audit.mutating(lab.audit(c).since(marks[c], settle=0.3))
        assert writes == [], (c, [(e["verb"], e.get("objectRef")) for e in writes])
    data = json.loads(Path(report).read_text()) if report is not None else None
    return r, data


def table(stdout):
    return stdout.split("kialiops verify:", 1)[1].split("TASK [", 1)[0]


def rows_of(data, cluster, status=None):
    return [r for r in data["rows"] if r["cluster"] == cluster and (status is None or r["status"] == status)]


def assert_healthy(r, data, acm=False):
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert data["result"] == "ok" and data["failing_clusters"] == [] and data["summary"]["fail"] == 0, data
    for c in REMOTES:
        checks = {row["check"]: row["status"] for row in rows_of(data, c)}
        assert checks == {"remote secrets": "ok", "token": "ok", "reachable": "ok", "authenticates": "ok",
                          "rbac": "ok"}, (c, checks)
    want = {"kiali cr": "ok", "acm client cert": "ok", "acm ca bundle": "ok"} if acm else {"kiali cr": "ok"}
    assert {row["check"]: row["status"] for row in rows_of(data, "hub")} == want


def assert_fails(r, data, cluster, check, *words):
    """verify failed, naming ``cluster``; its ``check`` row failed with ``words`` in message/fix; others unhurt."""
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-5000:]
    assert cluster in data["failing_clusters"] and data["result"] == "fail"
    bad = [row for row in rows_of(data, cluster, "fail") if row["check"] == check]
    assert bad, (cluster, check, data["rows"])
    text = " ".join(row["message"] + " " + row["fix"] for row in bad)
    for w in words:
        assert w in text, (w, text)
    failed_msg = out.split("Fail when a check failed", 1)[1]
    assert "cluster %s: %s:" % (cluster, check) in failed_msg and "Fix:" in failed_msg
    assert "FAIL" in table(r.stdout)
    return bad


@pytest.fixture(scope="module")
def mesh(lab, tmp_path_factory):
    """east and west onboarded by site.yml (prepare + install, then verify) into namespaces of this module."""
    sfx = unique("vf").split("-", 1)[1]
    extra = {"kialiops_kiali_namespace": "kiali-" + sfx, "kialiops_remote_namespace": "kr-" + sfx,
             "kialiops_instance_name": "kiali-" + sfx}
    hub = client.CoreV1Api(lab.admin("hub"))
    hub.create_namespace({"metadata": {"name": extra["kialiops_kiali_namespace"]}})
    r = ansible_playbook(lab.inventory, playbook="site.yml", extra=extra)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert "PLAY [Verify report]" in r.stdout and "0 fail" in table(r.stdout)   # site.yml ends with verify.yml
    yield dict(extra=extra, sfx=sfx, ns=extra["kialiops_kiali_namespace"], remote_ns=extra["kialiops_remote_namespace"],
               instance=extra["kialiops_instance_name"], tmp=tmp_path_factory.mktemp("verify"))
    remove_remote_access(lab, REMOTES)
    hub.delete_namespace(extra["kialiops_kiali_namespace"])


def restore(lab, mesh, **extra):
    """Re-run prepare.yml (bound tokens unless told otherwise) and prove verify passes again."""
    r = ansible_playbook(lab.inventory, playbook="prepare.yml", extra=dict(mesh["extra"], **extra))
    assert r.returncode == 0, r.stdout[-4000:]
    r, data = verify(lab, dict(mesh["extra"], **extra), report=mesh["tmp"] / "restored.json")
    assert_healthy(r, data)


def stored(lab, mesh, cluster):
    """(Secret, kubeconfig dict, token) stored for ``cluster`` on the hub."""
    core = client.CoreV1Api(lab.admin("hub"))
    secret = core.read_namespaced_secret("kiali-remote-cluster-secret-" + cluster, mesh["ns"])
    kubeconfig = yaml.safe_load(base64.b64decode(secret.data[cluster]))
    return secret, kubeconfig, kubeconfig["users"][0]["user"]["token"]


def test_healthy_mesh_passes_and_writes_a_json_report(lab, mesh):
    r, data = verify(lab, mesh["extra"], report=mesh["tmp"] / "report.json")
    assert_healthy(r, data)
    assert data["version"] == 1 and data["topology"] == "co-located" and data["home"] == "hub"
    assert set(data["summary"]) == {"ok", "warn", "fail"} and data["summary"]["ok"] == len(data["rows"])
    assert all(set(row) == {"cluster", "check", "status", "message", "fix"} for row in data["rows"])
    assert (mesh["tmp"] / "report.json").stat().st_mode & 0o077 == 0
    token_row = rows_of(data, "east")[1]
    assert token_row["check"] == "token" and "bound token, expires 20" in token_row["message"]
    assert "days left" in token_row["message"]
    rbac = next(row for row in rows_of(data, "west") if row["check"] == "rbac")
    assert "viewer role" in rbac["message"]
    text = table(r.stdout)
    for c in CLUSTERS:
        assert re.search(r"\n\s*%s\s+\S" % c, text), c
    assert "0 fail" in text


def test_check_mode_passes_too_and_writes_nothing(lab, mesh):
    r, data = verify(lab, mesh["extra"], "--check", report=mesh["tmp"] / "check.json")
    assert_healthy(r, data)


def test_no_token_or_kubeconfig_in_output_at_vvvv(lab, mesh):
    r, dummy = verify(lab, mesh["extra"], "-vvvv")
    assert r.returncode == 0, r.stdout[-3000:]
    out = r.stdout + r.stderr
    assert "authenticates" in out
    for c in REMOTES:
        secret, dummy_kc, token = stored(lab, mesh, c)
        raw = secret.data[c]
        for value in (raw, base64.b64decode(raw).decode(), token, base64.b64encode(token.encode()).decode(),
                      token.split(".")[1], token.split(".")[2]):
            assert value not in out, c


def test_deleted_legacy_token_fails_naming_the_cluster(lab, mesh):
    legacy = dict(mesh["extra"], kialiops_token_mode="legacy")
    r = ansible_playbook(lab.inventory, playbook="prepare.yml", extra=legacy)
    assert r.returncode == 0, r.stdout[-4000:]
    r, data = verify(lab, legacy, report=mesh["tmp"] / "legacy-ok.json")
    assert_healthy(r, data)
    assert "legacy token" in next(row for row in rows_of(data, "east") if row["check"] == "token")["message"]
    core = client.CoreV1Api(lab.admin("east"))
    name = mesh["instance"] + "-kialiops-token"
    core.delete_namespaced_secret(name, mesh["remote_ns"])
    try:
        # the API server refuses the stored token (401) once its 10 s authentication cache expires; verify must
        # then report it
        wait_refused(lab.with_token("east", stored(lab, mesh, "east")[2]), within=40)
        r, data = verify(lab, legacy, report=mesh["tmp"] / "legacy-deleted.json")
        assert_fails(r, data, "east", "authenticates", "401",
                     "token revoked/expired, run playbooks/rotate_tokens.yml or prepare.yml for east")
        assert data["failing_clusters"] == ["east"]          # west still checked, and fine
        assert {row["status"] for row in rows_of(data, "west")} == {"ok"}
    finally:
        restore(lab, mesh)


def test_orphan_secret_on_the_home_fails_naming_it(lab, mesh):
    core = client.CoreV1Api(lab.admin("hub"))
    body = {"metadata": {"name": "kiali-remote-cluster-secret-ghost", "labels": {"kiali.io/multiCluster": "true"},
                         "annotations": {"kiali.io/cluster": "ghost"}},
            "data": {"ghost": base64.b64encode(b"not: used").decode()}}
    core.create_namespaced_secret(mesh["ns"], body)
    try:
        r, data = verify(lab, mesh["extra"], report=mesh["tmp"] / "orphan.json")
        assert_fails(r, data, "ghost", "remote secrets", "orphaned", "kiali-remote-cluster-secret-ghost",
                     "not in the inventory", 'remove_cluster.yml -e \'{"cluster_remove_clusters": ["ghost"]}\'')
        assert data["failing_clusters"] == ["ghost"]
    finally:
        core.delete_namespaced_secret("kiali-remote-cluster-secret-ghost", mesh["ns"])
    restore(lab, mesh)


def test_removed_cluster_role_binding_fails_naming_the_cluster(lab, mesh):
    rbac = client.RbacAuthorizationV1Api(lab.admin("west"))
    name = mesh["instance"] + "-viewer"        # chart flavour, view-only: the binding is named after the role
    rbac.read_cluster_role_binding(name)
    rbac.delete_cluster_role_binding(name)
    try:
        r, data = verify(lab, mesh["extra"], report=mesh["tmp"] / "crb.json")
        bad = assert_fails(r, data, "west", "rbac", "expected allowed, got denied", "remote_prepare role for west")
        assert "get namespaces (expected allowed, got denied)" in bad[0]["message"]
        assert data["failing_clusters"] == ["west"]
        # authenticated fine: the problem is the permissions, not the credential
        assert next(row for row in rows_of(data, "west") if row["check"] == "authenticates")["status"] == "ok"
    finally:
        restore(lab, mesh)


def store_kubeconfig(lab, mesh, cluster, secret, kubeconfig):
    """Store ``kubeconfig`` for ``cluster`` the way remote_secret does (server-side apply of the whole Secret as
    field manager kialiops), so the restoring prepare.yml owns the key as before: a write by another manager would
    be a conflict, which kialiops never forces."""
    dyn = DynamicClient(lab.admin("hub"))
    dyn.server_side_apply(dyn.resources.get(api_version="v1", kind="Secret"), body={
        "apiVersion": "v1", "kind": "Secret", "type": secret.type,
        "metadata": {"name": secret.metadata.name, "namespace": mesh["ns"], "labels": secret.metadata.labels,
                     "annotations": secret.metadata.annotations},
        "data": {cluster: base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()}},
        name=secret.metadata.name, namespace=mesh["ns"], field_manager="kialiops", force_conflicts=False)


def test_unreachable_remote_is_named_and_does_not_hide_the_others(lab, mesh):
    secret, kubeconfig, dummy = stored(lab, mesh, "west")
    port = free_port()
    kubeconfig["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:%d" % port
    store_kubeconfig(lab, mesh, "west", secret, kubeconfig)
    try:
        r, data = verify(lab, mesh["extra"], report=mesh["tmp"] / "unreachable.json")
        assert_fails(r, data, "west", "reachable", "cannot connect", "127.0.0.1:%d" % port)
        assert data["failing_clusters"] == ["west"]
        assert {row["check"]: row["status"] for row in rows_of(data, "east")} == {
            "remote secrets": "ok", "token": "ok", "reachable": "ok", "authenticates": "ok", "rbac": "ok"}
    finally:
        restore(lab, mesh)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resigned_token(lab, cluster, token, expires_in=-86400):
    """The same claims as ``token`` but issued 2 days ago and expiring ``expires_in`` seconds from now (default:
    expired 1 day ago), signed (ES256) with the cluster's real service-account key from $LAB_DIR/<cluster>/pki."""
    header, payload, dummy_sig = token.split(".")
    claims = json.loads(_unb64url(payload))
    now = int(time.time())
    claims.update(iat=now - 2 * 86400, nbf=now - 2 * 86400, exp=now + expires_in)
    assert claims["iss"] == "https://%s.kialiops.test" % cluster
    key = serialization.load_pem_private_key((Path(lab.clusters[cluster]["dir"]) / "pki" / "sa.key").read_bytes(),
                                             password=None)
    signing_input = header + "." + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_expired_token_fails_naming_the_cluster(lab, mesh):
    secret, kubeconfig, token = stored(lab, mesh, "east")
    crafted = resigned_token(lab, "east", token)
    # the crafted token is rejected by east (401) only because it expired: the same claims, signed the same way
    # but still valid, are accepted
    assert whoami(lab.with_token("east", resigned_token(lab, "east", token, expires_in=3600))).startswith(
        "system:serviceaccount:" + mesh["remote_ns"])
    probe = lab.with_token("east", crafted)
    with pytest.raises(client.ApiException) as denied:
        client.CoreV1Api(probe).list_namespace()
    assert denied.value.status == 401
    kubeconfig["users"][0]["user"]["token"] = crafted
    store_kubeconfig(lab, mesh, "east", secret, kubeconfig)
    assert stored(lab, mesh, "east")[2] == crafted
    try:
        r, data = verify(lab, mesh["extra"], report=mesh["tmp"] / "expired.json")
        bad = assert_fails(r, data, "east", "token", "bound token expired", "days ago",
                           "token revoked/expired, run playbooks/rotate_tokens.yml or prepare.yml for east")
        assert "(1 days ago)" in bad[0]["message"]
        assert_fails(r, data, "east", "authenticates", "401")
        assert crafted not in r.stdout + r.stderr and token not in r.stdout + r.stderr
    finally:
        restore(lab, mesh)


# --- ACM ---------------------------------------------------------------------------------------------------------

def _cert(cn, days, issuer=None, ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    issuer_key, issuer_name = issuer if issuer else (key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=max(1, 1 - days))).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem, key, cert.subject


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _put_secret(core, ns, name, data):
    body = {"metadata": {"name": name}, "data": {k: _b64(v) for k, v in data.items()}}
    try:
        core.replace_namespaced_secret(name, ns, body)
    except client.ApiException:
        core.create_namespaced_secret(ns, body)


def test_acm_copies_checked_against_the_hub(lab, mesh):
    core = client.CoreV1Api(lab.admin("hub"))
    server_pem, dummy, server_key, server_name = _cert("observability-server-ca-certificate", 1800, ca=True)
    client_pem, dummy, client_key, client_name = _cert("observability-client-ca-certificate", 1800, ca=True)
    grafana_pem, grafana_key, dummy, dummy2 = _cert("grafana", 365, issuer=(client_key, client_name))
    _put_secret(core, ACM_NS, "observability-server-ca-certs", {"ca.crt": server_pem})
    _put_secret(core, ACM_NS, "observability-client-ca-certs", {"ca.crt": client_pem})
    _put_secret(core, ACM_NS, "observability-grafana-certs", {"tls.crt": grafana_pem, "tls.key": grafana_key})
    _put_secret(core, mesh["ns"], "acm-observability-certs", {"tls.crt": grafana_pem, "tls.key": grafana_key})
    core.create_namespaced_config_map(mesh["ns"], {"metadata": {"name": "kiali-cabundle"},
                                                   "data": {"additional-ca-bundle.pem": server_pem}})
    acm = dict(mesh["extra"], kialiops_acm_enabled="true")
    try:
        r, data = verify(lab, acm, "-vvvv", report=mesh["tmp"] / "acm-ok.json")
        assert_healthy(r, data, acm=True)
        hub = {row["check"]: row for row in rows_of(data, "hub")}
        assert hub["acm client cert"]["status"] == "ok" and "(364 days left)" in hub["acm client cert"]["message"]
        assert hub["acm ca bundle"]["status"] == "ok"
        assert "observability-server-ca-certs" in hub["acm ca bundle"]["message"]
        out = r.stdout + r.stderr
        body = "".join(grafana_key.splitlines()[1:-1])
        for secret in (_b64(grafana_key), body[:40], body[-40:]):
            assert secret not in out
        assert "PRIVATE KEY" not in out

        # ACM rotated its client certificate and CA bundle; Kiali's copies are stale now
        new_pem, new_key, dummy, dummy2 = _cert("grafana", 365, issuer=(client_key, client_name))
        other_ca, dummy, dummy2, dummy3 = _cert("someone-else-ca", 1800, ca=True)
        _put_secret(core, ACM_NS, "observability-grafana-certs", {"tls.crt": new_pem, "tls.key": new_key})
        core.patch_namespaced_config_map("kiali-cabundle", mesh["ns"], {"data": {"additional-ca-bundle.pem": other_ca}})
        r, data = verify(lab, acm, report=mesh["tmp"] / "acm-stale.json")
        assert_fails(r, data, "hub", "acm client cert", "differs from", "observability-grafana-certs", "acm_metrics")
        assert_fails(r, data, "hub", "acm ca bundle", "matches neither", "acm_metrics")

        # an expired copy (that still matches) is a failure too
        old_pem, old_key, dummy, dummy2 = _cert("grafana", -1, issuer=(client_key, client_name))
        for ns, name in ((ACM_NS, "observability-grafana-certs"), (mesh["ns"], "acm-observability-certs")):
            _put_secret(core, ns, name, {"tls.crt": old_pem, "tls.key": old_key})
        core.patch_namespaced_config_map("kiali-cabundle", mesh["ns"], {"data": {"additional-ca-bundle.pem": client_pem}})
        r, data = verify(lab, acm, report=mesh["tmp"] / "acm-expired.json")
        bad = assert_fails(r, data, "hub", "acm client cert", "expired")
        assert "differs" not in bad[0]["message"]
        assert next(row for row in rows_of(data, "hub") if row["check"] == "acm ca bundle")["status"] == "ok"
    finally:
        for ns, name in ((ACM_NS, "observability-server-ca-certs"), (ACM_NS, "observability-client-ca-certs"),
                         (ACM_NS, "observability-grafana-certs"), (mesh["ns"], "acm-observability-certs")):
            core.delete_namespaced_secret(name, ns)
        core.delete_namespaced_config_map("kiali-cabundle", mesh["ns"])


def test_acm_enabled_without_observability_fails_naming_the_hub(lab, mesh):
    r, data = verify(lab, dict(mesh["extra"], kialiops_acm_enabled="true"), report=mesh["tmp"] / "acm-none.json")
    assert_fails(r, data, "hub", "acm client cert", "observability-grafana-certs", "missing")
    assert_fails(r, data, "hub", "acm ca bundle", "observability-server-ca-certs")
