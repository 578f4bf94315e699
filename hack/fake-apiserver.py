#!/usr/bin/env python3
"""A small fake Kubernetes API server for benchmarking the controller without a cluster.

Standard library only (http.server + threading). It serves just what
`bedrock-logging-operator run` needs:

  GET    /version, /healthz, /readyz, /livez, /api, /apis
  GET    /apis/bedrocklogging.io/v1alpha1/bedrockloggingpolicies            list (limit/continue,
                                                                           labelSelector)
  GET    ...bedrockloggingpolicies?watch=true&resourceVersion=..           watch: chunked JSON
                                                                           lines, BOOKMARKs,
                                                                           open until timeoutSeconds
  POST   ...bedrockloggingpolicies                                         create
  GET    ...bedrockloggingpolicies/NAME[/status]
  PATCH  ...bedrockloggingpolicies/NAME           json-patch / merge-patch (finalizers, labels, spec)
  PUT    ...bedrockloggingpolicies/NAME
  DELETE ...bedrockloggingpolicies/NAME           deletionTimestamp while finalizers remain
  PATCH  ...bedrockloggingpolicies/NAME/status    server-side apply (JSON body), merge-patch
                                                  (apply: per field manager, see Store.apply_status)
  PUT    ...bedrockloggingpolicies/NAME/status
  POST   /apis/events.k8s.io/v1/namespaces/NS/events (and PATCH .../events/NAME, GET list)
  POST   /api/v1/namespaces/NS/events
  GET/POST/PUT/PATCH/DELETE /apis/coordination.k8s.io/v1/namespaces/NS/leases[/NAME]

Debug endpoints (not Kubernetes):
  GET  /debug/stats[?policy=NAME]   counters (status patches, Ready policies, events by reason);
                                    with ?policy= also that policy's raw status
  GET  /debug/policies              per-policy counters and timings
  GET  /debug/policy?name=NAME      one policy: metadata (generation, finalizers), raw status,
                                    status field owners and status writes by field manager
  POST /debug/add[?name=N&regions=K] add one generated policy (JSON body: a full object, optional)
  POST /debug/reset-stats           zero the counters (objects are kept)

Anything else gets a 404 JSON `Status`; no request can crash the server.

Usage:
  hack/fake-apiserver.py --port 0 --policies 100 --regions 4 \
      --port-file /tmp/port --kubeconfig /tmp/kubeconfig
  hack/fake-apiserver.py --print-kubeconfig --port 8001     # print a kubeconfig and exit
  hack/fake-apiserver.py --policies 1 --tamper blo-tamper  # + spec.tamperResponse.queueName
  hack/fake-apiserver.py --policy-file org.json            # one policy from a file (JSON, or YAML
                                                           # when PyYAML is importable)
"""

import argparse
import base64
import collections
import copy
import datetime
import json
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GROUP = "bedrocklogging.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "BedrockLoggingPolicy"
PLURAL = "bedrockloggingpolicies"
POLICY_BASE = f"/apis/{GROUP}/{VERSION}/{PLURAL}"

# Real region names, in the order generated policies take them.
REGIONS = [
    "us-east-1", "eu-west-1", "us-west-2", "ap-northeast-1", "eu-central-1", "us-east-2",
    "ap-southeast-1", "ap-southeast-2", "eu-west-2", "eu-west-3", "ca-central-1",
    "ap-south-1", "sa-east-1", "eu-north-1", "ap-northeast-2", "us-west-1",
]

DEFAULT_BUCKET_TEMPLATE = "blo-{policy}-{accountId}-{region}"

