#!/usr/bin/env python3
"""Benchmark: onboarding spokes with playbooks/prepare.yml, side by side with a naive baseline.

One private lab (hub + as many spokes as the largest size, single IP). For each size (BENCH_SIZES, default 1,2,5,10)
and each tool - kialiops (playbooks/prepare.yml) and naive (bench/naive/onboard.yml: one plain kubernetes.core.k8s
task per object, as a user would write it) - a fresh onboarding: its own Kiali namespace on the hub, remote
namespace and instance name; then the same run again (the no-op rerun); then everything that run wrote is deleted
(not measured), so the next run starts clean.

Measured per run, from the wall clock, the CPU time of Ansible's process tree and the lab's audit logs (every
request, metadata level):
- wall time and Ansible CPU-seconds of the first run and of the rerun; the wall ratio to the smallest size (no
  target: on 2 cores shared with the lab's API servers it measures the machine) and kialiops / naive;
- prepare.yml for 2 spokes (verification included), first run and rerun: wall and Ansible CPU each <= Kiali's own
  kiali-prepare-remote-cluster.sh for east + west on the same lab (SCRIPT_S; the bench cannot run the script, it
  needs helm and Kiali's chart: the README says how the script's figure was taken);
- requests per spoke (every cluster's requests, the hub's included, divided by the number of spokes), first run and
  rerun: writes by verb and resource, dry runs (the plan's server-side validation, nothing stored), reads by verb,
  reviews (permission pre-checks), verification (requests made
  with Kiali's stored credential; target <= 10 per remote, the lab's RBAC answering the rules review completely);
- objects written per spoke: distinct (resource, namespace, name) mutated, from the audit log; target for kialiops:
  first-run writes per spoke <= 1.5 x objects + 2; rerun: 0 mutating requests (dry runs included).
BENCH_REPEAT (default 2) repeats the whole plan; wall times are medians, requests are from the first repetition.
Before it, each tool onboards every spoke once, not measured (BENCH_WARMUP=0 skips that): a fresh lab's first run
pays for cold caches.
Results: bench/results/<date>-<machine>-onboarding.{json,md}.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import uuid

from common import (LAST_RUN, REPO, BenchError, Lab, classify, markdown_table, mutating_total, objects_written,
                    per_spoke, playbook, ratio, repeat, row, sizes, write)

TOOLS = {"kialiops": REPO / "playbooks" / "prepare.yml", "naive": REPO / "bench" / "naive" / "onboard.yml"}
WRITES_FACTOR, WRITES_CONSTANT = 1.5, 2
SCRIPT_S = 2.4               # kiali-prepare-remote-cluster.sh, east + west: median wall and CPU s (README)
SCRIPT_SPOKES = 2
VERIFICATION_TARGET = 10     # requests with Kiali's credential per remote


def names(sfx: str) -> dict:
    return {"kialiops_kiali_namespace": "kb-" + sfx, "kialiops_remote_namespace": "kr-" + sfx,
            "kialiops_instance_name": "ki-" + sfx}


def cleanup(lab: Lab, spokes: list[str], sfx: str, timeout: float = 120) -> None:
    """Delete what a run wrote (namespaces kb-/kr-<sfx>, cluster roles and bindings of instance ki-<sfx>) and wait
    until the namespaces are gone, so that no later run sees (or prunes) anything of this one."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    selector = "app.kubernetes.io/instance=ki-" + sfx
    pending = []
    for cluster in ["hub"] + spokes:
        api = lab.client(cluster)
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        ns = "kb-" + sfx if cluster == "hub" else "kr-" + sfx
        if cluster != "hub":
            rbac.delete_collection_cluster_role_binding(label_selector=selector)
            rbac.delete_collection_cluster_role(label_selector=selector)
        try:
            core.delete_namespace(ns)
            pending.append((core, ns))
        except ApiException as e:
            if e.status != 404:
                raise
    deadline = time.time() + timeout
    for core, ns in pending:
        while True:
            try:
                core.read_namespace(ns)
            except ApiException as e:
                if e.status == 404:
                    break
                raise
            if time.time() > deadline:
                print("bench: namespace %s still terminating after %d s; going on" % (ns, timeout), file=sys.stderr)
                break
            time.sleep(0.5)


