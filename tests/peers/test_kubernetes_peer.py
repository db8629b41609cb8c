"""The fake Kubernetes API server (kubernetes.py) works with real kubectl:
discovery, server-side apply with its conflicts, rollout status through the
simulated controller (success, progress deadline, image pull failure,
unschedulable pods, rollback), scale, events, delete, chunked lists, the
watch that expires and makes kubectl list again, authentication and the
failure knobs.  kubectl is the oracle the deploy worker's tests compare
against, so this test fails (it does not skip) when kubectl is missing.
Run: cd tests/peers && python3 -m unittest -v test_kubernetes_peer"""
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import yaml

from kubernetes import KubernetesPeer

SGX_LABEL = "kubernetes.azure.com/sgx_epc_mem_in_MiB"
NODES = ["aks-sgxpool-0", "aks-sgxpool-1", "aks-sgxpool-2"]


def app_docs(ns, name="web", image="registry.example/enclave:1", replicas=2, epc="10Mi",
             deadline=None, env=None):
    """A namespace, a secret, a deployment and a service, as Cloister deploys them."""
    container = {"name": "app", "image": image, "ports": [{"containerPort": 8443}],
                 "resources": {"limits": {"sgx.intel.com/epc": epc}}}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"affinity": {"nodeAffinity": {
                             "requiredDuringSchedulingIgnoredDuringExecution": {
                                 "nodeSelectorTerms": [{"matchExpressions": [
                                     {"key": SGX_LABEL, "operator": "Exists"}]}]}}},
                                  "containers": [container]}}}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-secret",
                                                             "namespace": ns},
         "data": {"token": "aHVudGVyMg=="}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "labels": {"app": name}}, "spec": spec},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": {"app": name}, "ports": [{"port": 443, "targetPort": 8443}]}},
    ]


