#!/usr/bin/env python3
"""Benchmark: playbooks/site.yml (validate, plan, report, prepare in parallel, Kiali CR, verify) for 1, 2, 5 and 20
spokes on one private lab (hub + s01..s20): wall time and CPU-seconds of Ansible's process tree.

Each size runs against its own Kiali namespace and instance name (fresh onboarding, not a rerun), then once more
(the no-op rerun: 0 mutating requests on every cluster, from the audit logs). Targets, in Ansible CPU-seconds:
1 spoke <= 5 (first run) and <= 4 (no-op rerun); each added spoke <= 1.5 (first run) and <= 1.0 (rerun), from the
difference between the smallest and the largest size. The wall ratio largest / smallest is reported without a
target (on 2 cores shared with the lab's API servers it measures the machine), beside its CPU floor.
Before the first size, one site.yml with 1 spoke, not measured (BENCH_WARMUP=0 skips it), as in onboarding.py.
BENCH_SIZES=1,2,5,20 and BENCH_REPEAT=1 change the plan (CPU and wall figures are medians over the repetitions).
Results: bench/results/<date>-<machine>-site-scale.{json,md}.
"""
from __future__ import annotations

import os
import statistics
import sys
import uuid

from common import (ADMIN, LAST_RUN, REPO, BenchError, Lab, audit, markdown_table, playbook, ratio, repeat, row, sizes,
                    write)

TARGETS = {"first_1": 5.0, "rerun_1": 4.0, "first_per_spoke": 1.5, "rerun_per_spoke": 1.0}   # Ansible CPU s


def site(lab: Lab, spokes: list[str], suffix: str) -> float:
    inv = lab.inventory(spokes, suffix, {"kialiops_kiali_namespace": "kb-" + suffix,
                                         "kialiops_instance_name": "kb-" + suffix,
                                         "kialiops_remote_namespace": "kb-" + suffix})
    return playbook(inv, REPO / "playbooks" / "site.yml", "%d spokes" % len(spokes))


def per_added_spoke(cpu: dict[int, dict], lo: int, hi: int) -> dict:
    """CPU s per spoke added between ``lo`` and ``hi`` spokes, Ansible and the lab's API servers (pure)."""
    return {part: round((cpu[hi][part] - cpu[lo][part]) / (hi - lo), 2) for part in ("ansible", "lab")}


def summarise(plan: list[int], runs: dict[int, list[dict]], cores: int) -> dict:
    """The results document from runs[size] = [{first_s, rerun_s, first_cpu, rerun_cpu, rerun_writes}, ...] (pure;
    unit-tested). CPU figures are {"ansible": s, "lab": s}."""
    def med(n, key):
        return statistics.median(r[key] for r in runs[n])

    def med_cpu(n, key):
        return {part: round(statistics.median(r[key][part] for r in runs[n]), 1) for part in ("ansible", "lab")}

    wall = {n: med(n, "first_s") for n in plan}
    again = {n: med(n, "rerun_s") for n in plan}
    cpu = {n: med_cpu(n, "first_cpu") for n in plan}
    cpu_again = {n: med_cpu(n, "rerun_cpu") for n in plan}
    writes = {n: max(r["rerun_writes"] for r in runs[n]) for n in plan}
    lo, hi = plan[0], plan[-1]
    t = TARGETS
    res: dict = {
        "spokes": plan, "cpus": cores, "targets_ansible_cpu_s": t,
        "first_run_wall_s": {str(n): [r["first_s"] for r in runs[n]] for n in plan},
        "rerun_wall_s": {str(n): [r["rerun_s"] for r in runs[n]] for n in plan},
        "first_run_cpu_s": {str(n): cpu[n] for n in plan},
        "rerun_cpu_s": {str(n): cpu_again[n] for n in plan},
        "rerun_mutating_requests": {str(n): writes[n] for n in plan},
        "ratio_to_%d" % lo: {str(n): ratio(wall[n], wall[lo]) for n in plan},
    }
    table = [row("site.yml wall s, %d spoke(s), first run / no-op rerun" % n, "%g / %g" % (wall[n], again[n]))
             for n in plan]
    table += [row("site.yml CPU s, %d spoke(s), Ansible / the lab's API servers: first run; rerun" % n,
                  "%g / %g; %g / %g" % (cpu[n]["ansible"], cpu[n]["lab"], cpu_again[n]["ansible"],
                                        cpu_again[n]["lab"])) for n in plan]
    if lo == 1:
        table.append(row("site.yml Ansible CPU s, 1 spoke, first run", cpu[1]["ansible"], "<= %g" % t["first_1"],
                         cpu[1]["ansible"] <= t["first_1"]))
        table.append(row("site.yml Ansible CPU s, 1 spoke, no-op rerun", cpu_again[1]["ansible"],
                         "<= %g" % t["rerun_1"], cpu_again[1]["ansible"] <= t["rerun_1"]))
    if hi > lo:
        first, rerun = per_added_spoke(cpu, lo, hi), per_added_spoke(cpu_again, lo, hi)
        res["per_added_spoke_cpu_s"] = {"first": first, "rerun": rerun, "between": [lo, hi],
                                        "steps": {"%d-%d" % (a, b): per_added_spoke(cpu, a, b)
                                                  for a, b in zip(plan, plan[1:])}}
        table.append(row("site.yml Ansible CPU s per added spoke, first run (%d -> %d spokes; the lab's API servers: "
                         "%s)" % (lo, hi, first["lab"]), first["ansible"], "<= %g" % t["first_per_spoke"],
                         first["ansible"] <= t["first_per_spoke"]))
        table.append(row("site.yml Ansible CPU s per added spoke, no-op rerun (%d -> %d spokes; the lab's API "
                         "servers: %s)" % (lo, hi, rerun["lab"]), rerun["ansible"], "<= %g" % t["rerun_per_spoke"],
                         rerun["ansible"] <= t["rerun_per_spoke"]))
        # A run cannot be faster than its CPU time spread over every core: the floor of the ratio on this machine
        floor = {k: ratio(max(wall[lo], (cpu[hi]["lab"] + (cpu[hi]["ansible"] if k == "all" else 0)) / cores),
                          wall[lo]) for k in ("all", "lab")}
        res["cpu_floor_of_ratio"] = floor
        table.append(row("site.yml first-run wall, %d / %d spokes (no target: CPU-bound on this machine)" % (hi, lo),
                         res["ratio_to_%d" % lo][str(hi)]))
        table.append(row("floor of the %d / %d ratio on %d cores (CPU of the %d-spoke run / cores / wall of %d): "
                         "everything / the lab's API servers alone" % (hi, lo, cores, hi, lo),
                         "%s / %s" % (floor["all"], floor["lab"])))
    table += [row("site.yml rerun mutating requests, %d spoke(s)" % n, writes[n], "0", writes[n] == 0) for n in plan]
    res["table"] = table
    res["meets"] = {r["metric"]: r["met"] for r in table if r["met"] is not None}
    return res


