"""docs/tutorial.md, run: every `cloister` command of its ```sh blocks, in
order, as written, against a real cloisterd and cloister-worker, Debian's
docker-registry, and the Azure (tests/peers/azure.py) and Kubernetes
(tests/peers/kubernetes.py) peers.  Variables are those the doc's commands
set (VAR=$(cloister ...)), or, for what the doc's `az` steps would make,
the test's own (AZURE_VALUES below).  A command that fails, or a variable
the page uses but never sets, fails the test.

What does not run here, and why (the doc says the same):
  - the `az` commands (resource group, AKS cluster, registry, service
    principal, role assignments) and `kubectl`: there is no Azure and no
    real cluster in this sandbox.  The Azure peer plays Entra ID and ARM
    (a tenant, a subscription, the resource group, the cluster and the
    service principal those steps make) and the Kubernetes peer the
    cluster's API server; the worker is pointed at them with
    --azure-login-url, --arm-url and --azure-ca-file.
  - the registry is plain HTTP (docker-registry without TLS here), so
    `cloister registry add` gets --plain-http appended;
  - "NGINX" is a stand-in image (tests/peers/convert_images.py) and Gramine
    a stand-in runtime, as in test_convert.py: neither Docker Hub nor
    Gramine is reachable here.  The conversion itself is real.
  - the node agent and the enclaves' attestation on AKS (no SGX here);
    test_agent.py and test_enclaves.py cover them with simulated quotes."""
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import azure  # noqa: E402
import kubernetes  # noqa: E402
from cloister_test import Daemon, Worker, create_admin, new_database  # noqa: E402
from convert_images import HELLO, app_layers, runtime_files  # noqa: E402
from oci_build import build_image, push  # noqa: E402
from registry import Registry  # noqa: E402

