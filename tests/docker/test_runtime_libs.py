#!/usr/bin/env python3
"""The runtime stage of docker/Dockerfile installs every Debian package whose
shared libraries the programs load.

For each built program (cloisterd, cloister-worker, cloister-agent, cloister,
cloister-init: the paths ctest passes, as the integration tests receive them)
the libraries it names itself (DT_NEEDED, `readelf -d`) are found where the
loader finds them (`ldd`), and each one's Debian package is asked of dpkg
(`dpkg -S`).  Then:

  - every such package is named on the runtime stage's `apt-get install`
    line, but for the sanitizer runtimes of the test build (libasan,
    libubsan, which the Release image does not link) and the C library
    (libc6, in every Debian image);
  - every library those libraries load in turn (`ldd` of each) comes from a
    package that apt installs with the named ones (their Depends and
    Pre-Depends, followed to the end) or from the base image;
  - the build stage installs, for every runtime package, a -dev package that
    depends on it (libpq-dev for libpq5, libcurl4-openssl-dev for libcurl4);
  - the runtime stage installs no -dev package and no compiler;
  - the build stage copies what CMakeLists.txt needs, and
    docker/Dockerfile.dockerignore lets exactly that through.

    python3 tests/docker/test_runtime_libs.py        # or: ctest -R docker_runtime_libs

CLOISTERD, CLOISTER_WORKER, CLOISTER_AGENT, CLOISTER_CLI and CLOISTER_INIT name
the programs (default: build-test/); CLOISTER_DOCKERFILE another Dockerfile (a
broken copy, to see the test fail).  Exits 77 (skipped) when no program is
built or readelf, ldd or dpkg is missing (not a Debian machine).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.environ.get("CLOISTER_DOCKERFILE", os.path.join(ROOT, "docker", "Dockerfile"))
SKIP = 77

PROGRAMS = {
    "cloisterd": "CLOISTERD",
    "cloister-worker": "CLOISTER_WORKER",
    "cloister-agent": "CLOISTER_AGENT",
    "cloister": "CLOISTER_CLI",
    "cloister-init": "CLOISTER_INIT",
}

# Libraries of the sanitized test build that the Release image does not link.
SANITIZER_PACKAGES = {"libasan8", "libubsan1"}
SANITIZER_SONAME = re.compile(r"^lib(asan|ubsan)\.so")
# In every Debian image, debian:12-slim included: the C library and loader,
# and GCC's runtime, which libc6 itself depends on.
BASE_PACKAGES = {"libc6", "libgcc-s1"}
# What has no place in a runtime image.
BUILD_ONLY = re.compile(r"(-dev$|^build-essential$|^gcc(-\d+)?$|^g\+\+|^cmake$|^make$|^pkg-config$|^pkgconf$)")


def program_paths():
    found = {}
    for name, env in PROGRAMS.items():
        path = os.environ.get(env) or os.path.join(ROOT, "build-test", name)
        if os.path.isfile(path):
            found[name] = path
    return found


# ---- the Dockerfile -------------------------------------------------------------

def dockerfile_stages(path):
    """[(FROM line, [instructions])], continuation lines joined, comments dropped."""
    with open(path) as f:
        text = f.read()
    logical, cur = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not cur:
            continue
        if stripped.startswith("#"):        # a comment inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip():
            logical.append(cur.strip())
        cur = ""
    if cur.strip():
        logical.append(cur.strip())
    stages = []
    for ins in logical:
        word = ins.split(None, 1)[0].upper()
        if word == "FROM":
            stages.append((ins, []))
        elif stages:
            stages[-1][1].append(ins)
    return stages


def apt_installed(instructions):
    """The packages the stage's RUN instructions give to apt-get install."""
    packages = []
    for ins in instructions:
        if ins.split(None, 1)[0].upper() != "RUN":
            continue
        lexer = shlex.shlex(ins.split(None, 1)[1], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        i = 0
        while i < len(tokens):
            if tokens[i] in ("apt-get", "apt") and i + 1 < len(tokens) and tokens[i + 1] == "install":
                i += 2
                while i < len(tokens) and tokens[i] not in ("&&", "||", ";", "|"):
                    t = tokens[i]
                    if not t.startswith("-"):
                        packages.append(re.sub(r"[=:].*$", "", t))
                    i += 1
            else:
                i += 1
    return packages


# ---- the machine's loader and dpkg ---------------------------------------------

def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def ldd(path):
    """{soname: resolved path} as the loader resolves them for this file."""
    proc = subprocess.run(["ldd", path], capture_output=True, text=True)
    libs = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            if m.group(2) == "not":
                raise AssertionError(f"{path}: {m.group(1)} not found by the loader")
            libs[m.group(1)] = m.group(2)
        else:
            m = re.match(r"\s*(/\S+) \(0x", line)       # the loader itself
            if m:
                libs[os.path.basename(m.group(1))] = m.group(1)
    return libs


_owner_cache = {}


def owner(path):
    """The Debian package that owns the library file, as dpkg -S says."""
    if path in _owner_cache:
        return _owner_cache[path]
    # With merged /usr the loader says /lib/... where dpkg may have recorded
    # /usr/lib/... (or the other way round), and a symlink's target may be
    # what the package lists.
    candidates = []
    for p in (path, os.path.realpath(path)):
        candidates.append(p)
        if p.startswith("/usr/lib/"):
            candidates.append(p[len("/usr"):])
        elif p.startswith("/lib/") or p.startswith("/lib64/"):
            candidates.append("/usr" + p)
    for p in candidates:
        proc = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if proc.returncode == 0:
            for line in proc.stdout.splitlines():
                if line.startswith("diversion "):
                    continue
                pkg = line.split(": ", 1)[0].split(",")[0].strip()
                _owner_cache[path] = pkg.split(":")[0]
                return _owner_cache[path]
    raise AssertionError(f"no Debian package owns {path} (tried {', '.join(candidates)})")


def installed_packages():
    """{package: (depends, pre_depends)} and {virtual: [providers]} of the installed packages."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\t${Depends}\t${Pre-Depends}\t${Provides}\n"],
        capture_output=True, text=True, check=True).stdout
    deps, provides = {}, {}
    for line in out.splitlines():
        pkg, status, dep, pre, prov = (line.split("\t") + [""] * 5)[:5]
        if not status.startswith("ii"):
            continue
        deps[pkg] = dep + ("," + pre if pre else "")
        for p in filter(None, (x.strip() for x in prov.split(","))):
            provides.setdefault(re.sub(r"[\s(:].*$", "", p), []).append(pkg)
    return deps, provides


def dependency_closure(roots, deps, provides):
    """Every installed package apt would bring in with roots (Depends and Pre-Depends)."""
    seen, todo = set(), list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for clause in filter(None, (c.strip() for c in deps.get(pkg, "").split(","))):
            for alt in (a.strip() for a in clause.split("|")):
                name = re.sub(r"[\s(:].*$", "", alt)
                if name in deps:
                    todo.append(name)
                    break
                if name in provides:
                    todo.extend(provides[name])
                    break
    return seen


# ---- the tests --------------------------------------------------------------------

class DockerfileParseTest(unittest.TestCase):
    """The parser itself, so that a lax parse cannot pass a missing package."""

    def test_apt_installed(self):
        ins = ['RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y '
               '--no-install-recommends a b=1.2 c:amd64 && rm -rf x && apt-get install d; echo e']
        self.assertEqual(apt_installed(ins), ["a", "b", "c", "d"])
        self.assertEqual(apt_installed(["COPY a b"]), [])


class BuildContextTest(unittest.TestCase):
    """What the build stage copies exists, and Dockerfile.dockerignore lets it through."""

    def test_copied_paths(self):
        stages = dockerfile_stages(DOCKERFILE)
        sources = []
        for ins in stages[0][1]:
            words = ins.split()
            if words[0].upper() == "COPY" and not any(w.startswith("--from") for w in words):
                sources += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
        self.assertIn("CMakeLists.txt", sources)
        for src in sources:
            self.assertTrue(os.path.exists(os.path.join(ROOT, src)), f"COPY {src}: not in the checkout")
        # Every directory CMakeLists.txt adds outside the tests is copied.
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            cmake = f.read()
        for sub in re.findall(r"^add_subdirectory\((\S+)\)", cmake, re.M):
            self.assertIn(sub, sources, f"CMakeLists.txt adds {sub} unconditionally")
        for src in re.findall(r"\b((?:lib|daemon|api|workers|cli)/[\w/]+\.c)\b", cmake):
            self.assertIn(src.split("/")[0], sources, src)
        ignore = os.path.join(os.path.dirname(DOCKERFILE), os.path.basename(DOCKERFILE) + ".dockerignore")
        with open(ignore) as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        self.assertEqual(lines[0], "*", "everything is ignored but what is let through")
        allowed = {l[1:].rstrip("/") for l in lines[1:] if l.startswith("!")}
        self.assertEqual(set(sources), allowed, "the ignore file and the COPY lines disagree")


class RuntimeLibrariesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.programs = program_paths()
        stages = dockerfile_stages(DOCKERFILE)
        if len(stages) < 2:
            raise AssertionError(f"{DOCKERFILE}: expected a build stage and a runtime stage")
        cls.runtime_from = stages[-1][0]
        cls.runtime = apt_installed(stages[-1][1])
        cls.build = [p for _, ins in stages[:-1] for p in apt_installed(ins)]
        cls.deps, cls.provides = installed_packages()

        # The libraries each program names, their packages, and what they load.
        cls.direct = {}      # package -> {program: soname}
        cls.indirect = {}    # package -> {library path: soname that loads it}
        for name, path in cls.programs.items():
            resolved = ldd(path)
            for soname in needed(path):
                if SANITIZER_SONAME.match(soname):
                    continue
                self_path = resolved.get(soname)
                if self_path is None:
                    raise AssertionError(f"{name}: ldd does not resolve {soname}")
                cls.direct.setdefault(owner(self_path), {})[name] = soname
                for dep, dep_path in ldd(self_path).items():
                    if dep.startswith("linux-vdso") or SANITIZER_SONAME.match(dep):
                        continue
                    cls.indirect.setdefault(owner(dep_path), {})[dep_path] = soname

    def test_runtime_stage_is_slim_debian_12(self):
        self.assertRegex(self.runtime_from, r"^FROM\s+debian:\$\{DEBIAN_VERSION\}-slim(\s|$)")

    def test_programs_found(self):
        self.assertEqual(set(self.programs), set(PROGRAMS),
                         "build the programs first (cmake --build build-test)")

    def test_every_linked_package_installed(self):
        wanted = set(self.direct) - SANITIZER_PACKAGES - BASE_PACKAGES
        missing = {p: self.direct[p] for p in sorted(wanted - set(self.runtime))}
        self.assertFalse(missing, "the runtime stage's apt-get install lacks packages the programs "
                         f"link: {missing}")
        # The ones the programs are known to link, so that an empty ldd cannot pass.
        for p in ("libpq5", "libjansson4", "libssl3", "libcurl4", "libmicrohttpd12"):
            self.assertIn(p, wanted, f"{p} no longer linked? update this test")

    def test_everything_loaded_comes_with_them(self):
        closure = dependency_closure(set(self.runtime) | BASE_PACKAGES, self.deps, self.provides)
        stray = {p: sorted(v.items()) for p, v in self.indirect.items() if p not in closure}
        self.assertFalse(stray, "libraries loaded by the linked ones come from packages that the "
                         f"runtime stage does not bring in: {stray}")

    def test_nothing_for_building_in_the_runtime_stage(self):
        extra = [p for p in self.runtime if BUILD_ONLY.search(p)]
        self.assertFalse(extra, f"build packages in the runtime stage: {extra}")

    def test_no_unneeded_library_packages(self):
        # Everything installed but ca-certificates is there because a program
        # links it: a package left behind after a dependency went is noticed.
        unneeded = set(self.runtime) - set(self.direct) - {"ca-certificates"}
        self.assertFalse(unneeded, f"installed but not linked by any program: {sorted(unneeded)}")
        self.assertIn("ca-certificates", self.runtime)

    def test_build_stage_has_the_dev_package_of_each(self):
        for runtime_pkg in sorted(set(self.runtime) - {"ca-certificates"}):
            devs = [p for p in self.build
                    if re.search(r"(^|,)\s*" + re.escape(runtime_pkg) + r"(\s|\(|:|,|$)",
                                 self.deps.get(p, ""))]
            self.assertTrue(devs, f"no package of the build stage depends on {runtime_pkg} "
                            f"(its -dev package is missing, or not installed here)")


if __name__ == "__main__":
    missing = [t for t in ("readelf", "ldd", "dpkg", "dpkg-query") if shutil.which(t) is None]
    if missing:
        print(f"skipped: {', '.join(missing)} not found (a Debian machine with binutils)",
              file=sys.stderr)
        sys.exit(SKIP)
    if not program_paths():
        print("skipped: no program built (cmake --build build-test)", file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
