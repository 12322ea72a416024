# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Run a kialiops module's work inside Ansible's worker process, on the controller.

kialiops' hosts are clusters reached through a local connection: an Ansible module would run on the controller
anyway, but in a new interpreter that unpacks AnsiballZ and imports the kubernetes client every time (about 0.7 s
of CPU per task, most of a run's cost). Each module has an action plugin of the same name (``plugins/action/``)
built on ``InProcessAction``: when the task's connection is local (and nothing asks for a separate process:
become, async, a task ``environment``, ``kialiops_in_process: false``), it validates the arguments with the module's
own spec (``argspec()``), runs the module's ``run(module)`` in the worker, and returns what the module would have returned (no_log
values and ``mask()``-ed secrets removed from the whole result, warnings, check mode, diff). Otherwise it runs the
module as usual. The worker is forked from the controller, which already imported this file (the linear strategy
loads each task's action class before queuing it), so the kubernetes client is imported once per playbook run.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib
import json
import multiprocessing
import os
import shutil
import tempfile
import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

try:
    # Imported here, in the controller, on purpose: see the module docstring.
    from ansible_collections.kialiops.multicluster.plugins.module_utils._module import ClusterAccess, outcome
except ImportError:  # no kubernetes client on the controller: every task runs as a module
    ClusterAccess = outcome = None
try:
    from ansible_collections.kialiops.multicluster.plugins.module_utils._discovery import (
        discovery_shared,
        share_discovery,
    )
except ImportError:
    discovery_shared = share_discovery = None
try:
    from ansible_collections.kialiops.multicluster.plugins.module_utils._service import preload as _preload_client
except ImportError:
    _preload_client = None
try:
    # the kubernetes client's record of the files it wrote (removed by our own clean-up instead of at exit)
    from kubernetes.config.kube_config import _cleanup_temp_files as _forget_kubeconfig_files
except ImportError:
    _forget_kubeconfig_files = None


COLLECTION = "kialiops.multicluster"


class ModuleContext(ClusterAccess or object):
    """The ``module`` a module's ``run(module)`` gets in-process: validated parameters, check mode, diff, warnings."""

    def __init__(self, name, spec, args, check_mode, diff):
        kwargs = spec.kwargs()
        argument_spec = kwargs.pop("argument_spec")
        # A module receives its arguments as JSON: plain str/dict/list, not the controller's tagged types (which,
        # e.g., yaml.safe_dump refuses).
        args = json.loads(json.dumps(dict(args), default=str))
        validation = ArgumentSpecValidator(argument_spec, **kwargs).validate(args)
        self.name = name
        self.params = validation.validated_parameters
        self.no_log_values = set(validation._no_log_values)
        self.check_mode = check_mode
        self.diff = diff
        self.warnings = []
        self.error = None
        if validation.errors.errors:
            msg = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (name, msg)
            self.error = msg

    def warn(self, message):
        self.warnings.append(message)


def _share_discovery_for_this_run():
    """One private directory per playbook run (made in the controller, before it forks a worker) where every task's
    clients keep their API discovery: the first task asks a cluster for its API, the others read the file."""
    if share_discovery is None or discovery_shared() or multiprocessing.current_process().name != "MainProcess":
        return  # a worker (a class first loaded there) keeps the default: nothing of it would outlive the task
    directory = tempfile.mkdtemp(prefix="kialiops-discovery-")
    share_discovery(directory)
    atexit.register(shutil.rmtree, directory, True)  # the controller's exit; a forked worker never runs it


_FORK_HOOK = []


def _freeze_heap_at_fork():
    """Hide the controller's objects from the garbage collector of every worker it forks from now on.

    Importing the kubernetes client (above) grows the controller by ~40 MiB of Python objects. A worker is a fork
    of it for each task and host; the first full collection in the worker walks every object it inherited and so
    writes to (copies) most of those pages: ~10 ms of CPU per task run on the lab. Frozen just before the fork (and
    unfrozen in the controller right after, so nothing of its own is kept from the collector), the inherited objects
    are out of the worker's collections; its own garbage is collected as usual.
    """
    if _FORK_HOOK or multiprocessing.current_process().name != "MainProcess":
        return
    os.register_at_fork(before=gc.freeze, after_in_parent=gc.unfreeze)
    _FORK_HOOK.append(True)


@functools.lru_cache(maxsize=None)
def _preload_client_classes():
    """The kubernetes client's classes every task may use, imported once in the controller rather than in each worker
    it forks (the client is imported lazily: plugins/module_utils/_lazy_kubernetes.py); ~20 ms."""
    if _preload_client is not None and multiprocessing.current_process().name == "MainProcess":
        _preload_client()


@functools.lru_cache(maxsize=None)
def _preload_filters():
    """The collection's filter plugins, loaded once in the controller rather than in each worker it forks.

    A filter is found by its name, not its file (``rbac_data`` lives in ``filter/rbac.py``), so the first use of any
    kialiops filter in a process loads every filter file of the collection (and their module_utils), which the
    collection loader compiles from source: ~38 ms of CPU, paid by every worker that templated one (a task's arguments,
    a role variable such as ``__remote_prepare_rbac``). Loaded here, before the workers are forked, a worker's lookup
    costs ~1 ms. Nothing is done in a worker, and a loader that refuses is left to load them as before."""
    if multiprocessing.current_process().name != "MainProcess":
        return
    try:
        from ansible.plugins.loader import filter_loader
        filter_loader.get(COLLECTION + ".rbac_data")
    except Exception:  # pylint: disable=broad-exception-caught
        pass  # each worker then loads them itself, as without this


def _import_module(name):
    return importlib.import_module("ansible_collections.kialiops.multicluster.plugins.modules." + name)


def run_in_process(name, module, args, check_mode, diff):
    """The result of module ``name`` (its python module ``module``) run on ``args`` in this process.

    Files the run writes in the temporary directory (the kubernetes client writes a kubeconfig's client key and
    certificates there, and deletes them only at interpreter exit, which a worker never reaches) go to a private
    directory removed when the run ends, as they would be with a module's interpreter.
    """
    scratch = tempfile.mkdtemp(prefix="kialiops-")
    saved, tempfile.tempdir = tempfile.tempdir, scratch
    try:
        return _run(name, module, args, check_mode, diff)
    finally:
        tempfile.tempdir = saved
        if _forget_kubeconfig_files is not None:
            _forget_kubeconfig_files()
        shutil.rmtree(scratch, ignore_errors=True)


def _run(name, module, args, check_mode, diff):
    context = ModuleContext(name, module.argspec(), args, check_mode, diff)

    def run(started):
        started._start_clusters()  # the connection rules and the GitOps renderer, as KialiopsModule does at start
        return module.run(started)

    if context.error:
        ok, result = False, dict(failed=True, msg=context.error)
    else:
        try:
            ok, result = outcome(context, run)
        except Exception as e:  # pylint: disable=broad-exception-caught
            # a bug: as a module's traceback would be, but with the no_log values removed like the rest
            ok, result = False, dict(msg="%s: %s" % (type(e).__name__, e), exception=traceback.format_exc())
    if context.warnings:
        result["warnings"] = context.warnings
    result["invocation"] = {"module_args": context.params}
    result = remove_values(result, context.no_log_values)
    result["failed"] = not ok
    return result


class InProcessAction(ActionBase):
    """The action plugin of one kialiops module: in-process when the connection is local, else the module."""

    MODULE = None  # the module's short name, set by each plugins/action/<module>.py
    _supports_check_mode = True
    _supports_async = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Import the module (and its module_utils) with the action class, in the controller before it forks the
        # worker: the collection loader compiles a collection's sources afresh on every import (no bytecode cache),
        # which each forked worker would otherwise repeat for every task.
        cls._module = None
        _preload_filters()
        if outcome is not None:
            _share_discovery_for_this_run()
            _freeze_heap_at_fork()
            _preload_client_classes()
            try:
                cls._module = _import_module(cls.MODULE)
            except ImportError:  # the task then reports it where it runs
                cls._module = None

    def _in_process(self, task_vars):
        if outcome is None or self._task.async_val or self._play_context.become:
            return False
        if any(self._task.environment or []):  # ([{}] when the task sets none)
            return False  # the module's environment would differ from the controller's
        if not boolean(task_vars.get("kialiops_in_process", True), strict=False):
            return False
        if os.environ.get("KIALIOPS_IN_PROCESS", "1") == "0":
            return False
        return getattr(self._connection, "transport", None) == "local"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        fqcn = "%s.%s" % (COLLECTION, self.MODULE)
        if not self._in_process(task_vars):
            result.update(self._execute_module(module_name=fqcn, module_args=dict(self._task.args),
                                               task_vars=task_vars, wrap_async=self._task.async_val))
            return result
        module = self._module or _import_module(self.MODULE)
        result.update(run_in_process(fqcn, module, self._task.args, bool(self._task.check_mode),
                                     bool(self._task.diff)))
        if self._task.no_log:
            result["_ansible_no_log"] = True
        return result
