#!/usr/bin/env python3
"""Benchmarks (not timed tests): measure, write bench/results/<date>-<machine>-<name>.json + .md.

This one: the lab (cold build, warm `up` of 4 clusters, memory per cluster, `down`). The others: onboarding.py
(prepare.yml at 1/2/5/10 spokes beside a naive baseline, requests by verb from the audit logs), site_scale.py
(site.yml at 1/2/5/20 spokes); report.py gathers their tables into one (and bench/results/latest.md).

  make bench                 # warm figures; the cold build time is read from the cache's build log
  BENCH_COLD=1 make bench    # also a really cold build (empty binary and Go build caches; ~7-30 min)
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import BenchError, labtool, markdown_table, row, run_lab, write

TARGETS = {"warm_up_4_clusters_s": 60, "rss_per_cluster_mib": 350}


def lab(args, env, check=True):
    try:
        return run_lab(args, env, check)
    except BenchError as e:
        sys.exit("bench: %s" % e)


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


def table(res: dict) -> list[dict]:
    t = TARGETS
    rows = []
    if "cold_build_s" in res:
        rows.append(row("lab cold build (k8s + etcd), s", res["cold_build_s"]))
    rows += [
        row("lab warm build (cache hit), s", res["warm_build_s"]),
        row("lab warm up, 4 clusters, s (median)", res["warm_up_4_clusters_s"]["median"],
            "<= %d" % t["warm_up_4_clusters_s"], res["meets"]["warm_up_4_clusters_s"]),
        row("lab RSS per cluster, MiB (max)", res["rss_per_cluster_mib"], "<= %d" % t["rss_per_cluster_mib"],
            res["meets"]["rss_per_cluster_mib"]),
        row("lab PSS per cluster, MiB (max)", res["pss_per_cluster_mib"], "<= %d" % t["rss_per_cluster_mib"],
            res["meets"]["pss_per_cluster_mib"]),
        row("lab down, s (median)", res["down_s"]["median"]),
    ]
    return rows


def main() -> int:
    res = bench_lab()
    res["table"] = table(res)
    path = write("lab", res)
    print("\n".join(markdown_table(res["table"])))
    print("bench: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