class KubectlAgainstPeer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kubectl_bin = shutil.which("kubectl")
        if cls.kubectl_bin is None:
            raise AssertionError("kubectl is not installed (script/bootstrap installs it); "
                                 "the Kubernetes peer cannot be checked without it")
        cls.dir = tempfile.mkdtemp(prefix="cl-kube-test-")
        # 600 s of progress deadline are 6 s here, the 20 s of the tests 0.4 s
        cls.peer = KubernetesPeer(deadline_scale=0.02)
        for n in NODES:
            cls.peer.add_node(n, {SGX_LABEL: "8192", "agentpool": "sgxpool"},
                              {"sgx.intel.com/epc": "8Gi"})
        cls.kc = cls.peer.kubeconfig(os.path.join(cls.dir, "kubeconfig"))
        cls.env = dict(os.environ, KUBECACHEDIR=os.path.join(cls.dir, "cache"))

    @classmethod
    def tearDownClass(cls):
        cls.peer.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- helpers -----------------------------------------------------------

    def kubectl(self, *args, ok=True, timeout=40):
        r = subprocess.run([self.kubectl_bin, "--kubeconfig", self.kc, *args],
                           capture_output=True, text=True, env=self.env, timeout=timeout)
        if ok and r.returncode != 0:
            self.fail(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        if ok is False and r.returncode == 0:
            self.fail(f"kubectl {' '.join(args)} succeeded, expected a failure:\n{r.stdout}")
        return r

    def json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, docs, manager="cloister", *extra, ok=True):
        path = os.path.join(self.dir, f"apply-{time.monotonic_ns()}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(docs, f)
        return self.kubectl("apply", "--server-side", f"--field-manager={manager}", *extra,
                            "-f", path, ok=ok)

    def eventually(self, fetch, check, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            value = fetch()
            if check(value):
                return value
            if time.monotonic() > deadline:
                self.fail(f"condition not met in {timeout}s; last value: {value!r}"[:3000])
            time.sleep(0.2)

    def condition(self, deployment, kind):
        return next((c for c in deployment["status"].get("conditions", [])
                     if c["type"] == kind), None)

    # ---- discovery, nodes, authentication -----------------------------------

    def test_get_nodes(self):
        out = self.kubectl("get", "nodes").stdout
        for n in NODES:
            self.assertRegex(out, rf"{n}\s+Ready\s")
        nodes = self.json("get", "nodes", "-l", f"{SGX_LABEL}=8192")["items"]
        self.assertEqual(sorted(n["metadata"]["name"] for n in nodes), NODES)
        self.assertEqual(nodes[0]["status"]["allocatable"]["sgx.intel.com/epc"], "8Gi")
        self.kubectl("api-resources")       # every resource in discovery is well formed

    def test_wrong_token_is_unauthorized(self):
        r = self.kubectl("--token=not-the-token", "get", "pods", ok=False)
        self.assertIn("error: You must be logged in to the server (Unauthorized)", r.stderr)
        self.assertIn(401, [e["status"] for e in self.peer.log])

    # ---- server-side apply ----------------------------------------------------

    def test_apply_conflict_and_force(self):
        ns = "t-apply"
        out = self.apply(app_docs(ns)).stdout
        for what in (f"namespace/{ns}", "secret/web-secret", "deployment.apps/web",
                     "service/web"):
            self.assertIn(f"{what} serverside-applied", out)
        self.assertEqual(self.peer.last_applied("deployments", "web", ns)["spec"]["replicas"], 2)
        patch = [e for e in self.peer.log if e["method"] == "PATCH" and
                 e["path"] == f"/apis/apps/v1/namespaces/{ns}/deployments/web"][-1]
        self.assertEqual(patch["content_type"], "application/apply-patch+yaml")
        self.assertEqual(patch["query"]["fieldManager"], "cloister")

        # another manager changing a field cloister owns: kubectl reports the conflict
        r = self.apply(app_docs(ns, replicas=4), "autoscaler", ok=False)
        self.assertIn('Apply failed with 1 conflict: conflict with "cloister": .spec.replicas',
                      r.stderr)
        self.assertIn("--force-conflicts", r.stderr)
        self.assertEqual(self.json("get", "-n", ns, "deployment/web")["spec"]["replicas"], 2)

        # --force-conflicts wins and takes the field from cloister
        self.apply(app_docs(ns, replicas=4), "autoscaler", "--force-conflicts")
        d = self.json("get", "-n", ns, "deployment/web", "--show-managed-fields")
        self.assertEqual(d["spec"]["replicas"], 4)
        owners = {e["manager"]: e for e in d["metadata"]["managedFields"]
                  if e["operation"] == "Apply"}
        self.assertIn("f:replicas", owners["autoscaler"]["fieldsV1"]["f:spec"])
        self.assertNotIn("f:replicas", owners["cloister"]["fieldsV1"]["f:spec"])
        # now cloister, without force, conflicts with the new owner
        r = self.apply(app_docs(ns, replicas=2), ok=False)
        self.assertIn('conflict with "autoscaler": .spec.replicas', r.stderr)

    def test_apply_removes_fields_the_manager_drops(self):
        ns = "t-drop"
        self.apply(app_docs(ns, env={"MODE": "debug", "LEVEL": "3"}))
        d = self.json("get", "-n", ns, "deployment/web")
        env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        self.assertEqual([e["name"] for e in env], ["MODE", "LEVEL"])
        self.assertEqual(d["metadata"]["generation"], 1)
        self.apply(app_docs(ns, env={"LEVEL": "4"}))
        d = self.json("get", "-n", ns, "deployment/web")
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["env"],
                         [{"name": "LEVEL", "value": "4"}])
        self.assertEqual(d["metadata"]["generation"], 2)
        # the server's defaults are there and owned by no one
        self.assertEqual(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["resources"]
                         ["requests"]["sgx.intel.com/epc"], "10Mi")
        # an invalid object is refused with the server's wording
        bad = app_docs(ns)[2]
        bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
        bad["metadata"]["name"] = "bad"
        r = self.apply([bad], ok=False)
        self.assertIn('The Deployment "bad" is invalid: spec.template.metadata.labels: '
                      'Invalid value: map[string]string{"app":"other"}: `selector` does not '
                      'match template `labels`', r.stderr)

    # ---- rollouts ------------------------------------------------------------

    def test_rollout_scale_and_delete(self):
        ns = "t-rollout"
        self.apply(app_docs(ns))
        out = self.kubectl("rollout", "status", "-n", ns, "deployment/web",
                           "--timeout=20s").stdout
        self.assertIn('deployment "web" successfully rolled out', out)
        d = self.json("get", "-n", ns, "deployment/web")
        self.assertGreaterEqual(d["status"]["observedGeneration"], d["metadata"]["generation"])
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            self.assertEqual(d["status"][field], 2, field)
        self.assertEqual(self.condition(d, "Available")["status"], "True")
        self.assertEqual(self.condition(d, "Progressing")["reason"], "NewReplicaSetAvailable")

        pods = self.json("get", "pods", "-n", ns, "-l", "app=web")["items"]
        self.assertEqual(len(pods), 2)
        for p in pods:
            self.assertRegex(p["metadata"]["name"], r"^web-[a-z0-9]{10}-[a-z0-9]{5}$")
            self.assertEqual(p["status"]["phase"], "Running")
            ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
            self.assertEqual(ready["status"], "True")
            self.assertIn(p["spec"]["nodeName"], NODES)
        self.assertRegex(self.kubectl("get", "pods", "-n", ns).stdout,
                         r"web-\S+\s+1/1\s+Running\s+0")

        out = self.kubectl("scale", "-n", ns, "deployment/web", "--replicas=3").stdout
        self.assertIn("deployment.apps/web scaled", out)
        self.assertTrue(self.peer.count("PATCH",
                                        f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"))
        self.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=20s")
        self.assertEqual(len(self.json("get", "pods", "-n", ns, "-l", "app=web")["items"]), 3)
        # kubectl scale now owns spec.replicas: cloister's apply of 2 conflicts with it
        r = self.apply(app_docs(ns), ok=False)
        self.assertIn('conflict with "kubectl" with subresource "scale" using apps/v1: '
                      '.spec.replicas', r.stderr)
        events = self.json("get", "events", "-n", ns,
                           "--field-selector", "involvedObject.kind=Deployment")["items"]
        self.assertIn("ScalingReplicaSet", {e["reason"] for e in events})

        # chunked listing follows continue tokens
        names = self.kubectl("get", "pods", "-n", ns, "--chunk-size=1", "-o", "name").stdout
        self.assertEqual(len(names.split()), 3)
        self.assertTrue(any("continue" in e["query"] for e in self.peer.log))

        out = self.kubectl("delete", "-n", ns, "deployment/web").stdout
        self.assertIn('deployment.apps "web" deleted', out)
        r = self.kubectl("get", "-n", ns, "deployment/web", ok=False)
        self.assertIn('Error from server (NotFound): deployments.apps "web" not found', r.stderr)
        self.kubectl("wait", "--for=delete", "pod", "-n", ns, "-l", "app=web", "--timeout=10s")

    def test_progress_deadline_exceeded(self):
        ns = "t-stuck"
        self.peer.fail_deployment("stuck", "stuck", namespace=ns)
        self.apply(app_docs(ns, name="stuck", deadline=20))
        r = self.kubectl("rollout", "status", "-n", ns, "deployment/stuck", "--timeout=20s",
                         ok=False)
        self.assertIn('error: deployment "stuck" exceeded its progress deadline', r.stderr)
        d = self.json("get", "-n", ns, "deployment/stuck")
        progressing = self.condition(d, "Progressing")
        self.assertEqual((progressing["status"], progressing["reason"]),
                         ("False", "ProgressDeadlineExceeded"))

    def test_image_pull_failure_then_rollback(self):
        ns = "t-pull"
        self.apply(app_docs(ns, deadline=20))
        self.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=20s")
        bad = "registry.example/enclave:2"
        self.peer.fail_deployment("web", "image-pull", namespace=ns, image=bad)
        self.apply(app_docs(ns, image=bad, deadline=20))
        r = self.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=20s",
                         ok=False)
        self.assertIn('error: deployment "web" exceeded its progress deadline', r.stderr)
        events = self.json("get", "events", "-n", ns, "--field-selector", "type=Warning")["items"]
        self.assertTrue(any(e["message"].startswith(f'Failed to pull image "{bad}"')
                            for e in events), events)
        waiting = {c["state"].get("waiting", {}).get("reason")
                   for p in self.json("get", "pods", "-n", ns, "-l", "app=web")["items"]
                   for c in p["status"].get("containerStatuses", [])}
        self.assertTrue(waiting & {"ErrImagePull", "ImagePullBackOff"}, waiting)
        # the old pods kept serving: the rolling update never took them down
        d = self.json("get", "-n", ns, "deployment/web")
        self.assertEqual(d["status"]["availableReplicas"], 2)

        # a rollback is an apply of the older template
        self.apply(app_docs(ns, deadline=20))
        self.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=20s")
        images = self.eventually(
            lambda: {c["image"] for p in self.json("get", "pods", "-n", ns, "-l",
                                                   "app=web")["items"]
                     for c in p["spec"]["containers"]},
            lambda v: v == {"registry.example/enclave:1"})
        self.assertEqual(images, {"registry.example/enclave:1"})

    def test_unschedulable(self):
        ns = "t-sched"
        # too much EPC for any node: the scheduler's own verdict
        self.apply(app_docs(ns, name="huge", epc="16Gi", replicas=1))
        events = self.eventually(
            lambda: self.json("get", "events", "-n", ns,
                              "--field-selector", "reason=FailedScheduling")["items"],
            lambda v: v)
        self.assertTrue(events[0]["message"].startswith(
            "0/3 nodes are available: 3 Insufficient sgx.intel.com/epc."), events[0]["message"])
        # the knob: unschedulable whatever the request
        self.peer.fail_deployment("knob", "unschedulable", namespace=ns)
        self.apply(app_docs(ns, name="knob", deadline=20, replicas=1))
        r = self.kubectl("rollout", "status", "-n", ns, "deployment/knob", "--timeout=20s",
                         ok=False)
        self.assertIn('deployment "knob" exceeded its progress deadline', r.stderr)
        pod = self.json("get", "pods", "-n", ns, "-l", "app=knob")["items"][0]
        scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        self.assertEqual((scheduled["status"], scheduled["reason"]), ("False", "Unschedulable"))
        out = self.kubectl("get", "events", "-n", ns).stdout
        self.assertIn("FailedScheduling", out)
        self.assertIn("0/3 nodes are available: 3 Insufficient sgx.intel.com/epc", out)

    # ---- watch -----------------------------------------------------------------

    def test_expired_watch_makes_kubectl_list_again(self):
        ns = "t-watch"
        self.apply(app_docs(ns))
        self.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=20s")
        self.peer.pause_controller()
        try:
            self.kubectl("scale", "-n", ns, "deployment/web", "--replicas=3")
            mark = len(self.peer.log)
            self.peer.expire_next_watch()
            threading.Timer(1.0, self.peer.resume_controller).start()
            out = self.kubectl("rollout", "status", "-n", ns, "deployment/web",
                               "--timeout=20s").stdout
        finally:
            time.sleep(1.1)
            self.peer.resume_controller()
        self.assertIn('deployment "web" successfully rolled out', out)
        path = f"/apis/apps/v1/namespaces/{ns}/deployments"
        calls = [e for e in self.peer.log[mark:] if e["path"] == path]
        lists = [e for e in calls if e["verb"] == "list"]
        watches = [e for e in calls if e["verb"] == "watch"]
        self.assertGreaterEqual(len(lists), 2, "kubectl did not list again after the 410")
        self.assertGreaterEqual(len(watches), 2)
        self.assertEqual(lists[0]["query"]["fieldSelector"], "metadata.name=web")

    # ---- failure knobs ----------------------------------------------------------

    def test_failure_knobs(self):
        path = "/api/v1/namespaces/default/configmaps"
        self.peer.throttle(2, retry_after=1, path=path)
        self.kubectl("get", "configmaps")       # client-go waits Retry-After and retries
        self.assertEqual([e["status"] for e in self.peer.log if e["path"] == path][:3],
                         [429, 429, 200])

        self.peer.forbid("get", "secrets")
        try:
            r = self.kubectl("get", "secret", "anything", ok=False)
        finally:
            self.peer.allow("get", "secrets")
        self.assertIn('Error from server (Forbidden): secrets "anything" is forbidden: User '
                      '"cloister" cannot get resource "secrets" in API group "" in the '
                      'namespace "default"', r.stderr)

        self.peer.fail(1, path=path)
        r = self.kubectl("get", "configmaps", ok=False)
        self.assertIn("Error from server (InternalError)", r.stderr)
        self.kubectl("get", "configmaps")


class RawProtocol(unittest.TestCase):
    """What kubectl does not show: the watch stream and continue tokens."""

    def setUp(self):
        self.peer = KubernetesPeer(history=50)
        self.addCleanup(self.peer.close)
        self.tls = ssl.create_default_context(cafile=self.peer.ca_pem)

    def get(self, path, token=None):
        req = urllib.request.Request(self.peer.url + path, headers={
            "Authorization": f"Bearer {token or self.peer.token}"})
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=10) as r:
                return r.status, [json.loads(line) for line in r.read().splitlines() if line]
        except urllib.error.HTTPError as e:
            return e.code, [json.loads(e.read())]

    def test_watch_replays_and_expires(self):
        for i in range(3):
            self.peer.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": f"cm{i}"}, "data": {"i": str(i)}})
        _, [lst] = self.get("/api/v1/namespaces/default/configmaps?limit=2")
        self.assertEqual(lst["kind"], "ConfigMapList")
        self.assertEqual(len(lst["items"]), 2)
        self.assertEqual(lst["metadata"]["remainingItemCount"], 1)
        rv = int(lst["metadata"]["resourceVersion"])
        self.peer.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "cm0"}, "data": {"i": "changed"}})
        status, events = self.get(f"/api/v1/namespaces/default/configmaps?watch=1"
                                  f"&resourceVersion={rv}&timeoutSeconds=1")
        self.assertEqual(status, 200)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("MODIFIED", "cm0")])
        # the history is gone: old versions and continue tokens are 410 Expired
        self.peer.compact()
        status, events = self.get(f"/api/v1/namespaces/default/configmaps?watch=1"
                                  f"&resourceVersion={rv}&timeoutSeconds=1")
        self.assertEqual((status, events[0]["type"], events[0]["object"]["code"],
                          events[0]["object"]["reason"]), (200, "ERROR", 410, "Expired"))
        token = lst["metadata"]["continue"]
        status, [st] = self.get(f"/api/v1/namespaces/default/configmaps?limit=2&continue={token}")
        self.assertEqual((status, st["kind"], st["reason"]), (410, "Status", "Expired"))
        status, [st] = self.get("/api/v1/namespaces/default/configmaps", token="wrong")
        self.assertEqual((status, st["reason"]), (401, "Unauthorized"))

    def test_streaming_list_selectors_and_forced_expiry(self):
        for name, tier in (("a", "front"), ("b", "back")):
            self.peer.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": name, "labels": {"tier": tier}}})
        # a streaming list: the state as ADDED events, then the initial-events-end bookmark
        _, events = self.get("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
                             "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
                             "&labelSelector=tier%3Dfront&timeoutSeconds=1")
        self.assertEqual([e["type"] for e in events], ["ADDED", "BOOKMARK"])
        self.assertEqual(events[1]["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        rv = events[1]["object"]["metadata"]["resourceVersion"]
        # an object leaving the selection is DELETED for that watch
        self.peer.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "a", "labels": {"tier": "back"}}})
        _, events = self.get(f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
                             "&labelSelector=tier%3Dfront&timeoutSeconds=1")
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("DELETED", "a")])
        # expire_watches ends an open watch with a 410 ERROR event
        threading.Timer(0.3, self.peer.expire_watches).start()
        started = time.monotonic()
        _, events = self.get(f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
                             "&labelSelector=tier%3Dnone&timeoutSeconds=5")
        self.assertLess(time.monotonic() - started, 4)
        self.assertEqual([(e["type"], e["object"]["code"]) for e in events], [("ERROR", 410)])
        # 429 carries Retry-After
        self.peer.throttle(1, retry_after=7)
        req = urllib.request.Request(self.peer.url + "/api/v1/namespaces", headers={
            "Authorization": f"Bearer {self.peer.token}"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, context=self.tls, timeout=10)
        self.assertEqual((cm.exception.code, cm.exception.headers["Retry-After"]), (429, "7"))


if __name__ == "__main__":
    unittest.main()
