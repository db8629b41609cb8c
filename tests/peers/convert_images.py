"""The images the conversion tests convert: a stand-in Gramine runtime in
Gramine's package layout (its libpal.so a real ELF shared object compiled
here) and a shell-script app on a static busybox.

As a program, it builds both and pushes them to a plain-HTTP registry:

    convert_images.py HOST    -> HOST/gramine/runtime:1.9, HOST/team/app:v1

and prints {"runtime": ..., "app": ...} (the references) as JSON.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from oci_build import build_image, push  # noqa: E402

PKG = "/usr/lib/x86_64-linux-gnu/gramine"

PAL_SOURCE = b"""
int pal_state = 19;
char pal_table[12288] = { 1, 2, 3 };
int pal_main(int x) { return x * pal_state + pal_table[x & 7]; }
"""

HELLO = b"#!/bin/sh\necho \"$GREETING from a converted image: $*\"\n"


def compile_so(tmp, name, source):
    src = os.path.join(tmp, name + ".c")
    out = os.path.join(tmp, name + ".so")
    with open(src, "wb") as f:
        f.write(source)
    subprocess.run(["gcc", "-shared", "-fPIC", "-nostdlib", "-O2", "-o", out, src], check=True)
    with open(out, "rb") as f:
        return f.read()


def runtime_files(tmp):
    """The stand-in runtime: Gramine's package layout with small real files."""
    return {
        f"{PKG}/sgx/libpal.so": compile_so(tmp, "libpal", PAL_SOURCE),
        f"{PKG}/sgx/loader": compile_so(tmp, "loader", b"int loader(void) { return 1; }\n"),
        f"{PKG}/libsysdb.so": compile_so(tmp, "libsysdb", b"int sysdb(void) { return 2; }\n"),
        f"{PKG}/runtime/glibc/libc.so.6": compile_so(tmp, "libc", b"int c(void) { return 3; }\n"),
        f"{PKG}/runtime/glibc/ld-linux-x86-64.so.2":
            compile_so(tmp, "ld", b"int ld(void) { return 4; }\n"),
        "/usr/bin/gramine-sgx": b"#!/bin/sh\nexec " + PKG.encode() + b"/sgx/loader \"$@\"\n",
    }


def app_layers(script=HELLO, extra=None):
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    base = {"/bin/busybox": busybox, "/bin/sh": ("symlink", "busybox"),
            "/bin/echo": ("symlink", "/bin/busybox"), "/etc/hostname": b"enclave\n",
            "/var/cache/app/state": b"not trusted\n", "/tmp/scratch": b"not trusted\n"}
    top = {"/app/hello.sh": script, "/app/data/config.json": b'{"mode": "enclave"}\n'}
    top.update(extra or {})
    return [base, top]



def main():
    host = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="cl-convert-images-") as tmp:
        layout = os.path.join(tmp, "layout")
        build_image(layout, "runtime", [runtime_files(tmp)],
                    labels={"org.opencontainers.image.version": "1.9.0"})
        push(layout, "runtime", host, "gramine/runtime:1.9")
        build_image(layout, "app", app_layers(), entrypoint=["/app/hello.sh"],
                    cmd=["--greet", "world"], env=["GREETING=hello"], workdir="/app")
        push(layout, "app", host, "team/app:v1")
    print(json.dumps({"runtime": f"{host}/gramine/runtime:1.9", "app": f"{host}/team/app:v1"}))


if __name__ == "__main__":
    main()
