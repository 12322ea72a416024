# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module file as Ansible does (a process reading an arguments file), for the module tests here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys


def run_module(module, args, tmp_path, env=None):
    """``(result, everything printed)`` of ``module`` run with ``args``."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    # sys.path holds the collection root (tests/unit/conftest.py) and kubernetes.core's site-packages.
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **(env or {}))
    done = subprocess.run([sys.executable, module.__file__, str(args_file)], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)
    return json.loads(done.stdout), done.stdout + done.stderr


def closed_port():
    """A loopback port nothing listens on: reaching the network shows up as 'cannot connect'."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
