# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._names import (
    remote_secret_name,
    validate_cluster_name,
)

VALID = ["east", "a", "0", "east-1", "1east", "a-b-c", "x" * 63, "hub2"]

INVALID = [
    # name, words the message must hold
    ("", ["empty"]),
    ("East", ["uppercase", "E"]),
    ("east_1", ["'_'"]),
    ("east.1", ["'.'"]),
    ("-east", ["starts or ends with '-'"]),
    ("east-", ["starts or ends with '-'"]),
    ("x" * 64, ["64 characters"]),
    ("east west", ["' '"]),
    ("ëast", ["'ë'"]),
    (None, ["not a string"]),
    (12, ["not a string"]),
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names_are_returned_unchanged(name):
    assert validate_cluster_name(name) == name


@pytest.mark.parametrize("name, words", INVALID)
def test_invalid_names_say_what_and_why(name, words):
    with pytest.raises(ValueError) as caught:
        validate_cluster_name(name)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "DNS-1123 label" in message
    assert "Secret names" in message  # the why


def test_every_problem_is_named_at_once():
    with pytest.raises(ValueError) as caught:
        validate_cluster_name("-East_" + "x" * 60)
    message = str(caught.value)
    assert "66 characters" in message and "uppercase" in message and "'_'" in message and "starts or ends" in message


@pytest.mark.parametrize("cluster, expected", [
    ("east", "kiali-remote-cluster-secret-east"),
    ("west-2", "kiali-remote-cluster-secret-west-2"),
])
def test_remote_secret_name(cluster, expected):
    assert remote_secret_name(cluster) == expected


@pytest.mark.parametrize("cluster", ["East", "", "a_b"])
def test_remote_secret_name_validates_first(cluster):
    with pytest.raises(ValueError):
        remote_secret_name(cluster)
