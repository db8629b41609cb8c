"""Scale-out: three daemons and four workers on one PostgreSQL, clients
spread over the daemons, 2,000 jobs, and kill -9 of workers and of one
daemon.  Every acknowledged job exists and finishes exactly once, no
request is done twice, the audit chain verifies, and the periodic duties
move to a daemon that lives (docs/operations.md, "Scale-out")."""
import http.client
import json
import random
import signal
import threading
import time
import unittest
import uuid

from cloister_test import Api, Daemon, Worker, create_admin, new_database, psql

JOBS = 2000
CLIENTS = 4
WORKER_ARGS = ("--lease=3", "--poll-interval=1", "--slots=4", "--kinds=noop",
               "--log-format=text")
DUTY_TAKEN = "this daemon watches the nodes' heartbeats"


def post_job(daemon, key, api_key, body):
    """(status, parsed body) of POST /v1/jobs to one daemon; raises OSError
    (or http.client's errors) when the daemon cannot be reached."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=15)
    try:
        conn.request("POST", "/v1/jobs", body=json.dumps(body), headers={
            "Authorization": "Bearer " + api_key, "Content-Type": "application/json",
            "Idempotency-Key": key})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


class Client(threading.Thread):
    """Submits its share of jobs, each with its own Idempotency-Key, to the
    daemons in turn; a daemon that fails or cannot be reached gets the same
    request sent to the next one."""

    def __init__(self, daemons, api_key, count, seed):
        super().__init__(daemon=True)
        self.daemons, self.api_key, self.count = daemons, api_key, count
        self.rng = random.Random(seed)
        self.acked, self.lost, self.replayed, self.errors = [], 0, 0, []

    def run(self):
        turn = self.rng.randrange(len(self.daemons))
        for _ in range(self.count):
            key, body = str(uuid.uuid4()), {"kind": "noop", "ms": self.rng.randrange(0, 40)}
            deadline = time.monotonic() + 120
            while True:
                if time.monotonic() > deadline:
                    self.errors.append(f"request {key} never answered")
                    break
                turn = (turn + 1) % len(self.daemons)
                try:
                    status, doc = post_job(self.daemons[turn], key, self.api_key, body)
                except (OSError, http.client.HTTPException):
                    continue                        # that daemon is gone: the next one
                if status == 202:
                    self.acked.append(doc["id"])
                    break
                detail = (doc or {}).get("detail", "")
                if status == 409 and "carried out" in detail:
                    self.lost += 1                  # done, answer lost: never done again
                    break
                if status in (409, 503):
                    time.sleep(0.1)                 # still being served, or busy
                    continue
                self.errors.append(f"{status} {doc}")
                break


class ScaleOut(unittest.TestCase):

    def setUp(self):
        self.url, self.db = new_database()
        self.daemons = []
        for i in range(3):                          # the first takes the duties
            d = Daemon(self.url, "--node-watch-interval=1", "--log-format=text")
            self.addCleanup(d.close)
            self.daemons.append(d.start())
        password = create_admin(self.daemons[0])
        self.admin = admin = Api(self.daemons[1])
        admin.login("admin@example.com", password)
        self.account = admin.ok("POST", "/v1/accounts", {"name": "scale"}, want=201)["id"]
        admin.ok("POST", "/v1/session/account", {"account_id": self.account})
        self.api_key = admin.ok("POST", "/v1/api-keys", {"name": "load", "role": "operator"},
                                want=201)["secret"]
        self.workers = []

    def start_worker(self):
        w = Worker(self.url, self.daemons[0].kek, *WORKER_ARGS)
        self.addCleanup(w.close)
        self.workers.append(w)

    def sql(self, text):
        return psql(text, dbname=self.db)

    def wait_duty_holder(self, daemons, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            holders = [d for d in daemons if DUTY_TAKEN in d.output()]
            if holders:
                return holders
            time.sleep(0.2)
        self.fail("no daemon took the nodes.watch duty")

    def test_jobs_finish_exactly_once_through_crashes(self):
        self.assertEqual(self.wait_duty_holder(self.daemons), [self.daemons[0]])
        for _ in range(4):
            self.start_worker()
        clients = [Client(self.daemons, self.api_key, JOBS // CLIENTS, seed)
                   for seed in range(CLIENTS)]
        for c in clients:
            c.start()
        rng, killed_daemon, kills = random.Random(7), False, 0
        while any(c.is_alive() for c in clients):
            time.sleep(rng.uniform(0.5, 1.5))
            victim = rng.choice([w for w in self.workers if w.proc.poll() is None])
            victim.stop(signal.SIGKILL)             # and another takes its place
            self.workers.remove(victim)
            self.start_worker()
            kills += 1
            submitted = sum(len(c.acked) for c in clients)
            if not killed_daemon and submitted >= JOBS // 3:
                self.daemons[0].stop(signal.SIGKILL)
                killed_daemon = True
        for c in clients:
            c.join()
            self.assertEqual(c.errors, [])
        self.assertTrue(killed_daemon)
        acked = [j for c in clients for j in c.acked]
        lost = sum(c.lost for c in clients)
        self.assertEqual(len(acked), len(set(acked)))
        self.assertEqual(len(acked) + lost, JOBS)

        # every job done, by the workers that live
        deadline = time.monotonic() + 300
        while self.sql("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") != "0":
            self.assertLess(time.monotonic(), deadline, self.sql(
                "SELECT state, count(*) FROM jobs GROUP BY 1"))
            time.sleep(0.5)
        account = f"account_id = '{self.account}'"
        # no request done twice: one job per request, acknowledged or not
        self.assertEqual(int(self.sql(f"SELECT count(*) FROM jobs WHERE {account}")), JOBS)
        idlist = "ARRAY[" + ",".join(f"'{j}'" for j in acked) + "]::uuid[]"
        self.assertEqual(int(self.sql(f"SELECT count(*) FROM jobs WHERE id = ANY({idlist})")),
                         len(acked))
        self.assertEqual(self.sql(f"SELECT state, count(*) FROM jobs WHERE {account} "
                                  "GROUP BY 1"), f"succeeded|{JOBS}")
        # each finished exactly once; some were taken again after a kill
        self.assertEqual(self.sql(
            "SELECT count(*) FROM (SELECT job_id FROM job_attempts WHERE outcome = 'succeeded' "
            "GROUP BY job_id HAVING count(*) <> 1) x"), "0")
        self.assertEqual(int(self.sql("SELECT count(*) FROM job_attempts "
                                      "WHERE outcome = 'succeeded'")), JOBS)
        retaken = int(self.sql("SELECT count(DISTINCT job_id) FROM job_attempts "
                               "WHERE outcome <> 'succeeded'"))
        print(f"\n{JOBS} jobs: {len(acked)} acknowledged, {lost} answers lost with a daemon, "
              f"{kills} workers killed, {retaken} jobs taken again")

        # the audit chain holds every job.create, and verifies
        verify = self.admin.ok("GET", "/v1/audit/verify")
        self.assertTrue(verify["valid"], verify)
        self.assertEqual(int(self.sql(f"SELECT count(*) FROM audit_events WHERE {account} "
                                      "AND action = 'job.create'")), JOBS)
        # and the duty moved to a daemon that lives
        self.assertEqual(len(self.wait_duty_holder(self.daemons[1:])), 1)


class IdempotencyAcrossReplicas(unittest.TestCase):
    """A key reserved by a replica that died: taken over when nothing was
    committed, refused (never done twice) when it was."""

    def setUp(self):
        self.url, self.db = new_database()
        self.d = Daemon(self.url).start()
        self.addCleanup(self.d.close)
        admin = Api(self.d)
        admin.login("admin@example.com", create_admin(self.d))
        account = admin.ok("POST", "/v1/accounts", {"name": "idem"}, want=201)["id"]
        admin.ok("POST", "/v1/session/account", {"account_id": account})
        key = admin.ok("POST", "/v1/api-keys", {"name": "k", "role": "operator"}, want=201)
        self.api_key, self.principal = key["secret"], f"api_key:{key['id']}@{account}"

    def reserve(self, key, committed):
        """The row a replica leaves when it dies mid-request."""
        body = json.dumps({"kind": "noop", "ms": 1}, separators=(",", ":"), sort_keys=True)
        self.sql(f"""INSERT INTO idempotency_keys (principal, key, request_hash, owner_pid,
                       owner_start, committed)
                     VALUES ('{self.principal}', '{key}',
                       encode(sha256(convert_to('POST /v1/jobs' || chr(10) || '{body}',
                                                'UTF8')), 'hex'),
                       2147483000, now() - interval '1 minute', {committed})""")

    def sql(self, text):
        return psql(text, dbname=self.db)

    def test_uncommitted_work_of_a_dead_replica_is_done_once(self):
        key = str(uuid.uuid4())
        self.reserve(key, "false")
        status, doc = post_job(self.d, key, self.api_key, {"kind": "noop", "ms": 1})
        self.assertEqual(status, 202, doc)
        self.assertEqual(post_job(self.d, key, self.api_key, {"kind": "noop", "ms": 1}),
                         (202, doc))
        self.assertEqual(self.sql("SELECT count(*) FROM jobs"), "1")

    def test_committed_work_of_a_dead_replica_is_not_done_again(self):
        key = str(uuid.uuid4())
        self.reserve(key, "true")
        status, doc = post_job(self.d, key, self.api_key, {"kind": "noop", "ms": 1})
        self.assertEqual(status, 409, doc)
        self.assertIn("carried out, but the server that did it stopped", doc["detail"])
        self.assertEqual(self.sql("SELECT count(*) FROM jobs"), "0")

    def test_a_live_replica_is_waited_for(self):
        import subprocess
        from cloister_test import pg_dir
        key, marker = str(uuid.uuid4()), "cl-" + uuid.uuid4().hex
        self.reserve(key, "false")
        # a connection that stays open, idle, as a live replica's does
        holder = subprocess.Popen(["psql", "-X", "-q", "-h", pg_dir(), "-U", "cloister", "-d",
                                   self.db], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        holder.stdin.write(f"SELECT '{marker}';\n".encode())
        holder.stdin.flush()
        self.addCleanup(holder.kill)
        deadline = time.monotonic() + 10
        while self.sql(f"UPDATE idempotency_keys SET (owner_pid, owner_start) = (SELECT pid, "
                       f"backend_start FROM pg_stat_activity WHERE query LIKE '%{marker}%' "
                       f"AND pid <> pg_backend_pid()) WHERE key = '{key}' "
                       f"AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                       f"'%{marker}%' AND pid <> pg_backend_pid()) RETURNING 1") != "1":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        status, doc = post_job(self.d, key, self.api_key, {"kind": "noop", "ms": 1})
        self.assertEqual(status, 409, doc)           # the replica that has it still lives
        self.assertIn("still being served", doc["detail"])
        holder.kill()
        holder.wait()
        deadline = time.monotonic() + 10
        while True:                                  # its connection gone: taken over
            status, doc = post_job(self.d, key, self.api_key, {"kind": "noop", "ms": 1})
            if status == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 202, doc)
        self.assertEqual(self.sql("SELECT count(*) FROM jobs"), "1")


class NoopJobs(unittest.TestCase):
    """POST /v1/jobs queues only the noop diagnostic, within bounds."""

    setUp = IdempotencyAcrossReplicas.setUp

    def test_only_noop_within_bounds(self):
        for body, field in (({"kind": "convert"}, "kind"), ({"kind": "noop", "ms": 60001}, "ms"),
                            ({"kind": "noop", "fail_times": 5}, "fail_times"),
                            ({"kind": "noop", "crash": True}, "crash"), ({}, "kind")):
            status, doc = post_job(self.d, str(uuid.uuid4()), self.api_key, body)
            self.assertEqual(status, 422, body)
            self.assertIn(field, [e["field"] for e in doc["errors"]], doc)
        self.assertEqual(psql("SELECT count(*) FROM jobs", dbname=self.db), "0")
        status, doc = post_job(self.d, str(uuid.uuid4()), self.api_key,
                               {"kind": "noop", "ms": 5, "fail_times": 1})
        self.assertEqual((status, doc["kind"], doc["params"], doc["max_attempts"]),
                         (202, "noop", {"ms": 5, "fail_times": 1}, 5))


if __name__ == "__main__":
    unittest.main()
