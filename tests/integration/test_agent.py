"""cloister-agent end to end, with its simulation evidence provider,
against a real cloisterd that trusts the simulated PKI: it enrolls with the
join token in its file, keeps its identity in its state directory, reports
in, attests again when told, relays nonces for enclaves on its node, waits
for a new token once revoked, and says plainly that it needs an enclave
for dcap evidence."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import test_nodes  # noqa: E402
from cloister_test import psql  # noqa: E402

AGENT = os.environ.get("CLOISTER_AGENT", "")


class AgentProcess:
    def __init__(self, test, state, token_file, *extra, evidence="simulation"):
        self.log_path = os.path.join(test.tmp, f"agent-{uuid.uuid4().hex[:8]}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [AGENT, "--manager", f"http://127.0.0.1:{test.d.port}", "--state-dir", state,
             "--join-token-file", token_file, "--evidence", evidence,
             "--simulation-pki-keys", os.path.join(test.sim, "pki-keys.pem"),
             "--listen", "127.0.0.1:0", "--retry-interval", "1", "--log-format", "text",
             "--node-name", "sgx-node-a", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env={"PATH": os.environ["PATH"]})

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def port(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(r"reach the agent on port (\d+)", self.output())
            if m:
                return int(m.group(1))
            time.sleep(0.05)
        raise AssertionError("the agent never served its local endpoint:\n" + self.output())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()
        return self.proc.returncode


def local(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@unittest.skipUnless(AGENT, "CLOISTER_AGENT names the cloister-agent binary")
class Agent(test_nodes.SimulatedPki):

    def wait_for(self, what, check, timeout=30):
        deadline = time.time() + timeout
        while True:
            value = check()
            if value:
                return value
            self.assertLess(time.time(), deadline, f"{what}, never")
            time.sleep(0.2)

    def cert_serial(self, path):
        out = self.openssl("x509", "-in", path, "-noout", "-serial")
        return out.stdout.strip().split("=", 1)[1].lower().lstrip("0")

    def nodes(self):
        return self.api.ok("GET", "/v1/nodes")["items"]

    def test_the_agent_enrolls_reports_in_attests_again_and_relays(self):
        self.api.ok("PUT", "/v1/policies/nodes", {"reattest_interval": 3600,
                                                  "heartbeat_interval": 5,
                                                  "heartbeat_timeout": 15})
        state = os.path.join(self.tmp, "state-" + uuid.uuid4().hex[:8])
        token_file = os.path.join(self.tmp, "token-" + uuid.uuid4().hex[:8])
        with open(token_file, "w") as f:
            f.write(self.token(labels={"pool": "dcsv3"}) + "\n")
        agent = AgentProcess(self, state, token_file)
        self.addCleanup(agent.stop)
        port = agent.port()
        status, health = local(port, "GET", "/healthz")
        self.assertEqual(status, 200)
        node = self.wait_for("the node enrolled", lambda: self.nodes())[0]
        self.assertEqual((node["name"], node["state"], node["labels"], node["agent_version"]),
                         ("sgx-node-a", "active", {"pool": "dcsv3"}, "0.1.0"))
        self.assertTrue(node["simulated"])
        self.assertEqual(node["facts"]["evidence"], "simulation")
        # its identity, kept 0600, certified by the account CA; node.json is written
        # last, once the daemon's answer is in, which may be just after the node shows
        self.wait_for("the identity saved",
                      lambda: os.path.exists(os.path.join(state, "node.json")))
        for name in ("node.key", "node.pem", "ca.pem", "node.json"):
            mode = stat.S_IMODE(os.stat(os.path.join(state, name)).st_mode)
            self.assertEqual(mode, 0o600, name)
        with open(os.path.join(state, "node.json")) as f:
            self.assertEqual(json.load(f)["node_id"], node["id"])
        out = self.openssl("verify", "-CAfile", os.path.join(state, "ca.pem"),
                           os.path.join(state, "node.pem"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # it reports in with signed requests
        first_seen = node["last_seen_at"]
        self.wait_for("a heartbeat", lambda: self.api.ok(
            "GET", f"/v1/nodes/{node['id']}")["last_seen_at"] != first_seen)
        self.assertEqual(local(port, "GET", "/healthz")[1],
                         {"status": "ok", "enrolled": True, "node_id": node["id"],
                          "revoked": False})
        # told to attest again, it does
        psql(f"UPDATE nodes SET last_attested_at = now() - interval '2 hours'"
             f" WHERE id = '{node['id']}'", dbname=self.dbname)
        self.wait_for("a re-attestation", lambda: self.api.ok(
            "GET", f"/v1/nodes/{node['id']}")["attestation_count"] == 2)
        # the local endpoint relays as the node
        status, nonce = local(port, "POST", "/v1/nonce")
        self.assertEqual(status, 201, nonce)
        self.assertEqual(len(nonce["nonce"]), 44)
        app = str(uuid.uuid4())
        status, answer = local(port, "POST", "/v1/attest",
                               {"app_id": app, "csr": "x", "quote": "AAAA"})
        self.assertEqual(answer["instance"], f"/v1/apps/{app}/attest")    # the daemon's answer
        self.assertEqual(local(port, "POST", "/v1/attest", {"app_id": "nope"})[0], 422)
        self.assertEqual(local(port, "GET", "/v1/other")[0], 404)
        # a restart keeps the identity; told to renew a certificate that expires
        # within 31 days (node certificates last 30), it attests with a CSR for its
        # key and keeps the renewed certificate
        self.assertEqual(agent.stop(), 0)
        first_serial = self.cert_serial(os.path.join(state, "node.pem"))
        self.assertEqual(first_serial, node["cert_serial"].lstrip("0"))
        again = AgentProcess(self, state, token_file, "--renew-before", str(31 * 86400))
        self.addCleanup(again.stop)
        self.wait_for("the restarted agent's heartbeat", lambda: f"node {node['id']}, from"
                      in again.output())
        self.assertEqual(len(self.nodes()), 1)
        self.wait_for("the renewal", lambda: "renewed the node's certificate" in again.output())
        renewed = self.cert_serial(os.path.join(state, "node.pem"))
        self.assertNotEqual(renewed, first_serial)
        events = self.api.ok("GET", f"/v1/nodes/{node['id']}/events")["items"]
        self.assertIn(("certificate_renew", first_serial),
                      [(e["event"], e["detail"].get("superseded", "").lstrip("0"))
                       for e in events])
        out = self.openssl("verify", "-CAfile", os.path.join(state, "ca.pem"),
                           os.path.join(state, "node.pem"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # revoked: it waits for a new token, then enrolls as a new node
        self.api.ok("POST", f"/v1/nodes/{node['id']}/revoke")
        self.wait_for("the agent hearing it is revoked",
                      lambda: "enrolls again only with a new join token" in again.output())
        self.assertEqual(len(self.nodes()), 1)
        with open(token_file, "w") as f:
            f.write(self.token() + "\n")
        second = self.wait_for("a new enrollment", lambda: [
            n for n in self.nodes() if n["id"] != node["id"]])[0]
        self.assertEqual(second["state"], "active")

        def saved_id():             # written once the daemon's answer is in, as above
            try:
                with open(os.path.join(state, "node.json")) as f:
                    return json.load(f)["node_id"]
            except (OSError, ValueError):
                return None
        self.wait_for("the new identity saved", lambda: saved_id() == second["id"])

    def test_a_bad_token_is_reported_and_dcap_needs_an_enclave(self):
        state = tempfile.mkdtemp(dir=self.tmp)
        token_file = os.path.join(state, "token")
        with open(token_file, "w") as f:
            f.write("cljt_" + "A" * 43)
        agent = AgentProcess(self, state, token_file)
        self.addCleanup(agent.stop)
        self.wait_for("the refusal logged", lambda: "the join token was refused" in
                      agent.output())
        self.assertEqual(self.nodes(), [])
        self.assertFalse(os.path.exists(os.path.join(state, "node.json")))
        dcap = subprocess.run([AGENT, "--manager", f"http://127.0.0.1:{self.d.port}",
                               "--state-dir", state, "--evidence", "dcap", "--listen", "off"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(dcap.returncode, 1)
        self.assertIn("must run inside its SGX enclave", dcap.stderr)
        usage = subprocess.run([AGENT], capture_output=True, text=True, timeout=30)
        self.assertEqual(usage.returncode, 2)
        self.assertIn("--manager", usage.stderr)


if __name__ == "__main__":
    unittest.main()
