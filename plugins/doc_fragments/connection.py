# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connection options of every kialiops module that talks to one cluster."""

from __future__ import annotations


class ModuleDocFragment:
    # Keep in step with connection_spec() in plugins/module_utils/_connection.py.
    DOCUMENTATION = r"""
options:
  cluster_name:
    description:
      - The kialiops name of the cluster this connection reaches. Every message about the cluster
        quotes it, and it becomes part of Secret names, the C(kiali.io/cluster) annotation and
        kubeconfig entries.
      - Must be a DNS-1123 label, lowercase letters, digits and C(-), starting and ending with a letter
        or digit, at most 63 characters.
    type: str
    required: true
  kubeconfig:
    description:
      - Path to a kubeconfig file. Several files may be joined with C(:) as in E(KUBECONFIG).
      - Only a path is accepted; an inline kubeconfig dictionary is not, so its credentials never become
        a module argument.
      - Can also be given with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - One of O(kubeconfig), O(context) or O(host) is required, so that each task names the cluster it acts
        on. Without them kubernetes.core would fall back to the default kubeconfig's current context, which
        with several clusters silently aims a write at the wrong one.
    type: path
  context:
    description:
      - Name of a context in O(kubeconfig) (or, without O(kubeconfig), in the default kubeconfig,
        E(KUBECONFIG) or C(~/.kube/config)).
      - Without O(context), the current context of O(kubeconfig) is used.
      - Can also be given with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the API server, for example C(https://api.east.example.com:6443).
      - Without O(kubeconfig) and O(context), O(api_key) is required with it.
      - O(host) with O(api_key) must not be combined with O(kubeconfig) or O(context); kubernetes.core would
        ignore the kubeconfig, so the module refuses the ambiguity.
      - Can also be given with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token used to authenticate to the API server. Never logged.
      - Can also be given with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - Path to the CA certificate (full chain) that signed the API server certificate.
      - Can also be given with the E(K8S_AUTH_SSL_CA_CERT) or E(K8S_AUTH_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Unset means what the kubeconfig says
        (verification on unless it sets C(insecure-skip-tls-verify)).
      - V(false) is refused unless O(allow_insecure=true).
      - Can also be given with the E(K8S_AUTH_VERIFY_SSL) or E(K8S_AUTH_VALIDATE_CERTS) environment variable.
    type: bool
    aliases: [verify_ssl]
  allow_insecure:
    description:
      - Explicit opt-in to talk to this cluster without TLS verification, that is with O(validate_certs=false),
        a kubeconfig cluster entry with C(insecure-skip-tls-verify), or an C(http://) server URL.
      - Anyone on the path could then read the credential. Meant for throw-away labs only.
    type: bool
    default: false
  render_dir:
    description:
      - GitOps export. Every object the task would apply is written to
        C(<render_dir>/<cluster>/<kind>_<namespace>_<name>.yaml) (one file per object, changed or not; stable names)
        instead of being applied; every write becomes a server-side dry-run, so the files hold only what the API
        server accepts. The clusters are still read (plans depend on what is there).
      - Secret values are left out (the key names are kept in the annotation C(kialiops.io/rendered-without-data))
        unless O(render_secrets=true).
    type: path
  render_secrets:
    description:
      - With O(render_dir), write Secret values too (files mode 0600). A bound token is then minted for real
        (TokenRequest creates no object), so the export holds a working credential; keep it out of Git or encrypt it.
    type: bool
    default: false
notes:
  - The connection goes through the kubernetes.core client (C(kubernetes) Python library); only the options above
    are read. Other E(K8S_AUTH_*) variables (username, password, proxy, impersonation) are ignored.
requirements:
  - kubernetes >= 24.2.0
"""
