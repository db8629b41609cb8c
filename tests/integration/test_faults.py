"""Fault injection: peers that fail.  A registry that answers 500, resets
every connection or never answers, a Kubernetes API server that answers
500, drops connections or stalls, and Azure Resource Manager answering 500
or stalling: each job is tried again as its kind allows, then fails with
the cause in its error; a peer that recovers between attempts lets the job
succeed.  The worker gives peers 2 seconds (--peer-timeout), so that a
stall costs seconds here rather than the default 30."""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import azure  # noqa: E402
import kubernetes  # noqa: E402
from faults import FaultyServer  # noqa: E402

from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402


class PeerFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.azure = azure.AzurePeer()
        cls.azure.add_cluster("sgx-prod", sgx_addon=True)
        cls.kube = kubernetes.KubernetesPeer()
        cls.kube.add_node("sgx-1", allocatable={"sgx.intel.com/epc": "8Gi"})
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1", "--slots=8", "--peer-timeout=2",
                            f"--azure-login-url={cls.azure.url}", f"--arm-url={cls.azure.url}",
                            f"--azure-ca-file={cls.azure.ca_pem}")

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.azure.close()
        cls.kube.close()

    def setUp(self):
        self.kube.reset_knobs()
        self.azure.fail(0)
        self.azure.stall(0, 0)
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        account = self.api.ok("POST", "/v1/accounts", {"name": "f-" + uuid.uuid4().hex[:8]},
                              want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": account})

    def wait(self, jobs, timeout=120):
        """Every job ended: {job id: job}."""
        deadline, done = time.monotonic() + timeout, {}
        while len(done) < len(jobs) and time.monotonic() < deadline:
            for j in jobs:
                job = self.api.ok("GET", f"/v1/jobs/{j}")
                if job["state"] in ("succeeded", "failed"):
                    done[j] = job
            time.sleep(0.2)
        self.assertEqual(len(done), len(jobs), self.worker.output()[-3000:])
        return done

    def registry_check(self, host):
        reg = self.api.ok("POST", "/v1/registries", {"name": "r" + uuid.uuid4().hex[:8],
                                                     "host": host, "tls": False}, want=201)
        return self.api.ok("POST", f"/v1/registries/{reg['id']}/check", want=202)["id"]

    def cluster_check(self, body):
        cluster = self.api.ok("POST", "/v1/clusters",
                              dict(body, name="c" + uuid.uuid4().hex[:8]), want=201)
        return self.api.ok("POST", f"/v1/clusters/{cluster['id']}/check", want=202)["id"]

    def clusters(self):
        """A kubeconfig cluster of the Kubernetes peer, and an AKS one of the Azure peer."""
        kubeconfig = {"kind": "kubernetes", "kubeconfig": self.kube.kubeconfig_text()}
        aks = {"kind": "aks", "subscription_id": azure.SUBSCRIPTION,
               "resource_group": self.azure.resource_group, "cluster_name": "sgx-prod",
               "azure": {"tenant_id": azure.TENANT, "client_id": azure.CLIENT_ID,
                         "client_secret": azure.CLIENT_SECRET},
               "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC4s_v3", "count": 1}}
        return kubeconfig, aks

    def assert_failed_three_times(self, jobs, done, causes):
        for what, j in jobs.items():
            job = done[j]
            self.assertEqual((job["state"], job["attempts"]), ("failed", 3), (what, job))
            self.assertIn(causes[what], job["error"], what)
            history = [a["outcome"] for a in job["attempt_history"]]
            self.assertEqual(history, ["failed"] * 3, (what, job))

    def test_failing_peers_are_retried_then_named(self):
        kubeconfig, aks = self.clusters()
        with FaultyServer("500") as broken, FaultyServer("reset") as resetting:
            self.kube.fail(100, code=500, path="/version")
            self.azure.fail(100)
            jobs = {"registry 500": self.registry_check(broken.host),
                    "registry reset": self.registry_check(resetting.host),
                    "kubernetes 500": self.cluster_check(kubeconfig),
                    "arm 500": self.cluster_check(aks)}
            done = self.wait(list(jobs.values()))
            self.kube.clear_failures()
            self.azure.fail(0)
        self.assert_failed_three_times(jobs, done, {
            "registry 500": "500", "registry reset": "could not reach",
            "kubernetes 500": "answered 500", "arm 500": "InternalServerError"})
        self.assertGreaterEqual(broken.requests, 3)
        self.assertGreaterEqual(resetting.requests, 3)

    def test_stalled_peers_time_out_and_are_named(self):
        kubeconfig, aks = self.clusters()
        with FaultyServer("stall") as stalled:
            self.kube.stall(100, 10, path="/version")
            self.azure.stall(100, 10)
            jobs = {"registry stall": self.registry_check(stalled.host),
                    "kubernetes stall": self.cluster_check(kubeconfig),
                    "arm stall": self.cluster_check(aks)}
            done = self.wait(list(jobs.values()), timeout=240)
        self.assert_failed_three_times(jobs, done, {
            "registry stall": "timed out", "kubernetes stall": "timed out",
            "arm stall": "timed out"})
        self.assertGreaterEqual(stalled.requests, 3)

    def test_a_peer_that_recovers_between_attempts(self):
        kubeconfig = {"kind": "kubernetes", "kubeconfig": self.kube.kubeconfig_text()}
        self.kube.drop(2, path="/version")          # two attempts meet a reset connection
        job = self.wait([self.cluster_check(kubeconfig)])
        job = list(job.values())[0]
        self.assertEqual((job["state"], job["attempts"]), ("succeeded", 3), job)
        self.assertEqual(job["result"]["sgx_nodes"][0]["name"], "sgx-1")


if __name__ == "__main__":
    unittest.main()