def onboard(lab: Lab, tool: str, spokes: list[str], warm_up: bool = False) -> dict:
    """First run and rerun of ``tool`` onboarding ``spokes`` fresh; what they cost; then clean up.
    ``warm_up``: the first run only, nothing returned (fills the API servers' and the OS's caches)."""
    from kubernetes import client
    sfx = uuid.uuid4().hex[:6]
    v = names(sfx)
    client.CoreV1Api(lab.client("hub")).create_namespace({"metadata": {"name": v["kialiops_kiali_namespace"]}})
    inv = lab.inventory(spokes, "%s-%d-%s" % (tool, len(spokes), sfx), v)
    what = "%s, %d spokes" % (tool, len(spokes))
    kiali_sa = "system:serviceaccount:%s:" % v["kialiops_remote_namespace"]
    try:
        marks, lab_cpu = lab.marks(), lab.cpu_s()
        first_s = playbook(inv, TOOLS[tool], what)
        first_cpu = {"ansible": LAST_RUN["ansible_cpu_s"], "lab": round(lab.cpu_s() - lab_cpu, 1)}
        first = lab.since(marks)
        if warm_up:
            return {}
        marks, lab_cpu = lab.marks(), lab.cpu_s()
        rerun_s = playbook(inv, TOOLS[tool], what + ", rerun")
        rerun_cpu = {"ansible": LAST_RUN["ansible_cpu_s"], "lab": round(lab.cpu_s() - lab_cpu, 1)}
        rerun = lab.since(marks)
    finally:
        cleanup(lab, spokes, sfx)
    first_c = {c: classify(evs, kiali_sa=kiali_sa) for c, evs in first.items()}
    rerun_c = {c: classify(evs, kiali_sa=kiali_sa) for c, evs in rerun.items()}
    objects = sorted(o for evs in first.values() for o in objects_written(evs))
    n = len(spokes)
    return {"first_s": first_s, "rerun_s": rerun_s, "first_cpu": first_cpu, "rerun_cpu": rerun_cpu,
            "first_per_spoke": per_spoke(first_c, n), "rerun_per_spoke": per_spoke(rerun_c, n),
            "first_by_cluster": first_c, "rerun_by_cluster": rerun_c,
            "objects_per_spoke": round(len(objects) / n, 2),
            "objects": [" ".join(o) for o in objects] if n == 1 else None,
            "rerun_mutating": mutating_total(rerun_c)}


