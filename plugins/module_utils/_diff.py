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


def _empty(value):
    return value is None or value == {} or value == []


def dropped_fields(sent, answer, path=""):
    """Paths (``spec.auth.x``) of fields in ``sent`` that the API server's ``answer`` lacks.

    A field kialiops sends and the server's answer (of a dry-run or a write) does not hold was dropped: a CRD
    schema that does not declare it prunes it silently (unless strict field validation is asked for, which turns
    it into an error). ``metadata`` and ``stringData`` are not compared (the server owns parts of the first and
    turns the second into ``data``), nor empty values (the server omits them). A list item counts as kept when
    some item of the answer holds all of its fields (other writers' items may sit in between).
    """
    if isinstance(sent, dict):
        if not isinstance(answer, dict):
            return [path or "."]
        out = []
        for key, value in sent.items():
            if not path and key in ("metadata", "stringData", "status"):
                continue
            if _empty(value):
                continue
            sub = "%s.%s" % (path, key) if path else key
            if key not in answer:
                out.append(sub)
            else:
                out.extend(dropped_fields(value, answer[key], sub))
        return out
    if isinstance(sent, list) and isinstance(answer, list):
        out = []
        for i, item in enumerate(sent):
            if any(not dropped_fields(item, got, "") for got in answer):
                continue
            twin = answer[i] if i < len(answer) else None
            out.extend(dropped_fields(item, twin, "%s[%d]" % (path, i)) if twin is not None else ["%s[%d]" % (path, i)])
        return out
    return []
