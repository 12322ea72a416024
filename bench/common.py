"""Shared by the benchmarks (bench/*.py): private labs, inventories, playbook runs, audit-log accounting, results.

The pure parts (classify, objects_written, per_spoke, ratio, row, markdown_table) are unit-tested in
tests/unit/test_bench.py; the rest drives real processes.

Results go to bench/results/ (or $BENCH_RESULTS): <date>-<machine>-<name>.{json,md}. Each benchmark's data holds a
"table": rows {metric, value, target, met} that bench/report.py gathers into one table (and bench/results/latest.md).
Each results file also records the machine's load average when the benchmark started (this module's import) and
when it wrote its results, and $BENCH_NOTE (e.g. "machine shared with other test runs"): CPU-seconds are the
benchmark's own, but wall times stretch with the load.
"""
from __future__ import annotations

import collections
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "lab"))
import audit  # noqa: E402  (tools/lab/audit.py)
import lab as labtool  # noqa: E402  (tools/lab/lab.py)

RESULTS = Path(os.environ.get("BENCH_RESULTS") or REPO / "bench" / "results")
ADMIN = "kialiops-admin"          # the lab's admin client certificate (CN), what the playbooks run as
PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- environment and results
def sizes(default: str) -> list[int]:
    """BENCH_SIZES=1,5,10 (ascending, distinct), else ``default``."""
    raw = os.environ.get("BENCH_SIZES") or default
    out = sorted({int(n) for n in raw.split(",") if n.strip()})
    if not out or out[0] < 1:
        raise BenchError("BENCH_SIZES=%r: give spoke counts >= 1, e.g. 1,5,10" % raw)
    return out


def repeat(default: int) -> int:
    return max(1, int(os.environ.get("BENCH_REPEAT") or default))


def loadavg() -> list[float]:
    """The machine's load average over 1, 5 and 15 minutes."""
    return [round(x, 2) for x in os.getloadavg()]


LOAD_AT_START = loadavg()   # each benchmark is its own process: this is the load when it started


def _loads(values) -> str:
    return " / ".join("%g" % x for x in values) if values else "?"


def load_line(doc: dict) -> str:
    """One line of markdown on the load a results document was measured under (pure)."""
    load = doc.get("load_avg") or {}
    line = "load average (1 / 5 / 15 min) at start %s, at end %s" % (_loads(load.get("start")),
                                                                       _loads(load.get("end")))
    if doc.get("note"):
        line += "; %s" % doc["note"]
    return line


def machine() -> dict:
    mem = Path("/proc/meminfo").read_text().split()[1]
    go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False).stdout.strip()
    return {"host": platform.node(), "cores": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(), "go": go}


