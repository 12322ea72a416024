# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""GitOps export: every object a module would apply, written to a file instead (``render_dir``).

One file per object and cluster, named from its kind, namespace and name, so a rerun rewrites the same files
and a Git diff shows exactly what changed: ``<render_dir>/<cluster>/<kind>_<namespace|cluster>_<name>.yaml``.
Several applies to one object (the keys of ``kiali-multi-cluster-secret``, written by one field manager per
cluster, from parallel runs) are merged into its file under a file lock. Secret values are left out unless
``render_secrets``: the Secret is written with its key names in an annotation and no data.
"""

from __future__ import annotations

import copy
import fcntl
import os
import re

from ansible_collections.kialiops.multicluster.plugins.module_utils import _yaml as yaml
from ansible_collections.kialiops.multicluster.plugins.module_utils._kiali_cr import deep_merge


OMITTED = "kialiops.io/rendered-without-data"
TOKEN_ANNOTATIONS = "kialiops.io/token-"
_SAFE = re.compile(r"[^a-z0-9.-]+")


def file_name(obj):
    """``<kind>_<namespace or "cluster">_<name>.yaml``, lowercase and safe for any file system."""
    meta = obj["metadata"]
    parts = (obj["kind"], meta.get("namespace") or "cluster", meta["name"])
    return "_".join(_SAFE.sub("-", p.lower()) for p in parts) + ".yaml"


def manifest(obj, secrets=False):
    """The object as it goes into the repository: no server fields; Secret values only with ``secrets``."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    for key in ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields"):
        meta.pop(key, None)
    out.pop("status", None)
    if out.get("kind") == "Secret" and not secrets:
        keys = sorted(set(out.pop("data", None) or {}) | set(out.pop("stringData", None) or {}))
        # the credential's bookkeeping (issued, expires) describes data that is not there
        meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                               if not k.startswith(TOKEN_ANNOTATIONS)}
        if keys:
            meta["annotations"][OMITTED] = ",".join(keys)
        if not meta["annotations"]:
            del meta["annotations"]
    return out


def merge_manifests(old, new):
    """Two renderings of one object merged; the key names of omitted Secret data are joined."""
    keys = set()
    for doc in (old, new):
        keys.update(k for k in (((doc.get("metadata") or {}).get("annotations") or {}).get(OMITTED) or "").split(",")
                    if k)
    out = deep_merge(old, new)
    if keys:
        out["metadata"]["annotations"][OMITTED] = ",".join(sorted(keys))
    return out


class Renderer:
    """Writes manifests under ``directory``; ``secrets`` keeps Secret values (the files are then 0600)."""

    def __init__(self, directory, secrets=False):
        self.directory = directory
        self.secrets = secrets
        self.written = []

    def write(self, cluster, obj):
        """Write (merge into) the file of ``obj`` on ``cluster``; returns its path."""
        folder = os.path.join(self.directory, cluster)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, file_name(obj))
        doc = manifest(obj, self.secrets)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600 if self.secrets else 0o644)
        with os.fdopen(fd, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)   # parallel runs (one per remote) add their keys to one Secret
            text = f.read()
            if text.strip():
                doc = merge_manifests(yaml.safe_load(text) or {}, doc)
            f.seek(0)
            f.truncate()
            f.write(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False))
        self.written.append(path)
        return path
