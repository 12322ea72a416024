"""kialiops.multicluster.remote_secret against the lab: hub is Kiali's home, east/west/mgmt are remotes.

Each test makes its own Kiali namespace on hub and, on each remote, a namespace with a service account
bound to `view`, all with a random suffix, and removes them afterwards. Audit counts are filtered to those
namespaces (another engineer uses the same lab and the same admin user).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import http.server
import json
import ssl
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from labkit import ansible_playbook, audit, kubeconfig_client, run_module, unique, whoami

ADMIN = "kialiops-admin"
PER = "kiali-remote-cluster-secret-%s"
SINGLE = "kiali-multi-cluster-secret"


def fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


class Env:
    """One test's namespaces: `home_ns` on hub, `ns` (with SA `kiali` bound to view) on each remote."""

    def __init__(self, lab, remotes=("east",)):
        self.lab = lab
        self.sfx = unique("rs").split("-", 1)[1]
        self.ns = "rs-" + self.sfx
        self.home_ns = "kiali-" + self.sfx
        self.remotes = list(remotes)
        self.api = {c: lab.admin(c) for c in ["hub"] + self.remotes}
        self.core("hub").create_namespace({"metadata": {"name": self.home_ns}})
        for c in self.remotes:
            self.core(c).create_namespace({"metadata": {"name": self.ns}})
            self.core(c).create_namespaced_service_account(self.ns, {"metadata": {"name": "kiali"}})
            client.RbacAuthorizationV1Api(self.api[c]).create_cluster_role_binding({
                "metadata": {"name": self.ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "kiali", "namespace": self.ns}]})

    def core(self, cluster) -> client.CoreV1Api:
        return client.CoreV1Api(self.api[cluster])

    def cleanup(self):
        for c in self.remotes:
            for call in (lambda: client.RbacAuthorizationV1Api(self.api[c]).delete_cluster_role_binding(self.ns),
                         lambda: self.core(c).delete_namespace(self.ns)):
                try:
                    call()
                except ApiException:
                    pass
        try:
            self.core("hub").delete_namespace(self.home_ns)
        except ApiException:
            pass

    def args(self, remote="east", **kw):
        lab = self.lab
        out = {"cluster_name": "hub", "kubeconfig": lab.kubeconfig("hub"), "context": "hub",
               "namespace": self.home_ns,
               "remote": {"cluster_name": remote, "kubeconfig": lab.kubeconfig(remote), "context": remote},
               "service_account": "kiali", "service_account_namespace": self.ns}
        out.update(kw)
        return out

    def secret(self, name):
        try:
            return self.core("hub").read_namespaced_secret(name, self.home_ns)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def kubeconfig(self, name, key):
        """The stored kubeconfig, read from the Secret on hub only."""
        return yaml.safe_load(base64.b64decode(self.secret(name).data[key]).decode())

    def marks(self):
        return {c: self.lab.audit(c).mark() for c in ["hub"] + self.remotes}

    def events(self, marks, cluster):
        """Our admin's requests since the mark that touched this test's namespaces."""
        mine = {self.home_ns} if cluster == "hub" else {self.ns}
        evs = self.lab.audit(cluster).since(marks[cluster])
        return [e for e in evs if audit.user(e) == ADMIN and e.get("objectRef", {}).get("namespace") in mine]


def run(args, check=False, diff=False):
    """The module's result (labkit.run_module)."""
    return run_module("remote_secret", args, check=check, diff=diff)[0]


def ok(result):
    assert not result.get("failed"), result.get("msg")
    return result


def warnings(result):
    """Warning texts of a raw module result (ansible-core 2.19 sends them as structured events)."""
    return [w if isinstance(w, str) else w.get("event", {}).get("msg", "") for w in result.get("warnings") or []]


def token_requests(events):
    return [e for e in events if e["verb"] == "create" and e["objectRef"].get("resource") == "serviceaccounts"
            and e["objectRef"].get("subresource") == "token"]


