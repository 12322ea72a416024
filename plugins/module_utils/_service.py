# Copyright (c) kialiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The verbs kialiops uses on one named cluster, over kubernetes.core's client.

Every request kialiops sends goes through ClusterService: apply (and ensure, which applies only what is missing),
a strict dry-run apply, JSON patch, delete (optionally locked to the version read), replace, TokenRequest, and
the reviews (SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview, TokenReview). Every failure
leaves as a KialiopsError naming the cluster. Writes are server-side apply under the field manager ``kialiops``;
check mode is decided here, once: writes become server-side dry-runs of the same request (``_dry_run()``), and
a TokenRequest, which mints a live credential, is not sent (``may_mint``).
"""

from __future__ import annotations

import re

# pylint: disable=catching-non-exception
# API_ERRORS is a tuple of exception classes; pylint misreads it through the ImportError fallback.

from ansible_collections.kialiops.multicluster.plugins.module_utils._auth import schema_declares
from ansible_collections.kialiops.multicluster.plugins.module_utils._diff import dropped_fields, normalise
from ansible_collections.kialiops.multicluster.plugins.module_utils._discovery import builtin_resource, discovered_version
from ansible_collections.kialiops.multicluster.plugins.module_utils._errors import (
    KialiopsError,
    describe_object,
    from_api_exception,
    missing_kind,
    status_message,
    unknown_fields,
)

try:
    # lazily: _discovery, imported above, installed _lazy_kubernetes before this first kubernetes import
    import kubernetes.client as k8s_api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError
except ImportError:  # the module fails earlier with missing_required_lib
    k8s_api = None

    class ApiException(Exception):
        """Stand-in that keeps the except clauses valid when the kubernetes client is missing."""

    NotFoundError = ResourceNotFoundError = HTTPError = ApiException

FIELD_MANAGER = "kialiops"
DRY_RUN = "All"
# Every apply asks for strict field validation: a field the schema (a CRD that does not declare it, and does not
# preserve unknown fields there) would prune silently fails the request instead, naming its path.
STRICT = ("fieldValidation", "Strict")
# Groups every OpenShift 4 cluster serves and plain Kubernetes does not (the prepare script checks
# operator.openshift.io). route.openshift.io is left out: a Route CRD can be installed on any cluster.
OPENSHIFT_GROUPS = frozenset({"config.openshift.io", "operator.openshift.io", "oauth.openshift.io"})
# What the client raises for API and transport failures; anything else is a bug and stays a traceback.
# (pylint cannot see through the import fallback above, hence the disable in the except clauses' module.)
API_ERRORS = (ApiException, HTTPError, OSError)  # pylint: disable=catching-non-exception


# The typed APIs ClusterService calls and the models of their answers (kubernetes.client's ApiClient builds one model
# object per answer, importing each model class on first use: _lazy_kubernetes.py). preload() imports them all once,
# in the controller, so that the workers it forks (one per task and host) do not import them again each time.
TYPED_APIS = ("VersionApi", "CoreApi", "ApisApi", "AuthorizationV1Api", "AuthenticationV1Api", "CoreV1Api")
ANSWERS = ("VersionInfo", "V1APIVersions", "V1APIGroupList", "V1SelfSubjectAccessReview", "V1SelfSubjectRulesReview",
           "AuthenticationV1TokenRequest", "V1TokenReview", "V1SelfSubjectReview")
_WORDS = re.compile(r"[A-Za-z0-9]+")   # the class names in an openapi_types entry ("list[V1ResourceRule]")


def preload():
    """Import the typed APIs and every model class their answers are made of (``openapi_types``, recursively)."""
    if k8s_api is None:
        return
    for name in TYPED_APIS:
        getattr(k8s_api, name)
    seen, pending = set(), list(ANSWERS)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        model = getattr(k8s_api.models, name, None)
        for declared in (getattr(model, "openapi_types", None) or {}).values():
            pending.extend(w for w in _WORDS.findall(declared) if w[0].isupper())


class ClusterService:
    """One cluster: ``cluster`` is its kialiops name, ``client`` a kubernetes.core K8SClient.

    ``where`` (``{server, kube_context, kubeconfig}``) goes into error messages.
    """

    def __init__(self, cluster, client, where=None, renderer=None):
        self.cluster = cluster
        self.client = client
        self.where = dict(where or {})
        self.renderer = renderer  # GitOps export (_render.py): applies are written to files, and dry-runs
        self._api_groups = None
        # Check mode: namespaces this run created only as a dry-run. The server refuses a dry-run inside them
        # (namespace not found), so writes there are predicted instead (see _predicted()).
        self._dry_run_namespaces = set()

    @property
    def server(self):
        """The API server URL."""
        return self.client.configuration.host

    @property
    def configuration(self):
        """The kubernetes client configuration of this connection (to build a second, derived one)."""
        return self.client.configuration

    @property
    def check_mode(self):
        """Writes are server-side dry-runs (set once, by the client factory, from the module's check mode)."""
        return bool(self.client.dry_run)

    @property
    def may_mint(self):
        """Whether request_token() sends a TokenRequest: not in check mode (it would mint a live credential),
        except for a GitOps export that writes secrets (it needs a working credential; no object is created)."""
        return not self.check_mode or bool(self.renderer is not None and self.renderer.secrets)

    @property
    def _dynamic(self):
        return self.client.client  # K8SClient -> DynamicClient: requests sent as they are, one each

    @property
    def _api_client(self):
        return self._dynamic.client  # DynamicClient -> kubernetes.client.ApiClient (typed APIs)

    def _dry_run(self, params, always=False):
        """The one place check mode turns a write into a server-side dry-run (``always``: a validation)."""
        if always or self.check_mode:
            params["dry_run"] = DRY_RUN
        return params

    def _predicted(self, obj):
        """Check mode, ``obj`` in a namespace that exists only as this run's dry-run: ``(None, obj normalised)``,
        what the write would give, without a request. None otherwise."""
        if self.check_mode and obj["metadata"].get("namespace") in self._dry_run_namespaces:
            self.render(obj)
            return None, normalise(obj)
        return None

    def _error(self, exc, action, **target):
        # With an object in target, messages read "cluster east: Secret ns/x: cannot apply it ...".
        return from_api_exception(self.cluster, exc, action, dict(self.where, **target))

    def version(self):
        """``{gitVersion, major, minor}`` from /version (not asked again when discovery already read it)."""
        known = discovered_version(self._dynamic)
        if known:
            return dict(gitVersion=known["gitVersion"], major=known.get("major"), minor=known.get("minor"))
        try:
            info = k8s_api.VersionApi(self._api_client).get_code()
        except API_ERRORS as e:
            raise self._error(e, "read the server version") from e
        return dict(gitVersion=info.git_version, major=info.major, minor=info.minor)

    def api_groups(self):
        """Sorted group/version strings the server serves (every version, not only preferred), with ``v1``."""
        if self._api_groups is None:
            try:
                core = k8s_api.CoreApi(self._api_client).get_api_versions()
                groups = k8s_api.ApisApi(self._api_client).get_api_versions()
            except API_ERRORS as e:
                raise self._error(e, "list the API groups") from e
            served = set(core.versions or [])
            for group in groups.groups or []:
                served.update(v.group_version for v in group.versions or [])
            self._api_groups = sorted(served)
        return list(self._api_groups)

    def platform(self):
        """``openshift`` when an OpenShift-only API group is served, else ``kubernetes``."""
        groups = {gv.split("/", 1)[0] for gv in self.api_groups() if "/" in gv}
        return "openshift" if groups & OPENSHIFT_GROUPS else "kubernetes"

    def _resource(self, api_version, kind):
        builtin = builtin_resource(self._dynamic, api_version, kind)
        if builtin is not None:
            return builtin
        try:
            return self.client.resource(kind, api_version)
        except ResourceNotFoundError as e:
            raise missing_kind(self.cluster, kind, api_version) from e
        except API_ERRORS as e:
            raise self._error(e, "discover kind %s in %s" % (kind, api_version), kind=kind,
                              api_version=api_version) from e

    @staticmethod
    def _scope(resource, kind, namespace):
        if not resource.namespaced:
            return None
        if not namespace:
            raise ValueError("%s is namespaced: give its namespace" % kind)
        return namespace

    def _get(self, resource, api_version, kind, name, namespace):
        target = dict(kind=kind, api_version=api_version, name=name, namespace=namespace)
        try:
            return self.client.get(resource, name=name, namespace=namespace).to_dict()
        except NotFoundError as e:
            if status_message(e)[1].get("name"):  # the object is absent (its kind is served)
                return None
            raise self._error(e, "read it", **target) from e
        except API_ERRORS as e:
            raise self._error(e, "read it", **target) from e

    def get(self, api_version, kind, name, namespace=None):
        """The live object as a dict, or None when it does not exist."""
        resource = self._resource(api_version, kind)
        return self._get(resource, api_version, kind, name, self._scope(resource, kind, namespace))

    def list(self, api_version, kind, namespace=None, label_selector=None):
        """Live objects of a kind (all namespaces when ``namespace`` is None), as dicts."""
        resource = self._resource(api_version, kind)
        try:
            found = self._dynamic.get(resource, namespace=namespace, label_selector=label_selector)
        except API_ERRORS as e:
            raise self._error(e, "list %s" % kind, kind=kind, api_version=api_version, namespace=namespace) from e
        return [item.to_dict() for item in (found.items or [])]

    def ensure(self, obj, field_manager=FIELD_MANAGER, live=False, merged=False):
        """Apply ``obj`` only when the live object lacks some of it: a rerun sends no write at all.

        Returns ``(before, after)`` like apply(). Fields we stopped sending are not noticed here (the
        live object still contains the rest); callers that drop fields call apply() directly. ``live``:
        the object as the caller just read it (skips the read). ``merged``: see apply().
        """
        predicted = self._predicted(obj)
        if predicted:
            return predicted
        resource = self._resource(obj["apiVersion"], obj["kind"])
        namespace = self._scope(resource, obj["kind"], obj["metadata"].get("namespace"))
        if live is False:
            live = self._get(resource, obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace)
        if live is not None and contains(live, obj):
            self.render(obj)
            return normalise(live), normalise(live)
        return self.apply(obj, field_manager=field_manager, _before=live, merged=merged)

    def apply(self, obj, field_manager=FIELD_MANAGER, _before=False, merged=False):
        """Server-side apply ``obj`` (only the fields we own) as ``field_manager`` (``kialiops``), never forcing.

        A dry-run in check mode. Returns ``(before, after)``, both normalised (``before`` None when the object
        did not exist); they differ exactly when the apply changes (or in check mode would change) the object.

        ``merged=True`` is for a value that merges what someone else wrote into one field (a YAML document
        in a ConfigMap key that a person also edits): that field is theirs too, so a plain apply would
        conflict. The apply then forces, but only against the object as it was read: the live
        ``resourceVersion`` goes into the request as a precondition, so a change made in between fails
        with 409 instead of being overwritten.
        """
        predicted = self._predicted(obj)
        if predicted:
            return predicted
        api_version, kind = obj["apiVersion"], obj["kind"]
        name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace")
        resource = self._resource(api_version, kind)
        namespace = self._scope(resource, kind, namespace)
        before = self._get(resource, api_version, kind, name, namespace) if _before is False else _before
        params = dict(body=obj, name=name, namespace=namespace, field_manager=field_manager, force_conflicts=False,
                      query_params=[STRICT])
        if merged and before is not None:
            lock = dict(obj, metadata=dict(obj["metadata"], resourceVersion=before["metadata"]["resourceVersion"]))
            params.update(body=lock, force_conflicts=True)
        self.render(obj)
        after = self._server_side_apply(resource, obj, self._dry_run(params))
        if kind == "Namespace" and before is None and self.check_mode:
            self._dry_run_namespaces.add(name)
        return normalise(before), normalise(after)

    def adopt(self, obj, live, drop_labels=(), drop_annotations=(), field_manager=FIELD_MANAGER):
        """Take over ``live`` (made by another installer; the caller decided so, _ownership.py) as ``obj``: the one
        place kialiops forces an apply. Two requests: a server-side apply with ``force_conflicts`` (the fields
        another manager set to other values become ours), then a JSON patch that keeps only ``field_manager``'s
        entries in ``managedFields`` (so no other manager co-owns a field kialiops will change later: that would
        be a 409 at the next Kiali upgrade) and removes the installer's ``drop_labels`` and ``drop_annotations``.
        The patch is locked to the version the apply returned. In check mode the apply is a dry-run and the
        patch is predicted, not sent. Returns ``(before, after)`` normalised."""
        resource = self._resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        namespace = self._scope(resource, obj["kind"], meta.get("namespace"))
        params = dict(body=obj, name=meta["name"], namespace=namespace, field_manager=field_manager,
                      force_conflicts=True, query_params=[STRICT])
        self.render(obj)
        answer = self._server_side_apply(resource, obj, self._dry_run(params))
        answer_meta = answer.get("metadata") or {}
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": answer_meta.get("resourceVersion")}]
        for field, keys in (("labels", drop_labels), ("annotations", drop_annotations)):
            present = answer_meta.get(field) or {}
            ops += [{"op": "remove", "path": "/metadata/%s/%s" % (field, _pointer(k))} for k in keys if k in present]
        kept = [e for e in answer_meta.get("managedFields") or [] if e.get("manager") == field_manager]
        if kept and len(kept) < len(answer_meta.get("managedFields") or []):
            ops.append({"op": "replace", "path": "/metadata/managedFields", "value": kept})
        if len(ops) == 1:
            return normalise(live), normalise(answer)
        if self.check_mode:
            predicted = normalise(answer)
            for field, keys in (("labels", drop_labels), ("annotations", drop_annotations)):
                values = (predicted.get("metadata") or {}).get(field)
                for key in keys if isinstance(values, dict) else ():
                    values.pop(key, None)
            return normalise(live), predicted
        after = self.json_patch(obj["apiVersion"], obj["kind"], meta["name"], namespace, ops,
                                "take it over (keep only the field manager %s)" % field_manager)
        return normalise(live), after

    def _server_side_apply(self, resource, obj, params, unknown_fix=None):
        meta = obj["metadata"]
        target = dict(kind=obj["kind"], api_version=obj["apiVersion"], name=meta["name"],
                      namespace=params.get("namespace"))
        try:
            # DynamicClient.server_side_apply: one PATCH. (K8SClient.apply goes through kubernetes.core's
            # client-side apply helper, which reads the object again first.)
            answer = self._dynamic.server_side_apply(resource, **params).to_dict()
        except API_ERRORS as e:
            fields = unknown_fields(status_message(e)[0]) if unknown_fix else None
            if fields:
                raise KialiopsError(
                    self.cluster, "the %s CRD rejects unknown field%s %s (server-side dry-run, strict field "
                    "validation)" % (obj["kind"], "s" if len(fields) > 1 else "", ", ".join(fields)),
                    unknown_fix % ("them" if len(fields) > 1 else "it"),
                    describe_object(obj["kind"], meta["name"], params.get("namespace")), 422) from e
            raise self._error(e, "apply it (server-side dry-run, strict field validation)" if unknown_fix
                              else "apply it", **target) from e
        self.refuse_dropped(obj, answer, dry_run="dry_run" in params)
        return answer

    def dry_run_apply(self, obj, unknown_fix):
        """Validate ``obj`` without writing, whatever the check mode: a server-side apply as a dry-run with strict
        field validation. A field the schema does not know fails with the reason "the <Kind> CRD rejects unknown
        field(s) ..." and the fix ``unknown_fix`` (``%s`` is "it" or "them"); a field the schema would prune
        fails as in apply(). Returns the server's answer (not normalised)."""
        resource = self._resource(obj["apiVersion"], obj["kind"])
        namespace = self._scope(resource, obj["kind"], obj["metadata"].get("namespace"))
        params = dict(body=obj, name=obj["metadata"]["name"], namespace=namespace, field_manager=FIELD_MANAGER,
                      force_conflicts=False, query_params=[STRICT])
        return self._server_side_apply(resource, obj, self._dry_run(params, always=True), unknown_fix=unknown_fix)

    def json_patch(self, api_version, kind, name, namespace, operations, action):
        """Send a JSON patch (RFC 6902 ``operations``; a dry-run in check mode). Returns the object after it,
        normalised. ``action`` reads after "cannot" in the error (``remove key east``)."""
        resource = self._resource(api_version, kind)
        namespace = self._scope(resource, kind, namespace)
        params = dict(name=name, namespace=namespace, content_type="application/json-patch+json", body=operations)
        try:
            return normalise(self._dynamic.patch(resource, **self._dry_run(params)).to_dict())
        except API_ERRORS as e:
            raise self._error(e, action, kind=kind, name=name, namespace=namespace) from e

    def refuse_dropped(self, sent, answer, dry_run):
        """Fail when the server's ``answer`` lacks fields kialiops ``sent`` (see _diff.dropped_fields): never
        report success for an object the cluster keeps without some of its fields."""
        dropped = dropped_fields(sent, answer)
        if not dropped:
            return
        meta = sent["metadata"]
        raise KialiopsError(
            self.cluster, "the API server's answer to the %s lacks field%s %s that kialiops sent: %s's schema on "
            "this cluster does not keep %s" % (
                "server-side dry-run" if dry_run else "apply", "s" if len(dropped) > 1 else "", ", ".join(dropped),
                sent["kind"], "them" if len(dropped) > 1 else "it"),
            "Install the version of the %s CRD (or operator) that has %s, or stop setting %s. %s" % (
                sent["kind"], "them" if len(dropped) > 1 else "it", "them" if len(dropped) > 1 else "it",
                "Nothing was written" if dry_run else "The object was written without them"),
            describe_object(sent["kind"], meta.get("name"), meta.get("namespace")))

    def render(self, obj):
        """GitOps export: write ``obj`` (what we would apply, changed or not) to its file. No-op otherwise."""
        if self.renderer is not None:
            self.renderer.write(self.cluster, obj)

    def delete(self, api_version, kind, name, namespace=None, live=False, locked=False, action="delete it"):
        """Delete one object (dry-run in check mode). Returns it normalised as it was, None if it was absent.

        ``live``: the object as the caller just read it (skips the read). ``locked``: delete only that version of
        it (its ``resourceVersion`` as a precondition); None when it changed meanwhile (409), nothing deleted.
        ``action`` reads after "cannot" in the error.
        """
        resource = self._resource(api_version, kind)
        namespace = self._scope(resource, kind, namespace)
        before = self._get(resource, api_version, kind, name, namespace) if live is False else live
        if before is None:
            return None
        params = dict(name=name, namespace=namespace)
        if locked:
            params["body"] = {"preconditions": {"resourceVersion": before["metadata"]["resourceVersion"]}}
        try:
            self._dynamic.delete(resource, **self._dry_run(params))
        except NotFoundError:
            return None  # deleted meanwhile by someone else
        except API_ERRORS as e:
            if locked and getattr(e, "status", None) == 409:
                return None  # changed since it was read: not what the caller decided to delete
            raise self._error(e, action, kind=kind,
                              api_version=api_version, name=name, namespace=namespace) from e
        return normalise(before)

    def replace(self, obj):
        """Delete the object, then apply ``obj``: for a field the server does not let change (a binding's
        ``roleRef``). Returns ``(before, after)``. In check mode the delete is a dry-run and the object is still
        there, so ``after`` is ``obj`` as it would be created (normalised), without a request."""
        meta = obj["metadata"]
        before = self.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        if self.check_mode:
            self.render(obj)
            return before, normalise(obj)
        return before, self.apply(obj)[1]

    def access_review(self, verb, group, resource, namespace=None, name=None):
        """Ask the server (SelfSubjectAccessReview) whether our credential may ``verb`` ``resource``.

        Not a write, so it runs in check mode too. Returns ``{cluster, verb, group, resource, namespace,
        name, allowed, reason}``; collect the denials of all clusters and report them together.
        """
        base, slash, subresource = resource.partition("/")
        attributes = dict(verb=verb, group=group or "", resource=base)
        if slash:  # "pods/log": the resource and its subresource, as a request for it is authorized
            attributes["subresource"] = subresource
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        body = dict(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectAccessReview",
                    spec=dict(resourceAttributes=attributes))
        target = "%s%s" % (resource, "." + group if group else "")
        try:
            answer = k8s_api.AuthorizationV1Api(self._api_client).create_self_subject_access_review(body)
        except API_ERRORS as e:
            raise self._error(e, "review access to %s %s" % (verb, target)) from e
        return dict(cluster=self.cluster, verb=verb, group=group or "", resource=resource, namespace=namespace,
                    name=name, allowed=bool(answer.status.allowed), reason=answer.status.reason or "")

    def rules_review(self, namespace):
        """Ask the server (SelfSubjectRulesReview) which rules apply to our credential in ``namespace``: the
        rules of its ClusterRoleBindings, plus its RoleBindings in that namespace.

        Not a write, so it runs in check mode too. Returns the status as the API spells it:
        ``{resourceRules: [{verbs, apiGroups, resources, resourceNames}], incomplete, evaluationError}``;
        ``incomplete`` means an authorizer (a webhook, say) could not list its rules, so a permission missing
        from the list may still be granted.
        """
        body = dict(apiVersion="authorization.k8s.io/v1", kind="SelfSubjectRulesReview",
                    spec=dict(namespace=namespace))
        try:
            answer = k8s_api.AuthorizationV1Api(self._api_client).create_self_subject_rules_review(body)
        except API_ERRORS as e:
            raise self._error(e, "review the rules of the credential") from e
        status = self._api_client.sanitize_for_serialization(answer.status) if answer.status else {}
        return dict(resourceRules=status.get("resourceRules") or [], incomplete=bool(status.get("incomplete")),
                    evaluationError=status.get("evaluationError") or "")

    def request_token(self, namespace, service_account, ttl):
        """Mint a bound token for ``namespace/service_account`` (TokenRequest, ``expirationSeconds`` ``ttl``).

        Returns the token (None when the server's answer holds none), or None without a request when may_mint is
        false (check mode). Mask it at once.
        """
        if not self.may_mint:
            return None
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": int(ttl)}}
        try:
            answer = k8s_api.CoreV1Api(self._api_client).create_namespaced_service_account_token(
                service_account, namespace, body)
        except API_ERRORS as e:
            raise self._error(e, "request a token for ServiceAccount %s/%s" % (namespace, service_account),
                              kind="ServiceAccount", name=service_account, namespace=namespace) from e
        return answer.status.token if answer.status else None

    def token_review(self, token, action="review the stored token"):
        """Whether this cluster accepts ``token`` (TokenReview); None when the server forbids the review or does
        not serve it. Changes nothing on the server, so it runs in check mode too."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            answer = k8s_api.AuthenticationV1Api(self._api_client).create_token_review(body)
        except ApiException as e:
            if e.status in (403, 404):
                return None
            raise self._error(e, action) from e
        except API_ERRORS as e:
            raise self._error(e, action) from e
        return bool(answer.status and answer.status.authenticated)

    def whoami(self):
        """``{username, groups}`` of our credential (SelfSubjectReview), or None when the server forbids the
        review or does not serve it (Kubernetes older than 1.28)."""
        body = dict(apiVersion="authentication.k8s.io/v1", kind="SelfSubjectReview")
        try:
            answer = k8s_api.AuthenticationV1Api(self._api_client).create_self_subject_review(body)
        except ApiException as e:
            if e.status in (403, 404):
                return None
            raise self._error(e, "review who the credential is") from e
        except API_ERRORS as e:
            raise self._error(e, "review who the credential is") from e
        user = answer.status.user_info if answer.status else None
        if user is None:
            return None
        return dict(username=user.username, groups=list(user.groups or []))


def _pointer(key):
    """``key`` as one JSON pointer token (RFC 6901: ``~`` and ``/`` escaped)."""
    return key.replace("~", "~0").replace("/", "~1")


def contains(live, desired):
    """True when every field of ``desired`` has the same value in ``live`` (lists compared whole, in order)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(live, list) and len(live) == len(desired)
                and all(contains(a, b) for a, b in zip(live, desired)))
    return live == desired


def describe_cluster(service, namespaces=(), crd_fields=None):
    """What cluster_info returns: ``{cluster_name, server, server_version, platform, api_groups, user,
    namespaces, crd_fields}``; ``namespaces`` maps each name asked for to whether that namespace exists,
    ``crd_fields`` each CRD asked for to ``{path: declared}``."""
    identity = service.whoami()
    fields = {}
    for crd_name, paths in (crd_fields or {}).items():
        crd = service.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd_name)
        fields[crd_name] = {path: schema_declares(crd, path) for path in paths or []}
    return dict(
        crd_fields=fields,
        cluster_name=service.cluster,
        server=service.server,
        server_version=service.version(),
        platform=service.platform(),
        api_groups=service.api_groups(),
        user=identity["username"] if identity else None,
        namespaces={ns: service.get("v1", "Namespace", ns) is not None for ns in namespaces},
    )
