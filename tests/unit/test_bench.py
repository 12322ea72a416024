"""The pure parts of the benchmark harness (bench/): audit-event accounting, per-spoke figures, the tables."""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import common  # noqa: E402  (bench/common.py)
import onboarding  # noqa: E402  (bench/onboarding.py)
import report  # noqa: E402  (bench/report.py)
import site_scale  # noqa: E402  (bench/site_scale.py)

ADMIN = common.ADMIN


def ev(verb, resource, name="", namespace="", user=ADMIN, code=200, group="", subresource="", uri=""):
    ref = {"resource": resource, "name": name, "namespace": namespace, "apiGroup": group}
    if subresource:
        ref["subresource"] = subresource
    return {"verb": verb, "objectRef": ref, "user": {"username": user}, "responseStatus": {"code": code},
            "stage": "ResponseComplete", "requestURI": uri}


SA = "system:serviceaccount:kr-1:"
FIRST = [
    ev("get", "namespaces", "kr-1", "kr-1", code=404),
    ev("patch", "namespaces", "kr-1", "kr-1", code=201),
    ev("patch", "serviceaccounts", "ki-1", "kr-1"),
    ev("create", "serviceaccounts", "ki-1", "kr-1", subresource="token", code=201),
    ev("patch", "clusterroles", "ki-1-viewer", group="rbac.authorization.k8s.io"),
    ev("patch", "clusterroles", "ki-1-viewer", group="rbac.authorization.k8s.io"),   # a retry: 2 writes, 1 object
    ev("delete", "clusterroles", "gone", group="rbac.authorization.k8s.io", code=404),  # wrote nothing
    ev("list", "clusterroles", group="rbac.authorization.k8s.io"),
    ev("create", "selfsubjectaccessreviews", group="authorization.k8s.io", code=201),
    ev("create", "selfsubjectaccessreviews", group="authorization.k8s.io", code=201, user=SA + "ki-1"),
    ev("get", "pods", user="system:serviceaccount:other:x"),
]


def test_classify_splits_writes_reads_reviews_and_verification():
    c = common.classify(FIRST, kiali_sa=SA)
    assert c["writes"] == 6
    assert c["write:patch clusterroles"] == 2
    assert c["write:create serviceaccounts/token"] == 1
    assert c["write:delete clusterroles"] == 1
    assert c["reads"] == 2 and c["read:get"] == 1 and c["read:list"] == 1
    assert c["reviews"] == 1
    assert c["verification"] == 1
    assert c["other"] == 1
    assert list(c) == sorted(c)


def test_classify_without_kiali_sa_counts_service_accounts_as_other():
    c = common.classify(FIRST)
    assert "verification" not in c and c["other"] == 2


def test_objects_written_are_distinct_successful_mutations():
    objs = common.objects_written(FIRST)
    assert objs == {("namespaces", "", "kr-1"), ("serviceaccounts", "kr-1", "ki-1"),
                    ("rbac.authorization.k8s.io/clusterroles", "", "ki-1-viewer")}


def test_dry_runs_are_counted_apart_and_write_nothing():
    dry = ev("patch", "clusterroles", "ki-1-other", group="rbac.authorization.k8s.io",
             uri="/apis/rbac.authorization.k8s.io/v1/clusterroles/ki-1-other?dryRun=All&fieldManager=kialiops")
    c = common.classify(FIRST + [dry], kiali_sa=SA)
    assert c["dry_runs"] == 1 and c["writes"] == 6 and "write:patch clusterroles" in c
    assert c["write:patch clusterroles"] == 2
    assert common.objects_written([dry]) == set()
    assert common.mutating_total({"s01": {"dry_runs": 1}, "hub": {"writes": 2}}) == 3


def test_objects_written_namespace_same_on_create_and_patch():
    created = common.objects_written([ev("create", "namespaces", "kr-1", "", code=201)])
    patched = common.objects_written([ev("patch", "namespaces", "kr-1", "kr-1")])
    assert created == patched


def test_objects_written_ignores_other_users_and_reviews():
    assert not common.objects_written([ev("create", "tokenreviews", group="authentication.k8s.io", code=201),
                                       ev("patch", "secrets", "s", "ns", user="someone")])


def test_per_spoke_divides_every_cluster_including_the_hub():
    counts = {"hub": {"writes": 2, "reads": 4}, "s01": {"writes": 5, "reads": 3}, "s02": {"writes": 5}}
    assert common.per_spoke(counts, 2) == {"reads": 3.5, "writes": 6.0}
    assert common.mutating_total(counts) == 12


