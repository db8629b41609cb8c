"""A stand-in for a Kubernetes API server, on loopback, for tests.

No real API server runs here, so Cloister's deploy worker is tested against
this one, and kubectl is the oracle: a test runs kubectl against the same
server and requires the worker's verdict to agree.  So the fake follows the
documented semantics (API concepts, server-side apply, the Deployment
controller) closely enough that real kubectl (1.27 to 1.33) works against it.

    peer = KubernetesPeer()                       # tokens=("cloister-test-token",)
    peer.add_node("aks-sgx-0", {"kubernetes.azure.com/sgx_epc_mem_in_MiB": "8192"},
                  {"sgx.intel.com/epc": "8Gi"})
    peer.kubeconfig(path)                         # CA inline, bearer token
    peer.fail_deployment("web", "image-pull", namespace="apps")
    peer.last_applied("deployments", "web", "apps")
    peer.close()

How it works:

- HTTPS with a CA and a server certificate (IP:127.0.0.1, DNS:localhost)
  made with the openssl command at start; `.ca_pem` is the CA's path, `.url`
  the server's.  HTTP/1.1, JSON (and the protobuf that kubectl's typed
  clients send for the kinds `kubectl create` makes).  Bearer tokens
  authenticate: `tokens` is a list, a {token: user} map, or a callable
  token -> user or None (e.g. over AzurePeer.token_info); a wrong token is
  401, no token is the anonymous user, who may read /version and /healthz
  and nothing else (403).
- Discovery in the legacy format (/api, /api/v1, /apis, /apis/apps/v1) with
  verbs, short names, categories and the scale subresource's
  autoscaling/v1 Scale; a minimal /openapi/v3 (and v2, JSON or protobuf)
  that says which query parameters each PATCH accepts, which is what
  kubectl apply asks before it leaves validation to the server; Table
  output when kubectl asks for it, with the real server's columns.
- One store of objects keyed by resource, namespace and name, with one
  global resourceVersion counter.  Every change is appended to a history
  that watches replay; the oldest part of it is dropped past `history`
  entries (or at once by compact()), and a watch or a continue token older
  than what is kept gets 410 Expired, as after etcd compaction.  Watches
  from no version (or 0, or sendInitialEvents=true with its bookmark) start
  with the current state as ADDED; label and field selectors turn objects
  that leave or enter the selection into DELETED and ADDED.
- Writes: create (POST), replace (PUT, resourceVersion preconditions),
  delete (graceful for bound pods, namespaces and finalizers; dependents
  garbage collected), JSON patch, merge patch, strategic merge patch (keyed
  lists such as containers are merged by name, as the real one does), the
  scale subresource, and server-side apply (application/apply-patch+yaml):
  field sets per manager in metadata.managedFields (FieldsV1), conflicts
  with other managers, Apply or Update, as 409 Conflict with causes in the
  real server's words, force=true takes the fields, and fields a manager
  stops applying are removed.  Update operations own what they change
  (the manager named by fieldManager, or the User-Agent's first word).
  Defaults (Deployment strategy, pod spec, Service clusterIP...) and the
  main validation rules (names, labels, selectors, quantities, extended
  resources such as sgx.intel.com/epc) give 422 Invalid as the server does.
- A controller thread (every `tick` seconds) plays the deployment
  controller, the replica sets, scheduler, kubelet, garbage collector and
  namespace controller: a new template gets a ReplicaSet <name>-<hash> and
  pods <name>-<hash>-<xxxxx>, scheduled onto the seeded nodes by labels,
  node affinity, taints and allocatable resources (else Unschedulable with
  the scheduler's FailedScheduling message), Pending for one tick and then
  Running and Ready; a rolling update surges and retires old pods step by
  step within maxSurge and maxUnavailable; status and the Progressing and
  Available conditions follow as the real controller sets them, with
  ProgressDeadlineExceeded after spec.progressDeadlineSeconds *
  `deadline_scale` seconds without progress.  fail_deployment() makes a
  rollout never start, fail to pull its image, crash-loop or be
  unschedulable, with the events the real components record.
- Knobs: throttle (429 + Retry-After), fail (5xx), drop (connection reset,
  or half an answer), forbid (403 for a verb on a resource), expire_next_watch,
  expire_watches and compact (410), pause_controller.  Observations:
  `requests` by (method, path), `log` (every request with its query, body,
  content type, verb and status), `applied` (the last apply body per
  object), count().

Left out: aggregated discovery, admission, RBAC beyond forbid(),
foreground deletion (treated as background), consistent snapshots for
paginated lists (a continue token resumes from the current state),
bookmarks other than the initial-events one, protobuf beyond the kinds
above, and every resource not in RESOURCES."""
import base64
import collections
import copy
import fractions
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import yaml

# ---------------------------------------------------------------- resources


class Resource:
    def __init__(self, group, plural, kind, namespaced, short=(), categories=(),
                 subresources=("status",), generation=False):
        self.group, self.version = group, "v1"
        self.plural, self.kind, self.namespaced = plural, kind, namespaced
        self.short, self.categories = list(short), list(categories)
        self.subresources = subresources
        self.generation = generation            # metadata.generation tracks spec
        self.api_version = f"{group}/v1" if group else "v1"
        self.qualified = f"{plural}.{group}" if group else plural        # for messages
        self.qualified_kind = f"{kind}.{group}" if group else kind


VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
RESOURCES = [
    Resource("", "namespaces", "Namespace", False, ["ns"]),
    Resource("", "nodes", "Node", False, ["no"]),
    Resource("", "pods", "Pod", True, ["po"], ["all"], ("status", "log")),
    Resource("", "services", "Service", True, ["svc"], ["all"]),
    Resource("", "configmaps", "ConfigMap", True, ["cm"], subresources=()),
    Resource("", "secrets", "Secret", True, subresources=()),
    Resource("", "events", "Event", True, ["ev"], subresources=()),
    Resource("apps", "deployments", "Deployment", True, ["deploy"], ["all"],
             ("status", "scale"), generation=True),
    Resource("apps", "replicasets", "ReplicaSet", True, ["rs"], ["all"],
             ("status", "scale"), generation=True),
]
BY_PATH = {(r.group, r.plural): r for r in RESOURCES}
BY_NAME = {r.plural: r for r in RESOURCES}

# field selectors the real server accepts, besides metadata.name and metadata.namespace
FIELD_LABELS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
             "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion",
               "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
               "reportingComponent", "source", "type"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets": {"status.replicas"},
}

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"     # k8s.io/apimachinery rand.SafeEncodeString


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _rand(n):
    return "".join(random.choice(SAFE_ALPHABET) for _ in range(n))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Loader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: no timestamps, they stay strings."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


# ------------------------------------------------------------------- errors


