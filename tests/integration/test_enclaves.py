"""Enclave attestation (POST /v1/apps/{id}/attest) against cloisterd: an
enclave of an app, on an enrolled node, proves what it is with a simulated
quote bound to its CSR's key and a nonce, relayed as the node's signed
request; it receives a certificate for its approved domains and its
secrets as JWE to its key, opened here with the cryptography library
(an implementation independent of the daemon's); every rule it can break
is refused with its reason and audited; certificates are listed and
revoked, onto the CRL, and deprecating a build revokes its certificates;
secret values appear in no API answer and no log."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import test_agent  # noqa: E402
import test_nodes  # noqa: E402
from cloister_test import psql  # noqa: E402

try:
    import cryptography  # noqa: F401
except ImportError:     # an interpreter of its own: Debian's python3-cryptography, same ABI
    sys.path.append("/usr/lib/python3/dist-packages")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

MRENCLAVE = "ab" * 32
SECRET = "s3cret-" + uuid.uuid4().hex


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwe_open(jwe, key_pem):
    """RFC 7516 compact, ECDH-ES + A256GCM (RFC 7518 4.6), done here."""
    h64, enc_key, iv, ct, tag = jwe.split(".")
    header = json.loads(b64url_decode(h64))
    assert (header["alg"], header["enc"], enc_key) == ("ECDH-ES", "A256GCM", "")
    epk = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(header["epk"]["x"]), "big"),
        int.from_bytes(b64url_decode(header["epk"]["y"]), "big"), ec.SECP256R1()).public_key()
    key = serialization.load_pem_private_key(key_pem, None)
    z = key.exchange(ec.ECDH(), epk)
    alg = b"A256GCM"
    other = (len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big") +
             (0).to_bytes(4, "big") + (256).to_bytes(4, "big"))
    digest = hashes.Hash(hashes.SHA256())
    digest.update((1).to_bytes(4, "big") + z + other)
    cek = digest.finalize()
    return AESGCM(cek).decrypt(b64url_decode(iv), b64url_decode(ct) + b64url_decode(tag),
                               h64.encode()).decode()


class Enclaves(test_nodes.SimulatedPki):

    def setUp(self):
        super().setUp()
        self.node = self.enroll_ok(self.token(labels={"zone": "a"}))
        self.app = self.api.ok("POST", "/v1/apps", {
            "name": "web-" + uuid.uuid4().hex[:6], "input_image": "nginx:1.25",
            "output_image": "registry.example.com/acme/web-sgx",
            "allowed_domains": ["api.example.com", "later.example.com"],
            "required_node_labels": {"zone": "a"}, "cert_lifetime": 7200,
            "secrets_env": True}, want=201)
        task = [t for t in self.api.ok("GET", "/v1/tasks?type=domain_approval")["items"]
                if t["details"].get("domain") == "api.example.com"
                and t["details"].get("app_id") == self.app["id"]][0]
        self.api.ok("POST", f"/v1/tasks/{task['id']}/approve")
        self.build = self.add_build(MRENCLAVE, "approved")
        self.api.ok("PUT", f"/v1/apps/{self.app['id']}/secrets/DB_PASSWORD", {"value": SECRET})
        self.api.ok("POST", f"/v1/apps/{self.app['id']}/secrets/API_KEY/generate",
                    {"kind": "random", "bytes": 32}, want=201)

    def add_build(self, mrenclave, state, isvsvn=0):
        """A build row as a conversion leaves it (the conversion itself is
        test_convert's subject)."""
        bid = str(uuid.uuid4())
        psql(f"""INSERT INTO builds (id, account_id, app_id, job_id, state, input_image,
                   input_digest, runtime, runtime_version, runtime_image, runtime_digest,
                   output_image, mrenclave, mrsigner, isvprodid, isvsvn, debug, enclave_size,
                   max_threads, sigstruct_date, manifest, trusted_files, sigstruct, created_by)
                 VALUES ('{bid}', '{self.account}', '{self.app["id"]}', gen_random_uuid(),
                   '{state}', 'nginx:1.25', 'sha256:{"0" * 64}', 'gramine', '1.9',
                   'gramine-runtime:1.9', 'sha256:{"1" * 64}', 'registry.example.com/web',
                   '{mrenclave}', '{"5c" * 32}', 1, {isvsvn}, false, 536870912, 16,
                   current_date, '', 0, '\\x00', 'user:test')""", dbname=self.dbname)
        return bid

    def enclave(self, names=("api.example.com",)):
        """An enclave's key (PEM) and CSR asking for names."""
        work = tempfile.mkdtemp(dir=self.tmp)
        key = os.path.join(work, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
        args = ["openssl", "req", "-new", "-key", key, "-subj", "/CN=enclave"]
        if names:
            args += ["-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names)]
        csr = subprocess.run(args, check=True, capture_output=True, text=True).stdout
        spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                              check=True, capture_output=True).stdout
        with open(key, "rb") as f:
            return f.read(), csr, spki

    def quote_for(self, spki, nonce, *extra):
        out = tempfile.mkdtemp(dir=self.tmp)
        data = hashlib.sha256(spki + base64.b64decode(nonce)).hexdigest()
        subprocess.run([self.cli, "quote", "simulate", "--out", out, "--report-data", data,
                        "--pki-keys", os.path.join(self.sim, "pki-keys.pem"), *extra],
                       check=True, capture_output=True)
        with open(os.path.join(out, "quote.bin"), "rb") as f:
            return base64.b64encode(f.read()).decode()

    def node_nonce(self, node=None):
        status, doc = self.signed_json(node or self.node, "POST", "/v1/attestation/nonce")
        self.assertEqual(status, 201, doc)
        return doc["nonce"]

    def attest(self, node=None, names=("api.example.com",), mrenclave=MRENCLAVE, extra=(),
               bind=True, nonce=None):
        key, csr, spki = self.enclave(names)
        nonce = nonce or self.node_nonce(node)
        bound = spki if bind else self.enclave()[2]
        quote = self.quote_for(bound, nonce, "--mrenclave", mrenclave, *extra)
        status, doc = self.signed_json(node or self.node, "POST",
                                       f"/v1/apps/{self.app['id']}/attest",
                                       {"csr": csr, "quote": quote, "nonce": nonce})
        return status, doc, key, nonce

    def refused(self, why, **kwargs):
        status, doc, _, _ = self.attest(**kwargs)
        self.assertEqual(status, 403, doc)
        self.assertIn(why, doc["detail"])
        return doc

    def test_an_attested_enclave_receives_its_certificate_and_secrets(self):
        status, got, key, nonce = self.attest()
        self.assertEqual(status, 201, got)
        self.assertEqual((got["build_id"], got["names"]), (self.build, ["api.example.com"]))
        self.assertEqual(got["settings"], {"cloister_dir": "/run/cloister", "secrets_env": True,
                                           "on_attestation_failure": "retry",
                                           "cert_lifetime": 7200})
        ca = os.path.join(self.tmp, f"ca-{self.account}.pem")
        cert = os.path.join(self.tmp, f"enclave-{got['id']}.pem")
        with open(ca, "w") as f:
            f.write(got["chain"][0])
        with open(cert, "w") as f:
            f.write(got["certificate"])
        out = self.openssl("verify", "-CAfile", ca, "-verify_hostname", "api.example.com", cert)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        out = self.openssl("verify", "-CAfile", ca, "-verify_hostname", "other.example.com", cert)
        self.assertNotEqual(out.returncode, 0)
        # the secrets open with the enclave's key, and only with it
        self.assertEqual(sorted(got["secrets"]), ["API_KEY", "DB_PASSWORD"])
        self.assertEqual(jwe_open(got["secrets"]["DB_PASSWORD"], key), SECRET)
        self.assertEqual(len(base64.b64decode(jwe_open(got["secrets"]["API_KEY"], key))), 32)
        other_key = self.enclave()[0]
        with self.assertRaises(Exception):
            jwe_open(got["secrets"]["DB_PASSWORD"], other_key)
        # recorded with what it was issued on
        listed = self.api.ok("GET", f"/v1/certificates?app_id={self.app['id']}")["items"]
        self.assertEqual([(c["id"], c["build_id"], c["node_id"], c["state"]) for c in listed],
                         [(got["id"], self.build, self.node["id"], "valid")])
        report = self.api.ok("GET", f"/v1/attestation-reports/{got['report_id']}")
        self.assertEqual((report["subject"], report["verdict"]),
                         (f"app:{self.app['id']}", "accepted"))
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        for action in ("certificate.issue", "secret.release", "secret.set", "secret.generate"):
            self.assertIn(action, actions)
        # the same nonce again is refused
        status, doc, _, _ = self.attest(nonce=nonce)
        self.assertEqual(status, 403)
        self.assertIn("nonce", doc["detail"])
        # the secret's value is in no answer of the admin API and no log
        metadata = self.api.ok("GET", f"/v1/apps/{self.app['id']}/secrets")
        self.assertEqual([(s["name"], s["version"], s["kind"]) for s in metadata["items"]],
                         [("API_KEY", 1, "random"), ("DB_PASSWORD", 1, "value")])
        everything = json.dumps([metadata, self.api.ok("GET", "/v1/audit?limit=500"),
                                 self.api.ok("GET", "/v1/attestation-reports?limit=500")])
        self.assertNotIn(SECRET, everything)
        self.assertNotIn(SECRET, self.d.output())
        sealed = psql("SELECT value_sealed FROM app_secrets", dbname=self.dbname)
        self.assertNotIn(SECRET, sealed)

    def test_every_broken_rule_is_refused_with_its_reason_and_audited(self):
        self.refused("no build of the app has MRENCLAVE " + "cd" * 32, mrenclave="cd" * 32)
        pending = self.add_build("ef" * 32, "pending")
        self.refused(f"build {pending} is pending, not approved", mrenclave="ef" * 32)
        self.refused("the enclave is a debug enclave", extra=("--debug",))    # the policy
        self.api.ok("PUT", "/v1/policies/attestation", {
            "accepted_statuses": ["UpToDate"], "accepted_advisories": [], "allow_debug": True,
            "min_isvsvn": 0})
        self.refused("a debug enclave, and the app is not built for debugging",
                     extra=("--debug",))                                       # the app
        self.refused("does not bind the public key and the nonce", bind=False)
        self.refused("the domain later.example.com awaits approval",
                     names=("api.example.com", "later.example.com"))
        self.refused("the domain evil.example.com is not among the app's allowed_domains",
                     names=("evil.example.com",))
        elsewhere = self.enroll_ok(self.token(labels={"zone": "b"}))
        self.refused("the node lacks the label zone=a", node=elsewhere)
        refusals = [e for e in self.api.ok("GET", "/v1/audit?limit=200")["items"]
                    if e["action"] == "enclave.attest.refused"]
        self.assertEqual(len(refusals), 8)
        self.assertEqual(self.api.ok("GET", "/v1/certificates")["items"], [])
        # signer identity: an approved build's MRSIGNER and ISVPRODID, ISVSVN at least min
        self.api.ok("PATCH", f"/v1/apps/{self.app['id']}", {"identity": "signer",
                                                            "min_isvsvn": 2})
        self.refused("ISVSVN 1 is below the app's min_isvsvn 2", mrenclave="cd" * 32,
                     extra=("--isvsvn", "1"))
        status, doc, _, _ = self.attest(mrenclave="cd" * 32, extra=("--isvsvn", "2"))
        self.assertEqual(status, 201, doc)
        # a revoked node's enclaves cannot attest: its requests are refused
        self.api.ok("POST", f"/v1/nodes/{self.node['id']}/revoke")
        status, doc = self.signed_json(self.node, "POST", "/v1/attestation/nonce")
        self.assertEqual(status, 401)

    def test_the_command_line_manages_secrets_and_certificates(self):
        key = self.api.ok("POST", "/v1/api-keys", {"name": "adm", "role": "admin"},
                          want=201)["secret"]
        env = {"PATH": os.environ["PATH"], "HOME": self.tmp,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}

        def run(*args, stdin=None, code=0):
            res = subprocess.run([self.cli, *args], input=stdin, capture_output=True,
                                 text=True, env=env)
            self.assertEqual(res.returncode, code, res.stdout + res.stderr)
            return res.stdout
        app = self.app["name"]
        run("secret", "set", app, "TOKEN", stdin="t0ken-value\n")
        run("secret", "generate", app, "TLS", "--certificate-for", "internal.example.com")
        listed = json.loads(run("-o", "json", "secret", "list", app))
        self.assertEqual({s["name"]: s["kind"] for s in listed},
                         {"API_KEY": "random", "DB_PASSWORD": "value", "TOKEN": "value",
                          "TLS": "certificate"})
        self.assertNotIn("t0ken-value", json.dumps(listed))
        run("secret", "rm", app, "TOKEN")
        run("secret", "rm", app, "TOKEN", code=3)
        status, got, _, _ = self.attest()
        self.assertEqual(status, 201, got)
        self.assertEqual(set(got["secrets"]), {"API_KEY", "DB_PASSWORD", "TLS"})
        certs = json.loads(run("-o", "json", "cert", "list", "--app", app))
        self.assertEqual([c["id"] for c in certs], [got["id"]])
        self.assertIn("BEGIN CERTIFICATE", run("cert", "get", got["id"]))
        self.assertIn("revoked", run("cert", "revoke", got["id"], "--reason", "rotated"))

    def test_certificates_are_revoked_one_by_one_and_with_their_build(self):
        first = self.attest()[1]
        second = self.attest()[1]
        revoked = self.api.ok("POST", f"/v1/certificates/{first['id']}/revoke",
                              {"reason": "key compromise"})
        self.assertEqual((revoked["state"], revoked["revoke_reason"]),
                         ("revoked", "key compromise"))
        self.assertEqual(self.api.call("POST", f"/v1/certificates/{first['id']}/revoke")[0], 409)
        self.api.ok("POST", f"/v1/builds/{self.build}/deprecate", {"reason": "CVE"})
        self.assertEqual(self.api.ok("GET", f"/v1/certificates/{second['id']}")["state"],
                         "revoked")
        crl = self.d.request("GET", f"/pki/{self.account}/crl.der")[2]
        path = os.path.join(self.tmp, f"crl-{self.account}.der")
        with open(path, "wb") as f:
            f.write(crl)
        text = self.openssl("crl", "-inform", "DER", "-in", path, "-noout", "-text").stdout
        listed = {int(h, 16) for h in test_nodes.re.findall(r"Serial Number: ([0-9A-F]+)", text)}
        self.assertLessEqual({int(first["serial"], 16), int(second["serial"], 16)}, listed)
        self.refused(f"build {self.build} is deprecated, not approved")
        # secrets: versions, export to another app, removal
        other = self.api.ok("POST", "/v1/apps", {"name": "db-" + uuid.uuid4().hex[:6],
                                                 "input_image": "postgres:16",
                                                 "output_image": "registry.example.com/db"},
                            want=201)
        self.api.ok("PUT", f"/v1/apps/{self.app['id']}/secrets/DB_PASSWORD", {"value": "v2"})
        exported = self.api.ok("POST", f"/v1/apps/{self.app['id']}/secrets/DB_PASSWORD/export",
                               {"to_app": other["id"], "as": "PASSWORD"}, want=201)
        self.assertEqual((exported["name"], exported["kind"]), ("PASSWORD", "exported"))
        items = self.api.ok("GET", f"/v1/apps/{self.app['id']}/secrets")["items"]
        self.assertEqual([(s["name"], s["version"]) for s in items],
                         [("API_KEY", 1), ("DB_PASSWORD", 2)])
        self.assertEqual(self.api.call("DELETE",
                                       f"/v1/apps/{self.app['id']}/secrets/API_KEY")[0], 204)
        self.assertEqual(self.api.call("DELETE",
                                       f"/v1/apps/{self.app['id']}/secrets/API_KEY")[0], 404)
        for bad in ({"value": 1}, {"value": "x", "extra": 1}):
            self.assertEqual(self.api.call("PUT", f"/v1/apps/{self.app['id']}/secrets/X",
                                           bad)[0], 422)
        self.assertEqual(self.api.call("PUT", f"/v1/apps/{self.app['id']}/secrets/1X",
                                       {"value": "x"})[0], 422)


if __name__ == "__main__":
    unittest.main()


INIT = os.environ.get("CLOISTER_INIT", "")


@unittest.skipUnless(INIT and test_agent.AGENT, "CLOISTER_INIT and CLOISTER_AGENT name the "
                     "cloister-init and cloister-agent binaries")
class Init(Enclaves):
    """cloister-init, as the converter puts it in front of an application,
    run outside an enclave with the simulation provider: it attests through
    a real agent, writes the certificate and secrets, and starts the
    application, which shows that it saw them; refused, the application
    does not start."""

    def setUp(self):
        super().setUp()
        state = tempfile.mkdtemp(dir=self.tmp)
        token_file = os.path.join(state, "token")
        with open(token_file, "w") as f:
            f.write(self.token(labels={"zone": "a"}))
        self.agent = test_agent.AgentProcess(self, state, token_file)
        self.addCleanup(self.agent.stop)
        self.port = self.agent.port()
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(state, "node.json")):
            self.assertLess(time.time(), deadline, self.agent.output())
            time.sleep(0.1)

    def run_init(self, mrenclave=MRENCLAVE, on_failure="exit", simulated=True):
        run_dir = tempfile.mkdtemp(dir=self.tmp)
        env = {"PATH": os.environ["PATH"], "CLOISTER_APP_ID": self.app["id"],
               "CLOISTER_AGENT": f"127.0.0.1:{self.port}", "CLOISTER_DOMAINS": "api.example.com",
               "CLOISTER_DIR": run_dir, "CLOISTER_SECRETS_ENV": "1",
               "CLOISTER_ON_FAILURE": on_failure, "APP_SETTING": "kept"}
        if simulated:
            env.update({"CLOISTER_SIMULATION_PKI_KEYS": os.path.join(self.sim, "pki-keys.pem"),
                        "CLOISTER_SIMULATION_MRENCLAVE": mrenclave})
        script = ('echo "file=$(cat $CLOISTER_DIR/secrets/DB_PASSWORD)"; '
                  'echo "env=$DB_PASSWORD"; echo "setting=$APP_SETTING"; echo "args=$*"; '
                  'openssl verify -CAfile $CLOISTER_DIR/chain.pem -verify_hostname '
                  'api.example.com $CLOISTER_DIR/cert.pem')
        res = subprocess.run([INIT, "/bin/sh", "-c", script, "app", "one", "two"], env=env,
                             capture_output=True, text=True, timeout=60)
        return res, run_dir

    def test_the_application_starts_with_its_certificate_and_secrets(self):
        res, run_dir = self.run_init()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"file={SECRET}", res.stdout)
        self.assertIn(f"env={SECRET}", res.stdout)
        self.assertIn("setting=kept", res.stdout)          # its environment, unchanged
        self.assertIn("args=one two", res.stdout)          # and its arguments
        self.assertIn(": OK", res.stdout)                  # openssl verify
        for name in ("key.pem", "cert.pem", "chain.pem", "secrets/DB_PASSWORD",
                     "secrets/API_KEY"):
            mode = os.stat(os.path.join(run_dir, name)).st_mode & 0o777
            self.assertEqual(mode, 0o600, name)
        self.assertNotIn(SECRET, self.agent.output())
        self.assertNotIn(SECRET, res.stderr)

    def test_a_refused_enclave_does_not_start_the_application(self):
        res, run_dir = self.run_init(mrenclave="cd" * 32)
        self.assertEqual(res.returncode, 1)
        self.assertIn("no build of the app has MRENCLAVE " + "cd" * 32, res.stderr)
        self.assertIn("does not start", res.stderr)
        self.assertNotIn("file=", res.stdout)
        self.assertFalse(os.path.exists(os.path.join(run_dir, "cert.pem")))

    @unittest.skipIf(os.path.exists("/dev/attestation") or os.path.exists("/dev/sgx"),
                     "this machine has an attestation device")
    def test_outside_an_enclave_it_says_nothing_makes_quotes(self):
        res, run_dir = self.run_init(simulated=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("nothing here makes quotes: neither Gramine's /dev/attestation nor "
                      "Occlum's /dev/sgx", res.stderr)
        self.assertIn("does not start", res.stderr)
        self.assertNotIn("file=", res.stdout)
        self.assertFalse(os.path.exists(os.path.join(run_dir, "cert.pem")))

    # the parent's tests, with an enrolled agent running beside them, add nothing
    test_an_attested_enclave_receives_its_certificate_and_secrets = None
    test_every_broken_rule_is_refused_with_its_reason_and_audited = None
    test_certificates_are_revoked_one_by_one_and_with_their_build = None
    test_the_command_line_manages_secrets_and_certificates = None
