# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.filter.names import FilterModule

CLUSTER_NAME = FilterModule().filters()["cluster_name"]


def test_valid_name_passes_through():
    assert CLUSTER_NAME("east-1") == "east-1"


@pytest.mark.parametrize("value, fragment", [
    ("East", "uppercase"),
    ("", "empty"),
    (3, "expected a string, got int"),
    (None, "expected a string, got NoneType"),
])
def test_invalid_names_fail_naming_the_filter(value, fragment):
    with pytest.raises(AnsibleFilterError) as caught:
        CLUSTER_NAME(value)
    assert str(caught.value).startswith("kialiops.multicluster.cluster_name: ")
    assert fragment in str(caught.value)
