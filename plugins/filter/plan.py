# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the apply of a planned run does on one remote; documented in apply_entry.yml."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _ran(result):
    return isinstance(result, Mapping) and not result.get("skipped")


def apply_entry(access, secret=None, operator=False):
    """The remote_prepare entry point the apply includes on one remote after plan.yml, or "" for none.

    ``access`` and ``secret`` are what the plan registered (remote_prepare_access, remote_prepare_secret; None or a
    skipped result when it did not run: --check, a GitOps export, the plan left out). No plan: "prepare" (its
    argument spec and validate.yml first). The operator backend: "prepare" too (always applied: the plan does not see
    what the operator's CR change will do; its plan registers no remote_access result either, so this is what it
    always got). A plan that changes nothing and supersedes no token Secret: "" (its result stands). Else "apply"
    (tasks/apply.yml: the direct backend's writes only; the plan validated the same inputs in this run).
    """
    for name, value in (("access", access), ("secret", secret)):
        if value is not None and not isinstance(value, Mapping):
            raise AnsibleFilterError("kialiops.multicluster.apply_entry: %s must be a registered result, got %s"
                                     % (name, type(value).__name__))
    if operator or not _ran(access):
        return "prepare"
    if not _ran(secret) or access.get("changed") or secret.get("changed") or secret.get("superseded_token_secrets"):
        return "apply"
    return ""


class FilterModule:
    def filters(self):
        return {"apply_entry": apply_entry}
