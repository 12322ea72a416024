#!/usr/bin/env python3
"""kialiops local lab: several real Kubernetes control planes (etcd, kube-apiserver,
kube-controller-manager) on loopback, no nodes. Design: docs/lab.md.

Commands: build | up | status [--json] | down | env
Environment: LAB_DIR (default <repo>/.lab), LAB_CLUSTERS (default hub,east,west,mgmt),
LAB_OPENSHIFT (clusters with the OpenShift flavour, default west), LAB_SINGLE_IP=1,
LAB_PORT_OFFSET (single-IP mode), LAB_SHARED_CRDS (default <repo>/../shared/crds; used when it exists), LAB_TIMEOUT (s, default 240),
LAB_OIDC_TRUST (clusters whose API server trusts the lab's OIDC issuer, default hub,east,mgmt).
Also: oidc-token <user> prints an ID token of the lab's OIDC issuer (tools/lab/oidc.py) for tests.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oidc  # noqa: E402  (tools/lab/oidc.py: the lab's OpenID Connect issuer)

REPO = HERE.parent.parent
FIXTURE_CRDS = REPO / "tests" / "fixtures" / "crds"
K8S_VERSION = os.environ.get("K8S_VERSION", "v1.36.3")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.16")

# What a real cluster of each profile has *before* kialiops runs (docs/lab.md, section 4).
UPSTREAM_CRDS = {
    "kiali": "kialis.kiali.io",
    "servicemonitor": "servicemonitors.monitoring.coreos.com",
    "podmonitor": "podmonitors.monitoring.coreos.com",
    "route": "routes.route.openshift.io",
    "mco": "multiclusterobservabilities.observability.open-cluster-management.io",
    "managedcluster": "managedclusters.cluster.open-cluster-management.io",
}
# OpenShift flavour: API groups used for detection and the OpenShift kinds kialiops writes.
OPENSHIFT_CRDS = [
    "oauthclients.oauth.openshift.io",
    "clusterversions.config.openshift.io",
    "ingresscontrollers.operator.openshift.io",
    "projects.project.openshift.io",
]
PROFILES = {
    # A real ACM hub is OpenShift: openshift-monitoring and the Route CRD (the observatorium-api Route) are there.
    # Platform detection still says kubernetes (route.openshift.io is not an OpenShift-only group).
    "hub": {"namespaces": ["istio-system", "open-cluster-management-observability", "openshift-monitoring"],
            "crds": ["kiali", "managedcluster", "mco", "route", "servicemonitor", "podmonitor"]},
    "spoke": {"namespaces": ["istio-system"], "crds": ["servicemonitor", "podmonitor"]},
    "openshift": {"namespaces": ["istio-system", "openshift-monitoring"],
                  "crds": ["kiali", "route", "servicemonitor", "podmonitor"]},
    "mgmt": {"namespaces": [], "crds": ["kiali"]},
}
ROLE_OF = {"hub": "hub", "mgmt": "lab_spare"}   # anything else is a spoke


# ---------------------------------------------------------------- configuration
def lab_dir() -> Path:
    return Path(os.environ.get("LAB_DIR") or REPO / ".lab").resolve()


def cache_dir() -> Path:
    base = os.environ.get("KIALIOPS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kialiops")
    return Path(base)


def shared_crds() -> Path | None:
    p = Path(os.environ.get("LAB_SHARED_CRDS") or REPO.parent / "shared" / "crds")
    return p if (p / "kialis.kiali.io.yaml").is_file() else None


def wanted_clusters() -> list[str]:
    names = [c.strip() for c in os.environ.get("LAB_CLUSTERS", "hub,east,west,mgmt").split(",") if c.strip()]
    if len(set(names)) != len(names):
        die("LAB_CLUSTERS has duplicate names: %s" % ",".join(names))
    for n in names:
        if not n.replace("-", "").isalnum() or n != n.lower() or n[0] == "-" or n[-1] == "-" or len(n) > 40:
            die("LAB_CLUSTERS: %r is not a DNS-1123 label" % n)
    return names


def oidc_trusting(names: list[str]) -> list[str]:
    """Clusters whose kube-apiserver trusts the lab's OIDC issuer (JWT authenticator); the others do not."""
    trust = {c.strip() for c in os.environ.get("LAB_OIDC_TRUST", "hub,east,mgmt").split(",") if c.strip()}
    return [n for n in names if n in trust]