def write(name: str, data: dict) -> Path:
    """bench/results/<date>-<machine>-<name>.json and .md; the .md starts with data["table"] when there is one."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "%s-%s-%s" % (time.strftime("%Y-%m-%d"), platform.node() or "machine", name)
    doc = {"benchmark": name, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "run": os.environ.get("BENCH_RUN", ""), "machine": machine(), "k8s": labtool.K8S_VERSION,
           "etcd": labtool.ETCD_VERSION, "load_avg": {"start": LOAD_AT_START, "end": loadavg()},
           "note": os.environ.get("BENCH_NOTE", ""), "results": data}
    (RESULTS / (stem + ".json")).write_text(json.dumps(doc, indent=2) + "\n")
    md = ["# %s (%s)" % (name, doc["date"]), "", "machine: `%s`" % json.dumps(doc["machine"]), "",
          load_line(doc), ""]
    if data.get("table"):
        md += markdown_table(data["table"]) + [""]
    md += ["| metric | value |", "| --- | --- |"]
    md += ["| %s | `%s` |" % (k, json.dumps(v)) for k, v in data.items() if k != "table"]
    (RESULTS / (stem + ".md")).write_text("\n".join(md) + "\n")
    return RESULTS / (stem + ".json")


# ---------------------------------------------------------------- table rows (pure)
def row(metric: str, value, target: str = "", met: bool | None = None) -> dict:
    return {"metric": metric, "value": value, "target": target, "met": met}


def _cell(value) -> str:
    if isinstance(value, float):
        return ("%.2f" % value).rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        return "`%s`" % json.dumps(value, sort_keys=True)
    return str(value)


def markdown_table(rows: list[dict], benchmark_column: bool = False) -> list[str]:
    """Markdown lines: | [benchmark |] metric | value | target | met? |  (met: yes / **no** / blank)."""
    head = (["benchmark"] if benchmark_column else []) + ["metric", "value", "target", "met?"]
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        met = "" if r.get("met") is None else ("yes" if r["met"] else "**no**")
        cells = ([r.get("benchmark", "")] if benchmark_column else []) + [
            r["metric"], _cell(r["value"]), r.get("target") or "", met]
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return out


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


# ---------------------------------------------------------------- audit accounting (pure)
def _resource(ev: dict) -> str:
    ref = ev.get("objectRef") or {}
    res = ref.get("resource", "")
    return res + ("/" + ref["subresource"] if ref.get("subresource") else "")


def is_review(ev: dict) -> bool:
    """Access and token reviews: verb create, but nothing is stored."""
    return (ev.get("objectRef") or {}).get("resource", "").endswith("reviews")


def is_dry_run(ev: dict) -> bool:
    """A server-side dry run (``?dryRun=All``): validated and answered like a write, nothing stored."""
    return "dryRun=" in ev.get("requestURI", "")


def classify(events: list[dict], admin: str = ADMIN, kiali_sa: str | None = None) -> dict:
    """Count one cluster's requests.

    As ``admin`` (what the playbook runs as): ``writes`` (create/update/patch/delete, reviews and dry runs excepted)
    with ``write:<verb> <resource>[/<subresource>]``, ``dry_runs`` (the same verbs with ``?dryRun=All``: the plan's
    server-side validation, nothing stored), ``reads`` (get/list/watch) with ``read:<verb>``, ``reviews``
    (Self/SubjectAccessReviews, TokenReviews: permission pre-checks). Requests of a user that starts with
    ``kiali_sa`` (e.g. ``system:serviceaccount:<remote ns>:``): ``verification`` (the permission check done with
    Kiali's stored credential). Anything else: ``other``.
    """
    out: collections.Counter = collections.Counter()
    for ev in events:
        who = audit.user(ev)
        if kiali_sa and who.startswith(kiali_sa):
            out["verification"] += 1
        elif who != admin:
            out["other"] += 1
        elif is_review(ev):
            out["reviews"] += 1
        elif ev.get("verb") in audit.MUTATING and is_dry_run(ev):
            out["dry_runs"] += 1
        elif ev.get("verb") in audit.MUTATING:
            out["writes"] += 1
            out["write:%s %s" % (ev["verb"], _resource(ev))] += 1
        else:
            out["reads"] += 1
            out["read:%s" % ev.get("verb", "?")] += 1
    return dict(sorted(out.items()))


def objects_written(events: list[dict], admin: str = ADMIN) -> set[tuple]:
    """Distinct (apiGroup/resource, namespace, name) that ``admin`` mutated successfully (reviews excepted).

    A subresource counts as its object (a TokenRequest on serviceaccounts/token stores nothing of its own); failed
    requests (a 409 on create, a 404 on delete) and dry runs wrote nothing and are not counted.
    """
    out = set()
    for ev in events:
        if audit.user(ev) != admin or ev.get("verb") not in audit.MUTATING or is_review(ev) or is_dry_run(ev):
            continue
        if not 200 <= audit.code(ev) < 300:
            continue
        ref = ev.get("objectRef") or {}
        group, resource = ref.get("apiGroup", ""), ref.get("resource", "")
        # a Namespace's own requests carry its name as namespace on some paths (patch) and not on others (create)
        namespace = "" if resource == "namespaces" and not group else ref.get("namespace", "")
        out.add(((group + "/" if group else "") + resource, namespace, ref.get("name", "")))
    return out


def per_spoke(counts: dict[str, dict], n: int) -> dict:
    """Counts of every cluster (the spokes and the hub) summed and divided by ``n`` spokes: the cost of one spoke."""
    total: collections.Counter = collections.Counter()
    for c in counts.values():
        total.update(c)
    return {k: round(v / n, 2) for k, v in sorted(total.items())}


def mutating_total(counts: dict[str, dict]) -> int:
    """Every mutating request of ``counts``, dry runs included (a no-op rerun sends none)."""
    return sum(c.get("writes", 0) + c.get("dry_runs", 0) for c in counts.values())


# ---------------------------------------------------------------- lab
def run_lab(args: list[str], env: dict, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.time()
    r = subprocess.run([sys.executable, str(REPO / "tools" / "lab" / "lab.py")] + args, env=env,
                       capture_output=True, text=True, check=False)
    if check and r.returncode != 0:
        raise BenchError("lab %s failed:\n%s" % (" ".join(args), r.stderr[-3000:]))
    return time.time() - t0, r


class Lab:
    """A private lab (own LAB_DIR under /tmp, single IP, LAB_PORT_OFFSET from the environment or ``offset``).

        with Lab("onboard", ["hub", "s01"], offset=400) as lab: ...   # up on enter; down and removed on exit
    """

    def __init__(self, prefix: str, clusters: list[str], offset: int, timeout: int = 240):
        self.dir = Path(tempfile.mkdtemp(prefix="kialiops-bench-%s-" % prefix))
        self.env = dict(os.environ, LAB_DIR=str(self.dir), LAB_CLUSTERS=",".join(clusters), LAB_SINGLE_IP="1",
                        LAB_OPENSHIFT="", LAB_PORT_OFFSET=os.environ.get("LAB_PORT_OFFSET", str(offset)),
                        LAB_TIMEOUT=str(timeout))
        self.up_s = None
        self.state: dict = {}
        self.logs: dict[str, audit.AuditLog] = {}

    def __enter__(self):
        try:
            self.up_s, _ = run_lab(["up"], self.env)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.state = json.loads((self.dir / "state.json").read_text())
        self.logs = {c: audit.AuditLog(v["audit_log"]) for c, v in self.state["clusters"].items()}
        return self

    def __exit__(self, *exc):
        run_lab(["down"], self.env, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def cpu_s(self) -> float:
        """CPU seconds the lab's processes (etcd, kube-apiserver, kube-controller-manager) have used so far."""
        return sum(process_cpu_s(p["pid"]) for c in self.state["clusters"].values() for p in c["procs"].values())

    def marks(self) -> dict[str, int]:
        return {c: log.mark() for c, log in self.logs.items()}

    def since(self, marks: dict[str, int]) -> dict[str, list[dict]]:
        return {c: self.logs[c].since(marks[c]) for c in self.logs}

    def client(self, cluster: str):
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.state["clusters"][cluster]["kubeconfig"], client_configuration=cfg)
        cfg.proxy = None
        return client.ApiClient(cfg)

    def inventory(self, spokes: list[str], name: str, variables: dict | None = None) -> Path:
        """The lab's inventory with only ``spokes`` in group spoke (and no spare), ``variables`` under all.vars."""
        inv = yaml.safe_load((self.dir / "inventory.yml").read_text())
        ch = inv["all"]["children"]
        ch["spoke"]["hosts"] = {h: v for h, v in (ch["spoke"]["hosts"] or {}).items() if h in spokes}
        ch.get("lab_spare", {})["hosts"] = None
        if variables:
            inv["all"]["vars"] = dict(inv["all"].get("vars") or {}, **variables)
        path = self.dir / ("inv-%s.yml" % name)
        path.write_text(yaml.safe_dump(inv))
        return path


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every finished child process of this one and their descendants."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (0 when it is gone)."""
    try:
        fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# CPU seconds of the last playbook() run: the ansible-playbook process tree (controller, workers, modules)
LAST_RUN: dict = {}


def playbook(inv: Path, path: Path, what: str = "", extra: list[str] | None = None) -> float:
    """Run one playbook, return its wall time (its CPU time goes to LAST_RUN); BenchError with the end of its
    output when it fails."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    cpu0, t0 = children_cpu_s(), time.time()
    r = subprocess.run([str(PLAYBOOK_BIN), "-i", str(inv)] + (extra or []) + [str(path)], cwd=REPO, env=env,
                       capture_output=True, text=True, check=False)
    secs = time.time() - t0
    LAST_RUN.update(wall_s=round(secs, 2), ansible_cpu_s=round(children_cpu_s() - cpu0, 1))
    if r.returncode != 0:
        raise BenchError("%s failed (%s):\n%s" % (path.name, what, (r.stdout + r.stderr)[-4000:]))
    return round(secs, 2)