def test_ratio():
    assert common.ratio(3, 2) == 1.5
    assert common.ratio(1, 0) is None


def test_markdown_table_marks_met_and_missed():
    lines = common.markdown_table([common.row("a", 1.5, "<= 2", True), common.row("b | c", {"x": 1}, "0", False),
                                   common.row("c", "7 / 8")])
    assert lines[0] == "| metric | value | target | met? |"
    assert lines[2] == "| a | 1.5 | <= 2 | yes |"
    assert lines[3] == '| b \\| c | `{"x": 1}` | 0 | **no** |'
    assert lines[4] == "| c | 7 / 8 |  |  |"


def test_sizes(monkeypatch):
    monkeypatch.setenv("BENCH_SIZES", "5,1,5")
    assert common.sizes("1,5,10") == [1, 5]
    monkeypatch.delenv("BENCH_SIZES")
    assert common.sizes("1,5,10") == [1, 5, 10]


def run(first_s, writes, objects, rerun_writes, verification=0, cpu=None):
    per = {"writes": writes, "reads": 10, "verification": verification}
    out = {"first_s": first_s, "rerun_s": first_s / 2, "first_per_spoke": per,
           "rerun_per_spoke": {"writes": rerun_writes, "reads": 10, "verification": verification},
           "first_by_cluster": {}, "rerun_by_cluster": {},
           "objects_per_spoke": objects, "objects": None, "rerun_mutating": rerun_writes}
    if cpu:
        out["first_cpu"], out["rerun_cpu"] = {"ansible": cpu, "lab": 1.0}, {"ansible": cpu / 2, "lab": 0.5}
    return out


def test_onboarding_summary_targets_and_ratios():
    runs = {"kialiops": {1: [run(10, 6, 5, 0, 170), run(12, 6, 5, 0, 170)], 10: [run(25, 6, 5, 0, 170)]},
            "naive": {1: [run(5, 6, 6, 6)], 10: [run(20, 6, 6, 60)]}}
    res = onboarding.summarise([1, 10], runs)
    k = res["kialiops"]
    assert k["1"]["first_wall_median_s"] == 11
    assert k["10"]["wall_ratio_to_1"] == round(25 / 11, 2)
    assert res["kialiops_over_naive"]["10"]["first_wall"] == 1.25
    assert res["kialiops_over_naive"]["1"]["first_writes"] == 1.0
    assert res["naive"]["10"]["rerun_mutating_requests"] == 60
    meets = res["meets"]
    assert not any("wall" in m for m in meets)                       # the wall-ratio target is dropped
    rows = {r["metric"]: r for r in res["table"]}
    assert rows["kialiops first-run wall, 10 / 1 spoke(s) (no target: CPU-bound on this machine)"]["value"] == 2.27
    assert meets["kialiops first-run writes per spoke, 10 spoke(s) (5 objects written per spoke)"] is True
    assert meets["kialiops rerun mutating requests, dry runs included (all clusters), 10 spoke(s)"] is True
    assert meets["kialiops verification requests per remote (as Kiali's SA), first run / rerun, 1 spoke(s)"] is False
    assert not any(m.startswith("naive") for m in meets)             # the baseline has no targets
    assert len(meets) == 6
    rows = {r["metric"]: r["value"] for r in res["table"]}
    assert rows["kialiops / naive, 1 spoke(s): first-run requests per spoke, writes / without verification / all"] \
        == "1.0 / 1.0 / %s" % round(186 / 16, 2)
    json.dumps(res)


def test_onboarding_summary_verification_per_remote_target():
    runs = {"kialiops": {1: [run(10, 6, 5, 0, 4)]}, "naive": {1: [run(5, 6, 6, 6)]}}
    res = onboarding.summarise([1], runs)
    assert res["kialiops"]["1"]["verification_per_remote"] == {"first": 4, "rerun": 4}
    r = next(r for r in res["table"] if r["metric"].startswith("kialiops verification requests per remote"))
    assert (r["value"], r["target"], r["met"]) == ("4 / 4", "<= 10", True)


