"""POST /v1/images/inspect and the image.inspect job against Debian's
docker-registry, with images made by umoci and pushed by skopeo: OCI and
Docker manifests, a multi-platform index, private registries; and bad
input: unknown images, a registry that lies about a digest, a manifest over
the size bound."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from lying_registry import LyingRegistry  # noqa: E402
from registry import Registry  # noqa: E402
from token_server import TokenServer  # noqa: E402

from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402


def make_image(layout, tag, arch="amd64"):
    subprocess.run(["umoci", "new", "--image", f"{layout}:{tag}"], check=True)
    subprocess.run(["umoci", "config", "--image", f"{layout}:{tag}", "--config.entrypoint",
                    "/usr/bin/app", "--config.cmd", "--serve", "--config.env", "FOO=bar",
                    "--config.workingdir", "/srv", "--config.exposedports", "8080/tcp",
                    "--os", "linux", "--architecture", arch], check=True)


def add_index(layout, tag, tags):
    """An OCI index over the manifests tagged `tags`, tagged `tag`."""
    with open(os.path.join(layout, "index.json")) as f:
        top = json.load(f)
    entries = []
    for t in tags:
        m = next(m for m in top["manifests"]
                 if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == t)
        with open(os.path.join(layout, "blobs", "sha256", m["digest"][7:])) as f:
            manifest = json.load(f)
        with open(os.path.join(layout, "blobs", "sha256",
                               manifest["config"]["digest"][7:])) as f:
            config = json.load(f)
        entries.append({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
                        "platform": {"os": config["os"], "architecture": config["architecture"]}})
    body = json.dumps({"schemaVersion": 2, "mediaType":
                       "application/vnd.oci.image.index.v1+json",
                       "manifests": entries}).encode()
    digest = hashlib.sha256(body).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(body)
    top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                             "digest": "sha256:" + digest, "size": len(body),
                             "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(top, f)


def push(layout, tag, host, repo, fmt=None, creds=None, all_=False):
    args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if fmt:
        args += ["--format", fmt]
    if creds:
        args += ["--dest-creds", creds]
    if all_:
        args += ["--all"]
    subprocess.run(args + [f"oci:{layout}:{tag}", f"docker://{host}/{repo}"], check=True,
                   capture_output=True)


class Images(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, _ = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--slots=4", "--poll-interval=1")
        cls.open = Registry()
        cls.locked = Registry(users={"robot": "pw-robot-1"})
        cls.liar = LyingRegistry()
        cls.tmp = tempfile.mkdtemp(prefix="cl-images-")
        cls.tokens = TokenServer(cls.tmp, {"robot": "pw-robot-1"})
        cls.bearer = Registry(auth_section=cls.tokens.registry_auth())
        layout = os.path.join(cls.tmp, "layout")
        subprocess.run(["umoci", "init", "--layout", layout], check=True)
        make_image(layout, "v1")
        make_image(layout, "arm", arch="arm64")
        add_index(layout, "multi", ["arm", "v1"])
        push(layout, "v1", cls.open.host, "team/app:v1")
        push(layout, "v1", cls.open.host, "team/app:docker", fmt="v2s2")
        push(layout, "multi", cls.open.host, "team/app:multi", all_=True)
        push(layout, "arm", cls.open.host, "team/app:arm-only")
        push(layout, "v1", cls.locked.host, "private/app:v1", creds="robot:pw-robot-1")
        push(layout, "v1", cls.bearer.host, "tokened/app:v1", creds="robot:pw-robot-1")

    @classmethod
    def tearDownClass(cls):
        for x in (cls.worker, cls.open, cls.locked, cls.liar, cls.bearer, cls.tokens):
            x.close()
        cls.d.stop()
        cls.d.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        account = self.api.ok("POST", "/v1/accounts", {"name": "img-" + uuid.uuid4().hex[:8]},
                              want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": account})

    def registry(self, host, **creds):
        return self.api.ok("POST", "/v1/registries", {"name": "r" + uuid.uuid4().hex[:8],
                                                      "host": host, "tls": False, **creds},
                           want=201)["id"]

    def inspect(self, reference, registry_id):
        status, _, job = self.api.call("POST", "/v1/images/inspect",
                                       {"reference": reference, "registry_id": registry_id})
        self.assertEqual(status, 202, job)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.api.ok("GET", f"/v1/jobs/{job['id']}")
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(0.1)
        self.fail(f"inspect did not end: {job}")

    def expect_image(self, job, media_type):
        self.assertEqual(job["state"], "succeeded", job)
        r = job["result"]
        self.assertEqual(r["media_type"], media_type)
        self.assertRegex(r["digest"], r"^sha256:[0-9a-f]{64}$")
        self.assertEqual(r["platform"], {"os": "linux", "architecture": "amd64"})
        self.assertEqual(r["entrypoint"], ["/usr/bin/app"])
        self.assertEqual(r["cmd"], ["--serve"])
        self.assertIn("FOO=bar", r["env"])
        self.assertEqual(r["working_dir"], "/srv")
        self.assertEqual(r["exposed_ports"], ["8080/tcp"])
        self.assertGreater(r["size"], 0)
        return r

    def skopeo_digest(self, host, repo, creds=None):
        args = ["skopeo", "inspect", "--tls-verify=false", "--raw"]
        if creds:
            args += ["--creds", creds]
        raw = subprocess.run(args + [f"docker://{host}/{repo}"], check=True,
                             capture_output=True).stdout
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def test_oci_manifest(self):
        reg = self.registry(self.open.host)
        r = self.expect_image(self.inspect(f"{self.open.host}/team/app:v1", reg),
                              "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(r["digest"], self.skopeo_digest(self.open.host, "team/app:v1"))
        # the same image by its digest
        again = self.inspect(f"{self.open.host}/team/app@{r['digest']}", reg)
        self.assertEqual(again["result"]["digest"], r["digest"])

    def test_docker_manifest(self):
        reg = self.registry(self.open.host)
        self.expect_image(self.inspect(f"{self.open.host}/team/app:docker", reg),
                          "application/vnd.docker.distribution.manifest.v2+json")

    def test_index_picks_linux_amd64(self):
        reg = self.registry(self.open.host)
        r = self.expect_image(self.inspect(f"{self.open.host}/team/app:multi", reg),
                              "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(r["digest"], self.skopeo_digest(self.open.host, "team/app:v1"))
        job = self.inspect(f"{self.open.host}/team/app:arm-only", reg)
        self.assertEqual(job["state"], "succeeded")     # a single manifest is taken as is
        self.assertEqual(job["result"]["platform"]["architecture"], "arm64")

    def test_private_registry(self):
        good = self.registry(self.locked.host, username="robot", password="pw-robot-1")
        self.expect_image(self.inspect(f"{self.locked.host}/private/app:v1", good),
                          "application/vnd.oci.image.manifest.v1+json")
        bad = self.registry(self.locked.host, username="robot", password="wrong")
        job = self.inspect(f"{self.locked.host}/private/app:v1", bad)
        self.assertEqual(job["state"], "failed")
        self.assertIn("refused the credentials", job["error"])
        self.assertEqual(job["attempts"], 1)

    def test_an_app_learns_its_input_digest(self):
        self.registry(self.locked.host, username="robot", password="pw-robot-1")
        app = self.api.ok("POST", "/v1/apps", {
            "name": "web", "input_image": f"{self.locked.host}/private/app:v1",
            "output_image": f"{self.locked.host}/private/app-sgx"}, want=201)
        self.assertIsNone(app["input_digest"])
        job = self.wait_job(app["input_inspect_job"])
        self.assertEqual(job["state"], "succeeded", job)   # the account's registry lent its
        self.assertEqual(job["target"], f"app:{app['id']}")  # credentials by host
        want = self.skopeo_digest(self.locked.host, "private/app:v1", creds="robot:pw-robot-1")
        self.assertEqual(self.api.ok("GET", f"/v1/apps/{app['id']}")["input_digest"], want)
        changed = self.api.ok("PATCH", f"/v1/apps/{app['id']}",
                              {"input_image": f"{self.locked.host}/private/none:v1"})
        self.assertIsNone(changed["input_digest"])
        self.assertNotEqual(changed["input_inspect_job"], app["input_inspect_job"])
        self.assertEqual(self.wait_job(changed["input_inspect_job"])["state"], "failed")
        self.assertIsNone(self.api.ok("GET", f"/v1/apps/{app['id']}")["input_digest"])

    def wait_job(self, job_id):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = self.api.ok("GET", f"/v1/jobs/{job_id}")
            if job["state"] in ("succeeded", "failed"):
                return job
            time.sleep(0.1)
        self.fail(f"job {job_id} did not end")

    def test_token_authenticated_registry(self):
        reg = self.registry(self.bearer.host, username="robot", password="pw-robot-1")
        self.expect_image(self.inspect(f"{self.bearer.host}/tokened/app:v1", reg),
                          "application/vnd.oci.image.manifest.v1+json")

    def test_unknown_image_and_bad_references(self):
        reg = self.registry(self.open.host)
        job = self.inspect(f"{self.open.host}/team/nothing:v9", reg)
        self.assertEqual(job["state"], "failed")
        self.assertIn("has no image team/nothing:v9", job["error"])
        self.assertEqual(job["attempts"], 1)
        for ref, field in [("Not A Ref", "reference"), (f"{self.open.host}/x@sha256:12", "reference"),
                           ("other.example.com/x:1", "reference")]:
            status, _, doc = self.api.call("POST", "/v1/images/inspect",
                                           {"reference": ref, "registry_id": reg})
            self.assertEqual(status, 422, ref)
            self.assertEqual(doc["errors"][0]["field"], field)
        status, _, doc = self.api.call("POST", "/v1/images/inspect",
                                       {"reference": "nginx", "registry_id": str(uuid.uuid4())})
        self.assertEqual(doc["errors"][0]["field"], "registry_id")

    def test_a_lying_registry(self):
        reg = self.registry(self.liar.host)
        job = self.inspect(f"{self.liar.host}/liar:v1", reg)
        self.assertEqual(job["state"], "failed")
        self.assertIn("does not match its digest", job["error"])
        job = self.inspect(f"{self.liar.host}/huge:v1", reg)
        self.assertEqual(job["state"], "failed")
        self.assertIn("larger than", job["error"])


if __name__ == "__main__":
    unittest.main()