def summarise(plan: list[int], runs: dict) -> dict:
    """The results document from runs[tool][size] = [onboard() of each repetition] (pure; unit-tested)."""
    res: dict = {"sizes": plan, "tools": {t: str(p.relative_to(REPO)) for t, p in TOOLS.items()}}
    table = []
    lo, hi = plan[0], plan[-1]
    for tool in TOOLS:
        out = res[tool] = {}
        for n in plan:
            reps = runs[tool][n]
            one = reps[0]
            w = one["first_per_spoke"].get("writes", 0)
            out[str(n)] = {
                "first_wall_s": [r["first_s"] for r in reps], "rerun_wall_s": [r["rerun_s"] for r in reps],
                "first_wall_median_s": statistics.median(r["first_s"] for r in reps),
                "rerun_wall_median_s": statistics.median(r["rerun_s"] for r in reps),
                "objects_written_per_spoke": one["objects_per_spoke"], "objects_written": one["objects"],
                "first_run_requests_per_spoke": one["first_per_spoke"],
                "rerun_requests_per_spoke": one["rerun_per_spoke"],
                "first_run_requests_by_cluster": one["first_by_cluster"],
                "rerun_requests_by_cluster": one["rerun_by_cluster"],
                "first_run_writes_per_spoke": w,
                "rerun_mutating_requests": max(r["rerun_mutating"] for r in reps),
                "first_run_cpu_s": median_cpu(reps, "first_cpu"),
                "rerun_cpu_s": median_cpu(reps, "rerun_cpu"),
                "verification_per_remote": {"first": one["first_per_spoke"].get("verification", 0),
                                            "rerun": one["rerun_per_spoke"].get("verification", 0)},
            }
        for n in plan:
            out[str(n)]["wall_ratio_to_%d" % lo] = ratio(out[str(n)]["first_wall_median_s"],
                                                         out[str(lo)]["first_wall_median_s"])

    k, nv = res["kialiops"], res["naive"]
    for n in plan:
        s = str(n)
        res.setdefault("kialiops_over_naive", {})[s] = {
            "first_wall": ratio(k[s]["first_wall_median_s"], nv[s]["first_wall_median_s"]),
            "rerun_wall": ratio(k[s]["rerun_wall_median_s"], nv[s]["rerun_wall_median_s"]),
            "first_writes": ratio(k[s]["first_run_writes_per_spoke"], nv[s]["first_run_writes_per_spoke"]),
            "first_requests": ratio(total(k[s]["first_run_requests_per_spoke"]),
                                    total(nv[s]["first_run_requests_per_spoke"])),
            "first_requests_unverified": ratio(total(k[s]["first_run_requests_per_spoke"], False),
                                               total(nv[s]["first_run_requests_per_spoke"], False)),
        }

    for n in plan:
        s = str(n)
        table.append(row("kialiops wall s, first run / rerun, %d spoke(s)" % n,
                         "%g / %g" % (k[s]["first_wall_median_s"], k[s]["rerun_wall_median_s"])))
    table.append(row("kialiops first-run wall, %d / %d spoke(s) (no target: CPU-bound on this machine)" % (hi, lo),
                     k[str(hi)]["wall_ratio_to_%d" % lo]))
    if SCRIPT_SPOKES in plan:
        table += script_rows(k[str(SCRIPT_SPOKES)])
    cpu = {n: k[str(n)]["first_run_cpu_s"] for n in plan}
    if all(cpu.values()):
        for n in plan:
            again = k[str(n)]["rerun_cpu_s"] or {"ansible": float("nan"), "lab": float("nan")}
            table.append(row("kialiops CPU s, %d spoke(s), Ansible / the lab's API servers: first run; rerun" % n,
                             "%g / %g; %g / %g" % (cpu[n]["ansible"], cpu[n]["lab"], again["ansible"], again["lab"])))
        if hi > lo:     # a run cannot be faster than its CPU time spread over every core
            cores, t1 = os.cpu_count() or 1, k[str(lo)]["first_wall_median_s"]
            table.append(row("floor of the %d / %d ratio on %d cores (CPU of the %d-spoke run / cores / wall of %d): "
                             "everything / the lab's API servers alone" % (hi, lo, cores, hi, lo), "%s / %s" % (
                                 ratio(max(t1, (cpu[hi]["ansible"] + cpu[hi]["lab"]) / cores), t1),
                                 ratio(max(t1, cpu[hi]["lab"] / cores), t1))))
    for n in plan:
        v = k[str(n)]["verification_per_remote"]
        worst = max(v["first"], v["rerun"])
        table.append(row("kialiops verification requests per remote (as Kiali's SA), first run / rerun, %d spoke(s)"
                         % n, "%g / %g" % (v["first"], v["rerun"]), "<= %d" % VERIFICATION_TARGET,
                         worst <= VERIFICATION_TARGET))
    for n in plan:
        s = str(n)
        objs, w = k[s]["objects_written_per_spoke"], k[s]["first_run_writes_per_spoke"]
        limit = WRITES_FACTOR * objs + WRITES_CONSTANT
        table.append(row("kialiops first-run writes per spoke, %d spoke(s) (%g objects written per spoke)" % (n, objs),
                         w, "<= %g x %g + %d = %g" % (WRITES_FACTOR, objs, WRITES_CONSTANT, limit), w <= limit))
    for n in plan:
        s = str(n)
        table.append(row("kialiops rerun mutating requests, dry runs included (all clusters), %d spoke(s)" % n,
                         k[s]["rerun_mutating_requests"], "0", k[s]["rerun_mutating_requests"] == 0))
    for n in plan:
        s = str(n)
        p, q = k[s]["first_run_requests_per_spoke"], k[s]["rerun_requests_per_spoke"]
        table.append(row("kialiops per spoke, %d spoke(s): reads / reviews / dry runs / verification (as Kiali's "
                         "SA), first run; rerun" % n, "%s; %s" % (_rrv(p), _rrv(q))))
    for n in plan:
        s = str(n)
        table.append(row("naive wall s, first run / rerun, %d spoke(s)" % n,
                         "%g / %g" % (nv[s]["first_wall_median_s"], nv[s]["rerun_wall_median_s"])))
    table.append(row("naive first-run wall, %d / %d spoke(s)" % (hi, lo), nv[str(hi)]["wall_ratio_to_%d" % lo]))
    for n in plan:
        a, b = nv[str(n)]["first_run_cpu_s"], nv[str(n)]["rerun_cpu_s"]
        if a and b:
            table.append(row("naive Ansible CPU s, first run / rerun, %d spoke(s)" % n,
                             "%g / %g" % (a["ansible"], b["ansible"])))
    for n in plan:
        s = str(n)
        table.append(row("naive writes per spoke, first run / rerun, %d spoke(s) (%g objects written per spoke)"
                         % (n, nv[s]["objects_written_per_spoke"]),
                         "%g / %g" % (nv[s]["first_run_writes_per_spoke"],
                                      nv[s]["rerun_requests_per_spoke"].get("writes", 0))))
        table.append(row("naive rerun mutating requests (all clusters), %d spoke(s)" % n,
                         nv[s]["rerun_mutating_requests"]))
        table.append(row("naive per spoke, %d spoke(s): reads, first run; rerun" % n,
                         "%g; %g" % (nv[s]["first_run_requests_per_spoke"].get("reads", 0),
                                     nv[s]["rerun_requests_per_spoke"].get("reads", 0))))
    for n in plan:
        s = str(n)
        q = res["kialiops_over_naive"][s]
        table.append(row("kialiops / naive, %d spoke(s): wall, first run / rerun" % n,
                         "%s / %s" % (q["first_wall"], q["rerun_wall"])))
        table.append(row("kialiops / naive, %d spoke(s): first-run requests per spoke, writes / without "
                         "verification / all" % n,
                         "%s / %s / %s" % (q["first_writes"], q["first_requests_unverified"], q["first_requests"])))
    res["table"] = table
    res["meets"] = {r["metric"]: r["met"] for r in table if r["met"] is not None}
    return res


