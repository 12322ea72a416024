# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What ``changed`` and ``--diff`` compare: objects without server bookkeeping, Secret values as fingerprints."""

from __future__ import annotations

import copy
import hashlib

# Fields the API server writes on every change; comparing them would make `changed` flip on bookkeeping.
SERVER_OWNED = frozenset({"resourceVersion", "generation", "uid", "managedFields", "creationTimestamp"})
SECRET_VALUE_FIELDS = ("data", "stringData")


def fingerprint(value):
    """Short, stable digest of high-entropy material (tokens, keys, kubeconfigs): safe to show, compare."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return "sha256:" + hashlib.sha256(value).hexdigest()[:16]


def normalise(obj):
    """Copy of a Kubernetes object fit for comparison and display; None stays None.

    Drops ``status`` and the server-owned metadata, and replaces every Secret value by its fingerprint.
    """
    if obj is None:
        return None
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("status", "metadata")}
    out["metadata"] = {k: copy.deepcopy(v) for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_OWNED}
    if obj.get("kind") == "Secret":
        for field in SECRET_VALUE_FIELDS:
            if obj.get(field) is not None:
                out[field] = {k: fingerprint(v or "") for k, v in sorted(obj[field].items())}
    return out
