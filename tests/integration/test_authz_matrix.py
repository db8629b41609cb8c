"""The authorization matrix: every operation of the daemon's route table
(`cloisterd routes`) called as anonymous, as each role of the owning
account, as an admin of another account, and with an expired and a revoked
API key.  What each cell must answer is declared once, in EXPECTED, by the
kind of route; the other account's admin, given the first account's real
ids, must get nothing of it and change nothing of it."""
import json
import re
import subprocess
import unittest
import uuid

from cloister_test import Api, CLOISTERD, Daemon, create_admin, new_database, psql

PRINCIPALS = ("anonymous", "admin", "operator", "auditor", "other_admin", "expired", "revoked")
OK = "ok"          # authorization passed: the handler ran (neither 401 nor 403)

# route kind -> principal -> what it must answer
EXPECTED = {
    "public":      {p: OK for p in PRINCIPALS},
    "signed_in":   {"anonymous": 401, "admin": OK, "operator": OK, "auditor": OK,
                    "other_admin": OK, "expired": 401, "revoked": 401},
    "session":     {"anonymous": 401, "admin": 403, "operator": 403, "auditor": 403,
                    "other_admin": 403, "expired": 401, "revoked": 401},
    "instance":    {"anonymous": 401, "admin": 403, "operator": 403, "auditor": 403,
                    "other_admin": 403, "expired": 401, "revoked": 401},
    "device":      {"anonymous": 401, "admin": 403, "operator": 403, "auditor": 403,
                    "other_admin": 403, "expired": 401, "revoked": 401},
    "role":        None,      # per the route's roles, below
}


def route_kind(r):
    if r["public"]:
        return "public"
    if r["instance_admin"]:
        return "instance"
    if r["session_only"]:
        return "session"
    if r["roles"]:
        return "role"
    if r["join_token"] or r["node_signed"]:
        return "device"
    return "signed_in"


def expected(r, principal):
    kind = route_kind(r)
    if kind != "role":
        return EXPECTED[kind][principal]
    if principal in ("anonymous", "expired", "revoked"):
        return 401
    role = "admin" if principal == "other_admin" else principal
    return OK if role in r["roles"] else 403