CLI = os.environ.get("CLOISTER_CLI")
SOURCE = os.environ.get("CLOISTER_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
TUTORIAL = os.environ.get("CLOISTER_TUTORIAL", os.path.join(SOURCE, "docs", "tutorial.md"))
RG, AKS = "rg-cloister", "cloister-aks"
ACR_USER, ACR_PASSWORD = "cloister", "acr-token-pw-1"


def commands(text):
    """The command lines of the page's ```sh blocks: continuations joined,
    comments dropped; each (line number, text)."""
    out, in_sh, pending, start = [], False, "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_sh = (line.strip() == "```sh") and not in_sh
            continue
        if not in_sh:
            continue
        if not pending:
            start = n
        pending += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        cmd = re.sub(r"\s+#\s.*$", "", pending).strip()
        pending = ""
        if cmd:
            out.append((start, cmd))
    return out


# VAR=$(cloister ...) [| head -n 1]; [printf %s "X" |] cloister ...
CAPTURE = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\((cloister .*?)(\s*\|\s*head -n 1)?\)$")
PIPED = re.compile(r"^printf %s (\"[^\"]*\"|'[^']*') \| (cloister .*)$")
ENV_PREFIX = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=\S+ )+)(cloister .*)$")


class Tutorial(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cl-tutorial-")
        # what the doc's az steps make: a tenant with the service principal, the
        # subscription, the resource group and an AKS cluster (Entra ID enabled)
        cls.azure = azure.AzurePeer(resource_group=RG, cluster=AKS, retry_after=1)
        cls.kube = kubernetes.KubernetesPeer(tokens=cls.azure.kubelogin_user, deadline_scale=0.01)
        # the SGX pool's nodes, as AKS labels them once the pool exists
        cls.kube.add_aks_sgx_pool(3)
        cls.azure.serve_kubelogin_kubeconfig(cls.kube.kubeconfig_text())
        # the registry with the images the doc's `az acr import` would bring
        cls.reg = Registry(users={ACR_USER: ACR_PASSWORD})
        creds = f"{ACR_USER}:{ACR_PASSWORD}"
        layout = os.path.join(cls.tmp, "layout")
        build_image(layout, "runtime", [runtime_files(cls.tmp)],
                    labels={"org.opencontainers.image.version": "1.9.0"})
        push(layout, "runtime", cls.reg.host, "gramine/runtime:1.9", creds=creds)
        build_image(layout, "v1", app_layers(), entrypoint=["/app/hello.sh"])
        push(layout, "v1", cls.reg.host, "nginx:1.25", creds=creds)
        build_image(layout, "v2", app_layers(HELLO.replace(b"from", b"From")),
                    entrypoint=["/app/hello.sh"])
        push(layout, "v2", cls.reg.host, "nginx:1.27", creds=creds)
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1",
                            f"--gramine-image={cls.reg.host}/gramine/runtime:1.9",
                            f"--insecure-registries={cls.reg.host}",
                            f"--azure-login-url={cls.azure.url}",
                            f"--arm-url={cls.azure.url}",
                            f"--azure-ca-file={cls.azure.ca_pem}")

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.reg.close()
        cls.azure.close()
        cls.kube.close()

    def setUp(self):
        self.env = dict(os.environ)
        self.env.pop("CLOISTER_API_KEY", None)
        self.env.update({"XDG_CONFIG_HOME": os.path.join(self.tmp, "config"),
                         "CLOISTER_PROFILE": "tutorial"})
        # what the page's az steps would have set (section 1)
        self.vars = {
            "LOCATION": "westeurope", "RG": RG, "AKS": AKS, "ACR": "acmecloister",
            "REGISTRY": self.reg.host, "SUBSCRIPTION": azure.SUBSCRIPTION,
            "TENANT": azure.TENANT, "SP_APP_ID": azure.CLIENT_ID,
            "SP_SECRET": azure.CLIENT_SECRET, "ACR_PASSWORD": ACR_PASSWORD,
            "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}",
        }

    def expand(self, text, where):
        def var(m):
            name = m.group(1) or m.group(2)
            if name not in self.vars:
                self.fail(f"docs/tutorial.md:{where}: ${name} is used but never set")
            return self.vars[name]
        return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)", var, text)

    def login(self, argv, where):
        """cloister login asks for the password on the terminal: give it one."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(CLI, ["cloister", *argv], self.env)
        out, sent = b"", False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:                         # EIO: the child has gone
                break
            if not chunk:
                break
            out += chunk
            if not sent and b"Password" in out:
                os.write(fd, self.password.encode() + b"\n")
                sent = True
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0,
                         f"docs/tutorial.md:{where}: cloister {shlex.join(argv)}\n" +
                         out.decode("utf-8", "replace"))

    def run_cli(self, argv, where, stdin=None, env=None):
        if argv[:2] == ["registry", "add"]:
            argv = argv + ["--plain-http"]          # docker-registry here is plain HTTP
        res = subprocess.run([CLI, *argv], input=stdin, capture_output=True, text=True,
                             env=dict(self.env, **(env or {})), timeout=120)
        if res.returncode != 0:
            self.fail(f"docs/tutorial.md:{where}: cloister {shlex.join(argv)} exited "
                      f"{res.returncode}\n{res.stdout}{res.stderr}\n--- worker:\n" +
                      self.worker.output()[-4000:])
        return res.stdout

    def test_every_cloister_command_of_the_tutorial(self):
        with open(TUTORIAL, encoding="utf-8") as f:
            page = commands(f.read())
        ran = []
        for where, line in page:
            capture = CAPTURE.match(line)
            piped = PIPED.match(line)
            prefixed = ENV_PREFIX.match(line)
            stdin, env, name, first = None, None, None, False
            if capture:
                name, cmd, first = capture.group(1), capture.group(2), bool(capture.group(3))
            elif piped:
                stdin = shlex.split(self.expand(piped.group(1), where))[0]
                cmd = piped.group(2)
            elif prefixed:
                env = dict(shlex.split(self.expand(a, where))[0].split("=", 1)
                           for a in prefixed.group(1).split())
                cmd = prefixed.group(2)
            elif line.startswith("cloister "):
                cmd = line
            elif line.startswith("export CLOISTER_URL="):
                continue                            # the test's own daemon instead
            else:
                self.assertIsNone(re.search(r"(^|[|;&(]|\s)cloister\s+[a-z-]+", line)
                                  if not line.startswith("az ") else None,
                                  f"docs/tutorial.md:{where}: a cloister command this test "
                                  f"cannot run: {line}")
                continue                            # az, jq, names: section 1's
            argv = shlex.split(self.expand(cmd, where))[1:]
            if argv[0] == "login":
                self.login(argv, where)
            else:
                out = self.run_cli(argv, where, stdin=stdin, env=env)
                if name:
                    lines = out.strip().splitlines()
                    self.assertTrue(lines, f"docs/tutorial.md:{where}: {line} printed nothing")
                    if not first:
                        self.assertEqual(len(lines), 1, f"docs/tutorial.md:{where}: {line}"
                                         f" printed more than one line:\n{out}")
                    self.vars[name] = lines[0].strip()
            words = [a for a in argv if not a.startswith("-")]    # -q, -o json: global
            ran.append(" ".join(words[:1] if words[0] in ("login", "whoami") else words[:2]))
        # the steps the page promises are all there, and ran
        for step in ("login", "api-key create", "registry add", "app create", "build create",
                     "task approve", "build get", "secret set", "cluster add",
                     "cluster check", "deploy create", "job logs", "deploy scale",
                     "deploy update", "deploy rollback", "deploy rm"):
            self.assertIn(step, ran)
        # and they did what the page says
        self.assertEqual(self.azure.last_body(self.azure.cluster_path(AKS))["properties"]
                         ["addonProfiles"]["ACCSGXDevicePlugin"]["enabled"], True)
        pool = self.azure.last_body(self.azure.pool_path("sgxpool", AKS))["properties"]
        self.assertEqual((pool["vmSize"], pool["count"]), ("Standard_DC4s_v3", 2))
        self.assertIsNone(self.kube.get("deployments", "nginx", "web"))


if __name__ == "__main__":
    unittest.main()
