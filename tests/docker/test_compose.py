#!/usr/bin/env python3
"""docker/compose.yaml, read with PyYAML and checked against the programs.

No Docker engine is needed: the file is parsed as Compose would take it
(YAML merge keys included) and each service is checked for what
docs/install.md promises:

  - the services: postgres, migrate, cloisterd, two cloister-worker
    services and a registry, with pinned images (a tag that is not latest,
    or a digest);
  - every command line a Cloister program is given: every flag is one its
    own --help lists (the built programs are run), with a value where it
    takes one, and cloisterd's first word is one of its commands; every
    CLOISTER_* variable is one the program reads;
  - the ports: cloisterd's published container port is the port of its
    --listen, on an address reachable from outside the container; the
    registry's is its default, 5000; the workers' --insecure-registries
    names the registry service at that port; nothing else is published;
  - PostgreSQL: its socket volume is where the programs' database URL looks,
    it has a health check, and everything that uses it waits for it;
  - the key-encryption key: a secret from the environment, mounted where
    the programs' kek-file says, owned by the image's user (the Dockerfile's
    CLOISTER_UID) with no group or other access.

    python3 tests/docker/test_compose.py        # or: ctest -R docker_compose

CLOISTER_COMPOSE names another compose file (a broken copy, to see the test
fail); CLOISTERD, CLOISTER_WORKER, ... the programs (default build-test/).
Exits 77 (skipped) when the programs are not built.
"""

