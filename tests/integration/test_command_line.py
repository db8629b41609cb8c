"""cloisterd's command line: help, version, settings from every source, and
start-up refusals with messages a person can act on."""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from cloister_test import CLOISTERD, Daemon, new_database

# every setting the issue names, by its flag
REQUIRED_SETTINGS = ["listen", "tls-cert", "tls-key", "database-url", "kek-file",
                     "static-dir", "threads", "max-connections", "max-body-size",
                     "log-format"]


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    res = subprocess.run([CLOISTERD, *args], capture_output=True, text=True, env=e, timeout=60)
    return res.returncode, res.stdout, res.stderr


class CommandLine(unittest.TestCase):
    def test_help_documents_every_setting(self):
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        flags = re.findall(r"^  --([a-z-]+)", out, re.M)
        for name in REQUIRED_SETTINGS:
            self.assertIn(name, flags)
        for name in flags:
            if name in ("config", "help", "version"):
                continue
            env = "CLOISTER_" + name.upper().replace("-", "_")
            self.assertIn("env " + env, out, name)
        self.assertIn("migrate", out)
        self.assertIn("example:", out)

    def test_version(self):
        code, out, _ = run("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^cloisterd \d+\.\d+\.\d+\n$")

    def test_routes_lists_the_table(self):
        code, out, _ = run("routes")
        self.assertEqual(code, 0)
        routes = {(r["method"], r["path"]) for r in json.loads(out)}
        self.assertIn(("GET", "/healthz"), routes)
        self.assertIn(("GET", "/v1/openapi.yaml"), routes)

    def test_usage_errors_exit_2(self):
        for args, fragment in [(["--nope"], 'unknown option "--nope"'),
                               (["--threads=0"], "between 1 and 256"),
                               (["--max-body-size=big"], "a size"),
                               (["frobnicate"], 'unknown command "frobnicate"')]:
            code, _, err = run(*args)
            self.assertEqual(code, 2, args)
            self.assertIn(fragment, err)
        code, _, err = run(env={"CLOISTER_THREADS": "many"})
        self.assertEqual(code, 2)
        self.assertIn("CLOISTER_THREADS", err)

    def test_key_encryption_key_is_required_and_private(self):
        url, _ = new_database()
        d = Daemon(url, env={"CLOISTER_KEK_FILE": ""})
        code, out = d.run()
        self.assertEqual(code, 1)
        self.assertIn("no key-encryption key", out)
        d.close()
        d = Daemon(url, kek_mode=0o644)
        code, out = d.run()
        self.assertEqual(code, 1)
        self.assertIn("chmod 600", out)
        d.close()

    def test_unreachable_database_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as empty:
            d = Daemon(f"host={empty} user=cloister dbname=nothing")
            code, out = d.run()
            d.close()
        self.assertEqual(code, 1)
        self.assertIn("could not connect to the database", out)

    def test_settings_from_a_config_file(self):
        url, _ = new_database()
        d = Daemon(url, "--log-format=text")
        config = os.path.join(d.dir, "cloisterd.json")
        with open(config, "w") as f:
            json.dump({"listen": f"127.0.0.1:{d.port}", "threads": 2, "max-body-size": "1K",
                       "log-format": "json"}, f)
        del d.env["CLOISTER_LISTEN"]
        d.env["CLOISTER_CONFIG"] = config
        d.start()
        try:
            status, _, _ = d.request("GET", "/healthz", body=b"x" * 2000)
            self.assertEqual(status, 413)       # from the file
            # the flag wins over the file: text logs, not JSON
            self.assertTrue(any(" info " in l for l in d.output().splitlines()))
            self.assertFalse(any(l.startswith("{") for l in d.output().splitlines()))
        finally:
            d.stop()
            d.close()

    def test_listen_address_in_use(self):
        url, _ = new_database()
        first = Daemon(url).start()
        try:
            second = Daemon(url, env={"CLOISTER_LISTEN": f"127.0.0.1:{first.port}"})
            code, out = second.run()
            second.close()
            self.assertEqual(code, 1)
            self.assertIn("could not listen", out)
            self.assertIn("Address already in use", out)
        finally:
            first.stop()
            first.close()

    def test_plain_http_only_on_loopback_unless_behind_a_tls_proxy(self):
        url, _ = new_database()
        exposed = Daemon(url)
        exposed.env["CLOISTER_LISTEN"] = f"0.0.0.0:{exposed.port}"
        code, out = exposed.run()
        exposed.close()
        self.assertEqual(code, 1)
        self.assertIn("refusing to serve plain HTTP", out)
        self.assertIn("--behind-tls-proxy", out)
        proxied = Daemon(url, "--behind-tls-proxy")
        proxied.env["CLOISTER_LISTEN"] = f"0.0.0.0:{proxied.port}"
        proxied.start()
        try:
            status, headers, _ = proxied.request("GET", "/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(headers["strict-transport-security"], "max-age=31536000")
        finally:
            proxied.stop()
            proxied.close()
        local = Daemon(url).start()                 # loopback, plain: no HSTS to send
        try:
            self.assertNotIn("strict-transport-security", local.request("GET", "/healthz")[1])
        finally:
            local.stop()
            local.close()

    def test_https(self):
        url, _ = new_database()
        d = Daemon(url)
        self.addCleanup(d.close)
        cert, key = os.path.join(d.dir, "tls.crt"), os.path.join(d.dir, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        d.args += ["--tls-cert", cert, "--tls-key", key]
        d.log = open(d.log_path, "wb")
        d.proc = subprocess.Popen(d.args, env=d.env, stdout=d.log, stderr=subprocess.STDOUT)
        ctx = ssl.create_default_context(cafile=cert)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=5)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.getheader("Strict-Transport-Security"),
                                 "max-age=31536000")
                self.assertEqual(json.loads(resp.read())["status"], "ok")
                conn.close()
                break
            except (ConnectionRefusedError, ConnectionResetError):
                self.assertIsNone(d.proc.poll(), d.output())
                self.assertLess(time.monotonic(), deadline, d.output())
                time.sleep(0.1)
        # plain HTTP on the TLS port gets no answer
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            d.request("GET", "/healthz", timeout=3)
        self.assertEqual(d.stop(), 0)

    def test_tls_needs_both_files(self):
        url, _ = new_database()
        d = Daemon(url, "--tls-cert", "/nonexistent/tls.crt")
        code, out = d.run()
        d.close()
        self.assertEqual(code, 1)
        self.assertIn("needs both --tls-cert and --tls-key", out)

    def test_behind_a_proxy_sign_in_limits_count_the_forwarded_client(self):
        url, _ = new_database()
        limits = ("--login-failures-per-address=2", "--login-failures-per-user=1000")

        def attempts(daemon, *forwarded):
            statuses = []
            for address in forwarded:
                status, _, _ = daemon.request(
                    "POST", "/v1/session", body=b'{"email": "x@example.com", "password": "no"}',
                    headers={"Content-Type": "application/json", "X-Forwarded-For": address})
                statuses.append(status)
            return statuses
        proxied = Daemon(url, "--behind-tls-proxy", *limits).start()
        try:
            # the proxy appends the address it saw; what the client wrote before it is not trusted
            self.assertEqual(attempts(proxied, "198.51.100.1, 203.0.113.5", "203.0.113.5",
                                      "198.51.100.1, 203.0.113.5"), [401, 401, 429])
            # another client behind the same proxy is not held back
            self.assertEqual(attempts(proxied, "203.0.113.5, 203.0.113.6"), [401])
            # a value that is no address: the proxy's own address counts
            self.assertEqual(attempts(proxied, "unknown", "unknown", "unknown"),
                             [401, 401, 429])
        finally:
            proxied.stop()
            proxied.close()
        direct = Daemon(new_database()[0], *limits).start()    # no proxy: the header is ignored
        try:
            self.assertEqual(attempts(direct, "192.0.2.1", "192.0.2.2", "192.0.2.3"),
                             [401, 401, 429])
        finally:
            direct.stop()
            direct.close()

    def test_per_address_connection_limit(self):
        url, _ = new_database()
        d = Daemon(url, "--per-ip-connections=2").start()
        self.addCleanup(d.close)
        time.sleep(0.3)     # let the start-up probe's connection close
        held = []
        for _ in range(2):  # two keep-alive connections that have been served
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().read()[:1], b"{")
            held.append(conn)
        extra = socket.create_connection(("127.0.0.1", d.port))
        extra.settimeout(5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        self.assertEqual(got, b"", d.output())   # closed without an answer
        extra.close()
        for s in held:
            s.close()
        time.sleep(0.2)
        self.assertEqual(d.request("GET", "/healthz")[0], 200)
        d.stop()


if __name__ == "__main__":
    unittest.main()