_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
# Discovery, so that `kubectl --kubeconfig <generated> get blp` works against the fake too.
RESOURCE_LISTS = {
    f"/apis/{GROUP}/{VERSION}": (API_VERSION, [
        {"name": PLURAL, "singularName": "bedrockloggingpolicy", "namespaced": False,
         "kind": KIND, "verbs": _VERBS, "shortNames": ["blp"], "categories": ["bedrock"]},
        {"name": f"{PLURAL}/status", "singularName": "", "namespaced": False, "kind": KIND,
         "verbs": ["get", "patch", "update"]}]),
    "/apis/coordination.k8s.io/v1": ("coordination.k8s.io/v1", [
        {"name": "leases", "singularName": "lease", "namespaced": True, "kind": "Lease",
         "verbs": _VERBS}]),
    "/apis/events.k8s.io/v1": ("events.k8s.io/v1", [
        {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
         "verbs": _VERBS, "shortNames": ["ev"]}]),
    "/api/v1": ("v1", [
        {"name": "events", "singularName": "event", "namespaced": True, "kind": "Event",
         "verbs": _VERBS, "shortNames": ["ev"]}]),
}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_obj(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def not_found(kind, name):
    return ApiError(404, "NotFound", f'{kind} "{name}" not found')


# ---------------------------------------------------------------- JSON patch / merge patch


def _ptr_tokens(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _resolve_parent(doc, tokens, path):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            raise ApiError(422, "Invalid", f"JSON patch: path {path!r} does not exist")
    return cur


_MISSING = object()


def _get(doc, path):
    cur = doc
    for t in _ptr_tokens(path):
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and t.isdigit() and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            return _MISSING
    return cur


def _add(doc, path, value):
    tokens = _ptr_tokens(path)
    if not tokens:
        return value
    parent = _resolve_parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise ApiError(422, "Invalid", f"JSON patch: index out of range in {path!r}")
    else:
        raise ApiError(422, "Invalid", f"JSON patch: cannot add at {path!r}")
    return doc


def _remove(doc, path):
    tokens = _ptr_tokens(path)
    parent = _resolve_parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise ApiError(422, "Invalid", f"JSON patch: path {path!r} does not exist")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "JSON patch body must be an array")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"malformed JSON patch operation {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "test":
            cur = _get(doc, path)
            # Like the API server (evanphx/json-patch): a missing path tests equal to null.
            cur = None if cur is _MISSING else cur
            if cur != op.get("value"):
                raise ApiError(422, "Invalid",
                               f"the server rejected our request due to an error in our request: "
                               f"testing value {path} failed: {cur!r} != {op.get('value')!r}")
        elif kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if _get(doc, path) is _MISSING:
                raise ApiError(422, "Invalid", f"JSON patch: replace of missing path {path!r}")
            if path == "":
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            src = _get(doc, op.get("from", ""))
            if src is _MISSING:
                raise ApiError(422, "Invalid", f"JSON patch: from path {op.get('from')!r} missing")
            if kind == "move":
                _remove(doc, op["from"])
            doc = _add(doc, path, copy.deepcopy(src))
        else:
            raise ApiError(400, "BadRequest", f"unknown JSON patch op {kind!r}")
    return doc


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- label selectors

_SET_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(sel):
    parts, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_field_selector(sel):
    """Only metadata.name (=, ==, !=) is supported, like for most custom resources."""
    out = []
    for term in _split_selector(sel or ""):
        m = re.match(r"^metadata\.name\s*(==|=|!=)\s*(.*)$", term)
        if not m:
            raise ApiError(400, "BadRequest", f'"{term}" is not a known field selector: only '
                                              f'"metadata.name"')
        out.append((m.group(1) != "!=", m.group(2)))
    return out


class FieldAndLabelSelector:
    def __init__(self, labels, fields):
        self.labels, self.fields = labels, fields

    def __call__(self, meta):
        return self.labels(meta) and all((meta.get("name") == v) == eq for eq, v in self.fields)


def parse_selector(sel):
    """Returns a predicate over an object's metadata (its labels); raises ApiError on syntax
    errors."""
    if not sel:
        return lambda meta: True
    preds = []
    for term in _split_selector(sel):
        m = _SET_RE.match(term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                preds.append(lambda l, k=key, vs=vals: l.get(k) in vs)
            else:
                preds.append(lambda l, k=key, vs=vals: l.get(k) not in vs)
        elif "!=" in term:
            k, v = (x.strip() for x in term.split("!=", 1))
            preds.append(lambda l, k=k, v=v: l.get(k) != v)
        elif "==" in term or "=" in term:
            k, v = (x.strip() for x in re.split("==?", term, maxsplit=1))
            preds.append(lambda l, k=k, v=v: l.get(k) == v)
        elif term.startswith("!"):
            preds.append(lambda l, k=term[1:].strip(): k not in l)
        elif re.match(r"^[A-Za-z0-9./_-]+$", term):
            preds.append(lambda l, k=term: k in l)
        else:
            raise ApiError(400, "BadRequest", f"unable to parse label selector {sel!r}")
    return lambda meta: all(p((meta or {}).get("labels") or {}) for p in preds)


# ---------------------------------------------------------------- the store


def ready_true(obj):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def apply_spec_defaults(spec):
    """What the CRD's structural-schema defaults do on a real API server (top-level fields)."""
    spec.setdefault("mode", "Enforce")
    spec.setdefault("deletionPolicy", "Retain")
    spec.setdefault("resyncInterval", "5m")
    spec.setdefault("dataTypes", ["Text", "Image", "Embedding", "Video", "Audio"])
    kms = spec.get("kmsKey")
    if isinstance(kms, dict):
        kms.setdefault("managePolicy", True)
        if isinstance(kms.get("create"), dict):
            kms["create"].setdefault("rotation", True)
    if isinstance(spec.get("s3"), dict):
        spec["s3"].setdefault("create", True)
    if isinstance(spec.get("tamperResponse"), dict):
        spec["tamperResponse"].setdefault("queueName", "bedrock-logging-tamper")
    cw = spec.get("cloudWatch")
    if isinstance(cw, dict):
        cw.setdefault("create", True)
        if isinstance(cw.get("largeDataDelivery"), dict):
            cw["largeDataDelivery"].setdefault("create", True)
    accounts = spec.get("accounts")
    if isinstance(accounts, dict):
        accounts.setdefault("roleName", "BedrockLoggingOperator")
        if isinstance(accounts.get("organization"), dict):
            accounts["organization"].setdefault("discoveryInterval", "10m")
    return spec


class PolicyStats:
    __slots__ = ("created", "status_patches", "status_changes", "first_status", "first_ready",
                 "finalizer_patches")

    def __init__(self):
        self.created = time.monotonic()
        self.status_patches = 0
        self.status_changes = 0
        self.first_status = None
        self.first_ready = None
        self.finalizer_patches = 0


class Store:
    def __init__(self, history=20000):
        self.cond = threading.Condition()
        self.rv = 1000
        self.policies = {}          # name -> object
        self.pstats = {}            # name -> PolicyStats
        self.log = collections.deque(maxlen=history)  # (rv, type, object)
        self.leases = {}            # (ns, name) -> object
        self.events = {}            # (group, ns, name) -> object
        self.list_snapshots = collections.OrderedDict()
        self.started = time.monotonic()
        self.counters = collections.Counter()
        self.unknown = collections.Counter()
        # Events by `reason`: created (POST) and occurrences (POST + PATCH: kube-rs's Recorder
        # merge-patches `series` onto the first Event when the same event repeats).
        self.event_reasons = collections.Counter()
        self.event_reason_occurrences = collections.Counter()
        # Server-side apply of the status: which field manager owns which top-level status key
        # and which status.shards[] entry (by index). name -> {manager: {"keys", "shards"}}.
        self.status_owners = {}
        self.status_patches_by_manager = collections.Counter()

    # callers hold self.cond
    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _emit(self, type_, obj):
        self.log.append((int(obj["metadata"]["resourceVersion"]), type_, copy.deepcopy(obj)))
        self.cond.notify_all()

    def add_policy(self, obj):
        with self.cond:
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = meta["generateName"] + uuid.uuid4().hex[:5]
                meta["name"] = name
            if not name:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            if name in self.policies:
                raise ApiError(409, "AlreadyExists", f'{PLURAL}.{GROUP} "{name}" already exists')
            obj["apiVersion"] = API_VERSION
            obj["kind"] = KIND
            meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["generation"] = 1
            meta["creationTimestamp"] = now_rfc3339()
            meta["resourceVersion"] = self._next_rv()
            meta.pop("deletionTimestamp", None)
            obj.pop("status", None)
            apply_spec_defaults(obj.setdefault("spec", {}))
            self.policies[name] = obj
            self.pstats[name] = PolicyStats()
            self.status_owners[name] = {}
            self.counters["policies_created"] += 1
            self._emit("ADDED", obj)
            return copy.deepcopy(obj)

    def get_policy(self, name):
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            return copy.deepcopy(self.policies[name])

    def _store_update(self, name, new, old):
        """Persist `new` (a full object) if it differs from `old`; handles finalizer-driven
        deletion. Returns the stored object."""
        meta = new["metadata"]
        # Immutable / server-owned fields.
        for k in ("uid", "creationTimestamp", "name", "generation", "deletionTimestamp"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
            else:
                meta.pop(k, None)
        new["apiVersion"], new["kind"] = API_VERSION, KIND
        if new.get("spec") != old.get("spec"):
            apply_spec_defaults(new.setdefault("spec", {}))
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        new_cmp = copy.deepcopy(new)
        new_cmp["metadata"].pop("resourceVersion", None)
        old_cmp = copy.deepcopy(old)
        old_cmp["metadata"].pop("resourceVersion", None)
        if new_cmp == old_cmp:
            return copy.deepcopy(old)  # no-op: no new resourceVersion, no watch event
        meta["resourceVersion"] = self._next_rv()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self.policies[name]
            self.status_owners.pop(name, None)
            self.counters["policies_deleted"] += 1
            self._emit("DELETED", new)
            return copy.deepcopy(new)
        self.policies[name] = new
        self._emit("MODIFIED", new)
        return copy.deepcopy(new)

    def patch_policy(self, name, content_type, body, rv_precondition=None):
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            old = self.policies[name]
            if content_type == "application/json-patch+json":
                new = json_patch(old, body)
            elif content_type == "application/merge-patch+json":
                new = merge_patch(old, body)
            elif content_type == "application/apply-patch+yaml":
                new = copy.deepcopy(old)
                if isinstance(body, dict):
                    for k in ("labels", "annotations", "finalizers"):
                        if k in (body.get("metadata") or {}):
                            new["metadata"][k] = body["metadata"][k]
                    if "spec" in body:
                        new["spec"] = body["spec"]
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media "
                               f"types include: application/json-patch+json, "
                               f"application/merge-patch+json, application/apply-patch+yaml "
                               f"(got {content_type!r})")
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise ApiError(422, "Invalid", "patched object is not an object")
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            if old.get("metadata", {}).get("finalizers") != new["metadata"].get("finalizers"):
                self.pstats[name].finalizer_patches += 1
                self.counters["finalizer_patches"] += 1
            return self._store_update(name, new, old)

    def replace_policy(self, name, body):
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            old = self.policies[name]
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "{name}": the '
                               f"object has been modified; please apply your changes to the "
                               f"latest version and try again")
            new = copy.deepcopy(body)
            new.setdefault("metadata", {})
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            return self._store_update(name, new, old)

    def delete_policy(self, name):
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            obj = self.policies[name]
            meta = obj["metadata"]
            if meta.get("finalizers"):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now_rfc3339()
                    meta["deletionGracePeriodSeconds"] = 0
                    meta["resourceVersion"] = self._next_rv()
                    self._emit("MODIFIED", obj)
                return copy.deepcopy(obj)
            del self.policies[name]
            self.status_owners.pop(name, None)
            meta["resourceVersion"] = self._next_rv()
            self.counters["policies_deleted"] += 1
            self._emit("DELETED", obj)
            return copy.deepcopy(obj)

    def write_status(self, name, status, how):
        """A write of the whole status (merge-patch, json-patch, PUT): the result replaces it.
        Status keys and shard entries that are gone lose their apply owners."""
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            owners = self.status_owners.setdefault(name, {})
            keys = set(status) if isinstance(status, dict) else set()
            indexes = {e.get("index") for e in (status or {}).get("shards") or []
                       if isinstance(e, dict)} if isinstance(status, dict) else set()
            for o in owners.values():
                o["keys"] &= keys
                o["shards"] &= indexes
            return self._commit_status(name, status, how)

    def apply_status(self, name, patch, manager):
        """Server-side apply of the status subresource by `manager` (force=true), as a real API
        server does it for this CRD's status: every top-level key in the patch replaces the
        stored one and becomes `manager`'s; `status.shards` is a list-map keyed by `index`
        (x-kubernetes-list-type: map): each entry of the patch replaces or adds the entry of the
        same index, other entries are kept. Keys and entries `manager` applied before and leaves
        out now are removed, unless another manager also owns them. (Nested list-maps other
        than shards, e.g. conditions or regions, are replaced whole: only one manager writes
        them.)"""
        with self.cond:
            if name not in self.policies:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            if patch is not None and not isinstance(patch, dict):
                raise ApiError(422, "Invalid", "status: must be an object")
            patch = {k: v for k, v in (patch or {}).items() if v is not None}
            shards_patch = patch.pop("shards", None)
            if shards_patch is not None and not isinstance(shards_patch, list):
                raise ApiError(422, "Invalid", "status.shards: must be a list")
            entries = {}
            for e in shards_patch or []:
                if not isinstance(e, dict) or not isinstance(e.get("index"), int):
                    raise ApiError(422, "Invalid",
                                   "status.shards: Invalid value: each entry needs an integer "
                                   "index (the list-map key)")
                if e["index"] in entries:
                    raise ApiError(422, "Invalid", f"status.shards: Duplicate value: "
                                   f"{{\"index\":{e['index']}}}")
                entries[e["index"]] = e
            self.status_patches_by_manager[manager] += 1
            owners = self.status_owners.setdefault(name, {})
            mine = owners.setdefault(manager, {"keys": set(), "shards": set()})
            others = [o for m, o in owners.items() if m != manager]
            old = copy.deepcopy(self.policies[name].get("status") or {})
            new = old
            # Keys this manager applied before and leaves out now: removed if nobody else has them.
            for k in mine["keys"] - set(patch):
                if not any(k in o["keys"] for o in others):
                    new.pop(k, None)
            for k, v in patch.items():
                new[k] = copy.deepcopy(v)
                for o in others:  # force=true: the other managers lose the field
                    o["keys"].discard(k)
            mine["keys"] = set(patch)
            # status.shards: merged by index.
            shards = [e for e in new.get("shards") or [] if isinstance(e, dict)]
            dropped = {i for i in mine["shards"] - set(entries)
                       if not any(i in o["shards"] for o in others)}
            shards = [e for e in shards if e.get("index") not in dropped]
            for i, e in entries.items():
                for pos, cur in enumerate(shards):
                    if cur.get("index") == i:
                        shards[pos] = copy.deepcopy(e)
                        break
                else:
                    shards.append(copy.deepcopy(e))
                for o in others:
                    o["shards"].discard(i)
            mine["shards"] = set(entries)
            if shards:
                new["shards"] = shards
            else:
                new.pop("shards", None)
            return self._commit_status(name, new or None, "apply")

    # callers hold self.cond
    def _commit_status(self, name, status, how):
        st = self.pstats[name]
        st.status_patches += 1
        self.counters["status_patches"] += 1
        self.counters[f"status_patches_{how}"] += 1
        old = self.policies[name]
        if old.get("status") == status or (not old.get("status") and not status):
            self.counters["status_patches_noop"] += 1
            return copy.deepcopy(old)
        new = copy.deepcopy(old)
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = copy.deepcopy(status)
        st.status_changes += 1
        self.counters["status_changes"] += 1
        new["metadata"]["resourceVersion"] = self._next_rv()
        self.policies[name] = new
        t = time.monotonic()
        if st.first_status is None:
            st.first_status = t
        if st.first_ready is None and ready_true(new):
            st.first_ready = t
        self._emit("MODIFIED", new)
        return copy.deepcopy(new)

    def list_policies(self, selector, limit, cont):
        with self.cond:
            if cont:
                snap = self.list_snapshots.get(cont)
                if snap is None:
                    raise ApiError(410, "Expired", "the provided continue parameter is too old "
                                   "to display a consistent list result")
                rv, items, offset = snap
            else:
                rv = str(self.rv)
                items = [copy.deepcopy(self.policies[n]) for n in sorted(self.policies)
                         if selector(self.policies[n]["metadata"])]
                offset = 0
            page = items[offset:offset + limit] if limit else items[offset:]
            meta = {"resourceVersion": rv}
            if limit and offset + limit < len(items):
                token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
                self.list_snapshots[token] = (rv, items, offset + limit)
                while len(self.list_snapshots) > 64:
                    self.list_snapshots.popitem(last=False)
                meta["continue"] = token
                meta["remainingItemCount"] = len(items) - offset - limit
            return {"apiVersion": API_VERSION, "kind": f"{KIND}List", "metadata": meta,
                    "items": page}

    def stats(self, policy=None):
        with self.cond:
            names = list(self.policies)
            with_status = [n for n in names if self.policies[n].get("status")]
            ready = [n for n in names if ready_true(self.policies[n])]
            ready_observed = [
                n for n in ready
                if (self.policies[n]["status"].get("observedGeneration")
                    == self.policies[n]["metadata"].get("generation"))
            ]
            lat_ready = sorted(s.first_ready - s.created for n, s in self.pstats.items()
                               if n in self.policies and s.first_ready is not None)
            lat_status = sorted(s.first_status - s.created for n, s in self.pstats.items()
                                if n in self.policies and s.first_status is not None)
            accounts = {self.policies[n]["status"].get("accountId") for n in with_status} - {None}
            region_states = collections.Counter(
                r.get("state") for n in with_status
                for r in self.policies[n]["status"].get("regions") or [])
            ready_reasons = collections.Counter(
                c.get("reason") for n in with_status
                for c in self.policies[n]["status"].get("conditions") or []
                if c.get("type") == "Ready")
            out = {
                "uptime_s": round(time.monotonic() - self.started, 3),
                "resource_version": self.rv,
                "policies": len(names),
                "policies_with_status": len(with_status),
                "ready_policies": len(ready),
                "ready_policies_observed_generation": len(ready_observed),
                "distinct_status_account_ids": len(accounts),
                "region_states": dict(region_states),
                "ready_reasons": dict(ready_reasons),
                "status_patches_total": self.counters["status_patches"],
                "status_changes_total": self.counters["status_changes"],
                "status_patches_noop": self.counters["status_patches_noop"],
                "finalizer_patches_total": self.counters["finalizer_patches"],
                "events_total": self.counters["events_created"],
                "events_by_reason": dict(self.event_reasons),
                "event_occurrences_by_reason": dict(self.event_reason_occurrences),
                "event_patches_total": self.counters["event_patches"],
                "lists_total": self.counters["lists"],
                "watches_total": self.counters["watches"],
                "watches_active": self.counters["watches_active"],
                "lease_writes_total": self.counters["lease_writes"],
                "requests_total": self.counters["requests"],
                "unknown_requests": dict(self.unknown),
                "max_time_to_status_s": round(lat_status[-1], 3) if lat_status else None,
                "max_time_to_ready_s": round(lat_ready[-1], 3) if lat_ready else None,
                "median_time_to_ready_s":
                    round(lat_ready[len(lat_ready) // 2], 3) if lat_ready else None,
                "status_patches_by_policy": {n: s.status_patches for n, s in self.pstats.items()},
                "status_patches_by_manager": dict(self.status_patches_by_manager),
            }
            if policy is not None:
                out["policy"] = self._policy_stats(policy)
                if out["policy"] is not None:
                    obj = self.policies.get(policy)
                    out["policy"]["status"] = copy.deepcopy(obj.get("status")) if obj else None
            return out

    def policy_detail(self, name):
        with self.cond:
            obj = self.policies.get(name)
            if obj is None:
                raise not_found(f"{PLURAL}.{GROUP}", name)
            meta = obj["metadata"]
            owners = self.status_owners.get(name) or {}
            return {
                "name": name,
                "generation": meta.get("generation"),
                "resourceVersion": meta.get("resourceVersion"),
                "finalizers": list(meta.get("finalizers") or []),
                "deletionTimestamp": meta.get("deletionTimestamp"),
                "ready": ready_true(obj),
                "status": copy.deepcopy(obj.get("status")),
                "status_owners": {m: {"keys": sorted(o["keys"]), "shards": sorted(o["shards"])}
                                  for m, o in sorted(owners.items())},
                "stats": self._policy_stats(name),
            }

    def _policy_stats(self, name):
        s = self.pstats.get(name)
        if s is None:
            return None
        obj = self.policies.get(name)
        return {
            "name": name,
            "exists": obj is not None,
            "ready": bool(obj and ready_true(obj)),
            "has_status": bool(obj and obj.get("status")),
            "status_patches": s.status_patches,
            "status_changes": s.status_changes,
            "finalizer_patches": s.finalizer_patches,
            "apply_to_status_s":
                round(s.first_status - s.created, 3) if s.first_status is not None else None,
            "apply_to_ready_s":
                round(s.first_ready - s.created, 3) if s.first_ready is not None else None,
        }

    def policy_table(self):
        with self.cond:
            return {n: self._policy_stats(n) for n in sorted(self.pstats)}

    def reset_stats(self):
        with self.cond:
            keep = {k: self.counters[k] for k in ("watches_active",)}
            self.counters.clear()
            self.counters.update(keep)
            self.unknown.clear()
            self.event_reasons.clear()
            self.event_reason_occurrences.clear()
            self.status_patches_by_manager.clear()
            for s in self.pstats.values():
                s.status_patches = s.status_changes = s.finalizer_patches = 0

    # leases / events (namespaced, generic)
    def generic_create(self, table, key, obj, api_version, kind):
        with self.cond:
            if key in table:
                raise ApiError(409, "AlreadyExists", f'{kind} "{key[-1]}" already exists')
            meta = obj.setdefault("metadata", {})
            meta["name"], meta["namespace"] = key[-1], key[-2]
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["resourceVersion"] = self._next_rv()
            obj["apiVersion"], obj["kind"] = api_version, kind
            table[key] = obj
            return copy.deepcopy(obj)

    def generic_replace(self, table, key, obj, kind):
        with self.cond:
            if key not in table:
                raise not_found(kind, key[-1])
            old = table[key]
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {kind} "{key[-1]}": the object '
                               f"has been modified; please apply your changes to the latest "
                               f"version and try again")
            meta = obj.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "name", "namespace"):
                meta[k] = old["metadata"].get(k)
            meta["resourceVersion"] = self._next_rv()
            obj["apiVersion"], obj["kind"] = old["apiVersion"], old["kind"]
            table[key] = obj
            return copy.deepcopy(obj)


# ---------------------------------------------------------------- policy generation


def generate_policy(index, regions, bucket_template, account_base, same_account, cloudwatch,
                    resync, name=None, tamper=None):
    name = name or f"bench-{index:03d}"
    account = f"{(account_base + (0 if same_account else index)) % 10**12:012d}"
    spec = {
        "regions": list(regions),
        "account": {"roleArn": f"arn:aws:iam::{account}:role/blo"},
        "kmsKey": {"create": {"alias": "alias/blo-bench"}},
        "s3": {"bucketName": bucket_template.replace("{policy}", name), "keyPrefix": "bedrock"},
        "resyncInterval": resync,
    }
    if cloudwatch:
        spec["cloudWatch"] = {"logGroupName": f"/aws/bedrock/{name}", "retentionInDays": 30,
                              "roleName": f"blo-{name}"}
    if tamper:
        spec["tamperResponse"] = {"queueName": tamper}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "blo-bench",
                                               "bench.bedrocklogging.io/shard": str(index % 4)}},
        "spec": spec,
    }


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"
    store: Store = None
    cfg = None

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
        # holds the body until the client's delayed ACK (~40 ms) on a kept-alive connection,
        # i.e. every request after a connection's first one would take 40 ms.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.cfg.verbose:
            sys.stderr.write("fake-apiserver: %s - %s\n" % (self.address_string(), fmt % args))

    # -- plumbing
    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _json_body(self, raw):
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "BadRequest",
                           f"cannot decode request body as JSON (YAML bodies are not supported "
                           f"by this fake): {e}")

    def _send(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, e: ApiError):
        self._send(e.code, status_obj(e.code, e.reason, e.message))

    def _dispatch(self):
        st = self.store
        with st.cond:
            st.counters["requests"] += 1
        raw = b""
        try:
            raw = self._read_body()
            url = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            path = url.path.rstrip("/") or "/"
            self._route(self.command, path, q, raw)
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # never crash on a request
            traceback.print_exc(file=sys.stderr)
            try:
                self._error(ApiError(500, "InternalError", f"fake-apiserver: {e!r}"))
            except Exception:
                self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def _unknown(self, method, path):
        with self.store.cond:
            self.store.unknown[f"{method} {path}"] += 1
        sys.stderr.write(f"fake-apiserver: 404 for unexpected request {method} {path}\n")
        raise ApiError(404, "NotFound", f"the server could not find the requested resource "
                                        f"({method} {path})")

    # -- routing
    def _route(self, method, path, q, raw):
        st = self.store
        if path in ("/healthz", "/readyz", "/livez") and method in ("GET", "HEAD"):
            return self._send(200, b"ok", "text/plain")
        if path == "/version" and method == "GET":
            return self._send(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake",
                                    "gitCommit": "0" * 40, "gitTreeState": "clean",
                                    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                                    "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api" and method == "GET":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": []})
        if path == "/apis" and method == "GET":
            groups = [(GROUP, VERSION), ("coordination.k8s.io", "v1"), ("events.k8s.io", "v1")]
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in groups]})
        if path in RESOURCE_LISTS and method == "GET":
            gv, resources = RESOURCE_LISTS[path]
            return self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": gv, "resources": resources})
        if path.startswith("/debug/"):
            return self._debug(method, path, q, raw)
        if path == POLICY_BASE or path.startswith(POLICY_BASE + "/"):
            return self._policies(method, path[len(POLICY_BASE):].strip("/").split("/"), q, raw)
        m = re.match(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$",
                     path)
        if m:
            return self._leases(method, m.group(1), m.group(2), q, raw)
        m = re.match(r"^/apis/events\.k8s\.io/v1/namespaces/([^/]+)/events(?:/([^/]+))?$", path)
        if m:
            return self._events(method, "events.k8s.io/v1", m.group(1), m.group(2), raw)
        m = re.match(r"^/api/v1/namespaces/([^/]+)/events(?:/([^/]+))?$", path)
        if m:
            return self._events(method, "v1", m.group(1), m.group(2), raw)
        return self._unknown(method, path)

    def _debug(self, method, path, q, raw):
        st = self.store
        if path == "/debug/stats" and method == "GET":
            return self._send(200, st.stats(q.get("policy")))
        if path == "/debug/policies" and method == "GET":
            return self._send(200, st.policy_table())
        if path == "/debug/policy" and method == "GET":
            if not q.get("name"):
                raise ApiError(400, "BadRequest", "/debug/policy needs ?name=NAME")
            return self._send(200, st.policy_detail(q["name"]))
        if path == "/debug/reset-stats" and method == "POST":
            st.reset_stats()
            return self._send(200, {"ok": True})
        if path == "/debug/add" and method == "POST":
            body = self._json_body(raw)
            if body is None:
                with st.cond:
                    index = st.counters["debug_adds"] + 1000
                    st.counters["debug_adds"] += 1
                k = int(q.get("regions", self.cfg.regions))
                body = generate_policy(
                    index, REGIONS[:k], self.cfg.bucket_template, self.cfg.account_base,
                    self.cfg.same_account, self.cfg.cloudwatch, self.cfg.resync,
                    name=q.get("name") or f"added-{index:04d}", tamper=self.cfg.tamper)
            obj = st.add_policy(body)
            return self._send(201, obj)
        return self._unknown(method, path)

    def _policies(self, method, parts, q, raw):
        st = self.store
        parts = [p for p in parts if p]
        if not parts:
            if method == "GET":
                selector = parse_selector(q.get("labelSelector", ""))
                fields = parse_field_selector(q.get("fieldSelector", ""))
                if fields:
                    selector = FieldAndLabelSelector(selector, fields)
                if q.get("watch") in ("true", "1"):
                    return self._watch(q, selector)
                with st.cond:
                    st.counters["lists"] += 1
                limit = int(q.get("limit") or 0)
                return self._send(200, st.list_policies(selector, limit, q.get("continue")))
            if method == "POST":
                body = self._json_body(raw)
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "body must be a JSON object")
                return self._send(201, st.add_policy(body))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on the collection")
        name = parts[0]
        sub = parts[1] if len(parts) > 1 else None
        if len(parts) > 2 or sub not in (None, "status"):
            return self._unknown(method, POLICY_BASE + "/" + "/".join(parts))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if sub is None:
            if method == "GET":
                return self._send(200, st.get_policy(name))
            if method == "PATCH":
                return self._send(200, st.patch_policy(name, ctype, self._json_body(raw)))
            if method == "PUT":
                return self._send(200, st.replace_policy(name, self._json_body(raw) or {}))
            if method == "DELETE":
                return self._send(200, st.delete_policy(name))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")
        # /status
        if method == "GET":
            return self._send(200, st.get_policy(name))
        body = self._json_body(raw)
        if method == "PATCH":
            if ctype == "application/apply-patch+yaml":
                if not q.get("fieldManager"):
                    raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: "
                                   "fieldManager: Required value: is required for apply patch")
                if not isinstance(body, dict) or body.get("apiVersion") != API_VERSION \
                        or body.get("kind") != KIND:
                    raise ApiError(400, "BadRequest",
                                   f"apply patch must set apiVersion {API_VERSION} and kind {KIND}")
                return self._send(200, st.apply_status(name, body.get("status"),
                                                       q["fieldManager"]))
            if ctype == "application/merge-patch+json":
                cur = st.get_policy(name)
                new = merge_patch(cur, body or {})
                return self._send(200, st.write_status(name, new.get("status"), "merge"))
            if ctype == "application/json-patch+json":
                cur = st.get_policy(name)
                new = json_patch(cur, body)
                return self._send(200, st.write_status(name, new.get("status"), "jsonpatch"))
            raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {ctype!r}")
        if method == "PUT":
            return self._send(200, st.write_status(name, (body or {}).get("status"), "put"))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on status")

    def _write_chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, q, selector):
        st = self.store
        timeout = int(q.get("timeoutSeconds") or self.cfg.watch_timeout)
        deadline = time.monotonic() + timeout
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        rv_param = q.get("resourceVersion", "")
        initial = q.get("sendInitialEvents") in ("true", "1")
        pending = []
        with st.cond:
            st.counters["watches"] += 1
            st.counters["watches_active"] += 1
            if rv_param in ("", "0") or initial:
                # Start from "now": synthetic ADDED events for the current state.
                last = st.rv
                pending = [("ADDED", copy.deepcopy(o)) for _, o in sorted(st.policies.items())]
            else:
                last = int(rv_param)
                oldest = st.log[0][0] if st.log else st.rv + 1
                if st.log and last < oldest - 1 and len(st.log) == st.log.maxlen:
                    pending = None  # too old: 410 Gone
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            # The stream ends the connection: the client must not pool it for another request.
            self.send_header("Connection", "close")
            self.end_headers()
            if pending is None:
                self._write_chunk({"type": "ERROR", "object": status_obj(
                    410, "Expired", f"too old resource version: {rv_param}")})
                return
            for type_, obj in pending:
                if selector(obj["metadata"]):
                    self._write_chunk({"type": type_, "object": obj})
            if initial and bookmarks:
                self._write_chunk(self._bookmark(last, initial_end=True))
            next_bookmark = time.monotonic() + self.cfg.bookmark_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                with st.cond:
                    events = [e for e in st.log if e[0] > last]
                    if not events:
                        st.cond.wait(timeout=max(0.05, min(deadline, next_bookmark) - now))
                        events = [e for e in st.log if e[0] > last]
                for rv, type_, obj in events:
                    last = max(last, rv)
                    if selector(obj["metadata"]):
                        self._write_chunk({"type": type_, "object": obj})
                if bookmarks and time.monotonic() >= next_bookmark:
                    with st.cond:
                        last = max(last, st.rv) if not [e for e in st.log if e[0] > last] \
                            else last
                    self._write_chunk(self._bookmark(last))
                    next_bookmark = time.monotonic() + self.cfg.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.close_connection = True
            with st.cond:
                st.counters["watches_active"] -= 1

    @staticmethod
    def _bookmark(rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {"apiVersion": API_VERSION, "kind": KIND,
                                                "metadata": meta}}

    def _leases(self, method, ns, name, q, raw):
        st = self.store
        kind = "leases.coordination.k8s.io"
        api_version = "coordination.k8s.io/v1"
        if name is None:
            if method == "GET":
                with st.cond:
                    items = [copy.deepcopy(v) for (n, _), v in sorted(st.leases.items()) if n == ns]
                    return self._send(200, {"apiVersion": api_version, "kind": "LeaseList",
                                            "metadata": {"resourceVersion": str(st.rv)},
                                            "items": items})
            if method == "POST":
                body = self._json_body(raw) or {}
                lname = (body.get("metadata") or {}).get("name")
                if not lname:
                    raise ApiError(422, "Invalid", "metadata.name: Required value")
                with st.cond:
                    st.counters["lease_writes"] += 1
                return self._send(201, st.generic_create(st.leases, (ns, lname), body,
                                                         api_version, "Lease"))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")
        key = (ns, name)
        if method == "GET":
            with st.cond:
                if key not in st.leases:
                    raise not_found(kind, name)
                return self._send(200, copy.deepcopy(st.leases[key]))
        if method == "PUT":
            with st.cond:
                st.counters["lease_writes"] += 1
            return self._send(200, st.generic_replace(st.leases, key, self._json_body(raw) or {},
                                                      kind))
        if method == "PATCH":
            with st.cond:
                if key not in st.leases:
                    raise not_found(kind, name)
                new = merge_patch(st.leases[key], self._json_body(raw) or {})
                new["metadata"].pop("resourceVersion", None)
            return self._send(200, st.generic_replace(st.leases, key, new, kind))
        if method == "DELETE":
            with st.cond:
                obj = st.leases.pop(key, None)
            if obj is None:
                raise not_found(kind, name)
            return self._send(200, obj)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")

    def _events(self, method, api_version, ns, name, raw):
        st = self.store
        table_key = lambda n: (api_version, ns, n)  # noqa: E731
        if name is None:
            if method == "POST":
                body = self._json_body(raw) or {}
                meta = body.setdefault("metadata", {})
                ename = meta.get("name") or (meta.get("generateName") or "event.") + \
                    uuid.uuid4().hex[:10]
                with st.cond:
                    st.counters["events_created"] += 1
                    st.event_reasons[str(body.get("reason"))] += 1
                    st.event_reason_occurrences[str(body.get("reason"))] += 1
                    if len(st.events) > 5000:  # bounded memory
                        st.events.pop(next(iter(st.events)))
                obj = st.generic_create(st.events, table_key(ename), body, api_version, "Event")
                return self._send(201, obj)
            if method == "GET":
                with st.cond:
                    items = [copy.deepcopy(v) for (g, n, _), v in st.events.items()
                             if g == api_version and n == ns]
                    return self._send(200, {"apiVersion": api_version, "kind": "EventList",
                                            "metadata": {"resourceVersion": str(st.rv)},
                                            "items": items})
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")
        if method == "GET":
            with st.cond:
                if table_key(name) not in st.events:
                    raise not_found("events", name)
                return self._send(200, copy.deepcopy(st.events[table_key(name)]))
        if method == "PATCH":
            with st.cond:
                st.counters["event_patches"] += 1
                if table_key(name) not in st.events:
                    raise not_found("events", name)
                st.event_reason_occurrences[str(st.events[table_key(name)].get("reason"))] += 1
                new = merge_patch(st.events[table_key(name)], self._json_body(raw) or {})
                new["metadata"].pop("resourceVersion", None)
            return self._send(200, st.generic_replace(st.events, table_key(name), new, "events"))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def kubeconfig(port, token="fake-token"):
    # JSON is valid YAML: kubectl and kube-rs both read it.
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}",
                                                  "insecure-skip-tls-verify": True}}],
        "users": [{"name": "fake", "user": {"token": token}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                  "namespace": "default"}}],
        "current-context": "fake",
        "preferences": {},
    }, indent=2) + "\n"


