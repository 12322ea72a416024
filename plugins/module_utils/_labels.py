# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The labels kialiops puts on what it creates, and the selector that finds them again (never name patterns)."""

from __future__ import annotations

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "kialiops"
# Which Kiali home cluster the object serves: pruning and removal select by managed-by + home.
HOME_KEY = "kialiops.io/home"
INSTANCE_KEY = "app.kubernetes.io/instance"
# Kiali's own labels on its remote-cluster objects (chart and operator), so Kiali tooling recognises ours.
KIALI_LABELS = {"app": "kiali", "app.kubernetes.io/name": "kiali", "app.kubernetes.io/part-of": "kiali"}


def owned_labels(home):
    """``managed-by: kialiops`` and ``kialiops.io/home: <home>``: on every object kialiops creates."""
    return {MANAGED_BY_KEY: MANAGED_BY, HOME_KEY: home}


def kiali_labels(instance, home):
    """Labels of a remote Kiali object (ServiceAccount, roles, bindings, OAuthClient) of ``instance``."""
    labels = dict(KIALI_LABELS)
    labels[INSTANCE_KEY] = instance
    labels.update(owned_labels(home))
    return labels


def home_selector(home):
    """Label selector of everything kialiops created for ``home``."""
    return "%s=%s,%s=%s" % (MANAGED_BY_KEY, MANAGED_BY, HOME_KEY, home)


def is_owned(obj, home):
    """True when ``obj`` carries managed-by kialiops and the home label ``home``."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_KEY) == MANAGED_BY and labels.get(HOME_KEY) == home
