"""The pool survives PostgreSQL going away: /readyz goes false and back to
true, requests meanwhile get 503 with Retry-After, nothing crashes."""
import json
import threading
import time
import unittest

from cloister_test import Cluster, Daemon, new_database


class DatabaseRestart(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster()
        self.addCleanup(self.cluster.close)
        url, _ = new_database(host=self.cluster.dir)
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


if __name__ == "__main__":
    unittest.main()
