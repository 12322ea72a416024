# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The ACM hub and Kiali's home: certificates, CA, Observatorium URL, Thanos values (the acm_observability module).

Reads the hub (MultiClusterObservability, Route observatorium-api, the client certificate and both candidate
CAs), connects to the Observatorium endpoint to find the CA that verifies its served chain, then copies the
client certificate and that CA to Kiali's namespace on Kiali's home with ClusterService.ensure(), so a rerun
(and a certificate that did not rotate) sends no write. Returns the Kiali CR fragment; the CR itself is
written by kiali_install (one writer, one apply).
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import socket
import ssl
import tempfile

from ansible_collections.kialiops.multicluster.plugins.module_utils import _acm as acm
from ansible_collections.kialiops.multicluster.plugins.module_utils._change import UNCHANGED, Change
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import InputError, KialiopsError
from ansible_collections.kialiops.multicluster.plugins.module_utils._labels import is_owned
from ansible_collections.kialiops.multicluster.plugins.module_utils._service import contains

NOTHING_WRITTEN = "Nothing was written"
MCO_KIND = "MultiClusterObservability"
MCO_DEFAULT_NAME = "observability"


class NotVerified(Exception):
    """The served chain does not verify against one candidate CA (``message`` says why)."""


def _b64decode(value):
    try:
        return base64.b64decode(value or "", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def split_address(address, default_port=443):
    """``host:port`` (or ``[v6]:port``, or a bare host) as ``(host, port)``."""
    host, port = address, default_port
    if address.startswith("["):
        host, dummy, rest = address[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif address.count(":") == 1:
        host, port = address.split(":")
    try:
        port = int(port)
    except ValueError:
        raise ValueError("%r is not host:port" % address) from None
    if not host or not 0 < port < 65536:
        raise ValueError("%r is not host:port" % address)
    return host, port


def tls_probe(address, server_name, ca_pem=None, client=None, timeout=10.0):
    """TLS handshake with ``address`` as a client that trusts only ``ca_pem`` and checks ``server_name``.

    Returns the served leaf certificate (PEM). Without ``ca_pem`` nothing is verified (to describe the served
    certificate). ``client`` is ``(cert_pem, key_pem)``, presented as Kiali will (mTLS). Raises NotVerified when
    the chain or name does not verify against ``ca_pem``, OSError when the endpoint cannot be reached.
    """
    host, port = split_address(address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client:
        scratch = tempfile.mkdtemp(prefix="kialiops-acm-")
        try:
            paths = []
            for name, text in zip(("tls.crt", "tls.key"), client):
                path = os.path.join(scratch, name)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                paths.append(path)
            ctx.load_cert_chain(paths[0], paths[1])
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
        except ssl.SSLCertVerificationError as e:
            raise NotVerified(e.verify_message or str(e)) from e
    return ssl.DER_cert_to_PEM_cert(der)


class Observability:
    """One run: ``home`` (Kiali's home, written) and ``hub`` (the ACM hub, read) are ClusterServices."""

    def __init__(self, home, hub, params, want_diff=False, mask=None, warn=None):
        self.home = home
        self.hub = hub
        self.params = params
        self.home_label = params.get("home_cluster") or home.cluster
        self.ns = params["observability_namespace"]
        self.want_diff = want_diff
        self.mask = mask or (lambda *values: None)
        self.warn = warn or (lambda msg: None)

    def fail_hub(self, reason, fix, obj=None):
        raise KialiopsError(self.hub.cluster, reason, fix + ". " + NOTHING_WRITTEN, obj)

    # ------------------------------------------------------------ the MCO
    def mco(self):
        if acm.MCO_API not in self.hub.api_groups():
            self.fail_hub("the hub does not serve kind %s in %s: ACM Observability is not installed" % (
                MCO_KIND, acm.MCO_API), "Enable ACM Observability on the ACM hub (create the "
                "MultiClusterObservability CR, see 'oc get mco observability'), or put the ACM hub in group hub")
        found = self.hub.list(acm.MCO_API, MCO_KIND)
        name = self.params.get("mco_name")
        if name:
            found = [m for m in found if m["metadata"]["name"] == name]
        if not found:
            self.fail_hub("there is no MultiClusterObservability%s on the hub, so ACM collects no metrics" % (
                " named %s" % name if name else ""),
                "Enable ACM Observability on the hub (create the MultiClusterObservability CR 'observability'), "
                "then re-run")
        if len(found) > 1:
            named = [m for m in found if m["metadata"]["name"] == MCO_DEFAULT_NAME]
            if not named:
                self.fail_hub("the hub has %d MultiClusterObservability CRs (%s)" % (
                    len(found), ", ".join(sorted(m["metadata"]["name"] for m in found))),
                    "Name the one to use with acm_metrics_mco_name (module option mco_name)")
            found = named
        return found[0]

    def thanos_values(self, mco):
        name = mco["metadata"]["name"]
        override = self.params.get("scrape_interval")
        try:
            if override is not None:
                seconds = acm.check_interval(override, "acm_metrics_scrape_interval (module option scrape_interval)")
            else:
                seconds = acm.check_interval(acm.mco_interval(mco), "spec.observabilityAddonSpec.interval of "
                                             "MultiClusterObservability %s" % name)
            retention, source = acm.mco_retention(mco)
            if self.params.get("retention_period"):
                retention = acm.check_duration(self.params["retention_period"],
                                               "acm_metrics_retention_period (module option retention_period)")
                source = "option retention_period"
            else:
                acm.check_duration(retention, "the retention of MultiClusterObservability %s (%s)" % (name, source))
        except InputError as e:
            self.fail_hub(e.reason, e.fix)
        return dict(name=name, interval_seconds=seconds, scrape_interval=acm.duration(seconds),
                    retention_period=retention, retention_source=source)

    # ------------------------------------------------------------ route, certificates, CA
    def _secret(self, name, keys, why):
        secret = self.hub.get("v1", "Secret", name, namespace=self.ns)
        if secret is None:
            return None
        data = secret.get("data") or {}
        out = {}
        for key in keys:
            text = _b64decode(data.get(key))
            if not text:
                self.fail_hub("Secret %s/%s has no usable key %s (%s)" % (self.ns, name, key, why),
                              "Check ACM Observability's health on the hub (the observability operator writes it)")
            out[key] = text
        return out

    def route_host(self):
        route = self.hub.get(acm.ROUTE_API, "Route", acm.ROUTE, namespace=self.ns) \
            if acm.ROUTE_API in self.hub.api_groups() else None
        host = ((route or {}).get("spec") or {}).get("host")
        if not host:
            self.fail_hub("Route %s/%s %s, so the Observatorium API URL is unknown" % (
                self.ns, acm.ROUTE, "has no spec.host" if route else "does not exist"),
                "Wait until ACM Observability is ready on the hub ('oc get route observatorium-api -n %s'); or, "
                "with Kiali on the hub, use the in-cluster Thanos query frontend (acm_metrics_url_mode: internal)"
                % self.ns)
        return host

    def client_certs(self):
        certs = self._secret(acm.CLIENT_CERTS, ("tls.crt", "tls.key"), "the client certificate Kiali presents")
        if certs is None:
            self.fail_hub("Secret %s/%s (the Observatorium client certificate) does not exist" % (
                self.ns, acm.CLIENT_CERTS), "Wait until ACM Observability has issued it, then re-run")
        self.mask(certs["tls.key"])
        return certs

    def find_ca(self, host, client):
        """The candidate CA that verifies the served chain for ``host``: ``(secret name, ca pem, served facts)``."""
        address = self.params.get("observatorium_address") or "%s:443" % host
        timeout = self.params["tls_timeout"]
        candidates = []
        for name in acm.CA_SECRETS:
            found = self._secret(name, ("ca.crt",), "a CA of the Observatorium API")
            if found:
                candidates.append((name, found["ca.crt"]))
        if not candidates:
            self.fail_hub("neither %s exists in namespace %s" % (" nor ".join(acm.CA_SECRETS), self.ns),
                          "Wait until ACM Observability has issued its CAs, then re-run")
        reasons = []
        try:
            for name, ca in candidates:
                try:
                    served = tls_probe(address, host, ca, (client["tls.crt"], client["tls.key"]), timeout)
                    return name, ca, acm.cert_facts(served)
                except NotVerified as e:
                    reasons.append("%s (%s): %s" % (name, acm.cert_facts(ca)["subject"], e))
            served = acm.cert_facts(tls_probe(address, host, timeout=timeout))
        except (OSError, ValueError) as e:
            self.fail_hub("cannot connect to the Observatorium API at %s (name %s) to find the CA that signs its "
                          "certificate (%s)" % (address, host, e),
                          "Make the route reachable from this controller, or give a reachable host:port for the "
                          "check with acm_metrics_observatorium_address (module option observatorium_address)")
        self.fail_hub(
            "neither candidate CA verifies the certificate the Observatorium API serves at %s for %s (subject %s, "
            "issuer %s): %s" % (address, host, served["subject"], served["issuer"], "; ".join(reasons)),
            "Kiali could not connect either. Check that the route at %s is ACM's observatorium-api (not an ingress "
            "default certificate) and that acm_metrics_observatorium_address points at it" % address)
        return None  # not reached

    # ------------------------------------------------------------ Kiali's home
    def _desired(self, kind, name, data, key_field):
        namespace = self.params["namespace"]
        live = self.home.get("v1", kind, name, namespace=namespace)
        obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
               key_field: data}
        if kind == "Secret":
            obj["type"] = "Opaque"
        if live is None or is_owned(live, self.home_label):
            obj["metadata"]["labels"] = acm.labels(self.home_label)
        elif kind == "Secret" and live.get("type") not in (None, "Opaque"):
            obj.pop("type")  # the type of an existing Secret cannot change; keep theirs
        return obj, live

    def check_home(self, writes):
        namespace = self.params["namespace"]
        if self.home.get("v1", "Namespace", namespace) is None:
            raise KialiopsError(self.home.cluster, "Kiali's namespace %s does not exist" % namespace,
                                "Create it (or install Kiali) first, or set kialiops_kiali_namespace. " +
                                NOTHING_WRITTEN)
        denied = []
        for obj, live in writes:
            resource = obj["kind"].lower() + "s"
            for verb in ("patch",) if live is not None else ("create", "patch"):
                if not self.home.access_review(verb, "", resource, namespace=namespace)["allowed"]:
                    denied.append("%s %s in namespace %s" % (verb, resource, namespace))
        if denied:
            raise KialiopsError(self.home.cluster, "the credential may not %s" % "; ".join(denied),
                                "Use an admin context for cluster %s, or grant those verbs. %s" % (
                                    self.home.cluster, NOTHING_WRITTEN))

    def run(self):
        params = self.params
        mco = self.mco()
        thanos = self.thanos_values(mco)
        scope = dict(params.get("query_scope") or {})
        if scope.get("cluster") and self.hub.get("cluster.open-cluster-management.io/v1", "ManagedCluster",
                                                 scope["cluster"]) is None:
            self.fail_hub("query scope cluster=%s names no ManagedCluster on the hub, so every query would come back "
                          "empty" % scope["cluster"], "Use the ManagedCluster name ('oc get managedcluster' on the "
                          "hub) in acm_metrics_query_scope_cluster")
        result = dict(changed=False, mco=thanos, objects=[], certificates={})
        if params["url_mode"] == "internal":
            if self.home.cluster != self.hub.cluster:
                self.fail_hub("the in-cluster Thanos URL works only for a Kiali on the hub, and Kiali's home is %s"
                              % self.home.cluster, "Use acm_metrics_url_mode: route (the Observatorium API)")
            url = acm.THANOS_INTERNAL_URL % self.ns
            result.update(url=url, ca_source=None, kiali_spec=acm.prometheus_spec(
                url, None, thanos["scrape_interval"], thanos["retention_period"], scope))
            return result
        host = self.route_host()
        client = self.client_certs()
        ca_source, ca_pem, served = self.find_ca(host, client)
        url = acm.observatorium_url(host)
        result.update(url=url, ca_source=ca_source, kiali_spec=acm.prometheus_spec(
            url, params["secret_name"], thanos["scrape_interval"], thanos["retention_period"], scope))
        result["certificates"] = dict(client=acm.cert_facts(client["tls.crt"]), ca=acm.cert_facts(ca_pem),
                                      served=served)
        for name, facts in result["certificates"].items():
            if facts["days_left"] < 30:
                self.warn("cluster %s: the %s certificate (%s) expires in %d days (%s)" % (
                    self.hub.cluster, name, facts["subject"], facts["days_left"], facts["not_after"]))
        secret_data = {k: base64.b64encode(client[k].encode()).decode() for k in ("tls.crt", "tls.key")}
        self.mask(secret_data["tls.key"])
        planned = [self._desired("Secret", params["secret_name"], secret_data, "data"),
                   self._desired("ConfigMap", params["cabundle_name"], {acm.CABUNDLE_KEY: ca_pem}, "data")]
        writes = [(obj, live) for obj, live in planned if live is None or not contains(live, obj)]
        if writes and not params["validate_only"]:
            self.check_home(writes)
        elif self.home.get("v1", "Namespace", params["namespace"]) is None:
            self.check_home([])
        change = Change()
        for obj, live in planned:
            if not params["validate_only"]:
                self.home.render(obj)
            if not any(obj is w for w, dummy in writes):
                change.note(obj, UNCHANGED)
            elif params["validate_only"]:
                change.note(obj, "create" if live is None else "update")
            else:
                change.record(obj, *self.home.ensure(obj, live=live))
        result.update(changed=change.changed, objects=change.objects())
        if self.want_diff:
            result["diff"] = change.diff()
        return result


def acm_observability(home, hub, params, want_diff=False, mask=None, warn=None):
    return Observability(home, hub, params, want_diff=want_diff, mask=mask, warn=warn).run()
