"""Stand-in for the pip bootstrap script ansible-test downloads from a host these machines cannot reach
(ansible-test's own message says to place one in ~/.ansible/test/cache/). Written for kialiops:
it installs the pip bundled with CPython (ensurepip), then lets that pip install what ansible-test
asked for (e.g. pip==24.2). ansible-test runs pip with PIP_CONFIG_FILE=/dev/null, so the machine's
pip.conf (with its CA bundle) is ignored: pass the system CA bundle explicitly for this one step;
pip >= 24.2 then uses the system trust store by itself."""
import ensurepip
import os
import ssl
import subprocess
import sys

ensurepip.bootstrap()
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
cafile = os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().openssl_cafile
if cafile and os.path.isfile(cafile):
    args = ["--cert", cafile] + args
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args))
