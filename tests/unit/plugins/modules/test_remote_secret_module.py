# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""remote_secret refuses bad options before it contacts any cluster (the module run as Ansible runs it).

The connections point at a closed loopback port: an option error must come first, so reaching the network
would show up as a "cannot connect" message instead of the expected one.
"""

from __future__ import annotations

import pytest

from labkit import free_port, run_module
from ansible_collections.kialiops.multicluster.plugins.modules import remote_secret

FAKE_TOKEN = "not-a-real-token-for-remote-secret-tests"


def run(args):
    return run_module(remote_secret, args)


def base(**kw):
    url = "https://127.0.0.1:%d" % free_port()
    args = {"cluster_name": "hub", "host": url, "api_key": FAKE_TOKEN,
            "remote": {"cluster_name": "east", "host": url, "api_key": FAKE_TOKEN + "-remote"},
            "service_account": "kiali"}
    args.update(kw)
    if args["service_account"] == "-":  # left out entirely
        del args["service_account"]
        args["token_mode"] = "legacy"
    return args


@pytest.mark.parametrize("kw, fragment", [
    (dict(token_ttl=599), "cluster east: token_ttl must be between 600 seconds"),
    (dict(token_ttl=63072001), "cluster east: token_ttl must be between 600 seconds"),
    (dict(rotate_after_percent=0), "rotate_after_percent must be between 1 and 99"),
    (dict(rotate_after_percent=100), "rotate_after_percent must be between 1 and 99"),
    (dict(legacy_timeout=0), "legacy_timeout must be between 1 and 3600"),
    (dict(api_url="http://api.east:6443"), "cluster east: api_url: the API URL 'http://api.east:6443' is not an "
                                           "https:// URL"),
    (dict(token_mode="exec", exec_config={"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}),
     "clustering.enable_exec_provider"),
    (dict(token_mode="exec", exec_provider_enabled=True, exec_config={"command": "aws"}),
     "exec_config.apiVersion must be one of"),
    (dict(token_mode="exec"), "token_mode is exec but all of the following are missing: exec_config"),
    (dict(exec_config={"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}),
     "exec_config is given but token_mode is bound"),
    (dict(service_account=None), "cluster east: token_mode=bound needs service_account"),
    (dict(service_account="-"), "token_mode is legacy but all of the following are missing: service_account"),
    (dict(home_cluster="Hub"), "cluster hub: home_cluster: cluster name 'Hub' is invalid"),
    (dict(home_cluster="east"), "cluster east: the remote cluster is Kiali's home cluster east"),
    (dict(secret_mode="single", remote={"cluster_name": "c" * 50, "context": "x"}), "at most 49 characters"),
    (dict(remote={"cluster_name": "East_1", "context": "x"}), "cluster East_1: cluster name 'East_1' is invalid"),
    (dict(remote={"cluster_name": "east"}), "one of the following is required: kubeconfig, context, host"),
])
def test_rejected_before_any_cluster_is_contacted(kw, fragment):
    result, output = run(base(**kw))
    assert result.get("failed") is True, result
    assert fragment in result["msg"], result["msg"]
    assert "cannot connect" not in result["msg"]
    assert FAKE_TOKEN not in output


def test_unreachable_home_is_named():
    result, output = run(base())
    assert result["failed"] is True
    assert result["msg"].startswith("cluster hub: cannot connect to the API server")
    assert FAKE_TOKEN not in output


def test_documentation_matches_the_argument_spec():
    import yaml

    doc = yaml.safe_load(remote_secret.DOCUMENTATION)["options"]
    spec = remote_secret.argspec().argument_spec
    own = set(spec) - {"cluster_name", "kubeconfig", "context", "host", "api_key", "ca_cert", "validate_certs",
                       "allow_insecure", "render_dir", "render_secrets", "remote"}
    assert own == set(doc)
    for name in own:
        assert doc[name].get("default") == spec[name].get("default"), name
        assert doc[name]["type"] == spec[name]["type"], name
        assert doc[name].get("choices") == spec[name].get("choices"), name