def writes(events):
    return audit.mutating(events)


@pytest.fixture
def env(lab):
    e = Env(lab)
    yield e
    e.cleanup()


@pytest.fixture
def env3(lab):
    e = Env(lab, remotes=("east", "west", "mgmt"))
    yield e
    e.cleanup()


# ------------------------------------------------------------------------------------------------------------
def test_bound_first_run_works_and_rerun_sends_no_write(env):
    marks = env.marks()
    first = ok(run(env.args()))
    assert first["changed"] is True
    assert first["token"]["minted"] is True and first["token"]["rotated"] is False
    assert first["token"]["mode"] == "bound" and first["ca_source"] == "kubeconfig-data"
    assert first["secret"] == {"name": PER % "east", "namespace": env.home_ns, "key": "east"}
    assert first["server"] == env.lab.server("east")
    hub_events, east_events = env.events(marks, "hub"), env.events(marks, "east")
    assert len(token_requests(east_events)) == 1
    assert [(e["verb"], e["objectRef"]["resource"]) for e in writes(hub_events)] == [("patch", "secrets")]
    assert writes(east_events) == token_requests(east_events)

    # Only the Secret on hub: its markers, and a kubeconfig that reaches east as the service account.
    secret = env.secret(PER % "east")
    assert secret.metadata.labels == {"kiali.io/multiCluster": "true", "app.kubernetes.io/managed-by": "kialiops",
                                      "kialiops.io/home": "hub"}
    notes = secret.metadata.annotations
    assert notes["kiali.io/cluster"] == "east" and notes["kialiops.io/token-mode"] == "bound"
    assert notes["kialiops.io/token-expires"] == first["token"]["expires"]
    assert notes["kialiops.io/token-issued"] == first["token"]["issued"]
    assert list(secret.data) == ["east"] and secret.type == "Opaque"
    kubeconfig = env.kubeconfig(PER % "east", "east")
    assert kubeconfig["current-context"] == "east"
    assert [c["name"] for c in kubeconfig["clusters"]] == [u["name"] for u in kubeconfig["users"]] == ["east"]
    token = kubeconfig["users"][0]["user"]["token"]
    assert first["token"]["fingerprint"] == fingerprint(token)
    spoke = kubeconfig_client(kubeconfig)
    assert env.ns in [n.metadata.name for n in client.CoreV1Api(spoke).list_namespace().items]
    assert whoami(spoke) == "system:serviceaccount:%s:kiali" % env.ns
    with pytest.raises(ApiException) as denied:  # view only
        client.CoreV1Api(spoke).create_namespaced_config_map(env.ns, {"metadata": {"name": "x"}})
    assert denied.value.status == 403

    marks = env.marks()
    second = ok(run(env.args(), diff=True))
    assert second["changed"] is False and second["token"]["minted"] is False
    assert second["token"]["fingerprint"] == first["token"]["fingerprint"]
    assert second["diff"] == {"before": {}, "after": {}}
    for cluster in ("hub", "east"):
        assert writes(env.events(marks, cluster)) == [], cluster
    assert token_requests(env.lab.audit("east").since(marks["east"])) == []
    # a check-mode rerun also finds nothing to do
    assert ok(run(env.args(), check=True))["changed"] is False


