#!/usr/bin/env python3
"""The control plane on Kubernetes: the base and the AKS overlay, rendered.

Both docker/k8s/base and docker/k8s/overlays/aks are rendered with the
machine's `kubectl kustomize` (offline) and every object is checked for what
docs/kubernetes.md promises:

  - the objects, their kinds, names, API versions and namespace; no Secret;
  - every container of every workload (init containers too): resources with
    requests and limits for cpu and memory, a pinned image (a tag that is not
    latest, or a digest) named in the base's images:, a non-root read-only
    security context without capabilities;
  - cloisterd: its command line (every flag one its own --help lists, when
    the programs are built), the container port its --listen gives, the
    readiness probe on /readyz and the liveness and startup probes on /healthz
    at that port, the database URL from a Secret, the key-encryption key
    copied 0600 into memory by the init container from the operator's Secret
    (base) or Key Vault (AKS), the grace period against --shutdown-timeout;
  - cloister-worker: its command line, no port, its grace period;
  - Service, Ingress and PodDisruptionBudgets: selectors that match the
    Deployments' pods, ports that lead to the daemon's container port, TLS;
  - the NetworkPolicies: the daemon reachable on its port from the ingress
    controller's namespace and from the agents only, the workers from
    nothing; both reach DNS, PostgreSQL and HTTPS;
  - the public host: the Ingress's, the daemon's CLOISTER_PUBLIC_URL and the
    agents' manager-url agree;
  - the AKS overlay: the SecretProviderClass (Key Vault through Workload ID),
    the CSI volume in place of the Secret, the Secret it syncs the database
    URL into, the application routing ingress class with its Key Vault
    certificate, and the agent on the SGX node pool.

    python3 tests/k8s/test_control_plane.py        # or: ctest -R k8s_control_plane

CLOISTER_K8S_DIR names another copy of docker/k8s (to try a broken one and see
the test fail; CLOISTER_K8S_BASE another base alone); KUBECTL another kubectl;
CLOISTERD and CLOISTER_WORKER the programs (default build-test/; without them
the command lines are not checked).  Exits 77 when kubectl is absent.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest
from urllib.parse import urlsplit

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import yaml
except ImportError:
    if (__name__ == "__main__" and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise ImportError("PyYAML is missing: script/bootstrap installs Debian's python3-yaml")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "docker"))
import program_help  # noqa: E402

K8S = os.environ.get("CLOISTER_K8S_DIR", os.path.join(ROOT, "docker", "k8s"))
BASE = os.environ.get("CLOISTER_K8S_BASE", os.path.join(K8S, "base"))
AKS = os.path.join(K8S, "overlays", "aks")
KUBECTL = os.environ.get("KUBECTL", "kubectl")
SKIP = 77

NAMESPACE = "cloister"
DAEMON, WORKER, AGENT = "cloisterd", "cloister-worker", "cloister-agent"
IMAGE = "ghcr.io/cloister-dev/cloister"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Where each ingress class's controller runs: the namespace the daemon's
# NetworkPolicy must admit.
INGRESS_NAMESPACES = {
    "nginx": "ingress-nginx",
    "webapprouting.kubernetes.azure.com": "app-routing-system",
}
AKS_SGX_SIZES = {
    "Standard_DC1s_v2", "Standard_DC2s_v2", "Standard_DC4s_v2", "Standard_DC8_v2",
    "Standard_DC1s_v3", "Standard_DC2s_v3", "Standard_DC4s_v3", "Standard_DC8s_v3",
    "Standard_DC16s_v3", "Standard_DC24s_v3", "Standard_DC32s_v3", "Standard_DC48s_v3",
    "Standard_DC1ds_v3", "Standard_DC2ds_v3", "Standard_DC4ds_v3", "Standard_DC8ds_v3",
    "Standard_DC16ds_v3", "Standard_DC24ds_v3", "Standard_DC32ds_v3", "Standard_DC48ds_v3",
}
KIND_API = {
    "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Service": "v1",
    "Deployment": "apps/v1", "DaemonSet": "apps/v1",
    "Ingress": "networking.k8s.io/v1", "NetworkPolicy": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "SecretProviderClass": "secrets-store.csi.x-k8s.io/v1",
}


def render(path):
    proc = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed ({proc.returncode}):\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


def image_pinned(image):
    if "@" in image:
        return DIGEST.search(image) is not None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.rsplit(":", 1)[1] not in ("", "latest")


def matches(selector, labels):
    """A label selector (matchLabels only, as these objects use) against labels."""
    if set(selector) - {"matchLabels"}:
        raise AssertionError(f"selector with more than matchLabels: {selector}")
    ml = selector.get("matchLabels") or {}
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def dockerfile_uid():
    with open(os.path.join(ROOT, "docker", "Dockerfile")) as f:
        return int(re.search(r"^ARG CLOISTER_UID=(\d+)$", f.read(), re.M).group(1))


class ControlPlane:
    """Checks that hold for every rendering; subclasses say which and add their own."""

    PATH = None
    EXTRA_KINDS = set()

    @classmethod
    def setUpClass(cls):
        if shutil.which(KUBECTL) is None:
            raise unittest.SkipTest(f"{KUBECTL} not found")
        cls.objects = render(cls.PATH)

    # ---- helpers -------------------------------------------------------------

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind, name):
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        self.assertEqual(len(found), 1, f"expected one {kind} {name}, found {len(found)}")
        return found[0]

    def workloads(self):
        return self.all("Deployment") + self.all("DaemonSet")

    def pod(self, name, kind="Deployment"):
        return self.get(kind, name)["spec"]["template"]

    def container(self, name):
        cs = self.pod(name)["spec"]["containers"]
        self.assertEqual([c["name"] for c in cs], [name])
        return cs[0]

    def containers(self, workload):
        spec = workload["spec"]["template"]["spec"]
        return spec.get("initContainers", []) + spec["containers"]

    def volume(self, workload_name, volume_name):
        vols = [v for v in self.pod(workload_name)["spec"].get("volumes", [])
                if v["name"] == volume_name]
        self.assertEqual(len(vols), 1, f"{workload_name}: one volume {volume_name}")
        return vols[0]

    def port_number(self, container, port):
        """A probe's or Service's port (a number or a port name) as the container's number."""
        if isinstance(port, int):
            return port
        named = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
        self.assertEqual(len(named), 1, f"{container['name']} has no port named {port!r}")
        return named[0]

    def listen_port(self):
        return program_help.listen_port(self.arg(self.container(DAEMON), "--listen"))

    def arg(self, container, flag):
        args = container.get("args", [])
        self.assertEqual(args.count(flag), 1, f"{container['name']}: {flag} given {args.count(flag)} times")
        return args[args.index(flag) + 1]

    def env_from_secret(self, container, var):
        found = [e for e in container.get("env", []) if e["name"] == var]
        self.assertEqual(len(found), 1, f"{container['name']}: one {var}")
        self.assertNotIn("value", found[0], f"{container['name']}: {var} written in the manifest")
        return found[0]["valueFrom"]["secretKeyRef"]

    def host(self):
        rules = self.get("Ingress", DAEMON)["spec"]["rules"]
        self.assertEqual(len(rules), 1)
        return rules[0]["host"]

    # ---- objects ---------------------------------------------------------------

    def test_objects(self):
        got = {(o["kind"], o["metadata"]["name"]) for o in self.objects}
        want = {
            ("Namespace", NAMESPACE),
            ("ServiceAccount", DAEMON), ("ServiceAccount", WORKER), ("ServiceAccount", AGENT),
            ("ConfigMap", DAEMON), ("ConfigMap", AGENT),
            ("Deployment", DAEMON), ("Deployment", WORKER), ("DaemonSet", AGENT),
            ("Service", DAEMON), ("Ingress", DAEMON),
            ("PodDisruptionBudget", DAEMON), ("PodDisruptionBudget", WORKER),
            ("NetworkPolicy", DAEMON), ("NetworkPolicy", WORKER),
        } | self.EXTRA_KINDS
        self.assertEqual(got, want)
        for o in self.objects:
            self.assertEqual(o["apiVersion"], KIND_API[o["kind"]], o["kind"])
            if o["kind"] == "Namespace":
                self.assertNotIn("namespace", o["metadata"])
            else:
                self.assertEqual(o["metadata"].get("namespace"), NAMESPACE,
                                 f"{o['kind']} {o['metadata']['name']}")
            self.assertEqual(o["metadata"].get("labels", {}).get("app.kubernetes.io/part-of"),
                             "cloister", f"{o['kind']} {o['metadata']['name']}")

    def test_no_secret(self):
        # Credentials are the operator's (or Key Vault's): a Secret here would
        # be committed, or a placeholder overwriting the real one.
        self.assertEqual(self.all("Secret"), [])

    # ---- every container -------------------------------------------------------

    def test_resources(self):
        for w in self.workloads():
            for c in self.containers(w):
                res = c.get("resources", {})
                for kind in ("requests", "limits"):
                    for r in ("cpu", "memory"):
                        self.assertIn(r, res.get(kind, {}),
                                      f"{w['metadata']['name']}/{c['name']}: no {kind}.{r}")

    def test_images_pinned_through_kustomize(self):
        with open(os.path.join(BASE, "kustomization.yaml")) as f:
            named = {i["name"] for i in yaml.safe_load(f).get("images", [])}
        for w in self.workloads():
            for c in self.containers(w):
                where = f"{w['metadata']['name']}/{c['name']}"
                self.assertTrue(image_pinned(c.get("image", "")), f"{where}: {c.get('image')!r}")
                name = DIGEST.sub("", c["image"]).rsplit(":", 1)[0]
                self.assertIn(name, named, f"{where}'s image is not pinned in the base's images:")

    def test_security_context(self):
        uid = dockerfile_uid()
        for name in (DAEMON, WORKER):
            spec = self.pod(name)["spec"]
            sc = spec["securityContext"]
            self.assertIs(sc.get("runAsNonRoot"), True, name)
            self.assertEqual(sc.get("runAsUser"), uid, f"{name}: the image's user")
            self.assertEqual(sc.get("runAsGroup"), uid, name)
            self.assertEqual(sc.get("seccompProfile", {}).get("type"), "RuntimeDefault", name)
            self.assertIs(spec.get("automountServiceAccountToken"), False, name)
            self.assertEqual(spec.get("serviceAccountName"), name)
            self.assertIs(self.get("ServiceAccount", name).get("automountServiceAccountToken"), False)
            for k in ("hostNetwork", "hostPID", "hostIPC"):
                self.assertNotEqual(spec.get(k), True, f"{name}: {k}")
            for c in spec.get("initContainers", []) + spec["containers"]:
                csc = c.get("securityContext", {})
                where = f"{name}/{c['name']}"
                self.assertIs(csc.get("allowPrivilegeEscalation"), False, where)
                self.assertIs(csc.get("readOnlyRootFilesystem"), True, where)
                self.assertNotEqual(csc.get("privileged"), True, where)
                self.assertEqual(csc.get("capabilities", {}).get("drop"), ["ALL"], where)
                self.assertNotIn("add", csc.get("capabilities", {}), where)
                for k in ("runAsUser", "runAsNonRoot"):
                    self.assertNotIn(k, csc, f"{where} overrides the pod's {k}")
                self.assertTrue(c["image"].startswith(IMAGE + ":") or c["image"].startswith(IMAGE + "@"),
                                f"{where}: {c['image']}")

    def test_selectors_match_templates(self):
        for w in self.workloads():
            self.assertTrue(matches(w["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"]),
                            w["metadata"]["name"])

    # ---- cloisterd -------------------------------------------------------------

    def test_daemon_command_line(self):
        c = self.container(DAEMON)
        self.assertEqual(c["command"], ["cloisterd"])
        self.assertEqual(c["args"][0], "serve")
        if "cloisterd" not in program_help.available():
            self.skipTest("cloisterd not built: flags not checked")
        h = program_help.load("cloisterd")
        self.assertEqual(h.check_args(c["args"]), [])
        for e in c.get("env", []):
            self.assertIn(e["name"], h.envs, f"cloisterd reads no {e['name']}")
        for src in c.get("envFrom", []):
            data = self.get("ConfigMap", src["configMapRef"]["name"])["data"]
            for key in data:
                self.assertIn(key, h.envs, f"ConfigMap {src['configMapRef']['name']}: cloisterd reads no {key}")

    def test_daemon_port_and_probes(self):
        c = self.container(DAEMON)
        listen = self.arg(c, "--listen")
        self.assertNotIn(program_help.listen_host(listen), ("127.0.0.1", "localhost", "[::1]"))
        port = program_help.listen_port(listen)
        self.assertEqual([(p.get("name"), p["containerPort"], p.get("protocol", "TCP"))
                          for p in c["ports"]], [("http", port, "TCP")])
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"),
                            ("startupProbe", "/healthz")):
            self.assertIn(probe, c, probe)
            get = c[probe].get("httpGet", {})
            self.assertEqual(get.get("path"), path, probe)
            self.assertEqual(self.port_number(c, get.get("port")), port, f"{probe} port")
            self.assertEqual(get.get("scheme", "HTTP"), "HTTP", probe)
        # Readiness is what takes a replica out; liveness must not restart a
        # daemon whose database is away (/readyz's 503).
        self.assertNotEqual(c["livenessProbe"]["httpGet"]["path"], "/readyz")
        # TLS ends at the Ingress: a daemon that refuses plain HTTP beyond
        # loopback must be told so.
        if ("cloisterd" in program_help.available()
                and "--behind-tls-proxy" in program_help.load("cloisterd").flags):
            self.assertNotIn("--tls-cert", c["args"])
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            self.assertTrue("--behind-tls-proxy" in c["args"]
                            or env.get("CLOISTER_BEHIND_TLS_PROXY") == "true",
                            "plain HTTP behind the Ingress needs --behind-tls-proxy")

    def test_daemon_replicas_and_grace(self):
        d = self.get("Deployment", DAEMON)
        self.assertGreaterEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        spec = d["spec"]["template"]["spec"]
        shutdown = 30
        if "cloisterd" in program_help.available():
            shutdown = int(program_help.load("cloisterd").flags["--shutdown-timeout"].default)
        pause = 0
        pre = self.container(DAEMON).get("lifecycle", {}).get("preStop", {}).get("exec", {})
        if pre.get("command", [None])[0] == "sleep":
            pause = int(pre["command"][1])
        self.assertGreater(spec["terminationGracePeriodSeconds"], shutdown + pause)

    def test_database_url_from_a_secret(self):
        for name in (DAEMON, WORKER):
            ref = self.env_from_secret(self.container(name), "CLOISTER_DATABASE_URL")
            self.assertEqual((ref["name"], ref["key"]), ("cloister-database", "url"), name)
            self.assertNotEqual(ref.get("optional"), True, name)

    def test_kek_copied_into_memory(self):
        for name in (DAEMON, WORKER):
            c = self.container(name)
            kek = self.arg(c, "--kek-file")
            mount = [m for m in c["volumeMounts"] if kek.startswith(m["mountPath"].rstrip("/") + "/")]
            self.assertEqual(len(mount), 1, f"{name}: {kek} on no volume")
            self.assertIs(mount[0].get("readOnly"), True, name)
            vol = self.volume(name, mount[0]["name"])
            self.assertEqual(vol.get("emptyDir", {}).get("medium"), "Memory", f"{name}: the key on disk")
            inits = self.pod(name)["spec"].get("initContainers", [])
            self.assertEqual([i["name"] for i in inits], ["kek"], name)
            init = inits[0]
            script = " ".join(init["command"])
            m = re.search(r"install -m (0?[0-7]{3,4}) (\S+) (\S+)", script)
            self.assertIsNotNone(m, f"{name}: the init container does not install the key")
            self.assertEqual(int(m.group(1), 8) & 0o077, 0, f"{name}: key mode {m.group(1)}")
            self.assertEqual(m.group(3), kek, name)
            src = [im for im in init["volumeMounts"]
                   if m.group(2).startswith(im["mountPath"].rstrip("/") + "/")]
            self.assertEqual(len(src), 1, name)
            self.assertIs(src[0].get("readOnly"), True, name)
            self.assertEqual(src[0]["name"], "kek-secret", name)
            dst = [im for im in init["volumeMounts"] if im["name"] == mount[0]["name"]]
            self.assertEqual(len(dst), 1, name)
            self.assertEqual(m.group(3).rsplit("/", 1)[0], dst[0]["mountPath"].rstrip("/"), name)
            self.assert_kek_source(name, self.volume(name, "kek-secret"),
                                   m.group(2)[len(src[0]["mountPath"].rstrip("/")) + 1:])

    # ---- cloister-worker --------------------------------------------------------

    def test_worker(self):
        c = self.container(WORKER)
        self.assertEqual(c["command"], ["cloister-worker"])
        self.assertNotIn("ports", c)
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            self.assertNotIn(probe, c, "the worker serves nothing to probe")
        d = self.get("Deployment", WORKER)
        self.assertGreaterEqual(d["spec"]["replicas"], 2)
        grace = 30
        if "cloister-worker" in program_help.available():
            h = program_help.load("cloister-worker")
            self.assertEqual(h.check_args(c["args"], allow_command=False), [])
            for e in c.get("env", []):
                self.assertIn(e["name"], h.envs)
            grace = int(h.flags["--grace"].default)
        self.assertGreater(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], grace)

    # ---- Service, Ingress, PodDisruptionBudgets -----------------------------------

    def test_service(self):
        svc = self.get("Service", DAEMON)
        self.assertEqual(svc["spec"].get("type", "ClusterIP"), "ClusterIP")
        self.assertTrue(matches({"matchLabels": svc["spec"]["selector"]},
                                self.pod(DAEMON)["metadata"]["labels"]))
        for w in self.workloads():
            if w["metadata"]["name"] != DAEMON:
                self.assertFalse(matches({"matchLabels": svc["spec"]["selector"]},
                                         w["spec"]["template"]["metadata"]["labels"]),
                                 f"the Service also selects {w['metadata']['name']}")
        c = self.container(DAEMON)
        for p in svc["spec"]["ports"]:
            self.assertEqual(self.port_number(c, p.get("targetPort", p["port"])), self.listen_port())
            self.assertEqual(p.get("protocol", "TCP"), "TCP")

    def test_ingress(self):
        ing = self.get("Ingress", DAEMON)
        spec = ing["spec"]
        self.assertIn(spec.get("ingressClassName"), INGRESS_NAMESPACES)
        svc = self.get("Service", DAEMON)
        for rule in spec["rules"]:
            for path in rule["http"]["paths"]:
                self.assertEqual(path["path"], "/")
                self.assertEqual(path["pathType"], "Prefix")
                backend = path["backend"]["service"]
                self.assertEqual(backend["name"], svc["metadata"]["name"])
                port = backend["port"]
                found = [p for p in svc["spec"]["ports"]
                         if p.get("name") == port.get("name", object()) or p["port"] == port.get("number")]
                self.assertEqual(len(found), 1, f"the Ingress's port {port} is no port of the Service")
        tls = spec.get("tls", [])
        self.assertEqual(len(tls), 1, "TLS at the Ingress")
        self.assertEqual(set(tls[0]["hosts"]), {r["host"] for r in spec["rules"]})
        self.assertTrue(tls[0].get("secretName"))

    def test_pod_disruption_budgets(self):
        pdbs = self.all("PodDisruptionBudget")
        for pdb in pdbs:
            selected = [w for w in self.workloads()
                        if matches(pdb["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
            self.assertEqual([w["metadata"]["name"] for w in selected], [pdb["metadata"]["name"]],
                             f"PDB {pdb['metadata']['name']} selects {[w['metadata']['name'] for w in selected]}")
            self.assertEqual(selected[0]["kind"], "Deployment")
        daemon = self.get("PodDisruptionBudget", DAEMON)["spec"]
        self.assertGreaterEqual(daemon.get("minAvailable", 0), 1)
        self.assertLess(daemon["minAvailable"], self.get("Deployment", DAEMON)["spec"]["replicas"],
                        "a drain could never evict a daemon")
        self.assertEqual(self.get("PodDisruptionBudget", WORKER)["spec"].get("maxUnavailable"), 1)

    # ---- NetworkPolicies ------------------------------------------------------------

    def egress_ports(self, spec):
        ports = set()
        for rule in spec.get("egress", []):
            for p in rule.get("ports", []):
                ports.add((p.get("protocol", "TCP"), p["port"]))
        return ports

    def test_daemon_network_policy(self):
        np = self.get("NetworkPolicy", DAEMON)["spec"]
        self.assertTrue(matches(np["podSelector"], self.pod(DAEMON)["metadata"]["labels"]))
        self.assertEqual(set(np["policyTypes"]), {"Ingress", "Egress"})
        c = self.container(DAEMON)
        sources = []
        for rule in np["ingress"]:
            self.assertTrue(rule.get("from"), "an ingress rule open to every source")
            self.assertEqual([self.port_number(c, p["port"]) for p in rule["ports"]], [self.listen_port()])
            sources += rule["from"]
        namespaces = [s["namespaceSelector"]["matchLabels"] for s in sources if "namespaceSelector" in s]
        controller = INGRESS_NAMESPACES[self.get("Ingress", DAEMON)["spec"]["ingressClassName"]]
        self.assertEqual(namespaces, [{"kubernetes.io/metadata.name": controller}],
                         "the ingress controller's namespace, and only it")
        pods = [s for s in sources if "podSelector" in s and "namespaceSelector" not in s]
        self.assertEqual(len(pods), 1)
        self.assertTrue(matches(pods[0]["podSelector"], self.pod(AGENT, "DaemonSet")["metadata"]["labels"]),
                        "the agents")
        for s in sources:
            self.assertNotIn("ipBlock", s, "an address range in the base policy")
        self.assertLessEqual({("UDP", 53), ("TCP", 5432), ("TCP", 443)}, self.egress_ports(np))

    def test_worker_network_policy(self):
        np = self.get("NetworkPolicy", WORKER)["spec"]
        self.assertTrue(matches(np["podSelector"], self.pod(WORKER)["metadata"]["labels"]))
        self.assertEqual(set(np["policyTypes"]), {"Ingress", "Egress"})
        self.assertEqual(np.get("ingress", []), [], "nothing reaches a worker")
        self.assertLessEqual({("UDP", 53), ("TCP", 5432), ("TCP", 443)}, self.egress_ports(np))
        self.assertFalse(matches(np["podSelector"], self.pod(DAEMON)["metadata"]["labels"]),
                         "the workers' policy also selects the daemon")

    # ---- one public address ---------------------------------------------------------

    def test_public_address(self):
        host = self.host()
        public = self.get("ConfigMap", DAEMON)["data"]["CLOISTER_PUBLIC_URL"]
        manager = self.get("ConfigMap", AGENT)["data"]["manager-url"]
        for url in (public, manager):
            parts = urlsplit(url)
            self.assertEqual((parts.scheme, parts.hostname), ("https", host), url)


class BaseTest(ControlPlane, unittest.TestCase):
    PATH = BASE

    def assert_kek_source(self, name, vol, path):
        secret = vol.get("secret")
        self.assertIsNotNone(secret, f"{name}: the key from a Secret")
        self.assertEqual(secret["secretName"], "cloister-kek")
        self.assertEqual(secret.get("items"), [{"key": "kek", "path": path}])
        self.assertEqual(secret.get("defaultMode"), 0o400)
        self.assertNotEqual(secret.get("optional"), True)
        # the init container reads the root-owned file through fsGroup
        sc = self.pod(name)["spec"]["securityContext"]
        self.assertEqual(sc.get("fsGroup"), sc.get("runAsGroup"))

    def test_base_ingress(self):
        spec = self.get("Ingress", DAEMON)["spec"]
        self.assertEqual(spec["ingressClassName"], "nginx")
        self.assertEqual(spec["tls"][0]["secretName"], "cloisterd-tls")


class AksOverlayTest(ControlPlane, unittest.TestCase):
    PATH = AKS
    EXTRA_KINDS = {("SecretProviderClass", "cloister")}

    def spc(self):
        return self.get("SecretProviderClass", "cloister")

    def spc_objects(self):
        arr = yaml.safe_load(self.spc()["spec"]["parameters"]["objects"])["array"]
        return [yaml.safe_load(o) for o in arr]

    def assert_kek_source(self, name, vol, path):
        self.assertNotIn("secret", vol, f"{name}: both a Secret and Key Vault")
        csi = vol.get("csi")
        self.assertIsNotNone(csi, f"{name}: the key from Key Vault")
        self.assertEqual(csi["driver"], "secrets-store.csi.k8s.io")
        self.assertIs(csi.get("readOnly"), True)
        self.assertEqual(csi["volumeAttributes"]["secretProviderClass"], self.spc()["metadata"]["name"])
        aliases = {o.get("objectAlias", o["objectName"]) for o in self.spc_objects()}
        self.assertIn(path, aliases, f"{name}: no Key Vault object gives the file {path}")

    def test_secret_provider_class(self):
        spec = self.spc()["spec"]
        self.assertEqual(spec["provider"], "azure")
        params = spec["parameters"]
        self.assertEqual(params.get("usePodIdentity"), "false")
        for key in ("clientID", "keyvaultName", "tenantId"):
            self.assertTrue(params.get(key), key)
        for o in self.spc_objects():
            self.assertEqual(o["objectType"], "secret", o)
        # the database URL: synced into the Secret the containers read
        synced = {(s["secretName"], d["key"]): d["objectName"]
                  for s in spec.get("secretObjects", []) for d in s["data"]}
        self.assertIn(("cloister-database", "url"), synced)
        aliases = {o.get("objectAlias", o["objectName"]) for o in self.spc_objects()}
        self.assertIn(synced[("cloister-database", "url")], aliases)

    def test_workload_identity(self):
        client = self.spc()["spec"]["parameters"]["clientID"]
        for name in (DAEMON, WORKER):
            self.assertEqual(self.pod(name)["metadata"]["labels"].get("azure.workload.identity/use"), "true")
            sa = self.get("ServiceAccount", name)
            self.assertEqual(sa["metadata"].get("annotations", {}).get("azure.workload.identity/client-id"),
                             client, name)
            # Every pod that reads the synced Secret mounts the CSI volume, so
            # that the Secret exists before its containers start.
            self.assertIn("csi", self.volume(name, "kek-secret"))

    def test_aks_ingress(self):
        ing = self.get("Ingress", DAEMON)
        self.assertEqual(ing["spec"]["ingressClassName"], "webapprouting.kubernetes.azure.com")
        self.assertTrue(ing["metadata"]["annotations"].get("kubernetes.azure.com/tls-cert-keyvault-uri"))
        # the add-on keeps the certificate in keyvault-<Ingress name>
        self.assertEqual(ing["spec"]["tls"][0]["secretName"], "keyvault-" + ing["metadata"]["name"])

    def test_agent_on_the_sgx_pool(self):
        spec = self.pod(AGENT, "DaemonSet")["spec"]
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"]
        self.assertEqual(len(terms), 1, "one term: the pool and an SGX size together")
        exprs = {e["key"]: e for e in terms[0]["matchExpressions"]}
        self.assertEqual(set(exprs), {"kubernetes.azure.com/agentpool", "node.kubernetes.io/instance-type"})
        for e in exprs.values():
            self.assertEqual(e["operator"], "In")
            self.assertTrue(e["values"])
        self.assertLessEqual(set(exprs["node.kubernetes.io/instance-type"]["values"]), AKS_SGX_SIZES)
        # the rest of the agent is the base's
        base_agent = [o for o in render(BASE) if o["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
        for k in ("containers", "initContainers", "volumes", "securityContext", "hostNetwork"):
            self.assertEqual(spec.get(k), base_agent.get(k), k)


if __name__ == "__main__":
    if shutil.which(KUBECTL) is None:
        print(f"skipped: {KUBECTL} not found (script/bootstrap installs Debian's kubernetes-client)",
              file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
