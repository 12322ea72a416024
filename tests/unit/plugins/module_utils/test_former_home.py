# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure decisions of a move of Kiali's home: what the former home reads that the new one would not, the command
that removes its Kiali CR, the one-line summary."""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.filter.move import former_homes
from ansible_collections.kialiops.multicluster.plugins.module_utils._former_home import (
    delete_command,
    dropped_clusters,
    summary,
)


def test_a_cluster_the_new_home_will_not_read_is_dropped():
    assert dropped_clusters(["east", "west", "hub"], ["east", "west", "hub"], "mgmt") == []
    assert dropped_clusters(["east", "hub", "west"], ["east", "west"], "hub") == []   # the new home reads itself
    assert dropped_clusters(["east", "south"], ["east"], "mgmt") == ["south"]


def test_delete_command_names_the_connection():
    cr = dict(name="kiali", namespace="istio-system")
    assert delete_command(cr, dict(context="hub")) == "kubectl --context hub -n istio-system delete kialis.kiali.io kiali"
    assert delete_command(cr, dict(kubeconfig="/k", context=None)).startswith("kubectl --kubeconfig /k -n")


def test_summary_says_would_in_check_mode():
    removed = [dict(cluster="east"), dict(cluster="west")]
    crs = [dict(name="kiali", namespace="istio-system", action="kept", command="kubectl ...")]
    text = summary("hub", "mgmt", removed, [], crs, True)
    assert text.startswith("Kiali's home moves from hub to mgmt; would remove on hub the remote-cluster secrets of "
                           "east, west")
    assert "kialiops_remove_old_home_cr: true" in text
    assert "removed the Kiali CR" in summary("hub", "mgmt", [], ["east"], [dict(crs[0], action="removed")], False)


def test_former_homes_come_from_the_remotes_and_kialiops_move_from():
    hub, mgmt = dict(name="hub", host="hub-cluster"), dict(name="mgmt", host="mgmt")
    topology = dict(home=hub, remotes=[dict(name="east", host="east")], others=[mgmt])
    hostvars = {"east": {"remote_prepare_access": {"moved_from": ["mgmt"]}}, "west": {}}
    assert former_homes(topology, hostvars, ["east", "west"]) == [mgmt]
    assert former_homes(topology, {}, ["east"], ["mgmt", "hub"]) == [mgmt]   # never the home itself
    assert former_homes(topology, {}, ["east"]) == []
