"""What a Cloister program accepts, as its own --help says.

The deployment files (docker/compose.yaml, docker/systemd/, docker/k8s/)
give the programs command lines and CLOISTER_* variables; the tests check
each against the program that will read it, by running it with --help:

    h = program_help.load("cloisterd")      # the binary ctest names, else build-test/
    h.flags["--listen"].metavar  ->  "TEXT"
    h.flags["--listen"].default  ->  "127.0.0.1:8080"
    h.envs                       ->  {"CLOISTER_LISTEN", ...}
    h.commands                   ->  ["serve", "migrate", ...]  (cloisterd)
    h.check_args(["serve", "--listen", "0.0.0.0:8080"])  -> [] or the problems

Used by tests/docker/test_compose.py, test_systemd.py and
tests/k8s/test_control_plane.py.
"""

import os
import re
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# program -> the variable ctest sets to its binary (tests/docker/CMakeLists.txt)
PROGRAMS = {
    "cloisterd": "CLOISTERD",
    "cloister-worker": "CLOISTER_WORKER",
    "cloister-agent": "CLOISTER_AGENT",
    "cloister": "CLOISTER_CLI",
}


class Flag:
    def __init__(self, name, metavar, env, default):
        self.name, self.metavar, self.env, self.default = name, metavar, env, default

    @property
    def takes_value(self):
        return self.metavar is not None


class Help:
    def __init__(self, program, text):
        self.program, self.text = program, text
        self.flags, self.envs, self.commands = {}, set(), []
        last = None
        for line in text.splitlines():
            m = re.match(r"^  (--[a-z][a-z0-9-]*)(?: ([A-Z]+)\b)?", line)
            if m:
                last = Flag(m.group(1), m.group(2), None, None)
                self.flags[last.name] = last
                env = re.search(r"\(env (CLOISTER_[A-Z0-9_]+)\)", line)
                if env:
                    last.env = env.group(1)
                continue
            m = re.match(r"^\s+env (CLOISTER_[A-Z0-9_]+)(?:, default (.*))?$", line)
            if m and last is not None:
                last.env = m.group(1)
                last.default = m.group(2)
        self.envs = {f.env for f in self.flags.values() if f.env}
        m = re.search(r"^usage: \S+ \[([a-z|-]+)\]", text, re.M)
        if m:
            self.commands = m.group(1).split("|")

    def port_default(self, flag="--listen"):
        """The port of a HOST:PORT default, as an int."""
        return listen_port(self.flags[flag].default)

    def check_args(self, args, allow_command=True):
        """The problems with args as this program's command line ([] when none).

        A leading word is a command (cloisterd's serve, migrate, ...); then
        every --flag must be one the help lists, given once, with a value
        when the help shows one (--flag VALUE or --flag=VALUE), and nothing
        else may stand between them.
        """
        problems, seen, i = [], set(), 0
        if allow_command and args and not args[0].startswith("-"):
            if args[0] not in self.commands:
                problems.append(f"{self.program}: {args[0]!r} is not a command "
                                f"({'|'.join(self.commands) or 'it has none'})")
            i = 1
        while i < len(args):
            a = args[i]
            if not a.startswith("--"):
                problems.append(f"{self.program}: stray argument {a!r}")
                i += 1
                continue
            name, eq, value = a.partition("=")
            flag = self.flags.get(name)
            if flag is None:
                problems.append(f"{self.program}: no flag {name} in its --help")
                i += 1
                continue
            if name in seen:
                problems.append(f"{self.program}: {name} given twice")
            seen.add(name)
            if flag.takes_value and not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("--"):
                    problems.append(f"{self.program}: {name} needs a value ({flag.metavar})")
                    i += 1
                    continue
                i += 2
                continue
            i += 1
        return problems

    def value(self, args, name):
        """The value given to --name in args, else None."""
        for i, a in enumerate(args):
            if a == name and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(name + "="):
                return a[len(name) + 1:]
        return None


def binary(program):
    env = PROGRAMS[program]
    return os.environ.get(env) or os.path.join(ROOT, "build-test", program)


def available():
    """The programs whose binaries exist, by name."""
    return [p for p in PROGRAMS if os.path.isfile(binary(p)) and os.access(binary(p), os.X_OK)]


_cache = {}


def load(program):
    if program not in _cache:
        proc = subprocess.run([binary(program), "--help"], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0 or not proc.stdout.startswith("usage:"):
            raise AssertionError(f"{binary(program)} --help failed ({proc.returncode}): "
                                 f"{proc.stderr.strip()}")
        _cache[program] = Help(program, proc.stdout)
    return _cache[program]


def listen_port(address):
    """The port of HOST:PORT, [IPV6]:PORT or :PORT."""
    m = re.match(r"^(?:\[[^\]]*\]|[^:\[\]]*):(\d+)$", address or "")
    if not m:
        raise ValueError(f"not a listen address: {address!r}")
    return int(m.group(1))


def listen_host(address):
    m = re.match(r"^(\[[^\]]*\]|[^:\[\]]*):\d+$", address)
    return m.group(1) if m else None
