"""Join tokens (/v1/node-tokens) and the account CA's public certificate and
CRL (/pki/{account}/ca.pem, crl.der), against cloisterd, checked with the
openssl command."""
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from cloister_test import Api, Daemon, create_admin, new_database, psql  # noqa: E402


class Nodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, cls.dbname = new_database()
        cls.d = Daemon(url, env={"CLOISTER_PCS_URL": ""}).start()
        cls.password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        self.account = self.api.ok("POST", "/v1/accounts",
                                   {"name": "n-" + uuid.uuid4().hex[:8]}, want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": self.account})
        self.tmp = tempfile.mkdtemp(prefix="cl-nodes-")

    def test_join_tokens_are_shown_once_and_revoked(self):
        token = self.api.ok("POST", "/v1/node-tokens", {
            "name": "rack-7", "uses": 3, "ttl": 600, "labels": {"zone": "westeurope-1"}},
            want=201)
        self.assertTrue(token["secret"].startswith("cljt_"))
        self.assertEqual(token["prefix"], token["secret"][:13])
        self.assertEqual((token["uses"], token["used"], token["state"]), (3, 0, "active"))
        self.assertEqual(token["labels"], {"zone": "westeurope-1"})
        listed = self.api.ok("GET", "/v1/node-tokens")["items"]
        self.assertEqual([t["id"] for t in listed], [token["id"]])
        self.assertNotIn("secret", listed[0])
        stored = psql(f"SELECT encode(secret_hash, 'hex') FROM node_tokens", dbname=self.dbname)
        self.assertNotIn(token["secret"], stored)                       # only its hash is kept
        revoked = self.api.ok("POST", f"/v1/node-tokens/{token['id']}/revoke")
        self.assertEqual(revoked["state"], "revoked")
        status, _, _ = self.api.call("POST", f"/v1/node-tokens/{token['id']}/revoke")
        self.assertEqual(status, 409)
        for bad in ({"name": ""}, {"name": "x", "uses": 0}, {"name": "x", "ttl": 10},
                    {"name": "x", "labels": {"k": 1}}, {"name": "x", "extra": 1}):
            status, _, problem = self.api.call("POST", "/v1/node-tokens", bad)
            self.assertEqual(status, 422, (bad, problem))
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=50")["items"]]
        self.assertIn("node_token.create", actions)
        self.assertIn("node_token.revoke", actions)
        # another account sees none of it
        other = self.api.ok("POST", "/v1/accounts", {"name": "o-" + uuid.uuid4().hex[:8]},
                            want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": other})
        self.assertEqual(self.api.ok("GET", "/v1/node-tokens")["items"], [])
        status, _, _ = self.api.call("POST", f"/v1/node-tokens/{token['id']}/revoke")
        self.assertEqual(status, 404)

    def test_the_command_line_mints_lists_and_revokes(self):
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ops", "role": "operator"},
                          want=201)["secret"]
        env = {"PATH": os.environ["PATH"], "HOME": self.tmp,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}
        cli = os.environ["CLOISTER_CLI"]

        def run(*args):
            res = subprocess.run([cli, *args], capture_output=True, text=True, env=env)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            return res.stdout
        secret = run("-q", "node-token", "create", "edge", "--uses", "2", "--ttl", "900",
                     "--label", "zone=a", "--label", "tier=sgx").strip()
        self.assertRegex(secret, r"^cljt_[A-Za-z0-9_-]{43}$")
        import json
        listed = json.loads(run("-o", "json", "node-token", "list"))
        self.assertEqual([(t["name"], t["uses"], t["labels"]) for t in listed],
                         [("edge", 2, {"zone": "a", "tier": "sgx"})])
        self.assertNotIn(secret, json.dumps(listed))
        self.assertIn("revoked", run("node-token", "revoke", listed[0]["id"]))

    def fetch(self, path):
        status, headers, body = self.d.request("GET", path)
        return status, headers, body

    def test_the_account_ca_and_its_crl_are_public(self):
        status, headers, pem = self.fetch(f"/pki/{self.account}/ca.pem")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/x-pem-file")
        again = self.fetch(f"/pki/{self.account}/ca.pem")[2]
        self.assertEqual(pem, again)                                    # made once, kept
        ca = os.path.join(self.tmp, "ca.pem")
        with open(ca, "wb") as f:
            f.write(pem)
        text = subprocess.run(["openssl", "x509", "-in", ca, "-noout", "-text"], check=True,
                              capture_output=True, text=True).stdout
        self.assertIn("CA:TRUE", text)
        self.assertIn(f"Cloister account CA {self.account}", text)
        self.assertIn("prime256v1", text)
        status, headers, der = self.fetch(f"/pki/{self.account}/crl.der")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/pkix-crl")
        crl = os.path.join(self.tmp, "crl.der")
        with open(crl, "wb") as f:
            f.write(der)
        out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", crl, "-CAfile", ca,
                              "-noout", "-text"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("verify OK", out.stderr + out.stdout)
        self.assertIn("No Revoked Certificates", out.stdout)
        # a revoked serial is listed (the node issue revokes through the API)
        psql(f"INSERT INTO revoked_certificates (account_id, serial) VALUES "
             f"('{self.account}', '1f2e3d4c5b6a')", dbname=self.dbname)
        with open(crl, "wb") as f:
            f.write(self.fetch(f"/pki/{self.account}/crl.der")[2])
        out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", crl, "-CAfile", ca,
                              "-noout", "-text"], capture_output=True, text=True)
        self.assertIn("verify OK", out.stderr + out.stdout)
        self.assertIn("1F2E3D4C5B6A", out.stdout)
        self.assertEqual(self.fetch(f"/pki/{uuid.uuid4()}/ca.pem")[0], 404)
        self.assertEqual(self.fetch("/pki/not-an-account/crl.der")[0], 404)
        # the CA key is sealed at rest
        sealed = psql(f"SELECT key_sealed FROM account_cas WHERE account_id = '{self.account}'",
                      dbname=self.dbname)
        self.assertNotIn("PRIVATE KEY", sealed)


if __name__ == "__main__":
    unittest.main()