import os
import re
import sys
import unittest
from urllib.parse import parse_qs, urlsplit

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import yaml
except ImportError:
    # Debian's python3-yaml is seen only by the system Python (script/bootstrap).
    if (__name__ == "__main__" and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise ImportError("PyYAML is missing: script/bootstrap installs Debian's python3-yaml")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import program_help  # noqa: E402

ROOT = program_help.ROOT
COMPOSE = os.environ.get("CLOISTER_COMPOSE", os.path.join(ROOT, "docker", "compose.yaml"))
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
SKIP = 77
REGISTRY_PORT = 5000      # the registry:2 image's default (http.addr :5000)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_pinned(image):
    """True for name:tag (tag not latest) or name@sha256:digest."""
    if "@" in image:
        return DIGEST.search(image) is not None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag not in ("", "latest")


def as_list(v):
    if v is None:
        return []
    return list(v) if isinstance(v, list) else v.split()


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


def dockerfile_uid():
    with open(DOCKERFILE) as f:
        m = re.search(r"^ARG CLOISTER_UID=(\d+)$", f.read(), re.M)
    return int(m.group(1)) if m else None


class ComposeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(COMPOSE) as f:
            cls.doc = yaml.safe_load(f)
        cls.services = cls.doc["services"]

    # ---- helpers ---------------------------------------------------------------

    def service(self, name):
        self.assertTrue(name in self.services, f"no service {name}")
        return self.services[name]

    def program(self, svc):
        """(program, its arguments) of a service running a Cloister program, else (None, [])."""
        words = as_list(svc.get("entrypoint")) + as_list(svc.get("command"))
        if words and os.path.basename(words[0]) in program_help.PROGRAMS:
            return os.path.basename(words[0]), words[1:]
        return None, []

    def cloister_services(self):
        return {n: s for n, s in self.services.items() if self.program(s)[0]}

    def workers(self):
        return {n: s for n, s in self.services.items()
                if self.program(s)[0] == "cloister-worker"}

    def published(self, svc):
        """[(host address, host port, container port)] of a service's ports."""
        out = []
        for p in svc.get("ports", []):
            if isinstance(p, dict):
                out.append((p.get("host_ip", ""), int(p.get("published", 0)), int(p["target"])))
                continue
            parts = str(p).split("/")[0].split(":")
            container = int(parts[-1])
            host = int(parts[-2]) if len(parts) >= 2 else 0
            addr = parts[-3] if len(parts) >= 3 else ""
            out.append((addr, host, container))
        return out

    def setting(self, svc, flag):
        """What the program is given for a setting: its flag, else its CLOISTER_* variable."""
        prog, args = self.program(svc)
        value = program_help.load(prog).value(args, flag)
        if value is None:
            value = environment(svc).get(program_help.load(prog).flags[flag].env)
        return value

    def volume_at(self, svc, path):
        for v in svc.get("volumes", []):
            src, _, rest = str(v).partition(":")
            if rest.split(":")[0] == path:
                return src
        return None

    def depends(self, name, seen=None):
        """Every service name reaches through depends_on, with its condition."""
        seen = {} if seen is None else seen
        deps = self.services[name].get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for d, spec in deps.items():
            if d not in seen:
                seen[d] = spec.get("condition", "service_started")
                self.depends(d, seen)
        return seen

    # ---- the services ----------------------------------------------------------

    def test_services(self):
        for name in ("postgres", "migrate", "cloisterd", "registry"):
            self.service(name)
        self.assertEqual(self.program(self.service("cloisterd"))[0], "cloisterd")
        self.assertEqual(self.program(self.service("migrate")), ("cloisterd", ["migrate"]))
        self.assertEqual(len(self.workers()), 2, "two cloister-worker services")
        self.assertEqual(set(self.cloister_services()),
                         {"migrate", "cloisterd"} | set(self.workers()))
        self.assertRegex(self.service("postgres")["image"], r"^(docker\.io/library/)?postgres:")
        self.assertRegex(self.service("registry")["image"], r"^(docker\.io/library/)?registry:2(\.|$)")

    def test_images_pinned(self):
        for name, svc in self.services.items():
            self.assertIn("image", svc, name)
            self.assertTrue(image_pinned(svc["image"]), f"{name}: {svc['image']!r}")
        images = {s["image"] for s in self.cloister_services().values()}
        self.assertEqual(len(images), 1, f"one image for the Cloister programs: {images}")

    def test_cloister_image_built_from_the_dockerfile(self):
        for name, svc in self.cloister_services().items():
            build = svc.get("build") or {}
            # relative to the compose file, which lives in docker/
            context = os.path.normpath(os.path.join(ROOT, "docker", build.get("context", ".")))
            self.assertEqual(context, ROOT, f"{name}: the build context is the checkout")
            self.assertTrue(os.path.isfile(os.path.join(context, build.get("dockerfile", "-"))),
                            f"{name}: no Dockerfile {build.get('dockerfile')}")
            self.assertEqual(build.get("dockerfile"), "docker/Dockerfile", name)

    # ---- the programs' command lines -------------------------------------------------

    def test_flags_are_the_programs_own(self):
        for name, svc in self.cloister_services().items():
            prog, args = self.program(svc)
            problems = program_help.load(prog).check_args(args)
            self.assertEqual(problems, [], f"service {name}")

    def test_variables_are_the_programs_own(self):
        for name, svc in self.cloister_services().items():
            prog, _ = self.program(svc)
            known = program_help.load(prog).envs
            for var in environment(svc):
                if var.startswith("CLOISTER_"):
                    self.assertIn(var, known, f"service {name}: {prog} reads no {var}")

    def test_worker_names_differ(self):
        names = [self.setting(s, "--name") for s in self.workers().values()]
        self.assertNotIn(None, names)
        self.assertEqual(len(set(names)), len(names), names)

    # ---- ports -------------------------------------------------------------------------

    def test_daemon_port(self):
        svc = self.service("cloisterd")
        listen = self.setting(svc, "--listen") or program_help.load("cloisterd").flags["--listen"].default
        host = program_help.listen_host(listen)
        self.assertNotIn(host, ("127.0.0.1", "localhost", "[::1]"),
                         "cloisterd must listen beyond the container's loopback")
        ports = self.published(svc)
        self.assertEqual(len(ports), 1, ports)
        self.assertEqual(ports[0][2], program_help.listen_port(listen),
                         "the published container port is cloisterd's --listen port")
        with open(DOCKERFILE) as f:
            self.assertIn(f"EXPOSE {ports[0][2]}", f.read(), "the image exposes that port")
        # Plain HTTP beyond loopback is refused unless the daemon is told that
        # TLS ends in front of it (a daemon that knows that setting).
        h = program_help.load("cloisterd")
        if "--behind-tls-proxy" in h.flags and not self.setting(svc, "--tls-cert"):
            prog, args = self.program(svc)
            told = "--behind-tls-proxy" in args or \
                self.setting(svc, "--behind-tls-proxy") in ("true", "--behind-tls-proxy=true")
            self.assertTrue(told, "plain HTTP on a non-loopback address: the daemon would refuse "
                            "to start without --behind-tls-proxy")

    def test_registry_port(self):
        svc = self.service("registry")
        addr = environment(svc).get("REGISTRY_HTTP_ADDR", f":{REGISTRY_PORT}")
        port = program_help.listen_port(addr)
        self.assertEqual([p[2] for p in self.published(svc)], [port])
        for name, w in self.workers().items():
            insecure = (self.setting(w, "--insecure-registries") or "").split(",")
            self.assertIn(f"registry:{port}", insecure, name)

    def test_nothing_else_published(self):
        for name, svc in self.services.items():
            if name in ("cloisterd", "registry"):
                for addr, _, _ in self.published(svc):
                    self.assertEqual(addr, "127.0.0.1", f"{name} published beyond this machine")
            else:
                self.assertEqual(self.published(svc), [], f"{name} publishes ports")

    # ---- PostgreSQL --------------------------------------------------------------------

    def test_database_through_the_socket_volume(self):
        pg = self.service("postgres")
        pg_volume = self.volume_at(pg, "/var/run/postgresql")
        self.assertIsNotNone(pg_volume, "postgres shares its socket directory through a volume")
        pg_env = environment(pg)
        for name, svc in self.cloister_services().items():
            url = self.setting(svc, "--database-url")
            self.assertIsNotNone(url, name)
            parts = urlsplit(url)
            query = parse_qs(parts.query)
            socket_dir = query.get("host", [""])[0]
            self.assertTrue(socket_dir.startswith("/"), f"{name}: not a socket directory: {url}")
            self.assertEqual(self.volume_at(svc, socket_dir), pg_volume,
                             f"{name}: {socket_dir} is not postgres's socket volume")
            self.assertEqual(parts.path.lstrip("/"), pg_env["POSTGRES_DB"], name)
            self.assertEqual(query.get("user", [""])[0], pg_env["POSTGRES_USER"], name)

    def test_postgres_healthy_first(self):
        pg = self.service("postgres")
        test = pg.get("healthcheck", {}).get("test", [])
        self.assertIn("pg_isready", " ".join(test))
        for name in self.cloister_services():
            self.assertEqual(self.depends(name).get("postgres"), "service_healthy", name)
        for name in ["cloisterd"] + list(self.workers()):
            self.assertEqual(self.depends(name).get("migrate"),
                             "service_completed_successfully", name)
        self.assertEqual(str(self.service("migrate").get("restart")), "no")

    # ---- the key-encryption key ---------------------------------------------------------

    def test_kek_secret(self):
        uid = dockerfile_uid()
        self.assertIsNotNone(uid, "ARG CLOISTER_UID in the Dockerfile")
        secrets = self.doc.get("secrets", {})
        for name, svc in self.cloister_services().items():
            path = self.setting(svc, "--kek-file")
            self.assertIsNotNone(path, f"{name}: no kek-file")
            mounted = None
            for s in svc.get("secrets", []):
                s = {"source": s} if isinstance(s, str) else s
                target = s.get("target", s["source"])
                if not target.startswith("/"):
                    target = "/run/secrets/" + target
                if target == path:
                    mounted = s
            self.assertIsNotNone(mounted, f"{name}: {path} is no secret's mount")
            top = secrets.get(mounted["source"], {})
            self.assertIn("environment", top, "a secret from the environment, copied with its owner")
            self.assertNotIn("file", top)
            self.assertEqual(str(mounted.get("uid")), str(uid), f"{name}: owned by the image's user")
            mode = mounted.get("mode")
            mode = int(mode, 8) if isinstance(mode, str) else mode
            self.assertIsNotNone(mode, f"{name}: no mode (Compose's default may change)")
            self.assertEqual(mode & 0o077, 0, f"{name}: mode {mode:o} lets others read the key")


if __name__ == "__main__":
    missing = [p for p in ("cloisterd", "cloister-worker") if p not in program_help.available()]
    if missing:
        print(f"skipped: {', '.join(missing)} not built (cmake --build build-test)", file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
