#!/usr/bin/env python3
"""The one table of `make bench`: every benchmark's rows (metric, value, target, met?) from its results file,
printed as markdown and written to bench/results/latest.md (the summary the README links).

Takes, per benchmark (lab, onboarding, site-scale), the newest results file of this `make bench` run ($BENCH_RUN,
set by the Makefile), else the newest one there is. Exits non-zero only when a results file is missing or unreadable,
not when a target is missed (the table says so).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from common import RESULTS, load_line, markdown_table

BENCHMARKS = ("lab", "onboarding", "site-scale")


def newest(results: Path, name: str, run: str = "") -> tuple[Path, dict] | None:
    """The newest results document of benchmark ``name`` (of run ``run`` when given), by its date field."""
    found = []
    for path in results.glob("*-%s.json" % name):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("benchmark") != name or (run and doc.get("run") != run):
            continue
        found.append((doc.get("date", ""), path, doc))
    if not found:
        return None
    _, path, doc = max(found, key=lambda f: (f[0], f[1].name))
    return path, doc


def summary(docs: dict[str, tuple[Path, dict]]) -> list[str]:
    """Markdown of latest.md: where and when, one table of every benchmark's rows, the files they come from."""
    rows, sources, machines = [], [], set()
    for name, (path, doc) in docs.items():
        machines.add(json.dumps(doc.get("machine", {}), sort_keys=True))
        sources.append("- %s: [%s](%s) (%s; %s)" % (name, path.with_suffix(".md").name, path.with_suffix(".md").name,
                                                    doc.get("date", "?"), load_line(doc)))
        for r in doc.get("results", {}).get("table") or []:
            rows.append(dict(r, benchmark=name))
    missed = [r for r in rows if r.get("met") is False]
    judged = [r for r in rows if r.get("met") is not None]
    out = ["# Benchmarks: latest results", "",
           "`make bench` on `%s`." % "`, `".join(sorted(machines)), "",
           "Targets met: %d of %d." % (len(judged) - len(missed), len(judged)), ""]
    out += markdown_table(rows, benchmark_column=True)
    out += ["", "From (wall times stretch with the machine's load, CPU-seconds much less):"] + sources
    if missed:
        out += ["", "Missed: " + "; ".join("%s: %s" % (r["benchmark"], r["metric"]) for r in missed) + "."]
    return out


def main() -> int:
    run = os.environ.get("BENCH_RUN", "")
    docs, missing = {}, []
    for name in BENCHMARKS:
        got = newest(RESULTS, name, run)
        if got is None:
            missing.append(name)
        else:
            docs[name] = got
    if not docs:
        sys.exit("bench: no results in %s%s" % (RESULTS, " for run %s" % run if run else ""))
    md = summary(docs)
    (RESULTS / "latest.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print("bench: wrote %s" % (RESULTS / "latest.md"))
    if missing:
        print("bench: no results of %s%s" % (", ".join(missing), " in run %s" % run if run else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
