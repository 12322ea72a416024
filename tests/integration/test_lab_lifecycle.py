"""lab up / status / down on a private one-cluster lab in single-IP mode: nothing is left behind,
not even after `up` itself is SIGKILLed half-way."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labkit import REPO, labtool, run_lab


@pytest.fixture
def solo(tmp_path):
    # a port offset keeps it clear of any other single-IP lab on this machine (e.g. a developer's)
    offset = 700 + int(os.environ.get("LAB_PORT_OFFSET", "0"))   # beside a lab of its own offset
    env = {"LAB_DIR": str(tmp_path / "lab"), "LAB_CLUSTERS": "solo", "LAB_SINGLE_IP": "1", "LAB_PORT_OFFSET": str(offset)}
    yield env
    run_lab(["down"], env=env, check=False)


def recorded(env):
    state = json.loads(open(os.path.join(env["LAB_DIR"], "state.json")).read())
    return state, [p for c in state["clusters"].values() for p in c["procs"].values()]


def assert_all_gone(env, procs, ports):
    for p in procs:
        assert not labtool.alive(p), p
    for port in ports:
        assert labtool.can_bind("127.0.0.1", port), port
    assert not os.path.exists(os.path.join(env["LAB_DIR"], "state.json"))


def test_up_status_down_single_ip(solo):
    r = run_lab(["up"], env=solo)
    state, procs = recorded(solo)
    c = state["clusters"]["solo"]
    assert c["server"] == "https://127.0.0.1:%d" % (16444 + int(solo["LAB_PORT_OFFSET"])) and c["ip"] == "127.0.0.1"
    st = run_lab(["status", "--json"], env=solo)
    assert json.loads(st.stdout)["healthy"]
    issuer = state["oidc"]
    assert issuer["issuer"] == "https://127.0.0.1:%d" % (15443 + int(solo["LAB_PORT_OFFSET"])) and issuer["trusted_by"] == []
    t0 = time.time()
    run_lab(["down"], env=solo)
    assert time.time() - t0 < 30
    assert_all_gone(solo, procs + list(issuer["procs"].values()),
                    [c["etcd_client"], c["etcd_peer"], c["apiserver"], issuer["port"]])
    assert not os.path.exists(os.path.join(issuer["dir"], "signing.key"))          # the IdP's key goes too
    assert (open(os.path.join(solo["LAB_DIR"], "solo", "logs", "apiserver.log")).read())  # logs kept
    assert run_lab(["down"], env=solo).returncode == 0                                 # idempotent
    assert run_lab(["status"], env=solo, check=False).returncode == 1
    assert "ready in" in r.stderr


def test_down_after_sigkilled_up_cleans_up(solo):
    up = subprocess.Popen([sys.executable, str(REPO / "tools" / "lab" / "lab.py"), "up"],
                          env=dict(os.environ, **solo), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = os.path.join(solo["LAB_DIR"], "state.json")
    deadline = time.time() + 120
    while time.time() < deadline:   # kill `up` once the apiserver has been spawned
        try:
            if "apiserver" in json.load(open(state_file))["clusters"]["solo"]["procs"]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    up.send_signal(signal.SIGKILL)
    up.wait()
    state, procs = recorded(solo)
    assert any(labtool.alive(p) for p in procs), "the children should outlive a SIGKILLed up"
    run_lab(["down"], env=solo)
    c = state["clusters"]["solo"]
    assert_all_gone(solo, procs, [c["etcd_client"], c["etcd_peer"], c["apiserver"]])
    # and a fresh up works again afterwards
    run_lab(["up"], env=solo)
    assert json.loads(run_lab(["status", "--json"], env=solo).stdout)["healthy"]


def test_down_without_state_file_stops_only_this_labs_processes(solo):
    run_lab(["up"], env=solo)
    state, procs = recorded(solo)
    os.unlink(os.path.join(solo["LAB_DIR"], "state.json"))
    run_lab(["down"], env=solo)
    for p in procs:
        assert not labtool.alive(p), p
