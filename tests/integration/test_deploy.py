"""Deployments end to end: a real daemon and worker deploy approved builds
to the fake Kubernetes API server (tests/peers/kubernetes.py), and kubectl,
run against the same fake, is the oracle: it must agree with every verdict
the worker reaches.  Create, scale, update to another build, roll back,
fail with the pods' own reasons, and undeploy without touching what is not
Cloister's."""
import base64
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
import kubernetes  # noqa: E402
from cloister_test import Api, Daemon, Worker, create_admin, new_database, psql  # noqa: E402
from oci_build import build_image, digest, push  # noqa: E402
from registry import Registry  # noqa: E402
from sgx_files import OCCLUM_EPC, occlum_config, sdk_signed_enclave  # noqa: E402

EPC = "sgx.intel.com/epc"


class Deploy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a 600 s progress deadline passes in 6 s here
        cls.kube = kubernetes.KubernetesPeer(deadline_scale=0.01)
        for i in (1, 2):
            cls.kube.add_node(f"sgx-{i}", allocatable={EPC: "8Gi"})
        cls.tmp = tempfile.mkdtemp(prefix="cl-deploy-")
        cls.kubeconfig = cls.kube.kubeconfig(os.path.join(cls.tmp, "kubeconfig"))
        url, cls.dbname = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1", "--kinds=deploy,undeploy")
        cls.registered_images()

    @classmethod
    def registered_images(cls):
        """Images for registered builds, in a real registry: an Occlum instance
        with its signed libOS, and EDP streams with their .sig, without it, and
        with another build's."""
        cls.reg = Registry()
        data = os.path.join(os.path.dirname(__file__), "..", "data")
        cls.sig = pathlib.Path(data, "sgx", "test_enclave.sig").read_bytes()
        sgxs = pathlib.Path(data, "sgx", "test_enclave.sgxs").read_bytes()
        layout = os.path.join(cls.tmp, "images")
        images = {
            "occlum": {"/occlum_instance/build/lib/libocclum-libos.signed.so":
                       sdk_signed_enclave(cls.sig), "/occlum_instance/Occlum.json": b"{}"},
            "edp": {"/app/app.sgxs": sgxs, "/app/app.sig": cls.sig},
            "edp-unsigned": {"/app/app.sgxs": sgxs},
            "edp-other": {"/app/app.sgxs": sgxs, "/app/app.sig": pathlib.Path(
                data, "gramine", "case-dev.sig").read_bytes()},
        }
        cls.images = {}
        for tag, files in images.items():
            build_image(layout, tag, [{"/bin/sh": b"#!/bin/sh\n"}, files])
            push(layout, tag, cls.reg.host, f"team/enclave:{tag}")
            cls.images[tag] = (f"{cls.reg.host}/team/enclave",
                               digest(cls.reg.host, f"team/enclave:{tag}"))

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.kube.close()

    def setUp(self):
        self.api = Api(self.d)
        self.api.login("admin@example.com", self.password)
        self.account = self.api.ok("POST", "/v1/accounts",
                                   {"name": "d-" + uuid.uuid4().hex[:8]}, want=201)["id"]
        self.api.ok("POST", "/v1/session/account", {"account_id": self.account})
        self.app = self.api.ok("POST", "/v1/apps", {
            "name": "web-" + uuid.uuid4().hex[:6], "input_image": "nginx:1.25",
            "output_image": "registry.example.com/acme/web-sgx:v1",
            "enclave_size": 256 << 20}, want=201)
        self.cluster = self.api.ok("POST", "/v1/clusters", {
            "name": "lab", "kind": "kubernetes",
            "kubeconfig": pathlib.Path(self.kubeconfig).read_text()}, want=201)
        self.ns = "ns-" + uuid.uuid4().hex[:8]

    def build(self, state="approved", digest=None):
        bid = str(uuid.uuid4())
        digest = digest or "sha256:" + uuid.uuid4().hex * 2
        psql(f"""INSERT INTO builds (id, account_id, app_id, job_id, state, input_image,
                   input_digest, runtime, runtime_version, runtime_image, runtime_digest,
                   output_image, output_digest, mrenclave, mrsigner, isvprodid, isvsvn, debug,
                   enclave_size, max_threads, sigstruct_date, manifest, trusted_files,
                   sigstruct, created_by)
                 VALUES ('{bid}', '{self.account}', '{self.app["id"]}', gen_random_uuid(),
                   '{state}', 'nginx:1.25', 'sha256:{"0" * 64}', 'gramine', '1.9',
                   'gramine-runtime:1.9', 'sha256:{"1" * 64}',
                   'registry.example.com/acme/web-sgx:v1', '{digest}', '{"ab" * 32}',
                   '{"5c" * 32}', 1, 0, false, 268435456, 16, current_date, '', 0, '\\x00',
                   'user:test')""", dbname=self.dbname)
        return bid, digest

    def wait(self, job):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            got = self.api.ok("GET", f"/v1/jobs/{job['id']}")
            if got["state"] in ("succeeded", "failed"):
                return got
            time.sleep(0.2)
        self.fail("the job never ended:\n" + self.worker.output())

    def kubectl(self, *args):
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args],
                              capture_output=True, text=True, timeout=60)

    def rollout_status(self, name):
        return self.kubectl("-n", self.ns, "rollout", "status", f"deployment/{name}",
                            "--timeout=5s")

    def register(self, runtime, tag, config, **settings):
        """An approved build of a new app of runtime, registered with the
        image `tag` of registered_images and test_enclave.sig."""
        self.api.call("POST", "/v1/registries", {"name": "local", "host": self.reg.host,
                                                 "tls": False})
        repo, at = self.images[tag]
        app = self.api.ok("POST", "/v1/apps", {
            "name": runtime + "-" + uuid.uuid4().hex[:6], "runtime": runtime,
            "isvprodid": 65535, "input_image": f"{repo}:{tag}", "output_image": repo,
            **settings}, want=201)
        build = self.api.ok("POST", f"/v1/apps/{app['id']}/builds", {
            "sigstruct": base64.b64encode(self.sig).decode(), "image": f"{repo}:{tag}@{at}",
            "runtime_config": config(app["id"]) if callable(config) else config}, want=201)
        self.api.ok("POST", f"/v1/tasks/{build['task_id']}/approve", {})
        return app, build

    def deploy(self, app, build):
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": app["id"], "build_id": build["id"], "cluster_id": self.cluster["id"],
            "namespace": self.ns, "replicas": 1}, want=202)
        return self.wait(job)

    def test_a_registered_occlum_build_deploys_as_a_converted_one_does(self):
        app, build = self.register("occlum", "occlum", occlum_config)
        self.assertEqual(build["enclave_size"], OCCLUM_EPC)
        done = self.deploy(app, build)
        self.assertEqual(done["state"], "succeeded", done)
        out = self.rollout_status(app["name"])
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        d = json.loads(self.kubectl("-n", self.ns, "get", "deployment", app["name"], "-o",
                                    "json").stdout)
        pod = d["spec"]["template"]["spec"]
        container = pod["containers"][0]
        repo, at = self.images["occlum"]
        self.assertEqual(container["image"], f"{repo}@{at}")
        # the EPC Occlum.json's limits commit, requested and limited
        self.assertEqual(container["resources"]["limits"][EPC], str(OCCLUM_EPC))
        self.assertEqual(container["resources"]["requests"][EPC], str(OCCLUM_EPC))
        # occlum run from the instance, cloister-init first inside the enclave
        self.assertEqual(container["command"], ["occlum", "run"])
        self.assertEqual(container["args"],
                         ["/bin/cloister-init", "--", "/bin/web", "--port", "8443"])
        self.assertEqual(container["workingDir"], "/occlum_instance")
        env = {e["name"]: e for e in container["env"]}
        self.assertEqual(env["CLOISTER_NODE_IP"]["valueFrom"]["fieldRef"]["fieldPath"],
                         "status.hostIP")
        self.assertEqual(env["SGX_AESM_ADDR"]["value"], "1")
        # quotes through the node's aesmd (AKS's quote helper)
        self.assertEqual(container["volumeMounts"],
                         [{"name": "aesmd", "mountPath": "/var/run/aesmd"}])
        self.assertEqual(pod["volumes"], [{"name": "aesmd", "hostPath": {
            "path": "/var/run/aesmd", "type": "Directory"}}])
        logs = self.api.ok("GET", f"/v1/jobs/{done['id']}/events")
        self.assertIn("carries the registered enclave in /occlum_instance/build/lib/"
                      "libocclum-libos.signed.so", json.dumps(logs))

    def test_an_image_without_the_registered_enclave_is_not_deployed(self):
        config = {"sgxs": "/app/app.sgxs", "args": ["--port", "8443"]}
        app, build = self.register("edp", "edp", config)
        done = self.deploy(app, build)
        self.assertEqual(done["state"], "succeeded", done)
        container = json.loads(self.kubectl("-n", self.ns, "get", "deployment", app["name"],
                                            "-o", "json").stdout)["spec"]["template"]["spec"][
                                                "containers"][0]
        self.assertEqual((container["command"], container["args"], container["workingDir"]),
                         (["ftxsgx-runner", "/app/app.sgxs"], ["--port", "8443"], "/app"))
        # without app.sig beside app.sgxs the runner would sign the enclave with a
        # dummy debug key; with another build's .sig it would run another enclave
        for tag, words in (("edp-unsigned", "the image does not carry the registered "
                            "enclave: the image has no \"/app/app.sig\""),
                           ("edp-other", "the image's \"/app/app.sig\" holds another "
                            "SIGSTRUCT than the one registered: MRENCLAVE")):
            app, build = self.register("edp", tag, config)
            done = self.deploy(app, build)
            self.assertEqual((done["state"], done["attempts"]), ("failed", 1), done)
            self.assertIn(words, done["error"])
            out = self.kubectl("-n", self.ns, "get", "deployment", app["name"])
            self.assertNotEqual(out.returncode, 0, "nothing is applied: " + out.stdout)

    def test_deploy_scale_update_roll_back_and_undeploy(self):
        build, digest = self.build()
        self.api.ok("POST", "/v1/registries", {"name": "out", "host": "registry.example.com",
                                               "username": "robot", "password": "pull-pw-1"},
                    want=201)
        status, _, job = self.api.call("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns, "replicas": 2, "ports": [{"port": 8443}]})
        self.assertEqual((status, job["kind"]), (202, "deploy"), job)
        dep = job["deployment_id"]
        done = self.wait(job)
        self.assertEqual(done["state"], "succeeded", done)
        got = self.api.ok("GET", f"/v1/deployments/{dep}")
        self.assertEqual((got["state"], got["build_deprecated"]), ("available", False))
        name = self.app["name"]
        # kubectl agrees, and sees what Cloister applied
        out = self.rollout_status(name)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("successfully rolled out", out.stdout)
        self.assertIn(f'deployment "{name}" successfully rolled out', got["status"]["message"])
        d = json.loads(self.kubectl("-n", self.ns, "get", "deployment", name, "-o", "json",
                                    "--show-managed-fields").stdout)
        container = d["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["image"], f"registry.example.com/acme/web-sgx@{digest}")
        self.assertEqual(container["resources"]["limits"][EPC], "268435456")
        self.assertEqual(container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
                         "status.hostIP")
        self.assertEqual(d["metadata"]["labels"]["dev.cloister/deployment"], dep)
        managers = {m["manager"] for m in d["metadata"]["managedFields"]}
        self.assertIn("cloister", managers)
        # the output registry's credentials, as the pods' image-pull Secret
        secret = json.loads(self.kubectl("-n", self.ns, "get", "secret", f"{name}-pull", "-o",
                                         "json").stdout)
        self.assertEqual(secret["type"], "kubernetes.io/dockerconfigjson")
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        self.assertEqual(config["auths"]["registry.example.com"]["username"], "robot")
        self.assertEqual(d["spec"]["template"]["spec"]["imagePullSecrets"],
                         [{"name": f"{name}-pull"}])
        svc = json.loads(self.kubectl("-n", self.ns, "get", "service", name, "-o",
                                      "json").stdout)
        self.assertEqual(svc["spec"]["ports"][0]["port"], 8443)
        # scale
        job = self.api.ok("POST", f"/v1/deployments/{dep}/scale", {"replicas": 3}, want=202)
        self.assertEqual(self.wait(job)["state"], "succeeded")
        pods = json.loads(self.kubectl("-n", self.ns, "get", "pods", "-l",
                                       f"dev.cloister/deployment={dep}", "-o", "json").stdout)
        self.assertEqual(len(pods["items"]), 3)
        # update to another approved build, then roll back
        build2, digest2 = self.build()
        job = self.api.ok("POST", f"/v1/deployments/{dep}/update", {"build_id": build2},
                          want=202)
        self.assertEqual(self.wait(job)["state"], "succeeded")
        image = lambda: json.loads(self.kubectl("-n", self.ns, "get", "deployment", name,  # noqa
                                                "-o", "json").stdout)[
            "spec"]["template"]["spec"]["containers"][0]["image"]
        self.assertTrue(image().endswith(digest2))
        job = self.api.ok("POST", f"/v1/deployments/{dep}/rollback", want=202)
        self.assertEqual(self.wait(job)["state"], "succeeded")
        self.assertTrue(image().endswith(digest))
        self.assertEqual(self.rollout_status(name).returncode, 0)
        # a deprecated build is flagged; an unapproved one does not deploy
        psql(f"UPDATE builds SET state = 'deprecated' WHERE id = '{build}'", dbname=self.dbname)
        self.assertTrue(self.api.ok("GET", f"/v1/deployments/{dep}")["build_deprecated"])
        pending, _ = self.build(state="pending")
        status, _, problem = self.api.call("POST", f"/v1/deployments/{dep}/update",
                                           {"build_id": pending})
        self.assertEqual(status, 422)
        self.assertIn("is pending", problem["errors"][0]["message"])
        # the app and the cluster cannot go while it runs
        self.assertEqual(self.api.call("DELETE", f"/v1/apps/{self.app['id']}")[0], 409)
        self.assertEqual(self.api.call("DELETE", f"/v1/clusters/{self.cluster['id']}")[0], 409)
        # undeploy: what Cloister applied goes, a foreign object stays
        self.kubectl("-n", self.ns, "create", "configmap", "foreign", "--from-literal=a=b")
        job = self.api.ok("DELETE", f"/v1/deployments/{dep}", want=202)
        self.assertEqual(self.wait(job)["state"], "succeeded")
        self.assertEqual(self.api.ok("GET", f"/v1/deployments/{dep}")["state"], "deleted")
        self.assertNotEqual(self.kubectl("-n", self.ns, "get", "deployment", name).returncode, 0)
        self.assertNotEqual(self.kubectl("-n", self.ns, "get", "service", name).returncode, 0)
        self.assertNotEqual(self.kubectl("-n", self.ns, "get", "secret",
                                         f"{name}-pull").returncode, 0)
        self.assertEqual(self.kubectl("-n", self.ns, "get", "configmap", "foreign").returncode,
                         0)
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=100")["items"]]
        for action in ("deployment.create", "deployment.scale", "deployment.update",
                       "deployment.rollback", "deployment.delete"):
            self.assertIn(action, actions)

    def test_the_command_line_deploys_scales_and_removes(self):
        build, _ = self.build()
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ops", "role": "operator"},
                          want=201)["secret"]
        env = {"PATH": os.environ["PATH"], "HOME": self.tmp,
               "CLOISTER_URL": f"http://127.0.0.1:{self.d.port}", "CLOISTER_API_KEY": key}

        def run(*args, code=0):
            res = subprocess.run([os.environ["CLOISTER_CLI"], *args], capture_output=True,
                                 text=True, env=env, timeout=120)
            self.assertEqual(res.returncode, code, res.stdout + res.stderr)
            return res.stdout
        for flag, value, words in (("--replicas", "two", "--replicas must be a whole number "
                                    "from 0 to 100"), ("--port", "443x", "--port must be"),
                                   ("--progress-deadline", "30", "from 60 to 86400")):
            res = subprocess.run([os.environ["CLOISTER_CLI"], "deploy", "create",
                                  self.app["name"], "--build", build, "--cluster", "lab",
                                  "--namespace", self.ns, flag, value], capture_output=True,
                                 text=True, env=env, timeout=60)
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn(words, res.stderr)
        out = run("-o", "json", "deploy", "create", self.app["name"], "--build", build,
                  "--cluster", "lab", "--namespace", self.ns, "--port", "443",
                  "--progress-deadline", "1800", "--wait")
        dep = json.loads(out)
        self.assertEqual((dep["state"], dep["ports"], dep["progress_deadline"]),
                         ("available", [{"port": 443}], 1800))
        got = json.loads(self.kubectl("-n", self.ns, "get", "deployment", self.app["name"],
                                      "-o", "json").stdout)
        self.assertEqual(got["spec"]["progressDeadlineSeconds"], 1800)
        status, _, problem = self.api.call("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns, "name": "hasty", "progress_deadline": 59})
        self.assertEqual(status, 422, problem)
        self.assertEqual(problem["errors"][0]["field"], "progress_deadline")
        self.assertEqual([d["id"] for d in json.loads(run("-o", "json", "deploy", "list"))],
                         [dep["id"]])
        self.assertEqual(json.loads(run("-o", "json", "deploy", "scale", dep["id"], "2",
                                        "--wait"))["replicas"], 2)
        run("deploy", "rollback", dep["id"], code=4)              # no other build: 409
        self.assertEqual(json.loads(run("-o", "json", "deploy", "rm", dep["id"],
                                        "--wait"))["state"], "deleted")

    def test_rate_limits_are_waited_out_and_unschedulable_pods_explained(self):
        build, _ = self.build()
        before = sum(1 for e in self.kube.log if e.get("status") == 429)
        self.kube.throttle(3, retry_after=1, method="PATCH")
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns, "name": "patient"}, want=202)
        done = self.wait(job)
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["attempts"], 1)            # waited out, not retried
        self.assertEqual(sum(1 for e in self.kube.log if e.get("status") == 429) - before, 3)
        # pods that cannot be scheduled: the scheduler's words
        self.kube.fail_deployment("nowhere", "unschedulable")
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns, "name": "nowhere"}, want=202)
        self.assertEqual(self.wait(job)["state"], "failed")
        got = self.api.ok("GET", f"/v1/deployments/{job['deployment_id']}")
        self.assertTrue(any("cannot be scheduled" in p and "Insufficient" in p
                            for p in got["status"]["problems"]), got["status"])

    def test_a_failed_rollout_says_why_as_kubectl_does(self):
        build, _ = self.build()
        name = "broken-" + uuid.uuid4().hex[:6]
        self.kube.fail_deployment(name, "image-pull")
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns, "name": name}, want=202)
        done = self.wait(job)
        self.assertEqual(done["state"], "failed", done)
        got = self.api.ok("GET", f"/v1/deployments/{job['deployment_id']}")
        self.assertEqual(got["state"], "failed")
        self.assertIn("exceeded its progress deadline", got["status"]["message"])
        self.assertTrue(any("ErrImagePull" in p or "ImagePullBackOff" in p
                            for p in got["status"]["problems"]), got["status"])
        out = self.rollout_status(name)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("exceeded its progress deadline", out.stderr)
        # an undeploy leaves an object of the same name that is not Cloister's
        other = "foreign-" + uuid.uuid4().hex[:6]
        self.kubectl("-n", self.ns, "create", "deployment", other, "--image=nginx")
        psql(f"UPDATE deployments SET name = '{other}' WHERE id = '{job['deployment_id']}'",
             dbname=self.dbname)
        gone = self.api.ok("DELETE", f"/v1/deployments/{job['deployment_id']}", want=202)
        self.assertEqual(self.wait(gone)["state"], "succeeded")
        self.assertEqual(self.kubectl("-n", self.ns, "get", "deployment", other).returncode, 0)


