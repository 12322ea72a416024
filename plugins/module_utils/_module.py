# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""One signature for a module's work, and the two ways it runs.

Every module of the collection is ``argspec()`` (an ArgSpec: its options and the constraints between them) plus
``run(module) -> result``. ``run`` reads ``module.params``, ``module.check_mode``, ``module.diff``,
talks to clusters through ``module.home``/``module.remote``/``module.connect()`` (ClusterService), reports with
``module.warn()`` and keeps secret material out of every output with ``module.mask()``; it returns the result, or
raises KialiopsError (``error.details`` joins the failed result). A result with ``failed: true`` fails the task
with its ``msg`` and keeps its other keys.

- As an Ansible module (``main()``: AnsiballZ, a new interpreter): ``KialiopsModule`` below.
- In the controller's worker process (the collection's action plugins, ``plugins/plugin_utils/_in_process.py``):
  ``ModuleContext`` below with the same validation, check mode, diff, warnings and no_log masking; see there.
"""

from __future__ import annotations

import base64

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

from ansible_collections.kialiops.multicluster.plugins.module_utils._connection import (
    CONNECTION_OPTIONS,
    build_client,
    check_connection,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._render import Renderer
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import ClusterService


class ClusterAccess:
    """What ``run(module)`` sees besides the parameters: one ClusterService per connection, masking, warnings.

    Needs ``params``, ``check_mode`` (settable), ``warn()`` and ``no_log_values`` from the class it is mixed into.
    """

    def _start_clusters(self):
        self._services = {}
        self.renderer = None
        if self.params.get("render_dir"):
            # GitOps export: every write is a server-side dry-run, and what it would apply goes to a file.
            self.renderer = Renderer(self.params["render_dir"], self.params.get("render_secrets"))
            self.check_mode = True
        # Connection rules for every connection, before any cluster is contacted
        if "cluster_name" in self.params:
            check_connection(self.params)
        if self.params.get("remote"):
            check_connection(self.params["remote"])

    def mask(self, *values):
        """Keep secret material (and its base64 form) out of every output, from now on."""
        for value in values:
            if value:
                raw = value.encode("utf-8") if isinstance(value, str) else value
                self.no_log_values.add(raw.decode("utf-8", "replace"))
                self.no_log_values.add(base64.b64encode(raw).decode("ascii"))

    def connect(self, params):
        """The ClusterService of one connection's parameters (cached)."""
        key = tuple(params.get(k) for k in ("cluster_name",) + CONNECTION_OPTIONS)
        if key not in self._services:
            client, where, insecure = build_client(params, check_mode=self.check_mode)
            if insecure:
                self.warn("cluster %s: TLS verification is off (%s), accepted because allow_insecure=true"
                          % (params["cluster_name"], "; ".join(insecure)))
            self._services[key] = ClusterService(params["cluster_name"], client, where, renderer=self.renderer)
        return self._services[key]

    @property
    def _diff(self):
        """AnsibleModule's name for ``diff``."""
        return self.diff

    @property
    def home(self):
        return self.connect(self.params)

    @property
    def remote(self):
        return self.connect(self.params["remote"])


def outcome(module, run):
    """``(ok, result)`` of one run: the result, or the failed result of a KialiopsError (named cluster, fix)."""
    try:
        result = run(module)
    except KialiopsError as e:
        result = dict(getattr(e, "details", None) or {})
        result.update(e.to_result())
        result.update(failed=True, msg=str(e))
        return False, result
    result = dict(result)
    result.setdefault("changed", False)
    return not result.pop("failed", False), result


class KialiopsModule(AnsibleK8SModule, ClusterAccess):
    """kubernetes.core's module wrapper plus one client per cluster and one way to fail (the module path)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        try:
            self._start_clusters()
        except KialiopsError as e:
            self.fail_json(msg=str(e), **e.to_result())

    @property
    def check_mode(self):
        return self._module.check_mode

    @check_mode.setter
    def check_mode(self, value):
        self._module.check_mode = value

    @property
    def diff(self):
        return self._module._diff  # pylint: disable=protected-access

    @property
    def no_log_values(self):
        return self._module.no_log_values


def main_for(spec, run, **settings):
    """The ``main()`` of every module: validate ``spec`` (an ArgSpec), run, exit or fail (KialiopsError: the cluster
    and its fix). ``settings``: AnsibleK8SModule's (``check_k8s=False`` for a module that reads no cluster)."""
    module = KialiopsModule(supports_check_mode=True, **spec.kwargs(), **settings)
    # Called inside run's `except KialiopsError`, fail_json would take the pending exception's traceback; the
    # message and the fix are in the result, the raw exception chain (response headers and bodies) is not.
    ok, result = outcome(module, run)
    if ok:
        module.exit_json(**result)
    module.fail_json(**result)