class ApiError(Exception):
    """A `kind: Status` failure."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        return s


def _details(res, name):
    d = {"name": name} if name else {}
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                    _details(res, name))


def conflict(res, name, why):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {res.qualified} "{name}": {why}',
                    _details(res, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def expired(message):
    return ApiError(410, "Expired", message)


def invalid(res, name, causes):
    """causes: (field, reason, message) with message in the server's words."""
    text = ", ".join(f"{f}: {m}" for f, _, m in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    details = {"name": name, "kind": res.kind,
               "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if res.group:
        details["group"] = res.group
    return ApiError(422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {text}', details)


# ---------------------------------------------------------------- protobuf
#
# kubectl's typed clients (kubectl create namespace/configmap/secret/
# deployment/service) send application/vnd.kubernetes.protobuf: "k8s\0" and
# a runtime.Unknown holding the object.  This decodes the fields those
# commands set (numbers from k8s.io/api's generated.proto); a non-empty field
# outside the table is a 415 naming it, never silently dropped.  Field kinds:
# "s" string, "y" bytes, "b" bool, "i" int (omitted when 0), "i!" int kept
# when 0 (a pointer), "[x" repeated x, "{x" map of string to x, or a message.

_META = (1, ("metadata", "ObjectMeta"))
PROTO = {
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
                   11: ("labels", "{s"), 12: ("annotations", "{s"), 14: ("finalizers", "[s")},
    "Namespace": dict([_META, (2, ("spec", "NamespaceSpec"))]),
    "NamespaceSpec": {1: ("finalizers", "[s")},
    "ConfigMap": dict([_META, (2, ("data", "{s")), (3, ("binaryData", "{y")),
                       (4, ("immutable", "b"))]),
    "Secret": dict([_META, (2, ("data", "{y")), (3, ("type", "s")), (4, ("stringData", "{s")),
                    (5, ("immutable", "b"))]),
    "Service": dict([_META, (2, ("spec", "ServiceSpec"))]),
    "ServiceSpec": {1: ("ports", "[ServicePort"), 2: ("selector", "{s"), 3: ("clusterIP", "s"),
                    4: ("type", "s")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"),
                    4: ("targetPort", "IntOrString"), 5: ("nodePort", "i")},
    "Deployment": dict([_META, (2, ("spec", "DeploymentSpec"))]),
    "DeploymentSpec": {1: ("replicas", "i!"), 2: ("selector", "LabelSelector"),
                       3: ("template", "PodTemplateSpec"), 4: ("strategy", "DeploymentStrategy"),
                       5: ("minReadySeconds", "i"), 6: ("revisionHistoryLimit", "i!"),
                       7: ("paused", "b"), 9: ("progressDeadlineSeconds", "i!")},
    "DeploymentStrategy": {1: ("type", "s"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString"),
                                2: ("maxSurge", "IntOrString")},
    "LabelSelector": {1: ("matchLabels", "{s"), 2: ("matchExpressions",
                                                    "[LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "[s")},
    "PodTemplateSpec": dict([_META, (2, ("spec", "PodSpec"))]),
    "PodSpec": {2: ("containers", "[Container"), 3: ("restartPolicy", "s")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "[s"), 4: ("args", "[s"),
                  5: ("workingDir", "s"), 6: ("ports", "[ContainerPort"), 7: ("env", "[EnvVar"),
                  8: ("resources", "ResourceRequirements"), 13: ("terminationMessagePath", "s"),
                  14: ("imagePullPolicy", "s"), 16: ("stdin", "b"), 17: ("stdinOnce", "b"),
                  18: ("tty", "b"), 20: ("terminationMessagePolicy", "s")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"),
                      4: ("protocol", "s"), 5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "{Quantity"), 2: ("requests", "{Quantity")},
}


def _pb_fields(data):
    """(number, wire type, value) of each field of one message."""
    i = 0
    while i < len(data):
        key, i = _pb_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _pb_varint(data, i)
        elif wire == 2:
            n, i = _pb_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = data[i:i + n], i + n
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, value


def _pb_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            return n, i


def _pb_empty(raw):
    """True for a zero varint, empty bytes, or a message of nothing but those
    (how Go writes the zero value of a struct such as an object's status)."""
    if raw in (0, b""):
        return True
    if isinstance(raw, int):
        return False
    try:
        return all(_pb_empty(v) for _, _, v in _pb_fields(raw))
    except (ValueError, IndexError):
        return False


def _pb_value(kind, wire, raw):
    if kind == "s":
        return raw.decode()
    if kind == "y":
        return base64.b64encode(raw).decode()
    if kind == "b":
        return bool(raw)
    if kind in ("i", "i!"):
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "Quantity":
        return next((v.decode() for n, _, v in _pb_fields(raw) if n == 1), "0")
    if kind == "IntOrString":
        f = {n: v for n, _, v in _pb_fields(raw)}
        return f.get(3, b"").decode() if f.get(1) == 1 else f.get(2, 0)
    return _pb_message(kind, raw)


def _pb_message(kind, data):
    table, out = PROTO[kind], {}
    for num, wire, raw in _pb_fields(data):
        if num not in table:
            if not _pb_empty(raw):
                raise ApiError(415, "UnsupportedMediaType",
                               f"the test peer cannot decode field {num} of {kind} in protobuf; "
                               f"send application/json")
            continue
        name, t = table[num]
        if t.startswith("["):
            out.setdefault(name, []).append(_pb_value(t[1:], wire, raw))
        elif t.startswith("{"):
            f = {n: v for n, _, v in _pb_fields(raw)}
            out.setdefault(name, {})[f.get(1, b"").decode()] = \
                _pb_value(t[1:], 2, f.get(2, b""))
        else:
            v = _pb_value(t, wire, raw)
            if v in ("", 0, False, {}) and t != "i!":
                continue
            out[name] = v
    return out


def _pb_key(num, wire):
    return _pb_uvarint(num << 3 | wire)


def _pb_uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_bytes(num, data):
    data = data.encode() if isinstance(data, str) else data
    return _pb_key(num, 2) + _pb_uvarint(len(data)) + data


def openapi_v2_protobuf(doc):
    """The JSON OpenAPI v2 of _openapi() in gnostic's protobuf form (field
    numbers from gnostic's OpenAPIv2.proto): Document.paths, each PathItem's
    patch Operation with its query parameters and vendor extensions."""
    paths = b""
    for name, item in doc["paths"].items():
        op = item["patch"]
        body = _pb_bytes(5, op["operationId"])                      # operation_id
        for param in op["parameters"]:
            query = (_pb_bytes(2, "query") + _pb_bytes(4, param["name"]) +
                     _pb_bytes(6, "string") + _pb_key(20, 0) + b"\x01")
            non_body = _pb_bytes(3, query)                          # query_parameter_sub_schema
            body += _pb_bytes(8, _pb_bytes(1, _pb_bytes(2, non_body)))
        ok = _pb_bytes(1, _pb_bytes(1, _pb_bytes(1, "OK")))         # ResponseValue.response
        body += _pb_bytes(9, _pb_bytes(1, _pb_bytes(1, "200") + _pb_bytes(2, ok)))
        for ext in ("x-kubernetes-action", "x-kubernetes-group-version-kind"):
            value = yaml.safe_dump(op[ext], default_flow_style=False)
            body += _pb_bytes(13, _pb_bytes(1, ext) + _pb_bytes(2, _pb_bytes(2, value)))
        paths += _pb_bytes(2, _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(8, body)))
    info = _pb_bytes(1, doc["info"]["title"]) + _pb_bytes(2, doc["info"]["version"])
    return (_pb_bytes(1, "2.0") + _pb_bytes(2, info) + _pb_bytes(8, paths) +
            _pb_bytes(9, b""))


def decode_protobuf(body):
    """A kubectl protobuf request body as the JSON object it stands for."""
    if body[:4] != b"k8s\x00":
        raise bad_request("protobuf body without the k8s magic")
    unknown = {n: v for n, _, v in _pb_fields(body[4:])}
    type_meta = {n: v.decode() for n, _, v in _pb_fields(unknown.get(1, b""))}
    kind = type_meta.get(2, "")
    if kind not in PROTO:
        raise ApiError(415, "UnsupportedMediaType", f"the test peer cannot decode {kind} in "
                       f"protobuf; send application/json")
    obj = {"apiVersion": type_meta.get(1, ""), "kind": kind}
    obj.update(_pb_message(kind, unknown.get(2, b"")))
    return obj


# --------------------------------------------------------------- selectors


def _split_selector(text):
    parts, depth, cur = [], 0, ""
    for ch in text:
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


def parse_label_selector(text):
    """A list of predicates over a labels dict; 400 on nonsense."""
    preds = []
    for term in _split_selector(text or ""):
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            key, op = m.group(1), m.group(2)
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                preds.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                preds.append(lambda l, k=key, vs=values: l.get(k) not in vs)
            continue
        m = re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", term)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                preds.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                preds.append(lambda l, k=key, v=value: l.get(k) == v)
            continue
        m = re.fullmatch(r"(!?)([\w./-]+)", term)
        if m:
            if m.group(1):
                preds.append(lambda l, k=m.group(2): k not in l)
            else:
                preds.append(lambda l, k=m.group(2): k in l)
            continue
        raise bad_request(f"unable to parse requirement: {term!r}")
    return preds


def selector_from_label_selector(sel):
    """A metav1.LabelSelector as predicates."""
    preds = []
    for k, v in (sel.get("matchLabels") or {}).items():
        preds.append(lambda l, k=k, v=v: l.get(k) == v)
    for e in sel.get("matchExpressions") or []:
        k, op, vs = e.get("key"), e.get("operator"), set(e.get("values") or [])
        preds.append({
            "In": lambda l, k=k, vs=vs: l.get(k) in vs,
            "NotIn": lambda l, k=k, vs=vs: l.get(k) not in vs,
            "Exists": lambda l, k=k: k in l,
            "DoesNotExist": lambda l, k=k: k not in l,
        }.get(op, lambda l: False))
    return preds


def selector_string(sel):
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, vals = e.get("operator"), ",".join(sorted(e.get("values") or []))
        parts.append({"In": f"{e['key']} in ({vals})", "NotIn": f"{e['key']} notin ({vals})",
                      "Exists": e["key"], "DoesNotExist": "!" + e["key"]}.get(op, ""))
    return ",".join(parts)


def _dig(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def parse_field_selector(text, res):
    preds = []
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(res.plural, set())
    for term in _split_selector(text or ""):
        m = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')

        def get(o, f=field):
            v = _dig(o, f)
            if f == "source" and isinstance(v, dict):
                v = v.get("component")
            if isinstance(v, bool):
                v = "true" if v else "false"
            return "" if v is None else str(v)
        if op == "!=":
            preds.append(lambda o, g=get, v=value: g(o) != v)
        else:
            preds.append(lambda o, g=get, v=value: g(o) == v)
    return preds


# ------------------------------------------------------------------ patches


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


KEYED_LISTS = {"containers": ("name",), "initContainers": ("name",),
               "ephemeralContainers": ("name",), "env": ("name",), "volumes": ("name",),
               "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
               "imagePullSecrets": ("name",), "conditions": ("type",),
               "ownerReferences": ("uid",), "hostAliases": ("ip",)}
SET_LISTS = {"finalizers"}


def list_keys(field, items):
    """The merge keys of a list field, or None when the list is atomic."""
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), None)
        if sample is None:
            return None
        return ("containerPort", "protocol") if "containerPort" in sample else ("port", "protocol")
    return KEYED_LISTS.get(field)


def _key_of(item, keys):
    return {k: item.get(k, "TCP" if k == "protocol" else None) for k in keys}


def _key_token(item, keys):
    return "k:" + json.dumps(_key_of(item, keys), sort_keys=True, separators=(",", ":"))


def _strip_directives(v):
    if isinstance(v, dict):
        return {k: _strip_directives(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_directives(x) for x in v]
    return v


def strategic_merge(target, patch, field=None):
    """Strategic merge patch as kubectl sends it: maps merge, keyed lists
    (containers by name...) merge item by item, other lists are replaced;
    $patch: delete/replace are honoured, other $ directives ignored."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return _strip_directives(patch)
        if patch.get("$patch") == "delete":
            return None
        out = copy.deepcopy(target) if isinstance(target, dict) else {}
        for k, v in patch.items():
            if k.startswith("$"):
                continue
            if v is None:
                out.pop(k, None)
                continue
            cur = out.get(k)
            keys = list_keys(k, (v or []) + (cur or [])) if isinstance(v, list) else None
            if keys and isinstance(cur, list) and all(isinstance(i, dict) for i in v):
                merged = copy.deepcopy(cur)
                for item in v:
                    tok = _key_token(item, keys)
                    idx = next((n for n, c in enumerate(merged)
                                if isinstance(c, dict) and _key_token(c, keys) == tok), None)
                    if item.get("$patch") == "delete":
                        if idx is not None:
                            merged.pop(idx)
                    elif idx is None:
                        merged.append(_strip_directives(item))
                    else:
                        merged[idx] = strategic_merge(merged[idx], item, None)
                out[k] = merged
            else:
                out[k] = strategic_merge(cur, v, k)
        return out
    return _strip_directives(patch)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902."""
    doc = copy.deepcopy(doc)

    def walk(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(path):
        cur = doc
        for p in _pointer(path):
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def add(path, value):
        parent, last = walk(_pointer(path))
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), value)
        else:
            parent[last] = value

    def remove(path):
        parent, last = walk(_pointer(path))
        return parent.pop(int(last) if isinstance(parent, list) else last)

    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            add(path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            remove(path)
        elif kind == "replace":
            remove(path)
            add(path, copy.deepcopy(op["value"]))
        elif kind == "move":
            add(path, remove(op["from"]))
        elif kind == "copy":
            add(path, copy.deepcopy(get(op["from"])))
        elif kind == "test":
            if get(path) != op.get("value"):
                raise ValueError(f"testing value {path} failed")
        else:
            raise ValueError(f"unexpected kind of operation {kind!r}")
    return doc


# ------------------------------------------------- server-side apply fields
#
# A field set is a set of paths; a path is a tuple of FieldsV1 tokens:
# "f:<field>", 'k:{"name":"app"}' (an item of a keyed list), 'v:"x"' (an
# item of a set), "." (the keyed item itself).  managedFields stores them
# as nested FieldsV1 maps and is the only record of ownership.

UNMANAGED_META = {"name", "namespace", "uid", "resourceVersion", "generation",
                  "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "managedFields", "selfLink", "generateName"}


def managed_view(obj, part="main"):
    """The part of an object whose fields managers own."""
    if part == "status":
        return {"status": obj["status"]} if obj.get("status") else {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in UNMANAGED_META}
    if meta:
        out["metadata"] = meta
    else:
        out.pop("metadata", None)
    return out


def field_paths(obj, prefix=()):
    out = set()
    for k, v in obj.items():
        p = prefix + ("f:" + k,)
        if isinstance(v, dict) and v:
            out |= field_paths(v, p)
        elif isinstance(v, list) and v and list_keys(k, v) and all(isinstance(i, dict) for i in v):
            keys = list_keys(k, v)
            for item in v:
                ip = p + (_key_token(item, keys),)
                out.add(ip + (".",))
                out |= field_paths(item, ip)
        elif isinstance(v, list) and v and k in SET_LISTS:
            for x in v:
                out.add(p + ("v:" + json.dumps(x),))
        else:
            out.add(p)
    return out


MISSING = object()


def value_at(obj, path):
    cur = obj
    for tok in path:
        if tok == ".":
            return cur
        if tok.startswith("f:"):
            if not isinstance(cur, dict) or tok[2:] not in cur:
                return MISSING
            cur = cur[tok[2:]]
        elif tok.startswith("k:"):
            want = json.loads(tok[2:])
            if not isinstance(cur, list):
                return MISSING
            cur = next((i for i in cur if isinstance(i, dict)
                        and _key_of(i, tuple(want)) == want), MISSING)
            if cur is MISSING:
                return MISSING
        elif tok.startswith("v:"):
            want = json.loads(tok[2:])
            return want if isinstance(cur, list) and want in cur else MISSING
    return cur


def remove_path(obj, path):
    """Remove the field a path names from obj (in place), if it is there."""
    if path[-1] == ".":
        lst = value_at(obj, path[:-2])
        if isinstance(lst, list):
            want = json.loads(path[-2][2:])
            lst[:] = [i for i in lst if not (isinstance(i, dict)
                                              and _key_of(i, tuple(want)) == want)]
        return
    parent = value_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("v:") and isinstance(parent, list):
        v = json.loads(last[2:])
        if v in parent:
            parent.remove(v)


def path_string(path):
    out = ""
    for tok in path:
        if tok == ".":
            continue
        if tok.startswith("f:"):
            out += "." + tok[2:]
        elif tok.startswith("k:"):
            want = json.loads(tok[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(want.items())) + "]"
        elif tok.startswith("v:"):
            out += "[=" + tok[2:] + "]"
    return out


def fields_v1(paths):
    tree = {}
    for p in paths:
        node = tree
        for tok in p:
            node = node.setdefault(tok, {})
    return tree


def paths_of_fields_v1(tree, prefix=()):
    out = set()
    for tok, sub in (tree or {}).items():
        p = prefix + (tok,)
        if sub:
            out |= paths_of_fields_v1(sub, p)
        else:
            out.add(p)
    return out


def apply_merge(cur, cfg, field=None):
    if isinstance(cfg, dict):
        out = copy.deepcopy(cur) if isinstance(cur, dict) else {}
        for k, v in cfg.items():
            out[k] = apply_merge(out.get(k), v, k)
        return out
    if isinstance(cfg, list) and isinstance(cur, list):
        keys = list_keys(field, cfg + cur)
        if keys and all(isinstance(i, dict) for i in cfg + cur):
            by_key = {_key_token(i, keys): i for i in cur}
            out, used = [], set()
            for item in cfg:
                tok = _key_token(item, keys)
                used.add(tok)
                out.append(apply_merge(by_key.get(tok), item))
            return out + [copy.deepcopy(i) for i in cur if _key_token(i, keys) not in used]
        if field in SET_LISTS:
            return copy.deepcopy(cfg) + [x for x in cur if x not in cfg]
    return copy.deepcopy(cfg)


def drop_nulls(v):
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def manager_label(entry):
    """How the real server names a manager in a conflict."""
    s = json.dumps(entry["manager"])
    if entry.get("subresource"):
        s += f' with subresource "{entry["subresource"]}"'
    if entry.get("operation") == "Update":
        s += f' using {entry.get("apiVersion")}'
    return s


# ---------------------------------------------------------------- quantities

_SUFFIX = {"": 1, "n": fractions.Fraction(1, 10**9), "u": fractions.Fraction(1, 10**6),
           "m": fractions.Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60}


def quantity(v):
    """A resource.Quantity as a Fraction, or None when it is not one."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return fractions.Fraction(v)
    m = re.fullmatch(r"([+-]?(?:\d+\.?\d*|\.\d+))"
                     r"(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)", str(v).strip())
    if not m:
        return None
    num = fractions.Fraction(m.group(1))
    if m.group(2):
        return num * fractions.Fraction(10) ** int(m.group(2)[1:])
    return num * _SUFFIX[m.group(3) or ""]


def is_extended(name):
    return "/" in name and not name.startswith("kubernetes.io/") \
        and not name.startswith("requests.")


# ------------------------------------------------------------- validation

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
             "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
             "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
               "start with an alphabetic character, and end with an alphanumeric character "
               "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                   "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def _gostr(v):
    return json.dumps(v)


def validate(res, obj, old=None):
    """The causes of a 422, in the server's words (field, reason, message)."""
    errs = []
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    if res.plural in ("namespaces",):
        if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
            errs.append(("metadata.name", "FieldValueInvalid",
                         f"Invalid value: {_gostr(name)}: {LABEL_MSG}"))
    elif res.plural == "services":
        if len(name) > 63 or not DNS1035_LABEL.fullmatch(name):
            errs.append(("metadata.name", "FieldValueInvalid",
                         f"Invalid value: {_gostr(name)}: {DNS1035_MSG}"))
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
        errs.append(("metadata.name", "FieldValueInvalid",
                     f"Invalid value: {_gostr(name)}: {SUBDOMAIN_MSG}"))
    for k, v in (meta.get("labels") or {}).items():
        if not QUALIFIED_NAME.fullmatch(k) or len(k.split("/")[-1]) > 63:
            errs.append(("metadata.labels", "FieldValueInvalid",
                         f"Invalid value: {_gostr(k)}: name part must consist of alphanumeric "
                         "characters, '-', '_' or '.', and must start and end with an "
                         "alphanumeric character"))
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.fullmatch(v):
            errs.append(("metadata.labels", "FieldValueInvalid",
                         f"Invalid value: {_gostr(v)}: " +
                         ("must be no more than 63 characters" if isinstance(v, str)
                          and len(v) > 63 else LABEL_VALUE_MSG)))
    for k, v in (meta.get("annotations") or {}).items():
        if not isinstance(v, str):
            raise bad_request(f"json: cannot unmarshal {type(v).__name__} into Go struct "
                              f"field ObjectMeta.metadata.annotations of type string")
    if res.plural == "deployments":
        spec = obj.get("spec") or {}
        if not isinstance(spec.get("replicas", 1), int) or spec.get("replicas", 1) < 0:
            errs.append(("spec.replicas", "FieldValueInvalid",
                         f"Invalid value: {spec.get('replicas')}: must be greater than or "
                         "equal to 0"))
        sel = spec.get("selector")
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            errs.append(("spec.selector", "FieldValueRequired", "Required value"))
        else:
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not all(p(labels) for p in selector_from_label_selector(sel)):
                shown = "{" + ", ".join(f'{json.dumps(k)}:{json.dumps(v)}'
                                        for k, v in sorted(labels.items())) + "}"
                errs.append(("spec.template.metadata.labels", "FieldValueInvalid",
                             f"Invalid value: map[string]string{shown}: `selector` does not "
                             "match template `labels`"))
            if old is not None and (old.get("spec") or {}).get("selector") != sel:
                errs.append(("spec.selector", "FieldValueInvalid",
                             f"Invalid value: v1.LabelSelector{{MatchLabels:map[string]string"
                             f"{json.dumps(sel.get('matchLabels') or {})}, "
                             "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
                             "field is immutable"))
        errs += _validate_pod_spec(((spec.get("template") or {}).get("spec")),
                                   "spec.template.spec")
    elif res.plural == "pods":
        errs += _validate_pod_spec(obj.get("spec"), "spec")
    elif res.plural == "services":
        spec = obj.get("spec") or {}
        if spec.get("type", "ClusterIP") != "ExternalName" and not spec.get("ports") \
                and spec.get("clusterIP") != "None":
            errs.append(("spec.ports", "FieldValueRequired", "Required value"))
        for i, p in enumerate(spec.get("ports") or []):
            port = p.get("port")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                errs.append((f"spec.ports[{i}].port", "FieldValueInvalid",
                             f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
    elif res.plural == "secrets":
        total = 0
        for k, v in (obj.get("data") or {}).items():
            try:
                total += len(base64.b64decode(v, validate=True))
            except (ValueError, TypeError):
                raise bad_request("Secret in version \"v1\" cannot be handled as a Secret: "
                                  "illegal base64 data at input byte 0")
        if total > 1048576:
            errs.append(("data", "FieldValueTooLong", "Too long: must have at most 1048576 bytes"))
    elif res.plural == "configmaps":
        size = sum(len(str(v)) for v in (obj.get("data") or {}).values())
        if size > 1048576:
            errs.append(("[]", "FieldValueTooLong", "Too long: must have at most 1048576 bytes"))
    return errs


def _validate_pod_spec(spec, at):
    errs = []
    if not spec or not spec.get("containers"):
        return [(f"{at}.containers", "FieldValueRequired", "Required value")]
    names = set()
    for i, c in enumerate(spec["containers"]):
        here = f"{at}.containers[{i}]"
        if not c.get("name"):
            errs.append((f"{here}.name", "FieldValueRequired", "Required value"))
        elif c["name"] in names:
            errs.append((f"{here}.name", "FieldValueDuplicate",
                         f"Duplicate value: {_gostr(c['name'])}"))
        names.add(c.get("name"))
        if not c.get("image"):
            errs.append((f"{here}.image", "FieldValueRequired", "Required value"))
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for rname, q in (res.get(kind) or {}).items():
                value = quantity(q)
                where = f"{here}.resources.{kind}[{rname}]"
                if value is None:
                    errs.append((where, "FieldValueInvalid",
                                 f"Invalid value: {_gostr(q)}: must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
                elif value < 0:
                    errs.append((where, "FieldValueInvalid",
                                 f"Invalid value: {_gostr(q)}: must be greater than or equal to 0"))
                elif is_extended(rname) and value.denominator != 1:
                    errs.append((where, "FieldValueInvalid",
                                 f"Invalid value: {_gostr(q)}: must be an integer"))
        for rname, q in (res.get("requests") or {}).items():
            lim = (res.get("limits") or {}).get(rname)
            if is_extended(rname) and quantity(q) is not None and \
                    (lim is None or quantity(lim) != quantity(q)):
                errs.append((f"{here}.resources.requests[{rname}]", "FieldValueInvalid",
                             f"Invalid value: {_gostr(q)}: must be equal to {rname} limit of "
                             f"{lim if lim is not None else 0}"))
            elif lim is not None and quantity(q) is not None and quantity(lim) is not None \
                    and quantity(q) > quantity(lim):
                errs.append((f"{here}.resources.requests", "FieldValueInvalid",
                             f"Invalid value: {_gostr(q)}: must be less than or equal to "
                             f"{rname} limit of {lim}"))
    return errs


# ---------------------------------------------------------------- defaults


def _image_pull_policy(image):
    ref = image.split("@")[0]
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else ""
    return "Always" if (tag in ("", "latest") and "@" not in image) else "IfNotPresent"


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        if c.get("image"):
            c.setdefault("imagePullPolicy", _image_pull_policy(c["image"]))
        r = c.setdefault("resources", {})
        for rname, q in (r.get("limits") or {}).items():     # requests default to limits
            r.setdefault("requests", {}).setdefault(rname, q)
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")


def apply_defaults(res, obj, peer):
    meta = obj["metadata"]
    if res.plural == "namespaces":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif res.plural == "deployments":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxSurge", "25%")
            ru.setdefault("maxUnavailable", "25%")
        default_pod_spec((spec.get("template") or {}).get("spec"))
    elif res.plural == "replicasets":
        default_pod_spec(((obj.get("spec") or {}).get("template") or {}).get("spec"))
    elif res.plural == "pods":
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tol = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tol):
                tol.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": 300})
        obj.setdefault("status", {}).setdefault("phase", "Pending")
        obj["status"].setdefault("qosClass", "BestEffort")
    elif res.plural == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if "clusterIP" not in spec:
            spec["clusterIP"] = peer._next_cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif res.plural == "secrets":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif res.plural == "events":
        obj.setdefault("type", "Normal")


# ------------------------------------------------------------------ tables
#
# kubectl asks for `as=Table` and prints the server's columns; these are the
# real server's default columns (priority 1 ones show with -o wide).


def _age(stamp):
    if not stamp:
        return "<unknown>"
    s = max(0, int(time.time() - time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
                   + time.mktime(time.gmtime(0))))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    return f"{d}d{h % 24}h" if d < 8 and h % 24 else f"{d}d"


def _pod_cells(o):
    st, spec = o.get("status") or {}, o.get("spec") or {}
    cs = st.get("containerStatuses") or []
    ready = sum(1 for c in cs if c.get("ready"))
    reason = st.get("reason") or st.get("phase") or "Unknown"
    for c in cs:
        w = (c.get("state") or {}).get("waiting")
        if w and w.get("reason"):
            reason = w["reason"]
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [f"{ready}/{len(spec.get('containers') or [])}", reason,
            sum(c.get("restartCount", 0) for c in cs), _age(o["metadata"].get("creationTimestamp")),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>", "<none>", "<none>"]


def _containers(o):
    cs = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


TABLES = {
    "pods": (["Ready:string", "Status:string", "Restarts:integer", "Age:string",
              "IP:string:1", "Node:string:1", "Nominated Node:string:1",
              "Readiness Gates:string:1"], _pod_cells),
    "deployments": (["Ready:string", "Up-to-date:integer", "Available:integer", "Age:string",
                     "Containers:string:1", "Images:string:1", "Selector:string:1"],
                    lambda o: [f"{o.get('status', {}).get('readyReplicas', 0)}/"
                               f"{o['spec'].get('replicas', 1)}",
                               o.get("status", {}).get("updatedReplicas", 0),
                               o.get("status", {}).get("availableReplicas", 0),
                               _age(o["metadata"].get("creationTimestamp")), *_containers(o),
                               selector_string(o["spec"].get("selector") or {})]),
    "replicasets": (["Desired:integer", "Current:integer", "Ready:integer", "Age:string",
                     "Containers:string:1", "Images:string:1", "Selector:string:1"],
                    lambda o: [o["spec"].get("replicas", 1),
                               o.get("status", {}).get("replicas", 0),
                               o.get("status", {}).get("readyReplicas", 0),
                               _age(o["metadata"].get("creationTimestamp")), *_containers(o),
                               selector_string(o["spec"].get("selector") or {})]),
    "nodes": (["Status:string", "Roles:string", "Age:string", "Version:string",
               "Internal-IP:string:1", "External-IP:string:1", "OS-Image:string:1",
               "Kernel-Version:string:1", "Container-Runtime:string:1"],
              lambda o: [",".join(["Ready" if any(c.get("type") == "Ready" and
                                                  c.get("status") == "True" for c in
                                                  o["status"].get("conditions") or [])
                                   else "NotReady"] +
                                  (["SchedulingDisabled"] if o["spec"].get("unschedulable")
                                   else [])),
                         "<none>", _age(o["metadata"].get("creationTimestamp")),
                         o["status"].get("nodeInfo", {}).get("kubeletVersion", ""),
                         next((a["address"] for a in o["status"].get("addresses") or []
                               if a["type"] == "InternalIP"), "<none>"), "<none>",
                         o["status"].get("nodeInfo", {}).get("osImage", ""),
                         o["status"].get("nodeInfo", {}).get("kernelVersion", ""),
                         o["status"].get("nodeInfo", {}).get("containerRuntimeVersion", "")]),
    "services": (["Type:string", "Cluster-IP:string", "External-IP:string", "Port(s):string",
                  "Age:string", "Selector:string:1"],
                 lambda o: [o["spec"].get("type", "ClusterIP"), o["spec"].get("clusterIP", ""),
                            "<none>", ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}"
                                               for p in o["spec"].get("ports") or []) or "<none>",
                            _age(o["metadata"].get("creationTimestamp")),
                            ",".join(f"{k}={v}" for k, v in sorted(
                                (o["spec"].get("selector") or {}).items())) or "<none>"]),
    "namespaces": (["Status:string", "Age:string"],
                   lambda o: [o.get("status", {}).get("phase", "Active"),
                              _age(o["metadata"].get("creationTimestamp"))]),
    "secrets": (["Type:string", "Data:string", "Age:string"],
                lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}),
                           _age(o["metadata"].get("creationTimestamp"))]),
    "configmaps": (["Data:string", "Age:string"],
                   lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                              _age(o["metadata"].get("creationTimestamp"))]),
    "events": (["Last Seen:string", "Type:string", "Reason:string", "Object:string",
                "Subobject:string:1", "Source:string:1", "Message:string",
                "First Seen:string:1", "Count:string:1"],
               lambda o: [_age(o.get("lastTimestamp")), o.get("type", ""), o.get("reason", ""),
                          f"{o['involvedObject'].get('kind', '').lower()}/"
                          f"{o['involvedObject'].get('name', '')}",
                          o["involvedObject"].get("fieldPath", ""),
                          (o.get("source") or {}).get("component", ""), o.get("message", ""),
                          _age(o.get("firstTimestamp")), str(o.get("count", 1))]),
}


def to_table(res, objs, list_meta, include="Metadata"):
    """A meta.k8s.io/v1 Table of objs, as `kubectl get` asks for."""
    columns, cells = TABLES.get(res.plural, ([], lambda o: []))
    defs = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace."}]
    for c in columns:
        name, kind, *prio = c.split(":")
        defs.append({"name": name, "type": kind, "format": "", "description": name,
                     "priority": int(prio[0]) if prio else 0})
    if res.plural == "events":
        defs = defs[1:]
    rows = []
    for o in objs:
        row = {"cells": ([] if res.plural == "events" else [o["metadata"]["name"]]) + cells(o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": defs, "rows": rows}


# -------------------------------------------------------------------- peer


class KubernetesPeer:
    def __init__(self, tokens=("cloister-test-token",), version="v1.32.4", tick=0.05,
                 observe_delay=0.1, deadline_scale=0.05, history=1000, seed_namespaces=True):
        self.dir = tempfile.mkdtemp(prefix="cl-kube-")
        self.check_token = None         # a callable: token -> user name or None
        if callable(tokens):            # e.g. Entra tokens through AzurePeer.token_info
            self.check_token, self.tokens = tokens, {}
        elif isinstance(tokens, dict):
            self.tokens = dict(tokens)
        else:
            self.tokens = {t: "cloister" for t in tokens}
        self.token = next(iter(self.tokens), None)
        self.version = version
        self.tick, self.observe_delay, self.deadline_scale = tick, observe_delay, deadline_scale
        self.history_limit = history

        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects = {}               # (group, plural, namespace, name) -> object
        self.history = []               # dicts: rv, type, key, object, old
        self.rv = 100
        self.compacted = self.rv        # a watch from rv < compacted is 410 Expired
        self.watch_epoch = 0            # expire_watches() bumps it
        self.closed = False

        self.requests = collections.Counter()       # (method, path) -> count
        self.log = []                   # dict per request: method, path, query, status, user...
        self.applied = {}               # (plural, namespace, name) -> last apply body
        self.pod_logs = {}              # (namespace, pod) -> text for pods/{name}/log
        self._knobs = {"throttle": [], "fail": [], "drop": [], "stall": []}
        self._forbidden = []            # (verb, resource, namespace or None)
        self._expire_next = 0
        self._failures = []             # dicts: name, namespace, image, mode
        self.controller_paused = False
        self._ip = 0
        self._seen = {}                 # deployment uid -> (generation, first seen)
        self._progress = {}             # deployment uid -> time of last progress
        self._pod_failure = {}          # pod uid -> failure mode it was made with
        self._terminating = {}          # namespace uid -> when it was first seen deleted
        self.namespace_delay = 0.3      # seconds a deleted namespace stays Terminating
        self._local = threading.local()  # the handler serving this thread's request

        self._make_tls()
        if seed_namespaces:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self.put_object({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": ns}})
        self._conns = set()
        self.port = _free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.server = _Server(("127.0.0.1", self.port), _Handler)
        self.server.peer = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self._controller = threading.Thread(target=self._control_loop, daemon=True)
        self._controller.start()

    # ------------------------------------------------------------ setup

    def _make_tls(self):
        d = self.dir
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[req]\ndistinguished_name = dn\nprompt = no\n"
                    "[dn]\nCN = cloister-test-kubernetes-ca\n"
                    "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
                    "keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n"
                    "subjectKeyIdentifier = hash\n")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("basicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
                    "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
                    "authorityKeyIdentifier = keyid\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        def run(*args):
            subprocess.run(args, check=True, capture_output=True, cwd=d)
        run("openssl", "req", "-x509", "-new", "-config", "ca.cnf", "-extensions", "v3_ca",
            *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7")
        run("openssl", "req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=kube-apiserver")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-set_serial", str(random.getrandbits(63)), "-out", "server.crt", "-days", "7",
            "-extfile", "server.ext")
        self.ca_pem = os.path.join(d, "ca.crt")
        self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))

    def kubeconfig(self, path, token=None, namespace="default"):
        """Write a kubeconfig for this server (CA inline, bearer token)."""
        with open(path, "w") as f:
            f.write(self.kubeconfig_text(token, namespace))
        os.chmod(path, 0o600)
        return path

    def kubeconfig_text(self, token=None, namespace="default"):
        """The kubeconfig as text (for the Azure peer's set_kubeconfig)."""
        token = self.token if token is None else token
        with open(self.ca_pem, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        return (
            "apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: cloister-test\n  cluster:\n"
            f"    server: {self.url}\n    certificate-authority-data: {ca}\n"
            "users:\n- name: cloister-test\n  user:\n"
            f"    token: {json.dumps(token)}\n"
            "contexts:\n- name: cloister-test\n  context:\n"
            f"    cluster: cloister-test\n    user: cloister-test\n    namespace: {namespace}\n"
            "current-context: cloister-test\n")

    def close(self):
        with self.lock:
            self.closed = True
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._controller.join(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ knobs

    def throttle(self, n, retry_after=1, method=None, path=None):
        """429 Too Many Requests with Retry-After for the next n matching requests."""
        self._knobs["throttle"].append({"n": n, "retry_after": retry_after,
                                        "method": method, "path": path})

    def fail(self, n, code=500, method=None, path=None):
        """A 5xx Status for the next n matching requests."""
        self._knobs["fail"].append({"n": n, "code": code, "method": method, "path": path})

    def drop(self, n, partial=False, method=None, path=None):
        """Close the connection of the next n matching requests without an
        answer (reset), or after the status line and half the headers."""
        self._knobs["drop"].append({"n": n, "partial": partial, "method": method,
                                    "path": path})

    def reset_knobs(self):
        """Forget every throttle, failure, drop and stall still pending."""
        with self.lock:
            for pending in self._knobs.values():
                pending.clear()

    def stall(self, n, seconds, method=None, path=None):
        """Hold the next n matching requests `seconds` before answering them."""
        self._knobs["stall"].append({"n": n, "seconds": seconds, "method": method,
                                     "path": path})

    def forbid(self, verb, resource, namespace=None):
        """403 for verb ("get", "list", "watch", "create", "update", "patch",
        "delete", "deletecollection") on resource ("deployments",
        "deployments/scale"), in namespace or all."""
        self._forbidden.append((verb, resource, namespace))

    def allow(self, verb, resource, namespace=None):
        self._forbidden.remove((verb, resource, namespace))

    def expire_next_watch(self, n=1):
        """The next n watches answer 410 Expired (an ERROR event) at once."""
        with self.lock:
            self._expire_next += n

    def expire_watches(self):
        """Every open watch gets an ERROR 410 event and ends."""
        with self.lock:
            self.watch_epoch += 1
            self.changed.notify_all()

    def compact(self):
        """Forget the history: every older resourceVersion or continue token is 410."""
        with self.lock:
            self.history.clear()
            self.compacted = self.rv

    def fail_deployment(self, name, mode, namespace=None, image=None):
        """Make rollouts of deployment name fail: mode "stuck" (no pods are
        made), "image-pull" (ErrImagePull / ImagePullBackOff), "crash-loop"
        (CrashLoopBackOff) or "unschedulable" (FailedScheduling on
        sgx.intel.com/epc).  With image, only templates using that image fail,
        so a rollback to another image succeeds."""
        if mode not in ("stuck", "image-pull", "crash-loop", "unschedulable"):
            raise ValueError(f"unknown failure mode {mode!r}")
        with self.lock:
            self._failures.append({"name": name, "namespace": namespace, "image": image,
                                   "mode": mode})

    def clear_failures(self):
        with self.lock:
            self._failures.clear()

    def pause_controller(self):
        self.controller_paused = True

    def resume_controller(self):
        self.controller_paused = False

    # -------------------------------------------------- direct access

    def count(self, method=None, path=None):
        """Requests seen, by method and/or path (exact, or a prefix ending in '*')."""
        total = 0
        for (m, p), n in self.requests.items():
            if method and m != method:
                continue
            if path and not (p == path or (path.endswith("*") and p.startswith(path[:-1]))):
                continue
            total += n
        return total

    def get(self, plural, name, namespace=None):
        res = BY_NAME[plural]
        with self.lock:
            obj = self.objects.get(self._key(res, namespace, name))
            return copy.deepcopy(obj)

    def list(self, plural, namespace=None):
        res = BY_NAME[plural]
        with self.lock:
            return [copy.deepcopy(o) for k, o in sorted(self.objects.items())
                    if k[1] == res.plural and (namespace is None or k[2] == namespace)]

    def last_applied(self, plural, name, namespace="default"):
        return self.applied.get((plural, "" if not BY_NAME[plural].namespaced else namespace,
                                 name))

    def put_object(self, obj):
        """Create (or replace) an object as the test's own fixture."""
        res = next(r for r in RESOURCES if r.kind == obj["kind"])
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "default") if res.namespaced else ""
        if res.namespaced:
            meta["namespace"] = ns
        with self.lock:
            old = self.objects.get(self._key(res, ns, meta["name"]))
            return self._store(res, obj, old, manager=("cloister-test", "Update", ""))

    def delete_object(self, plural, name, namespace=None):
        res = BY_NAME[plural]
        with self.lock:
            key = self._key(res, namespace or ("default" if res.namespaced else ""), name)
            if key in self.objects:
                self._remove(res, key)

    def add_aks_sgx_pool(self, count, pool="sgxpool", epc_mib=8192):
        """Nodes of an AKS SGX pool as AKS makes them: aks-<pool>-1..count,
        labelled agentpool=<pool>, advertising the add-on's EPC in MiB, and
        tainted sgx=true:NoSchedule as Cloister's pool is."""
        for i in range(1, count + 1):
            self.add_node(f"aks-{pool}-{i}", labels={"agentpool": pool},
                          allocatable={"kubernetes.azure.com/sgx_epc_mem_in_MiB": str(epc_mib)},
                          taints=[{"key": "sgx", "value": "true", "effect": "NoSchedule"}])

    def add_node(self, name, labels=None, allocatable=None, taints=None, unschedulable=False):
        """A Ready node.  allocatable: e.g. {"sgx.intel.com/epc": "8Gi"}; cpu,
        memory and pods get roomy defaults."""
        alloc = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        alloc.update(allocatable or {})
        node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                       "beta.kubernetes.io/arch": "amd64"}
        node_labels.update(labels or {})
        self._ip += 1
        obj = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": node_labels},
               "spec": {"taints": taints or [], "unschedulable": unschedulable},
               "status": {"capacity": dict(alloc), "allocatable": alloc,
                          "addresses": [{"type": "InternalIP", "address": f"10.224.0.{self._ip}"},
                                        {"type": "Hostname", "address": name}],
                          "conditions": [{"type": "Ready", "status": "True",
                                          "reason": "KubeletReady",
                                          "message": "kubelet is posting ready status",
                                          "lastHeartbeatTime": _now(),
                                          "lastTransitionTime": _now()}],
                          "nodeInfo": {"kubeletVersion": self.version,
                                       "containerRuntimeVersion": "containerd://1.7.20",
                                       "operatingSystem": "linux", "architecture": "amd64",
                                       "osImage": "Ubuntu 22.04.5 LTS",
                                       "kernelVersion": "5.15.0-1074-azure"}}}
        if not taints:
            del obj["spec"]["taints"]
        if not unschedulable:
            del obj["spec"]["unschedulable"]
        return self.put_object(obj)

    # ------------------------------------------------------------ store

    @staticmethod
    def _key(res, namespace, name):
        return (res.group, res.plural, namespace if res.namespaced else "", name)

    def _next_cluster_ip(self):
        self._ip += 1
        return f"10.0.{(self._ip >> 8) & 255}.{self._ip & 255 or 1}"

    def _commit(self, res, kind, key, obj, old):
        """Record a change: new resourceVersion, history entry, wake watches."""
        self.rv += 1
        if obj is not None:
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[key] = obj
        else:
            obj = copy.deepcopy(old)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objects.pop(key, None)
        self.history.append({"rv": self.rv, "type": kind, "key": key,
                             "object": copy.deepcopy(obj),
                             "old": copy.deepcopy(old) if old is not None else None})
        while len(self.history) > self.history_limit:
            self.compacted = self.history.pop(0)["rv"]
        self.changed.notify_all()
        return obj

    def _store(self, res, obj, old, manager, part="main", dry_run=False):
        """Write obj (a full object) over old (or create it): system
        metadata, defaults, validation, generation, managedFields.  manager:
        (name, operation, subresource); an Apply's managedFields are already
        set by the caller.  Returns the stored object; unchanged objects are
        not written again."""
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if old is None:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + _rand(5)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            for k in ("resourceVersion", "deletionTimestamp", "generation"):
                meta.pop(k, None)
            if res.generation:
                meta["generation"] = 1
        else:
            om = old["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "generation", "name",
                      "namespace"):
                if k in om:
                    meta[k] = om[k]
                else:
                    meta.pop(k, None)
        for k in [k for k, v in meta.items() if v in (None, {}, []) and k != "managedFields"]:
            del meta[k]
        apply_defaults(res, obj, self)
        errs = validate(res, obj, old)
        if errs:
            raise invalid(res, meta.get("name", ""), errs)
        if old is not None and res.generation:
            def spec(o):
                return {k: v for k, v in o.items()
                        if k not in ("metadata", "status", "apiVersion", "kind")}
            if spec(old) != spec(obj):
                meta["generation"] = old["metadata"].get("generation", 0) + 1
        if manager[1] == "Update":
            self._record_update(obj, old, manager, part)
        for e in meta.get("managedFields") or []:
            e.setdefault("time", _now())
        if old is not None:
            a = copy.deepcopy(obj)
            b = copy.deepcopy(old)
            for o in (a, b):
                o["metadata"].pop("resourceVersion", None)
                for e in o["metadata"].get("managedFields") or []:
                    e.pop("time", None)
            if a == b:
                return old
        if dry_run:
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] if old else ""
            return obj
        kind = "ADDED" if old is None else "MODIFIED"
        key = self._key(res, meta.get("namespace", ""), meta["name"])
        return self._commit(res, kind, key, obj, old)

    def _record_update(self, obj, old, manager, part):
        """An Update operation owns the fields it changed, and takes them from
        the other managers."""
        name, _, sub = manager
        new_paths = field_paths(managed_view(obj, part))
        old_view = managed_view(old, part) if old else {}
        old_paths = field_paths(old_view)
        changed = {p for p in new_paths if p not in old_paths or
                   (p[-1] != "." and value_at(old_view, p) != value_at(managed_view(obj, part), p))}
        removed = old_paths - new_paths
        if not changed and not removed:
            return
        entries = obj["metadata"].get("managedFields") or []
        out, mine = [], None
        for e in entries:
            paths = paths_of_fields_v1(e.get("fieldsV1"))
            if e.get("manager") == name and e.get("operation") == "Update" and \
                    e.get("subresource", "") == sub:
                mine = paths
                continue
            left = paths - changed - removed
            if left != paths:
                e = dict(e, fieldsV1=fields_v1(left))
            if left:
                out.append(e)
        mine = ((mine or set()) - removed) | changed
        if mine:
            entry = {"manager": name, "operation": "Update", "apiVersion": obj["apiVersion"],
                     "time": _now(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(mine)}
            if sub:
                entry["subresource"] = sub
            out.append(entry)
        obj["metadata"]["managedFields"] = out

    def _remove(self, res, key):
        old = self.objects[key]
        return self._commit(res, "DELETED", key, None, old)

    # -------------------------------------------------------- requests

    def _take_knob(self, kind, method, path):
        for k in self._knobs[kind]:
            if k["n"] > 0 and (k["method"] in (None, method)) and \
                    (k["path"] is None or k["path"] in path):
                k["n"] -= 1
                return k
        return None

    def _check_forbidden(self, user, verb, res, sub, ns, name):
        resource = res.plural + ("/" + sub if sub else "")
        for v, r, n in self._forbidden:
            if v == verb and r == resource and n in (None, ns):
                what = f'{res.qualified} "{name}"' if name else res.qualified
                where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
                raise ApiError(403, "Forbidden",
                               f'{what} is forbidden: User "{user}" cannot {verb} resource '
                               f'"{resource}" in API group "{res.group}"{where}',
                               _details(res, name))

    def handle(self, h, method):
        """Serve one request on handler h."""
        url = urllib.parse.urlsplit(h.path)
        path = url.path
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query,
                                                           keep_blank_values=True).items()}
        body = h.read_body()
        entry = {"method": method, "path": path, "query": query, "status": None,
                 "content_type": h.headers.get("Content-Type"),
                 "user_agent": h.headers.get("User-Agent"), "body": body}
        with self.lock:
            self.requests[(method, path)] += 1
            self.log.append(entry)
            drop = self._take_knob("drop", method, path)
            throttle = None if drop else self._take_knob("throttle", method, path)
            failure = None if drop or throttle else self._take_knob("fail", method, path)
            stall = self._take_knob("stall", method, path)
        if stall:
            time.sleep(stall["seconds"])
        if drop:
            entry["status"] = "dropped"
            h.drop(drop["partial"])
            return
        try:
            if throttle:
                raise ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": throttle["retry_after"]},
                               {"Retry-After": str(throttle["retry_after"])})
            if failure:
                code = failure["code"]
                if code == 503:
                    raise ApiError(503, "ServiceUnavailable", "the server is currently unable to "
                                   "handle the request")
                if code == 504:
                    raise ApiError(504, "Timeout", "the server was unable to return a response "
                                   "in the time allotted, but may still be processing the request")
                raise ApiError(code, "InternalError", "Internal error occurred: injected failure",
                               {"causes": [{"message": "injected failure"}]})
            user = self._authenticate(h, path)
            entry["user"] = user
            self._route(h, method, path, query, body, user, entry)
        except ApiError as e:
            entry["status"] = e.code
            h.send_json(e.code, e.status(), e.headers)

    def _authenticate(self, h, path):
        auth = h.headers.get("Authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            token = token.strip()
            user = self.tokens.get(token) if scheme.lower() == "bearer" else None
            if user is None and self.check_token and scheme.lower() == "bearer":
                user = self.check_token(token)
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return user
        if path in ("/version", "/healthz", "/livez", "/readyz") or path.startswith("/version/"):
            return "system:anonymous"
        raise ApiError(403, "Forbidden",
                       f'forbidden: User "system:anonymous" cannot get path "{path}"', {})

    def _route(self, h, method, path, query, body, user, entry):
        def ok(obj, code=200):
            entry["status"] = code
            h.send_json(code, obj)

        if path in ("/healthz", "/livez", "/readyz"):
            entry["status"] = 200
            return h.send_text(200, "ok")
        if path == "/version":
            major, minor = self.version.lstrip("v").split(".")[:2]
            return ok({"major": major, "minor": minor, "gitVersion": self.version,
                       "gitCommit": hashlib.sha1(self.version.encode()).hexdigest(),
                       "gitTreeState": "clean", "buildDate": "2025-04-22T16:03:39Z",
                       "goVersion": "go1.23.6", "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api":
            return ok({"kind": "APIVersions", "versions": ["v1"],
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                       "serverAddress": f"127.0.0.1:{self.port}"}]})
        if path == "/apis":
            gv = {"groupVersion": "apps/v1", "version": "v1"}
            return ok({"kind": "APIGroupList", "apiVersion": "v1",
                       "groups": [{"name": "apps", "versions": [gv], "preferredVersion": gv}]})
        if path == "/apis/apps":
            gv = {"groupVersion": "apps/v1", "version": "v1"}
            return ok({"kind": "APIGroup", "apiVersion": "v1", "name": "apps",
                       "versions": [gv], "preferredVersion": gv})
        if path in ("/api/v1", "/apis/apps/v1"):
            return ok(self._discovery("apps" if path.startswith("/apis") else ""))
        if path.startswith("/openapi/"):
            doc = self._openapi(path)
            if path == "/openapi/v2" and "protobuf" in (h.headers.get("Accept") or ""):
                entry["status"] = 200       # kubectl before 1.29 reads only this form
                return h.send_bytes(200, "application/octet-stream", openapi_v2_protobuf(doc))
            return ok(doc)
        m = re.fullmatch(r"/api/v1(/.*)?|/apis/(apps)/v1(/.*)?", path)
        if not m:
            entry["status"] = 404
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        group = m.group(2) or ""
        rest = [urllib.parse.unquote(p) for p in ((m.group(1) or m.group(3) or "").split("/"))
                if p]
        legacy_watch = False
        if rest and rest[0] == "watch":
            legacy_watch, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, rest[2]) in BY_PATH:
            ns, rest = rest[1], rest[2:]
        if not rest or (group, rest[0]) not in BY_PATH or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        res = BY_PATH[(group, rest[0])]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and sub not in res.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if res.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if not res.namespaced:
            if ns is not None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource",
                               {})
            ns = ""
        watching = legacy_watch or query.get("watch") in ("1", "true")
        verb = {"GET": "watch" if watching else ("get" if name else "list"),
                "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the requested resource", {})
        self._check_forbidden(user, verb, res, sub, ns, name)
        entry["verb"] = verb
        dry_run = query.get("dryRun") == "All"
        if verb == "watch":
            entry["status"] = 200
            return self._watch(h, res, ns, name, query)
        with self.lock:
            table = "as=Table" in (h.headers.get("Accept") or "")
            include = query.get("includeObject", "Metadata")
            if verb == "list":
                lst = self._list(res, ns, query)
                if table:
                    for o in lst["items"]:
                        o["apiVersion"], o["kind"] = res.api_version, res.kind
                    return ok(to_table(res, lst["items"], lst["metadata"], include))
                return ok(lst)
            if verb == "get":
                if sub == "log":
                    self._get(res, ns, name)
                    entry["status"] = 200
                    return h.send_text(200, self.pod_logs.get((ns, name), ""))
                obj = self._get(res, ns, name)
                if sub == "scale":
                    return ok(self._scale_of(res, obj))
                if table:
                    return ok(to_table(res, [obj], {"resourceVersion":
                                                    obj["metadata"]["resourceVersion"]}, include))
                return ok(obj)
            if verb == "create":
                if name:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this "
                                   "method on the requested resource", {})
                return ok(self._create(res, ns, self._parse(body, h), query, dry_run), 201)
            if verb == "update":
                return ok(self._update(res, ns, name, sub, self._parse(body, h), query,
                                       dry_run))
            if verb == "patch":
                obj, created = self._patch(res, ns, name, sub, body, h, query, dry_run)
                return ok(obj, 201 if created else 200)
            if verb == "delete":
                return ok(self._delete(res, ns, name, self._parse(body, h, empty_ok=True),
                                       dry_run))
            if verb == "deletecollection":
                lst = self._list(res, ns, query)
                for item in lst["items"]:
                    if not dry_run:
                        self._delete(res, item["metadata"].get("namespace", ""),
                                     item["metadata"]["name"], {}, False)
                return ok(lst)

    @staticmethod
    def _parse(body, h, empty_ok=False):
        if not body:
            if empty_ok:
                return {}
            raise bad_request("the body of the request was empty")
        ctype = (h.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return decode_protobuf(body)
            except (ValueError, IndexError, UnicodeDecodeError) as e:
                raise bad_request(f"error decoding protobuf: {e}")
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise ApiError(415, "UnsupportedMediaType",
                           'the body of the request was in an unknown format - accepted media '
                           'types include: application/json, application/yaml, '
                           'application/vnd.kubernetes.protobuf')
        try:
            doc = json.loads(body)
        except ValueError:
            try:
                doc = yaml.load(body, Loader=_Loader)
            except yaml.YAMLError as e:
                raise bad_request(f"error decoding YAML: {e}")
        if not isinstance(doc, dict):
            raise bad_request("Object 'Kind' is missing in the request body")
        return doc

    def _discovery(self, group):
        resources = []
        for r in RESOURCES:
            if r.group != group:
                continue
            verbs = list(VERBS)
            if r.plural == "namespaces":
                verbs.remove("deletecollection")
            resources.append({"name": r.plural, "singularName": r.kind.lower(),
                              "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs,
                              **({"shortNames": r.short} if r.short else {}),
                              **({"categories": r.categories} if r.categories else {}),
                              "storageVersionHash": base64.b64encode(hashlib.sha256(
                                  r.qualified.encode()).digest()[:8]).decode()})
            for sub in r.subresources:
                entry = {"name": f"{r.plural}/{sub}", "singularName": "",
                         "namespaced": r.namespaced, "kind": r.kind,
                         "verbs": ["get", "patch", "update"]}
                if sub == "scale":
                    entry.update(group="autoscaling", version="v1", kind="Scale")
                if sub == "log":
                    entry.update(verbs=["get"])
                resources.append(entry)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/v1" if group else "v1", "resources": resources}

    def _openapi(self, path):
        """Just enough OpenAPI for kubectl: each resource's PATCH operation
        with its query parameters and group/version/kind, so that kubectl
        sees fieldValidation is supported and leaves validation to us."""
        params = [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]

        def paths(group):
            out = {}
            for r in RESOURCES:
                if r.group != group:
                    continue
                base = f"/apis/{group}/v1" if group else "/api/v1"
                p = f"{base}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced \
                    else f"{base}/{r.plural}/{{name}}"
                gvk = {"group": group, "version": "v1", "kind": r.kind}
                out[p] = {"patch": {"operationId": f"patch{r.kind}",
                                    "x-kubernetes-action": "patch",
                                    "x-kubernetes-group-version-kind": gvk,
                                    "parameters": params,
                                    "responses": {"200": {"description": "OK"}}}}
            return out
        if path == "/openapi/v3":
            return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=" +
                                   hashlib.sha256((gv + self.version).encode()).hexdigest()[:16]
                                   .upper()} for gv in ("api/v1", "apis/apps/v1")}}
        if path == "/openapi/v3/api/v1":
            return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.version},
                    "paths": paths(""), "components": {"schemas": {}}}
        if path == "/openapi/v3/apis/apps/v1":
            return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": self.version},
                    "paths": paths("apps"), "components": {"schemas": {}}}
        if path == "/openapi/v2":
            v2 = {}
            for g in ("", "apps"):
                for p, ops in paths(g).items():
                    op = dict(ops["patch"])
                    op["parameters"] = [{"name": x["name"], "in": "query", "type": "string",
                                         "uniqueItems": True} for x in params]
                    v2[p] = {"patch": op}
            return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": self.version},
                    "paths": v2, "definitions": {}}
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    # -------------------------------------------------------------- verbs

    def _get(self, res, ns, name):
        obj = self.objects.get(self._key(res, ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def _matching(self, res, ns, query):
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), res)

        def match(obj):
            if ns and obj["metadata"].get("namespace") != ns:
                return False
            lab = obj["metadata"].get("labels") or {}
            return all(p(lab) for p in labels) and all(p(obj) for p in fields)
        return match

    def _list(self, res, ns, query):
        match = self._matching(res, ns, query)
        keys = sorted(k for k in self.objects if k[1] == res.plural and k[0] == res.group
                      and match(self.objects[k]))
        list_rv = self.rv
        token = query.get("continue")
        if token:
            try:
                state = json.loads(base64.b64decode(token))
                start, token_rv = tuple(state["start"]), int(state["rv"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)")
            if token_rv < self.compacted:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list.")
            keys = [k for k in keys if k > start]
            list_rv = token_rv
        meta = {"resourceVersion": str(list_rv)}
        limit = query.get("limit")
        if limit and query.get("resourceVersion") != "0":
            try:
                limit = int(limit)
            except ValueError:
                raise bad_request(f"invalid limit {limit!r}")
            if 0 < limit < len(keys):
                meta["continue"] = base64.b64encode(json.dumps(
                    {"rv": list_rv, "start": list(keys[limit - 1])}).encode()).decode()
                meta["remainingItemCount"] = len(keys) - limit
                keys = keys[:limit]
        items = []
        for k in keys:
            o = copy.deepcopy(self.objects[k])
            o.pop("apiVersion", None)           # items of a typed list carry no kind
            o.pop("kind", None)
            items.append(o)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta,
                "items": items}

    def _namespace_ready(self, res, ns, name):
        if not res.namespaced:
            return
        nsobj = self.objects.get(("", "namespaces", "", ns))
        if nsobj is None:
            raise not_found(BY_NAME["namespaces"], ns)
        if nsobj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           f'{res.qualified} "{name}" is forbidden: unable to create new content '
                           f'in namespace {ns} because it is being terminated',
                           dict(_details(res, name), causes=[{
                               "reason": "NamespaceTerminating", "field": "metadata.namespace",
                               "message": f"namespace {ns} is being terminated"}]))

    def _check_body(self, res, ns, obj, name=None):
        if obj.get("kind") not in (None, res.kind) or \
                obj.get("apiVersion") not in (None, res.api_version):
            raise bad_request(f'the API version in the data ({obj.get("apiVersion")}) does not '
                              f'match the expected API version ({res.api_version})'
                              if obj.get("kind") == res.kind else
                              f'{obj.get("kind")} in version "{obj.get("apiVersion")}" cannot be '
                              f'handled as a {res.kind}: no kind "{obj.get("kind")}" is '
                              f'registered for version "{obj.get("apiVersion")}" in scheme')
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            obj["metadata"] = meta = {}
        body_ns = meta.get("namespace")
        if res.namespaced:
            if body_ns and body_ns != ns:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name "
                              f"on the URL ({name})")
        if name is not None:
            meta["name"] = name

    def _manager(self, query, h, default_suffix=""):
        m = query.get("fieldManager")
        if m:
            return m
        ua = h.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0][:128] + default_suffix

    def _create(self, res, ns, obj, query, dry_run):
        self._check_body(res, ns, obj)
        meta = obj["metadata"]
        if not meta.get("name") and not meta.get("generateName"):
            raise invalid(res, "", [("metadata.name", "FieldValueRequired",
                                     "Required value: name or generateName is required")])
        self._namespace_ready(res, ns, meta.get("name") or meta.get("generateName"))
        if meta.get("name") and self._key(res, ns, meta["name"]) in self.objects:
            raise already_exists(res, meta["name"])
        meta.pop("managedFields", None)
        if res.plural in ("deployments", "replicasets"):
            obj.pop("status", None)
        return self._store(res, obj, None, (self._manager(query, self._local.h), "Update", ""),
                           dry_run=dry_run)

    def _update(self, res, ns, name, sub, obj, query, dry_run):
        old = self._get(res, ns, name)
        if sub == "scale":
            return self._set_scale(res, old, obj, query, dry_run)
        self._check_body(res, ns, obj, name)
        want = obj["metadata"].get("resourceVersion")
        if want and want != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        new = self._merge_part(res, old, obj, sub)
        if "managedFields" not in obj["metadata"]:
            new["metadata"]["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields"))
        return self._finish_write(res, new, old, (self._manager(query, self._local.h), "Update",
                                                  sub or ""), sub, dry_run)

    @staticmethod
    def _merge_part(res, old, new, sub):
        """A write to the main resource keeps the old status; a write to
        status keeps everything else."""
        new = copy.deepcopy(new)
        if sub == "status":
            out = copy.deepcopy(old)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        if res.plural in ("deployments", "replicasets", "pods", "services", "namespaces",
                          "nodes"):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        return new

    def _finish_write(self, res, new, old, manager, sub, dry_run):
        meta = new["metadata"]
        stored = self._store(res, new, old, manager, "status" if sub == "status" else "main",
                             dry_run=dry_run)
        if not dry_run and old["metadata"].get("deletionTimestamp") and \
                not stored["metadata"].get("finalizers"):
            key = self._key(res, meta.get("namespace", ""), meta["name"])
            return self._remove(res, key)
        return stored

    def _patch(self, res, ns, name, sub, body, h, query, dry_run):
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return self._apply(res, ns, name, sub, body, query, dry_run)
        if query.get("force"):
            raise bad_request("force flag is not allowed for non-apply patch")
        if ctype not in ("application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json"):
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml, "
                           "application/strategic-merge-patch+json")
        old = self._get(res, ns, name)
        try:
            patch = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request(f"error decoding patch: {e}")
        current = self._scale_of(res, old) if sub == "scale" else old
        try:
            if ctype == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise ValueError("json: cannot unmarshal object into Go value of type "
                                     "jsonpatch.Patch")
                new = json_patch(current, patch)
            elif ctype == "application/merge-patch+json":
                new = merge_patch(current, patch)
            else:
                new = strategic_merge(current, patch)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in "
                           f"our request: {e}", {})
        if not isinstance(new, dict):
            raise bad_request("the patch did not produce an object")
        if sub == "scale":
            return self._set_scale(res, old, new, query, dry_run), False
        self._check_body(res, ns, new, name)
        want = new["metadata"].get("resourceVersion")
        if want and want != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        new = self._merge_part(res, old, new, sub)
        return self._finish_write(res, new, old, (self._manager(query, h), "Update", sub or ""),
                                  sub, dry_run), False

    def _apply(self, res, ns, name, sub, body, query, dry_run):
        manager = query.get("fieldManager")
        if not manager:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: '
                           'fieldManager: Required value: is required for apply patch',
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                               {"reason": "FieldValueRequired", "field": "fieldManager",
                                "message": "Required value: is required for apply patch"}]})
        if sub not in (None, "status"):
            raise bad_request(f"apply is not supported for the {sub} subresource here")
        force = query.get("force") == "true"
        try:
            cfg = yaml.load(body or b"", Loader=_Loader)
        except yaml.YAMLError as e:
            raise bad_request(f"error decoding YAML: {e}")
        if not isinstance(cfg, dict):
            raise bad_request("error decoding YAML: the applied configuration is not an object")
        if not cfg.get("apiVersion") or not cfg.get("kind"):
            raise bad_request("apiVersion and kind are required for apply")
        self._check_body(res, ns, cfg, name)
        cfg = drop_nulls(cfg)
        self.applied[(res.plural, ns, name)] = copy.deepcopy(cfg)
        part = "status" if sub == "status" else "main"
        cfg_view = managed_view(cfg, part)
        mine = field_paths(cfg_view)
        old = self.objects.get(self._key(res, ns, name))
        entry = {"manager": manager, "operation": "Apply", "apiVersion": res.api_version,
                 "time": _now(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(mine)}
        if sub:
            entry["subresource"] = sub
        if old is None:
            if sub:
                raise not_found(res, name)
            self._namespace_ready(res, ns, name)
            obj = copy.deepcopy(cfg)
            obj.pop("status", None)
            obj["metadata"]["managedFields"] = [entry] if mine else []
            return self._store(res, obj, None, (manager, "Apply", ""), dry_run=dry_run), True
        want = cfg["metadata"].get("resourceVersion")
        if want and want != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        old_view = managed_view(old, part)
        entries, conflicts, previous = [], [], set()
        for e in old["metadata"].get("managedFields") or []:
            paths = paths_of_fields_v1(e.get("fieldsV1"))
            if e.get("manager") == manager and e.get("operation") == "Apply" and \
                    e.get("subresource", "") == (sub or ""):
                previous = paths
                continue
            if e.get("subresource", "") not in ("", "scale") and part == "main" or \
                    (part == "status" and e.get("subresource") != "status"):
                entries.append((e, paths))
                continue
            clash = sorted(p for p in mine & paths if p[-1] != "." and not p[-1].startswith("v:")
                           and value_at(old_view, p) != value_at(cfg_view, p))
            conflicts += [(e, p) for p in clash]
            if force and clash:
                paths = paths - set(clash)
            entries.append((e, paths))
        if conflicts and not force:
            causes = [{"type": "FieldManagerConflict",
                       "message": f"conflict with {manager_label(e)}", "field": path_string(p)}
                      for e, p in conflicts]
            if len(conflicts) == 1:
                msg = (f"Apply failed with 1 conflict: conflict with "
                       f"{manager_label(conflicts[0][0])}: {path_string(conflicts[0][1])}")
            else:
                by = collections.OrderedDict()
                for e, p in conflicts:
                    by.setdefault(manager_label(e), []).append(path_string(p))
                lines = []
                for label in sorted(by):
                    lines.append(f"conflicts with {label}:")
                    lines += [f"- {p}" for p in by[label]]
                msg = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
            raise ApiError(409, "Conflict", msg, dict(_details(res, name), causes=causes))
        others = set().union(*[p for _, p in entries]) if entries else set()
        if part == "status":
            new = copy.deepcopy(old)
            new["status"] = apply_merge(old.get("status"), cfg.get("status") or {})
        else:
            new = apply_merge(old, {k: v for k, v in cfg.items() if k != "status"})
        # whole list items first (their key fields find them), then single fields
        for p in sorted(previous - mine - others, key=lambda p: (p[-1] != ".", -len(p))):
            remove_path(new, p)
        managed = []
        for e, paths in entries:
            if paths:
                managed.append(e if paths_of_fields_v1(e.get("fieldsV1")) == paths
                               else dict(e, fieldsV1=fields_v1(paths)))
        if mine:
            managed.append(entry)
        new["metadata"]["managedFields"] = managed
        if part == "main" and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        return self._finish_write(res, new, old, (manager, "Apply", sub or ""), sub,
                                  dry_run), False

    def _scale_of(self, res, obj):
        if res.plural not in ("deployments", "replicasets"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        meta = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": selector_string(obj["spec"].get("selector") or {})}}

    def _set_scale(self, res, old, scale, query, dry_run):
        if scale.get("kind") not in (None, "Scale"):
            raise bad_request(f"{scale.get('kind')} is not a Scale")
        want = (scale.get("metadata") or {}).get("resourceVersion")
        if want and want != old["metadata"]["resourceVersion"]:
            raise conflict(res, old["metadata"]["name"], "the object has been modified; please "
                           "apply your changes to the latest version and try again")
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{old["metadata"]["name"]}" is '
                           f'invalid: spec.replicas: Invalid value: {replicas}: must be greater '
                           f'than or equal to 0', {"name": old["metadata"]["name"],
                                                   "group": "autoscaling", "kind": "Scale"})
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = replicas
        manager = (self._manager(query, self._local.h), "Update", "scale")
        stored = self._store(res, new, old, manager, dry_run=dry_run)
        return self._scale_of(res, stored)

    def _delete(self, res, ns, name, options, dry_run):
        key = self._key(res, ns, name)
        old = self._get(res, ns, name)
        pre = (options or {}).get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                           f"UID in object meta: {old['metadata']['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != \
                old["metadata"]["resourceVersion"]:
            raise conflict(res, name, "the object has been modified; please apply your changes "
                           "to the latest version and try again")
        if dry_run:
            return old
        if options.get("propagationPolicy") == "Orphan" or options.get("orphanDependents"):
            self._orphan(old["metadata"]["uid"])
        graceful = res.plural == "namespaces" or old["metadata"].get("finalizers") or \
            (res.plural == "pods" and old["spec"].get("nodeName") and
             options.get("gracePeriodSeconds") != 0)
        if graceful:
            if old["metadata"].get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = _now()
            if res.plural == "namespaces":
                new["status"] = {"phase": "Terminating"}
            if res.plural == "pods":
                new["metadata"]["deletionGracePeriodSeconds"] = \
                    options.get("gracePeriodSeconds", 30)
            return self._commit(res, "MODIFIED", key, new, old)
        return self._remove(res, key)

    def _orphan(self, uid):
        for k, o in list(self.objects.items()):
            refs = o["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                new = copy.deepcopy(o)
                new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self._commit(BY_PATH[(k[0], k[1])], "MODIFIED", k, new, o)

    # -------------------------------------------------------------- watch

    def _watch(self, h, res, ns, name, query):
        try:
            match = self._matching(res, ns, query)
        except ApiError as e:
            return h.send_json(e.code, e.status())
        if name:        # the legacy /watch/.../{name} form
            selected = match

            def match(o):
                return selected(o) and o["metadata"]["name"] == name
        try:
            timeout = float(query.get("timeoutSeconds") or 1800)
        except ValueError:
            timeout = 1800
        rv = query.get("resourceVersion") or ""
        initial_events = query.get("sendInitialEvents") == "true"
        bookmarks = query.get("allowWatchBookmarks") == "true"
        events = []
        with self.lock:
            epoch = self.watch_epoch
            if self._expire_next > 0:
                self._expire_next -= 1
                events.append(self._too_old(rv or self.rv, self.rv))
            elif rv not in ("", "0") and not initial_events:
                try:
                    start = int(rv)
                except ValueError:
                    return h.send_json(400, bad_request(
                        f'invalid resource version "{rv}"').status())
                if start < self.compacted:
                    events.append(self._too_old(start))
            else:
                start = self.rv
                for k in sorted(self.objects):
                    o = self.objects[k]
                    if k[1] == res.plural and match(o):
                        events.append({"type": "ADDED", "object": copy.deepcopy(o)})
                if initial_events and bookmarks:
                    events.append({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(start),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}})
        table = "as=Table" in (h.headers.get("Accept") or "")
        include = query.get("includeObject", "Metadata")

        def send(e):
            if table and e["type"] in ("ADDED", "MODIFIED", "DELETED"):
                e = {"type": e["type"], "object": to_table(
                    res, [e["object"]], {"resourceVersion":
                                         e["object"]["metadata"]["resourceVersion"]}, include)}
            h.write_chunk(json.dumps(e).encode() + b"\n")
        h.start_stream()
        try:
            for e in events:
                send(e)
            if events and events[0]["type"] == "ERROR":
                return h.end_stream()
            deadline = time.monotonic() + timeout
            pos = start
            while True:
                with self.lock:
                    while True:
                        if self.closed:
                            return h.end_stream()
                        if self.watch_epoch != epoch:
                            out = [self._too_old(pos, self.rv)]
                            break
                        if pos < self.compacted:
                            out = [self._too_old(pos)]
                            break
                        fresh = [e for e in self.history if e["rv"] > pos]
                        if fresh:
                            out = [ev for ev in (self._translate(e, res, match) for e in fresh)
                                   if ev]
                            pos = fresh[-1]["rv"]
                            break
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return h.end_stream()
                        self.changed.wait(min(left, 1.0))
                for e in out:
                    send(e)
                if out and out[0]["type"] == "ERROR":
                    return h.end_stream()
        except OSError:
            h.close_connection = True

    def _too_old(self, rv, oldest=None):
        oldest = self.compacted + 1 if oldest is None else oldest
        return {"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"too old resource version: {rv} ({oldest})",
            "reason": "Expired", "code": 410}}

    @staticmethod
    def _translate(e, res, match):
        if e["key"][1] != res.plural or e["key"][0] != res.group:
            return None
        now = match(e["object"])
        before = e["old"] is not None and match(e["old"])
        if e["type"] == "ADDED":
            kind = "ADDED" if now else None
        elif e["type"] == "DELETED":
            kind = "DELETED" if now or before else None
        else:
            kind = ("MODIFIED" if before else "ADDED") if now else ("DELETED" if before else None)
        return {"type": kind, "object": copy.deepcopy(e["object"])} if kind else None

    # ------------------------------------------------------- controllers

    def _control_loop(self):
        while not self.closed:
            time.sleep(self.tick)
            if self.controller_paused:
                continue
            with self.lock:
                if self.closed:
                    return
                try:
                    self._reconcile()
                except Exception:           # a bug here must not stop the cluster silently
                    import traceback
                    traceback.print_exc()

    def _owned_by(self, plural, uid, ns):
        return [o for k, o in sorted(self.objects.items())
                if k[1] == plural and k[2] == ns and
                any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]

    def _reconcile(self):
        now = time.monotonic()
        # namespaces being deleted: remove their content, then them (after a
        # moment, as the namespace controller takes one)
        for k, o in list(self.objects.items()):
            if k[1] == "namespaces" and o["metadata"].get("deletionTimestamp"):
                since = self._terminating.setdefault(o["metadata"]["uid"], now)
                if now - since < self.namespace_delay:
                    continue
                for k2 in [k2 for k2 in self.objects if k2[2] == k[3] and
                           BY_PATH[(k2[0], k2[1])].namespaced]:
                    self._remove(BY_PATH[(k2[0], k2[1])], k2)
                self._remove(BY_NAME["namespaces"], k)
        # kubelet: pods being deleted go away
        for k, o in list(self.objects.items()):
            if k[1] == "pods" and o["metadata"].get("deletionTimestamp") and \
                    not o["metadata"].get("finalizers"):
                self._remove(BY_NAME["pods"], k)
        # garbage collector: dependents whose owner is gone
        uids = {o["metadata"]["uid"] for o in self.objects.values()}
        for k, o in list(self.objects.items()):
            refs = o["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs) and k in self.objects:
                self._remove(BY_PATH[(k[0], k[1])], k)
        for k in sorted(k for k in self.objects if k[1] == "deployments"):
            if k in self.objects:
                self._sync_deployment(k, now)
        for k, o in list(self.objects.items()):
            if k[1] == "pods" and k in self.objects:
                self._kubelet(k, o)

    def _failure_for(self, dep, template):
        meta = dep["metadata"]
        images = {c.get("image") for c in (template.get("spec") or {}).get("containers") or []}
        for f in self._failures:
            if f["name"] == meta["name"] and f["namespace"] in (None, meta.get("namespace")) \
                    and (f["image"] is None or f["image"] in images):
                return f["mode"]
        return None

    @staticmethod
    def _template_hash(template):
        t = copy.deepcopy(template)
        ((t.get("metadata") or {}).get("labels") or {}).pop("pod-template-hash", None)
        digest = hashlib.sha256(json.dumps(t, sort_keys=True).encode()).digest()
        n = struct.unpack(">Q", digest[:8])[0]
        out = ""
        for _ in range(10):
            out += SAFE_ALPHABET[n % len(SAFE_ALPHABET)]
            n //= len(SAFE_ALPHABET)
        return out

    @staticmethod
    def _scaled(value, total, round_up):
        if isinstance(value, int):
            return value
        s = str(value)
        if s.endswith("%"):
            x = int(s[:-1]) * total
            return -(-x // 100) if round_up else x // 100
        return int(s)

    def _controller_write(self, res, obj, old, sub="status"):
        return self._store(res, obj, old, ("kube-controller-manager", "Update", sub),
                           "status" if sub == "status" else "main")

    def _event(self, involved, kind, reason, message, component, host=None, container=None):
        ns = involved["metadata"].get("namespace", "default")
        uid = involved["metadata"]["uid"]
        for k, e in self.objects.items():
            if k[1] == "events" and e["involvedObject"].get("uid") == uid and \
                    e.get("reason") == reason and e.get("message") == message:
                new = copy.deepcopy(e)
                new["count"] = e.get("count", 1) + 1
                new["lastTimestamp"] = _now()
                self._commit(BY_NAME["events"], "MODIFIED", k, new, e)
                return
        self._event_clock = max(time.time_ns(), getattr(self, "_event_clock", 0) + 1)
        name = f"{involved['metadata']['name']}.{self._event_clock:x}"
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                                 "name": involved["metadata"]["name"], "namespace": ns,
                                 "uid": uid,
                                 "resourceVersion": involved["metadata"].get("resourceVersion")},
              "reason": reason, "message": message, "type": kind,
              "source": {"component": component, **({"host": host} if host else {})},
              "firstTimestamp": _now(), "lastTimestamp": _now(), "count": 1,
              "eventTime": None, "reportingComponent": component,
              "reportingInstance": host or ""}
        if container:
            ev["involvedObject"]["fieldPath"] = f"spec.containers{{{container}}}"
        self._store(BY_NAME["events"], ev, None, (component, "Update", ""))

    def _sync_deployment(self, key, now):
        dep = self.objects[key]
        meta, spec = dep["metadata"], dep["spec"]
        uid, ns = meta["uid"], meta.get("namespace")
        gen = meta.get("generation", 1)
        status = dep.get("status") or {}
        seen = self._seen.get(uid)
        if seen is None or seen[0] != gen:
            self._seen[uid] = seen = (gen, now)
        if status.get("observedGeneration", 0) < gen and now - seen[1] < self.observe_delay:
            return
        desired = spec.get("replicas", 1)
        template = spec.get("template") or {}
        th = self._template_hash(template)
        rsets = self._owned_by("replicasets", uid, ns)
        revisions = [int(r["metadata"].get("annotations", {}).get(
            "deployment.kubernetes.io/revision", "0")) for r in rsets]
        new_rs = next((r for r in rsets if (r["metadata"].get("labels") or {}).get(
            "pod-template-hash") == th), None)
        rs_res = BY_NAME["replicasets"]
        max_rev = max(revisions or [0])
        progressed = False
        created_rs = False
        if new_rs is None:
            created_rs = True
            tmpl = copy.deepcopy(template)
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = th
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = th
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": f"{meta['name']}-{th}", "namespace": ns,
                               "labels": dict(tmpl["metadata"]["labels"]),
                               "annotations": {"deployment.kubernetes.io/revision":
                                               str(max_rev + 1),
                                               "deployment.kubernetes.io/desired-replicas":
                                               str(desired)},
                               "ownerReferences": [{"apiVersion": "apps/v1",
                                                    "kind": "Deployment", "name": meta["name"],
                                                    "uid": uid, "controller": True,
                                                    "blockOwnerDeletion": True}]},
                  "spec": {"replicas": 0, "selector": sel, "template": tmpl}}
            new_rs = self._store(rs_res, rs, None, ("kube-controller-manager", "Update", ""))
            progressed = True
        elif int(new_rs["metadata"].get("annotations", {}).get(
                "deployment.kubernetes.io/revision", "0")) < max_rev:
            rs = copy.deepcopy(new_rs)              # a rollback: the old set is new again
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(max_rev + 1)
            new_rs = self._controller_write(rs_res, rs, new_rs, sub="")
            progressed = True
        revision = new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        if (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != revision:
            d2 = copy.deepcopy(dep)
            d2["metadata"].setdefault("annotations", {})[
                "deployment.kubernetes.io/revision"] = revision
            dep = self._controller_write(BY_NAME["deployments"], d2, dep, sub="")
            meta, spec = dep["metadata"], dep["spec"]
        rsets = self._owned_by("replicasets", uid, ns)
        pods = {r["metadata"]["uid"]: [p for p in self._owned_by("pods", r["metadata"]["uid"], ns)
                                       if not p["metadata"].get("deletionTimestamp")]
                for r in rsets}
        new_uid = new_rs["metadata"]["uid"]
        new_pods = pods.get(new_uid, [])
        old_pods = [p for u, ps in pods.items() if u != new_uid for p in ps]
        failure = self._failure_for(dep, template)
        strategy = spec.get("strategy") or {}
        ru = strategy.get("rollingUpdate") or {}
        surge = self._scaled(ru.get("maxSurge", "25%"), desired, True)
        unavail = self._scaled(ru.get("maxUnavailable", "25%"), desired, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        ready = _pod_ready
        if not spec.get("paused"):
            if strategy.get("type") == "Recreate":
                if old_pods:
                    for p in old_pods:
                        self._remove(BY_NAME["pods"], self._key(BY_NAME["pods"], ns,
                                                                p["metadata"]["name"]))
                    old_pods, progressed = [], True
                elif len(new_pods) < desired and failure != "stuck":
                    new_pods.append(self._make_pod(new_rs, failure))
                    progressed = True
            else:
                total = len(new_pods) + len(old_pods)
                if len(new_pods) < desired and total < desired + surge and failure != "stuck":
                    new_pods.append(self._make_pod(new_rs, failure))
                    progressed = True
                elif len(new_pods) > desired:
                    victim = sorted(new_pods, key=ready)[0]
                    self._remove(BY_NAME["pods"], self._key(BY_NAME["pods"], ns,
                                                            victim["metadata"]["name"]))
                    new_pods.remove(victim)
                    progressed = True
                available = sum(1 for p in new_pods + old_pods if ready(p))
                if old_pods:
                    unready_old = [p for p in old_pods if not ready(p)]
                    if unready_old or available - 1 >= desired - unavail:
                        victim = (unready_old or old_pods)[0]
                        self._remove(BY_NAME["pods"], self._key(BY_NAME["pods"], ns,
                                                                victim["metadata"]["name"]))
                        old_pods.remove(victim)
                        progressed = True
            # replica sets' spec and status follow their pods
            for r in self._owned_by("replicasets", uid, ns):
                mine = new_pods if r["metadata"]["uid"] == new_uid else \
                    [p for p in old_pods if any(o.get("uid") == r["metadata"]["uid"]
                                                for o in p["metadata"]["ownerReferences"])]
                r2 = copy.deepcopy(r)
                want = desired if r["metadata"]["uid"] == new_uid and failure != "stuck" \
                    else len(mine)
                if r2["spec"].get("replicas") != want:
                    r2["spec"]["replicas"] = want
                    r2["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = \
                        str(desired)
                    before = r["spec"].get("replicas") or 0
                    what = f'replica set {r["metadata"]["name"]} to {want}'
                    self._event(dep, "Normal", "ScalingReplicaSet",
                                f"Scaled up {what}" if want > before else
                                f"Scaled down {what} from {before}", "deployment-controller")
                    r2 = self._controller_write(rs_res, r2, r, sub="")
                rst = {"replicas": len(mine), "fullyLabeledReplicas": len(mine),
                       "readyReplicas": sum(1 for p in mine if ready(p)),
                       "availableReplicas": sum(1 for p in mine if ready(p)),
                       "observedGeneration": r2["metadata"].get("generation", 1)}
                rst = {k: v for k, v in rst.items() if v or k in ("replicas",
                                                                     "observedGeneration")}
                if r2.get("status") != rst:
                    r3 = copy.deepcopy(r2)
                    r3["status"] = rst
                    self._controller_write(rs_res, r3, r2)
        # the deployment's status
        dep = self.objects[key]
        all_pods = new_pods + old_pods
        available = sum(1 for p in all_pods if ready(p))
        st = {"observedGeneration": dep["metadata"].get("generation", 1),
              "replicas": len(all_pods), "updatedReplicas": len(new_pods),
              "readyReplicas": sum(1 for p in all_pods if ready(p)),
              "availableReplicas": available}
        if desired - available > 0:
            st["unavailableReplicas"] = desired - available
        st = {k: v for k, v in st.items() if v or k == "observedGeneration"}
        old_status = dep.get("status") or {}
        if old_status.get("observedGeneration", 0) < st["observedGeneration"] or progressed:
            self._progress[uid] = now
        if st != {k: v for k, v in old_status.items() if k != "conditions"}:
            self._progress[uid] = now
        conds = {c["type"]: c for c in copy.deepcopy(old_status.get("conditions") or [])}
        rs_name = new_rs["metadata"]["name"]

        def cond(t, s, reason, message):
            c = conds.get(t)
            stamp = _now()
            if c is None or c["status"] != s:
                conds[t] = {"type": t, "status": s, "lastUpdateTime": stamp,
                            "lastTransitionTime": stamp, "reason": reason, "message": message}
            elif c["reason"] != reason or c["message"] != message:
                c.update(reason=reason, message=message, lastUpdateTime=stamp)
        if available >= desired - unavail:
            cond("Available", "True", "MinimumReplicasAvailable",
                 "Deployment has minimum availability.")
        else:
            cond("Available", "False", "MinimumReplicasUnavailable",
                 "Deployment does not have minimum availability.")
        complete = len(new_pods) == desired and len(all_pods) == desired and \
            available == desired
        deadline = spec.get("progressDeadlineSeconds")
        if spec.get("paused"):
            cond("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif complete:
            cond("Progressing", "True", "NewReplicaSetAvailable",
                 f'ReplicaSet "{rs_name}" has successfully progressed.')
        elif deadline is not None and \
                now - self._progress.get(uid, now) > deadline * self.deadline_scale:
            cond("Progressing", "False", "ProgressDeadlineExceeded",
                 f'ReplicaSet "{rs_name}" has timed out progressing.')
        elif created_rs:
            cond("Progressing", "True", "NewReplicaSetCreated",
                 f'Created new replica set "{rs_name}"')
        elif self._progress.get(uid) == now or "Progressing" not in conds or \
                conds["Progressing"]["reason"] == "NewReplicaSetAvailable":
            cond("Progressing", "True", "ReplicaSetUpdated",
                 f'ReplicaSet "{rs_name}" is progressing.')
        order = [t for t in ("Available", "Progressing") if t in conds]
        st["conditions"] = [conds[t] for t in order]
        if st != old_status:
            d2 = copy.deepcopy(dep)
            d2["status"] = st
            self._controller_write(BY_NAME["deployments"], d2, dep)

    def _make_pod(self, rs, failure):
        ns = rs["metadata"]["namespace"]
        tmpl = copy.deepcopy(rs["spec"]["template"])
        name = f"{rs['metadata']['name']}-{_rand(5)}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "generateName": rs["metadata"]["name"] + "-",
                            "namespace": ns,
                            "labels": (tmpl.get("metadata") or {}).get("labels") or {},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                 "name": rs["metadata"]["name"],
                                                 "uid": rs["metadata"]["uid"],
                                                 "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": tmpl.get("spec") or {}}
        if (tmpl.get("metadata") or {}).get("annotations"):
            pod["metadata"]["annotations"] = tmpl["metadata"]["annotations"]
        pod = self._store(BY_NAME["pods"], pod, None, ("kube-controller-manager", "Update", ""))
        self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}",
                    "replicaset-controller")
        pod = self._schedule(pod, failure)
        self._pod_failure[pod["metadata"]["uid"]] = failure
        return pod

    def _schedule(self, pod, failure):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        nodes = [o for k, o in sorted(self.objects.items()) if k[1] == "nodes"]
        if failure == "unschedulable":
            n = len(nodes)
            node, why = None, (f"0/{n} nodes are available: {n} Insufficient sgx.intel.com/epc. "
                               f"preemption: 0/{n} nodes are available: {n} No preemption victims "
                               "found for incoming pod.")
        else:
            node, why = self._fit(pod, nodes)
        new = copy.deepcopy(pod)
        st = new.setdefault("status", {})
        if node is None:
            st["conditions"] = [{"type": "PodScheduled", "status": "False",
                                 "lastProbeTime": None, "lastTransitionTime": _now(),
                                 "reason": "Unschedulable", "message": why}]
            st["phase"] = "Pending"
            pod = self._store(BY_NAME["pods"], new, pod, ("kube-scheduler", "Update", "status"),
                              "status")
            self._event(pod, "Warning", "FailedScheduling", why, "default-scheduler")
            return pod
        new["spec"]["nodeName"] = node["metadata"]["name"]
        pod = self._store(BY_NAME["pods"], new, pod, ("kube-scheduler", "Update", "binding"))
        new = copy.deepcopy(pod)
        host_ip = node["status"]["addresses"][0]["address"]
        self._ip += 1
        new["status"] = {
            "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "startTime": _now(), "qosClass": pod["status"].get("qosClass", "BestEffort"),
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True",
                 "lastProbeTime": None, "lastTransitionTime": _now()},
                {"type": "Initialized", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": _now()},
                {"type": "Ready", "status": "False", "lastProbeTime": None,
                 "lastTransitionTime": _now(), "reason": "ContainersNotReady",
                 "message": "containers with unready status: [" +
                 " ".join(c["name"] for c in pod["spec"]["containers"]) + "]"},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": None,
                 "lastTransitionTime": _now(), "reason": "ContainersNotReady",
                 "message": "containers with unready status: [" +
                 " ".join(c["name"] for c in pod["spec"]["containers"]) + "]"},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": _now()}],
            "containerStatuses": [
                {"name": c["name"], "image": c["image"], "imageID": "", "ready": False,
                 "started": False, "restartCount": 0, "lastState": {},
                 "state": {"waiting": {"reason": "ContainerCreating"}}}
                for c in pod["spec"]["containers"]]}
        pod = self._store(BY_NAME["pods"], new, pod, ("kubelet", "Update", "status"), "status")
        self._event(pod, "Normal", "Scheduled",
                    f"Successfully assigned {ns}/{name} to {node['metadata']['name']}",
                    "default-scheduler")
        return pod

    def _fit(self, pod, nodes):
        """The node the scheduler picks, or None and its message."""
        if not nodes:
            return None, "no nodes available to schedule pods"
        spec = pod["spec"]
        want = collections.Counter()
        for c in spec.get("containers") or []:
            for r, q in ((c.get("resources") or {}).get("requests") or {}).items():
                want[r] += quantity(q) or 0
        want["pods"] += 1
        reasons = collections.Counter()
        fits = []                       # (pods on the node, name, node)
        for node in nodes:
            why = []
            used = collections.Counter()
            labels = node["metadata"].get("labels") or {}
            if node["spec"].get("unschedulable"):
                why.append("node(s) were unschedulable")
            elif not all(labels.get(k) == v for k, v in (spec.get("nodeSelector") or {}).items())\
                    or not _affinity_ok(spec, labels):
                why.append("node(s) didn't match Pod's node affinity/selector")
            else:
                for t in node["spec"].get("taints") or []:
                    if t.get("effect") in ("NoSchedule", "NoExecute") and \
                            not _tolerated(t, spec.get("tolerations") or []):
                        why.append("node(s) had untolerated taint {%s: %s}" %
                                   (t["key"], t.get("value", "")))
                        break
                else:
                    alloc = node["status"].get("allocatable") or {}
                    for o in self.objects.values():
                        if o["kind"] == "Pod" and o["spec"].get("nodeName") == \
                                node["metadata"]["name"] and \
                                o["status"].get("phase") not in ("Succeeded", "Failed"):
                            used["pods"] += 1
                            for c in o["spec"].get("containers") or []:
                                for r, q in ((c.get("resources") or {}).get("requests")
                                             or {}).items():
                                    used[r] += quantity(q) or 0
                    for r in sorted(want):
                        if want[r] and (r not in alloc or used[r] + want[r] >
                                        (quantity(alloc[r]) or 0)):
                            why.append(f"Insufficient {r}")
            if not why:
                fits.append((used["pods"], node["metadata"]["name"], node))
            for w in why:
                reasons[w] += 1
        if fits:                        # the least loaded, as the default scoring spreads pods
            return min(fits, key=lambda f: f[:2])[2], None
        n = len(nodes)
        text = ", ".join(f"{c} {w}" for w, c in sorted(reasons.items()))
        return None, (f"0/{n} nodes are available: {text}. preemption: 0/{n} nodes are "
                      f"available: {n} Preemption is not helpful for scheduling.")

    def _kubelet(self, key, pod):
        """Move a pod on: unscheduled pods are retried, bound pods start (or
        fail to) one tick after they were created."""
        if pod["metadata"].get("deletionTimestamp"):
            return
        failure = self._pod_failure.get(pod["metadata"]["uid"])
        st = pod.get("status") or {}
        if not pod["spec"].get("nodeName"):
            if failure != "unschedulable" and self._owner_kind(pod) == "ReplicaSet":
                node, _ = self._fit(pod, [o for k, o in sorted(self.objects.items())
                                          if k[1] == "nodes"])
                if node is not None:
                    self._schedule(pod, None)
            elif self._owner_kind(pod) != "ReplicaSet" and not st.get("conditions"):
                self._schedule(pod, None)
            return
        if st.get("phase") != "Pending":
            if failure == "crash-loop":
                self._crash(pod)
            return
        if not st.get("containerStatuses"):
            return
        node = pod["spec"]["nodeName"]
        containers = pod["spec"]["containers"]
        new = copy.deepcopy(pod)
        if failure == "image-pull":
            first = st["containerStatuses"][0]["state"].get("waiting", {}).get("reason") == \
                "ContainerCreating"
            reason = "ErrImagePull" if first else "ImagePullBackOff"
            for cs, c in zip(new["status"]["containerStatuses"], containers):
                msg = (f'failed to pull and unpack image "{c["image"]}": failed to resolve '
                       f'reference "{c["image"]}": {c["image"]}: not found') if first else \
                    f'Back-off pulling image "{c["image"]}"'
                cs["state"] = {"waiting": {"reason": reason, "message": msg}}
            if new != pod:
                pod = self._store(BY_NAME["pods"], new, pod, ("kubelet", "Update", "status"),
                                  "status")
            for c in containers:
                img = c["image"]

                def ev(*a, c=c):
                    self._event(pod, *a, "kubelet", node, c["name"])
                if first:
                    ev("Normal", "Pulling", f'Pulling image "{img}"')
                    ev("Warning", "Failed",
                       f'Failed to pull image "{img}": rpc error: code = NotFound desc = failed '
                       f'to pull and unpack image "{img}": failed to resolve reference '
                       f'"{img}": {img}: not found')
                    ev("Warning", "Failed", "Error: ErrImagePull")
                else:
                    ev("Normal", "BackOff", f'Back-off pulling image "{img}"')
                    ev("Warning", "Failed", "Error: ImagePullBackOff")
            return
        self._ip += 1
        ip = f"10.244.{(self._ip >> 8) & 255}.{self._ip & 255}"
        stamp = _now()
        crash = failure == "crash-loop"
        new["status"].update(phase="Running", podIP=ip, podIPs=[{"ip": ip}])
        for c in new["status"]["conditions"]:
            if c["type"] in ("Ready", "ContainersReady") and not crash:
                c.update(status="True", lastTransitionTime=stamp)
                c.pop("reason", None)
                c.pop("message", None)
        for cs, c in zip(new["status"]["containerStatuses"], containers):
            cs.update(imageID=f"{c['image'].split(':')[0]}@sha256:" +
                      hashlib.sha256(c["image"].encode()).hexdigest(),
                      containerID="containerd://" + hashlib.sha256(
                          (pod["metadata"]["uid"] + c["name"]).encode()).hexdigest(),
                      ready=not crash, started=not crash,
                      state={"running": {"startedAt": stamp}})
        pod = self._store(BY_NAME["pods"], new, pod, ("kubelet", "Update", "status"), "status")
        for c in containers:
            def ev(*a, c=c):
                self._event(pod, *a, "kubelet", node, c["name"])
            ev("Normal", "Pulled", f'Container image "{c["image"]}" already present on machine')
            ev("Normal", "Created", f"Created container {c['name']}")
            ev("Normal", "Started", f"Started container {c['name']}")

    def _crash(self, pod):
        new = copy.deepcopy(pod)
        for cs, c in zip(new["status"]["containerStatuses"], pod["spec"]["containers"]):
            cs["restartCount"] = cs.get("restartCount", 0) + 1
            cs["ready"], cs["started"] = False, False
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                              "startedAt": _now(), "finishedAt": _now()}}
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": f"back-off 10s restarting failed "
                                       f"container={c['name']} pod={pod['metadata']['name']}"
                                       f"_{pod['metadata']['namespace']}"
                                       f"({pod['metadata']['uid']})"}}
        if cs["restartCount"] > 3:
            return
        pod = self._store(BY_NAME["pods"], new, pod, ("kubelet", "Update", "status"), "status")
        self._event(pod, "Warning", "BackOff", "Back-off restarting failed container "
                    f"{pod['spec']['containers'][0]['name']} in pod {pod['metadata']['name']}_"
                    f"{pod['metadata']['namespace']}({pod['metadata']['uid']})", "kubelet",
                    pod["spec"]["nodeName"], pod["spec"]["containers"][0]["name"])

    @staticmethod
    def _owner_kind(obj):
        refs = obj["metadata"].get("ownerReferences") or []
        return refs[0].get("kind") if refs else None


