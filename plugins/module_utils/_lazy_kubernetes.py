# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Import the kubernetes client's packages lazily: only the API and model classes a run uses.

``import kubernetes`` (any of its submodules) runs ``kubernetes/__init__.py``, which imports ``kubernetes.client``,
whose ``__init__.py`` imports every API class (~70 modules) and every model class (~770 modules) of the Kubernetes
API, plus watch, stream, utils, leaderelection and informer: ~0.4 s of CPU and ~40 MiB of objects per process
(kubernetes 36). kialiops uses the dynamic client, the configuration loader and three typed APIs (VersionApi,
CoreApi, ApisApi; AuthenticationV1Api for OpenID): 22 modules.

``install()`` (before the first kubernetes import of the process; ``_connection.py`` and ``_discovery.py`` call it
at their top) puts four packages in ``sys.modules`` uninitialised: ``kubernetes``, ``kubernetes.client``,
``kubernetes.client.api``, ``kubernetes.client.models``. Each is the real package (its spec, ``__path__``,
``__file__``, ``__version__``), so its submodules import as usual, and its ``__getattr__`` (PEP 562) answers a name
the package does not hold yet:

- a submodule (``kubernetes.client.rest``): imported;
- a class in a module of the package, of its ``api`` or of its ``models`` subpackage, named as the OpenAPI generator
  names files (``CoreV1Api`` -> ``api/core_v1_api.py``, ``V1APIGroup`` -> ``models/v1_api_group.py``): that module
  imported, the class returned (what ``ApiClient`` does to deserialise a typed answer);
- anything else (``dir()``, ``__all__``, a name in no such file): the package's own ``__init__.py`` runs, once,
  in the same module object, and the name comes from there, exactly as without this file.

So every name of the kubernetes package resolves as before, for kialiops and for any other code of the same process
(the controller's other plugins); only the cost moves to the first use. Nothing is done when the kubernetes package
is already imported, or with ``KIALIOPS_LAZY_KUBERNETES=false`` in the environment (the escape hatch: every package
initialised eagerly, as the kubernetes client itself does).

Measured on the lab (2 cores): importing what kialiops needs, 0.43 -> 0.20 s of CPU in a fresh interpreter (0.60 ->
0.35 in the controller, after Ansible's own imports), and ``playbooks/prepare.yml`` for 2 spokes (no-op rerun, A/B
against ``KIALIOPS_LAZY_KUBERNETES=false``, 6 rounds) 3.59 -> 2.89 CPU-s: the controller and each worker it forks
hold ~40 MiB fewer objects, and the controller tears fewer down at exit.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import threading

PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.api", "kubernetes.client.models")
# where a class named by the OpenAPI generator lives, relative to the package that is asked
CLASS_DIRECTORIES = ("", "api", "models")
ENV = "KIALIOPS_LAZY_KUBERNETES"
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_VERSION = re.compile(r"""^__version__ = ["']([^"']+)["']""", re.M)


def module_file(class_name):
    """The file name (no ``.py``) the OpenAPI generator gives class ``class_name``: ``CoreV1Api`` -> ``core_v1_api``,
    ``V1APIGroup`` -> ``v1_api_group``, ``V1beta2CapacityRequestPolicyRange`` -> ``v1beta2_capacity_request_policy_range``."""
    return _SNAKE.sub("_", class_name).lower()


def enabled(environ=None):
    value = (os.environ if environ is None else environ).get(ENV, "true").strip().lower()
    return value not in ("0", "false", "no", "off")


class _Package:
    """The state and ``__getattr__`` of one uninitialised package."""

    def __init__(self, name, spec, module):
        self.name, self.spec, self.module = name, spec, module
        self.directory = list(spec.submodule_search_locations)[0]
        self.initialised = False
        # another thread asking while __init__.py runs waits for it (the permission reviews ask from threads);
        # re-entrant: the thread running it goes through
        self.lock = threading.RLock()

    def initialise(self):
        """Run the package's own ``__init__.py`` in its module object (once): every name it defines is there."""
        with self.lock:
            if not self.initialised:
                self.initialised = True
                self.spec.loader.exec_module(self.module)

    def light(self, attr):
        """``attr`` from one submodule, without initialising the package; None when no file holds it."""
        if os.path.exists(os.path.join(self.directory, attr + ".py")) or \
                os.path.isdir(os.path.join(self.directory, attr)):
            return importlib.import_module(self.name + "." + attr)
        stem = module_file(attr)
        for sub in CLASS_DIRECTORIES:
            if os.path.exists(os.path.join(self.directory, sub, stem + ".py")):
                found = getattr(importlib.import_module(".".join(p for p in (self.name, sub, stem) if p)), attr, None)
                if found is not None:
                    setattr(self.module, attr, found)
                    return found
        return None

    def getattr(self, attr):
        if not self.initialised:
            found = None if attr.startswith("__") else self.light(attr)
            if found is not None:
                return found
        self.initialise()  # returns once __init__.py has run (at once when it has)
        try:
            return self.module.__dict__[attr]
        except KeyError:
            raise AttributeError("module %r has no attribute %r" % (self.name, attr)) from None

    def dir(self):
        self.initialise()
        return sorted(self.module.__dict__)


def _uninitialised(name):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations or spec.origin is None:
        return None
    module = importlib.util.module_from_spec(spec)
    with open(spec.origin, encoding="utf-8") as f:
        version = _VERSION.search(f.read())
    if version:
        module.__version__ = version.group(1)  # read by kubernetes.dynamic and kubernetes.core (version checks)
    package = _Package(name, spec, module)
    module.__getattr__ = package.getattr
    module.__dir__ = package.dir
    return module


def install():
    """Put the kubernetes packages in ``sys.modules`` uninitialised (see the module docstring). True when done;
    False when the kubernetes package was imported already, is missing, or the environment turns this off."""
    if "kubernetes" in sys.modules or not enabled():
        return False
    try:
        modules = []
        for name in PACKAGES:
            module = _uninitialised(name)  # a subpackage's spec is found through its parent, installed before
            if module is None:
                raise ImportError(name)
            modules.append(module)
            sys.modules[name] = module
            if "." in name:
                parent, child = name.rsplit(".", 1)
                setattr(sys.modules[parent], child, module)
    except (ImportError, OSError):
        for name in PACKAGES:  # a kubernetes package of another layout: leave it to its own import
            sys.modules.pop(name, None)
        return False
    return True
