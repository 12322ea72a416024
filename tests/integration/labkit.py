"""Test helpers: API clients per lab cluster, tokens, audit marks, and the one way each of these is done in the
tests (tests/integration, tests/reliability, and the unit tests that run module files):

- ``ansible_playbook``: run a playbook (waited for, or in the background);
- ``run_module``: run a module file as Ansible does (a process reading an arguments file);
- ``stored_kubeconfig`` / ``kubeconfig_client``: the kubeconfig kialiops stored for a remote on Kiali's home, and a
  client that uses it;
- ``wait_refused``: wait until a revoked token is refused (the API server's 10 s authentication cache);
- ``free_port``: a loopback port nothing listens on."""
from __future__ import annotations

import base64
import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "lab"))
import audit  # noqa: E402  (tools/lab/audit.py)
import lab as labtool  # noqa: E402,F401  # pylint: disable=unused-import


class Lab:
    def __init__(self, lab_dir: Path):
        self.dir = Path(lab_dir)
        self.state = json.loads((self.dir / "state.json").read_text())
        self.clusters = self.state["clusters"]

    @property
    def inventory(self) -> Path:
        """The lab's inventory: hub, spokes east and west, mgmt spare."""
        return self.dir / "inventory.yml"

    def kubeconfig(self, cluster: str) -> str:
        return self.clusters[cluster]["kubeconfig"]

    def server(self, cluster: str) -> str:
        return self.clusters[cluster]["server"]

    def ca_pem(self, cluster: str) -> bytes:
        return (Path(self.clusters[cluster]["dir"]) / "pki" / "ca.crt").read_bytes()

    def admin(self, cluster: str) -> client.ApiClient:
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig(cluster), client_configuration=cfg)
        cfg.proxy = None
        return client.ApiClient(cfg)

    def with_token(self, cluster: str, token: str, ca_cluster: str | None = None) -> client.ApiClient:
        """A client that presents a bearer token to `cluster` (CA of ca_cluster, default the same)."""
        cfg = client.Configuration()
        cfg.host = self.server(cluster)
        cfg.api_key = {"authorization": "Bearer " + token}
        ca = tempfile.NamedTemporaryFile(prefix="lab-ca-", suffix=".crt", delete=False)
        ca.write(self.ca_pem(ca_cluster or cluster))
        ca.close()
        cfg.ssl_ca_cert = ca.name
        cfg.proxy = None
        return client.ApiClient(cfg)

    def audit(self, cluster: str) -> audit.AuditLog:
        return audit.AuditLog(self.clusters[cluster]["audit_log"])

    def marks(self) -> dict[str, int]:
        return {c: self.audit(c).mark() for c in self.clusters}


@contextlib.contextmanager
def session_lab():
    """The lab of a test session (tests/integration and tests/reliability): a healthy lab at LAB_DIR is reused,
    otherwise one is started here and stopped when the session ends."""
    lab_dir = Path(os.environ.get("LAB_DIR") or REPO / ".lab")
    os.environ["LAB_DIR"] = str(lab_dir)
    started = False
    healthy = labtool.status()["healthy"]
    wanted = str(labtool.shared_crds()) if labtool.shared_crds() else None
    if healthy and json.loads((lab_dir / "state.json").read_text()).get("shared_crds") != wanted:
        # the lab has other CRDs installed than this run asks for (LAB_SHARED_CRDS, ../shared/crds): start it anew
        print("lab: restarting the lab at %s with %s" % (lab_dir, wanted or "the project's own CRD fixtures"))
        healthy = False
    if not healthy:
        labtool.up()
        started = True
    try:
        the_lab = Lab(lab_dir)
        ips = sorted({c["ip"] for c in the_lab.clusters.values()})
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(ips + ["localhost"])
        yield the_lab
    finally:
        if started:
            labtool.down()


def collections_root() -> str:
    """A collections path holding this checkout as kialiops.multicluster (``.collections`` made by ``make venv``, else
    a link in a temporary directory), put on ``sys.path`` so that tests can import the collection's Python code."""
    linked = REPO / ".collections"
    if (linked / "ansible_collections" / "kialiops" / "multicluster" / "galaxy.yml").is_file():
        root = str(linked)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="kialiops-it-"))
        atexit.register(shutil.rmtree, scratch, True)
        (scratch / "ansible_collections" / "kialiops").mkdir(parents=True)
        os.symlink(REPO, scratch / "ansible_collections" / "kialiops" / "multicluster")
        root = str(scratch)
    if root not in sys.path:
        sys.path.insert(0, root)
    return root


def remove_remote_access(lab, clusters, home: str = "hub") -> None:
    """Teardown: what remote_access wrote on ``clusters`` for Kiali's ``home`` (state=absent), errors ignored."""
    for c in clusters:
        try:
            run_module("remote_access", dict(cluster_name=c, kubeconfig=lab.kubeconfig(c), home_cluster=home,
                                             state="absent"))
        except AssertionError:
            pass


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def whoami(api: client.ApiClient) -> str:
    r = client.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                    "kind": "SelfSubjectReview"})
    return r.status.user_info.username


