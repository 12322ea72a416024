"""Integration tests run against the local lab: real kube-apiservers on loopback.

A healthy lab (`make lab-up`) is reused, which keeps the edit-test loop fast; otherwise the
session starts its own and stops it when the run ends."""
from __future__ import annotations

import pytest

from labkit import session_lab


@pytest.fixture(scope="session")
def lab():
    with session_lab() as the_lab:
        yield the_lab
