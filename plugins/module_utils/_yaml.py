# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""PyYAML's ``safe_load``/``safe_dump``, through libyaml when PyYAML has it (``from ... import _yaml as yaml``).

The pure-Python ones cost ~5-10 ms per stored kubeconfig (certificates and a token inline), parsed several times
per remote and task. libyaml's loader and dumper give the same data and the same text (the same safe types and
resolver) in about a tenth of that; PyYAML without libyaml falls back to the pure-Python ones.
"""

from __future__ import annotations

try:
    import yaml
except ImportError:  # ansible-core requires PyYAML; guarded for the import sanity test
    yaml = None

if yaml is not None:
    YAMLError = yaml.YAMLError
    _LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
else:
    class YAMLError(Exception):
        """Stand-in that keeps the except clauses valid without PyYAML."""


def safe_load(text):
    """``yaml.safe_load(text)``."""
    return yaml.load(text, Loader=_LOADER)  # nosec B506 - a safe loader (C or Python)


def safe_dump(data, **kwargs):
    """``yaml.safe_dump(data, **kwargs)``."""
    return yaml.dump(data, Dumper=_DUMPER, **kwargs)
