#!/usr/bin/env python3
"""The kustomize base (docker/k8s/base), rendered: the node agent's objects.

The base is rendered the way an operator's `kubectl apply -k` renders it, with
the machine's `kubectl kustomize` (offline: no cluster is needed), and the
agent's objects are checked for what docs/kubernetes.md promises: the objects
and their namespace, the DaemonSet's selector, pinned images, resources,
probes, the join token, the state directory, SGX (EPC request and the AESM
socket), the host network and port, the security context, the downward API and
the SGX node affinity.  The daemon's and the workers' objects, and the AKS
overlay, are test_control_plane.py's.

    python3 tests/k8s/test_kustomize.py        # exits 77 when kubectl is absent

KUBECTL names another kubectl; CLOISTER_K8S_BASE another base directory (to try
a broken copy and see the test fail).  Needs PyYAML (Debian's python3-yaml).
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import yaml
except ImportError:
    # script/bootstrap installs Debian's python3-yaml, which only the system
    # Python sees; a python3 found first (pyenv, a venv) may lack PyYAML.
    if (__name__ == "__main__" and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise ImportError("PyYAML is missing: script/bootstrap installs Debian's python3-yaml")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE = os.environ.get("CLOISTER_K8S_BASE", os.path.join(ROOT, "docker", "k8s", "base"))
KUBECTL = os.environ.get("KUBECTL", "kubectl")
SKIP = 77  # ctest's SKIP_RETURN_CODE (tests/k8s/CMakeLists.txt)

NAMESPACE = "cloister"
AGENT = "cloister-agent"
AGENT_IMAGE = "ghcr.io/cloister-dev/cloister-agent"
AGENT_TAG = "0.1.0"
PORT = 9092
TOKEN_SECRET = "cloister-agent-join-token"
TOKEN_DIR = "/etc/cloister-agent/join-token"
STATE_DIR = "/var/lib/cloister-agent"
AESMD_DIR = "/var/run/aesmd"
EPC = "sgx.intel.com/epc"

# Node labels that mark SGX nodes (docs/kubernetes.md says where each comes from).
SGX_LABELS = {
    "feature.node.kubernetes.io/cpu-security.sgx.enabled",
    "feature.node.kubernetes.io/cpu-sgx.enabled",
    "intel.feature.node.kubernetes.io/sgx",
    "sgx.intel.com/capable",
}
AKS_SGX_SIZES = {
    "Standard_DC1s_v2", "Standard_DC2s_v2", "Standard_DC4s_v2", "Standard_DC8_v2",
    "Standard_DC1s_v3", "Standard_DC2s_v3", "Standard_DC4s_v3", "Standard_DC8s_v3",
    "Standard_DC16s_v3", "Standard_DC24s_v3", "Standard_DC32s_v3", "Standard_DC48s_v3",
    "Standard_DC1ds_v3", "Standard_DC2ds_v3", "Standard_DC4ds_v3", "Standard_DC8ds_v3",
    "Standard_DC16ds_v3", "Standard_DC24ds_v3", "Standard_DC32ds_v3", "Standard_DC48ds_v3",
}

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def render():
    """The base as `kubectl kustomize` renders it: a list of objects."""
    proc = subprocess.run([KUBECTL, "kustomize", BASE], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {BASE} failed ({proc.returncode}):\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def image_pinned(image):
    """True for name:tag (tag not latest) or name@sha256:digest."""
    if "@" in image:
        return DIGEST.search(image) is not None
    last = image.rsplit("/", 1)[-1]  # a registry's :port is not a tag
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag != "" and tag != "latest"


class ImagePinnedTest(unittest.TestCase):
    """The pin check itself, so that a lax check cannot pass a bad image."""

    def test_pinned_and_not(self):
        for good in ("ghcr.io/a/b:0.1.0", "registry:5000/a/b:1.2",
                     "ghcr.io/a/b@sha256:" + "0" * 64, "ghcr.io/a/b:0.1.0@sha256:" + "a" * 64):
            self.assertTrue(image_pinned(good), good)
        for bad in ("ghcr.io/a/b", "ghcr.io/a/b:latest", "registry:5000/a/b", "ghcr.io/a/b:",
                    "ghcr.io/a/b@sha256:abc"):
            self.assertFalse(image_pinned(bad), bad)


class KustomizeBaseTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if shutil.which(KUBECTL) is None:
            raise unittest.SkipTest(f"{KUBECTL} not found: install Debian's kubernetes-client")
        cls.objects = render()
        cls.by_kind = {}
        for o in cls.objects:
            cls.by_kind.setdefault(o["kind"], []).append(o)

    # ---- helpers -------------------------------------------------------------

    def one(self, kind, name=None):
        objs = [o for o in self.by_kind.get(kind, [])
                if name is None or o["metadata"]["name"] == name]
        self.assertEqual(len(objs), 1, f"expected one {kind} {name or ''}, found {len(objs)}")
        return objs[0]

    @property
    def ds(self):
        return self.one("DaemonSet")

    @property
    def pod(self):
        return self.ds["spec"]["template"]["spec"]

    @property
    def agent(self):
        containers = self.pod["containers"]
        self.assertEqual([c["name"] for c in containers], [AGENT])
        return containers[0]

    def all_containers(self):
        return self.pod.get("initContainers", []) + self.pod["containers"]

    def volume(self, name):
        vols = [v for v in self.pod.get("volumes", []) if v["name"] == name]
        self.assertEqual(len(vols), 1, f"expected one volume {name!r}")
        return vols[0]

    def mount_at(self, container, path):
        mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path]
        self.assertEqual(len(mounts), 1, f"expected one mount at {path} in {container['name']}")
        return mounts[0]

    def arg(self, flag):
        args = self.agent["args"]
        self.assertEqual(args.count(flag), 1, f"{flag} given {args.count(flag)} times")
        i = args.index(flag)
        self.assertLess(i + 1, len(args), f"{flag} has no value")
        return args[i + 1]

    def env(self, name):
        found = [e for e in self.agent.get("env", []) if e["name"] == name]
        self.assertEqual(len(found), 1, f"expected one env {name}")
        return found[0]

    # ---- the objects ---------------------------------------------------------

    def test_objects(self):
        got = sorted((o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in self.objects)
        self.assertEqual(got, sorted([
            ("v1", "Namespace", NAMESPACE),
            ("v1", "ServiceAccount", AGENT),
            ("v1", "ConfigMap", AGENT),
            ("apps/v1", "DaemonSet", AGENT),
            # the control plane (test_control_plane.py)
            ("v1", "ServiceAccount", "cloisterd"),
            ("v1", "ServiceAccount", "cloister-worker"),
            ("v1", "ConfigMap", "cloisterd"),
            ("apps/v1", "Deployment", "cloisterd"),
            ("apps/v1", "Deployment", "cloister-worker"),
            ("v1", "Service", "cloisterd"),
            ("networking.k8s.io/v1", "Ingress", "cloisterd"),
            ("policy/v1", "PodDisruptionBudget", "cloisterd"),
            ("policy/v1", "PodDisruptionBudget", "cloister-worker"),
            ("networking.k8s.io/v1", "NetworkPolicy", "cloisterd"),
            ("networking.k8s.io/v1", "NetworkPolicy", "cloister-worker"),
        ]))

    def test_namespaces(self):
        for o in self.objects:
            where = o["metadata"].get("namespace")
            if o["kind"] == "Namespace":
                self.assertIsNone(where, "a Namespace has no namespace")
            else:
                self.assertEqual(where, NAMESPACE, f"{o['kind']} {o['metadata']['name']}")

    def test_no_secret_in_base(self):
        # The join token is the operator's to create; a Secret here would be a
        # committed credential (or a placeholder that overwrites the real one).
        self.assertNotIn("Secret", self.by_kind)

    def test_configmap(self):
        cm = self.one("ConfigMap", AGENT)
        self.assertEqual(cm["data"], {"manager-url": "https://cloister.example.com"})

    def test_service_account_without_api_token(self):
        sa = self.one("ServiceAccount", AGENT)
        self.assertIs(sa.get("automountServiceAccountToken"), False)
        self.assertEqual(self.pod.get("serviceAccountName"), AGENT)
        self.assertIs(self.pod.get("automountServiceAccountToken"), False)

    # ---- the DaemonSet -------------------------------------------------------

    def test_selector_matches_template(self):
        selector = self.ds["spec"]["selector"]
        self.assertNotIn("matchExpressions", selector)
        match = selector.get("matchLabels") or {}
        self.assertTrue(match, "empty selector")
        labels = self.ds["spec"]["template"]["metadata"]["labels"]
        for k, v in match.items():
            self.assertEqual(labels.get(k), v, f"template lacks selector label {k}={v}")

    def test_update_strategy_and_priority(self):
        spec = self.ds["spec"]
        self.assertEqual(spec["updateStrategy"]["type"], "RollingUpdate")
        self.assertEqual(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 1)
        self.assertNotIn("priorityClassName", self.pod)
        self.assertEqual(self.pod.get("terminationGracePeriodSeconds"), 30)

    def test_images_pinned(self):
        for c in self.all_containers():
            self.assertTrue(image_pinned(c.get("image", "")), f"{c['name']}: {c.get('image')!r}")
        self.assertEqual(self.agent["image"], f"{AGENT_IMAGE}:{AGENT_TAG}")

    def test_images_set_through_kustomize(self):
        # Overlays pin digests through images:, which only works if the base
        # names every image there.
        with open(os.path.join(BASE, "kustomization.yaml")) as f:
            k = yaml.safe_load(f)
        named = {i["name"] for i in k.get("images", [])}
        for c in self.all_containers():
            name = DIGEST.sub("", c["image"]).rsplit(":", 1)[0]
            self.assertIn(name, named, f"{c['name']}'s image is not set through images:")

    def test_resources(self):
        for c in self.all_containers():
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    self.assertIn(r, res.get(kind, {}), f"{c['name']}: no {kind}.{r}")
        res = self.agent["resources"]
        # EPC for the agent's own enclave; extended resources need requests == limits.
        self.assertEqual(res["requests"].get(EPC), "64Mi")
        self.assertEqual(res["limits"].get(EPC), "64Mi")

    def test_probes(self):
        for c in self.pod["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                self.assertIn(probe, c, f"{c['name']}: no {probe}")
                get = c[probe].get("httpGet", {})
                self.assertEqual(get.get("port"), PORT, f"{c['name']} {probe}")
                self.assertEqual(get.get("path"), "/healthz", f"{c['name']} {probe}")
                self.assertEqual(get.get("scheme", "HTTP"), "HTTP", f"{c['name']} {probe}")

    def test_args(self):
        self.assertEqual(self.agent["args"], [
            "--manager", "$(CLOISTER_MANAGER_URL)",
            "--join-token-file", f"{TOKEN_DIR}/token",
            "--state-dir", STATE_DIR,
            "--evidence", "dcap",
            "--listen", f"0.0.0.0:{PORT}",
        ])

    def test_manager_url_from_configmap(self):
        # $(VAR) in args is expanded only for variables the container declares.
        self.assertEqual(self.arg("--manager"), "$(CLOISTER_MANAGER_URL)")
        ref = self.env("CLOISTER_MANAGER_URL")["valueFrom"]["configMapKeyRef"]
        self.assertEqual(ref["name"], self.one("ConfigMap", AGENT)["metadata"]["name"])
        self.assertEqual(ref["key"], "manager-url")
        self.assertIn(ref["key"], self.one("ConfigMap", AGENT)["data"])

    def test_downward_api(self):
        self.assertEqual(self.env("NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName")
        self.assertEqual(self.env("NODE_IP")["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP")

    def test_join_token(self):
        secret = self.volume("join-token")["secret"]
        self.assertEqual(secret["secretName"], TOKEN_SECRET)
        self.assertEqual(secret.get("defaultMode"), 0o400)
        self.assertNotEqual(secret.get("optional"), True)
        self.assertEqual(secret.get("items"), [{"key": "token", "path": "token"}])
        m = self.mount_at(self.agent, TOKEN_DIR)
        self.assertEqual(m["name"], "join-token")
        self.assertIs(m.get("readOnly"), True)
        self.assertEqual(self.arg("--join-token-file"), f"{TOKEN_DIR}/token")
        # 0400 and owned by root: the agent reads it through fsGroup.
        sc = self.pod["securityContext"]
        self.assertEqual(sc.get("fsGroup"), sc.get("runAsGroup"))

    def test_state_dir(self):
        host = self.volume("state")["hostPath"]
        self.assertEqual(host, {"path": STATE_DIR, "type": "DirectoryOrCreate"})
        m = self.mount_at(self.agent, STATE_DIR)
        self.assertEqual(m["name"], "state")
        self.assertFalse(m.get("readOnly", False), "the state directory must be writable")
        self.assertEqual(self.arg("--state-dir"), STATE_DIR)

    def test_state_dir_given_to_the_agent_user(self):
        # kubelet creates the hostPath directory as root; the init container
        # must hand it to the user the agent runs as, and to nobody else.
        sc = self.pod["securityContext"]
        owner = f"{sc['runAsUser']}:{sc['runAsGroup']}"
        inits = self.pod.get("initContainers", [])
        self.assertEqual([c["name"] for c in inits], ["state-dir"])
        init = inits[0]
        script = " ".join(init["command"])
        self.assertIn(f"chown {owner} {STATE_DIR}", script)
        self.assertIn(f"chmod 0700 {STATE_DIR}", script)
        self.assertEqual(self.mount_at(init, STATE_DIR)["name"], "state")
        self.assertEqual([m["mountPath"] for m in init["volumeMounts"]], [STATE_DIR])

    def test_sgx(self):
        # The EPC request is what gives the container /dev/sgx_enclave with
        # the device cgroup permission (AKS confcom add-on, Intel's plugin);
        # quotes come from AESM through its socket directory.
        self.assertIn(EPC, self.agent["resources"]["limits"])
        host = self.volume("aesmd-socket")["hostPath"]
        self.assertEqual(host["path"], AESMD_DIR)
        self.assertIn(host.get("type"), ("Directory", "DirectoryOrCreate"))
        self.assertEqual(self.mount_at(self.agent, AESMD_DIR)["name"], "aesmd-socket")
        for v in self.pod.get("volumes", []):
            path = v.get("hostPath", {}).get("path", "")
            self.assertFalse(path == "/dev" or path.startswith("/dev/"),
                             f"volume {v['name']} mounts host device {path}: devices come "
                             "from the device plugin, a hostPath device is unusable unprivileged")
        # No provisioning access: Gramine quotes out of process, through AESM.
        for c in self.all_containers():
            for kind in ("requests", "limits"):
                self.assertNotIn("sgx.intel.com/provision", c.get("resources", {}).get(kind, {}))

    def test_host_network_and_port(self):
        self.assertIs(self.pod.get("hostNetwork"), True)
        self.assertEqual(self.pod.get("dnsPolicy"), "ClusterFirstWithHostNet")
        ports = self.agent["ports"]
        self.assertEqual(len(ports), 1)
        self.assertEqual(ports[0]["containerPort"], PORT)
        self.assertEqual(ports[0]["hostPort"], PORT)
        self.assertEqual(ports[0].get("protocol", "TCP"), "TCP")
        self.assertEqual(self.arg("--listen"), f"0.0.0.0:{PORT}")

    def test_security_context(self):
        pod_sc = self.pod["securityContext"]
        self.assertIs(pod_sc.get("runAsNonRoot"), True)
        self.assertNotEqual(pod_sc.get("runAsUser", 0), 0)
        self.assertNotEqual(pod_sc.get("runAsGroup", 0), 0)
        for c in self.all_containers():
            sc = c.get("securityContext", {})
            self.assertIs(sc.get("allowPrivilegeEscalation"), False, c["name"])
            self.assertIs(sc.get("readOnlyRootFilesystem"), True, c["name"])
            self.assertNotEqual(sc.get("privileged"), True, c["name"])
            self.assertEqual(sc.get("capabilities", {}).get("drop"), ["ALL"], c["name"])
            seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
            self.assertEqual(seccomp.get("type"), "RuntimeDefault", c["name"])
        agent_sc = self.agent["securityContext"]
        self.assertNotIn("add", agent_sc["capabilities"])
        for k in ("runAsNonRoot", "runAsUser"):
            self.assertNotIn(k, agent_sc, f"the agent must not override the pod's {k}")
        # Only the init container runs as root, with what chmod and chown need.
        init = self.pod["initContainers"][0]["securityContext"]
        self.assertLessEqual(set(init["capabilities"].get("add", [])), {"CHOWN", "FOWNER"})
        for k in ("hostPID", "hostIPC"):
            self.assertNotEqual(self.pod.get(k), True)

    def test_sgx_node_affinity(self):
        self.assertNotIn("nodeSelector", self.pod)
        terms = (self.pod["affinity"]["nodeAffinity"]
                 ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"])
        keys, sizes = set(), set()
        for term in terms:
            exprs = term.get("matchExpressions", [])
            self.assertEqual(len(exprs), 1, f"one SGX condition per term: {term}")
            self.assertNotIn("matchFields", term)
            e = exprs[0]
            self.assertEqual(e["operator"], "In", e)
            if e["key"] == "node.kubernetes.io/instance-type":
                self.assertLessEqual(set(e["values"]), AKS_SGX_SIZES, "a VM size without SGX")
                sizes |= set(e["values"])
            else:
                self.assertIn(e["key"], SGX_LABELS, "not an SGX label")
                self.assertEqual(e["values"], ["true"], e)
            keys.add(e["key"])
        self.assertEqual(sizes, AKS_SGX_SIZES, "every AKS SGX VM size")
        self.assertIn("feature.node.kubernetes.io/cpu-security.sgx.enabled", keys)
        self.assertIn("intel.feature.node.kubernetes.io/sgx", keys)
        tolerated = {(t.get("key"), t.get("effect")) for t in self.pod.get("tolerations", [])}
        self.assertIn(("kubernetes.azure.com/sgx_epc_mem_in_MiB", "NoSchedule"), tolerated)
        for t in self.pod.get("tolerations", []):
            self.assertIsNotNone(t.get("key"), "a toleration without a key tolerates every taint")


if __name__ == "__main__":
    if shutil.which(KUBECTL) is None:
        print(f"skipped: {KUBECTL} not found (script/bootstrap installs Debian's kubernetes-client)",
              file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