def _pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _affinity_ok(spec, labels):
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms")
    if not terms:
        return True
    for term in terms:
        ok = True
        for e in term.get("matchExpressions") or []:
            k, op, vs = e.get("key"), e.get("operator"), e.get("values") or []
            v = labels.get(k)
            ok &= {"In": v in vs, "NotIn": v not in vs, "Exists": k in labels,
                   "DoesNotExist": k not in labels,
                   "Gt": v is not None and vs and v.isdigit() and int(v) > int(vs[0]),
                   "Lt": v is not None and vs and v.isdigit() and int(v) < int(vs[0])}.get(op,
                                                                                         False)
        if ok:
            return True
    return False


def _tolerated(taint, tolerations):
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t["key"] == taint["key"]:
                return True
        elif t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
            return True
    return False


# ------------------------------------------------------------------- HTTP


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass                    # clients that hang up are not the test's business


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloister-test-kubernetes"

    def log_message(self, *args):
        pass

    def setup(self):
        peer = self.server.peer
        self.request.settimeout(10)
        self.request = peer.ssl.wrap_socket(self.request, server_side=True)
        self.request.settimeout(None)
        peer._conns.add(self.request)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.peer._conns.discard(self.request)
            self.request.close()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _serve(self):
        peer = self.server.peer
        peer._local.h = self
        try:
            peer.handle(self, self.command)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _headers(self, code, ctype, length=None, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def send_json(self, code, obj, headers=None):
        data = json.dumps(obj).encode()
        self._headers(code, "application/json", len(data), headers)
        self.wfile.write(data)

    def send_bytes(self, code, ctype, data):
        self._headers(code, ctype, len(data))
        self.wfile.write(data)

    def send_text(self, code, text):
        data = text.encode()
        self._headers(code, "text/plain; charset=utf-8", len(data))
        self.wfile.write(data)

    def start_stream(self):
        self._headers(200, "application/json", None, {"Transfer-Encoding": "chunked"})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def drop(self, partial):
        self.close_connection = True
        if partial:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 4096\r\n\r\n{\"kind\":")
            self.wfile.flush()
        else:               # closed with linger 0: the client sees a reset
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
