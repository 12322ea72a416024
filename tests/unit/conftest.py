# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.kialiops.multicluster`` importable from this checkout.

The repository root is the collection root. ``.collections/ansible_collections/kialiops/multicluster``
(a link to the checkout, made by ``make venv``) is used when present; otherwise a link is made in a
temporary directory, so the tests also run in a fresh clone. kubernetes.core comes from the
``ansible`` package in the virtualenv's site-packages (already on sys.path).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _collections_root():
    linked = REPO_ROOT / ".collections"
    if (linked / "ansible_collections" / "kialiops" / "multicluster" / "galaxy.yml").is_file():
        return linked
    scratch = Path(tempfile.mkdtemp(prefix="kialiops-unit-"))
    atexit.register(shutil.rmtree, scratch, True)
    (scratch / "ansible_collections" / "kialiops").mkdir(parents=True)
    os.symlink(REPO_ROOT, scratch / "ansible_collections" / "kialiops" / "multicluster")
    return scratch


sys.path.insert(0, str(_collections_root()))