def median_cpu(reps: list[dict], key: str) -> dict | None:
    """Median of each CPU figure (ansible, lab) of ``key`` over the repetitions; None when a run lacks it."""
    cpus = [r.get(key) for r in reps]
    if not cpus or not all(cpus):
        return None
    return {part: round(statistics.median(c[part] for c in cpus), 2) for part in cpus[0]}


def script_rows(two: dict) -> list[dict]:
    """prepare.yml for SCRIPT_SPOKES spokes, first run and rerun: wall and Ansible CPU beside Kiali's script."""
    rows = []
    for run_name, wall, cpu in (("first run", two["first_wall_median_s"], two["first_run_cpu_s"]),
                                ("rerun", two["rerun_wall_median_s"], two["rerun_cpu_s"])):
        if cpu is None:
            continue
        rows.append(row("kialiops prepare.yml, %d spokes (verification included), %s: wall s / Ansible CPU s"
                        % (SCRIPT_SPOKES, run_name), "%g / %g" % (wall, cpu["ansible"]),
                        "<= %g / <= %g (Kiali's prepare script, east + west)" % (SCRIPT_S, SCRIPT_S),
                        wall <= SCRIPT_S and cpu["ansible"] <= SCRIPT_S))
    return rows


def total(counts: dict, verification: bool = True) -> float:
    """Requests in ``counts`` (writes, dry runs, reads, reviews and, unless told not to, verification)."""
    keys = ("writes", "dry_runs", "reads", "reviews") + (("verification",) if verification else ())
    return sum(counts.get(k, 0) for k in keys)


def _rrv(p: dict) -> str:
    return "%g / %g / %g / %g" % (p.get("reads", 0), p.get("reviews", 0), p.get("dry_runs", 0),
                                  p.get("verification", 0))


def main() -> int:
    plan = sizes("1,2,5,10")
    spokes = ["s%02d" % i for i in range(1, plan[-1] + 1)]
    runs: dict = {t: {n: [] for n in plan} for t in TOOLS}
    try:
        with Lab("onboard", ["hub"] + spokes, offset=400, timeout=600) as lab:
            if os.environ.get("BENCH_WARMUP", "1") != "0":
                for tool in TOOLS:   # not measured: the first run on a fresh lab pays for cold caches
                    onboard(lab, tool, spokes, warm_up=True)
            for rep in range(repeat(2)):
                for n in plan:
                    # alternate which tool goes first, so neither always runs on the warmer API servers
                    for tool in (list(TOOLS) if rep % 2 == 0 else list(reversed(TOOLS))):
                        runs[tool][n].append(onboard(lab, tool, spokes[:n]))
                        print("bench: %s, %d spoke(s): %.1f s, rerun %.1f s" % (
                            tool, n, runs[tool][n][-1]["first_s"], runs[tool][n][-1]["rerun_s"]), file=sys.stderr)
            up_s = lab.up_s
    except BenchError as e:
        sys.exit("bench: %s" % e)
    res = summarise(plan, runs)
    res["lab_up_s"] = round(up_s, 1)
    path = write("onboarding", res)
    print("\n".join(markdown_table(res["table"])))
    print("bench: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
