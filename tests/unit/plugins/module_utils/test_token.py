# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When a stored token is reused or replaced, the ttl rule, and the legacy token wait."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._kubeconfig import (
    build_kubeconfig,
    dump_kubeconfig,
    parse_kubeconfig,
    token_claims,
)
from ansible_collections.kialiops.multicluster.plugins.module_utils._token import (
    check_ttl,
    decide,
    legacy_secret,
    legacy_secret_name,
    lifetime_used,
    subject,
    wait_legacy_token,
)

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
SERVER = "https://api.east.example.com:6443"
SUB = subject("istio-system", "kiali")
IAT = 1_800_000_000
TTL = 1000
EXEC = {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws", "interactiveMode": "Never"}


def jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return "%s.%s.sig" % (part({"alg": "RS256"}), part(claims))


def bound_token(sub=SUB, uid="uid-1", iat=IAT, ttl=TTL):
    return jwt({"sub": sub, "iat": iat, "exp": iat + ttl,
                "kubernetes.io": {"namespace": "istio-system", "serviceaccount": {"name": "kiali", "uid": uid}}})


def legacy_token(sub=SUB):
    return jwt({"sub": sub, "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/service-account.uid": "uid-1"})


def stored(token=None, mode="bound", ttl=TTL, server=SERVER, ca=PEM, exec_config=None, tls=None):
    config = build_kubeconfig("east", server, ca_data=ca, token=token, exec_config=exec_config, tls_server_name=tls)
    out = parse_kubeconfig(dump_kubeconfig(config))
    out.update(mode=mode, ttl=ttl, claims=token_claims(token) if token else None)
    return out


def want(**kw):
    out = dict(mode="bound", server=SERVER, ca_data=PEM, tls_server_name=None, insecure_skip_tls_verify=False,
               subject=SUB, sa_uid="uid-1", ttl=TTL, legacy_token=None, exec=None)
    out.update(kw)
    return out


# The rotate decision table of the brief: fresh, 79 %, 81 %, expired, other SA, other server (+ the rest).
@pytest.mark.parametrize("case, stored_kw, want_kw, at, reuse, reason", [
    ("fresh", {}, {}, IAT + 1, True, "is current (0% of its lifetime used)"),
    ("79 percent", {}, {}, IAT + 790, True, "is current (79%"),
    ("81 percent", {}, {}, IAT + 810, False, "81% of the stored token's lifetime is used"),
    ("exactly 80 percent", {}, {}, IAT + 800, False, "80% of the stored token's lifetime is used"),
    ("expired", {}, {}, IAT + TTL + 1, False, "expired"),
    ("other SA", dict(token=bound_token(sub=subject("istio-system", "other"))), {}, IAT + 1, False,
     "is for system:serviceaccount:istio-system:other"),
    ("other server", {}, dict(server="https://api.west.example.com:6443"), IAT + 1, False, "another server"),
    ("other CA", {}, dict(ca_data=PEM.replace("fake", "other")), IAT + 1, False, "another server, CA"),
    ("tls server name", {}, dict(tls_server_name="api.internal"), IAT + 1, False, "TLS server name"),
    ("recreated SA", {}, dict(sa_uid="uid-2"), IAT + 1, False, "recreated"),
    ("ttl changed", {}, dict(ttl=2 * TTL), IAT + 1, False, "token_ttl changed"),
    ("mode changed", {}, dict(mode="legacy", legacy_token="x"), IAT + 1, False, "of mode bound, legacy is wanted"),
    ("uid unknown", {}, dict(sa_uid=None), IAT + 1, True, "is current"),
])
def test_bound_decision_table(case, stored_kw, want_kw, at, reuse, reason):
    kw = dict(token=bound_token())
    kw.update(stored_kw)
    got = decide(stored(**kw), want(**want_kw), at, rotate_after_percent=80)
    assert got[0] is reuse, case
    assert reason in got[1], got


def test_rotate_after_percent_and_force():
    s = stored(token=bound_token())
    assert decide(s, want(), IAT + 15, rotate_after_percent=1)[0] is False
    assert decide(s, want(), IAT + 5, rotate_after_percent=1)[0] is True
    assert decide(s, want(), IAT + 1, force_rotate=True) == (False, "force_rotate is set")


def test_nothing_stored_or_no_token():
    assert decide(None, want(), IAT) == (False, "no kubeconfig is stored for this cluster")
    s = stored(exec_config=EXEC, mode="bound")
    assert decide(s, want(), IAT) == (False, "the stored kubeconfig holds no service-account token")


def test_mode_inferred_when_annotations_are_missing():
    assert decide(stored(token=bound_token(), mode=None), want(), IAT + 1)[0] is True
    got = decide(stored(token=legacy_token(), mode=None), want(), IAT + 1)
    assert got == (False, "the stored credential is of mode legacy, bound is wanted")


def test_legacy_reused_while_the_token_secret_holds_the_same_token():
    token = legacy_token()
    s = stored(token=token, mode="legacy", ttl=None)
    w = want(mode="legacy", ttl=None)
    assert decide(s, dict(w, legacy_token=token), IAT)[0] is True
    assert decide(s, dict(w, legacy_token=None), IAT) == (False, "the legacy token Secret is gone or empty")
    assert decide(s, dict(w, legacy_token=legacy_token() + "x"), IAT)[1] == "the legacy token Secret holds another token"
    assert decide(s, dict(w, legacy_token=token), IAT, force_rotate=True)[0] is False
    # a legacy token never expires: years later it is still reused
    assert decide(s, dict(w, legacy_token=token), IAT + 10 * 365 * 86400)[0] is True


def test_exec_reused_while_the_exec_config_is_the_same():
    s = stored(exec_config=EXEC, mode="exec")
    w = want(mode="exec", exec=EXEC, subject=None, ttl=None)
    assert decide(s, w, IAT) == (True, "the stored exec config is current")
    assert decide(s, dict(w, exec=dict(EXEC, command="gcloud")), IAT) == (False, "the exec config changed")
    assert decide(s, w, IAT, force_rotate=True)[0] is True  # nothing to rotate


def test_lifetime_used():
    assert lifetime_used({"iat": 100, "exp": 200}, 150) == 0.5
    assert lifetime_used({"iat": 100, "exp": None}, 150) is None
    assert lifetime_used({"iat": 200, "exp": 100}, 150) is None


@pytest.mark.parametrize("ttl, ok", [(600, True), (7776000, True), (63072000, True), (599, False),
                                     (63072001, False), (True, False), ("600", False)])
def test_ttl_range(ttl, ok):
    if ok:
        assert check_ttl(ttl) == ttl
    else:
        with pytest.raises(ValueError, match="between 600 seconds .* and 63072000 seconds"):
            check_ttl(ttl)


def test_legacy_secret_shape():
    labels = {"app.kubernetes.io/managed-by": "kialiops", "kialiops.io/home": "hub"}
    obj = legacy_secret("istio-system", "kiali", labels)
    assert legacy_secret_name("kiali") == "kiali-kialiops-token"
    assert obj == {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                   "metadata": {"name": "kiali-kialiops-token", "namespace": "istio-system", "labels": labels,
                                "annotations": {"kubernetes.io/service-account.name": "kiali"}}}


# --- waiting for the token controller ------------------------------------------------------------------------

class FakeRemote:
    """get() answers a token Secret that is filled after ``fill_after`` reads."""

    cluster = "east"

    def __init__(self, fill_after=None, gone=False):
        self.reads = 0
        self.fill_after = fill_after
        self.gone = gone

    def get(self, api_version, kind, name, namespace):
        self.reads += 1
        if self.gone:
            return None
        secret = {"metadata": {"name": name, "namespace": namespace}, "data": {}}
        if self.fill_after is not None and self.reads > self.fill_after:
            secret["data"]["token"] = base64.b64encode(b"the-legacy-token").decode()
        return secret


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def test_wait_legacy_token_backs_off_exponentially_and_masks():
    remote, clock, masked = FakeRemote(fill_after=4), Clock(), []
    token, secret = wait_legacy_token(remote, "ns", "kiali-kialiops-token", 60, masked.append, clock.sleep, clock)
    assert token == "the-legacy-token" and masked == ["the-legacy-token"]
    assert secret["metadata"]["name"] == "kiali-kialiops-token"
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0]


def test_wait_legacy_token_times_out_naming_the_cluster_and_the_token_controller():
    remote, clock = FakeRemote(), Clock()
    with pytest.raises(KialiopsError) as e:
        wait_legacy_token(remote, "ns", "kiali-kialiops-token", 20, lambda t: None, clock.sleep, clock)
    text = str(e.value)
    assert text.startswith("cluster east: Secret ns/kiali-kialiops-token: the token controller did not fill data.token "
                           "within 20s")
    assert "kube-controller-manager's service-account token controller must run on cluster east" in text
    assert max(clock.sleeps) == 5.0 and sum(clock.sleeps) == pytest.approx(20)


def test_wait_legacy_token_secret_deleted():
    with pytest.raises(KialiopsError, match="deleted while waiting"):
        wait_legacy_token(FakeRemote(gone=True), "ns", "x", 5, lambda t: None, Clock().sleep, Clock())
