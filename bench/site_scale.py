#!/usr/bin/env python3
"""Benchmark: wall time of playbooks/site.yml (validate, report, prepare in parallel, Kiali CR, verify) for 1, 5
and 20 spokes on one private lab of 21 clusters (hub + s01..s20), target 20 spokes <= 2.5 x 1 spoke.

Each size runs against its own Kiali namespace and instance name (fresh onboarding, not a rerun), then once more
(the no-op rerun). BENCH_SIZES=1,5,20 and BENCH_REPEAT=1 change the plan.
Results: bench/results/<date>-<machine>-site-scale.{json,md}.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "lab"))
sys.path.insert(0, str(REPO / "bench"))
import audit  # noqa: E402
from onboarding import lab  # noqa: E402
from run import write  # noqa: E402

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1,5,20").split(",")]
SPOKES = ["s%02d" % i for i in range(1, max(SIZES) + 1)]


def site(lab_dir: Path, spokes: list[str], suffix: str) -> float:
    inv = yaml.safe_load((lab_dir / "inventory.yml").read_text())
    ch = inv["all"]["children"]
    ch["spoke"]["hosts"] = {h: v for h, v in (ch["spoke"]["hosts"] or {}).items() if h in spokes}
    inv["all"]["vars"] = {"kialiops_kiali_namespace": "kb-" + suffix, "kialiops_instance_name": "kb-" + suffix,
                          "kialiops_remote_namespace": "kb-" + suffix}
    path = lab_dir / ("inv-%s.yml" % suffix)
    path.write_text(yaml.safe_dump(inv))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    t0 = time.time()
    r = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(path),
                        str(REPO / "playbooks" / "site.yml")], cwd=REPO, env=env, capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        sys.exit("bench: site.yml with %d spokes failed:\n%s" % (len(spokes), r.stdout[-4000:]))
    return round(time.time() - t0, 2)


def main() -> int:
    lab_dir = Path(tempfile.mkdtemp(prefix="kialiops-bench-scale-"))
    env = dict(os.environ, LAB_DIR=str(lab_dir), LAB_CLUSTERS="hub," + ",".join(SPOKES), LAB_SINGLE_IP="1",
               LAB_OPENSHIFT="", LAB_PORT_OFFSET=os.environ.get("LAB_PORT_OFFSET", "600"), LAB_TIMEOUT="600")
    res: dict = {}
    try:
        t0 = time.time()
        lab(["up"], env)
        res["lab_up_s"] = round(time.time() - t0, 1)
        state = json.loads((lab_dir / "state.json").read_text())
        logs = {c: audit.AuditLog(v["audit_log"]) for c, v in state["clusters"].items()}
        hub = client.CoreV1Api(config.new_client_from_config(str(lab_dir / "hub.kubeconfig")))
        wall, rerun, rerun_writes = {}, {}, {}
        for rep in range(int(os.environ.get("BENCH_REPEAT", "1"))):
            for n in SIZES:
                sfx = uuid.uuid4().hex[:6]
                hub.create_namespace({"metadata": {"name": "kb-" + sfx}})
                wall.setdefault(n, []).append(site(lab_dir, SPOKES[:n], sfx))
                marks = {c: log.mark() for c, log in logs.items()}
                rerun.setdefault(n, []).append(site(lab_dir, SPOKES[:n], sfx))
                rerun_writes[n] = sum(len(audit.mutating(logs[c].since(marks[c]), "kialiops-admin")) for c in logs)
        med = {n: statistics.median(v) for n, v in wall.items()}
        res.update(
            spokes=SIZES,
            first_run_wall_s={str(n): v for n, v in wall.items()},
            rerun_wall_s={str(n): v for n, v in rerun.items()},
            rerun_mutating_requests={str(n): v for n, v in rerun_writes.items()},
            ratio_to_1={str(n): round(med[n] / med[SIZES[0]], 2) for n in SIZES},
            target="%d spokes <= 2.5 x %d spoke" % (max(SIZES), SIZES[0]),
            cpus=os.cpu_count(),
        )
        res["meets"] = {"ratio": res["ratio_to_1"][str(max(SIZES))] <= 2.5,
                        "rerun_zero_writes": all(v == 0 for v in rerun_writes.values())}
    finally:
        lab(["down"], env)
        shutil.rmtree(lab_dir, ignore_errors=True)
    path = write("site-scale", res)
    print(json.dumps(res, indent=2))
    print("bench: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
