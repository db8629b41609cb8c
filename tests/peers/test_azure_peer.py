"""The Azure peer (azure.py) behaves as Entra ID and ARM document: tokens and
their errors, ARM's authentication, eTags, long-running operations through
both URLs, quota failure, the 403 and 429 knobs, and the user kubeconfig.
Run: cd tests/peers && python3 -m unittest -v test_azure_peer"""
import base64
import json
import ssl
import unittest
import urllib.error
import urllib.parse
import urllib.request

from azure import AKS_CLIENT_APP, AKS_SERVER_APP, AzurePeer

API = "api-version=2024-09-01"
ARM_SCOPE = "https://management.azure.com/.default"


class AzurePeerTest(unittest.TestCase):
    def setUp(self):
        self.peer = AzurePeer()
        self.addCleanup(self.peer.close)
        self.tls = ssl.create_default_context(cafile=self.peer.ca_pem)

    # ---- helpers -----------------------------------------------------------

    def call(self, method, url, body=None, headers=None):
        """(status, headers, parsed JSON or raw bytes) of one request."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            resp = urllib.request.urlopen(req, context=self.tls, timeout=10)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            data = resp.read()
            try:
                data = json.loads(data) if data else None
            except ValueError:
                pass
            return resp.status, resp.headers, data

    def token_request(self, tenant=None, **form):
        fields = {"grant_type": "client_credentials", "client_id": self.peer.client_id,
                  "client_secret": self.peer.client_secret, "scope": ARM_SCOPE}
        fields.update(form)
        fields = {k: v for k, v in fields.items() if v is not None}
        return self.call("POST", f"{self.peer.url}/{tenant or self.peer.tenant}/oauth2/v2.0/token",
                         urllib.parse.urlencode(fields).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"})

    def token(self, scope=ARM_SCOPE):
        status, _, doc = self.token_request(scope=scope)
        self.assertEqual(status, 200, doc)
        return doc["access_token"]

    def arm(self, method, path, body=None, token=None, query=API, headers=None):
        headers = dict(headers or {})
        if token is not False:
            headers["Authorization"] = "Bearer " + (token or self.token())
        url = path if path.startswith("https://") else self.peer.url + path
        if query:
            url += ("&" if "?" in url else "?") + query
        return self.call(method, url, body, headers)

    def assert_aad_error(self, resp, status, error, code):
        got_status, _, doc = resp
        self.assertEqual(got_status, status, doc)
        self.assertEqual(doc["error"], error)
        self.assertEqual(doc["error_codes"], [code])
        self.assertTrue(doc["error_description"].startswith(f"AADSTS{code}: "), doc)
        for key in ("timestamp", "trace_id", "correlation_id"):
            self.assertIn(key, doc)
        self.assertIn("Trace ID: " + doc["trace_id"], doc["error_description"])

    def assert_arm_error(self, resp, status, code):
        got_status, headers, doc = resp
        self.assertEqual(got_status, status, doc)
        self.assertEqual(doc["error"]["code"], code, doc)
        self.assertTrue(doc["error"]["message"])
        return headers, doc["error"]["message"]

    # ---- Entra ID ----------------------------------------------------------

    def test_token_client_credentials(self):
        status, headers, doc = self.token_request()
        self.assertEqual(status, 200)
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["expires_in"], 3599)
        self.assertIn("no-store", headers["Cache-Control"])
        self.assertEqual(doc["access_token"].count("."), 2)     # JWT-shaped
        info = self.peer.token_info(doc["access_token"])
        self.assertEqual(info["audience"], "https://management.azure.com")
        self.assertFalse(info["expired"])
        # HTTP Basic client authentication, and the AKS server application's scope
        basic = base64.b64encode(f"{self.peer.client_id}:{self.peer.client_secret}".encode())
        status, _, doc = self.call(
            "POST", f"{self.peer.url}/{self.peer.tenant}/oauth2/v2.0/token",
            urllib.parse.urlencode({"grant_type": "client_credentials",
                                    "scope": AKS_SERVER_APP + "/.default"}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "Authorization": "Basic " + basic.decode()})
        self.assertEqual(status, 200, doc)
        self.assertEqual(self.peer.token_info(doc["access_token"])["audience"], AKS_SERVER_APP)
        self.assertEqual(self.peer.token_requests[self.peer.client_id], 2)
        self.assertEqual(self.peer.tokens_issued[self.peer.client_id], 2)

    def test_token_errors(self):
        self.assert_aad_error(self.token_request(client_secret="wrong"), 401,
                              "invalid_client", 7000215)
        self.assert_aad_error(self.token_request(client_secret=None), 401,
                              "invalid_client", 7000216)
        self.assert_aad_error(self.token_request(client_id="11111111-2222-3333-4444-555555555555"),
                              400, "unauthorized_client", 700016)
        self.assert_aad_error(self.token_request(scope="https://management.azure.com/"), 400,
                              "invalid_scope", 1002012)
        self.assert_aad_error(self.token_request(scope=ARM_SCOPE + " api://other/.default"),
                              400, "invalid_scope", 70011)
        self.assert_aad_error(self.token_request(scope="https://vault.example/.default"), 400,
                              "invalid_resource", 500011)
        self.assert_aad_error(self.token_request(tenant="contoso.example"), 400,
                              "invalid_request", 90002)
        self.assert_aad_error(self.token_request(grant_type=None), 400,
                              "invalid_request", 900144)
        self.assert_aad_error(self.token_request(grant_type="password"), 400,
                              "unsupported_grant_type", 70003)
        self.assert_aad_error(self.call("GET", f"{self.peer.url}/{self.peer.tenant}"
                                               "/oauth2/v2.0/token"), 400,
                              "invalid_request", 900561)
        self.assertEqual(self.peer.tokens_issued, {})

    # ---- ARM authentication ------------------------------------------------

    def test_arm_needs_a_valid_token(self):
        path = self.peer.cluster_path()
        headers, _ = self.assert_arm_error(self.arm("GET", path, token=False), 401,
                                           "AuthenticationFailed")
        self.assertTrue(headers["WWW-Authenticate"].startswith("Bearer authorization_uri="))
        headers, _ = self.assert_arm_error(self.arm("GET", path, token="not.a.token"), 401,
                                           "InvalidAuthenticationToken")
        self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])
        aks = self.token(AKS_SERVER_APP + "/.default")
        self.assert_arm_error(self.arm("GET", path, token=aks), 401,
                              "InvalidAuthenticationTokenAudience")

    def test_expired_token_then_refresh(self):
        path = self.peer.cluster_path()
        old = self.token()
        self.assertEqual(self.arm("GET", path, token=old)[0], 200)
        self.peer.expire_tokens()
        headers, message = self.assert_arm_error(self.arm("GET", path, token=old), 401,
                                                 "ExpiredAuthenticationToken")
        self.assertIn("is earlier than current UTC time", message)
        self.assertIn("WWW-Authenticate", headers)
        self.assertEqual(self.arm("GET", path, token=self.token())[0], 200)
        self.assertEqual(self.peer.token_requests[self.peer.client_id], 2)

    def test_api_version(self):
        path = self.peer.cluster_path()
        self.assert_arm_error(self.arm("GET", path, query=None), 400,
                              "MissingApiVersionParameter")
        _, message = self.assert_arm_error(self.arm("GET", path, query="api-version=2019-08-01"),
                                           400, "NoRegisteredProviderFound")
        self.assertIn("2024-09-01", message)
        self.assert_arm_error(self.arm("GET", path, query="api-version=latest"), 400,
                              "InvalidApiVersionParameter")
        self.peer.api_versions.add("2025-01-01")
        self.assertEqual(self.arm("GET", path, query="api-version=2025-01-01")[0], 200)

    # ---- managed clusters --------------------------------------------------

    def test_get_cluster(self):
        self.peer.add_cluster("sgx", sgx_addon=False)
        status, headers, doc = self.arm("GET", self.peer.cluster_path("sgx"))
        self.assertEqual(status, 200, doc)
        props = doc["properties"]
        self.assertEqual(props["provisioningState"], "Succeeded")
        self.assertEqual(props["addonProfiles"]["ACCSGXDevicePlugin"]["enabled"], False)
        self.assertTrue(props["fqdn"].endswith(".hcp.westeurope.azmk8s.io"))
        self.assertEqual(props["kubernetesVersion"], "1.30.6")
        self.assertEqual(props["agentPoolProfiles"][0]["mode"], "System")
        self.assertTrue(doc["eTag"])
        self.assertIn("x-ms-ratelimit-remaining-subscription-reads", headers)
        self.assert_arm_error(self.arm("GET", self.peer.cluster_path("nothere")), 404,
                              "ResourceNotFound")
        self.assert_arm_error(self.arm("GET", self.peer.cluster_path(resource_group="nope")),
                              404, "ResourceGroupNotFound")
        self.assert_arm_error(self.arm("GET", self.peer.cluster_path(
            subscription="99999999-9999-9999-9999-999999999999")), 404, "SubscriptionNotFound")

    def enable_addon(self, etag):
        """The worker's change: the add-on on, everything else as it was."""
        _, _, doc = self.arm("GET", self.peer.cluster_path())
        doc["properties"]["addonProfiles"]["ACCSGXDevicePlugin"] = {
            "enabled": True, "config": {"ACCSGXQuoteHelperEnabled": "true"}}
        return doc, self.arm("PUT", self.peer.cluster_path(), doc, headers={"If-Match": etag})

    def test_put_cluster_with_etag_and_async_operation(self):
        path = self.peer.cluster_path()
        etag = self.arm("GET", path)[2]["eTag"]
        sent, (status, headers, doc) = self.enable_addon(etag)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["properties"]["provisioningState"], "Updating")
        self.assertNotEqual(doc["eTag"], etag)
        self.assertEqual(headers["Retry-After"], "1")
        self.assertIn("/operationresults/", headers["Location"])
        self.assertEqual(self.peer.last_body(path), sent)
        self.assertEqual(self.peer.count("PUT", path), 1)
        # the stale eTag, then the right one while the operation runs (PUTs only:
        # a GET of the cluster would count as one of the operation's polls)
        self.assert_arm_error(self.arm("PUT", path, sent, headers={"If-Match": etag}), 412,
                              "PreconditionFailed")
        self.assert_arm_error(self.arm("PUT", path, sent, headers={"If-Match": doc["eTag"]}),
                              409, "OperationNotAllowed")
        # Azure-AsyncOperation: InProgress, then Succeeded on the second poll
        status, poll_headers, op = self.arm("GET", headers["Azure-AsyncOperation"], query=None)
        self.assertEqual((status, op["status"]), (200, "InProgress"))
        self.assertIn("Retry-After", poll_headers)
        status, _, op = self.arm("GET", headers["Azure-AsyncOperation"], query=None)
        self.assertEqual((status, op["status"]), (200, "Succeeded"))
        self.assertIn("endTime", op)
        props = self.arm("GET", path)[2]["properties"]
        self.assertEqual(props["provisioningState"], "Succeeded")
        self.assertEqual(props["addonProfiles"]["ACCSGXDevicePlugin"],
                         {"enabled": True, "config": {"ACCSGXQuoteHelperEnabled": "true"}})
        self.assert_arm_error(self.arm("PUT", path, sent, headers={"If-None-Match": "*"}), 412,
                              "PreconditionFailed")

    def test_create_cluster_and_scale_through_profiles(self):
        path = self.peer.cluster_path("second")
        body = {"location": "westeurope", "properties": {
            "dnsPrefix": "second", "kubernetesVersion": "1.31.1",
            "agentPoolProfiles": [{"name": "system", "vmSize": "Standard_D2s_v3", "count": 1,
                                   "mode": "System"}]}}
        self.assert_arm_error(self.arm("PUT", path, {"properties": body["properties"]}), 400,
                              "LocationRequired")
        status, _, doc = self.arm("PUT", path, body, headers={"If-None-Match": "*"})
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["properties"]["provisioningState"], "Creating")
        self.assertEqual(doc["properties"]["agentPoolProfiles"][0]["provisioningState"],
                         "Creating")
        self.peer.finish_operations()
        doc = self.arm("GET", path)[2]
        self.assertEqual(doc["properties"]["provisioningState"], "Succeeded")
        doc["properties"]["agentPoolProfiles"][0]["count"] = 3
        status, _, doc = self.arm("PUT", path, doc)
        self.assertEqual(status, 200, doc)
        pool = doc["properties"]["agentPoolProfiles"][0]
        self.assertEqual((pool["count"], pool["provisioningState"]), (3, "Updating"))

    # ---- agent pools -------------------------------------------------------

    SGX_POOL = {"properties": {"vmSize": "Standard_DC4s_v3", "count": 2, "mode": "User",
                               "osType": "Linux", "nodeLabels": {"cloister.io/sgx": "true"},
                               "nodeTaints": ["sgx=true:NoSchedule"]}}

    def test_agent_pool_through_location(self):
        path = self.peer.pool_path("sgxpool")
        cluster_etag = self.arm("GET", self.peer.cluster_path())[2]["eTag"]
        status, headers, doc = self.arm("PUT", path, self.SGX_POOL)
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["properties"]["provisioningState"], "Creating")
        self.assertEqual(doc["properties"]["nodeTaints"], ["sgx=true:NoSchedule"])
        status, poll_headers, _ = self.arm("GET", headers["Location"], query=None)
        self.assertEqual(status, 202)
        self.assertIn("Retry-After", poll_headers)
        status, _, doc = self.arm("GET", headers["Location"], query=None)
        self.assertEqual(status, 200)
        self.assertEqual(doc["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(doc["properties"]["vmSize"], "Standard_DC4s_v3")
        cluster = self.arm("GET", self.peer.cluster_path())[2]
        self.assertEqual(cluster["eTag"], cluster_etag)     # a pool write keeps it
        self.assertEqual([p["name"] for p in cluster["properties"]["agentPoolProfiles"]],
                         ["nodepool1", "sgxpool"])
        self.assertEqual(len(self.arm("GET", self.peer.cluster_path() + "/agentPools")[2]
                             ["value"]), 2)
        # delete: 202, Location 202 then 204, then the pool is gone
        status, headers, _ = self.arm("DELETE", path)
        self.assertEqual(status, 202)
        self.assertEqual(self.arm("GET", headers["Location"], query=None)[0], 202)
        self.assertEqual(self.arm("GET", headers["Location"], query=None)[0], 204)
        self.assert_arm_error(self.arm("GET", path), 404, "ResourceNotFound")
        self.assertEqual(self.arm("DELETE", path)[0], 204)

    def test_agent_pool_validation(self):
        path = self.peer.pool_path("bad")
        body = json.loads(json.dumps(self.SGX_POOL))
        body["properties"]["vmSize"] = "Standard_DC99s_v9"
        _, message = self.assert_arm_error(self.arm("PUT", path, body), 400, "BadRequest")
        self.assertIn("is not allowed in your subscription", message)
        body["properties"]["vmSize"] = "Standard_DC4s_v3"
        body["properties"]["nodeTaints"] = ["no-effect"]
        self.assert_arm_error(self.arm("PUT", path, body), 400, "InvalidParameter")
        body = {"properties": {"vmSize": "Standard_DC2s_v3"}}
        self.assert_arm_error(self.arm("PUT", self.peer.pool_path("nodepool1"), body), 400,
                              "PropertyChangeNotAllowed")
        self.assert_arm_error(self.arm("PUT", path, b"{", headers={
            "Content-Type": "application/json"}), 400, "InvalidRequestContent")

    def test_quota_exceeded_ends_the_operation_failed(self):
        self.peer.quota_cores = {"standardDCSv3Family": 4}
        path = self.peer.pool_path("sgxpool")
        status, headers, _ = self.arm("PUT", path, self.SGX_POOL)     # 2 x 4 cores
        self.assertEqual(status, 201)
        self.peer.lro_polls = 1
        status, _, op = self.arm("GET", headers["Azure-AsyncOperation"], query=None)
        self.assertEqual((status, op["status"]), (200, "Failed"))
        self.assertEqual(op["error"]["code"], "QuotaExceeded")
        self.assertTrue(op["error"]["message"].startswith(
            "Operation could not be completed as it results in exceeding approved "
            "standardDCSv3Family Cores quota"), op)
        self.assertIn("Current Limit: 4", op["error"]["message"])
        self.assert_arm_error(self.arm("GET", headers["Location"], query=None), 400,
                              "QuotaExceeded")
        self.assertEqual(self.arm("GET", path)[2]["properties"]["provisioningState"], "Failed")

    # ---- knobs -------------------------------------------------------------

    def test_authorization_failed_per_action(self):
        action = "Microsoft.ContainerService/managedClusters/write"
        self.peer.deny(action)
        path = self.peer.cluster_path()
        _, message = self.assert_arm_error(self.enable_addon("*")[1], 403, "AuthorizationFailed")
        self.assertIn(f"does not have authorization to perform action '{action}' over scope "
                      f"'{path}'", message)
        self.assertEqual(self.arm("GET", path)[0], 200)                  # reads still allowed
        self.peer.allow(action)
        self.assertEqual(self.enable_addon("*")[1][0], 200)

    def test_throttling(self):
        path = self.peer.cluster_path()
        token = self.token()
        self.peer.throttle(2, retry_after=3)
        for _ in range(2):
            headers, message = self.assert_arm_error(self.arm("GET", path, token=token), 429,
                                                     "SubscriptionRequestsThrottled")
            self.assertEqual(headers["Retry-After"], "3")
            self.assertEqual(headers["x-ms-ratelimit-remaining-subscription-reads"], "0")
            self.assertIn("Please try again after '3' seconds", message)
        self.assertEqual(self.arm("GET", path, token=token)[0], 200)
        self.assertEqual(self.peer.count("GET", path), 3)

    # ---- credentials -------------------------------------------------------

    def credential(self):
        status, _, doc = self.arm("POST", self.peer.cluster_path() + "/listClusterUserCredential")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["kubeconfigs"][0]["name"], "clusterUser")
        return base64.b64decode(doc["kubeconfigs"][0]["value"]).decode()

    def test_user_credential_default_is_kubelogin(self):
        text = self.credential()
        self.assertIn("apiVersion: client.authentication.k8s.io/v1beta1", text)
        self.assertIn("command: kubelogin", text)
        args = [line.strip()[2:] for line in text.splitlines()
                if line.startswith("      - ")]
        self.assertEqual(args, ["get-token", "--environment", "AzurePublicCloud",
                                "--server-id", AKS_SERVER_APP, "--client-id", AKS_CLIENT_APP,
                                "--tenant-id", self.peer.tenant, "--login", "devicecode"])
        self.assertIn("server: https://cloister-aks-dns-", text)

    def test_user_credential_set_by_the_test(self):
        kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
        self.peer.set_kubeconfig(kubeconfig)
        self.assertEqual(self.credential(), kubeconfig)
        self.peer.deny("Microsoft.ContainerService/managedClusters/listClusterUserCredential"
                       "/action")
        self.assert_arm_error(self.arm("POST", self.peer.cluster_path() +
                                       "/listClusterUserCredential"), 403, "AuthorizationFailed")


if __name__ == "__main__":
    unittest.main()
