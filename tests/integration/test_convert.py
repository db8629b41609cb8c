"""The convert job end to end against Debian's docker-registry: images made
with umoci from files these tests build (a static busybox, a shell-script
app, a stand-in Gramine runtime whose libpal.so is a real ELF shared object
compiled here), converted by cloister-worker, pulled back with skopeo and
unpacked with umoci, and checked with tools that are not Cloister's:
sha256sum for every trusted file, openssl for the SIGSTRUCT's signature.
Then reproducibility, approvals, and each kind of bad input."""
import base64
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from convert_images import HELLO, PKG, app_layers, runtime_files  # noqa: E402
from registry import Registry  # noqa: E402

from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402
from oci_build import build_image, pull_unpacked, push  # noqa: E402
import test_agent  # noqa: E402

CLI = os.environ.get("CLOISTER_CLI")
DATE = "2026-01-15"

def openssl_verify_sigstruct(sig, tmp):
    """Verify a SIGSTRUCT's RSA signature with the openssl command: the
    public key (n little-endian at 128, e = 3) as DER, the signed bytes
    [0, 128) and [900, 1028)."""
    n = int.from_bytes(sig[128:512], "little")
    s = int.from_bytes(sig[516:900], "little").to_bytes(384, "big")

    def der(tag, body):
        if len(body) < 128:
            return bytes([tag, len(body)]) + body
        length = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(length)]) + length + body

    def integer(v):
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")
        return der(0x02, b)

    rsa_key = der(0x30, integer(n) + integer(3))
    algorithm = der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
    spki = der(0x30, algorithm + der(0x03, b"\x00" + rsa_key))
    pem = os.path.join(tmp, "signer.pem")
    with open(pem, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki).decode() +
                "-----END PUBLIC KEY-----\n")
    data = os.path.join(tmp, "signed.bin")
    with open(data, "wb") as f:
        f.write(sig[0:128] + sig[900:1028])
    sigfile = os.path.join(tmp, "signature.bin")
    with open(sigfile, "wb") as f:
        f.write(s)
    return subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sigfile,
                           data], capture_output=True, text=True)


