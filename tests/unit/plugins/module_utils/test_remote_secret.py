# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""remote_secret's rules checked before anything is minted (the Secrets it writes: test_secret_store.py)."""

from __future__ import annotations

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._remote_secret import check_stored_server


# --- the server written into the stored kubeconfig (checked before anything is minted) -----------------------------

@pytest.mark.parametrize("server", ["https://127.0.0.1:6443", "https://api.east.example.com", "https://[::1]:6443"])
def test_check_stored_server_accepts_https(server):
    assert check_stored_server("east", server) == server


@pytest.mark.parametrize("server, from_api_url, origin", [
    ("http://127.0.0.1:8080", False, "the remote connection's server (no api_url given): "),
    ("http://api.east.example.com:6443", True, "api_url: "),
    ("127.0.0.1:6443", False, "the remote connection's server"),
    ("https://", True, "api_url: "),
    (None, False, "the remote connection's server"),
])
def test_check_stored_server_refuses_anything_else_naming_cluster_and_fix(server, from_api_url, origin):
    with pytest.raises(KialiopsError) as e:
        check_stored_server("east", server, from_api_url)
    error = e.value
    assert error.cluster == "east" and error.reason.startswith(origin)
    assert "is not an https:// URL" in error.reason
    assert "allow_insecure_skip_tls only skips the certificate check, it does not allow plain http" in error.reason
    assert "kialiops_api_url" in error.fix and "cluster east" in error.fix
    assert error.fix.endswith("Nothing was minted or written")