def load_policy_file(path):
    """One policy object from a JSON file, or from a YAML file when PyYAML is importable."""
    with open(path) as f:
        text = f.read()
    try:
        obj = json.loads(text)
    except ValueError as json_err:
        try:
            import yaml  # optional: the server itself needs only the standard library
        except ImportError:
            raise ValueError(f"not JSON ({json_err}) and PyYAML is not installed for YAML")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
        if len(docs) != 1:
            raise ValueError(f"expected one YAML document, found {len(docs)}")
        obj = docs[0]
    if not isinstance(obj, dict):
        raise ValueError("the file must hold one object")
    if obj.get("kind", KIND) != KIND:
        raise ValueError(f"kind {obj.get('kind')!r} is not {KIND}")
    return obj


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0: pick a free port")
    ap.add_argument("--policies", type=int, default=0, help="generated policies")
    ap.add_argument("--regions", type=int, default=1, help=f"regions per policy (<= {len(REGIONS)})")
    ap.add_argument("--bucket-template", default=DEFAULT_BUCKET_TEMPLATE,
                    help="bucket name; {policy} is replaced here, {accountId}/{region} are left "
                         "to the controller")
    ap.add_argument("--account-base", type=int, default=100000000000,
                    help="policy i assumes arn:aws:iam::<account-base + i>:role/blo")
    ap.add_argument("--same-account", action="store_true",
                    help="every policy assumes a role in the same account (they then conflict)")
    ap.add_argument("--cloudwatch", action="store_true",
                    help="also give generated policies a CloudWatch destination")
    ap.add_argument("--resync", default="5m", help="spec.resyncInterval of generated policies")
    ap.add_argument("--tamper", metavar="QUEUE",
                    help="give generated policies spec.tamperResponse.queueName QUEUE")
    ap.add_argument("--policy-file", action="append", default=[], metavar="PATH",
                    help="also serve the policy in PATH (a JSON object; YAML needs PyYAML), with "
                         "the CRD's defaults applied; repeatable")
    ap.add_argument("--bookmark-interval", type=float, default=15.0, help="seconds")
    ap.add_argument("--watch-timeout", type=int, default=290,
                    help="watch length when the client gives no timeoutSeconds")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    ap.add_argument("--print-kubeconfig", action="store_true",
                    help="print a kubeconfig for --port and exit")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    cfg = ap.parse_args(argv)
    if not 1 <= cfg.regions <= len(REGIONS):
        ap.error(f"--regions must be between 1 and {len(REGIONS)}")
    if cfg.print_kubeconfig:
        if not cfg.port:
            ap.error("--print-kubeconfig needs --port")
        sys.stdout.write(kubeconfig(cfg.port))
        return 0

    store = Store()
    for i in range(cfg.policies):
        store.add_policy(generate_policy(i, REGIONS[:cfg.regions], cfg.bucket_template,
                                         cfg.account_base, cfg.same_account, cfg.cloudwatch,
                                         cfg.resync, tamper=cfg.tamper))
    for path in cfg.policy_file:
        try:
            obj = load_policy_file(path)
            store.add_policy(obj)
        except (OSError, ValueError) as e:
            ap.error(f"--policy-file {path}: {e}")
        except ApiError as e:
            ap.error(f"--policy-file {path}: {e.message}")
    store.reset_stats()
    for s in store.pstats.values():
        s.created = time.monotonic()
    Handler.store = store
    Handler.cfg = cfg
    httpd = Server(("127.0.0.1", cfg.port), Handler)
    port = httpd.server_address[1]
    if cfg.kubeconfig:
        with open(cfg.kubeconfig, "w") as f:
            f.write(kubeconfig(port))
    if cfg.port_file:
        with open(cfg.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        import os
        os.replace(cfg.port_file + ".tmp", cfg.port_file)
    print(f"fake-apiserver: listening on http://127.0.0.1:{port} with {len(store.policies)} "
          f"policies", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
