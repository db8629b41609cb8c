"""Debian's docker-registry (the CNCF distribution registry) on loopback,
for tests: anonymous, with htpasswd users, or with another auth section
(a token service: tests/peers/token_server.py)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, users=None, auth_section=None, log_level="warn"):
        self.dir = tempfile.mkdtemp(prefix="cl-registry-")
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = ""
        if users:
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                for user, password in users.items():
                    line = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                          capture_output=True, text=True).stdout.strip()
                    f.write(line + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: cloister-test\n    path: {path}\n"
        if auth_section is not None:    # another auth section, such as a token service's
            auth = auth_section
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: {log_level}\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                    f"http:\n  addr: {self.host}\n" + auth)
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return                      # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def requests(self):
        """(method, status) of each request the registry logged (log_level="info")."""
        import json
        out = []
        self.log.flush()
        with open(os.path.join(self.dir, "registry.log"), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                method = status = None
                for part in line.split():
                    if part.startswith("http.request.method="):
                        method = part.split("=", 1)[1].strip('"')
                    elif part.startswith("http.response.status="):
                        status = int(part.split("=", 1)[1].strip('"'))
                if method and status:
                    out.append((method, status))
        return out

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
