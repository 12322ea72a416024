"""Each role's defaults/main.yml and meta/argument_specs.yml state the same defaults (STYLE §7)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if (p / "meta").is_dir())
# "{{ kialiops_x | default(<literal>) }}": a collection-wide knob with the role's own default
KNOB = re.compile(r"^\{\{\s*kialiops_\w+\s*\|\s*default\((?P<literal>.*)\)\s*\}\}$")
# A default decided for the whole run by playbooks/preflight.yml (the auth strategy): no literal default to state.
DECIDED = re.compile(r"hostvars\['localhost'\]\.kialiops_auth\.")


def effective(value):
    if isinstance(value, str):
        m = KNOB.match(value.strip())
        if m:
            return ast.literal_eval(m.group("literal").replace("true", "True").replace("false", "False"))
    return value


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_match_argument_specs(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert name.startswith(role.name + "_"), "%s: %s lacks the role prefix" % (role.name, name)
        assert name in spec, "%s: %s is not in meta/argument_specs.yml" % (role.name, name)
        if isinstance(value, str) and DECIDED.search(value):
            assert "default" not in spec[name] and "preflight" in str(spec[name]["description"]), (role.name, name)
            continue
        assert spec[name].get("default") == effective(value), (role.name, name)
    for name, option in spec.items():
        assert name.startswith(role.name + "_"), name
        if "default" in option:
            assert name in defaults, "%s: %s has a spec default but none in defaults/main.yml" % (role.name, name)
