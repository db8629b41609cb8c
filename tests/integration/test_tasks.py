"""Approvals: a domain added to an app becomes a task; the app's approved
domains change only when the task is approved; a quorum of distinct admins,
never the requester when the quorum is above one; deny; every decision
audited."""
import unittest
import uuid

from cloister_test import AccountTestCase, Api

APP = {"name": "web", "input_image": "nginx:1.25", "output_image": "r.example.com/acme/web"}


class Tasks(AccountTestCase):
    def admin(self, role="admin"):
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        pw = self.api.ok("POST", f"/v1/accounts/{self.account}/members",
                          {"email": email, "role": role}, want=201)["initial_password"]
        api = Api(self.d)
        api.login(email, pw)
        api.ok("POST", "/v1/session/account", {"account_id": self.account})
        return api

    def pending(self, api):
        return api.ok("GET", "/v1/tasks?state=pending")["items"]

    def test_quorum_of_two_distinct_admins(self):
        requester, b, c = self.admin(), self.admin(), self.admin()
        policy = self.api.ok("PUT", "/v1/policies/approval", {"quorum": 2})
        self.assertEqual(policy["quorum"], 2)
        app = requester.ok("POST", "/v1/apps", {**APP, "allowed_domains": ["web.example.com"]},
                           want=201)
        self.assertEqual(app["approved_domains"], [])
        [task] = self.pending(b)
        self.assertEqual(task["type"], "domain_approval")
        self.assertEqual(task["details"]["domain"], "web.example.com")
        self.assertEqual(task["quorum"], 2)
        status, _, doc = requester.call("POST", f"/v1/tasks/{task['id']}/approve", {})
        self.assertEqual(status, 403, doc)
        self.assertIn("other admins must approve", doc["detail"])
        once = b.ok("POST", f"/v1/tasks/{task['id']}/approve", {"comment": "looks right"})
        self.assertEqual((once["state"], once["approvals"]), ("pending", 1))
        self.assertEqual(b.call("POST", f"/v1/tasks/{task['id']}/approve")[0], 409)
        self.assertEqual(requester.ok("GET", f"/v1/apps/{app['id']}")["approved_domains"], [])
        done = c.ok("POST", f"/v1/tasks/{task['id']}/approve")
        self.assertEqual((done["state"], done["approvals"]), ("approved", 2))
        self.assertEqual([d["comment"] for d in done["decisions"]], ["looks right", ""])
        self.assertEqual(requester.ok("GET", f"/v1/apps/{app['id']}")["approved_domains"],
                         ["web.example.com"])
        self.assertEqual(c.call("POST", f"/v1/tasks/{task['id']}/deny")[0], 409)
        actions = [e["action"] for e in self.api.ok("GET", f"/v1/audit?target=task:{task['id']}")
                   ["items"]]
        self.assertEqual(actions, ["task.approve", "task.approve", "task.create"])

    def test_deny_and_quorum_of_one(self):
        app = self.api.ok("POST", "/v1/apps", {**APP, "allowed_domains": ["a.example.com",
                                                                           "b.example.com"]},
                           want=201)
        tasks = {t["details"]["domain"]: t for t in self.pending(self.api)}
        self.assertEqual(set(tasks), {"a.example.com", "b.example.com"})
        # quorum 1: the requester may approve their own
        self.assertEqual(self.api.ok("POST", f"/v1/tasks/{tasks['a.example.com']['id']}/approve")
                         ["state"], "approved")
        denied = self.api.ok("POST", f"/v1/tasks/{tasks['b.example.com']['id']}/deny",
                              {"comment": "not ours"})
        self.assertEqual(denied["state"], "denied")
        self.assertEqual(self.api.ok("GET", f"/v1/apps/{app['id']}")["approved_domains"],
                         ["a.example.com"])
        # removing a domain removes its approval; a pending one expires
        self.api.ok("PATCH", f"/v1/apps/{app['id']}", {"allowed_domains": ["c.example.com"]})
        [pending] = self.pending(self.api)
        self.assertEqual(pending["details"]["domain"], "c.example.com")
        self.api.ok("PATCH", f"/v1/apps/{app['id']}", {"allowed_domains": []})
        got = self.api.ok("GET", f"/v1/apps/{app['id']}")
        self.assertEqual(got["approved_domains"], [])
        self.assertEqual(self.api.ok("GET", f"/v1/tasks/{pending['id']}")["state"], "expired")
        self.assertEqual(self.pending(self.api), [])

    def test_who_may_decide(self):
        operator = self.admin("operator")
        self.api.ok("POST", "/v1/apps", {**APP, "allowed_domains": ["x.example.com"]}, want=201)
        [task] = self.pending(self.api)
        self.assertEqual(operator.call("POST", f"/v1/tasks/{task['id']}/approve")[0], 403)
        self.assertEqual(operator.ok("GET", f"/v1/tasks/{task['id']}")["id"], task["id"])
        key = self.api.ok("POST", "/v1/api-keys", {"name": "k", "role": "admin"}, want=201)
        robot = Api(self.d, key=key["secret"])
        status, _, doc = robot.call("POST", f"/v1/tasks/{task['id']}/approve")
        self.assertEqual(status, 403)                 # people decide, not keys
        self.assertEqual(operator.call("PUT", "/v1/policies/approval", {"quorum": 1})[0], 403)
        self.assertEqual(self.api.call("PUT", "/v1/policies/approval", {"quorum": 11})[0], 422)
        self.assertEqual(self.api.call("POST", f"/v1/tasks/{uuid.uuid4()}/approve")[0], 404)
        self.assertEqual(self.api.call("POST", f"/v1/tasks/{task['id']}/approve",
                                        raw=b"not json",
                                        headers={"Content-Type": "application/json"})[0], 400)


if __name__ == "__main__":
    unittest.main()