def test_check_mode_writes_nothing_and_mints_nothing(env):
    marks = env.marks()
    result = ok(run(env.args(), check=True, diff=True))
    assert result["changed"] is True and result["would_mint"] is True
    assert result["token"]["minted"] is False and result["token"]["fingerprint"] is None
    assert env.secret(PER % "east") is None
    hub_events, east_events = env.events(marks, "hub"), env.events(marks, "east")
    assert token_requests(east_events) == []
    hub_writes = writes(hub_events)
    assert hub_writes and all("dryRun=All" in e["requestURI"] for e in hub_writes)
    after = result["diff"]["after"]["hub: Secret %s/%s" % (env.home_ns, PER % "east")]
    assert result["diff"]["before"]["hub: Secret %s/%s" % (env.home_ns, PER % "east")] is None
    assert after["data"]["east"].startswith("sha256:") and list(after["data"]) == ["east"]

    # legacy: the token Secret on the remote is only dry-run created, so there is no token to wait for
    marks = env.marks()
    legacy = ok(run(env.args(token_mode="legacy"), check=True))
    assert legacy["changed"] is True and legacy["would_mint"] is True and legacy["token"]["minted"] is False
    east_writes = writes(env.events(marks, "east"))
    assert east_writes and all("dryRun=All" in e["requestURI"] for e in east_writes)
    assert all("dryRun=All" in e["requestURI"] for e in writes(env.events(marks, "hub")))
    with pytest.raises(ApiException):
        env.core("east").read_namespaced_secret("kiali-kialiops-token", env.ns)
    assert env.secret(PER % "east") is None


