"""cloisterd over HTTP: health, readiness, metrics, the OpenAPI document,
routing errors, body limits, request ids, logs and the portal's files."""
import json
import os
import re
import shutil
import tempfile
import unittest

from cloister_test import SOURCE_DIR, Daemon, new_database


class Serving(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, _ = new_database()
        cls.d = Daemon(url, "--max-body-size=2K").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def assertProblem(self, status, headers, body, want_status, slug):
        self.assertEqual(status, want_status, body)
        self.assertEqual(headers["content-type"], "application/problem+json")
        doc = json.loads(body)
        self.assertEqual(doc["type"], "https://cloister.dev/problems/" + slug)
        self.assertEqual(doc["status"], want_status)
        self.assertEqual(doc["request_id"], headers["x-request-id"])
        return doc

    def test_healthz(self):
        status, headers, doc = self.d.get_json("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "ok")
        self.assertRegex(doc["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(headers["content-type"], "application/json")

    def test_readyz(self):
        status, _, doc = self.d.get_json("/readyz")
        self.assertEqual(status, 200)
        self.assertEqual(doc, {"status": "ready",
                               "checks": {"database": "ok", "migrations": "ok"}})

    def test_head_answers_without_body(self):
        status, headers, body = self.d.request("HEAD", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(headers["content-type"], "application/json")

    def test_openapi_is_the_committed_file(self):
        status, headers, body = self.d.request("GET", "/v1/openapi.yaml")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/yaml")
        with open(os.path.join(SOURCE_DIR, "api", "openapi.yaml"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_not_found_and_method_not_allowed(self):
        self.assertProblem(*self.d.request("GET", "/v1/no-such-thing"), 404, "not-found")
        status, headers, body = self.d.request("DELETE", "/healthz")
        doc = self.assertProblem(status, headers, body, 405, "method-not-allowed")
        self.assertEqual(headers["allow"], "GET, HEAD")
        self.assertIn("DELETE", doc["detail"])

    def test_body_over_the_limit_is_413(self):
        self.assertProblem(*self.d.request("GET", "/healthz", body=b"x" * 4096),
                           413, "payload-too-large")
        status, _, _ = self.d.request("GET", "/healthz", body=b"x" * 1024)
        self.assertEqual(status, 200)

    def test_request_id_is_echoed_or_made(self):
        _, headers, _ = self.d.request("GET", "/healthz", headers={"X-Request-Id": "trace-42.a"})
        self.assertEqual(headers["x-request-id"], "trace-42.a")
        _, headers, _ = self.d.request("GET", "/healthz",
                                       headers={"X-Request-Id": "bad id\u00e9".encode()})
        self.assertRegex(headers["x-request-id"],
                         r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        _, first, _ = self.d.request("GET", "/healthz")
        _, second, _ = self.d.request("GET", "/healthz")
        self.assertNotEqual(first["x-request-id"], second["x-request-id"])

    def test_logs_are_json_lines_with_the_request_id(self):
        _, headers, _ = self.d.request("GET", "/readyz")
        rid = headers["x-request-id"]
        for _ in range(50):
            lines = [l for l in self.d.log_lines() if l.get("request_id") == rid]
            if lines:
                break
            import time
            time.sleep(0.05)
        self.assertEqual(len(lines), 1, self.d.output())
        line = lines[0]
        self.assertEqual(line["msg"], "request")
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["route"], "/readyz")
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        for l in self.d.log_lines():
            self.assertIn(l["level"], ("debug", "info", "warn", "error"))

    def test_metrics(self):
        self.d.request("GET", "/healthz")
        self.d.request("GET", "/v1/nope")
        status, headers, body = self.d.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        samples = {}
        for line in text.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) cloister_\w+ ")
                continue
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
        self.assertGreaterEqual(
            samples['cloister_http_requests_total{method="GET",route="/healthz",status="200"}'], 1)
        self.assertGreaterEqual(
            samples['cloister_http_requests_total{method="",route="unmatched",status="404"}'], 1)
        healthz = 'cloister_http_request_duration_seconds_count{method="GET",route="/healthz"}'
        self.assertGreaterEqual(samples[healthz], 1)
        self.assertEqual(samples['cloister_http_request_duration_seconds_bucket{method="GET",'
                                 'route="/healthz",le="+Inf"}'], samples[healthz])
        self.assertIn("# TYPE cloister_http_request_duration_seconds histogram", text)
        self.assertEqual(samples["cloister_db_pool_size"], 8)
        self.assertIn('cloister_db_pool_connections{state="in_use"}', samples)
        self.assertGreaterEqual(samples['cloister_db_pool_connections{state="open"}'], 1)

    def test_metrics_count_moves(self):
        def count():
            body = self.d.request("GET", "/metrics")[2].decode()
            m = re.search(r'cloister_http_requests_total\{method="GET",route="/readyz",'
                          r'status="200"\} (\d+)', body)
            return int(m.group(1)) if m else 0
        before = count()
        for _ in range(3):
            self.d.request("GET", "/readyz")
        self.assertEqual(count(), before + 3)

    def test_unknown_api_paths_are_json_404s(self):
        status, headers, body = self.d.request("GET", "/v1/accounts-typo")
        self.assertEqual(status, 404)
        self.assertEqual(headers["content-type"], "application/problem+json")


class Portal(unittest.TestCase):
    """How the daemon serves the portal: the shell for every page path,
    assets under a per-release prefix, a strict CSP, nothing outside."""

    @classmethod
    def setUpClass(cls):
        cls.static = tempfile.mkdtemp(prefix="cl-static-")
        os.makedirs(os.path.join(cls.static, "js"))
        with open(os.path.join(cls.static, "index.html"), "w") as f:
            f.write('<!doctype html><script type="module" src="%ASSET_BASE%js/app.js">'
                    '</script>\n')
        with open(os.path.join(cls.static, "js", "app.js"), "w") as f:
            f.write("export const ready = true;\n")
        os.symlink("/etc/passwd", os.path.join(cls.static, "js", "leak.js"))
        url, _ = new_database()
        cls.d = Daemon(url, env={"CLOISTER_STATIC_DIR": cls.static}).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()
        shutil.rmtree(cls.static, ignore_errors=True)

    def shell(self, path):
        status, headers, body = self.d.request("GET", path)
        self.assertEqual(status, 200, path)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertEqual(headers["cache-control"], "no-cache")
        csp = headers["content-security-policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        m = re.search(rb'src="/assets/([0-9a-f]{16})/js/app.js"', body)
        self.assertIsNotNone(m, body)
        return m.group(1).decode()

    def test_every_page_path_gets_the_shell(self):
        ids = {self.shell(p) for p in ("/", "/accounts", "/accounts/123/members", "/login")}
        self.assertEqual(len(ids), 1)

    def test_assets_are_immutable_under_the_release_prefix(self):
        release = self.shell("/")
        status, headers, body = self.d.request("GET", f"/assets/{release}/js/app.js")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"export const ready = true;\n")
        self.assertEqual(headers["content-type"], "text/javascript; charset=utf-8")
        self.assertEqual(headers["cache-control"], "public, max-age=31536000, immutable")
        status, headers, _ = self.d.request("GET", "/assets/0123456789abcdef/js/app.js")
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-cache")    # an old release's page

    def test_nothing_outside_the_directory(self):
        release = self.shell("/")
        for path in (f"/assets/{release}/js/leak.js", f"/assets/{release}/../../etc/passwd",
                     f"/assets/{release}/%2e%2e/%2e%2e/etc/passwd", "/../CMakeLists.txt",
                     f"/assets/{release}/.hidden", "/assets/", "/v1/../../CMakeLists.txt"):
            status, _, body = self.d.request("GET", path)
            self.assertNotIn(b"root:", body, path)
            self.assertNotIn(b"cmake_minimum_required", body, path)
            self.assertIn(status, (404, 200), path)
            if status == 200:            # only ever the shell
                self.assertIn(b"<!doctype html>", body, path)


if __name__ == "__main__":
    unittest.main()
