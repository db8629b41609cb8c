"""Applications: create with defaults, every field's rule named in a 422,
PATCH with If-Match and nulls, delete, isolation between accounts, audit."""
import unittest
import uuid

from cloister_test import Api, Daemon, create_admin, new_database

GOOD = {"name": "web", "input_image": "nginx:1.25", "output_image":
        "registry.example.com:5000/acme/web-sgx"}


class Apps(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def account(self, role="admin"):
        admin = Api(self.d)
        admin.login("admin@example.com", self.password)
        account = admin.ok("POST", "/v1/accounts", {"name": "apps-" + uuid.uuid4().hex[:8]},
                           want=201)["id"]
        admin.ok("POST", "/v1/session/account", {"account_id": account})
        key = admin.ok("POST", "/v1/api-keys", {"name": "k", "role": role}, want=201)
        return account, Api(self.d, key=key["secret"]), admin

    def test_create_with_defaults_and_read(self):
        _, api, _ = self.account("operator")
        status, headers, app = api.call("POST", "/v1/apps", GOOD)
        self.assertEqual(status, 201, app)
        self.assertEqual(headers["location"], f"/v1/apps/{app['id']}")
        self.assertEqual(headers["etag"], '"1"')
        for field, value in [("runtime", "gramine"), ("enclave_size", 536870912),
                             ("max_threads", 16), ("isvprodid", 0), ("isvsvn", 0),
                             ("debug", False), ("env", {}), ("allowed_domains", []),
                             ("labels", {}), ("entrypoint", None), ("description", ""),
                             ("attestation", "cloister"), ("identity", "mrenclave"),
                             ("min_isvsvn", 0), ("required_node_labels", {}),
                             ("cert_lifetime", 604800), ("secrets_env", False),
                             ("cloister_dir", "/run/cloister"),
                             ("on_attestation_failure", "retry")]:
            self.assertEqual(app[field], value, field)
        self.assertEqual(api.ok("GET", f"/v1/apps/{app['id']}"), app)
        self.assertEqual([a["id"] for a in api.ok("GET", "/v1/apps")["items"]], [app["id"]])

    def test_every_rule_is_named(self):
        _, api, _ = self.account()
        bad = {
            "name": "Web_1", "description": "x" * 1001, "input_image": "nginx@sha256:abc",
            "output_image": "repo@sha256:" + "a" * 64, "runtime": "sgx",
            "enclave_size": 100 * 1024 * 1024, "max_threads": 0, "isvprodid": 70000,
            "isvsvn": -1, "entrypoint": "/bin/sh", "args": [1], "env": {"1BAD": "x"},
            "allowed_domains": ["not a domain"], "encrypted_paths": ["relative/path"],
            "writable_paths": ["/data/../etc"], "labels": {"Key": "v"}, "debug": "yes",
            "attestation": "sgx", "identity": "key", "min_isvsvn": 65536,
            "required_node_labels": {"zone": 1}, "cert_lifetime": 60, "secrets_env": 1,
            "cloister_dir": "/", "on_attestation_failure": "ignore",
        }
        status, _, doc = api.call("POST", "/v1/apps", bad)
        self.assertEqual(status, 422, doc)
        named = {e["field"] for e in doc["errors"]}
        self.assertEqual(named, set(bad), named ^ set(bad))
        status, _, doc = api.call("POST", "/v1/apps", {"description": "no name"})
        self.assertEqual({e["field"] for e in doc["errors"]},
                         {"name", "input_image", "output_image"})
        status, _, doc = api.call("POST", "/v1/apps", {"name": None, "input_image": None,
                                                       "output_image": None})
        self.assertEqual(status, 422, doc)
        self.assertEqual({e["field"] for e in doc["errors"]},
                         {"name", "input_image", "output_image"})

    def test_enclave_size_bounds(self):
        _, api, _ = self.account()
        for size, ok in [(64 << 20, True), (64 << 30, True), (32 << 20, False),
                         (128 << 30, False), ((64 << 20) + 1, False)]:
            status, _, doc = api.call("POST", "/v1/apps", {**GOOD, "name": f"s{size}",
                                                           "enclave_size": size})
            self.assertEqual(status, 201 if ok else 422, (size, doc))

    def test_names_are_unique_per_account(self):
        _, api, _ = self.account()
        api.ok("POST", "/v1/apps", GOOD, want=201)
        status, _, doc = api.call("POST", "/v1/apps", GOOD)
        self.assertEqual(status, 422)
        self.assertEqual(doc["errors"][0]["field"], "name")
        _, other, _ = self.account()
        other.ok("POST", "/v1/apps", GOOD, want=201)         # another account may

    def test_patch_with_if_match_and_nulls(self):
        _, api, _ = self.account()
        app = api.ok("POST", "/v1/apps", {**GOOD, "max_threads": 64, "env": {"A": "1"}},
                     want=201)
        path = f"/v1/apps/{app['id']}"
        status, headers, changed = api.call("PATCH", path, {"max_threads": None,
                                                            "description": "front end",
                                                            "allowed_domains": ["web.example.com"]},
                                            headers={"If-Match": '"1"'})
        self.assertEqual(status, 200, changed)
        self.assertEqual(headers["etag"], '"2"')
        self.assertEqual(changed["max_threads"], 16)           # null: back to the default
        self.assertEqual(changed["env"], {"A": "1"})           # not named: unchanged
        self.assertEqual(changed["description"], "front end")
        self.assertEqual(api.call("PATCH", path, {"debug": True},
                                  headers={"If-Match": '"1"'})[0], 412)
        status, _, doc = api.call("PATCH", path, {"name": None, "max_threads": 5000})
        self.assertEqual(status, 422)
        self.assertEqual({e["field"] for e in doc["errors"]}, {"name", "max_threads"})
        self.assertEqual(api.ok("GET", path)["max_threads"], 16)   # nothing half-written

    def test_delete(self):
        _, api, _ = self.account()
        app = api.ok("POST", "/v1/apps", GOOD, want=201)
        self.assertEqual(api.call("DELETE", f"/v1/apps/{app['id']}",
                                  headers={"If-Match": '"7"'})[0], 412)
        self.assertEqual(api.call("DELETE", f"/v1/apps/{app['id']}")[0], 204)
        self.assertEqual(api.call("GET", f"/v1/apps/{app['id']}")[0], 404)

    def test_roles_and_isolation(self):
        _, auditor, admin = self.account("auditor")
        app = admin.ok("POST", "/v1/apps", GOOD, want=201)
        self.assertEqual(auditor.ok("GET", f"/v1/apps/{app['id']}")["id"], app["id"])
        self.assertEqual(auditor.call("POST", "/v1/apps", {**GOOD, "name": "x"})[0], 403)
        self.assertEqual(auditor.call("DELETE", f"/v1/apps/{app['id']}")[0], 403)
        _, stranger, _ = self.account()
        for method in ("GET", "DELETE"):
            self.assertEqual(stranger.call(method, f"/v1/apps/{app['id']}")[0], 404)
        self.assertEqual(stranger.call("PATCH", f"/v1/apps/{app['id']}", {"debug": True})[0],
                         404)
        self.assertEqual(stranger.ok("GET", "/v1/apps")["items"], [])

    def test_changes_are_audited(self):
        _, api, admin = self.account()
        app = api.ok("POST", "/v1/apps", GOOD, want=201)
        api.ok("PATCH", f"/v1/apps/{app['id']}", {"debug": True})
        api.call("DELETE", f"/v1/apps/{app['id']}")
        events = admin.ok("GET", f"/v1/audit?target=app:{app['id']}")["items"]
        self.assertEqual([e["action"] for e in events], ["app.delete", "app.update",
                                                         "app.create"])
        self.assertEqual(events[1]["details"], {"fields": ["debug"]})


if __name__ == "__main__":
    unittest.main()
