"""Making test images from files, with umoci, and pushing them with skopeo;
and reading images back (skopeo copy, umoci unpack)."""
import json
import os
import shutil
import subprocess


def umoci(*args):
    subprocess.run(["umoci", *args], check=True, capture_output=True)


def build_image(layout, tag, layers, entrypoint=None, cmd=None, env=None, workdir=None,
                labels=None):
    """An image tagged `tag` in the OCI layout `layout` (made if missing).
    layers: a list of dicts path -> bytes (a file, 0755 when it starts with
    "#!" or "\\x7fELF", else 0644) or ("symlink", target)."""
    if not os.path.exists(os.path.join(layout, "index.json")):
        umoci("init", "--layout", layout)
    umoci("new", "--image", f"{layout}:{tag}")
    bundle = layout + ".bundle"
    for files in layers:
        shutil.rmtree(bundle, ignore_errors=True)
        umoci("unpack", "--image", f"{layout}:{tag}", bundle)
        root = os.path.join(bundle, "rootfs")
        for path, content in files.items():
            full = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if os.path.lexists(full):
                os.remove(full)
            if isinstance(content, tuple):
                os.symlink(content[1], full)
                continue
            with open(full, "wb") as f:
                f.write(content)
            executable = content.startswith(b"#!") or content.startswith(b"\x7fELF")
            os.chmod(full, 0o755 if executable else 0o644)
        umoci("repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)
    shutil.rmtree(bundle, ignore_errors=True)
    args = ["config", "--image", f"{layout}:{tag}", "--os", "linux", "--architecture", "amd64"]
    for e in entrypoint or []:
        args += ["--config.entrypoint", e]
    for c in cmd or []:
        args += ["--config.cmd", c]
    for e in env or []:
        args += ["--config.env", e]
    if workdir:
        args += ["--config.workingdir", workdir]
    for k, v in (labels or {}).items():
        args += ["--config.label", f"{k}={v}"]
    umoci(*args)
    umoci("gc", "--layout", layout)


def push(layout, tag, host, repo, creds=None):
    args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        args += ["--dest-creds", creds]
    subprocess.run(args + [f"oci:{layout}:{tag}", f"docker://{host}/{repo}"], check=True,
                   capture_output=True)


def digest(host, repo):
    """The manifest digest the registry holds for repo (REPOSITORY:TAG)."""
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{host}/{repo}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["Digest"]


def pull_unpacked(host, repo, dest, creds=None):
    """Copy host/repo into an OCI layout under dest and unpack it; returns
    (rootfs path, the image's config, its manifest)."""
    layout = os.path.join(dest, "layout")
    args = ["skopeo", "copy", "--quiet", "--src-tls-verify=false"]
    if creds:
        args += ["--src-creds", creds]
    subprocess.run(args + [f"docker://{host}/{repo}", f"oci:{layout}:pulled"], check=True,
                   capture_output=True)
    bundle = os.path.join(dest, "bundle")
    umoci("unpack", "--image", f"{layout}:pulled", bundle)
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    digest = index["manifests"][0]["digest"].split(":")[1]
    with open(os.path.join(layout, "blobs", "sha256", digest)) as f:
        manifest = json.load(f)
    with open(os.path.join(layout, "blobs", "sha256", manifest["config"]["digest"][7:])) as f:
        config = json.load(f)
    return os.path.join(bundle, "rootfs"), config, manifest
