"""Integration tests run against the local lab: real kube-apiservers on loopback.

A healthy lab (`make lab-up`) is reused, which keeps the edit-test loop fast; otherwise the
session starts its own and stops it when the run ends."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit import REPO, Lab, labtool


@pytest.fixture(scope="session")
def lab():
    lab_dir = Path(os.environ.get("LAB_DIR") or REPO / ".lab")
    os.environ["LAB_DIR"] = str(lab_dir)
    started = False
    if not labtool.status()["healthy"]:
        labtool.up()
        started = True
    the_lab = Lab(lab_dir)
    ips = sorted({c["ip"] for c in the_lab.clusters.values()})
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(ips + ["localhost"])
    yield the_lab
    if started:
        labtool.down()
