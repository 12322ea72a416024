# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make ``ansible_collections.kialiops.multicluster`` importable from this checkout, and the tests' helpers
(``tests/integration/labkit.py``: the one module runner and free-port helper) importable as ``labkit``.

The repository root is the collection root. ``.collections/ansible_collections/kialiops/multicluster``
(a link to the checkout, made by ``make venv``) is used when present; otherwise a link is made in a
temporary directory, so the tests also run in a fresh clone (``labkit.collections_root``). kubernetes.core comes
from the ``ansible`` package in the virtualenv's site-packages (already on sys.path).
"""

from __future__ import annotations

import sys
from pathlib import Path

# appended, not prepended: a unit test module never resolves to an integration one of the same name
sys.path.append(str(Path(__file__).resolve().parents[1] / "integration"))

from labkit import collections_root  # noqa: E402  pylint: disable=wrong-import-position

collections_root()
