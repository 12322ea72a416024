"""contains(): what ensure() uses to skip a write that would change nothing."""
import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains

LIVE = {"metadata": {"name": "kiali", "labels": {"a": "1", "b": "2"}, "uid": "x"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}


@pytest.mark.parametrize("desired,expected", [
    ({"metadata": {"name": "kiali"}}, True),
    ({"metadata": {"labels": {"a": "1"}}}, True),
    ({"metadata": {"labels": {"a": "2"}}}, False),
    ({"metadata": {"labels": {"c": "1"}}}, False),
    ({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}, True),
    ({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, False),
    ({"rules": []}, False),
    ({"rules": LIVE["rules"] * 2}, False),
    ({"data": {"k": "v"}}, False),
])
def test_contains(desired, expected):
    assert contains(LIVE, desired) is expected