def openshift_clusters() -> set[str]:
    return {c.strip() for c in os.environ.get("LAB_OPENSHIFT", "west").split(",") if c.strip()}


def profile_of(name: str) -> str:
    if name in openshift_clusters():
        return "openshift"
    return {"hub": "hub", "mgmt": "mgmt"}.get(name, "spoke")


def log(msg: str) -> None:
    print("[lab %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class LabError(Exception):
    pass


def die(msg: str) -> None:
    raise LabError(msg)


# ---------------------------------------------------------------- binaries
def build() -> tuple[Path, Path]:
    """Find or build the binaries (tools/lab/build.sh does the work and the caching)."""
    out = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, K8S_VERSION=K8S_VERSION, ETCD_VERSION=ETCD_VERSION))
    if out.returncode != 0:
        die("building the lab binaries failed (exit %d); see the messages above" % out.returncode)
    k8s, etcd = out.stdout.strip().splitlines()[-1].split()
    return Path(k8s), Path(etcd)


def cached_binaries() -> tuple[Path, Path] | None:
    k8s = cache_dir() / ("k8s-" + K8S_VERSION)
    etcd = cache_dir() / ("etcd-" + ETCD_VERSION)
    if (k8s / "STAMP").is_file() and (etcd / "STAMP").is_file():
        return k8s, etcd
    return None


# ---------------------------------------------------------------- addresses
def can_bind(ip: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def addresses(names: list[str]) -> dict[str, dict]:
    single = os.environ.get("LAB_SINGLE_IP") == "1" or not can_bind("127.0.0.11", 0)
    off = int(os.environ.get("LAB_PORT_OFFSET", "0"))   # lets two single-IP labs run side by side
    out = {}
    for i, name in enumerate(names, start=1):
        if single:
            out[name] = {"ip": "127.0.0.1", "etcd_client": 12379 + 10 * i + off, "etcd_peer": 12380 + 10 * i + off,
                         "apiserver": 16443 + i + off}
        else:
            out[name] = {"ip": "127.0.0.%d" % (10 + i), "etcd_client": 2379, "etcd_peer": 2380,
                         "apiserver": 6443}
    return out


def issuer_address() -> tuple[str, int]:
    """Where the lab's OIDC issuer listens: 127.0.0.1:15443+offset in single-IP mode, else 127.0.0.10:8443."""
    if os.environ.get("LAB_SINGLE_IP") == "1" or not can_bind("127.0.0.11", 0):
        return "127.0.0.1", 15443 + int(os.environ.get("LAB_PORT_OFFSET", "0"))
    return "127.0.0.10", 8443


# ---------------------------------------------------------------- PKI
def make_pki(cdir: Path, ip: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki = cdir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    nb, na = now - dt.timedelta(minutes=5), now + dt.timedelta(days=7)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(k, name):
        p = pki / name
        p.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        p.chmod(0o600)

    def write_cert(c, name):
        (pki / name).write_bytes(c.public_bytes(serialization.Encoding.PEM))

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kialiops-lab-%s-ca" % cdir.name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(nb).not_valid_after(na)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write_key(ca_key, "ca.key")
    write_cert(ca, "ca.crt")

    def leaf(name, cn, orgs=(), server=False, sans=()):
        k = key()
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        b = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca_name)
             .public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        write_cert(b.sign(ca_key, hashes.SHA256()), name + ".crt")
        write_key(k, name + ".key")

    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local"]
    ips = sorted({ip, "127.0.0.1", "10.0.0.1"})
    leaf("apiserver", "kube-apiserver", server=True,
         sans=[x509.IPAddress(ipaddress.ip_address(a)) for a in ips] + [x509.DNSName(d) for d in dns])
    leaf("admin", "kialiops-admin", orgs=("system:masters",))
    leaf("kcm", "system:kube-controller-manager")
    sa = key()
    write_key(sa, "sa.key")
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def b64file(p: Path) -> str:
    return base64.b64encode(p.read_bytes()).decode()


def kubeconfig(name: str, server: str, pki: Path, user: str, context: str | None = None) -> dict:
    context = context or name
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": b64file(pki / "ca.crt")}}],
        "users": [{"name": "%s-%s" % (name, user), "user": {
            "client-certificate-data": b64file(pki / (user + ".crt")),
            "client-key-data": b64file(pki / (user + ".key"))}}],
        "contexts": [{"name": context, "context": {"cluster": name, "user": "%s-%s" % (name, user)}}],
        "current-context": context,
    }


