"""Clusters (/v1/clusters) against cloisterd: a kubeconfig's cluster (token,
client certificate, or AKS's kubelogin form with the service principal)
and an AKS cluster with its SGX node pool; the rules each field follows;
secrets sealed and never answered; tenancy; audit; a check queued as a
job."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from cloister_test import AccountTestCase, psql  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "3c0e9d6a-5b1f-4e2d-8a7c-9f0e1d2c3b4a"
SECRET = "sp-secret-" + uuid.uuid4().hex


def kubeconfig(user, server="https://10.0.0.1:6443"):
    ca = subprocess.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                        "-keyout /dev/null -subj /CN=kube-ca -days 1 2>/dev/null", shell=True,
                        capture_output=True, check=True).stdout
    return (f"apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters:\n- name: k\n  cluster:\n    server: {server}\n"
            f"    certificate-authority-data: {base64.b64encode(ca).decode()}\n"
            f"contexts:\n- name: c\n  context: {{cluster: k, user: u}}\n"
            f"users:\n- name: u\n  user:\n{user}")


class Clusters(AccountTestCase):
    def aks(self, **override):
        body = {"name": "prod", "kind": "aks",
                "subscription_id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
                "resource_group": "rg-confidential", "cluster_name": "sgx-prod",
                "azure": {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET},
                "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC4s_v3", "count": 2,
                              "labels": {"tier": "confidential"},
                              "taints": ["sgx=true:NoSchedule"]}}
        body.update(override)
        return body

    def test_a_kubeconfig_cluster_keeps_what_identifies_it_and_seals_the_rest(self):
        token = "sa-token-" + uuid.uuid4().hex
        created = self.api.ok("POST", "/v1/clusters", {
            "name": "lab", "kind": "kubernetes",
            "kubeconfig": kubeconfig(f"    token: {token}\n")}, want=201)
        self.assertEqual((created["kind"], created["server"], created["auth"]),
                         ("kubernetes", "https://10.0.0.1:6443", "token"))
        listed = self.api.ok("GET", "/v1/clusters")["items"]
        self.assertEqual([c["name"] for c in listed], ["lab"])
        self.assertEqual(self.api.ok("GET", f"/v1/clusters/{created['id']}")["id"], created["id"])
        stored = psql("SELECT kubeconfig_sealed FROM clusters", dbname=self.dbname)
        self.assertNotIn(token, stored)
        self.assertNotIn(token, json.dumps(listed))
        # AKS's kubelogin form needs the service principal
        kubelogin = kubeconfig("    exec:\n      command: kubelogin\n      args: [get-token, "
                               "--server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]\n")
        status, _, problem = self.api.call("POST", "/v1/clusters", {
            "name": "aad", "kind": "kubernetes", "kubeconfig": kubelogin})
        self.assertEqual(status, 422)
        self.assertIn("azure", {e["field"] for e in problem["errors"]})
        aad = self.api.ok("POST", "/v1/clusters", {
            "name": "aad", "kind": "kubernetes", "kubeconfig": kubelogin,
            "azure": {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET}},
            want=201)
        self.assertEqual((aad["auth"], aad["tenant_id"], aad["client_id"]),
                         ("kubelogin", TENANT, CLIENT))
        self.assertNotIn(SECRET, json.dumps(aad))
        # other programs, and a name twice, are refused
        status, _, problem = self.api.call("POST", "/v1/clusters", {
            "name": "eks", "kind": "kubernetes",
            "kubeconfig": kubeconfig("    exec:\n      command: aws\n")})
        self.assertEqual(status, 422)
        self.assertIn("runs a program (exec: aws)", problem["errors"][0]["message"])
        status, _, problem = self.api.call("POST", "/v1/clusters", {
            "name": "lab", "kind": "kubernetes", "kubeconfig": kubeconfig("    token: t\n")})
        self.assertEqual((status, problem["errors"][0]["field"]), (422, "name"))
        # a check is a job
        status, _, job = self.api.call("POST", f"/v1/clusters/{created['id']}/check")
        self.assertEqual((status, job["kind"]), (202, "cluster.check"))
        self.assertEqual(self.api.ok("GET", f"/v1/clusters/{created['id']}")["check_job"],
                         job["id"])
        # removed, audited; another account sees none of it
        self.assertEqual(self.api.call("DELETE", f"/v1/clusters/{aad['id']}")[0], 204)
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=50")["items"]]
        self.assertIn("cluster.create", actions)
        self.assertIn("cluster.delete", actions)
        other = self.api.ok("POST", "/v1/accounts", {"name": "o-" + uuid.uuid4().hex[:8]},
                            want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": other})
        self.assertEqual(self.api.ok("GET", "/v1/clusters")["items"], [])
        self.assertEqual(self.api.call("GET", f"/v1/clusters/{created['id']}")[0], 404)

    def test_the_command_line_adds_lists_and_removes_clusters(self):
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ops", "role": "operator"},
                          want=201)["secret"]
        work = tempfile.mkdtemp()
        env = {"PATH": os.environ["PATH"], "HOME": work,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}
        cli = os.environ["CLOISTER_CLI"]

        def run(*args, stdin=None, code=0):
            res = subprocess.run([cli, *args], input=stdin, capture_output=True, text=True,
                                 env=env)
            self.assertEqual(res.returncode, code, res.stdout + res.stderr)
            return res.stdout + res.stderr
        path = os.path.join(work, "config")
        with open(path, "w") as f:
            f.write(kubeconfig("    token: t0k\n"))
        run("cluster", "add", "lab", "--kubeconfig", path)
        run("cluster", "add", "prod", "--aks", "--subscription",
            "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "--resource-group", "rg-cc",
            "--cluster-name", "sgx-prod", "--vm-size", "Standard_DC8s_v3", "--count", "3",
            "--label", "tier=cc", "--taint", "sgx=true:NoSchedule", "--azure-tenant", TENANT,
            "--azure-client", CLIENT, "--azure-secret-stdin", stdin=SECRET + "\n")
        listed = json.loads(run("-o", "json", "cluster", "list"))
        self.assertEqual([(c["name"], c["kind"]) for c in listed],
                         [("lab", "kubernetes"), ("prod", "aks")])
        self.assertEqual(listed[1]["node_pool"], {"name": "sgxpool", "vm_size": "Standard_DC8s_v3",
                                                  "count": 3, "labels": {"tier": "cc"},
                                                  "taints": ["sgx=true:NoSchedule"]})
        self.assertIn("queued", run("cluster", "check", "lab"))
        self.assertIn("removed", run("cluster", "rm", "lab"))
        run("cluster", "rm", "lab", code=3)
        self.assertIn("kubeconfig", run("cluster", "add", "x", code=2))

    def test_an_aks_cluster_and_every_rule_it_follows(self):
        created = self.api.ok("POST", "/v1/clusters", self.aks(), want=201)
        self.assertEqual((created["kind"], created["auth"], created["node_pool"]["vm_size"]),
                         ("aks", "service_principal", "Standard_DC4s_v3"))
        self.assertNotIn(SECRET, json.dumps(created))
        self.assertNotIn(SECRET, psql("SELECT secret_sealed FROM clusters",
                                      dbname=self.dbname))
        bad = {
            "subscription_id": "not-a-uuid", "resource_group": "rg.", "cluster_name": "",
            "azure": {"tenant_id": "x", "client_id": CLIENT, "client_secret": "short"},
            "node_pool": {"name": "SGX-Pool", "vm_size": "Standard_D4s_v5", "count": 0,
                          "taints": ["sgx"]},
        }
        status, _, problem = self.api.call("POST", "/v1/clusters", self.aks(name="x", **bad))
        self.assertEqual(status, 422, problem)
        fields = {e["field"] for e in problem["errors"]}
        for want in ("subscription_id", "resource_group", "cluster_name", "azure.tenant_id",
                     "azure.client_secret", "node_pool.name", "node_pool.vm_size",
                     "node_pool.count", "node_pool.taints"):
            self.assertIn(want, fields)
        for body in ({"name": "y", "kind": "gke"}, self.aks(name="z", kubeconfig="x"),
                     self.aks(name="Bad_Name"), self.aks(name="w", extra=1)):
            self.assertEqual(self.api.call("POST", "/v1/clusters", body)[0], 422, body)


if __name__ == "__main__":
    unittest.main()