def test_onboarding_summary_two_spokes_beside_the_prepare_script():
    """prepare.yml for 2 spokes, first run and rerun: wall and Ansible CPU each <= the script's 2.4 s."""
    runs = {"kialiops": {1: [run(1.5, 6, 5, 0, 4, cpu=1.2)], 2: [run(2.2, 6, 5, 0, 4, cpu=2.6),
                                                                 run(2.0, 6, 5, 0, 4, cpu=2.2)]},
            "naive": {1: [run(5, 6, 6, 6, cpu=3)], 2: [run(6, 6, 6, 6, cpu=4)]}}
    res = onboarding.summarise([1, 2], runs)
    assert res["kialiops"]["2"]["first_run_cpu_s"] == {"ansible": 2.4, "lab": 1.0}     # median of 2.6 and 2.2
    assert res["kialiops"]["2"]["rerun_cpu_s"] == {"ansible": 1.2, "lab": 0.5}
    rows = {r["metric"]: r for r in res["table"]}
    first = rows["kialiops prepare.yml, 2 spokes (verification included), first run: wall s / Ansible CPU s"]
    rerun = rows["kialiops prepare.yml, 2 spokes (verification included), rerun: wall s / Ansible CPU s"]
    assert first["value"] == "2.1 / 2.4" and first["met"] is True
    assert first["target"] == "<= 2.4 / <= 2.4 (Kiali's prepare script, east + west)"
    assert rerun["value"] == "1.05 / 1.2" and rerun["met"] is True
    assert rows["naive Ansible CPU s, first run / rerun, 2 spoke(s)"]["value"] == "4 / 2"
    assert rows["kialiops CPU s, 2 spoke(s), Ansible / the lab's API servers: first run; rerun"]["value"] \
        == "2.4 / 1; 1.2 / 0.5"
    runs["kialiops"][2] = [run(3.0, 6, 5, 0, 4, cpu=2.0)]                     # wall over the script's
    rows = {r["metric"]: r for r in onboarding.summarise([1, 2], runs)["table"]}
    assert rows["kialiops prepare.yml, 2 spokes (verification included), first run: wall s / Ansible CPU s"][
        "met"] is False


def test_onboarding_summary_one_size_has_no_wall_target():
    runs = {"kialiops": {1: [run(10, 6, 5, 0)]}, "naive": {1: [run(5, 6, 6, 6)]}}
    res = onboarding.summarise([1], runs)
    assert not any("wall" in m for m in res["meets"])


def test_report_takes_the_newest_of_the_run_and_marks_misses(tmp_path):
    def put(stem, name, date, run_id, rows):
        (tmp_path / (stem + ".json")).write_text(json.dumps(
            {"benchmark": name, "date": date, "run": run_id, "machine": {"host": "m"}, "results": {"table": rows}}))

    put("2026-01-01-m-lab", "lab", "2026-01-01T00:00:00Z", "r1", [common.row("old", 1, "<= 2", True)])
    put("2026-01-02-m-lab", "lab", "2026-01-02T00:00:00Z", "r2", [common.row("new", 3, "<= 2", False)])
    put("2026-01-02-m-onboarding", "onboarding", "2026-01-02T00:00:00Z", "r2", [common.row("w", 6, "<= 9.5", True)])
    assert report.newest(tmp_path, "lab", "r1")[1]["results"]["table"][0]["metric"] == "old"
    assert report.newest(tmp_path, "lab")[1]["results"]["table"][0]["metric"] == "new"
    assert report.newest(tmp_path, "site-scale") is None
    md = report.summary({n: report.newest(tmp_path, n, "r2") for n in ("lab", "onboarding")})
    assert any(ln.startswith("- lab: [2026-01-02-m-lab.md](2026-01-02-m-lab.md) (2026-01-02T00:00:00Z; load average")
               for ln in md)
    assert "| benchmark | metric | value | target | met? |" in md
    assert "| lab | new | 3 | <= 2 | **no** |" in md
    assert "Targets met: 1 of 2." in md
    assert md[-1] == "Missed: lab: new."


def test_onboarding_summary_cpu_floor_of_the_ratio(monkeypatch):
    """A run cannot be faster than its CPU time over every core: the floor of the ratio on this machine."""
    monkeypatch.setattr(onboarding.os, "cpu_count", lambda: 2)
    k1, k10 = run(10, 6, 5, 0, 170), run(40, 6, 5, 0, 170)
    k1["first_cpu"], k10["first_cpu"] = {"ansible": 8, "lab": 2}, {"ansible": 60, "lab": 50}
    runs = {"kialiops": {1: [k1], 10: [k10]}, "naive": {1: [run(5, 6, 6, 6)], 10: [run(20, 6, 6, 60)]}}
    k1["rerun_cpu"], k10["rerun_cpu"] = {"ansible": 4, "lab": 1}, {"ansible": 30, "lab": 10}
    rows = {r["metric"]: r["value"] for r in onboarding.summarise([1, 10], runs)["table"]}
    assert rows["kialiops CPU s, 10 spoke(s), Ansible / the lab's API servers: first run; rerun"] == "60 / 50; 30 / 10"
    floor = next(v for m, v in rows.items() if m.startswith("floor of the 10 / 1 ratio on 2 cores"))
    assert floor == "5.5 / 2.5"         # (60 + 50) / 2 / 10 and 50 / 2 / 10


