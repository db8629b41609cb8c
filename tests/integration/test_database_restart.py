"""The pool survives PostgreSQL going away: /readyz goes false and back to
true, requests meanwhile get 503 with Retry-After, nothing crashes, and no
write that was acknowledged is lost."""
import json
import threading
import time
import unittest
import uuid

from cloister_test import Api, Cluster, Daemon, create_admin, new_database, psql


class DatabaseRestart(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster()
        self.addCleanup(self.cluster.close)
        url, self.db = new_database(host=self.cluster.dir)
        self.d = Daemon(url, "--db-pool-size=3", "--threads=4").start()
        self.addCleanup(self.d.close)

    def wait_ready(self, want, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, headers, _ = self.d.request("GET", "/readyz")
            if status == want:
                return headers
            time.sleep(0.1)
        self.fail(f"/readyz did not become {want}:\n" + self.d.output())

    def test_restart_during_requests(self):
        statuses, stop = [], threading.Event()

        def hammer():
            while not stop.is_set():
                status, headers, _ = self.d.request("GET", "/readyz")
                statuses.append(status)
                if status == 503:
                    self.assertIn("retry-after", headers)

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.3)
        self.cluster.pg("restart")
        time.sleep(0.5)
        stop.set()
        for w in workers:
            w.join()
        self.assertTrue(statuses)
        self.assertTrue(set(statuses) <= {200, 503}, set(statuses))
        self.wait_ready(200)
        self.assertIsNone(self.d.proc.poll())

    def test_down_then_back(self):
        self.wait_ready(200)
        self.cluster.pg("stop")
        headers = self.wait_ready(503)
        self.assertIn("retry-after", headers)
        status, _, doc = self.d.get_json("/readyz")
        self.assertEqual(status, 503)
        self.assertEqual(doc["type"], "https://cloister.dev/problems/unavailable")
        self.assertIn("database", doc["checks"])
        self.assertNotIn(self.cluster.dir, json.dumps(doc))   # no internals
        self.assertIn(self.cluster.dir, self.d.output())        # the log has the cause
        # the process keeps serving what needs no database
        self.assertEqual(self.d.request("GET", "/healthz")[0], 200)
        self.cluster.pg("start")
        self.wait_ready(200)
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.stop(), 0)

    def test_writes_through_an_outage(self):
        admin = Api(self.d)
        admin.login("admin@example.com", create_admin(self.d))
        account = admin.ok("POST", "/v1/accounts", {"name": "outage"}, want=201)["id"]
        admin.ok("POST", "/v1/session/account", {"account_id": account})
        secret = admin.ok("POST", "/v1/api-keys", {"name": "load", "role": "operator"},
                          want=201)["secret"]
        acked, lost, other, unavailable, stop = [], [], [], [], threading.Event()

        def client():
            while not stop.is_set():
                key = str(uuid.uuid4())
                while True:                         # the same request until it is settled
                    status, headers, data = self.d.request(
                        "POST", "/v1/jobs", body=b'{"kind": "noop"}', headers={
                            "Authorization": "Bearer " + secret,
                            "Content-Type": "application/json", "Idempotency-Key": key})
                    doc = json.loads(data) if data else {}
                    if status == 202:
                        acked.append(doc["id"])
                        break
                    if status == 503:
                        unavailable.append(headers.get("retry-after"))
                        time.sleep(0.05)
                        continue
                    if status == 409 and "carried out" in doc.get("detail", ""):
                        lost.append(key)            # done, but its answer went with the link
                        break
                    if status == 409:               # still being served: ask again
                        time.sleep(0.05)
                        continue
                    other.append((status, doc))
                    break

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.cluster.pg("stop")
        time.sleep(1.5)
        self.cluster.pg("start")
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(other, [])
        print(f"\n{len(acked)} acknowledged, {len(lost)} answers lost, "
              f"{len(unavailable)} answers 503")
        self.assertTrue(unavailable, "no request met the outage")
        self.assertNotIn(None, unavailable)         # every 503 says when to come back
        self.assertGreater(len(acked), 10)
        self.assertEqual(len(set(acked)), len(acked))
        jobs = psql(f"SELECT id FROM jobs WHERE account_id = '{account}'", dbname=self.db,
                    host=self.cluster.dir).split()
        self.assertTrue(set(acked) <= set(jobs), set(acked) - set(jobs))
        self.assertEqual(len(jobs), len(acked) + len(lost))     # none twice, none lost
        self.assertEqual(psql(f"SELECT count(*) FROM audit_events WHERE account_id = "
                              f"'{account}' AND action = 'job.create'", dbname=self.db,
                              host=self.cluster.dir), str(len(jobs)))
        self.assertTrue(admin.ok("GET", "/v1/audit/verify")["valid"])
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    unittest.main()
