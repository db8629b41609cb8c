"""cluster.check run by a real worker against protocol-faithful fakes:
Microsoft Entra ID and Azure Resource Manager (tests/peers/azure.py).  The
worker signs in with the cluster's service principal, reads the managed
cluster and fetches its user kubeconfig; refused credentials, denied
actions and unreachable API servers are recorded as the cluster's
last_check with the service's own words, and fail the job."""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import azure  # noqa: E402
from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402


class ClusterCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.azure = azure.AzurePeer()
        cls.azure.add_cluster("sgx-prod", sgx_addon=True)
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1", "--kinds=cluster.check",
                            f"--azure-login-url={cls.azure.url}", f"--arm-url={cls.azure.url}",
                            f"--azure-ca-file={cls.azure.ca_pem}")

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.azure.close()

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        account = self.api.ok("POST", "/v1/accounts", {"name": "cc-" + uuid.uuid4().hex[:8]},
                              want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": account})

    def cluster(self, secret=azure.CLIENT_SECRET, name="sgx-prod"):
        return self.api.ok("POST", "/v1/clusters", {
            "name": "c-" + uuid.uuid4().hex[:8], "kind": "aks",
            "subscription_id": azure.SUBSCRIPTION, "resource_group": self.azure.resource_group,
            "cluster_name": name,
            "azure": {"tenant_id": azure.TENANT, "client_id": azure.CLIENT_ID,
                      "client_secret": secret},
            "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC4s_v3", "count": 1}},
            want=201)

    def check(self, cluster):
        job = self.api.ok("POST", f"/v1/clusters/{cluster['id']}/check", want=202)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.api.ok("GET", f"/v1/jobs/{job['id']}")
            if job["state"] in ("succeeded", "failed"):
                return job, self.api.ok("GET", f"/v1/clusters/{cluster['id']}")
            time.sleep(0.2)
        self.fail("the check never ended:\n" + self.worker.output())

    def test_the_worker_signs_in_reads_the_cluster_and_fetches_its_kubeconfig(self):
        path = self.azure.cluster_path("sgx-prod")
        gets, posts = (self.azure.count("GET", path),
                       self.azure.count("POST", path + "/listClusterUserCredential"))
        tokens = self.azure.token_requests.get(azure.CLIENT_ID, 0)
        job, cluster = self.check(self.cluster())
        # ARM answered; the API server it names cannot be reached from here, which is
        # worth trying again (each attempt reads the cluster, then its kubeconfig)
        self.assertEqual(job["state"], "failed")
        self.assertEqual(cluster["last_check"]["reachable"], False)
        self.assertIn("azmk8s.io", cluster["last_check"]["error"])
        attempts = self.azure.count("GET", path) - gets
        self.assertGreaterEqual(attempts, 1)
        self.assertEqual(self.azure.count("POST", path + "/listClusterUserCredential") - posts,
                         attempts)
        # two tokens each time: one for ARM, one for the cluster's kubelogin user (AKS's
        # kubeconfigs for Entra ID clusters run kubelogin; the worker signs in itself)
        self.assertEqual(self.azure.token_requests.get(azure.CLIENT_ID, 0) - tokens,
                         2 * attempts)

    def test_refusals_are_recorded_in_the_services_own_words(self):
        job, cluster = self.check(self.cluster(secret="not-the-secret-at-all"))
        self.assertEqual(job["state"], "failed")
        self.assertIn("AADSTS7000215", cluster["last_check"]["error"])
        job, cluster = self.check(self.cluster(name="no-such-cluster"))
        self.assertIn("ResourceNotFound", cluster["last_check"]["error"])
        self.azure.deny("Microsoft.ContainerService/managedClusters/read")
        try:
            job, cluster = self.check(self.cluster())
        finally:
            self.azure.allow("Microsoft.ContainerService/managedClusters/read")
        self.assertIn("AuthorizationFailed", cluster["last_check"]["error"])
        self.assertIn("does not have authorization", cluster["last_check"]["error"])


if __name__ == "__main__":
    unittest.main()
