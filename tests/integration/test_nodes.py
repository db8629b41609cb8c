"""Join tokens (/v1/node-tokens), the account CA's public certificate and
CRL (/pki/{account}/ca.pem, crl.der), and node enrollment with simulated
SGX evidence (/v1/nodes), against cloisterd, checked with the openssl
command."""
import base64
import email.utils
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from cloister_test import (AccountTestCase, Api, Daemon, create_admin, new_database,  # noqa: E402
                           psql)


class Nodes(AccountTestCase):
    DAEMON_ENV = {"CLOISTER_PCS_URL": ""}

    def setUp(self):
        super().setUp()
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


def ecdsa_raw(der):
    """r || s, 32 bytes each, from a DER ECDSA-Sig-Value."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big")
        i += 2 + n
    return out


class SimulatedPki(AccountTestCase):
    """A daemon that trusts one simulation PKI (its keys kept, so that every
    quote made later chains to the same root), with the PKI's collateral
    imported into a fresh account for each test; and the helpers nodes
    need: join tokens, keys and CSRs, nonces, bound quotes, enrollment and
    requests signed as a node."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cl-enroll-")
        cls.cli = os.environ["CLOISTER_CLI"]
        cls.sim = os.path.join(cls.tmp, "pki")
        os.mkdir(cls.sim)
        subprocess.run([cls.cli, "quote", "simulate", "--out", cls.sim], check=True,
                       capture_output=True)
        cls.DAEMON_ENV = {"CLOISTER_PCS_URL": "", "CLOISTER_NODE_WATCH_INTERVAL": "1",
                          "CLOISTER_SGX_TRUST_ROOTS": os.path.join(cls.sim, "root.pem")}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        super().setUp()

        def read(name, mode="r"):
            with open(os.path.join(self.sim, name), mode) as f:
                return f.read()
        self.api.ok("POST", "/v1/collateral", {
            "tcb_info": read("tcb_info.json"),
            "tcb_info_issuer_chain": read("tcb_info_issuer_chain.pem"),
            "qe_identity": read("qe_identity.json"),
            "qe_identity_issuer_chain": read("qe_identity_issuer_chain.pem"),
            "pck_crl": base64.b64encode(read("pck_crl.der", "rb")).decode(),
            "pck_crl_ca": "processor",
            "root_ca_crl": base64.b64encode(read("root_ca_crl.der", "rb")).decode()})

    def token(self, **fields):
        body = {"name": "t", **fields}
        return self.api.ok("POST", "/v1/node-tokens", body, want=201)["secret"]

    def key_and_csr(self, with_key=False):
        """A new EC P-256 key: its CSR (PEM) and its DER SubjectPublicKeyInfo
        (and the key's file, with_key)."""
        work = tempfile.mkdtemp(dir=self.tmp)
        key = os.path.join(work, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
        csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=node"],
                             check=True, capture_output=True, text=True).stdout
        spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                              check=True, capture_output=True).stdout
        return (csr, spki, key) if with_key else (csr, spki)

    def nonce(self, secret):
        status, _, doc = self.api.call("POST", "/v1/attestation/nonce",
                                       headers={"Authorization": "JoinToken " + secret})
        self.assertEqual(status, 201, doc)
        return doc["nonce"]

    def quote(self, spki, nonce):
        """A simulated quote whose report data binds spki and nonce (API.md)."""
        out = tempfile.mkdtemp(dir=self.tmp)
        data = hashlib.sha256(spki + base64.b64decode(nonce)).hexdigest()
        subprocess.run([self.cli, "quote", "simulate", "--out", out, "--report-data", data,
                        "--pki-keys", os.path.join(self.sim, "pki-keys.pem")],
                       check=True, capture_output=True)
        with open(os.path.join(out, "quote.bin"), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def enroll(self, secret, csr, quote, nonce, **extra):
        return self.api.call("POST", "/v1/nodes/enroll",
                             {"csr": csr, "quote": quote, "nonce": nonce, **extra},
                             headers={"Authorization": "JoinToken " + secret})

    def enroll_ok(self, secret, **extra):
        csr, spki, key = self.key_and_csr(with_key=True)
        nonce = self.nonce(secret)
        status, _, node = self.enroll(secret, csr, self.quote(spki, nonce), nonce, **extra)
        self.assertEqual(status, 201, node)
        node["_key"], node["_spki"] = key, spki
        return node

    def signed(self, node, method, path, body=None, key=None, keyid=None):
        """A request signed as a node signs it (RFC 9421, API.md), made here
        with the openssl command rather than the daemon's own code."""
        data, headers = self.sign(node, method, path, body, key, keyid)
        return self.d.request(method, path, body=data or None, headers=headers)

    def sign(self, node, method, path, body=None, key=None, keyid=None):
        """The body and headers of such a request."""
        data = json.dumps(body).encode() if body is not None else b""
        date = email.utils.formatdate(usegmt=True)
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"
        params = (f'("@method" "@path" "date" "content-digest");created={int(time.time())};'
                  f'keyid="{keyid or node["id"]}";alg="ecdsa-p256-sha256"')
        signature_base = (f'"@method": {method}\n"@path": {path}\n"date": {date}\n'
                          f'"content-digest": {digest}\n"@signature-params": {params}')
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key or node["_key"]],
                             input=signature_base.encode(), check=True,
                             capture_output=True).stdout
        headers = {"Date": date, "Content-Digest": digest, "Signature-Input": "sig1=" + params,
                   "Signature": "sig1=:" + base64.b64encode(ecdsa_raw(der)).decode() + ":"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return data, headers

    def signed_json(self, *args, **kwargs):
        status, _, payload = self.signed(*args, **kwargs)
        return status, json.loads(payload) if payload else None

    def openssl(self, *args, stdin=None):
        return subprocess.run(["openssl", *args], capture_output=True, text=True, input=stdin)

    def verified_certificate(self, answer):
        """The answer's certificate, written to a file and verified with openssl
        against the answer's ca_certificate; the file's path."""
        work = tempfile.mkdtemp(dir=self.tmp)
        ca, cert = os.path.join(work, "ca.pem"), os.path.join(work, "cert.pem")
        with open(ca, "w") as f:
            f.write(answer["ca_certificate"])
        with open(cert, "w") as f:
            f.write(answer["certificate"])
        out = self.openssl("verify", "-CAfile", ca, cert)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return cert



class Enrollment(SimulatedPki):
    """Nodes enroll with a join token, a CSR and a simulated quote bound to
    the CSR's key and a fresh nonce; then they speak for themselves with
    signed requests, and people move them between states."""

    def test_a_node_enrolls_and_its_certificate_verifies_against_the_account_ca(self):
        secret = self.token(uses=1, labels={"zone": "westeurope-1"})
        node = self.enroll_ok(secret, name="sgx-node-1", agent_version="0.1.0",
                              facts={"hostname": "aks-sgx-1", "epc_bytes": 8388608})
        self.assertEqual((node["name"], node["state"], node["labels"], node["agent_version"]),
                         ("sgx-node-1", "active", {"zone": "westeurope-1"}, "0.1.0"))
        self.assertEqual(node["facts"]["hostname"], "aks-sgx-1")
        self.assertTrue(node["simulated"])
        self.assertEqual(node["tcb_status"], "UpToDate")
        self.assertEqual(node["attestation_count"], 1)
        self.assertEqual(node["report"]["verdict"], "accepted")
        self.assertEqual(node["report"]["subject"], "node:" + node["id"])
        self.assertEqual(node["last_report_id"], node["report"]["id"])
        reports = self.api.ok("GET", f"/v1/attestation-reports?subject=node:{node['id']}")
        self.assertEqual([r["id"] for r in reports["items"]], [node["report"]["id"]])
        cert = self.verified_certificate(node)
        text = self.openssl("x509", "-in", cert, "-noout", "-text").stdout
        self.assertIn(f"CN = {node['id']}", text)
        serial = self.openssl("x509", "-in", cert, "-noout", "-serial").stdout
        self.assertEqual(int(serial.strip().split("=")[1], 16), int(node["cert_serial"], 16))
        base = f"http://127.0.0.1:{self.d.port}/pki/{self.account}"
        self.assertIn(f"URI:{base}/crl.der", text)
        self.assertIn(f"CA Issuers - URI:{base}/ca.pem", text)
        # listed, read, with its enrollment event and audit entry
        self.assertEqual([n["id"] for n in self.api.ok("GET", "/v1/nodes")["items"]],
                         [node["id"]])
        got = self.api.ok("GET", f"/v1/nodes/{node['id']}")
        self.assertEqual(got["certificate"], node["certificate"])
        events = self.api.ok("GET", f"/v1/nodes/{node['id']}/events")["items"]
        self.assertEqual([(e["event"], e["from_state"], e["to_state"]) for e in events],
                         [("enroll", None, "active")])
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=50")["items"]]
        self.assertIn("node.enroll", actions)
        self.assertIn("attestation.verify", actions)
        # the token had one use: it is spent
        status, _, problem = self.api.call("POST", "/v1/attestation/nonce",
                                           headers={"Authorization": "JoinToken " + secret})
        self.assertEqual(status, 401)
        self.assertIn("used up", problem["detail"])
        token = self.api.ok("GET", "/v1/node-tokens")["items"][0]
        self.assertEqual((token["used"], token["state"]), (1, "used"))

    def test_evidence_that_is_replayed_or_bound_elsewhere_is_refused_and_kept(self):
        secret = self.token(uses=5)
        csr, spki = self.key_and_csr()
        nonce = self.nonce(secret)
        quote = self.quote(spki, nonce)
        self.assertEqual(self.enroll(secret, csr, quote, nonce)[0], 201)
        # the same evidence again: its nonce is spent
        status, _, problem = self.enroll(secret, csr, quote, nonce)
        self.assertEqual(status, 403, problem)
        self.assertIn("the nonce is unknown, used already or expired", problem["detail"])
        # evidence bound to another key than the CSR's
        other_csr, _ = self.key_and_csr()
        nonce = self.nonce(secret)
        status, _, problem = self.enroll(secret, other_csr, self.quote(spki, nonce), nonce)
        self.assertEqual(status, 403, problem)
        self.assertIn("does not bind the public key and the nonce", problem["detail"])
        # a nonce of another account's token is unknown here
        self.assertEqual(len(self.api.ok("GET", "/v1/nodes")["items"]), 1)
        token = self.api.ok("GET", "/v1/node-tokens")["items"][0]
        self.assertEqual(token["used"], 1)                  # refusals use nothing up
        refused = self.api.ok("GET", "/v1/attestation-reports?verdict=refused")["items"]
        self.assertEqual(len(refused), 2)
        self.assertTrue(all(r["subject"].startswith("node:") for r in refused))
        # malformed requests change nothing
        for body in ({"csr": "not a csr", "quote": quote, "nonce": nonce},
                     {"csr": csr, "nonce": nonce},
                     {"csr": csr, "quote": quote, "nonce": nonce, "facts": []},
                     {"csr": csr, "quote": quote, "nonce": nonce, "extra": 1}):
            status, _, problem = self.api.call("POST", "/v1/nodes/enroll", body,
                                               headers={"Authorization": "JoinToken " + secret})
            self.assertEqual(status, 422, (body, problem))
        rsa = subprocess.run("openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null "
                             "-subj /CN=x 2>/dev/null", shell=True, capture_output=True,
                             text=True).stdout
        status, _, problem = self.enroll(secret, rsa, quote, nonce)
        self.assertEqual(status, 422)
        self.assertIn("EC P-256", json.dumps(problem))

    def test_tokens_that_are_expired_revoked_or_absent_enroll_nothing(self):
        expired = self.token()
        psql("UPDATE node_tokens SET expires_at = now() - interval '1 second'",
             dbname=self.dbname)
        status, _, problem = self.api.call("POST", "/v1/attestation/nonce",
                                           headers={"Authorization": "JoinToken " + expired})
        self.assertEqual((status, "expired" in problem["detail"]), (401, True))
        secret = self.token()
        nonce = self.nonce(secret)
        csr, spki = self.key_and_csr()
        quote = self.quote(spki, nonce)
        token_id = [t["id"] for t in self.api.ok("GET", "/v1/node-tokens")["items"]
                    if t["state"] == "active"][0]
        self.api.ok("POST", f"/v1/node-tokens/{token_id}/revoke")
        status, _, problem = self.enroll(secret, csr, quote, nonce)
        self.assertEqual(status, 401)
        self.assertIn("revoked", problem["detail"])
        status, _, _ = self.enroll("cljt_" + "A" * 43, csr, quote, nonce)
        self.assertEqual(status, 401)
        # a join token opens nothing else, and people do not enroll
        live = self.token()
        status, _, _ = self.api.call("GET", "/v1/nodes",
                                     headers={"Authorization": "JoinToken " + live})
        self.assertEqual(status, 403)
        status, _, _ = self.api.call("POST", "/v1/nodes/enroll",
                                     {"csr": csr, "quote": quote, "nonce": nonce})
        self.assertEqual(status, 403)
        self.assertEqual(self.api.ok("GET", "/v1/nodes")["items"], [])

    def test_the_command_line_lists_shows_and_revokes_nodes(self):
        node = self.enroll_ok(self.token(), name="cli-node")
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ops", "role": "operator"},
                          want=201)["secret"]
        env = {"PATH": os.environ["PATH"], "HOME": self.tmp,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}

        def run(*args, code=0):
            res = subprocess.run([self.cli, *args], capture_output=True, text=True, env=env)
            self.assertEqual(res.returncode, code, res.stdout + res.stderr)
            return res.stdout + res.stderr
        listed = json.loads(run("-o", "json", "node", "list"))
        self.assertEqual([(n["name"], n["state"]) for n in listed], [("cli-node", "active")])
        self.assertIn("UpToDate", run("node", "get", node["id"]))
        self.assertIn("deactivated", run("node", "deactivate", node["id"]))
        self.assertIn("revoked", run("node", "revoke", node["id"], "--reason", "stolen"))
        self.assertIn("cannot be active", run("node", "reactivate", node["id"], code=4))
        events = json.loads(run("-o", "json", "node", "events", node["id"]))
        self.assertEqual([e["to_state"] for e in events], ["active", "deactivated", "revoked"])
        self.assertEqual(events[-1]["detail"], {"reason": "stolen"})

    def test_a_node_heartbeats_with_signed_requests_and_falls_unreachable_when_silent(self):
        node = self.enroll_ok(self.token())
        nid = node["id"]
        path = f"/v1/nodes/{nid}/heartbeat"
        status, beat = self.signed_json(node, "POST", path, {
            "agent_version": "0.2.0", "facts": {"hostname": "aks-sgx-2", "flc": True}})
        self.assertEqual(status, 200, beat)
        self.assertEqual((beat["state"], beat["reattest_due"], beat["heartbeat_interval"],
                          beat["reattest_interval"]), ("active", False, 30, 3600))
        got = self.api.ok("GET", f"/v1/nodes/{nid}")
        self.assertEqual((got["agent_version"], got["facts"]["flc"]), ("0.2.0", True))
        self.assertEqual(self.signed_json(node, "POST", path)[0], 200)      # no body
        # what is not the node's own signed request is refused
        other_key = self.key_and_csr(with_key=True)[2]
        status, problem = self.signed_json(node, "POST", path, key=other_key)
        self.assertEqual(status, 401)
        self.assertIn("not the node's", problem["detail"])
        other = self.enroll_ok(self.token())
        status, problem = self.signed_json(other, "POST", path)
        self.assertEqual(status, 403)
        self.assertIn("only for itself", problem["detail"])
        self.assertEqual(self.api.call("POST", path)[0], 403)               # not even an admin
        status, problem = self.signed_json(node, "GET", "/v1/nodes")
        self.assertEqual(status, 403)
        status, _, _ = self.d.request("POST", path, headers={
            "Signature-Input": 'sig1=("@method");created=1;keyid="x"'})
        self.assertEqual(status, 401)
        # the account's policy: a short timeout; a silent node becomes unreachable
        status, _, problem = self.api.call("PUT", "/v1/policies/nodes", {
            "reattest_interval": 60, "heartbeat_interval": 5, "heartbeat_timeout": 15})
        self.assertEqual(status, 200, problem)
        for bad in ({"extra": 1}, {"heartbeat_interval": 10}, {"reattest_interval": 59}):
            status, _, problem = self.api.call("PUT", "/v1/policies/nodes", {
                "reattest_interval": 60, "heartbeat_interval": 5, "heartbeat_timeout": 15,
                **bad})
            self.assertEqual(status, 422, bad)
        self.assertEqual(self.api.ok("GET", "/v1/policies/nodes")["heartbeat_timeout"], 15)
        psql(f"UPDATE nodes SET last_seen_at = now() - interval '16 seconds' WHERE id = '{nid}'",
             dbname=self.dbname)
        deadline = time.time() + 20
        while self.api.ok("GET", f"/v1/nodes/{nid}")["state"] != "unreachable":
            self.assertLess(time.time(), deadline, "the node never became unreachable")
            time.sleep(0.2)
        self.assertEqual(self.api.ok("GET", f"/v1/nodes/{other['id']}")["state"], "active")
        status, beat = self.signed_json(node, "POST", path)
        self.assertEqual((status, beat["state"]), (200, "active"))
        events = self.api.ok("GET", f"/v1/nodes/{nid}/events")["items"]
        self.assertEqual([(e["event"], e["from_state"], e["to_state"], e["actor"])
                          for e in events[1:]],
                         [("heartbeat_missed", "active", "unreachable", "system"),
                          ("heartbeat", "unreachable", "active", f"node:{nid}")])
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        for action in ("node.unreachable", "node.reachable", "policy.nodes.update"):
            self.assertIn(action, actions)
        # deactivated: refused; revoked: refused as revoked
        self.api.ok("POST", f"/v1/nodes/{nid}/deactivate")
        self.assertEqual(self.signed_json(node, "POST", path)[0], 403)
        self.api.ok("POST", f"/v1/nodes/{nid}/revoke")
        status, problem = self.signed_json(node, "POST", path)
        self.assertEqual(status, 401)
        self.assertIn("is revoked", problem["detail"])

    def test_a_node_attests_again_and_refused_evidence_marks_it_failed(self):
        node = self.enroll_ok(self.token())
        nid = node["id"]

        def nonce():
            status, doc = self.signed_json(node, "POST", "/v1/attestation/nonce")
            self.assertEqual(status, 201, doc)
            return doc["nonce"]
        n = nonce()
        status, attested = self.signed_json(node, "POST", f"/v1/nodes/{nid}/attest",
                                            {"quote": self.quote(node["_spki"], n), "nonce": n})
        self.assertEqual(status, 200, attested)
        self.assertEqual((attested["state"], attested["attestation_count"]), ("active", 2))
        self.assertEqual(attested["last_report_id"], attested["report"]["id"])
        # evidence for another key: refused, and the node is attestation_failed
        n = nonce()
        _, spki = self.key_and_csr()
        status, problem = self.signed_json(node, "POST", f"/v1/nodes/{nid}/attest",
                                           {"quote": self.quote(spki, n), "nonce": n})
        self.assertEqual(status, 403, problem)
        self.assertIn("attestation_failed", problem["detail"])
        got = self.api.ok("GET", f"/v1/nodes/{nid}")
        self.assertEqual((got["state"], got["attestation_count"]), ("attestation_failed", 2))
        n = nonce()
        status, attested = self.signed_json(node, "POST", f"/v1/nodes/{nid}/attest",
                                            {"quote": self.quote(node["_spki"], n), "nonce": n})
        self.assertEqual((status, attested["state"]), (200, "active"))
        events = self.api.ok("GET", f"/v1/nodes/{nid}/events")["items"]
        self.assertEqual([(e["event"], e["to_state"]) for e in events],
                         [("enroll", "active"), ("attest", "attestation_failed"),
                          ("attest", "active")])
        reports = self.api.ok("GET", f"/v1/attestation-reports?subject=node:{nid}")["items"]
        self.assertEqual([r["verdict"] for r in reports], ["accepted", "refused", "accepted",
                                                            "accepted"])

    def test_a_signed_request_is_good_once(self):
        node = self.enroll_ok(self.token())
        path = f"/v1/nodes/{node['id']}/heartbeat"
        data, headers = self.sign(node, "POST", path, {"agent_version": "0.1.0"})
        self.assertEqual(self.d.request("POST", path, body=data, headers=headers)[0], 200)
        # the same bytes again, within the clock skew: refused
        status, _, payload = self.d.request("POST", path, body=data, headers=headers)
        self.assertEqual(status, 401)
        self.assertIn("sent before", json.loads(payload)["detail"])
        # nor does the other encoding ECDSA allows of the same signature pass (s -> n - s)
        raw = base64.b64decode(headers["Signature"][len("sig1=:"):-1])
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        s = n - int.from_bytes(raw[32:], "big")
        twin = dict(headers, Signature="sig1=:" + base64.b64encode(
            raw[:32] + s.to_bytes(32, "big")).decode() + ":")
        status, _, payload = self.d.request("POST", path, body=data, headers=twin)
        self.assertEqual(status, 401)
        self.assertIn("sent before", json.loads(payload)["detail"])
        # a request signed anew is fine
        self.assertEqual(self.signed_json(node, "POST", path, {"agent_version": "0.1.0"})[0],
                         200)

    def test_fresh_evidence_with_a_csr_renews_the_node_certificate(self):
        node = self.enroll_ok(self.token())
        nid, old = node["id"], node["cert_serial"]
        attest = f"/v1/nodes/{nid}/attest"

        def nonce():
            status, doc = self.signed_json(node, "POST", "/v1/attestation/nonce")
            self.assertEqual(status, 201, doc)
            return doc["nonce"]
        csr = self.openssl("req", "-new", "-key", node["_key"], "-subj", "/CN=node").stdout
        # a CSR for another key, or refused evidence: nothing is issued
        n = nonce()
        other_csr, _ = self.key_and_csr()
        status, problem = self.signed_json(node, "POST", attest, {
            "quote": self.quote(node["_spki"], n), "nonce": n, "csr": other_csr})
        self.assertEqual(status, 422, problem)
        self.assertIn("the key the node enrolled with", json.dumps(problem))
        n = nonce()
        _, spki = self.key_and_csr()
        status, problem = self.signed_json(node, "POST", attest, {
            "quote": self.quote(spki, n), "nonce": n, "csr": csr})
        self.assertEqual(status, 403, problem)
        self.assertEqual(self.api.ok("GET", f"/v1/nodes/{nid}")["cert_serial"], old)
        # accepted evidence with the node's own CSR: a new certificate, the old one
        # on the CRL as superseded
        n = nonce()
        status, attested = self.signed_json(node, "POST", attest, {
            "quote": self.quote(node["_spki"], n), "nonce": n, "csr": csr})
        self.assertEqual(status, 200, attested)
        self.assertEqual(attested["state"], "active")
        new = attested["cert_serial"]
        self.assertNotEqual(new, old)
        self.assertEqual(self.api.ok("GET", f"/v1/nodes/{nid}")["cert_serial"], new)
        cert = self.verified_certificate(attested)
        text = self.openssl("x509", "-in", cert, "-noout", "-serial").stdout
        self.assertIn(new.upper().lstrip("0"), text.upper())
        crl = os.path.join(self.tmp, f"{nid}-crl.der")
        with open(crl, "wb") as f:
            f.write(self.d.request("GET", f"/pki/{self.account}/crl.der")[2])
        crl_text = self.openssl("crl", "-inform", "DER", "-in", crl, "-noout", "-text").stdout
        self.assertIn(old.upper().lstrip("0"), crl_text.upper())
        self.assertNotIn(new.upper().lstrip("0"), crl_text.upper())
        events = self.api.ok("GET", f"/v1/nodes/{nid}/events")["items"]
        renew = [e for e in events if e["event"] == "certificate_renew"]
        self.assertEqual([(e["detail"]["superseded"], e["detail"]["cert_serial"])
                          for e in renew], [(old, new)])
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        self.assertIn("node.certificate_renew", actions)
        # without a CSR, attesting again renews nothing
        n = nonce()
        status, attested = self.signed_json(node, "POST", attest, {
            "quote": self.quote(node["_spki"], n), "nonce": n})
        self.assertEqual((status, attested["cert_serial"]), (200, new))
        self.assertNotIn("certificate", attested)

    def test_an_account_can_require_approval_and_name_the_agent_enclave(self):
        policy = {"reattest_interval": 3600, "heartbeat_interval": 30, "heartbeat_timeout": 180}
        self.api.ok("PUT", "/v1/policies/nodes", {**policy, "require_approval": True,
                                                  "agent_mrsigners": ["5c" * 32]})
        for bad in ({"agent_mrenclaves": ["AB" * 32]}, {"agent_mrsigners": "5c"},
                    {"require_approval": "yes"}):
            self.assertEqual(self.api.call("PUT", "/v1/policies/nodes", {**policy, **bad})[0],
                             422, bad)
        approved = self.enroll_ok(self.token(), name="wants-approval")
        self.assertEqual(approved["state"], "pending_approval")
        tasks = self.api.ok("GET", "/v1/tasks?type=node_approval")["items"]
        self.assertEqual([t["details"]["node_id"] for t in tasks], [approved["id"]])
        self.api.ok("POST", f"/v1/tasks/{tasks[0]['id']}/approve")
        self.assertEqual(self.api.ok("GET", f"/v1/nodes/{approved['id']}")["state"], "active")
        denied = self.enroll_ok(self.token())
        task = [t for t in self.api.ok("GET", "/v1/tasks?type=node_approval")["items"]
                if t["details"]["node_id"] == denied["id"]][0]
        self.api.ok("POST", f"/v1/tasks/{task['id']}/deny")
        self.assertEqual(self.api.ok("GET", f"/v1/nodes/{denied['id']}")["state"], "revoked")
        self.assertEqual(psql(f"SELECT reason FROM revoked_certificates WHERE serial ="
                              f" '{denied['cert_serial']}'", dbname=self.dbname),
                         "approval denied")
        events = self.api.ok("GET", f"/v1/nodes/{approved['id']}/events")["items"]
        self.assertEqual([(e["event"], e["to_state"]) for e in events],
                         [("enroll", "pending_approval"), ("approve", "active")])
        # an agent enclave the policy does not name is refused
        self.api.ok("PUT", "/v1/policies/nodes", {**policy, "agent_mrenclaves": ["ab" * 32]})
        csr, spki = self.key_and_csr()
        secret = self.token()
        nonce = self.nonce(secret)
        status, _, problem = self.enroll(secret, csr, self.quote(spki, nonce), nonce)
        self.assertEqual(status, 403, problem)
        self.assertIn("is not one the account's node policy names", problem["detail"])
        self.assertEqual(len(self.api.ok("GET", "/v1/nodes")["items"]), 2)

    def test_a_revoked_node_is_on_the_crl_and_transitions_are_kept(self):
        node = self.enroll_ok(self.token())
        nid = node["id"]
        self.assertEqual(self.api.ok("POST", f"/v1/nodes/{nid}/deactivate")["state"],
                         "deactivated")
        status, _, _ = self.api.call("POST", f"/v1/nodes/{nid}/deactivate")
        self.assertEqual(status, 409)
        self.assertEqual(self.api.ok("POST", f"/v1/nodes/{nid}/reactivate")["state"], "active")
        revoked = self.api.ok("POST", f"/v1/nodes/{nid}/revoke", {"reason": "decommissioned"})
        self.assertEqual(revoked["state"], "revoked")
        for action in ("revoke", "reactivate", "deactivate"):
            status, _, _ = self.api.call("POST", f"/v1/nodes/{nid}/{action}")
            self.assertEqual(status, 409, action)
        events = self.api.ok("GET", f"/v1/nodes/{nid}/events")["items"]
        self.assertEqual([(e["event"], e["to_state"]) for e in events],
                         [("enroll", "active"), ("deactivate", "deactivated"),
                          ("reactivate", "active"), ("revoke", "revoked")])
        self.assertEqual(events[-1]["detail"], {"reason": "decommissioned"})
        ca = os.path.join(self.tmp, f"rca-{nid}.pem")
        crl = os.path.join(self.tmp, f"crl-{nid}.der")
        with open(ca, "w") as f:
            f.write(node["ca_certificate"])
        with open(crl, "wb") as f:
            f.write(self.d.request("GET", f"/pki/{self.account}/crl.der")[2])
        out = self.openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", ca, "-noout", "-text")
        self.assertIn("verify OK", out.stdout + out.stderr)
        listed = [int(h, 16) for h in re.findall(r"Serial Number: ([0-9A-F]+)", out.stdout)]
        self.assertEqual(listed, [int(node["cert_serial"], 16)])
        cert = os.path.join(self.tmp, f"rcert-{nid}.pem")
        with open(cert, "w") as f:
            f.write(node["certificate"])
        crl_pem = os.path.join(self.tmp, f"crl-{nid}.pem")
        self.openssl("crl", "-inform", "DER", "-in", crl, "-out", crl_pem)
        out = self.openssl("verify", "-crl_check", "-CAfile", ca, "-CRLfile", crl_pem, cert)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("revoked", out.stdout + out.stderr)
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=50")["items"]]
        for action in ("node.deactivate", "node.reactivate", "node.revoke"):
            self.assertIn(action, actions)
        # another account sees nothing of it
        other = self.api.ok("POST", "/v1/accounts", {"name": "x-" + uuid.uuid4().hex[:8]},
                            want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": other})
        self.assertEqual(self.api.ok("GET", "/v1/nodes")["items"], [])
        for method, path in (("GET", f"/v1/nodes/{nid}"), ("GET", f"/v1/nodes/{nid}/events"),
                             ("POST", f"/v1/nodes/{nid}/reactivate")):
            self.assertEqual(self.api.call(method, path)[0], 404, path)


if __name__ == "__main__":
    unittest.main()
