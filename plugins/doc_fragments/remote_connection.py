# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The remote: sub-dictionary of modules that read one cluster and write another."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with remote_spec() in plugins/module_utils/_connection.py.
    DOCUMENTATION = r"""
options:
  remote:
    description:
      - The second cluster of the task (for example the remote cluster whose credential is stored on the
        home cluster). Same options as the top-level connection.
      - Environment variables (E(K8S_AUTH_*)) are not read for O(remote); they describe one cluster,
        which is the top-level one.
      - One of O(remote.kubeconfig), O(remote.context) or O(remote.host) is required.
    type: dict
    required: true
    suboptions:
      cluster_name:
        description:
          - The kialiops name of the remote cluster, quoted in every message about it.
          - Must be a DNS-1123 label, lowercase letters, digits and C(-), starting and ending with a letter
            or digit, at most 63 characters.
        type: str
        required: true
      kubeconfig:
        description:
          - Path to a kubeconfig file for the remote cluster. Several files may be joined with C(:).
        type: path
      context:
        description:
          - Name of a context in O(remote.kubeconfig) (or, without it, in the default kubeconfig).
          - Without it, the current context of O(remote.kubeconfig) is used.
        type: str
      host:
        description:
          - URL of the remote API server. Without O(remote.kubeconfig) and O(remote.context),
            O(remote.api_key) is required with it.
          - O(remote.host) with O(remote.api_key) must not be combined with O(remote.kubeconfig) or
            O(remote.context).
        type: str
      api_key:
        description:
          - Bearer token for the remote API server. Never logged.
        type: str
      ca_cert:
        description:
          - Path to the CA certificate that signed the remote API server certificate.
        type: path
        aliases: [ssl_ca_cert]
      validate_certs:
        description:
          - Whether to verify the remote API server's TLS certificate. Unset means what the kubeconfig says.
          - V(false) is refused unless O(remote.allow_insecure=true).
        type: bool
        aliases: [verify_ssl]
      allow_insecure:
        description:
          - Explicit opt-in to talk to the remote cluster without TLS verification (O(remote.validate_certs=false),
            C(insecure-skip-tls-verify) in the kubeconfig, or an C(http://) URL). Throw-away labs only.
        type: bool
        default: false
"""