class Convert(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, _ = new_database()
        cls.tmp = tempfile.mkdtemp(prefix="cl-convert-")
        # a simulated SGX PKI the daemon trusts, for the converted image's attestation
        cls.sim = os.path.join(cls.tmp, "pki")
        os.mkdir(cls.sim)
        subprocess.run([CLI, "quote", "simulate", "--out", cls.sim], check=True,
                       capture_output=True)
        cls.d = Daemon(url, env={"CLOISTER_PCS_URL": "", "CLOISTER_SGX_TRUST_ROOTS":
                                 os.path.join(cls.sim, "root.pem")}).start()
        cls.password = create_admin(cls.d)
        cls.reg = Registry()
        cls.other = Registry(log_level="info")     # its requests are checked
        cls.locked = Registry(users={"robot": "pw-robot-1"})
        layout = os.path.join(cls.tmp, "layout")
        build_image(layout, "runtime", [runtime_files(cls.tmp)],
                    labels={"org.opencontainers.image.version": "1.9.0"})
        push(layout, "runtime", cls.reg.host, "gramine/runtime:1.9")
        build_image(layout, "v1", app_layers(), entrypoint=["/app/hello.sh"],
                    cmd=["--greet", "world"], env=["GREETING=hello"], workdir="/app")
        push(layout, "v1", cls.reg.host, "team/app:v1")
        push(layout, "v1", cls.locked.host, "private/app:v1", creds="robot:pw-robot-1")
        # one byte of the script changed
        build_image(layout, "v2", app_layers(HELLO.replace(b"from", b"From")),
                    entrypoint=["/app/hello.sh"], cmd=["--greet", "world"],
                    env=["GREETING=hello"], workdir="/app")
        push(layout, "v2", cls.reg.host, "team/app:v2")
        build_image(layout, "noentry", app_layers())
        push(layout, "noentry", cls.reg.host, "team/noentry:v1")
        # 20 MB that do not compress: more than one upload chunk
        build_image(layout, "big", app_layers(extra={"/app/blob.bin": os.urandom(20 << 20)}),
                    entrypoint=["/app/hello.sh"])
        push(layout, "big", cls.reg.host, "team/big:v1")
        # 80 MB of zeros: a small layer that unpacks past the worker's 64M bound
        build_image(layout, "bomb", app_layers(extra={"/app/zeros": bytes(80 << 20)}),
                    entrypoint=["/app/hello.sh"])
        push(layout, "bomb", cls.reg.host, "team/bomb:v1")
        # a layer of its own, whose stored bytes the test then changes
        build_image(layout, "tampered",
                    app_layers(extra={"/app/unique": uuid.uuid4().hex.encode()}),
                    entrypoint=["/app/hello.sh"])
        push(layout, "tampered", cls.reg.host, "team/tampered:v1")
        cls.tamper(cls.reg, "team/tampered:v1")
        cls.odd_media_type(cls.reg, "team/app:v1", "team/odd:v1")
        cls.worker = Worker(url, cls.d.kek, "--slots=2", "--poll-interval=1",
                            f"--gramine-image={cls.reg.host}/gramine/runtime:1.9",
                            f"--insecure-registries={cls.reg.host}",
                            "--max-image-size=64M")

    @classmethod
    def tearDownClass(cls):
        for x in (cls.worker, cls.reg, cls.other, cls.locked):
            x.close()
        cls.d.stop()
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def manifest_of(registry, repo, tag):
        req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/{tag}",
                                     headers={"Accept":
                                              "application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    @classmethod
    def tamper(cls, registry, ref):
        """Flip a byte of the image's last layer where the registry keeps it."""
        repo, tag = ref.split(":")
        digest = cls.manifest_of(registry, repo, tag)["layers"][-1]["digest"][7:]
        path = os.path.join(registry.dir, "data", "docker", "registry", "v2", "blobs", "sha256",
                            digest[:2], digest, "data")
        with open(path, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0xff]))

    @classmethod
    def odd_media_type(cls, registry, source, target):
        """The source image again, its last layer of a media type no one knows."""
        repo, tag = source.split(":")
        m = cls.manifest_of(registry, repo, tag)
        m["layers"][-1]["mediaType"] = "application/vnd.example.strange.layer"
        trepo, ttag = target.split(":")
        for blob in [m["config"]] + m["layers"]:
            mount = urllib.request.Request(
                f"http://{registry.host}/v2/{trepo}/blobs/uploads/?mount={blob['digest']}"
                f"&from={repo}", method="POST")
            urllib.request.urlopen(mount).close()
        put = urllib.request.Request(
            f"http://{registry.host}/v2/{trepo}/manifests/{ttag}", data=json.dumps(m).encode(),
            method="PUT", headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        urllib.request.urlopen(put).close()

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        account = self.api.ok("POST", "/v1/accounts", {"name": "cv-" + uuid.uuid4().hex[:8]},
                              want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": account})
        for host in (self.reg.host, self.other.host):
            self.api.ok("POST", "/v1/registries", {"name": "r" + uuid.uuid4().hex[:8],
                                                   "host": host, "tls": False}, want=201)
        self.work = tempfile.mkdtemp(dir=self.tmp)

    def app(self, input_image, output_image=None, **settings):
        body = {"name": "app-" + uuid.uuid4().hex[:8], "input_image": input_image,
                "output_image": output_image or f"{self.reg.host}/out/{uuid.uuid4().hex[:8]}:v1",
                "enclave_size": 256 << 20, "max_threads": 8, "isvprodid": 7, "isvsvn": 3}
        body.update(settings)
        return self.api.ok("POST", "/v1/apps", body, want=201)

    def convert(self, app_id, date=DATE):
        status, _, job = self.api.call("POST", f"/v1/apps/{app_id}/builds", {"date": date})
        self.assertEqual(status, 202, job)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = self.api.ok("GET", f"/v1/jobs/{job['id']}")
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(0.2)
        self.fail(f"the conversion did not end: {job}\n{self.worker.output()[-3000:]}")

    def build_of(self, job):
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["attempts"], 1, job)        # nothing failed on the way
        return self.api.ok("GET", f"/v1/builds/{job['result']['build_id']}")

    def test_a_converted_image_checks_out_with_other_tools(self):
        app = self.app(f"{self.reg.host}/team/app:v1")
        build = self.build_of(self.convert(app["id"]))
        self.assertEqual(build["state"], "pending")
        self.assertEqual(build["app_id"], app["id"])
        self.assertEqual((build["isvprodid"], build["isvsvn"], build["debug"]), (7, 3, False))
        self.assertEqual(build["sigstruct_date"], DATE)
        self.assertEqual(build["runtime"], "gramine")
        self.assertEqual(build["runtime_version"], "1.9")

        out_repo = app["output_image"].split("/", 1)[1]
        rootfs, config, manifest = pull_unpacked(self.reg.host, out_repo, self.work)
        raw = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                              f"docker://{app['output_image']}"], check=True,
                             capture_output=True).stdout
        self.assertEqual(build["output_digest"], "sha256:" + hashlib.sha256(raw).hexdigest())

        # every trusted file's hash is sha256sum's
        with open(os.path.join(rootfs, "gramine/app/entrypoint.manifest.sgx"), "rb") as f:
            text = f.read()
        toml = tomllib.loads(text.decode())
        trusted = toml["sgx"]["trusted_files"]
        self.assertEqual(len(trusted), build["trusted_files"])
        paths = set()
        for entry in trusted:
            self.assertTrue(entry["uri"].startswith("file:/"), entry)
            path = entry["uri"][len("file:"):]
            paths.add(path)
            out = subprocess.run(["sha256sum", os.path.join(rootfs, path.lstrip("/"))],
                                 check=True, capture_output=True, text=True).stdout
            self.assertEqual(entry["sha256"], out.split()[0], path)
        for want in ("/bin/busybox", "/app/hello.sh", "/app/data/config.json",
                     "/gramine/app/argv", "/gramine/app/cloister-init",
                     f"{PKG}/runtime/glibc/libc.so.6"):
            self.assertIn(want, paths)
        self.assertFalse([p for p in paths if p.startswith(("/var/", "/tmp/"))], paths)
        self.assertEqual(toml["sgx"]["isvprodid"], 7)
        self.assertEqual(toml["sgx"]["remote_attestation"], "dcap")
        # cloister-init comes first, measured, with its settings, then the app's command
        self.assertEqual(toml["libos"]["entrypoint"], "/gramine/app/cloister-init")
        with open(os.path.join(rootfs, "gramine/app/argv"), "rb") as f:
            self.assertEqual(f.read(), b"/gramine/app/cloister-init\0--\0/app/hello.sh\0"
                                       b"--greet\0world\0")
        with open(os.path.join(rootfs, "gramine/app/cloister-init"), "rb") as f, \
                open(os.environ["CLOISTER_INIT"], "rb") as built:
            self.assertEqual(f.read(), built.read())
        self.assertTrue(os.stat(os.path.join(rootfs, "gramine/app/cloister-init")).st_mode
                        & 0o111)
        env = toml["loader"]["env"]
        self.assertEqual((env["CLOISTER_APP_ID"], env["CLOISTER_DIR"], env["CLOISTER_SECRETS_ENV"],
                          env["CLOISTER_ON_FAILURE"], env["CLOISTER_NODE_IP"]),
                         (app["id"], "/run/cloister", "0", "retry", {"passthrough": True}))
        self.assertIn({"type": "tmpfs", "path": "/run/cloister"}, toml["fs"]["mounts"])
        got = self.api.ok("GET", f"/v1/builds/{build['id']}/manifest")
        self.assertEqual(got["manifest"].encode(), text)
        self.assertEqual(len(got["trusted_files"]), len(trusted))

        # the SIGSTRUCT: openssl verifies it; it carries the build's figures
        with open(os.path.join(rootfs, "gramine/app/entrypoint.sig"), "rb") as f:
            sig = f.read()
        self.assertEqual(len(sig), 1808)
        verdict = openssl_verify_sigstruct(sig, self.work)
        self.assertEqual(verdict.returncode, 0, verdict.stdout + verdict.stderr)
        self.assertEqual(sig[960:992].hex(), build["mrenclave"])
        self.assertEqual(hashlib.sha256(sig[128:512]).hexdigest(), build["mrsigner"])
        self.assertEqual(int.from_bytes(sig[1024:1026], "little"), 7)
        self.assertEqual(int.from_bytes(sig[928:936], "little"), 0x4)   # not debug
        keys = self.api.ok("GET", "/v1/signing-keys")["items"]
        self.assertEqual([(k["mrsigner"], k["state"]) for k in keys],
                         [(build["mrsigner"], "active")])
        tampered = bytearray(sig)
        tampered[1026] ^= 1                                    # ISVSVN
        self.assertNotEqual(openssl_verify_sigstruct(bytes(tampered), self.work).returncode, 0)

        # MRENCLAVE again from the pulled files, by the offline tool
        measured = subprocess.run(
            [CLI, "enclave", "measure", "--manifest",
             os.path.join(rootfs, "gramine/app/entrypoint.manifest.sgx"),
             "--libpal", os.path.join(rootfs, PKG.lstrip("/"), "sgx/libpal.so"), "-o", "json"],
            check=True, capture_output=True, text=True).stdout
        self.assertEqual(json.loads(measured)["mrenclave"], build["mrenclave"])

        # the config: launcher, labels equal to the record, the input's layers kept
        cc = config["config"]
        self.assertEqual(cc["Entrypoint"], ["/usr/bin/gramine-sgx", "/gramine/app/entrypoint"])
        self.assertNotIn("Cmd", cc)
        labels = cc["Labels"]
        self.assertEqual(labels["dev.cloister.mrenclave"], build["mrenclave"])
        self.assertEqual(labels["dev.cloister.mrsigner"], build["mrsigner"])
        self.assertEqual(labels["dev.cloister.isvprodid"], "7")
        self.assertEqual(labels["dev.cloister.isvsvn"], "3")
        self.assertEqual(labels["dev.cloister.input-digest"], build["input_digest"])
        source = self.manifest_of(self.reg, "team/app", "v1")
        self.assertEqual([l["digest"] for l in manifest["layers"][:2]],
                         [l["digest"] for l in source["layers"]])
        self.assertEqual(len(manifest["layers"]), 2 + 1 + 2)
        self.assertEqual(len(config["rootfs"]["diff_ids"]), len(manifest["layers"]))

        # the approval task decides the build
        tasks = self.api.ok("GET", "/v1/tasks?type=build_approval")["items"]
        self.assertEqual([t["target"] for t in tasks], [f"build:{build['id']}"])
        self.api.ok("POST", f"/v1/tasks/{tasks[0]['id']}/approve", {})
        self.assertEqual(self.api.ok("GET", f"/v1/builds/{build['id']}")["state"], "approved")
        gone = self.api.ok("POST", f"/v1/builds/{build['id']}/deprecate", {"reason": "test"})
        self.assertEqual(gone["state"], "deprecated")
        status, _, problem = self.api.call("POST", f"/v1/builds/{build['id']}/deprecate", {})
        self.assertEqual(status, 409, problem)
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        for action in ("job.create", "signing_key.create", "build.create", "task.approve",
                       "build.deprecate"):
            self.assertIn(action, actions)

    def test_an_app_that_does_not_attest_runs_its_own_command_first(self):
        app = self.app(f"{self.reg.host}/team/app:v1", attestation="none")
        build = self.build_of(self.convert(app["id"]))
        rootfs, _, _ = pull_unpacked(self.reg.host, app["output_image"].split("/", 1)[1],
                                     self.work)
        with open(os.path.join(rootfs, "gramine/app/entrypoint.manifest.sgx"), "rb") as f:
            toml = tomllib.loads(f.read().decode())
        self.assertEqual(toml["libos"]["entrypoint"], "/app/hello.sh")
        with open(os.path.join(rootfs, "gramine/app/argv"), "rb") as f:
            self.assertEqual(f.read(), b"/app/hello.sh\0--greet\0world\0")
        self.assertFalse(os.path.exists(os.path.join(rootfs, "gramine/app/cloister-init")))
        self.assertNotIn("CLOISTER_APP_ID", toml["loader"]["env"])
        self.assertEqual(build["trusted_files"], len(toml["sgx"]["trusted_files"]))

    def test_the_converted_image_attests_and_starts_with_its_certificate_and_secrets(self):
        """The image's own cloister-init, run outside an enclave with the
        simulation provider and the environment its manifest gives it,
        attests through a real agent; the application (the image's script)
        then prints the secret it received; once the build is deprecated,
        the application does not start."""
        sim = {n: pathlib.Path(self.sim, n).read_bytes()
               for n in ("tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json",
                         "qe_identity_issuer_chain.pem", "pck_crl.der", "root_ca_crl.der")}
        self.api.ok("POST", "/v1/collateral", {
            "tcb_info": sim["tcb_info.json"].decode(),
            "tcb_info_issuer_chain": sim["tcb_info_issuer_chain.pem"].decode(),
            "qe_identity": sim["qe_identity.json"].decode(),
            "qe_identity_issuer_chain": sim["qe_identity_issuer_chain.pem"].decode(),
            "pck_crl": base64.b64encode(sim["pck_crl.der"]).decode(), "pck_crl_ca": "processor",
            "root_ca_crl": base64.b64encode(sim["root_ca_crl.der"]).decode()})
        app = self.app(f"{self.reg.host}/team/app:v1", allowed_domains=["hello.example.com"],
                       secrets_env=True, on_attestation_failure="exit")
        for task in self.api.ok("GET", "/v1/tasks?type=domain_approval")["items"]:
            self.api.ok("POST", f"/v1/tasks/{task['id']}/approve", {})
        build = self.build_of(self.convert(app["id"]))
        task = [t for t in self.api.ok("GET", "/v1/tasks?type=build_approval")["items"]
                if t["target"] == f"build:{build['id']}"][0]
        self.api.ok("POST", f"/v1/tasks/{task['id']}/approve", {})
        greeting = "hola-" + uuid.uuid4().hex[:8]
        self.api.ok("PUT", f"/v1/apps/{app['id']}/secrets/GREETING", {"value": greeting})
        # an enrolled node, its agent running
        state = tempfile.mkdtemp(dir=self.work)
        with open(os.path.join(state, "token"), "w") as f:
            f.write(self.api.ok("POST", "/v1/node-tokens", {"name": "n"}, want=201)["secret"])
        agent = test_agent.AgentProcess(self, state, os.path.join(state, "token"))
        self.addCleanup(agent.stop)
        port = agent.port()
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(state, "node.json")):
            self.assertLess(time.monotonic(), deadline, agent.output())
            time.sleep(0.1)
        # the converted image: its cloister-init, its manifest's environment, its command
        rootfs, _, _ = pull_unpacked(self.reg.host, app["output_image"].split("/", 1)[1],
                                     self.work)
        with open(os.path.join(rootfs, "gramine/app/entrypoint.manifest.sgx"), "rb") as f:
            manifest_env = tomllib.loads(f.read().decode())["loader"]["env"]
        with open(os.path.join(rootfs, "gramine/app/argv"), "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        self.assertEqual(argv[:2], [b"/gramine/app/cloister-init", b"--"])
        run_dir = os.path.join(self.work, "run-cloister")

        def start():
            env = {k: v for k, v in manifest_env.items() if isinstance(v, str)}
            env.update({"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": "",
                        "CLOISTER_AGENT": f"127.0.0.1:{port}", "CLOISTER_DIR": run_dir,
                        "CLOISTER_SIMULATION_PKI_KEYS": os.path.join(self.sim, "pki-keys.pem"),
                        "CLOISTER_SIMULATION_MRENCLAVE": build["mrenclave"]})
            command = [os.path.join(rootfs, "gramine/app/cloister-init"), "--", "/bin/sh",
                       os.path.join(rootfs, argv[2].decode().lstrip("/"))]
            command += [a.decode() for a in argv[3:]]
            return subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=60)
        res = start()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout.strip(), f"{greeting} from a converted image: --greet world")
        out = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(run_dir, "chain.pem"),
                              "-verify_hostname", "hello.example.com",
                              os.path.join(run_dir, "cert.pem")], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.api.ok("POST", f"/v1/builds/{build['id']}/deprecate", {"reason": "test"})
        res = start()
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"build {build['id']} is deprecated, not approved", res.stderr)
        self.assertNotIn("from a converted image", res.stdout)

    def test_same_inputs_same_bytes_and_one_byte_changes_mrenclave(self):
        app = self.app(f"{self.reg.host}/team/app:v1")
        first = self.build_of(self.convert(app["id"]))
        second = self.build_of(self.convert(app["id"]))
        self.assertNotEqual(first["id"], second["id"])
        self.assertEqual(first["output_digest"], second["output_digest"])
        self.assertEqual(first["mrenclave"], second["mrenclave"])
        other_day = self.build_of(self.convert(app["id"], date="2026-02-01"))
        self.assertEqual(other_day["mrenclave"], first["mrenclave"])
        self.assertNotEqual(other_day["output_digest"], first["output_digest"])  # DATE signed

        self.api.ok("PATCH", f"/v1/apps/{app['id']}",
                    {"input_image": f"{self.reg.host}/team/app:v2"})
        changed = self.build_of(self.convert(app["id"]))
        self.assertNotEqual(changed["mrenclave"], first["mrenclave"])
        self.assertEqual(changed["mrsigner"], first["mrsigner"])
        listed = self.api.ok("GET", f"/v1/apps/{app['id']}/builds")["items"]
        self.assertEqual([b["id"] for b in listed],
                         [changed["id"], other_day["id"], second["id"], first["id"]])

    def test_to_another_registry_the_layers_are_copied(self):
        out = f"{self.other.host}/copied/big:v1"
        app = self.app(f"{self.reg.host}/team/big:v1", output_image=out)
        build = self.build_of(self.convert(app["id"]))
        rootfs, _, manifest = pull_unpacked(self.other.host, "copied/big:v1", self.work)
        source = self.manifest_of(self.reg, "team/big", "v1")
        self.assertEqual([l["digest"] for l in manifest["layers"][:2]],
                         [l["digest"] for l in source["layers"]])
        with open(os.path.join(rootfs, "gramine/app/entrypoint.manifest.sgx"), "rb") as f:
            trusted = {e["uri"]: e["sha256"]
                       for e in tomllib.loads(f.read().decode())["sgx"]["trusted_files"]}
        with open(os.path.join(rootfs, "app/blob.bin"), "rb") as f:
            self.assertEqual(trusted["file:/app/blob.bin"], hashlib.sha256(f.read()).hexdigest())
        events = self.api.ok("GET", f"/v1/jobs/{build['job_id']}/events?limit=500")["items"]
        self.assertTrue([e for e in events if (e.get("message") or "").startswith("copying")],
                        events)
        # the 20 MB layer went up in chunks: PATCHes (202), then the closing PUT (201)
        requests = self.other.requests()
        self.assertIn(("PATCH", 202), requests)
        self.assertIn(("PUT", 201), requests)

    def cli(self, key, *args):
        env = {"PATH": os.environ["PATH"], "HOME": self.work,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}
        res = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        return res.stdout

    def test_the_command_line_converts_and_shows_builds(self):
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ci", "role": "operator"},
                          want=201)["secret"]
        app = self.app(f"{self.reg.host}/team/app:v1")
        build = json.loads(self.cli(key, "-o", "json", "build", "create", app["name"],
                                    "--date", DATE))
        self.assertEqual(build, self.api.ok("GET", f"/v1/builds/{build['id']}"))
        self.assertEqual(build["sigstruct_date"], DATE)
        listed = json.loads(self.cli(key, "-o", "json", "build", "list", "--app", app["name"]))
        self.assertEqual([b["id"] for b in listed], [build["id"]])
        text = self.cli(key, "build", "manifest", build["id"])
        self.assertEqual(text, self.api.ok("GET", f"/v1/builds/{build['id']}/manifest")
                         ["manifest"])
        self.assertIn(build["mrenclave"], self.cli(key, "build", "get", build["id"]))

    def new_key(self, name):
        """An RSA-3072 key with exponent 3 made by openssl: (private, public) PEM paths."""
        private = os.path.join(self.work, name + ".pem")
        public = os.path.join(self.work, name + ".pub.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:3072", "-pkeyopt", "rsa_keygen_pubexp:3", "-out",
                        private], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public],
                       check=True, capture_output=True)
        return private, public

    def mrsigner_of(self, public):
        """SHA-256 of the modulus, little-endian, as openssl prints the modulus."""
        out = subprocess.run(["openssl", "rsa", "-pubin", "-in", public, "-noout", "-modulus"],
                             check=True, capture_output=True, text=True).stdout
        n = int(out.strip().split("=", 1)[1], 16)
        return hashlib.sha256(n.to_bytes(384, "little")).hexdigest()

    def test_an_offline_key_signs_builds_that_wait_for_it(self):
        private, public = self.new_key("offline")
        with open(public) as f:
            key = self.api.ok("POST", "/v1/signing-keys", {"public_key_pem": f.read()},
                              want=201)
        self.assertEqual((key["origin"], key["state"]), ("offline", "active"))
        self.assertEqual(key["mrsigner"], self.mrsigner_of(public))
        app = self.app(f"{self.reg.host}/team/app:v1")
        job = self.convert(app["id"])
        self.assertEqual(job["result"]["state"], "awaiting_signature", job)
        build = self.build_of(job)
        self.assertEqual(build["state"], "awaiting_signature")
        self.assertIsNone(build["output_digest"])
        self.assertEqual(build["mrsigner"], key["mrsigner"])
        self.assertEqual(self.api.ok("GET", "/v1/tasks?type=build_approval")["items"], [])
        sig = self.api.ok("GET", f"/v1/builds/{build['id']}/sigstruct")
        self.assertFalse(sig["signed"])
        payload = base64.b64decode(sig["signed_bytes"])
        self.assertEqual(payload, base64.b64decode(sig["sigstruct"])[0:128] +
                         base64.b64decode(sig["sigstruct"])[900:1028])

        # a signature by another key, or of other bytes, is refused and changes nothing
        other, _ = self.new_key("other")
        changed = payload[:-1] + bytes([payload[-1] ^ 1])
        for signer, data in ((other, payload), (private, changed)):
            with open(os.path.join(self.work, "payload"), "wb") as f:
                f.write(data)
            wrong = subprocess.run(["openssl", "dgst", "-sha256", "-sign", signer,
                                    os.path.join(self.work, "payload")], check=True,
                                   capture_output=True).stdout
            status, _, problem = self.api.call("POST", f"/v1/builds/{build['id']}/signature",
                                               {"signature": base64.b64encode(wrong).decode()})
            self.assertEqual(status, 422, problem)
            self.assertIn("does not verify", problem["errors"][0]["message"])
        self.assertEqual(self.api.ok("GET", f"/v1/builds/{build['id']}")["state"],
                         "awaiting_signature")

        # signed by hand (openssl) through the API: a second signature is refused
        # while the push job runs, and the build is then pending, pushed
        with open(os.path.join(self.work, "payload"), "wb") as f:
            f.write(payload)
        good = base64.b64encode(subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", private, os.path.join(self.work, "payload")],
            check=True, capture_output=True).stdout).decode()
        push_job = self.api.ok("POST", f"/v1/builds/{build['id']}/signature",
                               {"signature": good}, want=202)
        status, _, problem = self.api.call("POST", f"/v1/builds/{build['id']}/signature",
                                           {"signature": good})
        self.assertEqual(status, 409, problem)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pushed_job = self.api.ok("GET", f"/v1/jobs/{push_job['id']}")
            if pushed_job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.1)
        self.assertEqual(pushed_job["state"], "succeeded", pushed_job)
        signed = self.api.ok("GET", f"/v1/builds/{build['id']}")
        self.assertEqual(signed["state"], "pending")
        self.assertEqual(signed["finish_job_id"], push_job["id"])
        self.assertEqual(signed["mrenclave"], build["mrenclave"])
        rootfs, config, _ = pull_unpacked(self.reg.host, app["output_image"].split("/", 1)[1],
                                          self.work)
        with open(os.path.join(rootfs, "gramine/app/entrypoint.sig"), "rb") as f:
            pushed = f.read()
        self.assertEqual(openssl_verify_sigstruct(pushed, self.work).returncode, 0)
        self.assertEqual(hashlib.sha256(pushed[128:512]).hexdigest(), key["mrsigner"])
        self.assertEqual(pushed, base64.b64decode(
            self.api.ok("GET", f"/v1/builds/{build['id']}/sigstruct")["sigstruct"]))
        self.assertEqual(config["config"]["Labels"]["dev.cloister.mrsigner"], key["mrsigner"])
        tasks = self.api.ok("GET", "/v1/tasks?type=build_approval")["items"]
        self.assertEqual([t["target"] for t in tasks], [f"build:{build['id']}"])
        status, _, problem = self.api.call("POST", f"/v1/builds/{build['id']}/signature",
                                           {"signature": good})
        self.assertEqual(status, 409, problem)

        # the key's holder signs the next build with the command line
        second = self.build_of(self.convert(app["id"], date="2026-03-01"))
        self.assertEqual(second["state"], "awaiting_signature")
        apikey = self.api.ok("POST", "/v1/api-keys", {"name": "signer", "role": "operator"},
                             want=201)["secret"]
        done = json.loads(self.cli(apikey, "-o", "json", "build", "sign", second["id"],
                                   "--key", private))
        self.assertEqual(done["state"], "pending")
        self.assertEqual(done["mrsigner"], key["mrsigner"])
        self.assertRegex(done["output_digest"], r"^sha256:[0-9a-f]{64}$")

    def test_keys_are_imported_and_rotated_and_old_ones_stay_listed(self):
        private, public = self.new_key("imported")
        status, _, problem = self.api.call("POST", "/v1/signing-keys", {
            "private_key_pem": subprocess.run(
                ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                check=True, capture_output=True, text=True).stdout})
        self.assertEqual(status, 422, problem)
        self.assertIn("RSA-3072 with exponent 3", problem["errors"][0]["message"])
        with open(private) as f:
            imported = self.api.ok("POST", "/v1/signing-keys", {"private_key_pem": f.read()},
                                   want=201)
        self.assertNotIn("private_key_pem", imported)
        app = self.app(f"{self.reg.host}/team/app:v1")
        first = self.build_of(self.convert(app["id"]))
        self.assertEqual(first["mrsigner"], self.mrsigner_of(public))
        self.assertEqual(self.api.ok("POST", "/v1/signing-keys/rotate")["state"], "retired")
        status, _, _ = self.api.call("POST", "/v1/signing-keys/rotate")
        self.assertEqual(status, 409)
        second = self.build_of(self.convert(app["id"]))
        self.assertNotEqual(second["mrsigner"], first["mrsigner"])
        keys = self.api.ok("GET", "/v1/signing-keys")["items"]
        self.assertEqual([(k["mrsigner"], k["origin"], k["state"]) for k in keys],
                         [(first["mrsigner"], "imported", "retired"),
                          (second["mrsigner"], "generated", "active")])
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        self.assertEqual(actions.count("signing_key.retire"), 1)
        self.assertEqual(actions.count("signing_key.create"), 2)

    def expect_failure(self, app, words, attempts=1):
        job = self.convert(app["id"])
        self.assertEqual(job["state"], "failed", job)
        for w in words:
            self.assertIn(w, job["error"])
        self.assertEqual(job["attempts"], attempts, job)
        self.assertEqual(self.api.ok("GET", f"/v1/apps/{app['id']}/builds")["items"], [])
        return job

    def test_bad_input_fails_the_job_and_records_nothing(self):
        cases = [
            (self.app(f"{self.reg.host}/team/app:missing"), ["no image", "team/app:missing"]),
            (self.app(f"{self.reg.host}/team/tampered:v1"), ["does not match its digest"]),
            (self.app(f"{self.reg.host}/team/odd:v1"),
             ["application/vnd.example.strange.layer"]),
            (self.app(f"{self.reg.host}/team/bomb:v1"), ["more than 67108864 bytes"]),
            (self.app(f"{self.reg.host}/team/noentry:v1"), ["no entrypoint"]),
            (self.app(f"{self.reg.host}/team/app:v1", enclave_size=64 << 20, max_threads=1024),
             ["enclave"]),
        ]
        self.api.ok("POST", "/v1/registries", {"name": "locked", "host": self.locked.host,
                                               "tls": False, "username": "robot",
                                               "password": "wrong"}, want=201)
        cases.append((self.app(f"{self.locked.host}/private/app:v1"),
                      ["refused the credentials"]))
        for app, words in cases:
            with self.subTest(image=app["input_image"]):
                self.expect_failure(app, words)
        self.assertEqual(self.api.ok("GET", "/v1/builds")["items"], [])


if __name__ == "__main__":
    unittest.main()
