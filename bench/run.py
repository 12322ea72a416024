#!/usr/bin/env python3
"""Benchmarks (not timed tests): measure, write bench/results/<date>-<machine>-<name>.json + .md.

Now: the lab (cold build, warm `up` of 4 clusters, memory per cluster, `down`).
The onboarding and request-count benchmarks of the roles are added with the roles (issue 9).

  make bench                 # warm figures; the cold build time is read from the cache's build log
  BENCH_COLD=1 make bench    # also a really cold build (empty binary and Go build caches; ~7-30 min)
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "lab"))
import lab as labtool  # noqa: E402

RESULTS = REPO / "bench" / "results"
TARGETS = {"warm_up_4_clusters_s": 60, "rss_per_cluster_mib": 350}


def machine() -> dict:
    mem = Path("/proc/meminfo").read_text().split()[1]
    return {"host": platform.node(), "cores": os.cpu_count(), "mem_gib": round(int(mem) / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "go": subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()}


def lab(args, env, check=True):
    t0 = time.time()
    r = subprocess.run([sys.executable, str(REPO / "tools" / "lab" / "lab.py")] + args, env=env,
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit("bench: lab %s failed:\n%s" % (" ".join(args), r.stderr[-3000:]))
    return time.time() - t0, r


def bench_lab() -> dict:
    out: dict = {}
    if os.environ.get("BENCH_COLD") == "1":
        with tempfile.TemporaryDirectory(prefix="kialiops-bench-cache-") as cache, \
                tempfile.TemporaryDirectory(prefix="kialiops-bench-gocache-") as gocache:
            env = dict(os.environ, KIALIOPS_CACHE=cache, GOCACHE=gocache)
            secs, _ = lab(["build"], env)
            out["cold_build_s"] = round(secs, 1)
            out["cold_build_note"] = "empty binary cache and Go build cache; Go module cache as found"
    else:
        log = labtool.cache_dir() / "build-times.log"
        if log.is_file():
            lines = log.read_text().split("\n")
            k8s = [ln for ln in lines if " k8s " in ln]
            etcd = [ln for ln in lines if " etcd " in ln]
            if k8s and etcd:
                out["cold_build_s"] = int(k8s[-1].split()[-1].rstrip("s")) + int(etcd[-1].split()[-1].rstrip("s"))
                out["cold_build_note"] = "from the cache's build log (%s; %s)" % (k8s[-1], etcd[-1])
    secs, _ = lab(["build"], dict(os.environ))
    out["warm_build_s"] = round(secs, 2)

    # warm up of 4 clusters in a private LAB_DIR; single-IP mode if the default lab holds 127.0.0.11-14
    lab_dir = Path(tempfile.mkdtemp(prefix="kialiops-bench-lab-"))
    single = "1" if not labtool.can_bind("127.0.0.11", 6443) else os.environ.get("LAB_SINGLE_IP", "0")
    env = dict(os.environ, LAB_DIR=str(lab_dir), LAB_CLUSTERS="hub,east,west,mgmt", LAB_SINGLE_IP=single,
               LAB_PORT_OFFSET=os.environ.get("LAB_PORT_OFFSET", "300"))
    ups, downs, mem = [], [], []
    try:
        for _ in range(int(os.environ.get("BENCH_REPEAT", "3"))):
            secs, _ = lab(["up"], env)
            ups.append(round(secs, 1))
            time.sleep(20)  # let the apiservers settle before reading memory
            _, st = lab(["status", "--json"], env)
            mem.append({n: {"rss_mib": c["rss_mib"], "pss_mib": c["pss_mib"]}
                        for n, c in json.loads(st.stdout)["clusters"].items()})
            secs, _ = lab(["down"], env)
            downs.append(round(secs, 1))
    finally:
        lab(["down"], env, check=False)
        shutil.rmtree(lab_dir, ignore_errors=True)
    out["single_ip_mode"] = single == "1"
    out["warm_up_4_clusters_s"] = {"runs": ups, "median": statistics.median(ups)}
    out["down_s"] = {"runs": downs, "median": statistics.median(downs)}
    last = mem[-1]
    out["memory_per_cluster_mib"] = last
    out["rss_per_cluster_mib"] = max(c["rss_mib"] for c in last.values())
    out["pss_per_cluster_mib"] = max(c["pss_mib"] for c in last.values())
    out["targets"] = TARGETS
    out["meets"] = {"warm_up_4_clusters_s": out["warm_up_4_clusters_s"]["median"] <= TARGETS["warm_up_4_clusters_s"],
                    "rss_per_cluster_mib": out["rss_per_cluster_mib"] <= TARGETS["rss_per_cluster_mib"],
                    "pss_per_cluster_mib": out["pss_per_cluster_mib"] <= TARGETS["rss_per_cluster_mib"]}
    return out


def write(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "%s-%s-%s" % (time.strftime("%Y-%m-%d"), platform.node() or "machine", name)
    doc = {"benchmark": name, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": machine(), "k8s": labtool.K8S_VERSION, "etcd": labtool.ETCD_VERSION, "results": data}
    (RESULTS / (stem + ".json")).write_text(json.dumps(doc, indent=2) + "\n")
    md = ["# %s (%s)" % (name, doc["date"]), "", "machine: `%s`" % json.dumps(doc["machine"]), "", "| metric | value |",
          "| --- | --- |"]
    md += ["| %s | `%s` |" % (k, json.dumps(v)) for k, v in data.items()]
    (RESULTS / (stem + ".md")).write_text("\n".join(md) + "\n")
    return RESULTS / (stem + ".json")


def main() -> int:
    res = bench_lab()
    path = write("lab", res)
    print(json.dumps(res, indent=2))
    print("bench: wrote %s (the roles' onboarding/request benchmarks arrive with issue 9)" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