def wait_refused(api: client.ApiClient, within: float = 30.0) -> None:
    """Wait until the API server refuses ``api``'s token (401). A revoked token is not refused at once: kube-apiserver
    caches a successful token authentication for 10 s (``TokenSuccessCacheTTL``, k8s.io/kubernetes
    pkg/kubeapiserver/options/authentication.go, not a flag), so a token used in the 10 s before its Secret was
    deleted still authenticates until that entry expires."""
    deadline = time.monotonic() + within
    while True:
        try:
            name = whoami(api)
        except client.ApiException as e:
            assert e.status == 401, e.status
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s still authenticates %.0f s after its token was revoked" % (name, within))
        time.sleep(0.5)


def request_token(api: client.ApiClient, ns: str, sa: str, seconds: int = 600) -> str:
    r = client.CoreV1Api(api).create_namespaced_service_account_token(
        sa, ns, {"spec": {"expirationSeconds": seconds}})
    return r.status.token


def b64d(s: str) -> str:
    return base64.b64decode(s).decode()


def run_lab(args: list[str], env: dict | None = None, check: bool = True, timeout: int = 600):
    return subprocess.run([sys.executable, str(REPO / "tools" / "lab" / "lab.py")] + args,
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          check=check, timeout=timeout)


def ansible_playbook(inventory, *args: str, playbook="site.yml", extra: dict | None = None, env: dict | None = None,
                     timeout: int = 900, background: bool = False):
    """Run playbooks/<playbook> (or a path) on ``inventory`` with the project's ansible.cfg, no colour.

    ``extra``: ``-e key=value`` per item (values as strings, as on a command line), before ``args``; ``env``: more
    environment variables. Returns the CompletedProcess, or with ``background=True`` the running Popen (text
    pipes; ``communicate()`` it)."""
    path = Path(playbook) if Path(playbook).is_absolute() else REPO / "playbooks" / playbook
    cmd = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory)]
    for key, value in (extra or {}).items():
        cmd += ["-e", "%s=%s" % (key, value)]
    cmd += [*args, str(path)]
    environment = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_NOCOLOR="1", **(env or {}))
    if background:
        return subprocess.Popen(cmd, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout,
                          check=False)


def load_yaml(p) -> dict:
    return yaml.safe_load(Path(p).read_text())


def run_module(module, args: dict, check: bool = False, diff: bool = False, verbosity: int = 0,
               env: dict | None = None, timeout: int = 300):
    """Run a module file as Ansible does (a process reading an arguments file): ``module`` is the name of
    plugins/modules/<name>.py or the imported module. ``env``: more environment variables.

    Returns ``(result dict, everything the process printed)``."""
    path = Path(module.__file__) if hasattr(module, "__file__") else REPO / "plugins" / "modules" / (module + ".py")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([collections_root()] + sys.path), **(env or {}))
    with tempfile.TemporaryDirectory(prefix="kialiops-module-") as tmp:
        args_file = Path(tmp) / "args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
            args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_verbosity=verbosity)}))
        done = subprocess.run([sys.executable, str(path), str(args_file)], capture_output=True, text=True,
                              env=environment, timeout=timeout, check=False)
    out = done.stdout + done.stderr
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]), out
    except (ValueError, IndexError):
        raise AssertionError("module %s printed no JSON result:\n%s" % (path.stem, out[-4000:])) from None


def free_port() -> int:
    """A loopback port nothing listens on (bound once and released): reaching it is 'connection refused'."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored_kubeconfig(lab, namespace: str, cluster: str, home: str = "hub") -> dict | None:
    """The kubeconfig kialiops stored for ``cluster`` on Kiali's ``home`` (the per-cluster secret in ``namespace``,
    whose only key is the cluster's name), or None when there is no such secret."""
    try:
        secret = client.CoreV1Api(lab.admin(home)).read_namespaced_secret(
            "kiali-remote-cluster-secret-" + cluster, namespace)
    except client.ApiException as e:
        assert e.status == 404, e
        return None
    assert list(secret.data) == [cluster], sorted(secret.data)
    return yaml.safe_load(base64.b64decode(secret.data[cluster]))


def kubeconfig_client(kubeconfig: dict) -> client.ApiClient:
    """An API client with exactly ``kubeconfig`` (its current context), no proxy."""
    cfg = client.Configuration()
    config.load_kube_config_from_dict(kubeconfig, client_configuration=cfg)
    cfg.proxy = None
    return client.ApiClient(cfg)


def _get(api: client.ApiClient, path: str, **query):
    r = api.call_api(path, "GET", query_params=list(query.items()), _preload_content=False,
                     _return_http_data_only=True)
    return json.loads(r.data)


def labelled_objects(api: client.ApiClient, selector: str) -> list[str]:
    """Every object of every listable kind the server serves that matches the label selector, as
    ``Kind namespace/name`` (discovery, so a kind nobody thought of is found too)."""
    paths = ["/api/v1"] + ["/apis/" + v["groupVersion"] for g in _get(api, "/apis")["groups"]
                           for v in g["versions"][:1]]
    found = []
    for path in paths:
        for r in _get(api, path)["resources"]:
            if "/" in r["name"] or "list" not in r.get("verbs", []):
                continue
            for item in _get(api, "%s/%s" % (path, r["name"]), labelSelector=selector).get("items") or []:
                meta = item["metadata"]
                found.append("%s %s%s" % (r["kind"], meta.get("namespace", "") + "/" if meta.get("namespace") else "",
                                          meta["name"]))
    return sorted(found)
