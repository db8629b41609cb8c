#!/usr/bin/env python3
"""The systemd units of docker/systemd/, checked against the programs.

  - each unit's ExecStart runs one Cloister program from /usr/local/bin,
    and every flag it gives is one the program's own --help lists (the
    built programs are run), with a value where it takes one;
  - the hardening docs/install.md promises: an unprivileged User=,
    NoNewPrivileges, ProtectSystem=strict, PrivateTmp, no capabilities,
    secrets from an EnvironmentFile=, Restart=on-failure;
  - the daemon and the workers read the same key file and database
    settings; the workers' template names each instance apart and lets its
    jobs finish (KillMode=mixed, a stop timeout longer than --grace); the
    daemon's stop timeout is longer than its --shutdown-timeout;
  - the agent's state directory is its StateDirectory, and it listens on
    its default port, the one enclaves and the DaemonSet use;
  - `systemd-analyze verify` finds nothing to say about any unit (when
    systemd-analyze is here), with ExecStart pointed at the built program.

    python3 tests/docker/test_systemd.py        # or: ctest -R docker_systemd

CLOISTER_SYSTEMD_DIR names another directory of units (a broken copy, to see
the test fail); CLOISTERD, CLOISTER_WORKER, CLOISTER_AGENT the programs.
Exits 77 (skipped) when the programs are not built.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import program_help  # noqa: E402

ROOT = program_help.ROOT
UNITS = os.environ.get("CLOISTER_SYSTEMD_DIR", os.path.join(ROOT, "docker", "systemd"))
SKIP = 77
BINDIR = "/usr/local/bin"
EXPECTED = {
    "cloisterd.service": "cloisterd",
    "cloister-worker@.service": "cloister-worker",
    "cloister-agent.service": "cloister-agent",
}
# What a specifier stands for when the flags are checked.
SPECIFIERS = {"%H": "host", "%i": "1", "%I": "1", "%n": "unit", "%N": "unit", "%p": "unit",
              "%d": "/run/credentials/unit", "%S": "/var/lib", "%%": "%"}


def parse_unit(path):
    """{section: [(key, value)]}, keys in order, repeated keys kept."""
    sections, current, cont = {}, None, None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if cont is not None:
                key, value = cont
                value += " " + line.strip().rstrip("\\")
                cont = (key, value) if line.endswith("\\") else None
                if cont is None:
                    sections[current].append((key, value.strip()))
                continue
            s = line.strip()
            if not s or s.startswith("#") or s.startswith(";"):
                continue
            m = re.match(r"^\[(.+)\]$", s)
            if m:
                current = m.group(1)
                sections.setdefault(current, [])
                continue
            key, _, value = s.partition("=")
            if value.endswith("\\"):
                cont = (key.strip(), value[:-1])
                continue
            sections[current].append((key.strip(), value.strip()))
    return sections


def expand(text):
    return re.sub(r"%[A-Za-z%]", lambda m: SPECIFIERS.get(m.group(0), m.group(0)), text)


class UnitsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.units = {}
        for name in sorted(os.listdir(UNITS)):
            if name.endswith(".service"):
                cls.units[name] = parse_unit(os.path.join(UNITS, name))

    # ---- helpers ---------------------------------------------------------------

    def values(self, unit, key, section="Service"):
        return [v for k, v in self.units[unit].get(section, []) if k == key]

    def value(self, unit, key, section="Service"):
        vals = self.values(unit, key, section)
        self.assertEqual(len(vals), 1, f"{unit}: expected one {key}=, found {vals}")
        return vals[0]

    def exec_start(self, unit):
        """(program, raw words, words with specifiers expanded)."""
        raw = shlex.split(self.value(unit, "ExecStart"))
        path = raw[0].lstrip("-@:+!")
        return os.path.basename(path), raw, [expand(w) for w in raw]

    # ---- the units --------------------------------------------------------------

    def test_units(self):
        self.assertEqual(set(self.units), set(EXPECTED))
        for unit, program in EXPECTED.items():
            self.assertEqual(self.exec_start(unit)[0], program, unit)
            self.assertEqual(self.exec_start(unit)[1][0], f"{BINDIR}/{program}", unit)
            self.assertIn("multi-user.target", self.values(unit, "WantedBy", "Install"), unit)
            self.assertTrue(self.values(unit, "Description", "Unit"), unit)

    def test_flags_are_the_programs_own(self):
        for unit, program in EXPECTED.items():
            _, _, words = self.exec_start(unit)
            self.assertEqual(program_help.load(program).check_args(words[1:]), [], unit)

    def test_hardening(self):
        for unit in EXPECTED:
            user = self.value(unit, "User")
            self.assertNotIn(user, ("", "root", "0"), unit)
            self.assertEqual(self.value(unit, "Group"), user, unit)
            for key, want in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                              ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                              ("Restart", "on-failure"), ("CapabilityBoundingSet", ""),
                              ("AmbientCapabilities", ""), ("RestrictSUIDSGID", "yes"),
                              ("SystemCallArchitectures", "native"), ("UMask", "0077")):
                self.assertEqual(self.value(unit, key), want, f"{unit}: {key}")
            self.assertIn("@system-service", self.values(unit, "SystemCallFilter"), unit)
            self.assertTrue(self.values(unit, "EnvironmentFile"), f"{unit}: no EnvironmentFile")
            self.assertEqual(self.value(unit, "Type"), "exec", unit)
            # Secrets come from the environment files, never from the unit.
            self.assertFalse(self.values(unit, "Environment"), f"{unit}: Environment= in the unit")

    def test_daemon_and_workers_share_key_and_database(self):
        kek = {u: program_help.load(EXPECTED[u]).value(self.exec_start(u)[2], "--kek-file")
               for u in ("cloisterd.service", "cloister-worker@.service")}
        self.assertEqual(len(set(kek.values())), 1, kek)
        self.assertTrue(list(kek.values())[0].startswith("/etc/cloister/"), kek)
        shared = [set(self.values(u, "EnvironmentFile")) for u in kek]
        self.assertIn("/etc/cloister/cloister.env", shared[0] & shared[1])
        self.assertEqual(self.value("cloisterd.service", "User"),
                         self.value("cloister-worker@.service", "User"),
                         "the key file has one owner")

    def test_daemon_stop_timeout(self):
        shutdown = int(program_help.load("cloisterd").flags["--shutdown-timeout"].default)
        self.assertGreater(int(self.value("cloisterd.service", "TimeoutStopSec")), shutdown)

    def test_worker_template(self):
        unit = "cloister-worker@.service"
        _, raw, _ = self.exec_start(unit)
        name = program_help.load("cloister-worker").value(raw, "--name")
        self.assertIsNotNone(name, "each instance names itself")
        self.assertIn("%i", name, "instances on one host must differ by name")
        self.assertEqual(self.value(unit, "KillMode"), "mixed",
                         "SIGTERM to the worker alone, not to its jobs' processes")
        grace = int(program_help.load("cloister-worker").flags["--grace"].default)
        self.assertGreater(int(self.value(unit, "TimeoutStopSec")), grace)

    def test_agent(self):
        unit = "cloister-agent.service"
        h = program_help.load("cloister-agent")
        _, _, words = self.exec_start(unit)
        state = self.value(unit, "StateDirectory")
        self.assertEqual(h.value(words, "--state-dir"), f"/var/lib/{state}")
        self.assertEqual(self.value(unit, "StateDirectoryMode"), "0700")
        listen = h.value(words, "--listen") or h.flags["--listen"].default
        self.assertEqual(program_help.listen_port(listen), h.port_default())
        self.assertIn("/dev/sgx_enclave rw", self.values(unit, "DeviceAllow"))
        self.assertNotEqual(self.values(unit, "PrivateDevices"), ["yes"],
                            "the agent reports and opens the host's SGX devices")
        self.assertNotEqual(self.value(unit, "User"), self.value("cloisterd.service", "User"),
                            "the agent does not share the control plane's account")

    def test_systemd_analyze_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze not found")
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for unit, program in EXPECTED.items():
                with open(os.path.join(UNITS, unit)) as f:
                    text = f.read().replace(f"{BINDIR}/{program}", program_help.binary(program))
                name = unit.replace("@.", "@1.")
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
                paths.append(os.path.join(tmp, name))
            proc = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                                  capture_output=True, text=True)
            said = (proc.stdout + proc.stderr).strip()
            self.assertEqual(said, "", f"systemd-analyze verify:\n{said}")
            self.assertEqual(proc.returncode, 0)


if __name__ == "__main__":
    missing = [p for p in ("cloisterd", "cloister-worker", "cloister-agent")
               if p not in program_help.available()]
    if missing:
        print(f"skipped: {', '.join(missing)} not built (cmake --build build-test)", file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