if __name__ == "__main__":
    unittest.main()


class DeployAks(unittest.TestCase):
    """An AKS cluster: before deploying, the worker turns the SGX add-on on
    (read, change, put back with the eTag) and creates the SGX node pool as
    the cluster's node_pool says, each followed through its Azure
    operation; then it deploys through the kubeconfig ARM gives it, signing
    in for its kubelogin user.  A quota error ends the deployment in
    Azure's words."""

    @classmethod
    def setUpClass(cls):
        import azure
        cls.azure_mod = azure
        cls.azure = azure.AzurePeer(retry_after=1)
        cls.azure.add_cluster("sgx-prod")                   # no SGX add-on yet
        cls.azure.add_cluster("small")
        cls.azure.add_cluster("renewal")
        cls.azure.quota_cores["standardDCSv3Family"] = 8
        cls.kube = kubernetes.KubernetesPeer(tokens=lambda t: cls.azure.kubelogin_user(t))
        cls.kube.add_aks_sgx_pool(2)
        cls.azure.serve_kubelogin_kubeconfig(cls.kube.kubeconfig_text())
        cls.tmp = tempfile.mkdtemp(prefix="cl-deploy-aks-")
        cls.kubeconfig = cls.kube.kubeconfig(os.path.join(cls.tmp, "kubeconfig"),
                                             token="unused")      # setUp's cluster
        url, cls.dbname = new_database()
        cls.d = Daemon(url).start()
        cls.password = create_admin(cls.d)
        cls.worker = Worker(url, cls.d.kek, "--poll-interval=1", "--kinds=deploy,undeploy",
                            f"--azure-login-url={cls.azure.url}", f"--arm-url={cls.azure.url}",
                            f"--azure-ca-file={cls.azure.ca_pem}")

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()
        cls.d.stop()
        cls.d.close()
        cls.azure.close()
        cls.kube.close()

    setUp = Deploy.setUp
    build = Deploy.build
    wait = Deploy.wait

    def aks_cluster(self, name, count):
        az = self.azure_mod
        return self.api.ok("POST", "/v1/clusters", {
            "name": name, "kind": "aks", "subscription_id": az.SUBSCRIPTION,
            "resource_group": self.azure.resource_group, "cluster_name": name,
            "azure": {"tenant_id": az.TENANT, "client_id": az.CLIENT_ID,
                      "client_secret": az.CLIENT_SECRET},
            "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC4s_v3", "count": count,
                          "labels": {"tier": "cc"}, "taints": ["sgx=true:NoSchedule"]}},
            want=201)

    def test_the_add_on_and_the_pool_are_kept_then_the_build_deploys(self):
        cluster = self.aks_cluster("sgx-prod", 2)
        build, digest = self.build()
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": cluster["id"],
            "namespace": self.ns}, want=202)
        done = self.wait(job)
        self.assertEqual(done["state"], "succeeded", done)
        path = self.azure.cluster_path("sgx-prod")
        put = self.azure.last_body(path)
        self.assertTrue(put["properties"]["addonProfiles"]["ACCSGXDevicePlugin"]["enabled"])
        self.assertEqual(put["properties"]["kubernetesVersion"], "1.30.6")   # the rest kept
        pool = self.azure.last_body(self.azure.pool_path("sgxpool", "sgx-prod"))["properties"]
        self.assertEqual((pool["vmSize"], pool["count"], pool["nodeLabels"], pool["nodeTaints"],
                          pool["mode"]),
                         ("Standard_DC4s_v3", 2, {"tier": "cc"}, ["sgx=true:NoSchedule"],
                          "User"))
        d = self.kube.get("deployments", self.app["name"], self.ns)
        spec = d["spec"]["template"]["spec"]
        self.assertEqual(spec["nodeSelector"], {"agentpool": "sgxpool"})
        self.assertEqual(spec["tolerations"][0]["key"], "sgx")
        self.assertEqual(spec["containers"][0]["resources"]["requests"]
                         ["kubernetes.azure.com/sgx_epc_mem_in_MiB"], "256")
        # the next change finds the add-on on and the pool as described: no writes
        puts = (self.azure.count("PUT", path),
                self.azure.count("PUT", self.azure.pool_path("sgxpool", "sgx-prod")))
        job = self.api.ok("POST", f"/v1/deployments/{job['deployment_id']}/scale",
                          {"replicas": 2}, want=202)
        self.assertEqual(self.wait(job)["state"], "succeeded")
        self.assertEqual((self.azure.count("PUT", path),
                          self.azure.count("PUT", self.azure.pool_path("sgxpool", "sgx-prod"))),
                         puts)

    def test_a_token_that_expires_during_an_operation_is_renewed_once(self):
        az = self.azure_mod
        cluster = self.api.ok("POST", "/v1/clusters", {
            "name": "renewal", "kind": "aks", "subscription_id": az.SUBSCRIPTION,
            "resource_group": self.azure.resource_group, "cluster_name": "renewal",
            "azure": {"tenant_id": az.TENANT, "client_id": az.CLIENT_ID,
                      "client_secret": az.CLIENT_SECRET},
            "node_pool": {"name": "sgxpool", "vm_size": "Standard_DC2s_v2", "count": 1,
                          "taints": ["sgx=true:NoSchedule"]}},
            want=201)
        build, _ = self.build()
        pool = self.azure.pool_path("sgxpool", "renewal")
        self.azure.lro_polls = 4                            # about four seconds of polling
        self.addCleanup(setattr, self.azure, "lro_polls", 2)
        issued = self.azure.tokens_issued.get(az.CLIENT_ID, 0)
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": cluster["id"],
            "namespace": self.ns}, want=202)
        deadline = time.monotonic() + 30
        while self.azure.count("PUT", pool) == 0:
            self.assertLess(time.monotonic(), deadline, self.worker.output())
            time.sleep(0.05)
        self.azure.expire_tokens()                          # while the worker polls
        done = self.wait(job)
        self.assertEqual(done["state"], "succeeded", done)
        refused = [r for r in self.azure.requests if r[2] == 401]
        self.assertEqual(len(refused), 1, refused)          # one refusal, then a new token
        # ARM: the first sign-in, the renewal, the kubeconfig's; the cluster's own
        self.assertEqual(self.azure.tokens_issued[az.CLIENT_ID] - issued, 4)

    def test_a_quota_error_ends_the_deployment_in_azures_words(self):
        cluster = self.aks_cluster("small", 5)              # 20 cores, over a quota of 8
        build, _ = self.build()
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": cluster["id"],
            "namespace": self.ns}, want=202)
        self.assertEqual(self.wait(job)["state"], "failed")
        got = self.api.ok("GET", f"/v1/deployments/{job['deployment_id']}")
        self.assertEqual(got["state"], "failed")
        self.assertIn("QuotaExceeded", got["status"]["error"])


