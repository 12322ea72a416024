# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What one run did to the objects it touched: ``changed``, each object's action, and the ``--diff``.

The one place the rule lives: an object absent before is ``created``, absent after ``deleted``, different
``updated``, else ``unchanged``. ``before``/``after`` are what ClusterService returns (normalised, None when
absent); in check mode they come from server-side dry-runs, so the same words mean "would be" there (readers that
print for people add the "would").

The diff is one shape for every module, as Ansible's diff mode takes it: ``{"before": {label: object or None},
"after": {label: object or None}}`` with one entry per object that changed (or would change), labelled
``Secret istio-system/x`` (``east: Secret istio-system/x`` when a run writes to two clusters).
"""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import describe_object

CREATED, UPDATED, UNCHANGED, DELETED, REPLACED = "created", "updated", "unchanged", "deleted", "replaced"
# An object another installer made, taken over (kialiops_adopt): labelled ours, under kialiops' field manager.
ADOPTED = "adopted"
# Actions that changed (or in check mode would change) an object. Others a module may report: ``kept`` (someone
# else's object, left alone), ``create``/``update`` (validate_only: what a run would send, nothing was asked).
CHANGING = frozenset({CREATED, UPDATED, DELETED, REPLACED, ADOPTED})


def action(before, after):
    """``created``, ``deleted``, ``updated`` or ``unchanged`` for an object seen as ``before``, then ``after``."""
    if before == after:
        return UNCHANGED
    if before is None:
        return CREATED
    if after is None:
        return DELETED
    return UPDATED


def label(obj, cluster=None):
    """``Secret istio-system/x`` (``east: ...`` with a cluster) for ``obj`` (a manifest or a live object)."""
    meta = obj.get("metadata") or {}
    text = describe_object(obj.get("kind"), meta.get("name"), meta.get("namespace") or None)
    return "%s: %s" % (cluster, text) if cluster else text


class Change:
    """The objects of one run, in the order first seen. Recording an object again keeps its first ``before``
    and takes the new ``after`` (a write in two steps is one change)."""

    def __init__(self):
        self._entries = {}

    def record(self, obj, before, after, cluster=None, done=None):
        """An object written (or deleted): ``before``/``after`` normalised, None when absent. ``done`` names the
        action when the rule cannot see it (``replaced``, ``adopted``). Returns the action."""
        key = label(obj, cluster)
        entry = self._entries.get(key)
        if entry is None:
            meta = obj.get("metadata") or {}
            entry = self._entries[key] = dict(kind=obj.get("kind"), name=meta.get("name"),
                                              namespace=meta.get("namespace") or None, before=before)
        entry["after"] = after
        entry["action"] = done or action(entry["before"], after)
        return entry["action"]

    def note(self, obj, done, cluster=None):
        """An object the run did not write: ``unchanged`` (nothing to send), ``kept``, ``create``/``update``."""
        key = label(obj, cluster)
        if key not in self._entries:
            meta = obj.get("metadata") or {}
            self._entries[key] = dict(kind=obj.get("kind"), name=meta.get("name"),
                                      namespace=meta.get("namespace") or None, before=None, after=None)
        self._entries[key]["action"] = done
        return done

    @property
    def changed(self):
        return any(e["action"] in CHANGING for e in self._entries.values())

    def objects(self):
        """``[{kind, name, namespace, action}]``, in the order first seen (namespace None when cluster-scoped)."""
        return [dict(kind=e["kind"], name=e["name"], namespace=e["namespace"], action=e["action"])
                for e in self._entries.values()]

    def diff(self):
        """``{"before": {label: object}, "after": {label: object}}`` of the objects that changed."""
        changed = {k: e for k, e in self._entries.items() if e["action"] in CHANGING}
        return dict(before={k: e["before"] for k, e in changed.items()},
                    after={k: e["after"] for k, e in changed.items()})
