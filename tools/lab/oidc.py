#!/usr/bin/env python3
"""The lab's own OpenID Connect issuer: a discovery document and a JWKS over TLS, on loopback.

It stands in for a real IdP (Keycloak, Dex, ...) so the lab can prove that an API server trusts, or does not
trust, the IdP Kiali's users log in with: `lab.py up` creates the issuer (its own CA, a serving certificate and a
fresh RSA signing key in `$LAB_DIR/oidc/`), starts it before the API servers, and gives the trusting clusters'
kube-apiservers an `--authentication-config` with a JWT authenticator for it. Tests mint ID tokens for any user
with `mint_token()` (or `lab.py oidc-token <user>`): what a browser login at the IdP would give Kiali.

Nothing here is a real IdP: no login, no client authentication, no token endpoint. Only what an API server reads
(discovery, JWKS) is served; tokens are signed locally from the key file.

    python tools/lab/oidc.py serve <dir>    # the server process (lab.py spawns it in its own process group)
"""
from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

AUDIENCE = "kiali"            # the client id Kiali uses in the lab: ID tokens carry it as `aud`
USERNAME_CLAIM = "sub"        # kube-apiserver maps this claim to the user name (no prefix), as Kiali's default
KEY_ID = "lab-1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def create(directory: Path, ip: str, port: int) -> dict:
    """Write the issuer's files into ``directory`` (fresh each lab start): CA, serving certificate, RSA signing
    key, discovery document and JWKS. Returns ``{issuer, ca_file, dir, ip, port}``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    nb, na = now - dt.timedelta(minutes=5), now + dt.timedelta(days=7)

    def write(name, data, private=False):
        p = directory / name
        fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kialiops-lab-oidc-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(nb).not_valid_after(na)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kialiops-lab-oidc")]))
           .issuer_name(ca_name).public_key(tls_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(nb).not_valid_after(na)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
           .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)),
                                                       x509.DNSName("localhost")]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)   # generated at every lab start
    issuer = "https://%s:%d" % (ip, port)
    numbers = signing.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KEY_ID,
                      "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}]}
    discovery = {"issuer": issuer, "jwks_uri": issuer + "/jwks",
                 "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
                 "response_types_supported": ["code", "id_token"], "subject_types_supported": ["public"],
                 "id_token_signing_alg_values_supported": ["RS256"],
                 "scopes_supported": ["openid", "profile", "email"]}
    write("ca.crt", ca.public_bytes(serialization.Encoding.PEM))
    write("tls.crt", tls.public_bytes(serialization.Encoding.PEM))
    write("tls.key", pem_key(tls_key), private=True)
    write("signing.key", pem_key(signing), private=True)
    write("jwks.json", json.dumps(jwks).encode())
    write("openid-configuration.json", json.dumps(discovery).encode())
    info = {"issuer": issuer, "ca_file": str(directory / "ca.crt"), "dir": str(directory), "ip": ip, "port": port}
    write("issuer.json", json.dumps(info).encode())
    return info


def info(directory: Path) -> dict:
    """``{issuer, ca_file, dir, ip, port}`` of the issuer created in ``directory``."""
    return json.loads((directory / "issuer.json").read_text())


def authentication_config(directory: Path, audience: str = AUDIENCE) -> str:
    """The kube-apiserver ``--authentication-config`` (apiserver.config.k8s.io/v1, GA since Kubernetes 1.34) with one
    JWT authenticator trusting this issuer: ID tokens whose ``aud`` is ``audience``, user name = claim ``sub``."""
    import yaml
    meta = info(directory)
    return yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration",
        "jwt": [{"issuer": {"url": meta["issuer"], "audiences": [audience],
                            "certificateAuthority": (directory / "ca.crt").read_text()},
                 "claimMappings": {"username": {"claim": USERNAME_CLAIM, "prefix": ""},
                                   "groups": {"claim": "groups", "prefix": ""}}}],
    }, sort_keys=False)


def mint_token(directory: Path, user: str, audience: str = AUDIENCE, ttl: int = 600, groups=(),
               issuer: str | None = None) -> str:
    """An RS256 ID token for ``user`` signed with the lab issuer's key (``issuer`` overrides ``iss``, to forge a
    token of another IdP). Never print it: it logs ``user`` in wherever the API server trusts the issuer."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key((directory / "signing.key").read_bytes(), password=None)
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    claims = {"iss": issuer or info(directory)["issuer"], "sub": user, "aud": audience, "iat": now, "nbf": now - 5,
              "exp": now + ttl, "email": "%s@kialiops.test" % user, "email_verified": True,
              "preferred_username": user, "groups": list(groups)}
    signing_input = "%s.%s" % (_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


class _Handler(BaseHTTPRequestHandler):
    server_version = "kialiops-lab-oidc"
    routes = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.routes.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one line per request in logs/oidc.log
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))


def serve(directory: Path) -> None:
    meta = info(directory)
    _Handler.routes = {"/.well-known/openid-configuration": (directory / "openid-configuration.json").read_bytes(),
                       "/jwks": (directory / "jwks.json").read_bytes(), "/healthz": b"{}"}
    httpd = ThreadingHTTPServer((meta["ip"], meta["port"]), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(directory / "tls.crt"), str(directory / "tls.key"))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    sys.stderr.write("serving %s\n" % meta["issuer"])
    sys.stderr.flush()
    httpd.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: oidc.py serve <dir>")
    serve(Path(sys.argv[2]))
