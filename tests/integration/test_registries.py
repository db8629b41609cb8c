"""Registries and their credentials, checked by a worker against Debian's
docker-registry: anonymous, htpasswd with the right and the wrong password,
none given, and an address where nothing listens.  The password is sealed,
never returned, never logged."""
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from registry import Registry  # noqa: E402
from token_server import TokenServer  # noqa: E402

from cloister_test import Api, Daemon, Worker, create_admin, new_database, psql  # noqa: E402

PASSWORD = "s3cret-" + uuid.uuid4().hex


class Registries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.db = new_database()
        cls.d = Daemon(cls.url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(cls.url, cls.d.kek, "--slots=4", "--poll-interval=1")
        cls.open = Registry()
        cls.locked = Registry(users={"robot": PASSWORD})
        cls.token_dir = __import__("tempfile").mkdtemp(prefix="cl-token-")
        cls.tokens = TokenServer(cls.token_dir, {"robot": PASSWORD})
        cls.bearer = Registry(auth_section=cls.tokens.registry_auth())

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.open.close()
        cls.locked.close()
        cls.bearer.close()
        cls.tokens.close()
        __import__("shutil").rmtree(cls.token_dir, ignore_errors=True)
        cls.d.stop()
        cls.d.close()

    def account(self):
        api = Api(self.d)
        api.login("admin@example.com", self.password)
        account = api.ok("POST", "/v1/accounts", {"name": "reg-" + uuid.uuid4().hex[:8]},
                         want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        return account, api

    def check(self, api, registry_id, timeout=60):
        status, headers, job = api.call("POST", f"/v1/registries/{registry_id}/check")
        self.assertEqual(status, 202, job)
        self.assertEqual(headers["location"], f"/v1/jobs/{job['id']}")
        self.assertEqual(job["kind"], "registry.check")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = api.ok("GET", f"/v1/jobs/{job['id']}")
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(0.1)
        self.fail(f"the check did not end: {job}")

    def test_anonymous_registry(self):
        _, api = self.account()
        reg = api.ok("POST", "/v1/registries", {"name": "local", "host": self.open.host,
                                                "tls": False}, want=201)
        self.assertFalse(reg["has_password"])
        job = self.check(api, reg["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["result"], {"auth": "none", "api_version": "registry/2.0"})
        self.assertEqual(api.ok("GET", f"/v1/registries/{reg['id']}")["last_check_job"],
                         job["id"])

    def test_password_is_sealed_and_never_shown(self):
        account, api = self.account()
        reg = api.ok("POST", "/v1/registries", {"name": "private", "host": self.locked.host,
                                                "tls": False, "username": "robot",
                                                "password": PASSWORD}, want=201)
        self.assertTrue(reg["has_password"])
        job = self.check(api, reg["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["result"]["auth"], "basic")
        stored = psql(f"SELECT password_sealed FROM registries WHERE id = '{reg['id']}'",
                      dbname=self.db)
        self.assertTrue(stored.startswith("v1:"))
        self.assertNotIn(PASSWORD, stored)
        everything = [api.call("GET", f"/v1/registries/{reg['id']}")[2],
                      api.ok("GET", "/v1/registries"), api.ok("GET", "/v1/audit"),
                      api.ok("GET", f"/v1/jobs/{job['id']}/events"), job]
        self.assertNotIn(PASSWORD, repr(everything))
        self.assertNotIn(PASSWORD, self.d.output())
        self.assertNotIn(PASSWORD, self.worker.output())
        # the sealed value is bound to its registry: copied elsewhere, it does not open
        other = api.ok("POST", "/v1/registries", {"name": "copy", "host": self.locked.host,
                                                  "tls": False, "username": "robot"},
                       want=201)
        psql(f"UPDATE registries SET password_sealed = '{stored}' WHERE id = '{other['id']}'",
             dbname=self.db)
        job = self.check(api, other["id"])
        self.assertEqual(job["state"], "failed")
        self.assertIn("does not open", job["error"])
        self.assertEqual(job["attempts"], 1)

    def test_token_service(self):
        _, api = self.account()
        reg = api.ok("POST", "/v1/registries", {"name": "bearer", "host": self.bearer.host,
                                                "tls": False, "username": "robot",
                                                "password": PASSWORD}, want=201)
        issued = self.tokens.issued
        job = self.check(api, reg["id"])
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["result"]["auth"], "bearer")
        self.assertEqual(self.tokens.issued, issued + 1)
        api.ok("PATCH", f"/v1/registries/{reg['id']}", {"password": "wrong"})
        job = self.check(api, reg["id"])
        self.assertEqual(job["state"], "failed")
        self.assertIn("token service refused the credentials", job["error"])
        self.assertEqual(job["attempts"], 1)

    def test_wrong_and_missing_credentials_fail_at_once(self):
        _, api = self.account()
        wrong = api.ok("POST", "/v1/registries", {"name": "wrong", "host": self.locked.host,
                                                  "tls": False, "username": "robot",
                                                  "password": "not-it"}, want=201)
        job = self.check(api, wrong["id"])
        self.assertEqual(job["state"], "failed")
        self.assertIn("refused the credentials", job["error"])
        self.assertEqual(job["attempts"], 1)         # no point in trying again
        none = api.ok("POST", "/v1/registries", {"name": "none", "host": self.locked.host,
                                                 "tls": False}, want=201)
        job = self.check(api, none["id"])
        self.assertIn("asks for a user name and password", job["error"])
        # fixing the password fixes the check
        api.ok("PATCH", f"/v1/registries/{wrong['id']}", {"password": PASSWORD})
        self.assertEqual(self.check(api, wrong["id"])["state"], "succeeded")
        cleared = api.ok("PATCH", f"/v1/registries/{wrong['id']}", {"password": None})
        self.assertFalse(cleared["has_password"])

    def test_unreachable_registry_is_retried_then_fails(self):
        _, api = self.account()
        with socket_port() as port:
            reg = api.ok("POST", "/v1/registries", {"name": "gone", "host": f"127.0.0.1:{port}",
                                                    "tls": False}, want=201)
            job = self.check(api, reg["id"], timeout=90)
        self.assertEqual(job["state"], "failed")
        self.assertEqual(job["attempts"], 3)
        self.assertIn("could not reach", job["error"])

    def test_validation_and_isolation(self):
        _, api = self.account()
        status, _, doc = api.call("POST", "/v1/registries", {"name": "Bad", "host": "a b",
                                                             "tls": "yes", "colour": 1})
        self.assertEqual(status, 422)
        self.assertEqual({e["field"] for e in doc["errors"]}, {"name", "host", "tls", "colour"})
        reg = api.ok("POST", "/v1/registries", {"name": "mine", "host": "r.example.com"},
                     want=201)
        self.assertEqual(api.call("POST", "/v1/registries", {"name": "mine",
                                                             "host": "x.example.com"})[0], 422)
        _, other = self.account()
        for method, path in [("GET", f"/v1/registries/{reg['id']}"),
                             ("DELETE", f"/v1/registries/{reg['id']}"),
                             ("POST", f"/v1/registries/{reg['id']}/check")]:
            self.assertEqual(other.call(method, path)[0], 404, path)
        self.assertEqual(api.call("DELETE", f"/v1/registries/{reg['id']}")[0], 204)


class socket_port:
    """A loopback port where nothing listens, for the life of the block."""

    def __enter__(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    unittest.main()