def main() -> int:
    from kubernetes import client
    plan = sizes("1,2,5,20")
    spokes = ["s%02d" % i for i in range(1, plan[-1] + 1)]
    runs: dict = {n: [] for n in plan}
    try:
        with Lab("scale", ["hub"] + spokes, offset=600, timeout=600) as lab:
            up_s = lab.up_s
            hub = client.CoreV1Api(lab.client("hub"))
            if os.environ.get("BENCH_WARMUP", "1") != "0":
                # not measured, as in bench/onboarding.py: the first run on a fresh lab pays for cold caches and
                # meets 21 API servers still starting up (it measured 5.3 CPU-s for 1 spoke, 5.2 for 2 right after)
                sfx = uuid.uuid4().hex[:6]
                hub.create_namespace({"metadata": {"name": "kb-" + sfx}})
                site(lab, spokes[:1], sfx)
            for _ in range(repeat(1)):
                for n in plan:
                    sfx = uuid.uuid4().hex[:6]
                    hub.create_namespace({"metadata": {"name": "kb-" + sfx}})
                    one: dict = {}
                    lab_cpu = lab.cpu_s()
                    one["first_s"] = site(lab, spokes[:n], sfx)
                    one["first_cpu"] = {"ansible": LAST_RUN["ansible_cpu_s"], "lab": round(lab.cpu_s() - lab_cpu, 1)}
                    marks, lab_cpu = lab.marks(), lab.cpu_s()
                    one["rerun_s"] = site(lab, spokes[:n], sfx)
                    one["rerun_cpu"] = {"ansible": LAST_RUN["ansible_cpu_s"], "lab": round(lab.cpu_s() - lab_cpu, 1)}
                    events = lab.since(marks)
                    one["rerun_writes"] = sum(len(audit.mutating(evs, ADMIN)) for evs in events.values())
                    runs[n].append(one)
                    print("bench: site.yml, %d spoke(s): %.1f s (%s CPU s), rerun %.1f s (%s CPU s)" % (
                        n, one["first_s"], one["first_cpu"]["ansible"], one["rerun_s"],
                        one["rerun_cpu"]["ansible"]), file=sys.stderr)
    except BenchError as e:
        sys.exit("bench: %s" % e)
    res = summarise(plan, runs, os.cpu_count() or 1)
    res["lab_up_s"] = round(up_s, 1)
    path = write("site-scale", res)
    print("\n".join(markdown_table(res["table"])))
    print("bench: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
