"""The attestation API against cloisterd: collateral imported by an
instance administrator, real quotes judged with it at their documented
times, the account's policy, reports kept and kept apart between accounts,
single-use nonces bound into the report data, and the offline `cloister
quote verify` giving the same verdict."""
import base64
import json
import os
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from maa import MaaPeer, b64url  # noqa: E402
from pcs import PcsPeer  # noqa: E402
from cloister_test import (SOURCE_DIR, AccountTestCase, Api, Daemon,  # noqa: E402
                           create_admin, new_database)

CLI = os.environ.get("CLOISTER_CLI")
DATA = os.path.join(SOURCE_DIR, "tests", "data", "dcap")


def read(case, name, mode="rb"):
    with open(os.path.join(DATA, case, name), mode) as f:
        return f.read()


def collateral_body(case, ca):
    return {
        "tcb_info": read(case, "tcb_info.json", "r"),
        "tcb_info_issuer_chain": read(case, "tcb_info_issuer_chain.pem", "r"),
        "qe_identity": read(case, "qe_identity.json", "r"),
        "qe_identity_issuer_chain": read(case, "qe_identity_issuer_chain.pem", "r"),
        "pck_crl": base64.b64encode(read(case, "pck_crl.der")).decode(), "pck_crl_ca": ca,
        "root_ca_crl": base64.b64encode(read(case, "root_ca_crl.der")).decode(),
    }


def expected(case):
    return json.loads(read(case, "expected.json", "r"))