def write_private(p: Path, text: str) -> None:
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- {level: None, users: ["system:apiserver", "system:kube-controller-manager"]}
- {level: None, userGroups: ["system:serviceaccounts:kube-system"]}
- {level: None, nonResourceURLs: ["/readyz*", "/livez*", "/healthz*"]}
- {level: Metadata}
"""


# ---------------------------------------------------------------- processes
def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(p: dict) -> bool:
    st = proc_start_time(p["pid"])
    return st is not None and st == p["start"] and not _zombie(p["pid"])


def _zombie(pid: int) -> bool:
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# Soft memory limits: the Go GC works harder instead of letting each heap double (docs/lab.md, memory).
GO_MEMORY = {"etcd": "64MiB", "apiserver": "220MiB", "kcm": "64MiB"}


def spawn(cdir: Path, what: str, argv: list[str], state: dict, name: str) -> None:
    logs = cdir / "logs"
    logs.mkdir(exist_ok=True)
    out = open(logs / (what + ".log"), "ab")
    env = dict(os.environ, GOGC=os.environ.get("LAB_GOGC", "50"),
               GOMEMLIMIT=os.environ.get("LAB_GOMEMLIMIT_" + what.upper(), GO_MEMORY.get(what, "64MiB")))
    p = subprocess.Popen(argv, cwd=str(cdir), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=env)
    out.close()
    slot = state["oidc"] if name is None else state["clusters"][name]
    slot["procs"][what] = {"pid": p.pid, "pgid": p.pid, "start": proc_start_time(p.pid),
                                              "argv0": argv[0], "argv": list(argv)}
    save_state(state)


def save_state(state: dict) -> None:
    d = lab_dir()
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(d / "state.json")


def load_state() -> dict | None:
    try:
        return json.loads((lab_dir() / "state.json").read_text())
    except (OSError, ValueError):
        return None


def stop_group(p: dict, sig: int) -> None:
    if alive(p):
        try:
            os.killpg(p["pgid"], sig)
        except ProcessLookupError:
            pass


def orphan_pids() -> list[int]:
    """Processes whose cwd is inside this LAB_DIR (used when state.json is gone). Never by name."""
    d = str(lab_dir())
    out = []
    for e in Path("/proc").iterdir():
        if not e.name.isdigit() or int(e.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(e / "cwd")
        except OSError:
            continue
        if cwd == d or cwd.startswith(d + os.sep):
            out.append(int(e.name))
    return out


def down(quiet: bool = False) -> None:
    state = load_state()
    t0 = time.time()
    if state:
        order = ("kcm", "apiserver", "etcd")
        for what in order:
            _stop([c["procs"][what] for c in state["clusters"].values() if what in c.get("procs", {})])
        _stop(list((state.get("oidc") or {}).get("procs", {}).values()))
    pids = orphan_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and any(Path("/proc/%d" % p).exists() and not _zombie(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and any(Path("/proc/%d" % p).exists() and not _zombie(p) for p in pids):
        time.sleep(0.05)
    # run state goes, logs stay
    d = lab_dir()
    if d.is_dir():
        for c in d.iterdir():
            if c.is_dir():
                for sub in ("etcd", "pki"):
                    _rmtree(c / sub)
                for f in list(c.glob("*.kubeconfig")) + ([f for f in c.iterdir() if f.is_file()]
                                                         if c.name == "oidc" else []):
                    f.unlink()
        for f in ["state.json", "kubeconfig", "inventory.yml", "inventory-external.yml"] + \
                [p.name for p in d.glob("*.kubeconfig")]:
            try:
                (d / f).unlink()
            except FileNotFoundError:
                pass
    if not quiet:
        log("down in %.1fs" % (time.time() - t0))


def _stop(procs: list[dict]) -> None:
    """SIGTERM, then SIGKILL after 10 s; returns when every process of the list is gone."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        for p in procs:
            stop_group(p, sig)
        deadline = time.time() + wait
        while time.time() < deadline and any(alive(p) for p in procs):
            time.sleep(0.05)


