"""A registry that misbehaves on purpose, for the tests of the OCI client:
it serves manifests whose bytes do not match the digest it claims, and a
manifest far larger than any real one.  Everything else is a 404."""
import hashlib
import http.server
import json
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/v2/":
            return self._send(200, b"{}", "application/json")
        if self.path == "/v2/liar/manifests/v1":
            body = json.dumps({"schemaVersion": 2, "mediaType":
                               "application/vnd.oci.image.manifest.v1+json",
                               "config": {"digest": "sha256:" + "0" * 64, "size": 2}}).encode()
            return self._send(200, body, "application/vnd.oci.image.manifest.v1+json",
                              digest="sha256:" + hashlib.sha256(b"something else").hexdigest())
        if self.path == "/v2/huge/manifests/v1":
            return self._send(200, b" " * (5 * 1024 * 1024),
                              "application/vnd.oci.image.manifest.v1+json")
        return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json")

    def _send(self, status, body, content_type, digest=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        self.wfile.write(body)


class LyingRegistry:
    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