def test_load_line_records_the_load_and_the_note():
    doc = {"load_avg": {"start": [12.35, 8.28, 6.84], "end": [3.5, 4, 5.25]}, "note": "machine shared"}
    assert common.load_line(doc) == ("load average (1 / 5 / 15 min) at start 12.35 / 8.28 / 6.84, "
                                     "at end 3.5 / 4 / 5.25; machine shared")
    assert common.load_line({}) == "load average (1 / 5 / 15 min) at start ?, at end ?"
    assert len(common.LOAD_AT_START) == 3


def test_write_records_the_load_at_start_and_end(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "machine", lambda: {"host": "m"})
    monkeypatch.setenv("BENCH_NOTE", "shared machine")
    path = common.write("x", {"table": [common.row("a", 1)]})
    doc = json.loads(path.read_text())
    assert doc["load_avg"]["start"] == common.LOAD_AT_START and len(doc["load_avg"]["end"]) == 3
    assert doc["note"] == "shared machine"
    assert "; shared machine" in path.with_suffix(".md").read_text()


def scale_run(first_s, first_cpu, rerun_cpu, lab=1.0, writes=0):
    return {"first_s": first_s, "rerun_s": first_s / 2, "first_cpu": {"ansible": first_cpu, "lab": lab},
            "rerun_cpu": {"ansible": rerun_cpu, "lab": lab / 2}, "rerun_writes": writes}


def test_site_scale_cpu_targets_per_run_and_per_added_spoke():
    runs = {1: [scale_run(10, 4.8, 3.0), scale_run(12, 5.4, 3.2)], 2: [scale_run(11, 6.0, 3.9)],
            20: [scale_run(40, 34.0, 22.0, lab=20.0, writes=1)]}
    res = site_scale.summarise([1, 2, 20], runs, cores=2)
    meets = res["meets"]
    assert res["first_run_cpu_s"]["1"] == {"ansible": 5.1, "lab": 1.0}              # median of 4.8 and 5.4
    assert meets["site.yml Ansible CPU s, 1 spoke, first run"] is False              # 5.1 > 5
    assert meets["site.yml Ansible CPU s, 1 spoke, no-op rerun"] is True             # 3.1 <= 4
    first = res["per_added_spoke_cpu_s"]["first"]
    assert first == {"ansible": round((34 - 5.1) / 19, 2), "lab": 1.0}
    assert res["per_added_spoke_cpu_s"]["steps"]["1-2"]["ansible"] == 0.9
    assert meets["site.yml Ansible CPU s per added spoke, first run (1 -> 20 spokes; the lab's API servers: 1.0)"] \
        is False                                                                     # 1.52 > 1.5
    assert meets["site.yml Ansible CPU s per added spoke, no-op rerun (1 -> 20 spokes; the lab's API servers: 0.5)"] \
        is True                                                                      # (22 - 3.1) / 19 = 0.99
    assert meets["site.yml rerun mutating requests, 20 spoke(s)"] is False
    assert not any("wall" in m for m in meets)                                       # no wall-ratio target
    rows = {r["metric"]: r["value"] for r in res["table"]}
    assert rows["site.yml first-run wall, 20 / 1 spokes (no target: CPU-bound on this machine)"] == round(40 / 11, 2)
    assert rows["site.yml wall s, 1 spoke(s), first run / no-op rerun"] == "11 / 5.5"
    floor = next(v for m, v in rows.items() if m.startswith("floor of the 20 / 1 ratio on 2 cores"))
    assert floor == "%s / %s" % (round(27 / 11, 2), 1.0)                             # (34 + 20) / 2 / 11; 10 < 11
    assert len(meets) == 4 + 3
    json.dumps(res)


def test_site_scale_one_size_has_no_per_spoke_rows():
    res = site_scale.summarise([1], {1: [scale_run(10, 4.0, 3.0)]}, cores=2)
    assert set(res["meets"]) == {"site.yml Ansible CPU s, 1 spoke, first run",
                                 "site.yml Ansible CPU s, 1 spoke, no-op rerun",
                                 "site.yml rerun mutating requests, 1 spoke(s)"}
    assert "per_added_spoke_cpu_s" not in res