def test_rotation_after_percent_then_reuse_and_force(env):
    args = env.args(token_ttl=600, rotate_after_percent=2)  # rotate 12 s after issue
    first = ok(run(args))
    assert first["token"]["minted"] is True
    kubeconfig = env.kubeconfig(PER % "east", "east")
    token = kubeconfig["users"][0]["user"]["token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
    assert claims["exp"] - claims["iat"] == 600
    time.sleep(13)
    marks = env.marks()
    second = ok(run(args))
    assert second["changed"] is True and second["token"]["minted"] is True and second["token"]["rotated"] is True
    assert second["token"]["fingerprint"] != first["token"]["fingerprint"]
    assert "lifetime is used" in second["token"]["reason"]
    assert len(token_requests(env.events(marks, "east"))) == 1
    marks = env.marks()
    third = ok(run(args))
    assert third["changed"] is False and third["token"]["minted"] is False
    assert token_requests(env.events(marks, "east")) == []
    forced = ok(run(dict(args, force_rotate=True)))
    assert forced["token"]["minted"] is True and forced["token"]["fingerprint"] != second["token"]["fingerprint"]
    # a changed ttl mints too, and the stored kubeconfig keeps working
    longer = ok(run(dict(args, token_ttl=1200)))
    assert longer["token"]["minted"] is True and "token_ttl changed" in longer["token"]["reason"]
    assert whoami(kubeconfig_client(env.kubeconfig(PER % "east", "east"))) == "system:serviceaccount:%s:kiali" % env.ns


def test_legacy_token_filled_by_the_controller_and_stored(env):
    marks = env.marks()
    first = ok(run(env.args(token_mode="legacy")))
    assert first["changed"] is True and first["token"]["minted"] is True and first["token"]["expires"] is None
    token_secret = env.core("east").read_namespaced_secret("kiali-kialiops-token", env.ns)
    assert token_secret.type == "kubernetes.io/service-account-token"
    assert token_secret.metadata.annotations["kubernetes.io/service-account.name"] == "kiali"
    assert token_secret.metadata.labels["kialiops.io/home"] == "hub"
    assert token_secret.metadata.labels["app.kubernetes.io/managed-by"] == "kialiops"
    legacy = base64.b64decode(token_secret.data["token"]).decode()
    kubeconfig = env.kubeconfig(PER % "east", "east")
    assert kubeconfig["users"][0]["user"]["token"] == legacy
    assert whoami(kubeconfig_client(kubeconfig)) == "system:serviceaccount:%s:kiali" % env.ns
    assert token_requests(env.events(marks, "east")) == []
    notes = env.secret(PER % "east").metadata.annotations
    assert notes["kialiops.io/token-mode"] == "legacy" and "kialiops.io/token-expires" not in notes

    marks = env.marks()
    again = ok(run(env.args(token_mode="legacy")))
    assert again["changed"] is False and again["token"]["minted"] is False
    for cluster in ("hub", "east"):
        assert writes(env.events(marks, cluster)) == [], cluster

    # switching to bound mints; the legacy annotations go, the bound ones come
    bound = ok(run(env.args()))
    assert bound["token"]["minted"] is True and "of mode legacy, bound is wanted" in bound["token"]["reason"]
    notes = env.secret(PER % "east").metadata.annotations
    assert notes["kialiops.io/token-mode"] == "bound" and notes["kialiops.io/token-expires"] == bound["token"]["expires"]


def test_single_secret_concurrent_runs_keep_every_key(env3):
    results = {}

    def one(cluster):
        results[cluster] = run(env3.args(cluster, secret_mode="single"))

    threads = [threading.Thread(target=one, args=(c,)) for c in env3.remotes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for cluster in env3.remotes:
        assert ok(results[cluster])["changed"] is True, cluster
    secret = env3.secret(SINGLE)
    assert sorted(secret.data) == sorted(env3.remotes)
    assert secret.metadata.labels["kiali.io/kiali-multi-cluster-secret"] == "true"
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "kialiops"
    managers = {m.manager for m in secret.metadata.managed_fields}
    assert {"kialiops-east", "kialiops-west", "kialiops-mgmt"} <= managers
    for cluster in env3.remotes:
        kubeconfig = env3.kubeconfig(SINGLE, cluster)
        assert kubeconfig["current-context"] == cluster
        assert whoami(kubeconfig_client(kubeconfig)) == "system:serviceaccount:%s:kiali" % env3.ns
        assert secret.metadata.annotations["kialiops.io/token-mode.%s" % cluster] == "bound"
    assert env3.secret(PER % "east") is None

    marks = env3.marks()
    for cluster in env3.remotes:
        assert ok(run(env3.args(cluster, secret_mode="single")))["changed"] is False
    for cluster in ["hub"] + env3.remotes:
        assert writes(env3.events(marks, cluster)) == [], cluster

    # removing one cluster takes only its key and annotations
    gone = ok(run(env3.args("west", secret_mode="single", state="absent")))
    assert gone["changed"] is True and gone["removed"] == ["single"]
    secret = env3.secret(SINGLE)
    assert sorted(secret.data) == ["east", "mgmt"]
    assert not [k for k in secret.metadata.annotations if k.endswith(".west")]
    assert ok(run(env3.args("west", secret_mode="single", state="absent")))["changed"] is False


def test_switch_per_cluster_to_single_and_back_migrates_without_minting(env):
    ok(run(env.args()))
    before = env.kubeconfig(PER % "east", "east")
    single = ok(run(env.args(secret_mode="single"), diff=True))
    assert single["changed"] is True and single["token"]["minted"] is False
    assert env.secret(PER % "east") is None
    assert env.kubeconfig(SINGLE, "east") == before
    diff_keys = sorted(single["diff"]["after"])
    assert diff_keys == sorted("hub: Secret %s/%s" % (env.home_ns, n) for n in (PER % "east", SINGLE))
    assert single["diff"]["after"]["hub: Secret %s/%s" % (env.home_ns, PER % "east")] is None
    assert ok(run(env.args(secret_mode="single")))["changed"] is False

    back = ok(run(env.args()))
    assert back["changed"] is True and back["token"]["minted"] is False
    assert env.kubeconfig(PER % "east", "east") == before
    assert env.secret(SINGLE) is None  # its only key moved out, so the emptied Secret went too

    gone = ok(run(env.args(state="absent")))
    assert gone["changed"] is True and gone["removed"] == ["per_cluster"]
    assert env.secret(PER % "east") is None
    assert ok(run(env.args(state="absent")))["changed"] is False


def test_api_url_tls_server_name_and_ca_from_file_and_configmap(env, tmp_path):
    lab = env.lab
    admin = yaml.safe_load(Path(lab.kubeconfig("east")).read_text())
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.crt").write_bytes(lab.ca_pem("east"))
    entry = admin["clusters"][0]["cluster"]
    del entry["certificate-authority-data"]
    entry["certificate-authority"] = "pki/ca.crt"  # relative to the kubeconfig file
    (tmp_path / "east.kubeconfig").write_text(yaml.safe_dump(admin))
    args = env.args(api_url=lab.server("east"), tls_server_name="kubernetes.default.svc")
    args["remote"]["kubeconfig"] = str(tmp_path / "east.kubeconfig")
    result = ok(run(args))
    assert result["ca_source"] == "kubeconfig-file" and result["server"] == lab.server("east")
    kubeconfig = env.kubeconfig(PER % "east", "east")
    assert kubeconfig["clusters"][0]["cluster"]["tls-server-name"] == "kubernetes.default.svc"
    assert whoami(kubeconfig_client(kubeconfig)) == "system:serviceaccount:%s:kiali" % env.ns

    # no CA anywhere in the admin kubeconfig: kube-root-ca.crt of the SA's namespace
    del entry["certificate-authority"]
    entry["insecure-skip-tls-verify"] = True
    (tmp_path / "east.kubeconfig").write_text(yaml.safe_dump(admin))
    args = env.args()
    args["remote"].update(kubeconfig=str(tmp_path / "east.kubeconfig"), allow_insecure=True)
    result = ok(run(args))
    assert result["ca_source"] == "kube-root-ca.crt" and result["token"]["minted"] is True
    cm = env.core("east").read_namespaced_config_map("kube-root-ca.crt", env.ns)
    kubeconfig = env.kubeconfig(PER % "east", "east")
    assert base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode() == \
        cm.data["ca.crt"]
    assert whoami(kubeconfig_client(kubeconfig)) == "system:serviceaccount:%s:kiali" % env.ns


def test_exec_mode_stores_the_plugin_and_no_token(env):
    exec_config = {"apiVersion": "client.authentication.k8s.io/v1", "command": "kiali-token",
                   "args": ["--cluster", "east"]}
    marks = env.marks()
    result = ok(run(env.args(token_mode="exec", exec_config=exec_config, exec_provider_enabled=True)))
    assert result["changed"] is True and result["kiali_cr_requires"] == ["clustering.enable_exec_provider: true"]
    assert result["token"]["fingerprint"] is None and result["token"]["minted"] is False
    user = env.kubeconfig(PER % "east", "east")["users"][0]["user"]
    assert user == {"exec": dict(exec_config, interactiveMode="Never")}
    assert token_requests(env.events(marks, "east")) == []
    assert ok(run(env.args(token_mode="exec", exec_config=exec_config, exec_provider_enabled=True)))[
        "changed"] is False


def test_no_ca_fails_unless_insecure_opt_in_which_warns(env, tmp_path):
    # exec mode needs no service account; its namespace here does not exist, so there is no kube-root-ca.crt
    admin = yaml.safe_load(Path(env.lab.kubeconfig("east")).read_text())
    entry = admin["clusters"][0]["cluster"]
    del entry["certificate-authority-data"]
    entry["insecure-skip-tls-verify"] = True
    (tmp_path / "east.kubeconfig").write_text(yaml.safe_dump(admin))
    exec_config = {"apiVersion": "client.authentication.k8s.io/v1", "command": "kiali-token"}
    args = env.args(token_mode="exec", exec_config=exec_config, exec_provider_enabled=True,
                    service_account_namespace="nowhere-" + env.sfx)
    args["remote"].update(kubeconfig=str(tmp_path / "east.kubeconfig"), allow_insecure=True)
    marks = env.marks()
    refused = run(args)
    assert refused["failed"] is True
    assert refused["msg"].startswith("cluster east: no CA found for the remote API server")
    assert "allow_insecure_skip_tls=true" in refused["msg"]
    assert writes(env.events(marks, "hub")) == [] and env.secret(PER % "east") is None

    accepted = ok(run(dict(args, allow_insecure_skip_tls=True)))
    assert accepted["ca_source"] == "insecure-skip-tls-verify"
    assert any("insecure-skip-tls-verify: true" in w for w in warnings(accepted)), accepted["warnings"]
    cluster = env.kubeconfig(PER % "east", "east")["clusters"][0]["cluster"]
    assert cluster == {"server": env.lab.server("east"), "insecure-skip-tls-verify": True}


def test_failures_name_the_cluster_and_write_nothing(env):
    marks = env.marks()
    missing = run(env.args(service_account="nobody"))
    assert missing["failed"] is True
    assert missing["msg"].startswith("cluster east: ServiceAccount %s/nobody: ServiceAccount %s/nobody does not exist"
                                     % (env.ns, env.ns))
    assert "Run kialiops.multicluster.remote_access for cluster east first" in missing["msg"]

    stale = run(dict(env.args(), remote={"cluster_name": "east", "host": env.lab.server("east"),
                                         "api_key": "not-a-valid-token",
                                         "ca_cert": str(Path(env.lab.clusters["east"]["dir"]) / "pki" / "ca.crt")}))
    assert stale["failed"] is True
    assert stale["msg"].startswith("cluster east: ") and stale["status"] == 401
    assert "the API server rejected the credential" in stale["msg"]
    assert "not-a-valid-token" not in json.dumps(stale)

    # A home credential that may only read Secrets: both clusters asked, nothing minted, nothing written.
    hub = env.core("hub")
    hub.create_namespaced_service_account(env.home_ns, {"metadata": {"name": "reader"}})
    rbac = client.RbacAuthorizationV1Api(env.api["hub"])
    rbac.create_namespaced_role(env.home_ns, {"metadata": {"name": "reader"}, "rules": [
        {"apiGroups": [""], "resources": ["secrets", "namespaces"], "verbs": ["get"]}]})
    rbac.create_namespaced_role_binding(env.home_ns, {
        "metadata": {"name": "reader"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                    "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": env.home_ns}]})
    reader = hub.create_namespaced_service_account_token("reader", env.home_ns,
                                                         {"spec": {"expirationSeconds": 600}}).status.token
    args = env.args()
    del args["kubeconfig"], args["context"]
    args.update(host=env.lab.server("hub"), api_key=reader,
                ca_cert=str(Path(env.lab.clusters["hub"]["dir"]) / "pki" / "ca.crt"))
    denied = run(args)
    assert denied["failed"] is True
    assert "cluster hub: cannot create secrets in namespace %s" % env.home_ns in denied["msg"]
    assert "cluster hub: cannot patch secrets in namespace %s" % env.home_ns in denied["msg"]
    assert "Nothing was written" in denied["msg"]
    assert reader not in json.dumps(denied)

    assert writes(env.events(marks, "east")) == []
    assert [e for e in writes(env.events(marks, "hub")) if e["objectRef"]["resource"] == "secrets"] == []
    assert token_requests(env.events(marks, "east")) == []
    assert env.secret(PER % "east") is None

    # A Secret of that name that kialiops did not create (kiali-prepare-remote-cluster.sh, by hand) is not taken over.
    hub.create_namespaced_secret(env.home_ns, {"metadata": {"name": PER % "east", "labels": {
        "kiali.io/multiCluster": "true"}}, "stringData": {"east": "by hand"}})
    marks = env.marks()
    foreign = run(env.args())
    assert foreign["failed"] is True
    assert foreign["msg"].startswith("cluster hub: Secret %s/%s: it exists but was not created by kialiops" % (
        env.home_ns, PER % "east"))
    assert token_requests(env.events(marks, "east")) == [] and writes(env.events(marks, "hub")) == []
    assert env.secret(PER % "east").data["east"] == base64.b64encode(b"by hand").decode()


def test_token_never_printed_at_vvvv(env, tmp_path):
    play = tmp_path / "play.yml"
    args = env.args()
    play.write_text(yaml.safe_dump([{
        "name": "remote_secret at -vvvv", "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "Store", "kialiops.multicluster.remote_secret": args, "register": "stored"},
            {"name": "Rotate", "kialiops.multicluster.remote_secret": dict(args, force_rotate=True),
             "register": "rotated"},
            {"name": "Show the results", "ansible.builtin.debug": {"var": "item"},
             "loop": ["{{ stored }}", "{{ rotated }}"]},
        ]}]))
    done = ansible_playbook("localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                            "-vvvv", "--diff", playbook=play, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "sha256:" in output  # fingerprints are shown
    secret = env.secret(PER % "east")
    raw = base64.b64decode(secret.data["east"]).decode()
    token = yaml.safe_load(raw)["users"][0]["user"]["token"]
    for secret_text in (token, base64.b64encode(token.encode()).decode(), secret.data["east"], raw.strip(),
                        token.split(".")[2]):
        assert secret_text not in output


@contextlib.contextmanager
def http_front(lab, cluster):
    """A plain-http URL in front of ``cluster``'s real API server: each request is passed on over TLS (lab CA)
    with the lab's admin client certificate, the answer passed back. What a kubeconfig naming an http:// server
    talks to (kube-apiserver itself serves only https)."""
    pki = Path(lab.clusters[cluster]["dir"]) / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    upstream = urlsplit(lab.server(cluster))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def relay(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn = http.client.HTTPSConnection(upstream.hostname, upstream.port, context=context, timeout=30)
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = relay

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_http_server_fails_cleanly_before_minting(env, tmp_path):
    """Fact 5 of issue 14: with allow_insecure_skip_tls and a remote reached over http://, the module minted a token
    and then died in a traceback (build_kubeconfig's ValueError). Now it fails first, naming the cluster and the
    fix, and the remote's audit log shows no TokenRequest and no write; the home has no Secret."""
    with http_front(env.lab, "east") as url:
        kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "east",
                      "clusters": [{"name": "east", "cluster": {"server": url}}],
                      "users": [{"name": "east", "user": {}}],  # the front authenticates as the lab admin
                      "contexts": [{"name": "east", "context": {"cluster": "east", "user": "east"}}]}
        (tmp_path / "east-http.kubeconfig").write_text(yaml.safe_dump(kubeconfig))
        args = env.args(allow_insecure_skip_tls=True)
        args["remote"].update(kubeconfig=str(tmp_path / "east-http.kubeconfig"), allow_insecure=True)
        # the front really reaches east (so the old code got as far as minting)
        probe = client.Configuration()
        probe.host, probe.proxy = url, None
        assert client.CoreV1Api(client.ApiClient(probe)).read_namespaced_service_account("kiali", env.ns)
        marks = env.marks()
        result = run(args)
    assert result.get("failed") is True, result
    assert "Traceback" not in json.dumps(result) and "exception" not in result
    assert result["msg"].startswith("cluster east: the remote connection's server (no api_url given): the API URL "
                                    "'%s' is not an https:// URL" % url), result["msg"]
    assert "allow_insecure_skip_tls only skips the certificate check" in result["msg"]
    assert "Set api_url (the inventory's kialiops_api_url) to the https:// URL" in result["msg"]
    assert "Nothing was minted or written" in result["msg"]
    # The probe above went through the front, so east's audit log would show the module's requests: there are none
    # (its clients connect at their first request, and the server's URL is refused before any).
    remote = env.lab.audit("east").since(marks["east"])
    assert [e["requestURI"] for e in remote if audit.user(e) == ADMIN] == [], "the module sent requests to east"
    assert writes(env.events(marks, "hub")) == [] and env.secret(PER % "east") is None
