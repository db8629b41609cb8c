"""Shared helpers for the integration tests: databases, daemons, HTTP.

Each test makes its own database on the PostgreSQL that script/test started
(CLOISTER_TEST_PGDIR), so tests run in any order and in parallel.  A test
that must stop or restart PostgreSQL makes a cluster of its own with
script/pg instead of disturbing the shared one.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("CLOISTER_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
CLOISTERD = os.environ.get("CLOISTERD", os.path.join(SOURCE_DIR, "build", "cloisterd"))
PG_SCRIPT = os.environ.get("CLOISTER_TEST_PG", os.path.join(SOURCE_DIR, "script", "pg"))


def pg_dir():
    d = os.environ.get("CLOISTER_TEST_PGDIR")
    if not d:
        raise RuntimeError("CLOISTER_TEST_PGDIR is not set: run the tests with script/test")
    return d


def psql(sql, dbname="postgres", host=None):
    """Run SQL as the cluster's superuser; return the output rows as text."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host or pg_dir(),
         "-U", "cloister", "-d", dbname, "-c", sql],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def new_database(host=None):
    """A fresh, empty database; returns its libpq connection string."""
    name = "t_" + uuid.uuid4().hex[:16]
    psql(f"CREATE DATABASE {name}", host=host)
    return f"host={host or pg_dir()} user=cloister dbname={name}", name


def readable(output):
    """JSON log lines as "level msg key=value ..."; other lines as they are."""
    lines = []
    for line in output.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if not isinstance(doc, dict):
            lines.append(line)
            continue
        extra = " ".join(f"{k}={v}" for k, v in doc.items()
                         if k not in ("time", "level", "msg"))
        lines.append(f"{doc.get('level')} {doc.get('msg')} {extra}".rstrip())
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# One key-encryption key per database, as in any installation: every
# daemon of a database gets the same key (the database refuses others).
_KEKS = {}


class Daemon:
    """A cloisterd process with its port, log file and its own copy of the
    database's key."""

    def __init__(self, database_url, *args, env=None, kek_mode=0o600, command="serve"):
        self.dir = tempfile.mkdtemp(prefix="cloisterd-test-")
        self.kek = os.path.join(self.dir, "kek")
        with open(self.kek, "w") as f:
            f.write(_KEKS.setdefault(database_url, os.urandom(32).hex()) + "\n")
        os.chmod(self.kek, kek_mode)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "cloisterd.log")
        self.env = dict(os.environ)
        self.env.update({
            "CLOISTER_DATABASE_URL": database_url,
            "CLOISTER_KEK_FILE": self.kek,
            "CLOISTER_LISTEN": f"127.0.0.1:{self.port}",
            "CLOISTER_STATIC_DIR": os.path.join(SOURCE_DIR, "static"),
            "CLOISTER_MIGRATIONS_DIR": os.path.join(SOURCE_DIR, "db", "migrations"),
        })
        self.env.update(env or {})
        self.args = [CLOISTERD, command, *args]
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_serving()
        return self

    def wait_serving(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"cloisterd exited with {self.proc.returncode}:\n"
                                     + self.output())
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("cloisterd did not start serving:\n" + self.output())

    def run(self, timeout=60):
        """Run to completion (for commands and start-up failures): the exit
        code, and the output with each JSON log line shown as its message
        and fields, so that tests can look for text without JSON escapes."""
        res = subprocess.run(self.args, env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        return res.returncode, readable(res.stdout + res.stderr)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_lines(self):
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, headers as a dict with lower-case names, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path):
        status, headers, data = self.request("GET", path)
        return status, headers, json.loads(data) if data else None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """A private PostgreSQL cluster, for tests that stop or restart it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cl-pg-")
        self.pg("init", "--fast")
        self.pg("start")

    def pg(self, *args):
        subprocess.run([PG_SCRIPT, self.dir, *args], check=True, capture_output=True)

    def close(self):
        subprocess.run([PG_SCRIPT, self.dir, "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Api:
    """A caller of the REST API: a signed-in person (cookie and CSRF token) or
    an API key.  call() returns (status, headers, parsed JSON or None)."""

    def __init__(self, daemon, key=None):
        self.d = daemon
        self.key = key
        self.cookie = None
        self.csrf = None

    def login(self, email, password):
        status, headers, doc = self.call("POST", "/v1/session",
                                         {"email": email, "password": password})
        if status == 200:
            cookie = headers["set-cookie"]
            self.cookie = cookie.split(";", 1)[0]
            self.csrf = doc["csrf_token"]
        return status, headers, doc

    def call(self, method, path, body=None, headers=None, raw=None):
        h = {"Accept": "application/json"}
        if self.key:
            h["Authorization"] = "Bearer " + self.key
        if self.cookie:
            h["Cookie"] = self.cookie
            if self.csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        status, rh, payload = self.d.request(method, path, body=data, headers=h)
        doc = json.loads(payload) if payload else None
        return status, rh, doc

    def ok(self, method, path, body=None, want=200, headers=None):
        """call() that insists on the status and returns the document."""
        status, h, doc = self.call(method, path, body, headers)
        if status != want:
            raise AssertionError(f"{method} {path}: {status}, wanted {want}: {doc}")
        return doc


class AccountTestCase(unittest.TestCase):
    """Tests against one daemon on a fresh database, its first administrator
    signed in (self.api) and acting in a new account (self.account) for each
    test.  Subclasses may set DAEMON_ARGS and DAEMON_ENV."""
    DAEMON_ARGS = ()
    DAEMON_ENV = None

    @classmethod
    def setUpClass(cls):
        url, cls.dbname = new_database()
        cls.d = Daemon(url, *cls.DAEMON_ARGS, env=cls.DAEMON_ENV).start()
        cls.password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        self.account = self.api.ok("POST", "/v1/accounts",
                                   {"name": "t-" + uuid.uuid4().hex[:8]}, want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": self.account})


def create_admin(daemon, email="admin@example.com"):
    """Run cloisterd create-admin against the daemon's database; returns the
    printed password (None when an administrator existed already)."""
    res = subprocess.run([CLOISTERD, "create-admin", "--email", email], env=daemon.env,
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AssertionError("create-admin failed:\n" + res.stdout + res.stderr)
    for line in res.stdout.splitlines():
        if line.strip().startswith("password:"):
            return line.split(":", 1)[1].strip()
    return None


WORKER = os.environ.get("CLOISTER_WORKER", os.path.join(os.path.dirname(CLOISTERD),
                                                        "cloister-worker"))


class Worker:
    """A cloister-worker process on the database of a daemon (or a URL)."""

    def __init__(self, database_url, kek, *args):
        self.log_path = tempfile.mktemp(prefix="cloister-worker-", suffix=".log")
        self.env = dict(os.environ)
        self.env.update({"CLOISTER_DATABASE_URL": database_url, "CLOISTER_KEK_FILE": kek})
        self.args = [WORKER, *args]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass
