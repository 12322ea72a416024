"""The remote_prepare role end to end (playbooks/prepare.yml, rotate_tokens.yml) on the lab: hub is Kiali's
home, east (plain) and west (OpenShift flavour) are prepared in one run. Only what is stored in the hub's
secrets is used to talk to the spokes afterwards."""
from __future__ import annotations

import base64
import re
import time

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from labkit import ansible_playbook, audit, remove_remote_access, unique

ADMIN = "kialiops-admin"


def changed_total(stdout):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", stdout))


def writes(events, names):
    """Mutating requests by the admin that touch this test's objects (the lab may be shared)."""
    out = []
    for ev in audit.mutating(events, ADMIN):
        ref = ev.get("objectRef", {})
        if any(n in (ref.get("name") or "") or n in (ref.get("namespace") or "") for n in names):
            out.append(ev)
    return out


def minted(events, sfx):
    """TokenRequests for this test's service accounts."""
    return [e for e in events if e.get("objectRef", {}).get("subresource") == "token"
            and sfx in (e["objectRef"].get("namespace") or "")]


@pytest.fixture
def setup(lab):
    sfx = unique("rp").split("-", 1)[1]
    extra = {"kialiops_kiali_namespace": "kiali-" + sfx, "kialiops_remote_namespace": "kr-" + sfx,
             "kialiops_instance_name": "kiali-" + sfx}
    client.CoreV1Api(lab.admin("hub")).create_namespace({"metadata": {"name": extra["kialiops_kiali_namespace"]}})
    yield extra, sfx
    remove_remote_access(lab, ("east", "west"))   # what the role wrote on the remotes
    client.CoreV1Api(lab.admin("hub")).delete_namespace(extra["kialiops_kiali_namespace"])


def stored_client(lab, namespace, cluster):
    core = client.CoreV1Api(lab.admin("hub"))
    sec = core.read_namespaced_secret("kiali-remote-cluster-secret-" + cluster, namespace)
    assert sec.metadata.labels["kiali.io/multiCluster"] == "true"
    assert sec.metadata.annotations["kiali.io/cluster"] == cluster
    kc = yaml.safe_load(base64.b64decode(sec.data[cluster]))
    assert [c["name"] for c in kc["clusters"]] == [cluster] and kc["current-context"] == cluster
    api = config.new_client_from_config_dict(kc)
    api.configuration.proxy = None
    return api, kc["users"][0]["user"]["token"]


def test_prepare_two_spokes_then_rerun_is_silent(lab, setup):
    extra, sfx = setup
    r = ansible_playbook(lab.inventory, playbook="prepare.yml", extra=extra)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    tokens = []
    for cluster in ("east", "west"):
        api, token = stored_client(lab, extra["kialiops_kiali_namespace"], cluster)
        tokens.append(token)
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert extra["kialiops_remote_namespace"] in names            # the stored credential really reads
        with pytest.raises(ApiException) as denied:                    # and view-only really cannot write
            client.CoreV1Api(api).create_namespaced_config_map(extra["kialiops_remote_namespace"],
                                                               {"metadata": {"name": "nope"}})
        assert denied.value.status == 403
    for t in tokens:
        assert t not in r.stdout and t not in r.stderr

    marks = lab.marks()
    again = ansible_playbook(lab.inventory, playbook="prepare.yml", extra=extra)
    assert again.returncode == 0, again.stdout[-4000:]
    assert changed_total(again.stdout) == 0, again.stdout[-4000:]
    for c in ("hub", "east", "west"):
        events = lab.audit(c).since(marks[c])
        assert writes(events, [sfx]) == [], c
        assert not minted(events, sfx), c


def test_check_mode_on_a_fresh_setup_writes_nothing(lab, setup):
    extra, sfx = setup
    marks = lab.marks()
    r = ansible_playbook(lab.inventory, "--check", "--diff", playbook="prepare.yml", extra=extra)
    assert r.returncode == 0, r.stdout[-6000:]
    assert changed_total(r.stdout) > 0
    for c in ("hub", "east", "west"):
        for ev in writes(lab.audit(c).since(marks[c]), [sfx]):
            assert "dryRun=All" in ev["requestURI"], ev["requestURI"]
    with pytest.raises(ApiException):
        client.CoreV1Api(lab.admin("hub")).read_namespaced_secret("kiali-remote-cluster-secret-east",
                                                                  extra["kialiops_kiali_namespace"])


def test_rotation_replaces_a_due_token_and_the_next_run_does_not(lab, setup):
    extra, sfx = setup
    extra = dict(extra, kialiops_token_ttl=600)
    assert ansible_playbook(lab.inventory, playbook="prepare.yml", extra=extra).returncode == 0
    dummy_api, first = stored_client(lab, extra["kialiops_kiali_namespace"], "east")
    time.sleep(7)                      # > 1 % of 600 s
    r = ansible_playbook(lab.inventory, playbook="rotate_tokens.yml",
                         extra=dict(extra, remote_prepare_rotate_after_percent=1))
    assert r.returncode == 0, r.stdout[-4000:]
    dummy_api, second = stored_client(lab, extra["kialiops_kiali_namespace"], "east")
    assert second != first
    marks = lab.marks()
    r = ansible_playbook(lab.inventory, playbook="rotate_tokens.yml", extra=extra)
    assert r.returncode == 0 and changed_total(r.stdout) == 0, r.stdout[-4000:]
    dummy_api, third = stored_client(lab, extra["kialiops_kiali_namespace"], "east")
    assert third == second
    assert not minted(lab.audit("east").since(marks["east"]), sfx)