class AuthorizationMatrix(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.url, cls.db = new_database()
        cls.d = Daemon(cls.url).start()
        admin = Api(cls.d)
        admin.login("admin@example.com", create_admin(cls.d))
        cls.keys, cls.ids = {}, {}
        for name in ("owner", "other"):
            account = admin.ok("POST", "/v1/accounts", {"name": name}, want=201)["id"]
            admin.ok("POST", "/v1/session/account", {"account_id": account})
            cls.ids[name] = account
            roles = ("admin", "operator", "auditor") if name == "owner" else ("admin",)
            for role in roles:
                key = admin.ok("POST", "/v1/api-keys", {"name": role, "role": role}, want=201)
                cls.keys[role if name == "owner" else "other_admin"] = key["secret"]
            if name == "owner":
                for bad in ("expired", "revoked"):
                    key = admin.ok("POST", "/v1/api-keys", {"name": bad, "role": "admin"},
                                   want=201)
                    cls.keys[bad] = key["secret"]
                    if bad == "revoked":
                        admin.ok("POST", f"/v1/api-keys/{key['id']}/revoke")
                    else:
                        psql(f"UPDATE api_keys SET expires_at = now() - interval '1 minute' "
                             f"WHERE id = '{key['id']}'", dbname=cls.db)
                cls.owner_ids = cls.make_resources(Api(cls.d, key=cls.keys["admin"]), account)
        cls.routes = json.loads(subprocess.run([CLOISTERD, "routes"], capture_output=True,
                                               text=True, check=True).stdout)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    @classmethod
    def make_resources(cls, api, account):
        """The owner's things, by the path segment that names them."""
        app = api.ok("POST", "/v1/apps", {"name": "web", "input_image": "nginx:1.25",
                                          "output_image": "registry.example.com/a/web:v1"},
                     want=201)["id"]
        registry = api.ok("POST", "/v1/registries", {"name": "r", "host": "r.example.com",
                                                     "username": "u", "password": "p"},
                          want=201)["id"]
        job = api.ok("POST", "/v1/jobs", {"kind": "noop"}, want=202)["id"]
        token = api.ok("POST", "/v1/node-tokens", {"name": "t"}, want=201)["id"]
        api.ok("PUT", f"/v1/apps/{app}/secrets/DB", {"value": "s3cret"})
        key = psql("SELECT id FROM api_keys WHERE name = 'operator'", dbname=cls.db)
        # the instance admin, who made both accounts: a member of each
        user = psql("SELECT user_id FROM memberships LIMIT 1", dbname=cls.db)
        return {"accounts": account, "apps": app, "registries": registry, "jobs": job,
                "node-tokens": token, "api-keys": key, "members": user, "pki": account}

    def path_for(self, pattern, real):
        """The pattern with the owner's real ids (real) or fresh random ones."""
        def fill(m):
            before = pattern[:m.start()].rstrip("/").split("/")[-1]
            if m.group(1) == "name":
                return "DB"
            if real and before in self.owner_ids:
                return self.owner_ids[before]
            return str(uuid.uuid4())
        return re.sub(r"\{([a-z_]+)\}", fill, pattern)

    def call(self, principal, method, path, json_body):
        headers = {}
        if principal != "anonymous":
            headers["Authorization"] = "Bearer " + self.keys[principal]
        body = b"{}" if json_body else None
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, _, data = self.d.request(method, path, body=body, headers=headers)
        return status, data.decode("utf-8", "replace")

    def owner_state(self):
        """Everything the owner has, as one digest per table, and its audit rows."""
        tables = ("apps", "registries", "jobs", "node_tokens", "app_secrets", "api_keys",
                  "memberships", "accounts", "clusters", "deployments")
        state = {}
        for t in tables:
            col = "id" if t == "accounts" else "account_id"
            state[t] = psql(f"SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), ''))"
                            f" FROM {t} x WHERE {col} = '{self.ids['owner']}'", dbname=self.db)
        state["audit"] = psql(f"SELECT count(*) FROM audit_events WHERE account_id = "
                              f"'{self.ids['owner']}'", dbname=self.db)
        return state

    def test_every_route_for_every_principal(self):
        self.assertGreater(len(self.routes), 100)
        wrong = []
        for principal in PRINCIPALS:
            if principal == "admin":
                continue                    # last: the owner's admin may change things
            if principal == "other_admin":
                before = self.owner_state()
            for r in self.routes:
                path = self.path_for(r["path"], real=principal == "other_admin")
                status, text = self.call(principal, r["method"], path, r["json_body"])
                want = expected(r, principal)
                if (want == OK and status in (401, 403)) or (want != OK and status != want):
                    wrong.append(f"{principal:12} {r['method']} {r['path']}: {status}, "
                                 f"wanted {want}: {text[:160]}")
                if principal == "other_admin" and route_kind(r) != "public":
                    # the ids it sent may come back (a 404's "instance"); no others
                    leaked = [v for k, v in self.owner_ids.items()
                              if k != "members" and v not in path and v in text]
                    if leaked:
                        wrong.append(f"other_admin {r['method']} {r['path']}: "
                                     f"answered the owner's {leaked}")
                    if "{" in r["path"] and 200 <= status < 300:
                        wrong.append(f"other_admin {r['method']} {r['path']}: {status} on "
                                     "the owner's id")
            if principal == "other_admin":
                self.assertEqual(self.owner_state(), before,
                                 "the other account changed the owner's things")
        for r in self.routes:               # the owner's admin, on fresh ids
            status, text = self.call("admin", r["method"], self.path_for(r["path"], False),
                                     r["json_body"])
            want = expected(r, "admin")
            if (want == OK and status in (401, 403)) or (want != OK and status != want):
                wrong.append(f"{'admin':12} {r['method']} {r['path']}: {status}, wanted "
                             f"{want}: {text[:160]}")
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))


if __name__ == "__main__":
    unittest.main()