def apiserver(name: str, action: str) -> None:
    """Stop or start one cluster's kube-apiserver (fault tests: an API server that goes away and comes back).
    etcd keeps the data, so a started API server serves the same cluster; its controller-manager reconnects."""
    state = load_state() or die("no lab running in %s" % lab_dir())
    c = state["clusters"].get(name) or die("no cluster %s in this lab" % name)
    p = c["procs"]["apiserver"]
    if action == "stop":
        _stop([p])
        log("kube-apiserver of %s stopped" % name)
        return
    if alive(p):
        log("kube-apiserver of %s is running" % name)
        return
    spawn(Path(c["dir"]), "apiserver", p["argv"], state, name)
    ctx = admin_ssl(Path(c["dir"]) / "pki")
    wait_for("kube-apiserver of %s" % name, lambda: (
        http_get("https://%s:%d/readyz" % (c["ip"], c["apiserver"]), ctx)[0] == 200, "readyz"),
        time.time() + float(os.environ.get("LAB_TIMEOUT", "240")), 0.25)
    log("kube-apiserver of %s started" % name)


def _rmtree(p: Path) -> None:
    import shutil
    shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- HTTP probes
def admin_ssl(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def http_get(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 3) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, urllib.error.URLError) as e:
        return 0, str(e)


def wait_for(what: str, check, deadline: float, interval: float = 0.25):
    last = None
    while time.time() < deadline:
        try:
            ok, last = check()
        except Exception as e:  # noqa: BLE001 - keep polling, report the last reason
            ok, last = False, repr(e)
        if ok:
            return
        time.sleep(interval)
    die("timed out waiting for %s (last: %s)" % (what, last))


# ---------------------------------------------------------------- bootstrap
def api_client(kubeconfig_path: Path):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig_path), client_configuration=cfg)
    cfg.proxy = None
    return client.ApiClient(cfg)


def crd_docs(profile: str) -> list[dict]:
    up = shared_crds()
    docs = []
    names = [UPSTREAM_CRDS[k] for k in PROFILES[profile]["crds"]]
    if profile == "openshift":
        names += OPENSHIFT_CRDS
    for n in names:
        src = (up / (n + ".yaml")) if up and (up / (n + ".yaml")).is_file() else FIXTURE_CRDS / (n + ".yaml")
        if not src.is_file():
            die("no CRD fixture for %s (looked for %s)" % (n, src))
        for d in yaml.safe_load_all(src.read_text()):
            if d:
                docs.append(d)
    return docs


def bootstrap(name: str, kcfg: Path) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    api = api_client(kcfg)
    core = client.CoreV1Api(api)
    for ns in PROFILES[profile_of(name)]["namespaces"]:
        try:
            core.create_namespace({"metadata": {"name": ns}})
        except ApiException as e:
            if e.status != 409:
                raise
    ext = client.ApiextensionsV1Api(api)
    names = []
    for d in crd_docs(profile_of(name)):
        d.setdefault("metadata", {}).pop("resourceVersion", None)
        try:
            ext.create_custom_resource_definition(d)
        except ApiException as e:
            if e.status != 409:
                raise
        names.append(d["metadata"]["name"])
    return names


