"""Read a lab cluster's audit log: count API requests by verb and user.

The lab's policy logs every request at Metadata level (no bodies) except the control plane's own.
Usage in tests and benchmarks:

    mark = AuditLog(path).mark()
    ... do something ...
    events = AuditLog(path).since(mark, until=lambda evs: any(...))
"""
from __future__ import annotations

import collections
import json
import time
from pathlib import Path

MUTATING = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class AuditLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def mark(self) -> int:
        """Current end of the log; pass it to since() to read only what comes after."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, offset: int = 0) -> list[dict]:
        events = []
        try:
            with self.path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return events
        for line in data.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # a line being written
            if ev.get("stage") == "ResponseComplete":
                events.append(ev)
        return events

    def since(self, offset: int, until=None, settle: float = 1.0, timeout: float = 5.0) -> list[dict]:
        """Events after offset. Whether the apiserver writes an event before it answers is not
        guaranteed, so poll: until the predicate holds (if given), else until the log stops growing."""
        deadline = time.time() + timeout
        last_size, stable_since = -1, time.time()
        while True:
            events = self.read(offset)
            if until is not None and until(events):
                return events
            size = self.mark()
            if size != last_size:
                last_size, stable_since = size, time.time()
            if until is None and time.time() - stable_since >= settle:
                return events
            if time.time() >= deadline:
                return events
            time.sleep(0.1)


def user(ev: dict) -> str:
    return ev.get("user", {}).get("username", "")


def code(ev: dict) -> int:
    return ev.get("responseStatus", {}).get("code", 0)


def count_by_verb(events: list[dict], username: str | None = None) -> dict[str, int]:
    c = collections.Counter(ev["verb"] for ev in events if username is None or user(ev) == username)
    return dict(sorted(c.items()))


def mutating(events: list[dict], username: str | None = None, include_reviews: bool = False) -> list[dict]:
    """Mutating requests. SelfSubject*Reviews and TokenReviews are 'create' but change nothing;
    they are left out unless include_reviews."""
    out = []
    for ev in events:
        if ev.get("verb") not in MUTATING:
            continue
        if username is not None and user(ev) != username:
            continue
        if not include_reviews and ev.get("objectRef", {}).get("resource", "").endswith("reviews"):
            continue
        out.append(ev)
    return out
