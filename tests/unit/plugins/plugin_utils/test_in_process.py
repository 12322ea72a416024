# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A module's work run in the worker process returns what the module would: validation, failure, masking, files."""

from __future__ import annotations

import os
import tempfile
import types

import yaml

from ansible.module_utils._internal._datatag import AnsibleTagHelper
from ansible._internal._datatag._tags import Origin

from ansible_collections.kialiops.multicluster.plugins.module_utils._argspec import ArgSpec
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.plugin_utils._in_process import run_in_process

SECRET = "s3cr3t-token-value"


def fake_module(run, spec=None, **constraints):
    spec = spec or dict(name=dict(type="str", required=True), token=dict(type="str", no_log=True),
                        count=dict(type="int", default=1))
    return types.SimpleNamespace(argspec=lambda: ArgSpec(spec, **constraints), run=run)


def test_valid_arguments_reach_run_converted_and_defaulted():
    seen = {}

    def run(module):
        seen.update(module.params, check=module.check_mode, diff=module.diff)
        return dict(changed=True, echo=module.params["name"])

    result = run_in_process("m", fake_module(run), {"name": "east", "count": "3"}, True, False)
    assert result["failed"] is False and result["changed"] is True and result["echo"] == "east"
    assert seen == dict(name="east", token=None, count=3, check=True, diff=False)


def test_unknown_and_missing_arguments_fail_like_ansiblemodule():
    result = run_in_process("m", fake_module(lambda m: {}), {"name": "x", "nam": "x"}, False, False)
    assert result["failed"] is True
    assert "Unsupported parameters for (m) module: nam" in result["msg"]
    result = run_in_process("m", fake_module(lambda m: {}), {}, False, False)
    assert result["failed"] is True and "missing required arguments: name" in result["msg"]


def test_constraints_are_checked():
    spec = dict(a=dict(type="str"), b=dict(type="str"))
    result = run_in_process("m", fake_module(lambda m: {}, spec, required_one_of=[["a", "b"]]), {}, False, False)
    assert result["failed"] is True and "one of the following is required: a, b" in result["msg"]


def test_kialiops_error_is_a_failed_result_with_the_cluster_and_fix():
    def run(module):
        error = KialiopsError("west", "cannot reach it", "Start it")
        error.details = dict(remote_cluster="west")
        raise error

    result = run_in_process("m", fake_module(run), {"name": "x"}, False, False)
    assert result["failed"] is True
    assert result["cluster"] == "west" and result["fix"] == "Start it" and result["remote_cluster"] == "west"
    assert "cannot reach it" in result["msg"]


def test_no_log_options_and_masked_values_never_leave_the_result():
    def run(module):
        module.mask("minted-" + SECRET)
        module.warn("saw minted-%s and %s" % (SECRET, module.params["token"]))
        return dict(changed=False, echo=module.params["token"], other="minted-" + SECRET)

    result = run_in_process("m", fake_module(run), {"name": "x", "token": SECRET}, False, False)
    text = repr(result)
    assert SECRET not in text
    assert result["invocation"]["module_args"]["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["warnings"] and result["failed"] is False


def test_a_bug_is_a_failed_result_with_a_masked_traceback():
    def run(module):
        raise RuntimeError("boom with " + module.params["token"])

    result = run_in_process("m", fake_module(run), {"name": "x", "token": SECRET}, False, False)
    assert result["failed"] is True and "RuntimeError" in result["msg"]
    assert SECRET not in repr(result) and "Traceback" in result["exception"]


def test_controller_types_become_plain_json_types():
    tagged = AnsibleTagHelper.tag("east", [Origin(path="/inventory.yml", line_num=1)])
    assert type(tagged).__name__ != "str"  # the controller hands the action tagged values

    def run(module):
        return dict(dumped=yaml.safe_dump({"name": module.params["name"]}))

    result = run_in_process("m", fake_module(run), {"name": tagged}, False, False)
    assert result["failed"] is False and result["dumped"] == "name: east\n"


def test_files_written_to_the_temporary_directory_are_removed_after_the_run():
    written = []

    def run(module):
        fd, path = tempfile.mkstemp()
        os.write(fd, b"client key")
        os.close(fd)
        written.append(path)
        return {}

    before = tempfile.gettempdir()
    run_in_process("m", fake_module(run), {"name": "x"}, False, False)
    assert not os.path.exists(written[0])
    assert not written[0].startswith(before + os.sep + "tmp")  # it went to the run's private directory
    assert tempfile.gettempdir() == before


_FILTERS_IN_A_FORK = r"""
import json, os, sys
root = sys.argv[1]
from ansible.plugins.loader import filter_loader, init_plugin_loader
init_plugin_loader([root])
from ansible_collections.kialiops.multicluster.plugins.plugin_utils import _in_process
if sys.argv[2] == "preload":
    _in_process._preload_filters()
read, write = os.pipe()
pid = os.fork()
if pid == 0:   # a worker, forked from the controller
    before = set(sys.modules)
    found = filter_loader.get("kialiops.multicluster.apply_entry") is not None
    loaded = sorted(m for m in set(sys.modules) - before if ".plugins.filter." in m)
    os.write(write, json.dumps(dict(found=found, loaded=loaded)).encode())
    os._exit(0)
os.waitpid(pid, 0)
print(os.read(read, 65536).decode())
"""


def _filters_loaded_in_a_worker(mode):
    import json
    import subprocess
    import sys
    from ansible_collections.kialiops.multicluster.plugins.plugin_utils import _in_process
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(_in_process.__file__)))))))
    done = subprocess.run([sys.executable, "-c", _FILTERS_IN_A_FORK, root, mode], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_controller_loads_the_filters_once_for_every_worker_it_forks():
    """Without it, a worker's first kialiops filter loads every filter file of the collection (~38 ms)."""
    cold = _filters_loaded_in_a_worker("none")
    assert cold["found"] and "ansible_collections.kialiops.multicluster.plugins.filter.rbac" in cold["loaded"]
    warm = _filters_loaded_in_a_worker("preload")
    assert warm == dict(found=True, loaded=[])