def crds_established(kcfg: Path, names: list[str]) -> tuple[bool, str]:
    from kubernetes import client
    ext = client.ApiextensionsV1Api(api_client(kcfg))
    for n in names:
        crd = ext.read_custom_resource_definition(n)
        conds = {c.type: c.status for c in (crd.status.conditions or [])}
        if conds.get("Established") != "True":
            return False, "%s not Established" % n
    return True, "ok"


def kcm_ready(kcfg: Path) -> tuple[bool, str]:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    core = client.CoreV1Api(api_client(kcfg))
    try:
        core.read_namespaced_service_account("default", "default")
    except ApiException as e:
        return False, "default SA: %s" % e.status
    try:
        core.read_namespaced_config_map("kube-root-ca.crt", "default")
    except ApiException as e:
        return False, "kube-root-ca.crt: %s" % e.status
    name = "lab-smoke-token"
    try:
        s = core.read_namespaced_secret(name, "default")
    except ApiException as e:
        if e.status != 404:
            raise
        core.create_namespaced_secret("default", {
            "metadata": {"name": name, "annotations": {"kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token"})
        return False, "smoke token secret created"
    if not (s.data or {}).get("token"):
        return False, "smoke token secret not filled yet"
    core.delete_namespaced_secret(name, "default")
    return True, "ok"


# ---------------------------------------------------------------- up
def up() -> None:
    t0 = time.time()
    names = wanted_clusters()
    k8s, etcd = build()
    d = lab_dir()
    d.mkdir(parents=True, exist_ok=True)
    if load_state() or orphan_pids():
        log("stopping the previous lab in %s first" % d)
        down(quiet=True)
    addrs = addresses(names)
    # every port must be free; never kill what is there
    for name, a in addrs.items():
        for port in (a["etcd_client"], a["etcd_peer"], a["apiserver"]):
            if not can_bind(a["ip"], port):
                die("%s:%d (cluster %s) is in use by a process this lab did not start; "
                    "stop it or set LAB_SINGLE_IP=1 / another LAB_CLUSTERS" % (a["ip"], port, name))
    oidc_ip, oidc_port = issuer_address()
    if not can_bind(oidc_ip, oidc_port):
        die("%s:%d (the lab's OIDC issuer) is in use by a process this lab did not start; stop it or set "
            "LAB_PORT_OFFSET" % (oidc_ip, oidc_port))
    trusting = oidc_trusting(names)
    state = {"version": 1, "k8s": K8S_VERSION, "etcd": ETCD_VERSION, "lab_dir": str(d),
             "shared_crds": str(shared_crds()) if shared_crds() else None,
             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "clusters": {}}
    # The OIDC issuer first: its files (CA, serving certificate, a new RSA signing key) go into the trusting API
    # servers' --authentication-config, and it serves before they start, so their JWT authenticators initialise
    # at once (they retry every 10 s otherwise; /readyz does not wait for the issuer either way).
    odir = d / "oidc"
    state["oidc"] = dict(oidc.create(odir, oidc_ip, oidc_port), trusted_by=trusting, procs={})
    for name in names:
        a = addrs[name]
        cdir = d / name
        for sub in ("etcd", "pki"):
            _rmtree(cdir / sub)
        cdir.mkdir(parents=True, exist_ok=True)
        make_pki(cdir, a["ip"])
        (cdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        if name in trusting:
            (cdir / "authentication-config.yaml").write_text(oidc.authentication_config(odir))
        else:
            try:
                (cdir / "authentication-config.yaml").unlink()
            except FileNotFoundError:
                pass
        try:
            (cdir / "audit.log").unlink()
        except FileNotFoundError:
            pass
        server = "https://%s:%d" % (a["ip"], a["apiserver"])
        write_private(cdir / "kcm.kubeconfig", yaml.safe_dump(kubeconfig(name, server, cdir / "pki", "kcm")))
        write_private(d / (name + ".kubeconfig"), yaml.safe_dump(kubeconfig(name, server, cdir / "pki", "admin")))
        state["clusters"][name] = dict(a, server=server, dir=str(cdir), profile=profile_of(name),
                                       openshift=profile_of(name) == "openshift",
                                       kubeconfig=str(d / (name + ".kubeconfig")),
                                       audit_log=str(cdir / "audit.log"), procs={})
    save_state(state)
    timeout = float(os.environ.get("LAB_TIMEOUT", "240"))
    deadline = time.time() + timeout
    try:
        spawn(odir, "oidc", [sys.executable, str(HERE / "oidc.py"), "serve", str(odir)], state, None)
        for name in names:
            a, cdir = addrs[name], d / name
            ec, ep = "http://%s:%d" % (a["ip"], a["etcd_client"]), "http://%s:%d" % (a["ip"], a["etcd_peer"])
            spawn(cdir, "etcd", [str(etcd / "etcd"), "--name=" + name, "--data-dir=" + str(cdir / "etcd"),
                                 "--log-level=warn", "--unsafe-no-fsync=true", "--quota-backend-bytes=536870912",
                                 "--listen-client-urls=" + ec, "--advertise-client-urls=" + ec,
                                 "--listen-peer-urls=" + ep, "--initial-advertise-peer-urls=" + ep,
                                 "--initial-cluster=%s=%s" % (name, ep), "--initial-cluster-state=new"],
                  state, name)
        for name in names:
            a = addrs[name]
            wait_for("etcd of %s" % name, lambda a=a: (
                '"health":"true"' in http_get("http://%s:%d/health" % (a["ip"], a["etcd_client"]))[1], "probe"),
                deadline)
        issuer_ctx = ssl.create_default_context(cafile=state["oidc"]["ca_file"])
        wait_for("the OIDC issuer", lambda: (http_get(state["oidc"]["issuer"] + "/.well-known/openid-configuration",
                                                      issuer_ctx)[0] == 200, "discovery"), deadline, 0.1)
        for name in names:
            a, cdir = addrs[name], d / name
            pki = cdir / "pki"
            authn = ["--authentication-config=authentication-config.yaml"] if name in trusting else []
            spawn(cdir, "apiserver", [
                str(k8s / "kube-apiserver"),
                "--etcd-servers=http://%s:%d" % (a["ip"], a["etcd_client"]),
                "--bind-address=" + a["ip"], "--advertise-address=" + a["ip"],
                "--secure-port=%d" % a["apiserver"],
                "--tls-cert-file=%s/apiserver.crt" % pki, "--tls-private-key-file=%s/apiserver.key" % pki,
                "--client-ca-file=%s/ca.crt" % pki, "--authorization-mode=RBAC",
                "--service-account-issuer=https://%s.kialiops.test" % name,
                "--service-account-signing-key-file=%s/sa.key" % pki,
                "--service-account-key-file=%s/sa.pub" % pki,
                "--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
                "--audit-policy-file=audit-policy.yaml", "--audit-log-path=audit.log",
                "--audit-log-maxsize=512", "--audit-log-maxbackup=1", "--profiling=false", "--v=1",
            ] + authn + os.environ.get("LAB_APISERVER_ARGS", "").split(), state, name)
        for name in names:
            a, pki = addrs[name], d / name / "pki"
            ctx = admin_ssl(pki)
            wait_for("kube-apiserver of %s" % name, lambda a=a, ctx=ctx: (
                http_get("https://%s:%d/readyz" % (a["ip"], a["apiserver"]), ctx)[0] == 200, "readyz"), deadline,
                0.5)
        crds = {}
        for name in names:
            crds[name] = bootstrap(name, d / (name + ".kubeconfig"))
            a, cdir = addrs[name], d / name
            pki = cdir / "pki"
            spawn(cdir, "kcm", [
                str(k8s / "kube-controller-manager"), "--kubeconfig=" + str(cdir / "kcm.kubeconfig"),
                "--leader-elect=false", "--secure-port=0", "--v=1",
                "--controllers=serviceaccount-token-controller,serviceaccount-controller,namespace-controller,"
                "garbage-collector-controller,root-ca-certificate-publisher-controller,"
                "clusterrole-aggregation-controller",
                "--service-account-private-key-file=%s/sa.key" % pki, "--root-ca-file=%s/ca.crt" % pki,
                "--use-service-account-credentials=true",
            ], state, name)
        for name in names:
            kc = d / (name + ".kubeconfig")
            wait_for("CRDs of %s" % name, lambda kc=kc, n=crds[name]: crds_established(kc, n), deadline, 0.5)
            wait_for("kube-controller-manager of %s" % name, lambda kc=kc: kcm_ready(kc), deadline, 0.5)
    except (LabError, Exception) as e:
        log("lab up failed: %s" % e)
        for name in names:
            for f in sorted((d / name / "logs").glob("*.log")):
                lines = f.read_text(errors="replace").splitlines()[-50:]
                print("---- %s (last %d lines)\n%s" % (f, len(lines), "\n".join(lines)), file=sys.stderr)
        down(quiet=True)
        raise LabError("lab up failed: %s" % e) from e
    write_outputs(state)
    state["up_seconds"] = round(time.time() - t0, 1)
    save_state(state)
    log("%d cluster(s) ready in %.1fs: %s" % (len(names), time.time() - t0, ", ".join(names)))


def write_outputs(state: dict) -> None:
    d = lab_dir()
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
              "contexts": []}
    for name, c in state["clusters"].items():
        kc = yaml.safe_load(Path(c["kubeconfig"]).read_text())
        for k in ("clusters", "users", "contexts"):
            merged[k] += kc[k]
    merged["current-context"] = next(iter(state["clusters"]))
    write_private(d / "kubeconfig", yaml.safe_dump(merged))

    def host(name, c):
        return {"ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "kialiops_cluster_name": name, "kialiops_kubeconfig": c["kubeconfig"],
                "kialiops_context": name, "kialiops_api_url": c["server"],
                "kialiops_lab_openshift": c["openshift"]}

    def inventory(external: str | None) -> dict:
        groups = {"hub": {}, "spoke": {}, "external": {}, "lab_spare": {}}
        for name, c in state["clusters"].items():
            g = "external" if name == external else ROLE_OF.get(name, "spoke")
            # a host named like a group (the cluster "hub" in group "hub") makes Ansible warn
            groups[g][name + "-cluster" if name in groups else name] = host(name, c)
        # The lab's home is plain Kubernetes with remotes: kialiops has no default auth strategy there (token would
        # show the home cluster only), so the lab chooses one, as a user must (README, "Authentication across
        # clusters").
        return {"all": {"vars": {"kialiops_auth_strategy": "anonymous"},
                        "children": {g: {"hosts": h or None} for g, h in groups.items()}}}

    header = "# Written by tools/lab/lab.py up: the lab's clusters in the kialiops inventory model.\n"
    (d / "inventory.yml").write_text(header + yaml.safe_dump(inventory(None), sort_keys=False))
    if "mgmt" in state["clusters"]:
        (d / "inventory-external.yml").write_text(header + yaml.safe_dump(inventory("mgmt"), sort_keys=False))


# ---------------------------------------------------------------- status
def mem_kib(pid: int, field: str, path: str = "status") -> int:
    """VmRSS (status) counts the binary's pages in every process that maps them; Pss (smaps_rollup)
    shares them out among the clusters, so it is what one more cluster really costs."""
    try:
        for line in Path("/proc/%d/%s" % (pid, path)).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def status() -> dict:
    state = load_state()
    if not state:
        return {"healthy": False, "reason": "no lab in %s" % lab_dir(), "clusters": {}}
    out = {"healthy": True, "lab_dir": state["lab_dir"], "k8s": state["k8s"], "clusters": {}}
    for name, c in state["clusters"].items():
        procs = {w: alive(p) for w, p in c["procs"].items()}
        pki = Path(c["dir"]) / "pki"
        code, body = (0, "no pki")
        version = None
        if pki.is_dir():
            ctx = admin_ssl(pki)
            code, body = http_get(c["server"] + "/readyz", ctx)
            vcode, vbody = http_get(c["server"] + "/version", ctx)
            if vcode == 200:
                version = json.loads(vbody).get("gitVersion")
        live = [p["pid"] for p in c["procs"].values() if alive(p)]
        rss = sum(mem_kib(p, "VmRSS") for p in live) // 1024
        pss = sum(mem_kib(p, "Pss", "smaps_rollup") for p in live) // 1024
        ok = all(procs.values()) and len(procs) == 3 and code == 200
        out["clusters"][name] = {"server": c["server"], "processes": procs, "ready": code == 200,
                                 "version": version, "rss_mib": rss, "pss_mib": pss, "openshift": c["openshift"],
                                 "kubeconfig": c["kubeconfig"], "healthy": ok}
        out["healthy"] = out["healthy"] and ok
    issuer = state.get("oidc") or {}
    up_ = bool(issuer.get("procs")) and all(alive(p) for p in issuer["procs"].values())
    ready = up_ and http_get(issuer["issuer"] + "/.well-known/openid-configuration",
                             ssl.create_default_context(cafile=issuer["ca_file"]))[0] == 200
    out["oidc"] = {"issuer": issuer.get("issuer"), "trusted_by": issuer.get("trusted_by", []), "ready": ready}
    out["healthy"] = out["healthy"] and ready
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lab", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="find or build the binaries (cached by version)")
    sub.add_parser("up", help="start every cluster fresh; exit 0 when all are ready")
    st = sub.add_parser("status", help="health of each cluster; non-zero if any is unhealthy")
    st.add_argument("--json", action="store_true")
    sub.add_parser("down", help="stop everything this lab started; keep logs/")
    sub.add_parser("env", help="print shell exports for the lab (KUBECONFIG, NO_PROXY)")
    tok = sub.add_parser("oidc-token", help="print an ID token of the lab's OIDC issuer for a user (tests only)")
    tok.add_argument("user")
    tok.add_argument("--audience", default=oidc.AUDIENCE)
    tok.add_argument("--ttl", type=int, default=600)
    for action in ("stop", "start"):
        one = sub.add_parser(action + "-apiserver", help="%s one cluster's kube-apiserver (fault tests)" % action)
        one.add_argument("cluster")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            k8s, etcd = build()
            print(k8s)
            print(etcd)
        elif args.cmd == "up":
            up()
        elif args.cmd == "down":
            down()
        elif args.cmd == "oidc-token":
            state = load_state() or die("no lab running in %s" % lab_dir())
            print(oidc.mint_token(Path(state["oidc"]["dir"]), args.user, args.audience, args.ttl))
        elif args.cmd in ("stop-apiserver", "start-apiserver"):
            apiserver(args.cluster, args.cmd.split("-")[0])
        elif args.cmd == "env":
            state = load_state() or die("no lab running in %s" % lab_dir())
            ips = sorted({c["ip"] for c in state["clusters"].values()})
            print("export KUBECONFIG=%s" % (lab_dir() / "kubeconfig"))
            print("export NO_PROXY=%s" % ",".join(ips + ["localhost"]))
        else:
            s = status()
            if args.json:
                print(json.dumps(s, indent=2))
            else:
                if not s["clusters"]:
                    print(s["reason"])
                for name, c in s["clusters"].items():
                    print("%-10s %-26s %-9s %-9s rss %4d MiB pss %4d MiB  %s%s" % (
                        name, c["server"], c["version"] or "-", "ready" if c["ready"] else "NOT READY",
                        c["rss_mib"], c["pss_mib"], " ".join("%s=%s" % (w, "up" if a else "DOWN") for w, a in c["processes"].items()),
                        "  (openshift)" if c["openshift"] else ""))
                if s.get("oidc"):
                    print("%-10s %-26s %-9s %-9s trusted by %s" % (
                        "oidc", s["oidc"]["issuer"], "-", "ready" if s["oidc"]["ready"] else "NOT READY",
                        ",".join(s["oidc"]["trusted_by"]) or "no cluster"))
            return 0 if s["healthy"] else 1
    except LabError as e:
        print("lab: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
