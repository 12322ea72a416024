#!/usr/bin/env python3
"""Benchmark: wall time of playbooks/site.yml (validate, report, prepare in parallel, Kiali CR, verify) for 1, 5
and 20 spokes on one private lab (hub + s01..s20), target 20 spokes <= 2.5 x 1 spoke.

Each size runs against its own Kiali namespace and instance name (fresh onboarding, not a rerun), then once more
(the no-op rerun: 0 mutating requests on every cluster, from the audit logs). BENCH_SIZES=1,5,20 and
BENCH_REPEAT=1 change the plan.
Results: bench/results/<date>-<machine>-site-scale.{json,md}.
"""
from __future__ import annotations

import os
import statistics
import sys
import uuid

from common import (ADMIN, LAST_RUN, REPO, BenchError, Lab, audit, markdown_table, playbook, ratio, repeat, row, sizes,
                    write)

TARGET = 2.5


def site(lab: Lab, spokes: list[str], suffix: str) -> float:
    inv = lab.inventory(spokes, suffix, {"kialiops_kiali_namespace": "kb-" + suffix,
                                         "kialiops_instance_name": "kb-" + suffix,
                                         "kialiops_remote_namespace": "kb-" + suffix})
    return playbook(inv, REPO / "playbooks" / "site.yml", "%d spokes" % len(spokes))


def main() -> int:
    from kubernetes import client
    plan = sizes("1,5,20")
    spokes = ["s%02d" % i for i in range(1, plan[-1] + 1)]
    res: dict = {}
    try:
        with Lab("scale", ["hub"] + spokes, offset=600, timeout=600) as lab:
            res["lab_up_s"] = round(lab.up_s, 1)
            hub = client.CoreV1Api(lab.client("hub"))
            wall, rerun, rerun_writes, cpu = {}, {}, {}, {}
            for _ in range(repeat(1)):
                for n in plan:
                    sfx = uuid.uuid4().hex[:6]
                    hub.create_namespace({"metadata": {"name": "kb-" + sfx}})
                    lab_cpu = lab.cpu_s()
                    wall.setdefault(n, []).append(site(lab, spokes[:n], sfx))
                    cpu[n] = {"ansible": LAST_RUN["ansible_cpu_s"], "lab": round(lab.cpu_s() - lab_cpu, 1)}
                    marks = lab.marks()
                    rerun.setdefault(n, []).append(site(lab, spokes[:n], sfx))
                    events = lab.since(marks)
                    rerun_writes[n] = max(rerun_writes.get(n, 0),
                                          sum(len(audit.mutating(evs, ADMIN)) for evs in events.values()))
    except BenchError as e:
        sys.exit("bench: %s" % e)
    med = {n: statistics.median(v) for n, v in wall.items()}
    lo, hi = plan[0], plan[-1]
    res.update(
        spokes=plan,
        first_run_wall_s={str(n): v for n, v in wall.items()},
        rerun_wall_s={str(n): v for n, v in rerun.items()},
        rerun_mutating_requests={str(n): v for n, v in rerun_writes.items()},
        ratio_to_1={str(n): ratio(med[n], med[lo]) for n in plan},
        target="%d spokes <= %g x %d spoke" % (hi, TARGET, lo),
        cpus=os.cpu_count(),
        first_run_cpu_s={str(n): v for n, v in cpu.items()},
    )
    # A run cannot be faster than its CPU time spread over every core: the floor of the ratio on this machine
    cores = os.cpu_count() or 1
    floor = {k: ratio(max(med[lo], (cpu[hi]["lab"] + (cpu[hi]["ansible"] if k == "all" else 0)) / cores), med[lo])
             for k in ("all", "lab")}
    res["cpu_floor_of_ratio"] = floor
    res["meets"] = {"ratio": res["ratio_to_1"][str(hi)] <= TARGET,
                    "rerun_zero_writes": all(v == 0 for v in rerun_writes.values())}
    table = [row("site.yml first run, %d spoke(s), wall s" % n, med[n]) for n in plan]
    table.append(row("site.yml wall %d / %d spokes" % (hi, lo), res["ratio_to_1"][str(hi)], "<= %g" % TARGET,
                     res["meets"]["ratio"] if hi > lo else None))
    table += [row("site.yml first run, %d spoke(s), CPU s: Ansible / the lab's API servers" % n,
                  "%s / %s" % (cpu[n]["ansible"], cpu[n]["lab"])) for n in plan]
    if hi > lo:
        table.append(row("site.yml CPU s per added spoke: Ansible / the lab's API servers", "%s / %s" % (
            round((cpu[hi]["ansible"] - cpu[lo]["ansible"]) / (hi - lo), 2),
            round((cpu[hi]["lab"] - cpu[lo]["lab"]) / (hi - lo), 2))))
        table.append(row("floor of the %d / %d ratio on %d cores (CPU of the %d-spoke run / cores / wall of %d): "
                         "everything / the lab's API servers alone" % (hi, lo, cores, hi, lo),
                         "%s / %s" % (floor["all"], floor["lab"])))
    table += [row("site.yml rerun mutating requests, %d spoke(s)" % n, rerun_writes[n], "0", rerun_writes[n] == 0)
              for n in plan]
    res["table"] = table
    path = write("site-scale", res)
    print("\n".join(markdown_table(table)))
    print("bench: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
