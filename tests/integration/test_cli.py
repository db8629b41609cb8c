"""The `cloister` CLI against a real cloisterd and PostgreSQL: every command,
its output formats, its errors and exit codes (API.md), and its profiles."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from cloister_test import CLOISTERD, SOURCE_DIR, Daemon, create_admin, new_database, psql
from sgx_files import sdk_signed_enclave

CLOISTER = os.environ.get("CLOISTER_CLI", os.path.join(os.path.dirname(CLOISTERD), "cloister"))


MRENCLAVE_CASE_DEV = "de830177b0ce393e72d337bc388762f1c0db9ac7cbf0c765d26960627cb186fb"
MRENCLAVE_TEST_ENCLAVE = "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc"



class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.db = new_database()
        cls.d = Daemon(cls.url).start()
        cls.admin_password = create_admin(cls.d)
        cls.base = f"http://127.0.0.1:{cls.d.port}"

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="cl-cli-")
        self.addCleanup(shutil.rmtree, self.home, True)

    def run_cli(self, *args, stdin=None, env=None, want=0):
        e = {"PATH": os.environ["PATH"], "HOME": self.home,
             "XDG_CONFIG_HOME": os.path.join(self.home, "config")}
        e.update(env or {})
        res = subprocess.run([CLOISTER, *args], input=stdin, capture_output=True, text=True,
                             env=e, timeout=60)
        if want is not None and res.returncode != want:
            self.fail(f"cloister {' '.join(args)}: exit {res.returncode}, wanted {want}\n"
                      f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def json_of(self, *args, **kw):
        return json.loads(self.run_cli("-o", "json", *args, **kw).stdout)

    def login_admin(self, *extra):
        return self.run_cli("login", "--url", self.base, "--email", "admin@example.com",
                            "--password-stdin", *extra, stdin=self.admin_password + "\n")

    def new_account(self):
        """Signed in as the administrator, acting in a fresh account."""
        self.login_admin()
        name = "cli-" + uuid.uuid4().hex[:8]
        created = self.json_of("account", "create", name)
        self.run_cli("account", "use", name)
        return created["id"], name

    # ---- signing in -------------------------------------------------------

    def test_login_keeps_a_private_profile(self):
        out = self.login_admin().stdout
        self.assertIn("Signed in to " + self.base + " as admin@example.com", out)
        path = os.path.join(self.home, "config", "cloister", "config.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        with open(path) as f:
            profile = json.load(f)["profiles"]["default"]
        self.assertEqual(profile["url"], self.base)
        self.assertNotIn(self.admin_password, json.dumps(profile))   # never the password
        me = self.json_of("whoami")
        self.assertEqual(me["kind"], "session")
        self.assertEqual(me["user"]["email"], "admin@example.com")
        self.assertNotIn("csrf_token", me)

    def test_wrong_password(self):
        res = self.run_cli("login", "--url", self.base, "--email", "admin@example.com",
                           "--password-stdin", stdin="not-it\n", want=5)
        self.assertIn("Unauthorized: wrong e-mail address or password", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.home, "config", "cloister",
                                                     "config.json")))

    def test_logout(self):
        self.login_admin()
        self.assertIn("Signed out", self.run_cli("logout").stdout)
        res = self.run_cli("whoami", want=5)
        self.assertIn("not signed in", res.stderr)

    def test_profiles_are_separate(self):
        account, name = self.new_account()
        key = self.run_cli("-q", "api-key", "create", "ci", "--role", "auditor").stdout.strip()
        self.run_cli("--profile", "ci", "login", "--url", self.base, "--api-key-stdin",
                     stdin=key + "\n")
        self.assertEqual(self.json_of("--profile", "ci", "whoami")["kind"], "api_key")
        self.assertEqual(self.json_of("whoami", env={"CLOISTER_PROFILE": "ci"})["kind"],
                         "api_key")
        self.assertEqual(self.json_of("whoami")["kind"], "session")
        # flags and environment for scripts, without any profile
        me = self.json_of("--url", self.base, "whoami",
                          env={"CLOISTER_API_KEY": key, "XDG_CONFIG_HOME": self.home + "/none"})
        self.assertEqual(me["account"]["name"], name)

    def test_unreachable_server(self):
        res = self.run_cli("--url", "http://127.0.0.1:9", "whoami",
                           env={"CLOISTER_API_KEY": "clk_x"}, want=1)
        self.assertIn("could not reach", res.stderr)

    # ---- accounts and members ------------------------------------------------

    def test_accounts(self):
        account, name = self.new_account()
        listed = self.json_of("account", "list")
        mine = [a for a in listed if a["id"] == account]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["name"], name)
        self.assertIn(account, self.run_cli("-q", "account", "list").stdout.split())
        table = self.run_cli("account", "list").stdout.splitlines()
        self.assertEqual(table[0].split(), ["ID", "NAME", "ROLE", "CREATED"])
        res = self.run_cli("account", "use", "no-such-account", want=3)
        self.assertIn('not a member of an account "no-such-account"', res.stderr)
        res = self.run_cli("account", "create", name, want=4)      # the name is taken
        self.assertIn("Conflict", res.stderr)

    def test_members(self):
        account, _ = self.new_account()
        email = f"m-{uuid.uuid4().hex[:6]}@example.com"
        added = self.json_of("member", "add", email, "--role", "operator")
        self.assertEqual(added["role"], "operator")
        self.assertIn("initial_password", added)
        out = self.run_cli("member", "add", f"x{email}", "--role", "auditor").stdout
        self.assertIn("shown only now", out)
        members = self.json_of("member", "list")
        self.assertEqual({m["email"] for m in members} >= {email, "x" + email}, True)
        self.assertEqual(self.json_of("member", "set-role", email, "auditor")["role"], "auditor")
        self.assertEqual(self.run_cli("-q", "member", "remove", email).stdout.strip(),
                         added["user_id"])
        self.assertNotIn(email, [m["email"] for m in self.json_of("member", "list")])
        res = self.run_cli("member", "remove", "nobody@example.com", want=3)
        self.assertIn("no member", res.stderr)
        res = self.run_cli("member", "add", "bad", "--role", "operator", want=6)
        self.assertIn("email: must be an e-mail address", res.stderr)
        res = self.run_cli("member", "add", "y@example.com", "--role", "root", want=6)
        self.assertIn("role: must be one of admin, operator, auditor", res.stderr)

    # ---- API keys ------------------------------------------------------------

    def test_api_keys(self):
        account, _ = self.new_account()
        created = self.json_of("api-key", "create", "deploy", "--role", "operator")
        self.assertTrue(created["secret"].startswith("clk_"))
        listed = self.json_of("api-key", "list")
        self.assertEqual([k["id"] for k in listed], [created["id"]])
        self.assertNotIn("secret", listed[0])
        env = {"CLOISTER_API_KEY": created["secret"], "CLOISTER_URL": self.base}
        self.assertEqual(self.json_of("whoami", env=env)["role"], "operator")
        res = self.run_cli("api-key", "list", env=env, want=5)        # operators may not
        self.assertIn("Forbidden", res.stderr)
        revoked = self.json_of("api-key", "revoke", created["id"])
        self.assertIsNotNone(revoked["revoked_at"])
        res = self.run_cli("whoami", env=env, want=5)
        self.assertIn("revoked", res.stderr)
        res = self.run_cli("api-key", "revoke", created["id"], want=4)
        res = self.run_cli("api-key", "revoke", str(uuid.uuid4()), want=3)

    def test_expired_key(self):
        self.new_account()
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        secret = self.run_cli("-q", "api-key", "create", "brief", "--role", "auditor",
                              "--expires-at", soon).stdout.strip()
        env = {"CLOISTER_API_KEY": secret, "CLOISTER_URL": self.base}
        self.run_cli("whoami", env=env)
        time.sleep(3)
        res = self.run_cli("whoami", env=env, want=5)
        self.assertIn("expired", res.stderr)
        res = self.run_cli("api-key", "create", "old", "--role", "auditor", "--expires-at",
                           "2001-01-01T00:00:00Z", want=6)
        self.assertIn("expires_at: must be in the future", res.stderr)

    # ---- audit ---------------------------------------------------------------

    def test_audit(self):
        account, _ = self.new_account()
        self.run_cli("member", "add", f"a-{uuid.uuid4().hex[:6]}@example.com", "--role",
                     "auditor")
        events = self.json_of("audit", "list", "--action", "member.add")
        self.assertEqual({e["action"] for e in events}, {"member.add"})
        self.assertTrue(all(e["account_id"] == account for e in events))
        everything = self.json_of("audit", "list", "--limit", "0")
        self.assertIn("account.create", [e["action"] for e in everything])
        self.assertEqual(len(self.json_of("audit", "list", "--limit", "1")), 1)
        self.assertIn("holds", self.run_cli("audit", "verify").stdout)
        psql(f"UPDATE audit_events SET actor = 'someone-else' WHERE seq = (SELECT min(seq) "
             f"FROM audit_events WHERE chain = '{account}')", dbname=self.db)
        res = self.run_cli("audit", "verify", want=4)
        self.assertIn("BROKEN", res.stdout)
        self.assertFalse(self.json_of("audit", "verify", want=4)["valid"])
        self.run_cli("audit", "list", "--since", "yesterday", want=6)

    # ---- applications and jobs -------------------------------------------------

    def test_apps(self):
        self.new_account()
        created = self.json_of("app", "create", "web", "--input-image", "nginx:1.25",
                               "--output-image", "registry.example.com/acme/web-sgx",
                               "--enclave-size", "1G", "--env", "MODE=prod", "--env", "X=1",
                               "--domain", "web.example.com", "--label", "team=edge")
        self.assertEqual(created["enclave_size"], 1 << 30)
        self.assertEqual(created["env"], {"MODE": "prod", "X": "1"})
        self.assertEqual(created["allowed_domains"], ["web.example.com"])
        self.assertEqual(created["labels"], {"team": "edge"})
        shown = self.json_of("app", "show", "web")
        self.assertEqual(shown, created)
        updated = self.json_of("app", "update", "web", "--max-threads", "32", "--debug")
        self.assertEqual((updated["max_threads"], updated["debug"]), (32, True))
        spec = os.path.join(self.home, "app.json")
        with open(spec, "w") as f:
            json.dump({"input_image": "redis:7", "output_image": "r.example.com/redis-sgx",
                       "max_threads": 8}, f)
        self.assertEqual(self.json_of("app", "create", "cache", "--file", spec)["max_threads"], 8)
        self.assertEqual([a["name"] for a in self.json_of("app", "list")], ["web", "cache"])
        res = self.run_cli("app", "create", "Bad_Name", "--input-image", "nginx",
                           "--output-image", "x/y", want=6)
        self.assertIn("name: must be a DNS label", res.stderr)
        self.run_cli("app", "create", "x", "--enclave-size", "huge", want=2)
        self.run_cli("app", "delete", "cache")
        self.run_cli("app", "show", "cache", want=3)

    def test_jobs_and_workers(self):
        account, _ = self.new_account()
        ids = psql(
            "INSERT INTO jobs (account_id, kind, params, max_attempts, created_by) VALUES"
            f" ('{account}', 'noop', '{{\"ms\": 300, \"progress\": true}}', 1, 'test'),"
            f" ('{account}', 'noop', '{{\"ms\": 60000}}', 1, 'test') RETURNING id",
            dbname=self.db).splitlines()
        psql("NOTIFY cloister_jobs", dbname=self.db)
        from cloister_test import Worker
        w = Worker(self.url, self.d.kek, "--name=cli-worker", "--slots=2")
        self.addCleanup(w.close)
        out = self.run_cli("job", "logs", "-f", ids[0]).stdout
        self.assertIn("phase    waiting", out)
        self.assertIn("progress", out)
        self.assertIn("state    succeeded", out)
        self.assertEqual(self.json_of("job", "show", ids[0])["state"], "succeeded")
        for _ in range(100):
            if self.json_of("job", "show", ids[1])["state"] == "running":
                break
            time.sleep(0.05)
        self.assertEqual(self.json_of("job", "cancel", ids[1])["cancel_requested"], True)
        for _ in range(100):
            if self.json_of("job", "show", ids[1])["state"] == "canceled":
                break
            time.sleep(0.05)
        self.assertEqual(self.json_of("job", "show", ids[1])["state"], "canceled")
        listed = self.json_of("job", "list", "--state", "canceled")
        self.assertEqual([j["id"] for j in listed], [ids[1]])
        names = [x["name"] for x in self.json_of("worker", "list") if x["alive"]]
        self.assertIn("cli-worker", names)
        self.run_cli("job", "show", str(uuid.uuid4()), want=3)
        w.stop()

    def test_registries(self):
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
        from registry import Registry
        from cloister_test import Worker
        self.new_account()
        reg = Registry(users={"robot": "pw-123456"})
        self.addCleanup(reg.close)
        w = Worker(self.url, self.d.kek, "--slots=2")
        self.addCleanup(w.close)
        added = self.json_of("registry", "add", "private", "--host", reg.host, "--plain-http",
                             "--username", "robot", "--password-stdin", stdin="pw-123456\n")
        self.assertTrue(added["has_password"])
        self.assertFalse(added["tls"])
        res = self.run_cli("registry", "check", "private", "--wait")
        self.assertIn("succeeded", res.stdout)
        self.assertIn("succeeded 100%", res.stderr)         # plain lines: not a terminal
        self.run_cli("registry", "update", "private", "--password-stdin", stdin="wrong\n")
        res = self.run_cli("registry", "check", "private", "--wait", want=1)
        self.assertIn("refused the credentials", res.stderr)
        self.assertNotIn("pw-123456", json.dumps(self.json_of("registry", "list")))
        # an image in it, inspected before any app exists
        import subprocess as sp
        layout = os.path.join(self.home, "layout")
        sp.run(["umoci", "init", "--layout", layout], check=True)
        sp.run(["umoci", "new", "--image", f"{layout}:v1"], check=True)
        sp.run(["umoci", "config", "--image", f"{layout}:v1", "--config.entrypoint", "/app",
                "--os", "linux", "--architecture", "amd64"], check=True)
        sp.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                "robot:pw-123456", f"oci:{layout}:v1", f"docker://{reg.host}/t/app:v1"],
               check=True)
        self.run_cli("registry", "update", "private", "--password-stdin", stdin="pw-123456\n")
        seen = self.json_of("image", "inspect", f"{reg.host}/t/app:v1", "--registry", "private")
        self.assertEqual(seen["entrypoint"], ["/app"])
        self.assertRegex(seen["digest"], r"^sha256:")
        res = self.run_cli("image", "inspect", f"{reg.host}/t/none:v1", "--registry", "private",
                           want=1)
        self.assertIn("has no image", res.stderr)
        self.run_cli("registry", "remove", "private")
        self.run_cli("registry", "check", "private", want=3)

    def test_tasks(self):
        account, _ = self.new_account()
        self.assertEqual(self.json_of("task", "policy")["quorum"], 1)
        self.assertEqual(self.json_of("task", "policy", "--quorum", "2")["quorum"], 2)
        self.json_of("app", "create", "web", "--input-image", "nginx:1.25", "--output-image",
                     "r.example.com/a/web", "--domain", "web.example.com")
        [task] = self.json_of("task", "list", "--state", "pending")
        self.assertEqual(task["details"]["domain"], "web.example.com")
        res = self.run_cli("task", "approve", task["id"], want=5)     # asked for it myself
        self.assertIn("other admins must approve", res.stderr)
        self.run_cli("task", "policy", "--quorum", "1")
        self.assertEqual(self.json_of("task", "deny", task["id"], "--comment", "no")["state"],
                         "denied")
        self.run_cli("task", "deny", task["id"], want=4)
        self.run_cli("task", "policy", "--quorum", "0", want=6)

    # ---- offline enclave tools ---------------------------------------------------

    def test_enclave_measure_matches_gramine(self):
        data = os.path.join(SOURCE_DIR, "tests", "data", "gramine")
        manifest = os.path.join(data, "case-dev.manifest.sgx")
        pal = os.path.join(data, "libpal-dev.so")
        sgxs = os.path.join(self.home, "case.sgxs")
        out = self.json_of("enclave", "measure", "--manifest", manifest, "--libpal", pal,
                           "--sgxs", sgxs)
        self.assertEqual(out["mrenclave"], MRENCLAVE_CASE_DEV)
        self.assertEqual((out["enclave_size"], out["threads"]), (512 << 20, 2))
        # The SGXS stream written alongside is exactly the measured records (ECREATE,
        # EADD, EEXTEND with its 256 data bytes), so its SHA-256 is the MRENCLAVE.
        with open(sgxs, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), MRENCLAVE_CASE_DEV)
        res = self.run_cli("enclave", "measure", "--manifest", pal, "--libpal", pal, want=6)
        self.assertTrue(res.stderr.startswith("cloister: "), res.stderr)
        self.run_cli("enclave", "measure", "--manifest", manifest, want=2)
        self.run_cli("enclave", "measure", "--manifest", "/nonexistent", "--libpal", pal, want=2)

    def test_enclave_sigstruct_decodes_and_verifies(self):
        data = os.path.join(SOURCE_DIR, "tests", "data", "gramine")
        out = self.json_of("enclave", "sigstruct", os.path.join(data, "case-dev.sig"))
        self.assertEqual(out["mrenclave"], MRENCLAVE_CASE_DEV)
        self.assertEqual(out["mrsigner"],
                         "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e")
        self.assertEqual((out["isvprodid"], out["isvsvn"], out["debug"]), (5, 1, True))
        self.assertEqual(out["attributes"], {"flags": "0x6", "xfrm": "0x3"})
        self.assertEqual(out["date"], "2024-01-02")
        # One flipped bit in the signed body and the signature no longer verifies.
        with open(os.path.join(data, "case-dev.sig"), "rb") as f:
            sig = bytearray(f.read())
        sig[960] ^= 1
        bad = os.path.join(self.home, "bad.sig")
        with open(bad, "wb") as f:
            f.write(sig)
        res = self.run_cli("enclave", "sigstruct", bad, want=6)
        self.assertTrue(res.stderr.startswith("cloister: "), res.stderr)
        self.run_cli("enclave", "sigstruct", os.path.join(data, "case-dev.manifest.sgx"), want=6)

    def test_enclave_sigstruct_reads_sdk_enclaves_and_checks_sgxs_streams(self):
        data = os.path.join(SOURCE_DIR, "tests", "data", "sgx")
        sig_path, sgxs = (os.path.join(data, "test_enclave." + e) for e in ("sig", "sgxs"))
        with open(sig_path, "rb") as f:
            sig = f.read()
        # an SDK signed enclave (Occlum's libocclum-libos.signed.so is one) carrying it
        enclave = os.path.join(self.home, "enclave.signed.so")
        with open(enclave, "wb") as f:
            f.write(sdk_signed_enclave(sig))
        out = self.json_of("enclave", "sigstruct", enclave)
        self.assertEqual((out["mrenclave"], out["isvprodid"], out["source"]),
                         (MRENCLAVE_TEST_ENCLAVE, 65535, "sgx-sdk enclave, metadata 2.4"))
        self.assertEqual(out["mrsigner"],
                         "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542")
        # an EDP build: the .sig and the .sgxs it signs; another SIGSTRUCT does not match
        out = self.json_of("enclave", "sigstruct", sig_path, "--sgxs", sgxs)
        self.assertEqual((out["mrenclave"], out["source"], out["sgxs"]),
                         (MRENCLAVE_TEST_ENCLAVE, "sigstruct", "matches"))
        other = os.path.join(SOURCE_DIR, "tests", "data", "gramine", "case-dev.sig")
        res = self.run_cli("enclave", "sigstruct", other, "--sgxs", sgxs, want=6)
        self.assertIn(f"measures {MRENCLAVE_TEST_ENCLAVE}, but the SIGSTRUCT signs "
                      f"{MRENCLAVE_CASE_DEV}", res.stderr)
        # neither a SIGSTRUCT nor a signed enclave: said plainly
        res = self.run_cli("enclave", "sigstruct", sgxs, want=6)
        self.assertIn("not a 1808-byte SIGSTRUCT, and not an SGX SDK signed enclave",
                      res.stderr)

    # ---- output formats and usage ---------------------------------------------

    def test_yaml_is_the_json_objects(self):
        self.new_account()
        self.run_cli("api-key", "create", "k1", "--role", "auditor")
        as_json = self.json_of("api-key", "list")
        as_yaml = self.run_cli("-o", "yaml", "api-key", "list").stdout
        parsed = subprocess.run(
            ["node", "-e", "const Y = require('yaml'); let s = ''; process.stdin.on('data', "
             "d => s += d).on('end', () => console.log(JSON.stringify(Y.parse(s))))"],
            input=as_yaml, capture_output=True, text=True, cwd=SOURCE_DIR, check=True)
        self.assertEqual(json.loads(parsed.stdout), as_json)

    def test_usage_errors(self):
        for args in (["frobnicate"], ["account", "fly"], ["member", "add"],
                     ["member", "list", "--bogus"], ["-o", "xml", "account", "list"],
                     ["account", "create", "a", "b"]):
            res = self.run_cli(*args, want=2)
            self.assertTrue(res.stderr.startswith("cloister: "), res.stderr)

    def test_help_for_every_command(self):
        top = self.run_cli("--help").stdout
        commands = [line.strip().split("  ")[0] for line in
                    top.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()]
        self.assertIn("api-key create", commands)
        for command in commands:
            if command.startswith("completion"):
                continue
            out = self.run_cli(*command.split(), "--help").stdout
            self.assertIn("usage: cloister " + command, out)
            self.assertRegex(out, r"example:\n  .*cloister ")

    def test_completion(self):
        script = self.run_cli("completion", "bash").stdout
        res = subprocess.run(["bash", "-c", script + "\ncomplete -p cloister"],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("_cloister", res.stdout)
        self.assertIn("compdef _cloister cloister", self.run_cli("completion", "zsh").stdout)
        self.assertEqual(self.run_cli("__verbs", "member").stdout.split(),
                         ["list", "add", "set-role", "remove"])
        self.run_cli("completion", "fish", want=2)

    def test_docs_match_the_help(self):
        res = subprocess.run([os.path.join(SOURCE_DIR, "script", "cli-docs"), CLOISTER],
                             capture_output=True, text=True, check=True)
        with open(os.path.join(SOURCE_DIR, "docs", "cli.md")) as f:
            self.assertEqual(f.read(), res.stdout,
                             "docs/cli.md is stale: run script/cli-docs build/cloister > docs/cli.md")


if __name__ == "__main__":
    unittest.main()
