"""A stand-in for a Microsoft Azure Attestation instance, on loopback: it
signs tokens (RS256 JWTs) with a key of its own, made with openssl, and
serves its signing keys as Azure does, a JWKS at /certs whose keys carry a
self-signed certificate in x5c.  Tests mint the tokens an instance would
issue (mint), and rotate its key (rotate) to see a verifier fetch the keys
again.  Counts the requests for /certs."""
import base64
import hashlib
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MaaPeer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cl-maa-")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.keys = []              # (kid, key path, DER certificate)
        self.certs_requests = 0
        self.rotate()
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/certs":
                    self.send_response(404)
                    self.end_headers()
                    return
                peer.certs_requests += 1
                body = json.dumps({"keys": [
                    {"kid": kid, "kty": "RSA", "x5c": [base64.b64encode(der).decode()]}
                    for kid, _, der in peer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rotate(self):
        """A new signing key (the old ones stay published); returns its kid."""
        n = len(self.keys)
        key = os.path.join(self.dir, f"key{n}.pem")
        cert = os.path.join(self.dir, f"cert{n}.der")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-outform", "DER", "-out", cert, "-days", "30", "-subj",
                        f"/CN=Azure Attestation peer {self.port}"],
                       check=True, capture_output=True)
        with open(cert, "rb") as f:
            der = f.read()
        kid = base64.b64encode(hashlib.sha256(der).digest()).decode()
        self.keys.append((kid, key, der))
        return kid

    def mint(self, claims, kid=None):
        """A token with these claims, signed by the newest key (or kid's)."""
        kid = kid or self.keys[-1][0]
        path = next(k for i, k, _ in self.keys if i == kid)
        header = {"alg": "RS256", "kid": kid, "typ": "JWT", "jku": self.url + "/certs"}
        signed = (b64url(json.dumps(header).encode()) + "." +
                  b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path], input=signed,
                             check=True, capture_output=True).stdout
        return signed.decode() + "." + b64url(sig)

    def close(self):
        import shutil
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)
