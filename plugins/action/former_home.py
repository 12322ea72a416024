# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs the former_home module in Ansible's worker process when the connection is local (see plugin_utils/_in_process.py)."""

from __future__ import annotations

from ansible_collections.kialiops.multicluster.plugins.plugin_utils._in_process import InProcessAction


class ActionModule(InProcessAction):
    MODULE = "former_home"
