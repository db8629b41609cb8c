"""Accounts, users, roles, sessions, API keys and the audit trail, against
cloisterd and PostgreSQL.  Each test makes its own account (and people), so
tests do not depend on each other's order."""
import json
import time
import unittest
import uuid

from cloister_test import Api, Daemon, create_admin, new_database, psql


def verify_export(rows):
    """docs/audit.md's verifier, word for word."""
    import hashlib
    prev = ""
    for row in rows:
        body = {k: row[k] for k in ("account_id", "action", "actor", "at", "details",
                                    "id", "request_id", "target")}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        digest = hashlib.sha256((prev + canonical).encode()).hexdigest()
        if row["prev_hash"] != prev or row["hash"] != digest:
            return row["id"]
        prev = digest
    return None


class Tenancy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.db = new_database()
        cls.d = Daemon(cls.url, "--login-failures-per-user=3",
                       "--login-failures-per-address=1000")
        cls.d.start()
        cls.admin_password = create_admin(cls.d)
        cls.admin = Api(cls.d)
        status, _, _ = cls.admin.login("admin@example.com", cls.admin_password)
        assert status == 200

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    # ---- helpers ---------------------------------------------------------

    def new_account(self):
        """A fresh account with its own admin (a new person, signed in and
        acting in it); returns (account id, that admin's Api)."""
        name = "acct-" + uuid.uuid4().hex[:10]
        account = self.admin.ok("POST", "/v1/accounts", {"name": name}, want=201)
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        self.admin.ok("POST", "/v1/session/account", {"account_id": account["id"]})
        member = self.admin.ok("POST", f"/v1/accounts/{account['id']}/members",
                               {"email": email, "role": "admin"}, want=201)
        owner = Api(self.d)
        self.assertEqual(owner.login(email, member["initial_password"])[0], 200)
        owner.ok("POST", "/v1/session/account", {"account_id": account["id"]})
        return account["id"], owner

    def add_person(self, owner, account, role):
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        member = owner.ok("POST", f"/v1/accounts/{account}/members",
                          {"email": email, "role": role}, want=201)
        person = Api(self.d)
        self.assertEqual(person.login(email, member["initial_password"])[0], 200)
        person.ok("POST", "/v1/session/account", {"account_id": account})
        return member["user_id"], person

    def key(self, owner, role, **extra):
        body = {"name": "key-" + uuid.uuid4().hex[:6], "role": role, **extra}
        created = owner.ok("POST", "/v1/api-keys", body, want=201)
        return created, Api(self.d, key=created["secret"])

    def assertProblem(self, result, status, slug=None):
        got, headers, doc = result
        self.assertEqual(got, status, doc)
        self.assertEqual(headers["content-type"], "application/problem+json")
        if slug:
            self.assertEqual(doc["type"], "https://cloister.dev/problems/" + slug)
        return doc

    # ---- sessions --------------------------------------------------------

    def test_wrong_password_and_unknown_person_look_alike(self):
        a = self.assertProblem(Api(self.d).login("admin@example.com", "wrong-password"),
                               401, "unauthorized")
        b = self.assertProblem(Api(self.d).login("nobody@example.com", "wrong-password"),
                               401, "unauthorized")
        self.assertEqual(a["detail"], b["detail"])

    def test_login_is_rate_limited_per_person(self):
        account, owner = self.new_account()
        _, person = self.add_person(owner, account, "auditor")
        email = person.ok("GET", "/v1/me")["user"]["email"]
        for _ in range(3):
            self.assertProblem(Api(self.d).login(email, "not-the-password"), 401)
        status, headers, doc = Api(self.d).login(email, "not-the-password")
        self.assertEqual(status, 429, doc)
        self.assertGreater(int(headers["retry-after"]), 0)
        self.assertEqual(doc["type"], "https://cloister.dev/problems/rate-limited")
        # others are not affected
        self.assertEqual(Api(self.d).login("admin@example.com", self.admin_password)[0], 200)

    def test_session_cookie_and_rotation(self):
        api = Api(self.d)
        status, headers, doc = api.login("admin@example.com", self.admin_password)
        self.assertEqual(status, 200)
        cookie = headers["set-cookie"]
        self.assertTrue(cookie.startswith("cloister_session="))
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attribute, cookie)
        self.assertIn("csrf_token", doc)
        old = api.cookie
        api.login("admin@example.com", self.admin_password)   # sends the old cookie
        self.assertNotEqual(api.cookie, old)
        stale = Api(self.d)
        stale.cookie = old
        self.assertProblem(stale.call("GET", "/v1/me"), 401, "unauthorized")
        self.assertEqual(api.call("GET", "/v1/me")[0], 200)

    def test_csrf_token_required_for_cookie_mutations(self):
        account, owner = self.new_account()
        saved = owner.csrf
        owner.csrf = None
        self.assertProblem(owner.call("POST", "/v1/api-keys", {"name": "x", "role": "auditor"}),
                           403, "forbidden")
        owner.csrf = "forged-" + saved
        self.assertProblem(owner.call("PATCH", f"/v1/accounts/{account}", {"name": "y"}),
                           403, "forbidden")
        self.assertEqual(owner.call("GET", "/v1/me")[0], 200)   # reads need none
        owner.csrf = saved
        owner.ok("POST", "/v1/api-keys", {"name": "x", "role": "auditor"}, want=201)

    def test_logout_ends_the_session(self):
        api = Api(self.d)
        api.login("admin@example.com", self.admin_password)
        status, headers, _ = api.call("DELETE", "/v1/session")
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", headers["set-cookie"])
        self.assertProblem(api.call("GET", "/v1/me"), 401)

    def test_me(self):
        account, owner = self.new_account()
        me = owner.ok("GET", "/v1/me")
        self.assertEqual(me["kind"], "session")
        self.assertEqual(me["account"]["id"], account)
        self.assertEqual(me["role"], "admin")
        self.assertFalse(me["user"]["instance_admin"])
        self.assertEqual([a["id"] for a in me["accounts"]], [account])
        created, key = self.key(owner, "auditor")
        me = key.ok("GET", "/v1/me")
        self.assertEqual(me["kind"], "api_key")
        self.assertEqual(me["api_key"]["id"], created["id"])
        self.assertEqual(me["role"], "auditor")
        self.assertNotIn("secret", json.dumps(me))

    def test_switching_account(self):
        a, owner_a = self.new_account()
        b, owner_b = self.new_account()
        self.assertProblem(owner_a.call("POST", "/v1/session/account", {"account_id": b}),
                           404, "not-found")
        self.assertProblem(owner_a.call("POST", "/v1/session/account",
                                        {"account_id": "not-a-uuid"}), 404)
        user_id, person = self.add_person(owner_a, a, "operator")
        owner_b.ok("POST", f"/v1/accounts/{b}/members",
                   {"email": person.ok("GET", "/v1/me")["user"]["email"], "role": "auditor"},
                   want=201)
        switched = person.ok("POST", "/v1/session/account", {"account_id": b})
        self.assertEqual(switched["role"], "auditor")
        self.assertEqual(person.ok("GET", "/v1/me")["account"]["id"], b)

    def test_password_change(self):
        account, owner = self.new_account()
        email = f"pw-{uuid.uuid4().hex[:8]}@example.com"
        password = owner.ok("POST", f"/v1/accounts/{account}/members",
                            {"email": email, "role": "auditor"}, want=201)["initial_password"]
        person, other = Api(self.d), Api(self.d)
        self.assertEqual(person.login(email, password)[0], 200)
        self.assertEqual(other.login(email, password)[0], 200)
        doc = self.assertProblem(person.call("POST", "/v1/me/password",
                                             {"current_password": "wrong-wrong",
                                              "new_password": "a-new-password-1"}), 422)
        self.assertEqual(doc["errors"][0]["field"], "current_password")
        doc = self.assertProblem(person.call("POST", "/v1/me/password",
                                             {"current_password": password,
                                              "new_password": "short"}), 422)
        self.assertIn("new_password", [e["field"] for e in doc["errors"]])
        _, key = self.key(owner, "auditor")
        self.assertProblem(key.call("POST", "/v1/me/password",
                                    {"current_password": "x", "new_password": "y" * 12}), 403)
        self.assertEqual(person.call("POST", "/v1/me/password",
                                     {"current_password": password,
                                      "new_password": "a-new-password-1"})[0], 204)
        self.assertEqual(person.call("GET", "/v1/me")[0], 200)     # this session stays
        self.assertProblem(other.call("GET", "/v1/me"), 401)       # the others end
        self.assertEqual(Api(self.d).login(email, password)[0], 401)
        self.assertEqual(Api(self.d).login(email, "a-new-password-1")[0], 200)

    # ---- accounts --------------------------------------------------------

    def test_only_instance_admins_create_accounts(self):
        account, owner = self.new_account()
        self.assertProblem(owner.call("POST", "/v1/accounts", {"name": "mine"}), 403)
        _, key = self.key(owner, "admin")
        self.assertProblem(key.call("POST", "/v1/accounts", {"name": "mine"}), 403)
        self.assertProblem(Api(self.d).call("POST", "/v1/accounts", {"name": "x"}), 401)

    def test_accounts_are_invisible_to_others(self):
        a, owner_a = self.new_account()
        b, owner_b = self.new_account()
        listed = [x["id"] for x in owner_a.ok("GET", "/v1/accounts")["items"]]
        self.assertEqual(listed, [a])
        self.assertProblem(owner_a.call("GET", f"/v1/accounts/{b}"), 404, "not-found")
        self.assertProblem(owner_a.call("PATCH", f"/v1/accounts/{b}", {"name": "taken"}), 404)
        self.assertProblem(owner_a.call("GET", f"/v1/accounts/{b}/members"), 404)
        self.assertProblem(owner_a.call("POST", f"/v1/accounts/{b}/members",
                                        {"email": "x@example.com", "role": "admin"}), 404)
        self.assertEqual(owner_b.ok("GET", f"/v1/accounts/{b}")["id"], b)

    def test_account_update_with_etag(self):
        account, owner = self.new_account()
        status, headers, _ = owner.call("GET", f"/v1/accounts/{account}")
        etag = headers["etag"]
        renamed = "renamed-" + uuid.uuid4().hex[:6]
        self.assertProblem(owner.call("PATCH", f"/v1/accounts/{account}", {"name": renamed},
                                      headers={"If-Match": '"999"'}), 412,
                           "precondition-failed")
        status, headers2, doc = owner.call("PATCH", f"/v1/accounts/{account}",
                                           {"name": renamed}, headers={"If-Match": etag})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["name"], renamed)
        self.assertNotEqual(headers2["etag"], etag)
        self.assertProblem(owner.call("PATCH", f"/v1/accounts/{account}", {"name": "x"},
                                      headers={"If-Match": etag}), 412)

    def test_duplicate_account_name_is_a_conflict(self):
        name = "dup-" + uuid.uuid4().hex[:6]
        self.admin.ok("POST", "/v1/accounts", {"name": name}, want=201)
        self.assertProblem(self.admin.call("POST", "/v1/accounts", {"name": name.upper()}),
                           409, "conflict")

    def test_sql_metacharacters_are_stored_literally(self):
        name = "x'); DROP TABLE users; -- \" \\ %_ " + uuid.uuid4().hex[:4]
        created = self.admin.ok("POST", "/v1/accounts", {"name": name}, want=201)
        self.assertEqual(created["name"], name)
        self.admin.ok("POST", "/v1/session/account", {"account_id": created["id"]})
        self.assertEqual(self.admin.ok("GET", f"/v1/accounts/{created['id']}")["name"], name)
        self.assertEqual(psql("SELECT count(*) > 0 FROM users", dbname=self.db), "t")

    def test_invalid_fields_are_each_named(self):
        doc = self.assertProblem(self.admin.call("POST", "/v1/accounts",
                                                 {"name": 5, "colour": "red"}),
                                 422, "invalid-fields")
        fields = {e["field"] for e in doc["errors"]}
        self.assertEqual(fields, {"name", "colour"})
        doc = self.assertProblem(self.admin.call("POST", "/v1/accounts", {}), 422)
        self.assertEqual(doc["errors"], [{"field": "name", "message": "is required"}])
        account, owner = self.new_account()
        doc = self.assertProblem(owner.call("POST", "/v1/api-keys",
                                            {"name": "", "role": "root",
                                             "expires_at": "tomorrow"}), 422)
        self.assertEqual({e["field"] for e in doc["errors"]}, {"name", "role", "expires_at"})
        for email in ("a@", "@b", "ab", "a b@c"):
            doc = self.assertProblem(owner.call("POST", f"/v1/accounts/{account}/members",
                                                {"email": email, "role": "admin"}), 422)
            self.assertEqual(doc["errors"][0]["field"], "email")
        self.assertProblem(owner.call("POST", "/v1/api-keys", raw=b"[1,2]",
                                      headers={"Content-Type": "application/json"}), 422)
        self.assertProblem(owner.call("POST", "/v1/api-keys", raw=b"{\"name\":",
                                      headers={"Content-Type": "application/json"}),
                           400, "malformed-request")

    # ---- members ---------------------------------------------------------

    def test_members_add_change_remove(self):
        account, owner = self.new_account()
        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        status, headers, added = owner.call("POST", f"/v1/accounts/{account}/members",
                                            {"email": email, "role": "operator"})
        self.assertEqual(status, 201, added)
        self.assertEqual(headers["location"],
                         f"/v1/accounts/{account}/members/{added['user_id']}")
        self.assertGreaterEqual(len(added["initial_password"]), 20)
        self.assertProblem(owner.call("POST", f"/v1/accounts/{account}/members",
                                      {"email": email.upper(), "role": "auditor"}), 409)
        path = f"/v1/accounts/{account}/members/{added['user_id']}"
        status, headers, member = owner.call("GET", path)
        self.assertEqual((status, member["role"]), (200, "operator"))
        changed = owner.ok("PATCH", path, {"role": "auditor"},
                           headers={"If-Match": headers["etag"]})
        self.assertEqual(changed["role"], "auditor")
        self.assertProblem(owner.call("PATCH", path, {"role": "admin"},
                                      headers={"If-Match": headers["etag"]}), 412)
        person = Api(self.d)
        self.assertEqual(person.login(email, added["initial_password"])[0], 200)
        person.ok("POST", "/v1/session/account", {"account_id": account})
        self.assertEqual(person.ok("GET", "/v1/me")["role"], "auditor")
        self.assertEqual(owner.call("DELETE", path)[0], 204)
        self.assertProblem(owner.call("GET", path), 404)
        # the removed person keeps a session but no longer acts in the account
        self.assertProblem(person.call("GET", f"/v1/accounts/{account}/members"), 403)

    def test_an_account_keeps_an_admin(self):
        account, owner = self.new_account()
        me = owner.ok("GET", "/v1/me")["user"]["id"]
        admins = [m for m in owner.ok("GET", f"/v1/accounts/{account}/members")["items"]
                  if m["role"] == "admin"]
        # the instance admin who made the account is an admin too: remove it first
        for m in admins:
            if m["user_id"] != me:
                self.assertEqual(owner.call("DELETE",
                                            f"/v1/accounts/{account}/members/{m['user_id']}")[0],
                                 204)
        path = f"/v1/accounts/{account}/members/{me}"
        self.assertProblem(owner.call("PATCH", path, {"role": "operator"}), 409, "conflict")
        self.assertProblem(owner.call("DELETE", path), 409, "conflict")

    # ---- roles -----------------------------------------------------------

    def test_each_role_is_refused_what_it_may_not_do(self):
        account, owner = self.new_account()
        _, operator = self.add_person(owner, account, "operator")
        _, auditor = self.add_person(owner, account, "auditor")
        created, _ = self.key(owner, "auditor")
        members = f"/v1/accounts/{account}/members"
        cases = [
            (operator, "POST", members, {"email": "a@example.com", "role": "admin"}, 403),
            (operator, "POST", "/v1/api-keys", {"name": "k", "role": "admin"}, 403),
            (operator, "GET", "/v1/audit", None, 403),
            (operator, "GET", "/v1/api-keys", None, 403),
            (operator, "PATCH", f"/v1/accounts/{account}", {"name": "x"}, 403),
            (operator, "GET", members, None, 200),
            (auditor, "POST", f"/v1/api-keys/{created['id']}/revoke", None, 403),
            (auditor, "DELETE", f"{members}/{created['id']}", None, 403),
            (auditor, "GET", "/v1/audit", None, 200),
            (auditor, "GET", "/v1/api-keys", None, 200),
            (auditor, "GET", "/v1/audit/verify", None, 200),
        ]
        for api, method, path, body, want in cases:
            status, _, doc = api.call(method, path, body)
            self.assertEqual(status, want, (method, path, doc))

    # ---- API keys --------------------------------------------------------

    def test_api_key_lifecycle(self):
        account, owner = self.new_account()
        created, key = self.key(owner, "admin")
        self.assertTrue(created["secret"].startswith("clk_"))
        self.assertTrue(created["secret"].startswith(created["prefix"]))
        fetched = owner.ok("GET", f"/v1/api-keys/{created['id']}")
        self.assertNotIn("secret", fetched)
        self.assertIsNone(fetched["last_used_at"])
        self.assertEqual(key.ok("GET", "/v1/me")["account"]["id"], account)
        self.assertIsNotNone(owner.ok("GET", f"/v1/api-keys/{created['id']}")["last_used_at"])
        # stored hashed, never as given
        self.assertEqual(psql(f"SELECT count(*) FROM api_keys WHERE secret_hash = "
                              f"convert_to('{created['secret']}', 'UTF8')", dbname=self.db), "0")
        revoked = owner.ok("POST", f"/v1/api-keys/{created['id']}/revoke")
        self.assertIsNotNone(revoked["revoked_at"])
        doc = self.assertProblem(key.call("GET", "/v1/me"), 401, "unauthorized")
        self.assertIn("revoked", doc["detail"])
        self.assertProblem(owner.call("POST", f"/v1/api-keys/{created['id']}/revoke"), 409)

    def test_expired_and_forged_keys(self):
        account, owner = self.new_account()
        self.assertProblem(owner.call("POST", "/v1/api-keys",
                                      {"name": "old", "role": "admin",
                                       "expires_at": "2001-01-01T00:00:00Z"}), 422)
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        _, key = self.key(owner, "admin", expires_at=soon)
        self.assertEqual(key.call("GET", "/v1/me")[0], 200)
        time.sleep(3)
        doc = self.assertProblem(key.call("GET", "/v1/me"), 401)
        self.assertIn("expired", doc["detail"])
        self.assertProblem(Api(self.d, key="clk_" + "A" * 43).call("GET", "/v1/me"), 401)
        self.assertProblem(self.d_call({"Authorization": "Basic YWRtaW46YWRtaW4="}), 401)
        self.assertProblem(self.d_call({}), 401)

    def d_call(self, headers):
        status, h, body = self.d.request("GET", "/v1/me", headers=headers)
        return status, h, json.loads(body)

    def test_another_accounts_ids_are_not_found(self):
        a, owner_a = self.new_account()
        b, owner_b = self.new_account()
        created_b, _ = self.key(owner_b, "admin")
        user_b, _ = self.add_person(owner_b, b, "operator")
        for method, path in [("GET", f"/v1/api-keys/{created_b['id']}"),
                             ("POST", f"/v1/api-keys/{created_b['id']}/revoke"),
                             ("GET", f"/v1/accounts/{b}/members/{user_b}"),
                             ("DELETE", f"/v1/accounts/{b}/members/{user_b}"),
                             ("GET", f"/v1/accounts/{a}/members/{user_b}"),
                             ("DELETE", f"/v1/accounts/{a}/members/{user_b}")]:
            self.assertProblem(owner_a.call(method, path), 404, "not-found")
        self.assertIsNone(owner_b.ok("GET", f"/v1/api-keys/{created_b['id']}")["revoked_at"])
        keys_a = [k["id"] for k in owner_a.ok("GET", "/v1/api-keys")["items"]]
        self.assertNotIn(created_b["id"], keys_a)

    # ---- conventions -------------------------------------------------------

    def test_pagination(self):
        account, owner = self.new_account()
        made = [self.key(owner, "auditor")[0]["id"] for _ in range(7)]
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/api-keys?limit=3" + (f"&cursor={cursor}" if cursor else "")
            status, headers, page = owner.call("GET", path)
            self.assertEqual(status, 200, page)
            pages += 1
            seen += [k["id"] for k in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                self.assertNotIn("link", headers)
                break
            self.assertEqual(headers["link"],
                             f'</v1/api-keys?limit=3&cursor={cursor}>; rel="next"')
        self.assertEqual(seen, made)
        self.assertEqual(pages, 3)
        audit_cursor = owner.ok("GET", "/v1/audit?limit=1")["next_cursor"]
        for bad in ("limit=0", "limit=501", "limit=ten", "limit=+5", "limit=%205", "cursor=%%%",
                    "cursor=bm90LWEtY3Vyc29y", "cursor=" + audit_cursor):
            doc = self.assertProblem(owner.call("GET", "/v1/api-keys?" + bad), 400,
                                     "malformed-request")
            self.assertIn(doc["where"]["parameter"], ("limit", "cursor"))

    def test_idempotency_key(self):
        account, owner = self.new_account()
        body = {"name": "once", "role": "auditor"}
        key = {"Idempotency-Key": "create-once-" + uuid.uuid4().hex}
        status, h1, first = owner.call("POST", "/v1/api-keys", body, headers=key)
        self.assertEqual(status, 201)
        status, h2, again = owner.call("POST", "/v1/api-keys", body, headers=key)
        self.assertEqual(status, 201)
        self.assertEqual(h2.get("idempotent-replayed"), "true")
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(h2["location"], h1["location"])
        self.assertNotIn("secret", again)              # shown once, never stored
        ids = [k["id"] for k in owner.ok("GET", "/v1/api-keys")["items"]]
        self.assertEqual(ids.count(first["id"]), 1)
        self.assertEqual(len(ids), 1)
        self.assertProblem(owner.call("POST", "/v1/api-keys", {"name": "other", "role": "admin"},
                                      headers=key), 422)
        # the same person with the same key in another account is another request
        other, _ = self.new_account()
        owner_email = owner.ok("GET", "/v1/me")["user"]["email"]
        self.admin.ok("POST", "/v1/session/account", {"account_id": other})
        self.admin.ok("POST", f"/v1/accounts/{other}/members",
                      {"email": owner_email, "role": "admin"}, want=201)
        owner.ok("POST", "/v1/session/account", {"account_id": other})
        status, h3, elsewhere = owner.call("POST", "/v1/api-keys", body, headers=key)
        self.assertEqual(status, 201)
        self.assertNotIn("idempotent-replayed", h3)
        self.assertNotEqual(elsewhere["id"], first["id"])

    # ---- audit -------------------------------------------------------------

    def test_mutations_are_audited_and_filterable(self):
        account, owner = self.new_account()
        created, key = self.key(owner, "auditor")
        status, headers, _ = owner.call("POST", f"/v1/api-keys/{created['id']}/revoke")
        self.assertEqual(status, 200)
        events = key.call("GET", "/v1/audit")
        self.assertEqual(events[0], 401)        # the auditor key was revoked; use owner
        events = owner.ok("GET", "/v1/audit")["items"]
        actions = [e["action"] for e in events]
        for action in ("account.create", "member.add", "api_key.create", "api_key.revoke"):
            self.assertIn(action, actions)
        revoke = next(e for e in events if e["action"] == "api_key.revoke")
        self.assertEqual(revoke["target"], f"api_key:{created['id']}")
        self.assertEqual(revoke["request_id"], headers["x-request-id"])
        self.assertEqual(revoke["actor"], "user:" + owner.ok("GET", "/v1/me")["user"]["id"])
        self.assertEqual([e["seq"] for e in events], sorted((e["seq"] for e in events),
                                                              reverse=True))
        only = owner.ok("GET", "/v1/audit?action=api_key.create")["items"]
        self.assertEqual([e["action"] for e in only], ["api_key.create"])
        self.assertEqual(owner.ok("GET", "/v1/audit?since=2999-01-01T00:00:00Z")["items"], [])
        self.assertEqual(len(owner.ok("GET", "/v1/audit?until=2999-01-01T00:00:00Z&target="
                                      f"api_key:{created['id']}")["items"]), 2)
        self.assertProblem(owner.call("GET", "/v1/audit?since=yesterday"), 400)
        # other accounts' events never show
        self.assertTrue(all(e["account_id"] == account for e in events))

    def test_verify_detects_edits_and_deletions(self):
        account, owner = self.new_account()
        for i in range(3):
            self.key(owner, "auditor")
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertEqual(result["valid"], True, result)
        self.assertGreaterEqual(result["rows"], 5)
        rows = psql(f"SELECT seq || ' ' || id FROM audit_events WHERE chain = '{account}' "
                    "ORDER BY seq", dbname=self.db).splitlines()
        seqs = [r.split() for r in rows]

        # an edited row
        psql(f"UPDATE audit_events SET details = '{{\"name\": \"forged\"}}' "
             f"WHERE seq = {seqs[2][0]}", dbname=self.db)
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertFalse(result["valid"])
        self.assertEqual(result["first_bad"]["id"], seqs[2][1])
        self.assertIn("edited", result["first_bad"]["reason"])

        # a removed row (restore the edit by removing the edited row itself)
        psql(f"DELETE FROM audit_events WHERE seq = {seqs[2][0]}", dbname=self.db)
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertFalse(result["valid"])
        self.assertEqual(result["first_bad"]["id"], seqs[3][1])
        self.assertIn("removed", result["first_bad"]["reason"])

    def test_export_verifies_as_docs_audit_md_says(self):
        account, owner = self.new_account()
        self.key(owner, "auditor", expires_at="2999-12-31T23:59:59Z")
        owner.ok("PATCH", f"/v1/accounts/{account}", {"name": "Zürich \"quoted\" / é"})
        rows = list(reversed(owner.ok("GET", "/v1/audit?limit=500")["items"]))
        self.assertGreaterEqual(len(rows), 4)
        self.assertIsNone(verify_export(rows))
        rows[1]["details"]["tampered"] = True
        self.assertEqual(verify_export(rows), rows[1]["id"])

    def test_verify_reads_long_chains_in_batches(self):
        account, owner = self.new_account()
        for i in range(1005):          # past one batch of 1000 rows
            owner.ok("PATCH", f"/v1/accounts/{account}", {"name": f"long-{account[:8]}-{i}"})
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertTrue(result["valid"], result)
        self.assertGreater(result["rows"], 1005)
        seq = psql(f"SELECT seq FROM audit_events WHERE chain = '{account}' ORDER BY seq "
                   "OFFSET 1003 LIMIT 1", dbname=self.db)
        psql(f"UPDATE audit_events SET actor = 'forged' WHERE seq = {seq}", dbname=self.db)
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertFalse(result["valid"])
        self.assertEqual(str(result["first_bad"]["seq"]), seq)

    def test_verify_detects_a_removed_newest_row(self):
        account, owner = self.new_account()
        self.key(owner, "auditor")
        self.assertTrue(owner.ok("GET", "/v1/audit/verify")["valid"])
        psql(f"DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events "
             f"WHERE chain = '{account}')", dbname=self.db)
        result = owner.ok("GET", "/v1/audit/verify")
        self.assertFalse(result["valid"])
        self.assertIn("newest rows were removed", result["first_bad"]["reason"])


if __name__ == "__main__":
    unittest.main()
