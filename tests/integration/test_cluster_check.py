"""cluster.check run by a real worker against protocol-faithful fakes:
Microsoft Entra ID and Azure Resource Manager (tests/peers/azure.py) and a
Kubernetes API server (tests/peers/kubernetes.py).  For a kubeconfig
cluster the worker reads the server's version and its SGX nodes; for an
AKS cluster it signs in with the service principal, reads the managed
cluster, fetches its user kubeconfig, and signs in again for the cluster's
kubelogin user, whose token the API server accepts.  Refused credentials,
denied actions and unreachable API servers are recorded as the cluster's
last_check in the service's own words, and fail the job."""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import azure  # noqa: E402
import kubernetes  # noqa: E402
from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402


AKS_SERVER_APP = azure.AKS_SERVER_APP


def kubelogin_kubeconfig(kube):
    """The fake API server's kubeconfig, its user AKS's kubelogin form."""
    text = kube.kubeconfig_text()
    head = text[:text.index("users:")]
    tail = text[text.index("contexts:"):]
    return (head + "users:\n- name: cloister-test\n  user:\n    exec:\n"
            "      apiVersion: client.authentication.k8s.io/v1beta1\n"
            "      command: kubelogin\n"
            f"      args: [get-token, --environment, AzurePublicCloud, --server-id, "
            f"{AKS_SERVER_APP}, --login, devicecode]\n" + tail)


class ClusterCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.azure = azure.AzurePeer()
        cls.azure.add_cluster("sgx-prod", sgx_addon=True)
        cls.kube = kubernetes.KubernetesPeer(tokens=lambda t: cls.entra_user(t))
        cls.kube.tokens["static-token"] = "ci"
        cls.kube.add_node("aks-sgxpool-1", labels={"agentpool": "sgxpool"},
                          allocatable={"kubernetes.azure.com/sgx_epc_mem_in_MiB": "8192"})
        cls.kube.add_node("aks-sgxpool-2", labels={"agentpool": "sgxpool"},
                          allocatable={"kubernetes.azure.com/sgx_epc_mem_in_MiB": "8192"})
        cls.kube.add_node("aks-system-1")
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1", "--kinds=cluster.check",
                            f"--azure-login-url={cls.azure.url}", f"--arm-url={cls.azure.url}",
                            f"--azure-ca-file={cls.azure.ca_pem}")

    @classmethod
    def entra_user(cls, token):
        """The API server behind kubelogin: Entra tokens for AKS's server app."""
        if token in cls.kube.tokens:
            return cls.kube.tokens[token]
        return cls.azure.kubelogin_user(token)

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.azure.close()
        cls.kube.close()

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

    def test_a_kubeconfig_clusters_version_and_sgx_nodes(self):
        cluster = self.api.ok("POST", "/v1/clusters", {
            "name": "lab", "kind": "kubernetes",
            "kubeconfig": self.kube.kubeconfig_text(token="static-token")}, want=201)
        job, cluster = self.check(cluster)
        self.assertEqual(job["state"], "succeeded", job)
        check = cluster["last_check"]
        self.assertEqual((check["reachable"], check["version"], check["nodes"],
                          check["epc_resource"]),
                         (True, "v1.32.4", 3, "kubernetes.azure.com/sgx_epc_mem_in_MiB"))
        self.assertEqual(sorted(n["name"] for n in check["sgx_nodes"]),
                         ["aks-sgxpool-1", "aks-sgxpool-2"])
        self.assertEqual(job["result"]["sgx_nodes"][0]["epc"], "8192")
        # a token the server does not know: in its words
        bad = self.api.ok("POST", "/v1/clusters", {
            "name": "bad", "kind": "kubernetes",
            "kubeconfig": self.kube.kubeconfig_text(token="wrong")}, want=201)
        job, bad = self.check(bad)
        self.assertEqual(job["state"], "failed")
        self.assertIn("refused the credentials (401", bad["last_check"]["error"])

    def test_an_aks_cluster_end_to_end_through_arm_and_kubelogin(self):
        self.azure.set_kubeconfig(kubelogin_kubeconfig(self.kube), cluster="sgx-prod")
        try:
            job, cluster = self.check(self.cluster())
        finally:
            self.azure.set_kubeconfig(None, cluster="sgx-prod")
        self.assertEqual(job["state"], "succeeded", job)
        check = cluster["last_check"]
        self.assertEqual((check["reachable"], check["provisioning_state"], check["sgx_addon"],
                          len(check["sgx_nodes"])), (True, "Succeeded", True, 2))
        self.assertEqual(check["aks_version"], "1.30.6")

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
