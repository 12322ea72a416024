# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The RBAC data of a Kiali version for one remote cluster, checked; documented in rbac_data.yml."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import yaml
from ansible.errors import AnsibleFilterError

_MINOR = re.compile(r"^v?(\d+)\.(\d+).*$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SHOWN_DIR = "roles/remote_prepare/vars/rbac"
# this collection's own data files (plugins/filter/ -> the collection's root), the default of data_dir
_OWN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), _SHOWN_DIR)


def _data_key(version):
    """``v2.28.1`` -> ``v2.28`` (one data file per minor version); anything else as given."""
    match = _MINOR.match(str(version))
    return "v%s.%s" % match.groups() if match else str(version)


def _load(path):
    with open(path, encoding="utf-8") as f:
        return (yaml.load(f, Loader=_LOADER) or {}).get("remote_prepare_rbac")  # nosec B506 (safe loader)


def _known(data_dir):
    return sorted(n[:-4] for n in os.listdir(data_dir) if n.endswith(".yml"))


def rbac_data(loaded, data_dir, version, cluster, impersonation=False, token_mode="bound", exec_config=None,
              exec_provider_enabled=False):
    """The RBAC data of Kiali ``version`` (``<data_dir>/v<major>.<minor>.yml``; ``data_dir`` empty: the collection's
    own ``roles/remote_prepare/vars/rbac``): ``loaded`` when it is already that version's, else read. Fails naming
    the cluster and the fix, before anything is written, when there is no data for the version, when impersonation is
    asked of a version without it (its data has no ``openshift_extras.impersonation`` rule: Kiali has
    ``auth.openshift.impersonation`` from v2.30.0, kiali/kiali config/config.go), or when token mode exec lacks its
    config or Kiali's exec provider flag."""
    data_dir = data_dir or _OWN_DIR
    key = _data_key(version)
    if isinstance(loaded, Mapping) and loaded.get("version") == key:
        data = loaded
    else:
        path = os.path.join(data_dir, key + ".yml")
        if not os.path.isfile(path):
            raise AnsibleFilterError(
                "cluster %s: no RBAC data for Kiali %s (looked for %s/%s.yml). Known versions: %s. Set "
                "remote_prepare_kiali_version (or kialiops_kiali_version) to one of them, or add a data file for it."
                % (cluster, version, _SHOWN_DIR, key, ", ".join(_known(data_dir))))
        data = _load(path)
        if not isinstance(data, Mapping):
            raise AnsibleFilterError("cluster %s: %s/%s.yml holds no remote_prepare_rbac mapping. Restore the file."
                                     % (cluster, _SHOWN_DIR, key))
    if impersonation:
        # Imported here: an Ansible worker compiles a collection's module afresh on import (no bytecode cache), and
        # this filter runs in one worker per cluster before the controller has loaded the module code.
        from ansible_collections.kialiops.multicluster.plugins.module_utils._rbac import has_impersonation
        if not has_impersonation(dict(data)):
            having = [v for v in _known(data_dir) if has_impersonation(_load(os.path.join(data_dir, v + ".yml")))]
            raise AnsibleFilterError(
                "cluster %s: remote_prepare_impersonation is true, but Kiali %s has no impersonation: its RBAC data "
                "(%s/%s.yml) has no openshift_extras.impersonation rule (auth.openshift.impersonation exists from Kiali "
                "v2.30.0, kiali/kiali config/config.go). Set remote_prepare_kiali_version (or kialiops_kiali_version) to "
                "a version whose data has it (%s), or set remote_prepare_impersonation (kialiops_impersonation) to false. "
                "Nothing was written." % (cluster, version, _SHOWN_DIR, data.get("version"), ", ".join(having) or "none"))
    if token_mode == "exec" and not (exec_config and exec_provider_enabled):
        raise AnsibleFilterError(
            "cluster %s: token mode exec needs an exec config (kialiops_exec_config) and clustering."
            "enable_exec_provider: true in the Kiali CR (set kialiops_enable_exec_provider: true); Kiali strips exec "
            "credentials otherwise, and the credential binary must be in the Kiali image. Nothing was written."
            % cluster)
    return data


class FilterModule:
    def filters(self):
        return {"rbac_data": rbac_data}