class DeployKill(unittest.TestCase):
    """A worker killed in the middle of a rollout: its lease runs out, a
    second worker takes the job and finishes it; applying again changes
    nothing that was right."""

    @classmethod
    def setUpClass(cls):
        cls.kube = kubernetes.KubernetesPeer()
        cls.kube.add_node("sgx-1", allocatable={EPC: "8Gi"})
        cls.tmp = tempfile.mkdtemp(prefix="cl-deploy-kill-")
        cls.kubeconfig = cls.kube.kubeconfig(os.path.join(cls.tmp, "kubeconfig"))
        cls.url, cls.dbname = new_database()
        cls.d = Daemon(cls.url).start()
        cls.password = create_admin(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()
        cls.kube.close()

    setUp = Deploy.setUp
    build = Deploy.build
    wait = Deploy.wait

    def test_another_worker_finishes_the_rollout(self):
        import signal
        build, digest = self.build()
        first = Worker(self.url, self.d.kek, "--poll-interval=1", "--lease=3",
                       "--kinds=deploy")
        self.addCleanup(first.close)
        self.worker = first
        self.kube.pause_controller()                    # the rollout waits
        job = self.api.ok("POST", "/v1/deployments", {
            "app_id": self.app["id"], "build_id": build, "cluster_id": self.cluster["id"],
            "namespace": self.ns}, want=202)
        deadline = time.monotonic() + 30
        while self.kube.last_applied("deployments", self.app["name"], self.ns) is None:
            self.assertLess(time.monotonic(), deadline, first.output())
            time.sleep(0.1)
        first.stop(signal.SIGKILL)
        second = Worker(self.url, self.d.kek, "--poll-interval=1", "--lease=3",
                        "--kinds=deploy")
        self.addCleanup(second.close)
        self.worker = second
        self.kube.resume_controller()
        done = self.wait(job)
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["attempts"], 2)
        got = self.api.ok("GET", f"/v1/deployments/{job['deployment_id']}")
        self.assertEqual(got["state"], "available")
        d = self.kube.get("deployments", self.app["name"], self.ns)
        self.assertEqual(d["metadata"]["generation"], 1)    # the second apply changed nothing
        self.assertTrue(d["spec"]["template"]["spec"]["containers"][0]["image"]
                        .endswith(digest))
