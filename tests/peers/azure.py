"""A stand-in for the two Azure services the deploy worker talks to, on
loopback over TLS: Microsoft Entra ID's token endpoint (the OAuth 2.0 client
credentials grant) and Azure Resource Manager's AKS endpoints (managed
clusters, agent pools, user credentials and long-running operations).

One HTTPS server serves both; their paths do not overlap, so a client given
an authority host and an ARM endpoint is given `.url` for each:

    POST /{tenant}/oauth2/v2.0/token                     Entra ID
    /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService
        /managedClusters/{name}                          GET PUT DELETE
        /managedClusters/{name}/agentPools               GET (list)
        /managedClusters/{name}/agentPools/{pool}        GET PUT DELETE
        /managedClusters/{name}/listClusterUserCredential   POST
    /subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}
        /operations/{id}          the Azure-AsyncOperation URL: 200 {"status": ...}
        /operationresults/{id}    the Location URL: 202 while running, then
                                  200 (PUT) or 204 (DELETE), or the error

The certificate comes from a CA made with openssl at start, for IP:127.0.0.1
and DNS:localhost; clients trust `.ca_pem`.

Entra ID (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
the client authenticates with client_secret in the form or with HTTP Basic;
scope is one resource with "/.default": ARM (https://management.azure.com/
or https://management.core.windows.net/, with one slash or two) or the AKS
AAD server application (6dae42f8-4368-4678-94ff-3960e28e3630), whose tokens
a fake Kubernetes API server can check with token_info().  Errors have Entra's
shape {error, error_description, error_codes, timestamp, trace_id,
correlation_id, error_uri} and its codes: 400 invalid_request (AADSTS90002
unknown tenant, AADSTS900144 missing parameter, AADSTS50059 /common),
400 unauthorized_client (AADSTS700016 app not in the tenant), 401
invalid_client (AADSTS7000215 wrong secret, AADSTS7000216 no secret), 400
invalid_scope (AADSTS1002012 no /.default, AADSTS70011 several resources),
400 invalid_resource (AADSTS500011), 400 unsupported_grant_type (AADSTS70003).
Tokens are JWT-shaped (HS256 under a key of the peer's own) and remembered
with their expiry; clients must treat them as opaque.

ARM (learn.microsoft.com/rest/api/aks/, /azure/azure-resource-manager/
management/async-operations and request-limits-and-throttling): every
request needs an unexpired ARM token (401 AuthenticationFailed,
InvalidAuthenticationToken, ExpiredAuthenticationToken,
InvalidAuthenticationTokenAudience or InvalidAuthenticationTokenTenant, with
WWW-Authenticate) and an api-version the peer accepts (400
MissingApiVersionParameter, InvalidApiVersionParameter,
NoRegisteredProviderFound).  Then, in ARM's order: 429 while throttled, 404
SubscriptionNotFound, 403 AuthorizationFailed for denied actions, 404
ResourceGroupNotFound and ResourceNotFound.  Errors are {"error": {"code",
"message"}}.

Writes follow AKS (learn.microsoft.com/azure/aks/use-etags): the cluster and
each pool carry an "eTag" in their JSON; If-Match ("*" or an eTag) and
If-None-Match: "*" are honoured with 412 PreconditionFailed; a cluster write
renews the cluster's and its pools' eTags, a pool write the pool's only.  A
PUT answers 201 (new) or 200 with provisioningState Creating or Updating and
the Azure-AsyncOperation, Location and Retry-After headers; a DELETE answers
202 (or 204 when there is nothing to delete).  A write while an operation
runs on the same cluster or pool, or on the cluster of a pool, is refused
with 409 OperationNotAllowed.  A PUT replaces the writable properties it
carries and keeps those it omits; agent pools named in a cluster's
agentPoolProfiles are created or updated, the others kept.

An operation finishes on its lro_polls-th observation: a GET of its
Azure-AsyncOperation or Location URL, or of the resource it changes; then
provisioningState becomes Succeeded, or Failed when the change would exceed
quota_cores for a VM family (QuotaExceeded, as the compute provider words it).
finish_operations() ends every running operation at once.

Knobs: api_versions, lro_polls, retry_after, token_lifetime, quota_cores,
vm_sizes; expire_tokens(), deny(action), allow(action), throttle(n), fail(n),
set_kubeconfig(text), finish_operations().  Observations: token_requests and
tokens_issued per client id, count(method, path), bodies(path),
last_body(path), requests (every ARM request with its status), operations.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

TENANT = "5b1e7c52-3d4a-4f0b-9a6e-2c8d1f0e7a31"
SUBSCRIPTION = "0d6c8f2e-9a41-4b7c-8e15-3f2a6b9c4d70"
CLIENT_ID = "a3f9c1d2-6e47-4b58-9c0a-1d2e3f4a5b6c"
CLIENT_SECRET = "cloister-test-secret~0123456789"
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"    # AKS AAD server application
AKS_CLIENT_APP = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"    # kubelogin's public client
ARM_RESOURCES = ("https://management.azure.com", "https://management.core.windows.net")
API_VERSIONS = ("2024-09-01",)

# name -> (quota family, vCPUs); the sizes AKS would offer in the region
VM_SIZES = {
    "Standard_D2s_v3": ("standardDSv3Family", 2),
    "Standard_D4s_v3": ("standardDSv3Family", 4),
    "Standard_DS2_v2": ("standardDSv2Family", 2),
    "Standard_D2ds_v5": ("standardDDSv5Family", 2),
    "Standard_D4ds_v5": ("standardDDSv5Family", 4),
    "Standard_DC1s_v2": ("standardDCSv2Family", 1),
    "Standard_DC2s_v2": ("standardDCSv2Family", 2),
    "Standard_DC4s_v2": ("standardDCSv2Family", 4),
    "Standard_DC8_v2": ("standardDCSv2Family", 8),
    "Standard_DC1s_v3": ("standardDCSv3Family", 1),
    "Standard_DC2s_v3": ("standardDCSv3Family", 2),
    "Standard_DC4s_v3": ("standardDCSv3Family", 4),
    "Standard_DC8s_v3": ("standardDCSv3Family", 8),
    "Standard_DC16s_v3": ("standardDCSv3Family", 16),
    "Standard_DC2ds_v3": ("standardDCDSv3Family", 2),
    "Standard_DC4ds_v3": ("standardDCDSv3Family", 4),
    "Standard_DC8ds_v3": ("standardDCDSv3Family", 8),
}

_PROVIDER = r"/providers/microsoft\.containerservice"
_CLUSTER = (r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)" + _PROVIDER +
            r"/managedclusters/(?P<name>[^/]+)")
ROUTES = [
    ("cluster", re.compile(_CLUSTER + "$", re.I)),
    ("pools", re.compile(_CLUSTER + "/agentpools$", re.I)),
    ("pool", re.compile(_CLUSTER + "/agentpools/(?P<pool>[^/]+)$", re.I)),
    ("credential", re.compile(_CLUSTER + "/listclusterusercredential$", re.I)),
    ("operation", re.compile(r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER +
                             r"/locations/(?P<loc>[^/]+)/(?P<kind>operations|operationresults)"
                             r"/(?P<op>[^/]+)$", re.I)),
]
TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
ACTIONS = {   # (route, method) -> the Azure RBAC action it needs
    ("cluster", "GET"): "Microsoft.ContainerService/managedClusters/read",
    ("cluster", "PUT"): "Microsoft.ContainerService/managedClusters/write",
    ("cluster", "DELETE"): "Microsoft.ContainerService/managedClusters/delete",
    ("pools", "GET"): "Microsoft.ContainerService/managedClusters/agentPools/read",
    ("pool", "GET"): "Microsoft.ContainerService/managedClusters/agentPools/read",
    ("pool", "PUT"): "Microsoft.ContainerService/managedClusters/agentPools/write",
    ("pool", "DELETE"): "Microsoft.ContainerService/managedClusters/agentPools/delete",
    ("credential", "POST"):
        "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
    ("operation", "GET"): "Microsoft.ContainerService/locations/operations/read",
}
POOL_READ_ONLY = {"provisioningState", "powerState", "currentOrchestratorVersion",
                  "nodeImageVersion", "eTag", "name"}
CLUSTER_READ_ONLY = {"provisioningState", "powerState", "fqdn", "azurePortalFQDN",
                     "currentKubernetesVersion", "maxAgentPools", "agentPoolProfiles",
                     "privateFQDN", "resourceUID", "eTag"}
TAINT = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_./]*(=[-A-Za-z0-9_.]*)?:"
                   r"(NoSchedule|PreferNoSchedule|NoExecute)$")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _arm_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e7) % 10**7:07d}Z"


def _aad_time(t):
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t))


class ArmError(Exception):
    """An ARM error answer: status, code, message and extra headers."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler, context):
        self.context = context
        super().__init__(("127.0.0.1", 0), handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # the handshake happens in the request's own thread (Handler.setup)
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass    # a client that hangs up or fails the handshake is its own business


class AzurePeer:
    def __init__(self, tenant=TENANT, subscription=SUBSCRIPTION, client_id=CLIENT_ID,
                 client_secret=CLIENT_SECRET, resource_group="cloister-rg",
                 cluster="cloister-aks", location="westeurope", api_versions=API_VERSIONS,
                 lro_polls=2, retry_after=1):
        """A tenant with one application (client_id, client_secret), a subscription
        in it with resource_group in location, and there cluster (None for none):
        AAD-enabled, one System pool, no confidential computing add-on."""
        self.dir = tempfile.mkdtemp(prefix="cl-azure-")
        self.lock = threading.RLock()
        self.tenant, self.subscription, self.location = tenant, subscription, location
        self.resource_group, self.cluster_name = resource_group, cluster
        self.client_id, self.client_secret = client_id, client_secret
        self.api_versions = set(api_versions)
        self.lro_polls = lro_polls          # observations until an operation ends
        self.retry_after = retry_after      # seconds, in Retry-After of running operations
        self.token_lifetime = 3599
        self.quota_cores = {}               # VM family -> vCPU limit in a location
        self.vm_sizes = dict(VM_SIZES)
        self.tenants = {}                   # id -> set of domain names
        self.clients = {}                   # client id -> {secret, tenant, object_id}
        self.subscriptions = {}             # lower id -> {id, tenant, groups}
        self.clusters = {}                  # (sub, rg, name) lowered -> cluster
        self.tokens = {}                    # access token -> what it grants
        self.operations = {}                # id -> long-running operation
        self.denied = set()                 # (lower action, client id or None)
        self.throttled, self.throttle_retry = 0, 5
        self.failing = 0                    # ARM requests still to answer 500
        self.stalling, self.stall_seconds = 0, 0.0  # ARM requests still to hold back
        self.kubeconfig = None              # returned for every cluster when set
        self.token_requests, self.tokens_issued = {}, {}
        self.requests = []                  # (method, path, status) of ARM requests
        self._bodies = {}                   # lower path -> [bodies received]
        self._jwt_key = os.urandom(32)
        self._base = None                   # scheme and host of the ARM request at hand

        self._make_certificates()
        self.add_tenant(tenant)
        self.add_client(client_id, client_secret, tenant)
        self.add_subscription(subscription, tenant)
        self.add_resource_group(resource_group, location, subscription)
        if cluster:
            self.add_cluster(cluster)
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60

            def setup(self):
                self.request.settimeout(10)
                self.request.do_handshake()
                super().setup()

            def log_message(self, *args):
                pass

            def do_GET(self):
                peer._serve(self)

            do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_GET

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._server_pem, self._server_key)
        self.server = _TLSServer(Handler, context)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.localhost_url = f"https://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    # ---- set-up ------------------------------------------------------------

    def _make_certificates(self):
        d = self.dir
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n"
                    "[dn]\nCN = Cloister test Azure CA\n[v3]\n"
                    "basicConstraints = critical,CA:TRUE\n"
                    "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                    "extendedKeyUsage = serverAuth\n"
                    "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                    "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
        self.ca_pem = os.path.join(d, "ca.pem")
        self._server_pem = os.path.join(d, "server.pem")
        self._server_key = os.path.join(d, "server.key")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for cmd in (["openssl", "req", "-x509", *ec, "-keyout", os.path.join(d, "ca.key"),
                     "-out", self.ca_pem, "-days", "2", "-config", os.path.join(d, "ca.cnf")],
                    ["openssl", "req", "-new", *ec, "-keyout", self._server_key,
                     "-out", os.path.join(d, "server.csr"), "-subj", "/CN=localhost"],
                    ["openssl", "x509", "-req", "-in", os.path.join(d, "server.csr"),
                     "-CA", self.ca_pem, "-CAkey", os.path.join(d, "ca.key"),
                     "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                     "-out", self._server_pem, "-days", "2",
                     "-extfile", os.path.join(d, "server.ext")]):
            subprocess.run(cmd, check=True, capture_output=True)

    def add_tenant(self, tenant, domains=()):
        with self.lock:
            self.tenants[tenant] = {d.lower() for d in domains}

    def add_client(self, client_id, secret, tenant=None):
        """An application (service principal) in tenant; returns its object id."""
        with self.lock:
            oid = str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + client_id))
            self.clients[client_id] = {"secret": secret, "tenant": tenant or self.tenant,
                                       "object_id": oid}
            return oid

    def add_subscription(self, subscription, tenant=None):
        with self.lock:
            self.subscriptions[subscription.lower()] = {
                "id": subscription, "tenant": tenant or self.tenant, "groups": {}}

    def add_resource_group(self, name, location=None, subscription=None):
        with self.lock:
            sub = self.subscriptions[(subscription or self.subscription).lower()]
            sub["groups"][name.lower()] = {"name": name, "location": location or self.location}

    def add_cluster(self, name, resource_group=None, subscription=None, location=None,
                    sgx_addon=None, quote_helper=False, aad=True, kubernetes_version="1.30.6",
                    pools=None):
        """A managed cluster in the Succeeded state.  sgx_addon: None leaves
        ACCSGXDevicePlugin out of addonProfiles (as on a new cluster), False lists
        it disabled, True enabled.  pools: dicts of agent pool properties with
        a name (default one System pool of two Standard_D4ds_v5)."""
        sub = subscription or self.subscription
        rg = resource_group or self.resource_group
        with self.lock:
            group = self.subscriptions[sub.lower()]["groups"][rg.lower()]
            location = location or group["location"]
            addons = {}
            if sgx_addon is not None:
                addons["ACCSGXDevicePlugin"] = {
                    "enabled": bool(sgx_addon),
                    "config": {"ACCSGXQuoteHelperEnabled": "true" if quote_helper else "false"}
                    if sgx_addon else None}
            props = {"kubernetesVersion": kubernetes_version, "dnsPrefix": f"{name}-dns",
                     "addonProfiles": addons, "enableRBAC": True,
                     "nodeResourceGroup": f"MC_{rg}_{name}_{location}",
                     "supportPlan": "KubernetesOfficial",
                     "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay",
                                        "loadBalancerSku": "standard",
                                        "podCidr": "10.244.0.0/16",
                                        "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"},
                     "disableLocalAccounts": bool(aad)}
            if aad:
                props["aadProfile"] = {"managed": True, "enableAzureRBAC": True,
                                       "tenantID": self.subscriptions[sub.lower()]["tenant"]}
            c = {"sub": sub, "rg": group["name"], "name": name, "location": location,
                 "tags": {}, "props": props, "state": "Succeeded", "etag": str(uuid.uuid4()),
                 "pools": {}, "kubeconfig": None,
                 "suffix": hashlib.sha256(f"{sub}/{rg}/{name}".encode()).hexdigest()[:8],
                 "principal": str(uuid.uuid4())}
            if pools is None:
                pools = [{"name": "nodepool1", "vmSize": "Standard_D4ds_v5", "count": 2,
                          "mode": "System"}]
            for p in pools:
                p = dict(p)
                pool_name = p.pop("name")
                c["pools"][pool_name.lower()] = self._new_pool(pool_name, p, c)
            self.clusters[(sub.lower(), rg.lower(), name.lower())] = c
            return self.cluster_path(name, rg, sub)

    @staticmethod
    def _pool_defaults(kubernetes_version):
        return {"count": 1, "vmSize": "Standard_D2s_v3", "osType": "Linux", "osSKU": "Ubuntu",
                "mode": "User", "maxPods": 110, "type": "VirtualMachineScaleSets",
                "enableAutoScaling": False, "osDiskSizeGB": 128, "osDiskType": "Managed",
                "kubeletDiskType": "OS", "enableNodePublicIP": False, "enableFIPS": False,
                "orchestratorVersion": kubernetes_version, "nodeLabels": {}, "nodeTaints": []}

    def _new_pool(self, name, props, cluster):
        base = self._pool_defaults(cluster["props"]["kubernetesVersion"])
        base.update(props)
        return {"name": name, "props": base, "state": "Succeeded", "etag": str(uuid.uuid4())}

    # ---- knobs -------------------------------------------------------------

    def expire_tokens(self):
        """Every token issued so far expires now: the next ARM call with one is
        refused with ExpiredAuthenticationToken, so a client must get another."""
        with self.lock:
            for t in self.tokens.values():
                t["expires"] = min(t["expires"], int(time.time()) - 1)

    def deny(self, action, client_id=None):
        """Refuse an RBAC action (e.g. Microsoft.ContainerService/managedClusters/write)
        with 403 AuthorizationFailed, to client_id or to everyone."""
        with self.lock:
            self.denied.add((action.lower(), client_id))

    def allow(self, action, client_id=None):
        with self.lock:
            self.denied.discard((action.lower(), client_id))

    def throttle(self, n, retry_after=5):
        """The next n authenticated ARM requests get 429 with Retry-After."""
        with self.lock:
            self.throttled, self.throttle_retry = n, retry_after

    def fail(self, n):
        """The next n authenticated ARM requests get 500 InternalServerError,
        as ARM answers when a resource provider fails."""
        with self.lock:
            self.failing = n

    def stall(self, n, seconds):
        """The next n ARM requests are answered only after `seconds` of
        silence, as an overloaded front door answers (or a client gives up)."""
        with self.lock:
            self.stalling, self.stall_seconds = n, seconds

    def serve_kubelogin_kubeconfig(self, kube_text, cluster=None, resource_group=None):
        """set_kubeconfig with the Kubernetes peer's kubeconfig (kube_text) made
        into what an Entra-enabled AKS cluster returns: its user an exec of
        kubelogin for AKS's server application (AKS_SERVER_APP)."""
        self.set_kubeconfig(
            kube_text[:kube_text.index("users:")] + "users:\n- name: cloister-test\n  user:\n"
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
            f"      command: kubelogin\n      args: [get-token, --server-id, {AKS_SERVER_APP}]\n"
            + kube_text[kube_text.index("contexts:"):], cluster, resource_group)

    def set_kubeconfig(self, text, cluster=None, resource_group=None):
        """What listClusterUserCredential returns: for one cluster, or for all."""
        with self.lock:
            if cluster is None:
                self.kubeconfig = text
            else:
                self._cluster(self.subscription, resource_group or self.resource_group,
                              cluster)["kubeconfig"] = text

    def finish_operations(self):
        with self.lock:
            for op in self.operations.values():
                if op["status"] == "InProgress":
                    self._finish(op)

    # ---- observations ------------------------------------------------------

    def cluster_path(self, name=None, resource_group=None, subscription=None):
        return (f"/subscriptions/{subscription or self.subscription}/resourceGroups/"
                f"{resource_group or self.resource_group}/providers/"
                f"Microsoft.ContainerService/managedClusters/{name or self.cluster_name}")

    def pool_path(self, pool, cluster=None, resource_group=None, subscription=None):
        return self.cluster_path(cluster, resource_group, subscription) + f"/agentPools/{pool}"

    def count(self, method, path):
        """ARM requests received for path (query ignored, case-insensitive)."""
        key = urllib.parse.urlsplit(path).path.lower()
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and p.lower() == key)

    def bodies(self, path):
        """The bodies received for path, oldest first: parsed JSON, or bytes."""
        with self.lock:
            return list(self._bodies.get(urllib.parse.urlsplit(path).path.lower(), []))

    def last_body(self, path):
        bodies = self.bodies(path)
        return bodies[-1] if bodies else None

    def token_info(self, token):
        """What a token grants (client_id, object_id, tenant, audience, expires,
        expired), or None for one this peer did not issue; for fake servers that
        accept Entra tokens, such as a Kubernetes API server behind kubelogin."""
        with self.lock:
            t = self.tokens.get(token)
            return dict(t, expired=t["expires"] <= time.time()) if t else None

    def kubelogin_user(self, token):
        """Whom an AKS API server behind kubelogin takes the bearer of token for:
        "sp:<client id>" for a live token issued for AKS's server application
        (AKS_SERVER_APP), else None."""
        info = self.token_info(token)
        if info and not info["expired"] and AKS_SERVER_APP in str(info.get("audience")):
            return "sp:" + info["client_id"]
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- HTTP --------------------------------------------------------------

    def _serve(self, h):
        url = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            body = self._read_body(h)
        except ValueError:
            return self._write(h, 400, {}, b"")
        try:
            if TOKEN_PATH.match(path):
                status, headers, payload = self._token(h, path, body)
            elif path.lower().startswith("/subscriptions/"):
                with self.lock:
                    stall = self.stall_seconds if self.stalling > 0 else 0
                    self.stalling -= 1 if stall else 0
                time.sleep(stall)
                status, headers, payload = self._arm(h, path, query, body)
            else:
                status, headers, payload = 404, {}, b""
        except Exception:       # a bug in the fake: say so rather than hang up
            traceback.print_exc()
            status, headers, payload = 500, {}, {"error": {
                "code": "InternalServerError", "message": "the Azure peer failed; see stderr"}}
        self._write(h, status, headers, payload)

    def _read_body(self, h):
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        if n < 0:
            raise ValueError("negative length")
        return h.rfile.read(n) if n else b""

    def _write(self, h, status, headers, payload):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, str(v))
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)

    # ---- Entra ID ----------------------------------------------------------

    def _aad_error(self, status, error, code, description):
        now, trace, corr = time.time(), str(uuid.uuid4()), str(uuid.uuid4())
        return status, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
                        "x-ms-request-id": trace}, {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
                                 f"Correlation ID: {corr}\r\nTimestamp: {_aad_time(now)}",
            "error_codes": [code], "timestamp": _aad_time(now), "trace_id": trace,
            "correlation_id": corr, "error_uri": f"{self.url}/error?code={code}"}

    def _token(self, h, path, body):
        tenant = TOKEN_PATH.match(path)["tenant"]
        if h.command != "POST":
            return self._aad_error(400, "invalid_request", 900561,
                                   "The endpoint only accepts POST, OPTIONS requests. "
                                   f"Received a {h.command} request.")
        ctype = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        form = {}
        if ctype == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(
                body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        auth = h.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                form.setdefault("client_id", urllib.parse.unquote_plus(user))
                form.setdefault("client_secret", urllib.parse.unquote_plus(pw))
            except ValueError:
                pass
        client_id = form.get("client_id", "")
        with self.lock:
            if client_id:
                self.token_requests[client_id] = self.token_requests.get(client_id, 0) + 1
            return self._token_locked(tenant, form, client_id)

    def _token_locked(self, tenant, form, client_id):
        if tenant.lower() in ("common", "organizations", "consumers"):
            return self._aad_error(400, "invalid_request", 50059,
                                   "No tenant-identifying information found in either the "
                                   "request or implied by any provided credentials.")
        tenant_id = next((t for t, domains in self.tenants.items()
                          if t.lower() == tenant.lower() or tenant.lower() in domains), None)
        if tenant_id is None:
            return self._aad_error(400, "invalid_request", 90002,
                                   f"Tenant '{tenant}' not found. Check to make sure you have "
                                   "the correct tenant ID and are signing into the correct "
                                   "cloud. Check with your subscription administrator, this "
                                   "may happen if there are no active subscriptions for the "
                                   "tenant.")
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                return self._aad_error(400, "invalid_request", 900144,
                                       "The request body must contain the following "
                                       f"parameter: '{name}'.")
        if form["grant_type"] != "client_credentials":
            return self._aad_error(400, "unsupported_grant_type", 70003,
                                   "The app requested an unsupported grant type "
                                   f"'{form['grant_type']}'.")
        client = self.clients.get(client_id)
        if client is None or client["tenant"] != tenant_id:
            return self._aad_error(400, "unauthorized_client", 700016,
                                   f"Application with identifier '{client_id}' was not found "
                                   f"in the directory '{tenant}'. This can happen if the "
                                   "application has not been installed by the administrator "
                                   "of the tenant or consented to by any user in the tenant. "
                                   "You may have sent your authentication request to the "
                                   "wrong tenant.")
        if not form.get("client_secret"):
            return self._aad_error(401, "invalid_client", 7000216,
                                   "'client_assertion', 'client_secret' or 'request' is "
                                   "required for the 'client_credentials' grant type.")
        if not hmac.compare_digest(form["client_secret"].encode(), client["secret"].encode()):
            return self._aad_error(401, "invalid_client", 7000215,
                                   "Invalid client secret provided. Ensure the secret being "
                                   "sent in the request is the client secret value, not the "
                                   f"client secret ID, for a secret added to app "
                                   f"'{client_id}'.")
        scopes = form["scope"].split()
        for s in scopes:
            if not s.endswith("/.default"):
                return self._aad_error(400, "invalid_scope", 1002012,
                                       f"The provided value for scope {s} is not valid. Client "
                                       "credential flows must have a scope value with /.default "
                                       "suffixed to the resource identifier (application ID "
                                       "URI).")
        if len(scopes) != 1:
            return self._aad_error(400, "invalid_scope", 70011,
                                   "The provided request must include a 'scope' input "
                                   "parameter. The provided value for the input parameter "
                                   f"'scope' is not valid. The scope {form['scope']} is not "
                                   "valid.")
        audience = scopes[0][:-len("/.default")]
        resource = audience.rstrip("/")
        if resource.startswith("api://"):
            resource = resource[len("api://"):]
        if resource not in ARM_RESOURCES and resource != AKS_SERVER_APP:
            return self._aad_error(400, "invalid_resource", 500011,
                                   f"The resource principal named {audience} was not found in "
                                   f"the tenant named {tenant}. This can happen if the "
                                   "application has not been installed by the administrator "
                                   "of the tenant or consented to by any user in the tenant. "
                                   "You might have sent your authentication request to the "
                                   "wrong tenant.")
        now = int(time.time())
        claims = {"aud": audience if resource in ARM_RESOURCES else resource,
                  "iss": f"https://sts.windows.net/{tenant_id}/", "iat": now, "nbf": now,
                  "exp": now + self.token_lifetime, "appid": client_id, "appidacr": "1",
                  "idp": f"https://sts.windows.net/{tenant_id}/", "oid": client["object_id"],
                  "sub": client["object_id"], "tid": tenant_id, "ver": "1.0",
                  "uti": _b64url(os.urandom(16))}
        head = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        signing = head + "." + _b64url(json.dumps(claims).encode())
        token = signing + "." + _b64url(hmac.new(self._jwt_key, signing.encode(),
                                                 hashlib.sha256).digest())
        self.tokens[token] = {"client_id": client_id, "object_id": client["object_id"],
                              "tenant": tenant_id, "audience": claims["aud"],
                              "arm": resource in ARM_RESOURCES, "expires": claims["exp"]}
        self.tokens_issued[client_id] = self.tokens_issued.get(client_id, 0) + 1
        return 200, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, {
            "token_type": "Bearer", "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime, "access_token": token}

    # ---- ARM: the request pipeline -----------------------------------------

    def _arm(self, h, path, query, body):
        headers = {"x-ms-request-id": str(uuid.uuid4()),
                   "x-ms-correlation-request-id":
                       h.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()),
                   "Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1"}
        if h.headers.get("x-ms-client-request-id"):
            headers["x-ms-client-request-id"] = h.headers["x-ms-client-request-id"]
        headers["x-ms-routing-request-id"] = (f"{self.location.upper()}:"
                                              f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}:"
                                              f"{headers['x-ms-request-id']}")
        with self.lock:
            host = h.headers.get("Host", "")
            self._base = f"https://{host}" if re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host) \
                else self.url   # operation URLs name the host the client called
            if h.command in ("PUT", "POST", "PATCH") and body:
                try:
                    kept = json.loads(body)
                except ValueError:
                    kept = body
                self._bodies.setdefault(path.lower(), []).append(kept)
            try:
                status, extra, payload = self._arm_locked(h, path, query, body)
            except ArmError as e:
                status, extra = e.status, e.headers
                payload = {"error": {"code": e.code, "message": e.message}}
            self.requests.append((h.command, path, status))
        headers.update(extra)
        return status, headers, payload

    def _arm_locked(self, h, path, query, body):
        token = self._authenticate(h)
        kind = "read" if h.command in ("GET", "HEAD") else \
            "delete" if h.command == "DELETE" else "write"
        m = route = None
        for name, pattern in ROUTES:
            m = pattern.match(path)
            if m:
                route = name
                break
        sub_id = m["sub"] if m else path.split("/")[2]
        if self.failing > 0:
            self.failing -= 1
            raise ArmError(500, "InternalServerError", "Encountered internal server error. "
                           "Diagnostic information: timestamp '" + time.strftime(
                               "%Y%m%dT%H%M%SZ", time.gmtime()) + "'.")
        if self.throttled > 0:
            self.throttled -= 1
            raise ArmError(429, "SubscriptionRequestsThrottled",
                           f"Number of '{kind}' requests for subscription '{sub_id}' actor "
                           f"'{token['object_id']}' exceeded. Please try again after "
                           f"'{self.throttle_retry}' seconds after additional tokens are "
                           "available. Refer to https://aka.ms/arm-throttling for additional "
                           "information.",
                           {"Retry-After": self.throttle_retry,
                            f"x-ms-ratelimit-remaining-subscription-{kind}s": 0})
        version = (query.get("api-version") or [""])[0]
        if not version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for "
                           "all requests.")
        supported = ", ".join(sorted(self.api_versions))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", version):
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{version}' is invalid. The supported versions "
                           f"are '{supported}'.")
        if version not in self.api_versions:
            rtype = {"pool": "managedClusters/agentPools", "pools": "managedClusters/agentPools",
                     "operation": "locations/operations"}.get(route, "managedClusters")
            raise ArmError(400, "NoRegisteredProviderFound",
                           f"No registered resource provider found for location "
                           f"'{self.location}' and API version '{version}' for type '{rtype}'. "
                           f"The supported api-versions are '{supported}'. The supported "
                           f"locations are '{self.location}'.")
        sub = self.subscriptions.get(sub_id.lower())
        if sub is None:
            raise ArmError(404, "SubscriptionNotFound",
                           f"The subscription '{sub_id}' could not be found.")
        if sub["tenant"] != token["tenant"]:
            raise ArmError(401, "InvalidAuthenticationTokenTenant",
                           f"The access token is from the wrong issuer 'https://sts.windows.net/"
                           f"{token['tenant']}/'. It must match the tenant 'https://sts.windows"
                           f".net/{sub['tenant']}/' associated with this subscription. Please "
                           f"use the authority (URL) '{self.url}/{sub['tenant']}' to get the "
                           "token. Note, if the subscription is transferred to another tenant "
                           "there is no impact to the services, but information about new "
                           "tenant could take time to propagate (up to an hour). If you just "
                           "transferred your subscription and see this error message, please "
                           "try back later.", self._challenge(sub["tenant"], "invalid_token"))
        action = ACTIONS.get((route, h.command))
        if route is None or action is None:
            raise ArmError(404 if route is None else 405,
                           "InvalidResourceType" if route is None else "NotImplementedByFake",
                           f"The fake ARM does not serve {h.command} {path}.")
        if (action.lower(), None) in self.denied or \
                (action.lower(), token["client_id"]) in self.denied:
            oid = token["object_id"]
            raise ArmError(403, "AuthorizationFailed",
                           f"The client '{oid}' with object id '{oid}' does not have "
                           f"authorization to perform action '{action}' over scope '{path}' "
                           "or the scope is invalid. If access was recently granted, please "
                           "refresh your credentials.")
        rate = {"read": ("reads", 249), "write": ("writes", 199), "delete": ("deletes", 199)}[kind]
        extra = {f"x-ms-ratelimit-remaining-subscription-{rate[0]}": rate[1]}
        if route == "operation":
            status, headers, payload = self._operation(m, sub)
        else:
            if m["rg"].lower() not in sub["groups"]:
                raise ArmError(404, "ResourceGroupNotFound",
                               f"Resource group '{m['rg']}' could not be found.")
            handler = getattr(self, f"_{route}_{h.command.lower()}")
            status, headers, payload = handler(m, h, body, version)
        extra.update(headers)
        return status, extra, payload

    def _challenge(self, tenant, error, description=None):
        value = f'Bearer authorization_uri="{self.url}/{tenant}", error="{error}"'
        if description:
            value += f', error_description="{description}"'
        return {"WWW-Authenticate": value}

    def _authenticate(self, h):
        auth = h.headers.get("Authorization", "")
        if not auth:
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is missing.",
                           {"WWW-Authenticate": f'Bearer authorization_uri="{self.url}/", '
                                                'error="invalid_token", error_description="The '
                                                'authentication failed because of missing '
                                                '\'Authorization\' header."'})
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is provided in "
                           "an invalid format.",
                           {"WWW-Authenticate": f'Bearer authorization_uri="{self.url}/", '
                                                'error="invalid_token", error_description="The '
                                                'authentication failed because of invalid '
                                                '\'Authorization\' header."'})
        token = self.tokens.get(value.strip())
        if token is None:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           self._challenge(self.tenant, "invalid_token",
                                           "The access token is invalid."))
        if not token["arm"]:
            message = (f"The access token has been obtained for wrong audience or resource "
                       f"'{token['audience']}'. It should exactly match with one of the "
                       "allowed audiences 'https://management.core.windows.net/','https://"
                       "management.core.windows.net','https://management.azure.com/',"
                       "'https://management.azure.com'.")
            raise ArmError(401, "InvalidAuthenticationTokenAudience", message,
                           self._challenge(token["tenant"], "invalid_token", message))
        now = time.time()
        if token["expires"] <= now:
            fmt = "%m/%d/%Y %H:%M:%S"
            message = (f"The access token expiry UTC time "
                       f"'{time.strftime(fmt, time.gmtime(token['expires']))}' is earlier than "
                       f"current UTC time '{time.strftime(fmt, time.gmtime(now))}'.")
            raise ArmError(401, "ExpiredAuthenticationToken", message,
                           self._challenge(token["tenant"], "invalid_token", message))
        return token

    # ---- ARM: resources ----------------------------------------------------

    def _cluster(self, sub, rg, name, must=True):
        c = self.clusters.get((sub.lower(), rg.lower(), name.lower()))
        if c is None and must:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.ContainerService/managedClusters/{name}' "
                           f"under resource group '{rg}' was not found. For more details "
                           "please go to https://aka.ms/ARMResourceNotFoundFix")
        return c

    def _pool(self, c, name, must=True):
        p = c["pools"].get(name.lower())
        if p is None and must:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.ContainerService/managedClusters/"
                           f"{c['name']}/agentPools/{name}' under resource group '{c['rg']}' "
                           "was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix")
        return p

    def _cluster_json(self, c):
        props = json.loads(json.dumps(c["props"]))
        fqdn = f"{props['dnsPrefix']}-{c['suffix']}.hcp.{c['location']}.azmk8s.io"
        props.update({"provisioningState": c["state"], "powerState": {"code": "Running"},
                      "currentKubernetesVersion": props["kubernetesVersion"],
                      "fqdn": fqdn, "azurePortalFQDN": fqdn.replace(".hcp.", ".portal.hcp."),
                      "maxAgentPools": 100,
                      "agentPoolProfiles": [{"name": p["name"], **self._pool_props(p)}
                                            for p in c["pools"].values()]})
        return {"id": self.cluster_path(c["name"], c["rg"], c["sub"]).replace(
                    "/resourceGroups/", "/resourcegroups/"),
                "location": c["location"], "name": c["name"], "tags": c["tags"],
                "type": "Microsoft.ContainerService/ManagedClusters", "eTag": c["etag"],
                "sku": {"name": "Base", "tier": "Free"},
                "identity": {"type": "SystemAssigned", "principalId": c["principal"],
                             "tenantId": self.subscriptions[c["sub"].lower()]["tenant"]},
                "properties": props}

    def _pool_props(self, p):
        props = json.loads(json.dumps(p["props"]))
        props.update({"provisioningState": p["state"], "powerState": {"code": "Running"},
                      "currentOrchestratorVersion": props["orchestratorVersion"],
                      "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202410.15.0",
                      "eTag": p["etag"]})
        return props

    def _pool_json(self, c, p):
        return {"id": self.pool_path(p["name"], c["name"], c["rg"], c["sub"]).replace(
                    "/resourceGroups/", "/resourcegroups/"),
                "name": p["name"], "type": "Microsoft.ContainerService/managedClusters/agentPools",
                "properties": self._pool_props(p)}

    def _json_body(self, h, body):
        ctype = h.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ArmError(415, "UnsupportedMediaType",
                           f"The content media type '{ctype}' is not supported. Only "
                           "'application/json' is supported.")
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise ArmError(400, "InvalidRequestContent",
                           f"The request content was invalid and could not be deserialized: "
                           f"'{e}'.")
        if not isinstance(doc, dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: "
                           "'the request content must be a JSON object'.")
        props = doc.get("properties", {})
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: "
                           "'properties must be an object'.")
        return doc, props

    def _precondition(self, h, etag, what):
        """AKS's eTag rules for PUT and DELETE; etag is None when nothing exists."""
        if_match = h.headers.get("If-Match")
        if_none = h.headers.get("If-None-Match")
        if if_none is not None:
            if if_none.strip() != "*":
                raise ArmError(400, "InvalidParameter",
                               "The If-None-Match header can only be empty or '*'.")
            if etag is not None:
                raise ArmError(412, "PreconditionFailed",
                               f"Operation is not allowed because {what} already exists and "
                               "the If-None-Match header is '*'.")
        if if_match is not None and if_match.strip():
            wanted = [v.strip().removeprefix("W/").strip('"') for v in if_match.split(",")]
            if etag is None or ("*" not in wanted and etag not in wanted):
                raise ArmError(412, "PreconditionFailed",
                               f"Operation is not allowed because the eTag '{if_match.strip()}' "
                               f"in the If-Match header does not match the eTag of {what}.")

    def _busy(self, c, pool=None):
        """The running operation that a write on c (or its pool) would collide with."""
        for op in self.operations.values():
            if op["status"] == "InProgress" and op["cluster"] is c and \
                    (pool is None or op["pool"] is None or op["pool"] == pool.lower()):
                what = "agent pool" if op["pool"] else "managed cluster"
                raise ArmError(409, "OperationNotAllowed",
                               f"Operation is not allowed because there's an in progress "
                               f"{op['action']} {what} operation started at "
                               f"{_arm_time(op['start'])}. Please wait for it to finish before "
                               "starting a new operation. See https://aka.ms/aks-pending-"
                               "operation for more details")

    def _check_pool(self, name, props, old, location, kubernetes_version):
        """Validation AKS does when accepting a pool; returns the new properties."""
        merged = dict(old["props"]) if old else self._pool_defaults(kubernetes_version)
        merged.update({k: v for k, v in props.items() if k not in POOL_READ_ONLY})
        size = merged["vmSize"]
        known = {k.lower(): k for k in self.vm_sizes}
        if not isinstance(size, str) or size.lower() not in known:
            raise ArmError(400, "BadRequest",
                           f"The VM size of AgentPoolProfile:{name} is not allowed in your "
                           f"subscription in location '{location}'. For more details, please "
                           "visit https://aka.ms/aks/quotas-skus-regions")
        if old and size.lower() != old["props"]["vmSize"].lower():
            raise ArmError(400, "PropertyChangeNotAllowed",
                           "Changing property 'vmSize' is not allowed.")
        count = merged.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            raise ArmError(400, "InvalidParameter",
                           f"The value of parameter agentPoolProfile.count of {name} is "
                           "invalid: it must be an integer from 0 to 1000.")
        if merged.get("mode", "User") not in ("System", "User"):
            raise ArmError(400, "InvalidParameter",
                           f"The value of parameter agentPoolProfile.mode of {name} is "
                           "invalid: it must be System or User.")
        if merged.get("osType", "Linux") not in ("Linux", "Windows"):
            raise ArmError(400, "InvalidParameter",
                           f"The value of parameter agentPoolProfile.osType of {name} is "
                           "invalid: it must be Linux or Windows.")
        taints = merged.get("nodeTaints") or []
        if not isinstance(taints, list) or not all(isinstance(t, str) and TAINT.match(t)
                                                   for t in taints):
            raise ArmError(400, "InvalidParameter",
                           f"The value of parameter agentPoolProfile.nodeTaints of {name} is "
                           "invalid: each taint must be key=value:Effect with Effect one of "
                           "NoSchedule, PreferNoSchedule, NoExecute.")
        labels = merged.get("nodeLabels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: "
                           f"'nodeLabels of {name} must map strings to strings'.")
        merged["vmSize"] = known[size.lower()]
        return merged

    def _quota_error(self, c, changes):
        """changes: {pool name lowered: new properties} in cluster c.  The
        QuotaExceeded error the operation ends with, or None."""
        sub = c["sub"].lower()
        before, after = {}, {}
        for other in self.clusters.values():
            if other["sub"].lower() != sub or other["location"] != c["location"]:
                continue
            for key, p in other["pools"].items():
                if p["state"] == "Failed":
                    continue
                fam, cpus = self.vm_sizes.get(p["props"]["vmSize"], ("", 0))
                before[fam] = before.get(fam, 0) + cpus * p["props"]["count"]
                if other is not c or key not in changes:
                    after[fam] = after.get(fam, 0) + cpus * p["props"]["count"]
        for props in changes.values():
            fam, cpus = self.vm_sizes[props["vmSize"]]
            after[fam] = after.get(fam, 0) + cpus * props["count"]
        for fam, total in after.items():
            limit = self.quota_cores.get(fam)
            if limit is not None and total > limit and total > before.get(fam, 0):
                usage = before.get(fam, 0)
                return {"code": "QuotaExceeded",
                        "message": f"Operation could not be completed as it results in "
                                   f"exceeding approved {fam} Cores quota. Additional details - "
                                   f"Deployment Model: Resource Manager, Location: "
                                   f"{c['location']}, Current Limit: {limit}, Current Usage: "
                                   f"{usage}, Additional Required: {total - usage}, (Minimum) "
                                   f"New Limit Required: {total}. Submit a request for Quota "
                                   "increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_"
                                   "Azure_Capacity/UsageAndQuota.ReactView by specifying "
                                   "parameters listed in the 'Details' section for deployment "
                                   "to succeed. Please read more about quota limits at "
                                   "https://docs.microsoft.com/en-us/azure/azure-supportability/"
                                   "per-vm-quota-requests"}
        return None

    # ---- ARM: handlers -----------------------------------------------------

    def _cluster_get(self, m, h, body, version):
        self._observe(self._cluster(m["sub"], m["rg"], m["name"]), None)
        return 200, {}, self._cluster_json(self._cluster(m["sub"], m["rg"], m["name"]))

    def _cluster_put(self, m, h, body, version):
        doc, props = self._json_body(h, body)
        rg = m["rg"]
        c = self._cluster(m["sub"], rg, m["name"], must=False)
        self._precondition(h, c["etag"] if c else None, f"managed cluster '{m['name']}'")
        if c:
            self._busy(c)
        location = doc.get("location")
        if c is None and not location:
            raise ArmError(400, "LocationRequired",
                           "The location property is required for this definition.")
        location = (c["location"] if c else location).replace(" ", "").lower()
        addons = props.get("addonProfiles", {})
        if not isinstance(addons, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid "
                           "and could not be deserialized: 'addonProfiles must be an object'.")
        for name, addon in addons.items():
            if not isinstance(addon, dict) or not isinstance(addon.get("enabled"), bool):
                raise ArmError(400, "InvalidParameter",
                               f"The value of parameter addonProfiles.{name}.enabled is "
                               "invalid: it is required and must be a boolean.")
            config = addon.get("config")
            if config is not None and (not isinstance(config, dict) or not all(
                    isinstance(v, str) for v in config.values())):
                raise ArmError(400, "InvalidRequestContent",
                               "The request content was invalid and could not be "
                               f"deserialized: 'addonProfiles.{name}.config must map strings "
                               "to strings'.")
        profiles = props.get("agentPoolProfiles")
        if c is None and not profiles:
            raise ArmError(400, "InvalidParameter",
                           "The value of parameter agentPoolProfiles is invalid: a managed "
                           "cluster needs at least one agent pool.")
        if profiles is not None and not (isinstance(profiles, list) and all(
                isinstance(p, dict) and isinstance(p.get("name"), str) for p in profiles)):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid "
                           "and could not be deserialized: 'agentPoolProfiles must be a list "
                           "of objects with a name'.")
        version_k8s = props.get("kubernetesVersion") or \
            (c["props"]["kubernetesVersion"] if c else "1.30.6")
        changes = {}
        for p in profiles or []:
            old = c["pools"].get(p["name"].lower()) if c else None
            changes[p["name"].lower()] = self._check_pool(p["name"], p, old, location,
                                                          version_k8s)
        created = c is None
        if created:     # the parts add_cluster fills in; AAD only when the PUT asks
            self.add_cluster(m["name"], rg, m["sub"], location, pools=[],
                             kubernetes_version=version_k8s)
            c = self._cluster(m["sub"], rg, m["name"])
            c["props"].pop("aadProfile", None)
            c["props"]["disableLocalAccounts"] = False
        c["props"].update({k: v for k, v in props.items() if k not in CLUSTER_READ_ONLY})
        if isinstance(doc.get("tags"), dict):
            c["tags"] = doc["tags"]
        error = self._quota_error(c, changes)
        for key, new in changes.items():
            p = c["pools"].get(key)
            if p is None:
                name = next(x["name"] for x in profiles if x["name"].lower() == key)
                c["pools"][key] = p = self._new_pool(name, {}, c)
                p["state"] = "Creating"
            else:
                p["state"] = "Updating"
            p["props"] = new
        c["state"] = "Creating" if created else "Updating"
        c["etag"] = str(uuid.uuid4())
        for p in c["pools"].values():
            p["etag"] = str(uuid.uuid4())
        headers = self._start(c, None, "create" if created else "update", version, error)
        return (201 if created else 200), headers, self._cluster_json(c)

    def _cluster_delete(self, m, h, body, version):
        c = self._cluster(m["sub"], m["rg"], m["name"], must=False)
        self._precondition(h, c["etag"] if c else None, f"managed cluster '{m['name']}'")
        if c is None:
            return 204, {}, b""
        self._busy(c)
        c["state"] = "Deleting"
        return 202, self._start(c, None, "delete", version, None), b""

    def _pools_get(self, m, h, body, version):
        c = self._cluster(m["sub"], m["rg"], m["name"])
        return 200, {}, {"value": [self._pool_json(c, p) for p in c["pools"].values()]}

    def _pool_get(self, m, h, body, version):
        c = self._cluster(m["sub"], m["rg"], m["name"])
        self._pool(c, m["pool"])
        self._observe(c, m["pool"])
        return 200, {}, self._pool_json(c, self._pool(c, m["pool"]))

    def _pool_put(self, m, h, body, version):
        doc, props = self._json_body(h, body)
        c = self._cluster(m["sub"], m["rg"], m["name"])
        old = self._pool(c, m["pool"], must=False)
        self._precondition(h, old["etag"] if old else None, f"agent pool '{m['pool']}'")
        self._busy(c, m["pool"])
        new = self._check_pool(m["pool"], props, old, c["location"],
                               c["props"]["kubernetesVersion"])
        error = self._quota_error(c, {m["pool"].lower(): new})
        if old is None:
            old = c["pools"][m["pool"].lower()] = self._new_pool(m["pool"], {}, c)
            old["state"], created = "Creating", True
        else:
            old["state"], created = "Updating", False
        old["props"], old["etag"] = new, str(uuid.uuid4())
        headers = self._start(c, m["pool"], "create" if created else "update", version, error)
        return (201 if created else 200), headers, self._pool_json(c, old)

    def _pool_delete(self, m, h, body, version):
        c = self._cluster(m["sub"], m["rg"], m["name"])
        p = self._pool(c, m["pool"], must=False)
        self._precondition(h, p["etag"] if p else None, f"agent pool '{m['pool']}'")
        if p is None:
            return 204, {}, b""
        self._busy(c, m["pool"])
        p["state"] = "Deleting"
        return 202, self._start(c, m["pool"], "delete", version, None), b""

    def _credential_post(self, m, h, body, version):
        c = self._cluster(m["sub"], m["rg"], m["name"])
        text = c["kubeconfig"] or self.kubeconfig or self._default_kubeconfig(c)
        if isinstance(text, str):
            text = text.encode()
        return 200, {}, {"kubeconfigs": [{"name": "clusterUser",
                                          "value": base64.b64encode(text).decode()}]}

    def _default_kubeconfig(self, c):
        """What AKS returns for a cluster: with AAD, an exec user running kubelogin."""
        server = f"https://{self._cluster_json(c)['properties']['fqdn']}:443"
        with open(self.ca_pem, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        user = f"clusterUser_{c['rg']}_{c['name']}"
        head = (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n"
                f"    server: {server}\n  name: {c['name']}\ncontexts:\n- context:\n"
                f"    cluster: {c['name']}\n    user: {user}\n  name: {c['name']}\n"
                f"current-context: {c['name']}\nkind: Config\npreferences: {{}}\nusers:\n"
                f"- name: {user}\n  user:\n")
        if "aadProfile" not in c["props"]:
            token = hashlib.sha256(f"{c['suffix']}:user".encode()).hexdigest()
            return head + f"    token: {token}\n"
        tenant = c["props"]["aadProfile"].get("tenantID") or \
            self.subscriptions[c["sub"].lower()]["tenant"]
        args = ["get-token", "--environment", "AzurePublicCloud", "--server-id", AKS_SERVER_APP,
                "--client-id", AKS_CLIENT_APP, "--tenant-id", tenant, "--login", "devicecode"]
        return head + ("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                       "      args:\n" + "".join(f"      - {a}\n" for a in args) +
                       "      command: kubelogin\n      env: null\n"
                       "      installHint: |2\n\n        kubelogin is not installed which is "
                       "required to connect to AAD enabled cluster.\n\n        To learn more, "
                       "please go to https://aka.ms/aks/kubelogin\n"
                       "      interactiveMode: IfAvailable\n      provideClusterInfo: false\n")

    # ---- ARM: long-running operations --------------------------------------

    def _start(self, c, pool, action, version, error):
        op_id = str(uuid.uuid4())
        op = {"id": op_id, "cluster": c, "pool": pool.lower() if pool else None,
              "action": action, "status": "InProgress", "polls": 0, "error": error,
              "start": time.time(), "end": None, "sub": c["sub"], "location": c["location"]}
        self.operations[op_id] = op
        base = (f"{self._base}/subscriptions/{c['sub']}/providers/Microsoft.ContainerService/"
                f"locations/{c['location']}")
        tail = (f"{op_id}?api-version={version}&t={int(op['start'] * 1e7)}"
                f"&c={_b64url(os.urandom(12))}")
        return {"Azure-AsyncOperation": f"{base}/operations/{tail}",
                "Location": f"{base}/operationresults/{tail}", "Retry-After": self.retry_after}

    def _observe(self, c, pool):
        for op in list(self.operations.values()):
            if op["status"] == "InProgress" and op["cluster"] is c and \
                    op["pool"] == (pool.lower() if pool else None):
                self._poll(op)

    def _poll(self, op):
        if op["status"] == "InProgress":
            op["polls"] += 1
            if op["polls"] >= self.lro_polls:
                self._finish(op)

    def _finish(self, op):
        c = op["cluster"]
        op["status"] = "Failed" if op["error"] else "Succeeded"
        op["end"] = time.time()
        state = op["status"]
        if op["pool"] is None:
            if op["action"] == "delete" and not op["error"]:
                self.clusters = {k: v for k, v in self.clusters.items() if v is not c}
                return
            c["state"] = state
            for p in c["pools"].values():
                if p["state"] in ("Creating", "Updating"):
                    p["state"] = state
        else:
            if op["action"] == "delete" and not op["error"]:
                c["pools"].pop(op["pool"], None)
                return
            if op["pool"] in c["pools"]:
                c["pools"][op["pool"]]["state"] = state

    def _operation(self, m, sub):
        op = self.operations.get(m["op"])
        if op is None or op["sub"].lower() != sub["id"].lower():
            raise ArmError(404, "NotFound", f"Operation '{m['op']}' was not found.")
        self._poll(op)
        running = {"Retry-After": self.retry_after} if op["status"] == "InProgress" else {}
        if m["kind"].lower() == "operations":
            doc = {"id": f"/subscriptions/{op['sub']}/providers/Microsoft.ContainerService/"
                         f"locations/{op['location']}/operations/{op['id']}",
                   "name": op["id"], "status": op["status"], "startTime": _arm_time(op["start"])}
            if op["end"]:
                doc["endTime"] = _arm_time(op["end"])
            if op["status"] == "Failed":
                doc["error"] = dict(op["error"])
            return 200, running, doc
        if op["status"] == "InProgress":
            return 202, running, b""
        if op["status"] == "Failed":
            return 400, {}, {"error": dict(op["error"])}
        if op["action"] == "delete":
            return 204, {}, b""
        c = op["cluster"]
        if op["pool"] is None:
            return 200, {}, self._cluster_json(c)
        p = c["pools"].get(op["pool"])
        return (200, {}, self._pool_json(c, p)) if p else (204, {}, b"")
