"""Builds registered from outside (issue 13): an enclave made with another
runtime's tools (Occlum, SCONE, the SGX SDK, Fortanix EDP, or Gramine signed
elsewhere) is registered by its SIGSTRUCT and the image that carries it,
pinned by digest, and then goes through approval like a converted build.
The SIGSTRUCTs are the real ones of tests/data (test_enclave.sig from
Fortanix's rust-sgx, sig1, and Gramine's case-dev.sig)."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from cloister_test import SOURCE_DIR, AccountTestCase  # noqa: E402
from sgx_files import (OCCLUM_EPC, occlum_config, occlum_json,  # noqa: E402
                       sdk_signed_enclave)

CLI = os.environ.get("CLOISTER_CLI")

DATA = os.path.join(SOURCE_DIR, "tests", "data")
MRENCLAVE = "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc"
MRSIGNER = "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542"
DIGEST = "sha256:" + "5e" * 32
IMAGE = "registry.example.com/team/occlum-app:v1"


def sigstruct(path):
    with open(os.path.join(DATA, path), "rb") as f:
        return f.read()


def b64(data):
    return base64.b64encode(data).decode()


class Register(AccountTestCase):
    def app(self, **settings):
        body = {"name": "app-" + uuid.uuid4().hex[:8], "input_image": IMAGE,
                "output_image": "registry.example.com/team/occlum-app", "runtime": "occlum",
                "isvprodid": 65535}
        body.update(settings)
        return self.api.ok("POST", "/v1/apps", body, want=201)

    def register(self, app_id, sig, image=IMAGE + "@" + DIGEST, **extra):
        return self.api.call("POST", f"/v1/apps/{app_id}/builds",
                             {"sigstruct": b64(sig), "image": image, **extra})

    def test_a_registered_sigstruct_is_a_build_to_approve(self):
        app = self.app()
        # an occlum app's builds are registered, not converted
        status, _, problem = self.api.call("POST", f"/v1/apps/{app['id']}/builds")
        self.assertEqual(status, 409, problem)
        self.assertIn("registered with their SIGSTRUCT", problem["detail"])
        sig = sigstruct("sgx/test_enclave.sig")
        status, headers, build = self.register(app["id"], sig, measured_from="sgx-sdk-enclave",
                                               enclave_size=1 << 30,
                                               runtime_config=occlum_config(app["id"]))
        self.assertEqual(status, 201, build)
        self.assertEqual(build["runtime_config"], occlum_config(app["id"]))
        self.assertEqual(headers["location"], f"/v1/builds/{build['id']}")
        self.assertEqual(
            {k: build[k] for k in ("origin", "measured_from", "runtime", "state", "mrenclave",
                                   "mrsigner", "isvprodid", "isvsvn", "debug", "output_image",
                                   "output_digest", "enclave_size", "sigstruct_date",
                                   "job_id")},
            {"origin": "registered", "measured_from": "sgx-sdk-enclave", "runtime": "occlum",
             "state": "pending", "mrenclave": MRENCLAVE, "mrsigner": MRSIGNER,
             "isvprodid": 65535, "isvsvn": 0, "debug": False, "output_image": IMAGE,
             "output_digest": DIGEST, "enclave_size": 1 << 30, "sigstruct_date": "2016-12-14",
             "job_id": None})
        # the SIGSTRUCT is served back byte for byte; there is no manifest
        got = self.api.ok("GET", f"/v1/builds/{build['id']}/sigstruct")
        self.assertEqual(base64.b64decode(got["sigstruct"]), sig)
        self.assertEqual((got["signed"], got["mrsigner"]), (True, MRSIGNER))
        status, _, problem = self.api.call("GET", f"/v1/builds/{build['id']}/manifest")
        self.assertEqual(status, 404, problem)
        self.assertIn("registered, not converted", problem["detail"])
        # the same SIGSTRUCT twice is one build
        status, _, problem = self.register(app["id"], sig,
                                           runtime_config=occlum_config(app["id"]))
        self.assertEqual(status, 409, problem)
        self.assertIn("already registered", problem["detail"])
        self.assertIn("deny its approval or deprecate it first", problem["detail"])
        # approval as for any build
        task = self.api.ok("GET", f"/v1/tasks/{build['task_id']}")
        self.assertEqual((task["type"], task["details"]["mrenclave"]),
                         ("build_approval", MRENCLAVE))
        self.api.ok("POST", f"/v1/tasks/{task['id']}/approve", {})
        self.assertEqual(self.api.ok("GET", f"/v1/builds/{build['id']}")["state"], "approved")
        status, _, problem = self.register(app["id"], sig,
                                           runtime_config=occlum_config(app["id"]))
        self.assertEqual(status, 409, problem)
        # once deprecated (or denied), it registers again, with what was wrong put right
        self.api.ok("POST", f"/v1/builds/{build['id']}/deprecate", {"reason": "wrong entry"})
        config = occlum_config(app["id"])
        config["entrypoint"] = ["/bin/web", "--port", "9443"]
        status, _, again = self.register(app["id"], sig, runtime_config=config)
        self.assertEqual((status, again["state"], again["runtime_config"]["entrypoint"][2]),
                         (201, "pending", "9443"), again)
        self.assertNotEqual(again["id"], build["id"])
        actions = [e["action"] for e in self.api.ok("GET", "/v1/audit?limit=20")["items"]]
        for action in ("build.register", "task.create"):
            self.assertIn(action, actions)

    def test_gramine_signed_elsewhere_registers_too(self):
        app = self.app(runtime="gramine", isvprodid=0)
        status, _, build = self.register(app["id"], sigstruct("sgx/sig1.sigstruct.bin"))
        self.assertEqual(status, 201, build)
        self.assertEqual((build["runtime"], build["measured_from"], build["enclave_size"]),
                         ("gramine", "sigstruct", app["enclave_size"]))
        self.assertEqual(build["mrenclave"],
                         "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d")

    @unittest.skipUnless(CLI, "CLOISTER_CLI names the cloister binary")
    def test_the_command_line_reads_the_sigstruct_where_each_runtime_keeps_it(self):
        key = self.api.ok("POST", "/v1/api-keys", {"name": "ci", "role": "admin"},
                          want=201)["secret"]
        work = tempfile.mkdtemp()
        sig = sigstruct("sgx/test_enclave.sig")
        enclave = os.path.join(work, "libocclum-libos.signed.so")
        with open(enclave, "wb") as f:
            f.write(sdk_signed_enclave(sig))

        def cli(*args, want=0):
            res = subprocess.run([CLI, "-o", "json", "--url", f"http://127.0.0.1:{self.d.port}",
                                  *args], capture_output=True, text=True, timeout=60,
                                 env={"PATH": os.environ["PATH"], "HOME": work,
                                      "CLOISTER_API_KEY": key})
            self.assertEqual(res.returncode, want, res.stdout + res.stderr)
            return json.loads(res.stdout) if want == 0 else res.stderr
        # Occlum: the SIGSTRUCT from the signed enclave, the EPC from its Occlum.json
        occlum = self.app()
        run = os.path.join(work, "occlum-run.json")
        with open(run, "w") as f:
            json.dump({k: v for k, v in occlum_config(occlum["id"]).items()
                       if k != "occlum_json"}, f)
        with open(os.path.join(work, "Occlum.json"), "w") as f:
            json.dump(occlum_json(occlum["id"]), f)
        build = cli("build", "register", occlum["name"], "--enclave", enclave,
                    "--image", IMAGE + "@" + DIGEST, "--runtime-config", run,
                    "--occlum-json", os.path.join(work, "Occlum.json"))
        self.assertEqual((build["measured_from"], build["mrenclave"], build["enclave_size"],
                          build["state"]), ("sgx-sdk-enclave", MRENCLAVE, OCCLUM_EPC, "pending"))
        self.assertEqual(build["runtime_config"], occlum_config(occlum["id"]))
        self.api.ok("POST", f"/v1/tasks/{build['task_id']}/approve", {})
        self.assertEqual(cli("build", "deprecate", build["id"], "--reason", "CVE fix")["state"],
                         "deprecated")
        # an SGX SDK app without a configuration: its metadata's enclave size, an upper bound
        build = cli("build", "register", self.app(runtime="sgx-sdk")["name"], "--enclave",
                    enclave, "--image", IMAGE + "@" + DIGEST)
        self.assertEqual((build["runtime"], build["enclave_size"], build["runtime_config"]),
                         ("sgx-sdk", 0x40000, None))
        with open(os.path.join(work, "bad.json"), "w") as f:
            f.write('{"sgxs": "/a.sgxs", "sgxs": "/b.sgxs"}')
        stderr = cli("build", "register", occlum["name"], "--enclave", enclave, "--image",
                     IMAGE + "@" + DIGEST, "--runtime-config", os.path.join(work, "bad.json"),
                     want=2)
        self.assertIn("is not a JSON object", stderr)
        edp_run = os.path.join(work, "edp-run.json")
        with open(edp_run, "w") as f:
            json.dump({"sgxs": "/app/app.sgxs"}, f)
        # EDP: the .sig, checked here against the .sgxs it signs; --enclave-size wins
        edp = self.app(runtime="edp")
        build = cli("build", "register", edp["name"], "--sig", os.path.join(DATA, "sgx",
                    "test_enclave.sig"), "--sgxs", os.path.join(DATA, "sgx", "test_enclave.sgxs"),
                    "--image", IMAGE + "@" + DIGEST, "--enclave-size", "1G",
                    "--runtime-config", edp_run)
        self.assertEqual((build["measured_from"], build["runtime"], build["enclave_size"]),
                         ("sgxs", "edp", 1 << 30))
        # without it, the EPC the stream takes: the 9 pages it adds
        build = cli("build", "register", self.app(runtime="edp")["name"], "--sig",
                    os.path.join(DATA, "sgx", "test_enclave.sig"), "--sgxs",
                    os.path.join(DATA, "sgx", "test_enclave.sgxs"), "--image",
                    IMAGE + "@" + DIGEST, "--runtime-config", edp_run)
        self.assertEqual(build["enclave_size"], 9 * 4096)
        stderr = cli("build", "register", edp["name"], "--sig",
                     os.path.join(DATA, "gramine", "case-dev.sig"), "--sgxs",
                     os.path.join(DATA, "sgx", "test_enclave.sgxs"), "--image",
                     IMAGE + "@" + DIGEST, want=6)
        self.assertIn("but the SIGSTRUCT signs", stderr)
        # the daemon's refusals come back as such
        stderr = cli("build", "register", self.app(isvprodid=7)["name"], "--enclave", enclave,
                     "--image", IMAGE + "@" + DIGEST, "--runtime-config", run, want=6)
        self.assertIn("ISVPRODID is 65535", stderr)
        stderr = cli("build", "register", occlum["name"], "--enclave", enclave, want=2)
        self.assertIn("--image", stderr)

    def test_what_the_app_does_not_allow_is_refused_by_reason(self):
        sig = sigstruct("sgx/test_enclave.sig")
        tampered = bytearray(sig)
        tampered[960] ^= 1
        dev = sigstruct("gramine/case-dev.sig")        # ISVPRODID 5, ISVSVN 1, debug
        app = self.app()
        other = self.app(isvprodid=7)
        strict = self.app(runtime="sgx-sdk", isvprodid=5)
        svn = self.app(runtime="edp", isvprodid=5, debug=True, min_isvsvn=2)
        cases = [
            (app, bytes(tampered), IMAGE + "@" + DIGEST, {}, "sigstruct",
             "signature"),
            (app, sig[:1000], IMAGE + "@" + DIGEST, {}, "sigstruct",
             "must be the 1808 bytes of a SIGSTRUCT"),
            (other, sig, IMAGE + "@" + DIGEST, {}, "sigstruct",
             "its ISVPRODID is 65535; the app's isvprodid is 7"),
            (strict, dev, IMAGE + "@" + DIGEST, {}, "sigstruct", "debug enclave"),
            (svn, dev, IMAGE + "@" + DIGEST, {}, "sigstruct",
             "its ISVSVN 1 is below the app's min_isvsvn 2"),
            (app, sig, IMAGE, {}, "image", "must be pinned by digest"),
            (app, sig, "Not An Image@@", {}, "image", ""),
            (app, sig, IMAGE + "@" + DIGEST, {"enclave_size": 1000}, "enclave_size",
             "4096-byte pages"),
            (app, sig, IMAGE + "@" + DIGEST, {"measured_from": "guess"}, "measured_from", ""),
        ]
        for target, data, image, extra, field, words in cases:
            status, _, problem = self.register(target["id"], data, image, **extra)
            self.assertEqual(status, 422, (field, words, problem))
            errors = {e["field"]: e["message"] for e in problem.get("errors", [])}
            self.assertIn(field, errors, problem)
            self.assertIn(words, errors[field], problem)
        # nothing was recorded
        self.assertEqual(self.api.ok("GET", "/v1/builds")["items"], [])
        # another account's app is not found
        status, _, _ = self.api.call("POST", f"/v1/apps/{uuid.uuid4()}/builds",
                                     {"sigstruct": b64(sig), "image": IMAGE + "@" + DIGEST})
        self.assertEqual(status, 404)

    def test_what_a_runtime_needs_to_start_the_image_is_checked_by_its_rules(self):
        sig = sigstruct("sgx/test_enclave.sig")        # ISVPRODID 65535, ISVSVN 0, no debug
        occlum = self.app()
        good = occlum_config(occlum["id"])

        def changed(**parts):
            config = json.loads(json.dumps(good))
            for path, value in parts.items():
                *outer, last = path.split("__")
                node = config
                for key in outer:
                    node = node[key]
                if value is None:
                    del node[last]
                else:
                    node[last] = value
            return config
        cases = [
            (occlum, None, "an Occlum build needs one"),
            (occlum, changed(occlum_json__metadata__product_id=7),
             "occlum_json.metadata.product_id is 7, but the SIGSTRUCT's ISVPRODID is 65535"),
            (occlum, changed(occlum_json__metadata__version_number=3),
             "version_number is 3, but the SIGSTRUCT's ISVSVN is 0"),
            (occlum, changed(occlum_json__metadata__debuggable=None),
             "debuggable is true (as it is when left out)"),
            (occlum, changed(entrypoint=["/usr/bin/web"]),
             "entrypoint[0] \"/usr/bin/web\" is under none of occlum_json's entry_points"),
            (occlum, changed(entrypoint=["web"]), "entrypoint[0] must be the program's"),
            (occlum, changed(instance_dir="occlum_instance"), "instance_dir must be an absolute"),
            (occlum, changed(occlum_json__env__default=["OCCLUM=yes"]),
             f"env.default must hold \"CLOISTER_APP_ID={occlum['id']}\""),
            (occlum, changed(occlum_json__env__untrusted=[]),
             "env.untrusted must list \"CLOISTER_NODE_IP\""),
            (occlum, changed(occlum_json__resource_limits__user_space_size="lots"),
             "resource_limits.user_space_size must be a size such as \"256MB\""),
            (occlum, changed(occlum_json__resource_limits__user_space_size=1 << 62),
             "resource_limits.user_space_size must be a size such as \"256MB\", at most 64GB"),
            (occlum, changed(occlum_json__resource_limits__max_num_of_threads=0),
             "max_num_of_threads must be a whole number from 1 to 4096"),
            (occlum, changed(shell="bash"), "has no field \"shell\""),
            (self.app(runtime="edp"), {}, "needs sgxs"),
            (self.app(runtime="edp"), {"sgxs": "/app/app.bin"}, "must name a .sgxs file"),
            (self.app(runtime="edp"), {"sgxs": "/app/app.sgxs", "quoting": "dcap"},
             "quoting must be one of \"none\", \"aesmd\""),
            (self.app(runtime="scone"), {"cas_addr": "cas.example.com:18765"},
             "cas_addr and config_id go together"),
            (self.app(runtime="scone"), {"cas_addr": "cas", "config_id": "no-service"},
             "config_id must be SESSION/SERVICE"),
            (self.app(runtime="sgx-sdk"), {"command": "./app"}, "command must be an array"),
            (self.app(runtime="gramine", isvprodid=65535), {"entrypoint": ["/app"]},
             "Gramine takes none"),
        ]
        for app, config, words in cases:
            extra = {} if config is None else {"runtime_config": config}
            status, _, problem = self.register(app["id"], sig, **extra)
            self.assertEqual(status, 422, (words, problem))
            messages = [e["message"] for e in problem.get("errors", [])
                        if e["field"] == "runtime_config"]
            self.assertTrue(any(words in m for m in messages), (words, messages))
        self.assertEqual(self.api.ok("GET", "/v1/builds")["items"], [])
        # an app that does not attest runs no cloister-init: no environment asked of it
        quiet = self.app(attestation="none")
        config = occlum_config(quiet["id"])
        config["occlum_json"]["env"] = {}
        status, _, build = self.register(quiet["id"], sig, runtime_config=config)
        self.assertEqual((status, build.get("enclave_size")), (201, OCCLUM_EPC), build)
        # Occlum.yaml's form, and EDMM: the initial sizes and at most 16 threads at first
        config = occlum_config(occlum["id"])
        config["occlum_json"]["resource_limits"] = {
            "user_space_size": {"init": "128MB", "max": "16GB"},
            "kernel_space_heap_size": {"init": "16MB", "max": "1GB"},
            "kernel_space_stack_size": "1MB", "max_num_of_threads": 64}
        config["occlum_json"]["feature"] = {"enable_edmm": True}
        status, _, build = self.register(occlum["id"], sig, runtime_config=config)
        self.assertEqual(status, 201, build)
        self.assertEqual(build["enclave_size"],
                         (128 << 20) + (16 << 20) + 16 * ((1 << 20) + 4 * 4096) + (32 << 20))


if __name__ == "__main__":
    unittest.main()
