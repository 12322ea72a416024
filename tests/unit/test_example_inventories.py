"""The example inventories parse with ansible-inventory and form valid topologies."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._topology import validate_topology

REPO = Path(__file__).resolve().parents[2]
# acm-plugin reads an ACM hub: tests/integration/test_acm_inventory.py runs it on the lab
EXAMPLES = sorted(p for p in (REPO / "inventories" / "examples").iterdir() if p.name != "acm-plugin")


@pytest.mark.parametrize("inventory", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_inventory_is_a_valid_topology(inventory):
    out = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--list"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    data = json.loads(out.stdout)
    groups = {g: data.get(g, {}).get("hosts", []) for g in ("hub", "spoke", "external")}
    hostvars = data["_meta"]["hostvars"]
    topo = validate_topology(groups, hostvars)
    assert topo["topology"] == ("external" if inventory.name == "external" else "co-located")
    assert topo["home"]["name"] == ("mgmt" if inventory.name == "external" else "hub")
