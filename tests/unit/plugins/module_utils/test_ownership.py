# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ownership verdict every writer asks before it touches a live object."""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._ownership import (
    ADOPTED,
    FOREIGN,
    MOVED,
    OWNED,
    Ownership,
    kialiops_home,
    maker,
)


def obj(**labels):
    return {"metadata": {"name": "kiali", "labels": labels}}


KIALIOPS_HUB = obj(**{"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"})
CHART = obj(**{"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "kiali-server-2.28.0",
               "app.kubernetes.io/instance": "kiali"})
HAND_MADE = obj(app="kiali")


def test_absent_and_same_home_are_owned():
    assert Ownership("hub").verdict(None) == OWNED
    assert Ownership("hub").verdict(KIALIOPS_HUB) == OWNED


def test_another_home_moves_only_when_the_run_moves_from_it():
    assert Ownership("mgmt").verdict(KIALIOPS_HUB) == FOREIGN
    assert Ownership("mgmt", moving_from=["hub"]).verdict(KIALIOPS_HUB) == MOVED
    assert Ownership("hub", moving_from=["hub"]).verdict(KIALIOPS_HUB) == OWNED


def test_an_installer_object_is_adopted_only_when_asked():
    assert Ownership("hub").verdict(CHART) == FOREIGN
    assert Ownership("hub", adopt=True).verdict(CHART) == ADOPTED
    assert maker(CHART) == "kiali-server chart"


def test_unknown_makers_and_other_homes_stay_foreign_even_with_adopt():
    assert Ownership("hub", adopt=True).verdict(HAND_MADE) == FOREIGN
    assert Ownership("mgmt", adopt=True).verdict(KIALIOPS_HUB) == FOREIGN
    assert kialiops_home(HAND_MADE) is None
    assert kialiops_home(KIALIOPS_HUB) == "hub"
