# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A module's argument spec together with the rules between its options, as one object.

Each module's ``argspec()`` returns an ArgSpec; ``KialiopsModule(**spec.kwargs(), supports_check_mode=True)``
hands both to AnsibleModule, so an option and the constraints that mention it cannot be passed apart.
"""

from __future__ import annotations

import copy

CONSTRAINTS = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class ArgSpec:
    """``argument_spec`` (option name -> spec) plus AnsibleModule's constraint lists and ``required_by`` dict."""

    def __init__(self, argument_spec=None, mutually_exclusive=None, required_together=None, required_one_of=None,
                 required_if=None, required_by=None):
        self.argument_spec = dict(argument_spec or {})
        self.mutually_exclusive = list(mutually_exclusive or [])
        self.required_together = list(required_together or [])
        self.required_one_of = list(required_one_of or [])
        self.required_if = list(required_if or [])
        self.required_by = dict(required_by or {})

    def update(self, **options):
        """Add (or replace) options; returns self."""
        self.argument_spec.update(options)
        return self

    def constrain(self, mutually_exclusive=(), required_together=(), required_one_of=(), required_if=(),
                  required_by=None):
        """Add constraints; returns self."""
        self.mutually_exclusive.extend(mutually_exclusive)
        self.required_together.extend(required_together)
        self.required_one_of.extend(required_one_of)
        self.required_if.extend(required_if)
        for option, needs in (required_by or {}).items():
            self.required_by[option] = _merged_requirement(self.required_by.get(option), needs)
        return self

    def merge(self, other):
        """Add ``other``'s options and constraints to this one; returns self."""
        self.update(**other.argument_spec)
        return self.constrain(**{name: getattr(other, name) for name in CONSTRAINTS})

    def kwargs(self):
        """The keyword arguments of AnsibleModule (and KialiopsModule): the spec and the non-empty constraints."""
        out = dict(argument_spec=copy.deepcopy(self.argument_spec))
        for name in CONSTRAINTS:
            value = getattr(self, name)
            if value:
                out[name] = copy.deepcopy(value)
        return out


def _merged_requirement(have, add):
    """``required_by`` values are a name or a list of names: the union of two, in order."""
    names = []
    for value in (have, add):
        if value is None:
            continue
        for name in [value] if isinstance(value, str) else value:
            if name not in names:
                names.append(name)
    return names
