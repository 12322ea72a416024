# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kialiops.multicluster.plugins.filter.rbac import FilterModule

RBAC_DATA = FilterModule().filters()["rbac_data"]
DATA_DIR = str(Path(__file__).resolve().parents[4] / "roles" / "remote_prepare" / "vars" / "rbac")
EXEC = {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}


def on_disk(key):
    return yaml.safe_load(Path(DATA_DIR, key + ".yml").read_text())["remote_prepare_rbac"]


@pytest.mark.parametrize("version, key", [("v2.28", "v2.28"), ("2.29", "v2.29"), ("v2.30.1", "v2.30")])
def test_the_data_of_the_minor_version_is_read(version, key):
    assert RBAC_DATA(None, DATA_DIR, version, "east") == on_disk(key)


def test_data_already_loaded_for_the_version_is_kept_and_another_version_is_read_again():
    loaded = dict(on_disk("v2.28"), marker=True)
    assert RBAC_DATA(loaded, DATA_DIR, "v2.28.3", "east") is loaded
    assert RBAC_DATA(loaded, DATA_DIR, "v2.29", "east") == on_disk("v2.29")


def test_an_unknown_version_names_the_cluster_the_file_and_the_known_versions():
    with pytest.raises(AnsibleFilterError) as e:
        RBAC_DATA(None, DATA_DIR, "v1.99", "west")
    text = str(e.value)
    assert text.startswith("cluster west: no RBAC data for Kiali v1.99 (looked for roles/remote_prepare/vars/rbac/"
                           "v1.99.yml). Known versions: v2.28, v2.29, v2.30.")
    assert "kialiops_kiali_version" in text


@pytest.mark.parametrize("version", ["v2.28", "v2.29.1"])
def test_impersonation_is_refused_for_a_version_whose_data_has_no_impersonate_rule(version):
    """Kiali has auth.openshift.impersonation from v2.30.0 (kiali/kiali config/config.go)."""
    with pytest.raises(AnsibleFilterError) as e:
        RBAC_DATA(None, DATA_DIR, version, "east", impersonation=True)
    text = str(e.value)
    assert ("cluster east: remote_prepare_impersonation is true, but Kiali %s has no impersonation" % version) in text
    assert "to a version whose data has it (v2.30)" in text and "Nothing was written" in text
    assert RBAC_DATA(None, DATA_DIR, "v2.30", "east", impersonation=True) == on_disk("v2.30")


@pytest.mark.parametrize("config, enabled", [(EXEC, False), ({}, True), (None, True)])
def test_exec_needs_its_config_and_kialis_exec_provider(config, enabled):
    with pytest.raises(AnsibleFilterError, match="cluster east: token mode exec needs an exec config .*"
                                                 "kialiops_enable_exec_provider: true"):
        RBAC_DATA(None, DATA_DIR, "v2.28", "east", token_mode="exec", exec_config=config,
                  exec_provider_enabled=enabled)
    assert RBAC_DATA(None, DATA_DIR, "v2.28", "east", token_mode="exec", exec_config=EXEC,
                     exec_provider_enabled=True) == on_disk("v2.28")


@pytest.mark.parametrize("data_dir", [None, ""])
def test_no_data_dir_reads_the_collections_own_files(data_dir):
    """The role's __remote_prepare_rbac (vars/main.yml) passes none: the variable is also rendered in plays outside
    the role (playbooks/verify.yml), where role_path is not the role's."""
    for version in ("v2.28", "v2.29.4", "v2.30"):
        assert RBAC_DATA(None, data_dir, version, "east") == RBAC_DATA(None, DATA_DIR, version, "east")
    with pytest.raises(AnsibleFilterError, match="cluster west: no RBAC data for Kiali v1.99"):
        RBAC_DATA(None, data_dir, "v1.99", "west")


def test_the_role_variable_calls_the_filter_with_the_roles_settings():
    """The role's variable names every setting the checks depend on (a typo would pass the data unchecked)."""
    text = (Path(DATA_DIR).parents[1] / "vars" / "main.yml").read_text()
    expression = yaml.safe_load(text)["__remote_prepare_rbac"]
    for needed in ("rbac_data(none, remote_prepare_kiali_version, __remote_prepare_name",
                   "impersonation=remote_prepare_impersonation | bool", "token_mode=remote_prepare_token_mode",
                   "exec_config=remote_prepare_exec_config",
                   "exec_provider_enabled=remote_prepare_exec_provider_enabled | bool"):
        assert needed in " ".join(expression.split()), needed
