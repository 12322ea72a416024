# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """How Kiali is configured, as far as its remote-cluster RBAC depends on it (remote_access, access_review)."""

    DOCUMENTATION = r"""
options:
  instance_name:
    description:
      - Kiali's C(deployment.instance_name); the object names derive from it.
      - One Kiali instance per home cluster and remote; objects of another instance name for the same
        O(home_cluster) are pruned.
      - Must be a DNS-1123 label.
    type: str
    default: kiali
  flavour:
    description:
      - Whose names to use. V(chart) (the Helm chart and the Kiali prepare script) names the ServiceAccount
        C(<instance>) and the binding like its role (C(<instance>) or C(<instance>-viewer)).
      - V(operator) names the ServiceAccount C(<instance>-service-account) and the binding always C(<instance>).
    type: str
    choices: [chart, operator]
    default: chart
  view_only:
    description:
      - Kiali's C(deployment.view_only_mode). V(false) gives the write role only with O(auth_strategy=anonymous).
    type: bool
    default: true
  auth_strategy:
    description:
      - Kiali's C(auth.strategy) on the home cluster.
      - On every OpenShift remote the C(<instance>-<namespace>-openshift) ClusterRole and binding are written with
        C(get) on C(apiservers.config.openshift.io), whatever the strategy (Kiali's TLS config source C(auto)).
      - V(openshift) on an OpenShift remote adds C(get) on the OAuthClient to that ClusterRole and, unless
        O(impersonation), the OAuthClient C(<instance>-<namespace>); O(kiali_host) is then required.
    type: str
    choices: [anonymous, openid, openshift, token, header]
    default: token
  impersonation:
    description:
      - Kiali's C(auth.openshift.impersonation.enabled). Adds C(impersonate) on C(users) and C(groups) to the
        C(<instance>-<namespace>-openshift) ClusterRole; no OAuthClient is written (Kiali with impersonation skips
        the per-cluster OAuth login on remotes).
      - Only with O(auth_strategy=openshift) on an OpenShift remote, and only with C(rbac) data of a Kiali version
        that has impersonation (an C(openshift_extras.impersonation) rule; Kiali v2.30 and later); refused otherwise.
    type: bool
    default: false
  kiali_host:
    description:
      - Host name (optionally with C(:port)) under which users reach Kiali on the home cluster, for example
        C(kiali-istio-system.apps.hub.example.com), without C(https://) or a path.
      - The OAuthClient's redirect URI is C(https://<kiali_host>/api/auth/callback/<remote cluster name>).
      - Required with O(auth_strategy=openshift) on OpenShift without O(impersonation), unused otherwise.
    type: str
  platform:
    description:
      - V(auto) detects OpenShift from the API groups the server serves (as M(kialiops.multicluster.cluster_info)
        does). OpenShift adds the C(deploymentconfigs) and C(routes) rows to the role and allows the OpenShift
        extras.
    type: str
    choices: [auto, kubernetes, openshift]
    default: auto
"""