def test_home_only_auth_accepted_is_a_warning_and_the_run_goes_on(lab, setup):
    """playbooks/preflight.yml: token auth with remotes is refused (tests/reliability/test_bad_input.py) unless
    kialiops_allow_home_only_auth; then the run warns, naming the home and the remotes Kiali will not show, and goes
    on (--check: nothing written)."""
    extra, sfx = setup
    marks = lab.marks()
    r = ansible_playbook(lab.inventory, "--check", playbook="prepare.yml",
                         extra=dict(extra, kialiops_auth_strategy="token", kialiops_allow_home_only_auth=True))
    assert r.returncode == 0, r.stdout[-4000:]
    out = " ".join(r.stdout.split())
    warning = out.split("WARNING: ", 1)[-1].replace("''", "'")   # (the YAML result format doubles quotes)
    assert warning.startswith("auth strategy token shows logged-in users Kiali's home cluster hub only, not the "
                              "remote clusters east, west"), out[-3000:]
    assert "accepted with kialiops_allow_home_only_auth" in warning
    for c in ("hub", "east", "west"):   # the plan's server-side dry runs only
        real = [e for e in writes(lab.audit(c).since(marks[c], settle=0.3), [sfx]) if "dryRun=All" not in e["requestURI"]]
        assert real == [], c


def test_unknown_kiali_version_fails_before_any_write(lab, setup):
    extra, sfx = setup
    marks = lab.marks()
    r = ansible_playbook(lab.inventory, playbook="prepare.yml", extra=dict(extra, kialiops_kiali_version="v1.99"))
    assert r.returncode != 0
    assert "no RBAC data for Kiali v1.99" in r.stdout and "v2.28" in r.stdout
    for c in ("hub", "east", "west"):
        assert writes(lab.audit(c).since(marks[c], settle=0.3), [sfx]) == [], c


def test_exec_without_the_flag_is_refused(lab, setup):
    extra, sfx = setup
    r = ansible_playbook(lab.inventory, "-e",
                         '{"kialiops_exec_config": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}}',
                         playbook="prepare.yml", extra=dict(extra, kialiops_token_mode="exec"))
    assert r.returncode != 0
    assert "enable_exec_provider" in r.stdout


@pytest.mark.parametrize("version, backend", [("v2.28", "direct"), ("v2.29.1", "operator")])
def test_impersonation_with_a_version_without_it_fails_before_any_write(lab, setup, version, backend):
    """Data-driven: only a data set with the impersonate rule (v2.30; Kiali v2.30.0 config/config.go) allows
    impersonation. Refused on every remote, naming it and the versions that have it, before any write, for the
    operator backend (which writes a Kiali CR first) too."""
    extra, sfx = setup
    marks = lab.marks()
    # the lab's hub is declared OpenShift (auth openshift needs it); playbooks/preflight.yml then reads its Kiali CRD,
    # which (upstream or fixture) does not declare auth.openshift.impersonation, and stops the run before any remote
    # is contacted; the role's own refusal by the RBAC data (the same rule, per remote) is in tests/unit test_rbac.py
    r = ansible_playbook(lab.inventory, playbook="prepare.yml",
                         extra=dict(extra, kialiops_kiali_version=version, kialiops_impersonation="true",
                                    kialiops_auth_strategy="openshift", kialiops_remote_backend=backend,
                                    kialiops_platform="openshift", kialiops_kiali_host="kiali.apps.hub.example.com"))
    assert r.returncode != 0
    out = " ".join(r.stdout.split())
    assert "cluster hub: impersonation is asked for (kialiops_impersonation)" in out, r.stdout[-3000:]
    assert "spec.auth.openshift.impersonation" in out and "Kiali v2.30.0" in out and "Nothing was written" in out
    # the role's own refusal, per remote, from the RBAC data: verify.yml loads remote_prepare's settings (no preflight)
    r = ansible_playbook(lab.inventory, playbook="verify.yml",
                         extra=dict(extra, kialiops_kiali_version=version, kialiops_impersonation="true",
                                    kialiops_auth_strategy="openshift", kialiops_remote_backend=backend))
    out = " ".join(r.stdout.split())
    assert r.returncode != 0
    for c in ("east", "west"):
        assert ("cluster %s: remote_prepare_impersonation is true, but Kiali %s has no impersonation" % (c, version)
                in out), r.stdout[-3000:]
    assert "to a version whose data has it (v2.30)" in out
    for c in ("hub", "east", "west"):
        assert writes(lab.audit(c).since(marks[c], settle=0.3), [sfx]) == [], c
        assert minted(lab.audit(c).since(marks[c], settle=0.3), sfx) == [], c
