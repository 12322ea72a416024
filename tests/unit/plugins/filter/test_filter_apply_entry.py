# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.filter.plan import FilterModule

ENTRY = FilterModule().filters()["apply_entry"]
SKIPPED = {"skipped": True, "changed": False}
SAME = {"changed": False}
CHANGED = {"changed": True}


@pytest.mark.parametrize("access, secret", [(None, None), (SKIPPED, SKIPPED), (SKIPPED, None), (None, SAME)])
def test_no_plan_validates_first(access, secret):
    """--check, a GitOps export, a plan left out: the prepare entry point (argument spec, validate.yml)."""
    assert ENTRY(access, secret) == "prepare"
    assert ENTRY(access, secret, True) == "prepare"


def test_a_plan_that_changes_nothing_applies_nothing():
    assert ENTRY(SAME, SAME) == ""
    assert ENTRY(SAME, dict(SAME, superseded_token_secrets=[])) == ""


@pytest.mark.parametrize("access, secret", [
    (CHANGED, SAME), (SAME, CHANGED), (SAME, SKIPPED), (SAME, None),
    (SAME, dict(SAME, superseded_token_secrets=["kiali-token-1"])),   # the deferred clean-up needs the apply's result
])
def test_a_plan_with_something_to_do_applies_without_validating_again(access, secret):
    assert ENTRY(access, secret) == "apply"


def test_the_operator_backend_always_applies_through_the_prepare_entry():
    """The plan does not see what the operator will do with its changed CR; tasks/apply.yml has only the direct
    backend's writes."""
    assert ENTRY(SAME, SAME, True) == "prepare"
    assert ENTRY(SKIPPED, SAME, True) == "prepare"   # its plan registers remote_access skipped


def test_not_a_registered_result_is_named():
    with pytest.raises(AnsibleFilterError, match="access must be a registered result, got str"):
        ENTRY("changed", SAME)
