# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Who may write an object kialiops wants: the one decision every writer asks before it touches a live object.

A live object is
- ``owned``: labelled ``managed-by=kialiops, kialiops.io/home=<this home>`` (kialiops writes it as always);
- ``moved``: labelled for kialiops of another home that this run moves Kiali away from (``moving_from``, the clusters
  of the inventory that were Kiali's home): re-labelled for the new home, never duplicated;
- ``adopted``: made by a known Kiali installer (the prepare script, the kiali-server chart), only when the user asked
  for adoption (``adopt``): labelled and brought under kialiops' field manager;
- ``foreign``: anything else: refused, named, nothing written.
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import (
    HOME_KEY,
    MANAGED_BY,
    MANAGED_BY_KEY,
)

OWNED, MOVED, ADOPTED, FOREIGN = "owned", "moved", "adopted", "foreign"
HELM_CHART_KEY = "helm.sh/chart"


def labels_of(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def kialiops_home(obj):
    """The home an object kialiops made serves, or None when kialiops did not make it."""
    labels = labels_of(obj)
    return labels.get(HOME_KEY) if labels.get(MANAGED_BY_KEY) == MANAGED_BY else None


def maker(obj):
    """The Kiali installer that made ``obj``, recognised by its labels (``kiali-server`` chart, which the prepare
    script renders with ``helm template``), or None. Never kialiops."""
    labels = labels_of(obj)
    if labels.get(MANAGED_BY_KEY) == MANAGED_BY:
        return None
    if str(labels.get(HELM_CHART_KEY, "")).startswith("kiali-server"):
        return "kiali-server chart"
    return None


class Ownership:
    """The verdict on live objects for one run writing for ``home``."""

    def __init__(self, home, moving_from=(), adopt=False):
        self.home = home
        self.moving_from = frozenset(h for h in (moving_from or ()) if h and h != home)
        self.adopt = bool(adopt)

    def verdict(self, live):
        """OWNED (also for an absent object: kialiops creates it), MOVED, ADOPTED or FOREIGN."""
        if live is None:
            return OWNED
        home = kialiops_home(live)
        if home == self.home:
            return OWNED
        if home is not None:
            return MOVED if home in self.moving_from else FOREIGN
        if self.adopt and maker(live):
            return ADOPTED
        return FOREIGN
