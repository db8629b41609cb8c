"""The job queue and cloister-worker against PostgreSQL: every job exactly
once with many workers, a killed worker's job claimed again, cancelling,
retries with backoff, crashes, and a SIGTERM drain that hands jobs back."""
import json
import signal
import time
import unittest
import uuid

from cloister_test import Api, Daemon, Worker, create_admin, new_database, psql


class Queue(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.db = new_database()
        cls.d = Daemon(cls.url).start()      # applies the migrations; serves /v1/jobs
        cls.admin_password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def worker(self, *args):
        w = Worker(self.url, self.d.kek, "--log-format=text", *args)
        self.addCleanup(w.close)
        return w

    def enqueue(self, n=1, account=None, max_attempts=3, delay_s=0, **params):
        """n noop jobs in one transaction, and a NOTIFY; returns their ids."""
        rows = psql(
            "WITH j AS (INSERT INTO jobs (account_id, kind, params, max_attempts, created_by,"
            " run_after)"
            f" SELECT {account and repr(account) or 'NULL'}, 'noop', "
            f"'{json.dumps(params)}'::jsonb, {max_attempts}, 'test',"
            f" now() + interval '{int(delay_s)} seconds'"
            f" FROM generate_series(1, {n}) RETURNING id)"
            " SELECT id FROM j", dbname=self.db).splitlines()
        psql("NOTIFY cloister_jobs", dbname=self.db)
        return rows

    def job(self, job_id):
        return json.loads(psql(
            "SELECT json_build_object('state', state, 'attempts', attempts, 'error', error,"
            " 'result', result, 'progress', progress, 'phase', phase) FROM jobs"
            f" WHERE id = '{job_id}'", dbname=self.db))

    def attempts(self, job_id):
        return json.loads(psql(
            "SELECT coalesce(json_agg(json_build_object('attempt', attempt, 'outcome', outcome,"
            " 'error', error, 'started', extract(epoch from started_at),"
            " 'finished', extract(epoch from finished_at)) ORDER BY attempt), '[]')"
            f" FROM job_attempts WHERE job_id = '{job_id}'", dbname=self.db))

    def wait_for(self, job_id, states, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            time.sleep(0.05)
        self.fail(f"job {job_id} did not reach {states}: {self.job(job_id)}")

    def test_every_job_exactly_once_with_four_workers(self):
        ids = self.enqueue(500)
        workers = [self.worker("--slots=2") for _ in range(4)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = psql("SELECT count(*) FROM jobs WHERE state <> 'succeeded' AND id = ANY("
                        f"ARRAY[{','.join(repr(i) for i in ids)}]::uuid[])", dbname=self.db)
            if left == "0":
                break
            time.sleep(0.2)
        self.assertEqual(left, "0")
        idlist = f"ARRAY[{','.join(repr(i) for i in ids)}]::uuid[]"
        self.assertEqual(psql(f"SELECT count(*) FROM jobs WHERE id = ANY({idlist}) "
                              "AND attempts = 1", dbname=self.db), "500")
        self.assertEqual(psql(f"SELECT count(*) FROM job_attempts WHERE job_id = ANY({idlist}) "
                              "AND outcome = 'succeeded'", dbname=self.db), "500")
        self.assertEqual(psql(f"SELECT count(*) FROM job_attempts WHERE job_id = ANY({idlist})",
                              dbname=self.db), "500")
        # the work was shared
        served = psql(f"SELECT count(DISTINCT worker_id) FROM job_attempts "
                      f"WHERE job_id = ANY({idlist})", dbname=self.db)
        self.assertGreaterEqual(int(served), 2)
        for w in workers:
            self.assertEqual(w.stop(), 0, w.output())

    def test_killed_worker_job_is_claimed_again(self):
        [job] = self.enqueue(ms=2500)
        first = self.worker("--lease=3")
        self.wait_for(job, {"running"})
        first.stop(signal.SIGKILL)
        second = self.worker("--lease=3", "--poll-interval=1")
        done = self.wait_for(job, {"succeeded"}, timeout=60)
        self.assertEqual(done["attempts"], 2)
        history = self.attempts(job)
        self.assertEqual([a["outcome"] for a in history], ["lease_expired", "succeeded"])
        self.assertEqual(second.stop(), 0)

    def test_cancel_a_running_job(self):
        api = Api(self.d)
        api.login("admin@example.com", self.admin_password)
        account = api.ok("POST", "/v1/accounts", {"name": "q-" + uuid.uuid4().hex[:8]},
                         want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        [job] = self.enqueue(account=account, ms=30000, progress=True)
        self.worker()
        self.wait_for(job, {"running"})
        time.sleep(0.5)
        got = api.ok("GET", f"/v1/jobs/{job}")
        self.assertEqual(got["state"], "running")
        self.assertEqual(got["phase"], "waiting")
        started = time.monotonic()
        api.ok("POST", f"/v1/jobs/{job}/cancel")
        self.wait_for(job, {"canceled"}, timeout=30)
        self.assertLess(time.monotonic() - started, 5)     # well before a heartbeat (10 s)
        self.assertEqual(self.attempts(job)[-1]["outcome"], "canceled")
        events = api.ok("GET", f"/v1/jobs/{job}/events?limit=500")["items"]
        self.assertIn("phase", [e["type"] for e in events])
        self.assertTrue(any(e["type"] == "progress" for e in events))
        self.assertEqual(api.call("POST", f"/v1/jobs/{job}/cancel")[0], 409)
        # a queued job is canceled at once, without a worker
        [queued] = self.enqueue(account=account, ms=10, delay_s=3600)
        self.assertEqual(api.ok("POST", f"/v1/jobs/{queued}/cancel")["state"], "canceled")
        listed = api.ok("GET", "/v1/jobs?state=canceled")["items"]
        self.assertEqual({j["id"] for j in listed}, {job, queued})
        self.assertEqual(api.call("GET", "/v1/jobs?state=lost")[0], 400)

    def test_events_as_server_sent_events(self):
        import http.client
        api = Api(self.d)
        api.login("admin@example.com", self.admin_password)
        account = api.ok("POST", "/v1/accounts", {"name": "s-" + uuid.uuid4().hex[:8]},
                         want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        [job] = self.enqueue(account=account, ms=600, progress=True)
        self.worker()

        def stream(last=None):
            conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=60)
            headers = {"Accept": "text/event-stream", "Cookie": api.cookie}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            conn.request("GET", f"/v1/jobs/{job}/events", headers=headers)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))
            body = resp.read().decode()     # the stream ends when the job has
            conn.close()
            events = []
            for block in body.split("\n\n"):
                fields = dict(line.split(": ", 1) for line in block.splitlines()
                              if ": " in line and not line.startswith(":"))
                if fields:
                    events.append(fields)
            return events

        events = stream()
        self.assertEqual(events[-1]["event"], "end")
        self.assertEqual(json.loads(events[-1]["data"]), {"state": "succeeded"})
        ids = [int(e["id"]) for e in events if "id" in e]
        self.assertEqual(ids, sorted(ids))
        kinds = [e["event"] for e in events]
        for kind in ("phase", "progress", "log", "state"):
            self.assertIn(kind, kinds)
        # a reconnect resumes after the last event it saw
        resumed = stream(last=ids[2])
        self.assertEqual([int(e["id"]) for e in resumed if "id" in e], ids[3:])

    def test_retries_back_off_then_succeed(self):
        [job] = self.enqueue(fail_times=2, max_attempts=3)
        self.worker()
        done = self.wait_for(job, {"succeeded", "failed"})
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["attempts"], 3)
        self.assertEqual(done["result"], {"attempt": 3})
        history = self.attempts(job)
        self.assertEqual([a["outcome"] for a in history], ["failed", "failed", "succeeded"])
        self.assertIn("failing attempt 1", history[0]["error"])
        # the kind's backoff: 100 ms, then 200 ms (plus up to half again)
        self.assertGreaterEqual(history[1]["started"] - history[0]["finished"], 0.1)
        self.assertGreaterEqual(history[2]["started"] - history[1]["finished"], 0.2)

    def test_out_of_attempts_fails_with_the_last_error(self):
        [job] = self.enqueue(fail_times=5, max_attempts=2)
        self.worker()
        done = self.wait_for(job, {"failed"})
        self.assertEqual(done["attempts"], 2)
        self.assertIn("failing attempt 2", done["error"])

    def test_a_crash_fails_the_attempt_not_the_worker(self):
        [job] = self.enqueue(crash=True, max_attempts=1)
        [after] = self.enqueue(ms=10)
        w = self.worker("--slots=1")
        done = self.wait_for(job, {"failed"})
        self.assertIn("killed by signal 6 (SIGABRT)", done["error"])
        self.assertEqual(self.wait_for(after, {"succeeded"})["attempts"], 1)
        self.assertIsNone(w.proc.poll())

    def test_sigterm_hands_running_jobs_back(self):
        [job] = self.enqueue(ms=20000)
        w = self.worker("--grace=1")
        self.wait_for(job, {"running"})
        self.assertEqual(w.stop(signal.SIGTERM, timeout=30), 0, w.output())
        back = self.job(job)
        self.assertEqual(back["state"], "queued")
        self.assertEqual(back["attempts"], 0)          # the attempt was not spent
        self.assertEqual(self.attempts(job)[0]["outcome"], "handed_back")
        self.assertIn("stopped", w.output())
        psql(f"UPDATE jobs SET params = '{{\"ms\": 10}}' WHERE id = '{job}'", dbname=self.db)
        self.worker()
        self.assertEqual(self.wait_for(job, {"succeeded"})["attempts"], 1)

    def test_workers_are_listed(self):
        api = Api(self.d)
        api.login("admin@example.com", self.admin_password)
        account = api.ok("POST", "/v1/accounts", {"name": "w-" + uuid.uuid4().hex[:8]},
                         want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        w = self.worker("--name=listed-worker", "--slots=3", "--kinds=noop")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            workers = api.ok("GET", "/v1/workers")["items"]
            mine = [x for x in workers if x["name"] == "listed-worker"]
            if mine:
                break
            time.sleep(0.1)
        self.assertTrue(mine[0]["alive"])
        self.assertEqual(mine[0]["slots"], 3)
        self.assertEqual(mine[0]["kinds"], ["noop"])
        # the jobs it runs are counted for their own account only: another
        # account does not learn how busy this one is
        other = api.ok("POST", "/v1/accounts", {"name": "q-" + uuid.uuid4().hex[:8]},
                       want=201)["id"]
        jobs = self.enqueue(n=2, account=account, ms=30000)
        for job in jobs:
            self.wait_for(job, {"running"})

        def running():
            return [x["running"] for x in api.ok("GET", "/v1/workers")["items"]
                    if x["id"] == mine[0]["id"]][0]
        self.assertEqual(running(), 2)
        api.ok("POST", "/v1/session/account", {"account_id": other})
        self.assertEqual(running(), 0)
        api.ok("POST", "/v1/session/account", {"account_id": account})
        for job in jobs:
            api.ok("POST", f"/v1/jobs/{job}/cancel")
        w.stop()
        mine = [x for x in api.ok("GET", "/v1/workers")["items"] if x["id"] == mine[0]["id"]]
        self.assertEqual(mine[0]["state"], "stopped")
        self.assertFalse(mine[0]["alive"])


if __name__ == "__main__":
    unittest.main()
