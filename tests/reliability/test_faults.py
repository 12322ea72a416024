"""Faults: a spoke's API server dies in the middle of a run, and Kiali's home API server restarts between runs.

Kiali's home is mgmt; the spokes are hub, east and west (each test its own namespaces and instance name), and west
is the one that dies once kialiops has started writing to it."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from kubernetes import client

from labkit import ansible_playbook, audit, run_lab, stored_kubeconfig, whoami
from test_cluster_remove import HOME, Mesh, describe, writes
from test_site import verified

SPOKES = ("hub", "east", "west")


def inventory(mesh, name="faults.yml"):
    return mesh.inventory(spokes=("east", "west"), name=name, hub_too=True)


def summary_line(stdout, name):
    summary = stdout.split("PLAY [Summary]")[1]
    return next(ln for ln in summary.splitlines() if ln.strip().startswith(name + " "))


def wait_for_writes(lab, marks, cluster, run, timeout=420):
    """Block until kialiops sent its first real write to ``cluster`` (the run reached remote_prepare there).

    Reads the audit log as it is, without waiting for it to settle: while kialiops writes, the log does not settle
    until the cluster's apply and verify are over, which is too late for a fault meant to land in the middle."""
    deadline = time.time() + timeout
    while time.time() < deadline and run.poll() is None:
        if writes(lab, marks, cluster, settle=0):
            return
        time.sleep(0.02)
    out, err = run.communicate()
    raise AssertionError("kialiops never wrote to %s:\n%s" % (cluster, out[-5000:] + err[-2000:]))


CALLBACKS = Path(__file__).resolve().parent / "callbacks"
AFTER_APPLY = "Wire metrics through ACM Observability"   # site.yml's play after "Prepare the remote clusters"


def hold_before(play, flag):
    """Environment of a run that holds at the start of ``play`` until ``flag`` exists (callbacks/hold_play.py)."""
    return {"ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS), "ANSIBLE_CALLBACKS_ENABLED": "hold_play",
            "KIALIOPS_TEST_HOLD_PLAY": play, "KIALIOPS_TEST_HOLD_FILE": str(flag)}


def descendants(pid):
    """``pid``'s child processes and theirs (from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


@contextlib.contextmanager
def frozen(run):
    """The running playbook (controller first, so it forks no new worker, then every worker) stopped (SIGSTOP)
    for the block and continued after it: what the block does happens at one point of the run, however fast the
    run is (an in-process run applies a remote and verifies it in well under a second)."""
    os.kill(run.pid, signal.SIGSTOP)
    pids = [run.pid]
    try:
        for pid in descendants(run.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                pids.append(pid)
        yield
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def test_spoke_dies_mid_run_then_home_restarts(lab, tmp_path):
    mesh = Mesh(lab, tmp_path)
    inv = inventory(mesh)
    stopped = False
    try:
        marks = lab.marks()
        # the run holds before the play after the remotes' apply until west is down: the fault lands in west's
        # apply (the freeze below) or, if the apply was quicker than the audit log is read, right after it
        released = tmp_path / "west-stopped"
        run = ansible_playbook(inv, background=True, env=hold_before(AFTER_APPLY, released))
        wait_for_writes(lab, marks, "west", run)
        with frozen(run):   # west dies between two steps of its apply, whatever the speed of the run
            run_lab(["stop-apiserver", "west"])
            stopped = True
        released.touch()
        out, err = run.communicate(timeout=900)
        assert "hold_play: held before " in out, out[-5000:] + err[-2000:]
        assert run.returncode != 0, out[-5000:]
        # the other spokes completed, the summary names the failed one
        summary = out.split("PLAY [Summary]")[1]
        for c in ("hub", "east"):
            assert "%s FAILED" % c not in summary and "verified below" in summary_line(out, c), summary
            assert verified(out, c), out[-4000:]
            assert stored_kubeconfig(mesh.lab, mesh.ns, c, home=HOME) is not None
        # west is named: failed in its apply (the summary), or - the apply being quick in-process - it completed
        # before its API server stopped and verify, the last step, names it unreachable
        assert "west FAILED: cluster west" in summary or "cluster west: reachable" in out, out[-5000:]
        # no half-written secret for west on the home: none at all, or a complete kubeconfig
        kc = stored_kubeconfig(mesh.lab, mesh.ns, "west", home=HOME)
        run_lab(["start-apiserver", "west"])
        stopped = False
        if kc is not None:
            assert kc["clusters"][0]["cluster"]["server"] == lab.server("west")
            assert kc["clusters"][0]["cluster"]["certificate-authority-data"]
            token = kc["users"][0]["user"]["token"]
            assert whoami(lab.with_token("west", token)).startswith("system:serviceaccount:" + mesh.remote_ns)

        # west is back: a rerun converges
        again = ansible_playbook(inv)
        assert again.returncode == 0, again.stdout[-5000:]
        for c in SPOKES:
            assert verified(again.stdout, c), again.stdout[-4000:]
        token = stored_kubeconfig(mesh.lab, mesh.ns, "west", home=HOME)["users"][0]["user"]["token"]
        assert whoami(lab.with_token("west", token)).startswith("system:serviceaccount:" + mesh.remote_ns)

        # Kiali's home API server restarts between runs (etcd keeps the data): the rerun converges, writing nothing
        run_lab(["stop-apiserver", HOME])
        run_lab(["start-apiserver", HOME])
        marks = lab.marks()
        third = ansible_playbook(inv)
        assert third.returncode == 0, third.stdout[-5000:]
        for c in lab.clusters:
            assert writes(lab, marks, c) == [], (c, describe(writes(lab, marks, c)))
        assert audit.mutating(lab.audit(HOME).since(marks[HOME]), include_reviews=True), "no access review: run did not ask"
    finally:
        if stopped:
            run_lab(["start-apiserver", "west"])
        mesh.remove(list(SPOKES), inventory=inv)
        client.CoreV1Api(lab.admin(HOME)).delete_namespace(mesh.ns)
