# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Cluster names: one validated name is used for Secret names and keys, annotations and kubeconfig entries."""

from __future__ import annotations

import re

MAX_LABEL = 63
REMOTE_SECRET_PREFIX = "kiali-remote-cluster-secret-"

_WHY = (
    "a cluster name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending "
    "with a letter or digit, at most 63 characters) because it becomes part of Secret names, the "
    "kiali.io/cluster annotation and kubeconfig entries"
)
_BAD_CHAR = re.compile(r"[^a-z0-9-]")


def validate_cluster_name(name):
    """Return ``name`` if it is a DNS-1123 label, else raise ValueError saying what is wrong and why."""
    if not isinstance(name, str):
        raise ValueError("cluster name %r is a %s, not a string; %s" % (name, type(name).__name__, _WHY))
    if not name:
        raise ValueError("cluster name is empty; %s" % _WHY)
    problems = []
    if len(name) > MAX_LABEL:
        problems.append("it has %d characters" % len(name))
    bad = sorted(set(_BAD_CHAR.findall(name)))
    upper = [c for c in bad if c.isupper()]
    other = [c for c in bad if not c.isupper()]
    if upper:
        problems.append("it has uppercase letters (%s)" % "".join(upper))
    if other:
        problems.append("it contains %s" % ", ".join(repr(c) for c in other))
    if name[0] == "-" or name[-1] == "-":
        problems.append("it starts or ends with '-'")
    if problems:
        raise ValueError("cluster name %r is invalid: %s; %s" % (name, " and ".join(problems), _WHY))
    return name


def remote_secret_name(cluster):
    """Name of the Secret on the home cluster that holds the kubeconfig of remote ``cluster``."""
    return REMOTE_SECRET_PREFIX + validate_cluster_name(cluster)