def rfc3339(seconds):
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Attestation(AccountTestCase):
    DAEMON_ENV = {"CLOISTER_PCS_URL": ""}                   # collateral imported only

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = Api(cls.d)
        cls.root.login("admin@example.com", cls.password)
        cls.root.ok("POST", "/v1/collateral", collateral_body("dcap-qvl-2025", "processor"))

    def verify(self, case, want=201, **extra):
        body = {"quote": base64.b64encode(read(case, "quote.bin")).decode(),
                "at": rfc3339(expected(case)["verify_at"]), **extra}
        return self.api.ok("POST", "/v1/attestation/verify", body, want=want)

    def test_collateral_is_imported_by_instance_administrators_and_checked(self):
        listed = {(c["kind"], c["key"]) for c in self.api.ok("GET", "/v1/collateral")["items"]}
        self.assertEqual(listed, {("tcb_info", "00a067110000"), ("qe_identity", ""),
                                  ("pck_crl", "processor"), ("root_ca_crl", "")})
        key = self.api.ok("POST", "/v1/api-keys", {"name": "k", "role": "admin"},
                          want=201)["secret"]
        status, _, _ = Api(self.d, key=key).call("POST", "/v1/collateral",
                                                  collateral_body("automata-v3", "platform"))
        self.assertEqual(status, 403)
        body = collateral_body("automata-v3", "platform")
        body["tcb_info"] = body["tcb_info"].replace('"tcbType":0', '"tcbType":1')
        status, _, problem = self.root.call("POST", "/v1/collateral", body)
        self.assertEqual(status, 422, problem)
        self.assertEqual([e["field"] for e in problem["errors"]], ["tcb_info"])
        listed = {(c["kind"], c["key"]) for c in self.api.ok("GET", "/v1/collateral")["items"]}
        self.assertNotIn(("tcb_info", "00606a000000"), listed)      # nothing was kept

        # an older QE identity does not take the place of the newer one held
        before = {c["kind"]: c for c in self.api.ok("GET", "/v1/collateral")["items"]}
        done = self.root.ok("POST", "/v1/collateral",
                            collateral_body("automata-v3-tcbinfo-v2", "platform"))["imported"]
        kept = {d["kind"]: d["kept"] for d in done}
        self.assertEqual(kept["qe_identity"], False)
        self.assertEqual(kept["tcb_info"], True)                   # another FMSPC's
        after = {c["kind"]: c for c in self.api.ok("GET", "/v1/collateral")["items"]}
        self.assertEqual(after["qe_identity"]["issue_date"], before["qe_identity"]["issue_date"])

    def test_a_real_quote_is_judged_and_its_report_kept(self):
        want = expected("dcap-qvl-2025")
        report = self.verify("dcap-qvl-2025")
        self.assertTrue(report["authentic"])
        self.assertFalse(report["simulated"])
        self.assertEqual(report["tcb_status"], want["tcb_status"])
        self.assertEqual(report["advisory_ids"], want["advisory_ids"])
        self.assertEqual(report["mrenclave"], want["mrenclave"])
        self.assertEqual(report["fmspc"], want["fmspc"].lower())
        self.assertEqual(report["verdict"], "refused")            # authentic, yet refused
        self.assertIn("TCB status ConfigurationAndSWHardeningNeeded is not accepted",
                      report["reasons"])
        self.assertEqual([c["name"] for c in report["details"]["checks"]][-1],
                         "qe_identity_level")
        got = self.api.ok("GET", f"/v1/attestation-reports/{report['id']}")
        self.assertEqual(base64.b64decode(got["evidence"]), read("dcap-qvl-2025", "quote.bin"))
        self.assertEqual([r["id"] for r in self.api.ok("GET", "/v1/attestation-reports")
                          ["items"]], [report["id"]])

        # the account's policy decides
        policy = self.api.ok("GET", "/v1/policies/attestation")
        self.assertEqual(policy["accepted_statuses"], ["UpToDate", "SWHardeningNeeded"])
        self.api.ok("PUT", "/v1/policies/attestation", {
            "accepted_statuses": ["UpToDate", "SWHardeningNeeded",
                                  "ConfigurationAndSWHardeningNeeded"],
            "accepted_advisories": want["advisory_ids"], "allow_debug": False,
            "min_isvsvn": 0})
        self.assertEqual(self.verify("dcap-qvl-2025")["verdict"], "accepted")
        status, _, problem = self.api.call("PUT", "/v1/policies/attestation", {
            "accepted_statuses": ["Fine"], "accepted_advisories": [], "allow_debug": False,
            "min_isvsvn": 0})
        self.assertEqual(status, 422, problem)

        # a day after the collateral's window: not authentic, and kept all the same
        late = self.verify("dcap-qvl-2025", at=rfc3339(want["verify_at"] + 86400 * 40))
        self.assertFalse(late["authentic"])
        self.assertEqual(late["verdict"], "refused")
        self.assertEqual(len(self.api.ok("GET", "/v1/attestation-reports")["items"]), 3)

        # another account sees none of it
        other = self.api.ok("POST", "/v1/accounts", {"name": "o-" + uuid.uuid4().hex[:8]},
                            want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": other})
        self.assertEqual(self.api.ok("GET", "/v1/attestation-reports")["items"], [])
        status, _, _ = self.api.call("GET", f"/v1/attestation-reports/{report['id']}")
        self.assertEqual(status, 404)

    def test_a_quote_without_collateral_and_bad_input(self):
        import tempfile
        with tempfile.TemporaryDirectory() as sim:      # a platform no collateral is held for
            subprocess.run([CLI, "quote", "simulate", "--out", sim], check=True,
                           capture_output=True)
            with open(os.path.join(sim, "quote.bin"), "rb") as f:
                quote = f.read()
        problem = self.api.ok("POST", "/v1/attestation/verify",
                              {"quote": base64.b64encode(quote).decode()}, want=503)
        self.assertIn("FMSPC 00c1057e0000", problem["detail"])
        self.assertIn("POST /v1/collateral", problem["detail"])
        truncated = b"\x03\x00\x02\x00" + bytes(300)       # version 3, ECDSA, cut short
        problem = self.api.ok("POST", "/v1/attestation/verify",
                              {"quote": base64.b64encode(truncated).decode()}, want=422)
        self.assertIn("truncated", problem["errors"][0]["message"])
        problem = self.api.ok("POST", "/v1/attestation/verify", {"quote": "not base64!"},
                              want=422)
        self.assertEqual(problem["errors"][0]["field"], "quote")

    def test_nonces_are_single_use_and_bound_into_the_report_data(self):
        nonce = self.api.ok("POST", "/v1/attestation/nonce", want=201)
        self.assertEqual(len(base64.b64decode(nonce["nonce"])), 32)
        spki = base64.b64encode(b"\x30" * 91).decode()
        report = self.verify("dcap-qvl-2025", nonce=nonce["nonce"], public_key=spki)
        self.assertIn("the report data does not bind the public key and the nonce",
                      report["reasons"])
        again = self.verify("dcap-qvl-2025", nonce=nonce["nonce"], public_key=spki)
        self.assertIn("the nonce is unknown, used already or expired", again["reasons"])

    def test_the_command_line_judges_the_same_offline(self):
        want = expected("dcap-qvl-2025")
        out = subprocess.run([CLI, "-o", "json", "quote", "verify",
                              os.path.join(DATA, "dcap-qvl-2025", "quote.bin"),
                              "--collateral", os.path.join(DATA, "dcap-qvl-2025"),
                              "--at", str(want["verify_at"])], capture_output=True, text=True)
        self.assertEqual(out.returncode, 6, out.stderr)             # authentic, refused
        verdict = json.loads(out.stdout)
        report = self.verify("dcap-qvl-2025")
        self.assertEqual(verdict["authentic"], report["authentic"])
        self.assertEqual(verdict["tcb_status"], report["tcb_status"])
        self.assertEqual(verdict["checks"], report["details"]["checks"])
        out = subprocess.run([CLI, "quote", "verify",
                              os.path.join(DATA, "dcap-qvl-2025", "quote.bin"),
                              "--collateral", os.path.join(DATA, "dcap-qvl-2025"),
                              "--at", str(want["verify_at"]),
                              "--accept", "ConfigurationAndSWHardeningNeeded",
                              "--accept-advisories", ",".join(want["advisory_ids"])],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("policy:        accepted", out.stdout)


class SimulatedEvidence(unittest.TestCase):
    """A quote from the simulation PKI whose report data binds a key and a
    nonce, as an enclave makes it: the nonce comes from one daemon, the
    quote is judged by another on the same database that trusts the
    simulation's root (and warns about it at start)."""

    def test_a_bound_simulated_quote_is_accepted_and_says_it_is_simulated(self):
        import hashlib
        import shutil
        import tempfile
        sim = tempfile.mkdtemp(prefix="cl-sim-")
        self.addCleanup(shutil.rmtree, sim, True)
        url, _ = new_database()
        first = Daemon(url, env={"CLOISTER_PCS_URL": ""}).start()
        self.addCleanup(first.close)
        password = create_admin(first)
        api = Api(first)
        api.login("admin@example.com", password)
        account = api.ok("POST", "/v1/accounts", {"name": "sim"}, want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        nonce = api.ok("POST", "/v1/attestation/nonce", want=201)["nonce"]
        spki = subprocess.run(
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 |"
            " openssl pkey -pubout -outform DER", shell=True, check=True,
            capture_output=True).stdout
        data = hashlib.sha256(spki + base64.b64decode(nonce)).hexdigest()
        subprocess.run([CLI, "quote", "simulate", "--out", sim, "--report-data", data],
                       check=True, capture_output=True)
        first.stop()

        second = Daemon(url, env={"CLOISTER_SGX_TRUST_ROOTS": os.path.join(sim, "root.pem"),
                                  "CLOISTER_PCS_URL": ""})
        second.start()
        self.addCleanup(second.close)
        self.assertIn("Cloister Simulation SGX Root CA", second.output())
        api = Api(second)
        api.login("admin@example.com", password)
        api.ok("POST", "/v1/session/account", {"account_id": account})

        def read_sim(name, mode="rb"):
            with open(os.path.join(sim, name), mode) as f:
                return f.read()
        api.ok("POST", "/v1/collateral", {
            "tcb_info": read_sim("tcb_info.json", "r"),
            "tcb_info_issuer_chain": read_sim("tcb_info_issuer_chain.pem", "r"),
            "qe_identity": read_sim("qe_identity.json", "r"),
            "qe_identity_issuer_chain": read_sim("qe_identity_issuer_chain.pem", "r"),
            "pck_crl": base64.b64encode(read_sim("pck_crl.der")).decode(),
            "pck_crl_ca": "processor",
            "root_ca_crl": base64.b64encode(read_sim("root_ca_crl.der")).decode()})
        report = api.ok("POST", "/v1/attestation/verify", {
            "quote": base64.b64encode(read_sim("quote.bin")).decode(), "nonce": nonce,
            "public_key": base64.b64encode(spki).decode()}, want=201)
        self.assertEqual(report["verdict"], "accepted", report)
        self.assertTrue(report["authentic"])
        self.assertTrue(report["simulated"])
        self.assertEqual(report["details"]["trust_root"], "Cloister Simulation SGX Root CA")
        self.assertEqual(report["details"]["quote"]["version"], 4)
        second.stop()


class FetchedCollateral(unittest.TestCase):
    """Collateral fetched from a PCS (tests/peers/pcs.py) the first time a
    quote needs it: once, however many requests need it at once."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.sim = tempfile.mkdtemp(prefix="cl-sim-")
        subprocess.run([CLI, "quote", "simulate", "--out", cls.sim], check=True,
                       capture_output=True)
        cls.pcs = PcsPeer([cls.sim, os.path.join(DATA, "dcap-qvl-2025")])
        url, _ = new_database()
        cls.d = Daemon(url, env={"CLOISTER_PCS_URL": cls.pcs.base,
                                 "CLOISTER_PCS_ROOT_CRL_URL": cls.pcs.root_crl_url,
                                 "CLOISTER_SGX_TRUST_ROOTS": os.path.join(cls.sim, "root.pem")})
        cls.d.start()
        cls.password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        import shutil
        cls.pcs.close()
        cls.d.stop()
        cls.d.close()
        shutil.rmtree(cls.sim, ignore_errors=True)

    def api(self):
        api = Api(self.d)
        api.login("admin@example.com", self.password)
        return api

    def test_concurrent_quotes_fetch_the_collateral_once(self):
        from concurrent.futures import ThreadPoolExecutor
        api = self.api()
        account = api.ok("POST", "/v1/accounts", {"name": "pcs"}, want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        with open(os.path.join(self.sim, "quote.bin"), "rb") as f:
            quote = base64.b64encode(f.read()).decode()

        def verify(_):
            return api.call("POST", "/v1/attestation/verify", {"quote": quote})
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(verify, range(8)))
        for status, _, report in answers:
            self.assertEqual(status, 201, report)
            self.assertTrue(report["authentic"], report)
            self.assertTrue(report["simulated"])
        for path in ("/sgx/certification/v4/tcb", "/sgx/certification/v4/qe/identity",
                     "/sgx/certification/v4/pckcrl", "/IntelSGXRootCA.der"):
            self.assertEqual(self.pcs.count(path), 1, path)
        held = {c["kind"]: c["source"] for c in api.ok("GET", "/v1/collateral")["items"]}
        self.assertEqual(held["tcb_info"], self.pcs.base)

    def test_the_command_line_fetches_what_it_is_not_given(self):
        out = subprocess.run([CLI, "quote", "verify", os.path.join(self.sim, "quote.bin"),
                              "--pcs-url", self.pcs.base, "--root-crl-url", self.pcs.root_crl_url,
                              "--trust-root", os.path.join(self.sim, "root.pem")],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("authentic:     yes", out.stdout)
        self.assertIn("not the Intel SGX Root CA", out.stdout)

    def test_what_the_pcs_cannot_give_is_a_503(self):
        api = self.api()
        account = api.ok("POST", "/v1/accounts", {"name": "pcs-missing"}, want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        # the automata quote's FMSPC is one the PCS peer does not know: 404 there
        body = {"quote": base64.b64encode(read("automata-v3", "quote.bin")).decode()}
        problem = api.ok("POST", "/v1/attestation/verify", body, want=503)
        self.assertIn("TCB Info", problem["detail"])
        self.assertIn("00606a000000", problem["detail"])
        self.assertIn("could not fetch it", problem["detail"])
        self.assertIn("no TCB Info", self.d.output())      # the PCS's 404, logged


class CollateralRefresh(unittest.TestCase):
    """Collateral held is fetched again in the background, by one of the
    daemons sharing a database: an older QE identity gives way to the
    PCS's newer one without any request asking for it."""

    def test_one_daemon_refreshes_what_is_held(self):
        import time
        pcs = PcsPeer([os.path.join(DATA, "dcap-qvl-2025")])
        self.addCleanup(pcs.close)
        url, _ = new_database()
        env = {"CLOISTER_PCS_URL": pcs.base, "CLOISTER_PCS_ROOT_CRL_URL": pcs.root_crl_url,
               "CLOISTER_COLLATERAL_REFRESH_INTERVAL": "1"}
        daemons = [Daemon(url, env=env).start(), Daemon(url, env=env).start()]
        for d in daemons:
            self.addCleanup(d.close)
        password = create_admin(daemons[0])
        api = Api(daemons[0])
        api.login("admin@example.com", password)
        account = api.ok("POST", "/v1/accounts", {"name": "refresh"}, want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        old = collateral_body("automata-v3-tcbinfo-v2", "platform")
        api.ok("POST", "/v1/collateral", {"qe_identity": old["qe_identity"],
                                          "qe_identity_issuer_chain":
                                              old["qe_identity_issuer_chain"]})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            held = {c["kind"]: c for c in api.ok("GET", "/v1/collateral")["items"]}
            if held["qe_identity"]["source"] == pcs.base:
                break
            time.sleep(0.2)
        self.assertEqual(held["qe_identity"]["source"], pcs.base, held)
        self.assertTrue(held["qe_identity"]["issue_date"].startswith("2025-06-19"), held)
        duty = [d for d in daemons if "keeps the SGX collateral fresh" in d.output()]
        self.assertEqual(len(duty), 1)                  # one replica has the duty
        for d in daemons:
            d.stop()


class AzureAttestation(unittest.TestCase):
    """Azure Attestation tokens as evidence, against an instance peer
    (tests/peers/maa.py) that signs with its own key and serves it at /certs."""

    @classmethod
    def setUpClass(cls):
        cls.maa = MaaPeer()
        url, _ = new_database()
        cls.d = Daemon(url, env={"CLOISTER_MAA_URL": cls.maa.url, "CLOISTER_PCS_URL": ""})
        cls.d.start()
        cls.password = create_admin(cls.d)
        cls.api = Api(cls.d)
        cls.api.login("admin@example.com", cls.password)
        account = cls.api.ok("POST", "/v1/accounts", {"name": "maa"}, want=201)["id"]
        cls.api.ok("POST", "/v1/session/account", {"account_id": account})

    @classmethod
    def tearDownClass(cls):
        cls.maa.close()
        cls.d.stop()
        cls.d.close()

    def claims(self, **extra):
        import time
        now = int(time.time())
        c = {"iss": self.maa.url, "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
             "x-ms-attestation-type": "sgx", "x-ms-ver": "1.0",
             "x-ms-sgx-mrenclave": "ab" * 32, "x-ms-sgx-mrsigner": "cd" * 32,
             "x-ms-sgx-product-id": 2, "x-ms-sgx-svn": 3, "x-ms-sgx-is-debuggable": False,
             "x-ms-sgx-report-data": "00" * 64}
        c.update(extra)
        return c

    def verify(self, token, **extra):
        return self.api.ok("POST", "/v1/attestation/verify", {"maa_token": token, **extra},
                           want=201)

    def test_a_bound_token_is_accepted_and_kept_as_maa_evidence(self):
        import hashlib
        nonce = self.api.ok("POST", "/v1/attestation/nonce", want=201)["nonce"]
        spki = b"\x30\x59" + os.urandom(89)
        runtime = spki + base64.b64decode(nonce)
        token = self.maa.mint(self.claims(**{
            "x-ms-sgx-ehd": b64url(runtime),
            "x-ms-sgx-report-data": hashlib.sha256(runtime).hexdigest() + "00" * 32}))
        report = self.verify(token, nonce=nonce, public_key=base64.b64encode(spki).decode())
        self.assertEqual(report["verdict"], "accepted", report)
        self.assertEqual(report["evidence_kind"], "maa")
        self.assertEqual(report["mrenclave"], "ab" * 32)
        self.assertEqual((report["isvprodid"], report["isvsvn"]), (2, 3))
        self.assertIsNone(report["tcb_status"])
        self.assertEqual([c["name"] for c in report["details"]["checks"]],
                         ["token", "signing_key", "signature", "issuer", "validity"])
        got = self.api.ok("GET", f"/v1/attestation-reports/{report['id']}")
        self.assertEqual(base64.b64decode(got["evidence"]).decode(), token)
        # the same token with another key than the one it was bound to
        nonce = self.api.ok("POST", "/v1/attestation/nonce", want=201)["nonce"]
        other = self.verify(token, nonce=nonce, public_key=base64.b64encode(spki).decode())
        self.assertIn("the report data does not bind the public key and the nonce",
                      other["reasons"])

    def test_expired_debug_foreign_and_rotated(self):
        import time
        expired = self.verify(self.maa.mint(self.claims(exp=int(time.time()) - 1)))
        self.assertFalse(expired["authentic"])
        self.assertEqual(expired["details"]["checks"][-1]["name"], "validity")
        debug = self.verify(self.maa.mint(self.claims(**{"x-ms-sgx-is-debuggable": True})))
        self.assertTrue(debug["authentic"])
        self.assertEqual(debug["reasons"], ["the enclave is a debug enclave"])
        foreign = self.verify(self.maa.mint(self.claims(iss="https://elsewhere.attest.azure.net")))
        self.assertEqual(foreign["details"]["checks"][-1]["name"], "issuer")
        # a new signing key: the daemon fetches the keys again and finds it
        before = self.maa.certs_requests
        kid = self.maa.rotate()
        rotated = self.verify(self.maa.mint(self.claims(), kid=kid))
        self.assertTrue(rotated["authentic"], rotated)
        self.assertEqual(self.maa.certs_requests, before + 1)
        tampered = self.maa.mint(self.claims())
        tampered = tampered[:-6] + ("A" if tampered[-6] != "A" else "B") + tampered[-5:]
        self.assertEqual(self.verify(tampered)["details"]["checks"][-1]["name"], "signature")

    def test_both_or_neither_evidence_and_tokens_not_taken(self):
        status, _, problem = self.api.call("POST", "/v1/attestation/verify", {})
        self.assertEqual(status, 422, problem)
        status, _, problem = self.api.call("POST", "/v1/attestation/verify",
                                           {"quote": "AAAA", "maa_token": "a.b.c"})
        self.assertEqual(status, 422, problem)


if __name__ == "__main__":
    unittest.main()
