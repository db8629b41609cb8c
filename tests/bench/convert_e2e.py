"""End-to-end conversion timing (run by tests/bench/convert): an image of
IMAGE_MB megabytes of files (random bytes, so the layers do not compress
away, in files of 64 KiB to 4 MiB) and a quarter of that size, each pushed to
a local docker-registry, converted by a release cloister-worker with the
stand-in Gramine runtime, timed from the request to the recorded build.

Reports, for each size: the conversion's wall time and its phases (from the
job's events), the image's bytes per second through the whole conversion,
and the peak resident memory of the job's process (the worker logs what
wait4 says of each attempt's child); the ratio of the two peaks says
whether memory follows the image's size.  Asserts nothing.
"""
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))
from cloister_test import Api, Daemon, Worker, create_admin, new_database  # noqa: E402
from convert_images import app_layers, runtime_files  # noqa: E402
from oci_build import build_image, push  # noqa: E402
from registry import Registry  # noqa: E402


def files_of(total_mb, seed):
    rng = random.Random(seed)
    files, left, i = {}, total_mb << 20, 0
    while left > 0:
        size = min(left, rng.choice([64 << 10, 256 << 10, 1 << 20, 4 << 20]))
        files[f"/srv/data/{i // 100:03d}/f{i:05d}.bin"] = os.urandom(size)
        left -= size
        i += 1
    return files


def convert_once(api, registry, repo):
    app = api.ok("POST", "/v1/apps", {
        "name": "bench-" + uuid.uuid4().hex[:8], "input_image": f"{registry.host}/{repo}",
        "output_image": f"{registry.host}/out/{uuid.uuid4().hex[:8]}:v1",
        "enclave_size": 1 << 30, "max_threads": 16}, want=201)
    start = time.monotonic()
    job = api.ok("POST", f"/v1/apps/{app['id']}/builds", {}, want=202)
    while job["state"] not in ("succeeded", "failed"):
        time.sleep(0.05)
        job = api.ok("GET", f"/v1/jobs/{job['id']}")
    elapsed = time.monotonic() - start
    if job["state"] != "succeeded":
        raise SystemExit(f"the conversion failed: {job['error']}")
    events = api.ok("GET", f"/v1/jobs/{job['id']}/events?limit=500")["items"]
    return elapsed, job, events


def peak_rss_kib(worker, job_id):
    """The job's child's peak RSS, as the worker logged it when the attempt ended."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in worker.output().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("msg") == "attempt ended" and doc.get("job") == job_id:
                return doc["peak_rss_kib"]
        time.sleep(0.1)
    raise SystemExit("the worker did not log the attempt's end")


def phases(events):
    """(phase, seconds) from each phase event to the next, and to the end."""
    marks = [(e["message"], e["at"]) for e in events if e["type"] == "phase"]
    end = events[-1]["at"]

    def t(stamp):
        from datetime import datetime
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    out = []
    for i, (name, at) in enumerate(marks):
        nxt = marks[i + 1][1] if i + 1 < len(marks) else end
        out.append((name, t(nxt) - t(at)))
    return out


def main():
    image_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = tempfile.mkdtemp(prefix="cl-convert-bench-")
    url, _ = new_database()
    d = Daemon(url).start()
    password = create_admin(d)
    reg = Registry()
    try:
        layout = os.path.join(tmp, "layout")
        build_image(layout, "runtime", [runtime_files(tmp)],
                    labels={"org.opencontainers.image.version": "1.9.0"})
        push(layout, "runtime", reg.host, "gramine/runtime:1.9")
        sizes = [image_mb // 4, image_mb]
        for mb in sizes:
            data = files_of(mb, mb)
            half = len(data) // 2
            keys = sorted(data)
            layers = app_layers() + [{k: data[k] for k in keys[:half]},
                                     {k: data[k] for k in keys[half:]}]
            build_image(layout, f"img{mb}", layers, entrypoint=["/app/hello.sh"])
            push(layout, f"img{mb}", reg.host, f"bench/img{mb}:v1")
        api = Api(d)
        api.login("admin@example.com", password)
        account = api.ok("POST", "/v1/accounts", {"name": "bench"}, want=201)["id"]
        api.ok("POST", "/v1/session/account", {"account_id": account})
        api.ok("POST", "/v1/registries", {"name": "local", "host": reg.host, "tls": False},
               want=201)

        results = []
        worker = Worker(url, d.kek, "--slots=1", "--poll-interval=1", "--log-level=debug",
                        f"--gramine-image={reg.host}/gramine/runtime:1.9",
                        f"--insecure-registries={reg.host}")
        try:
            convert_once(api, reg, "bench/img%d:v1" % sizes[0])   # the account's key is made
            for mb in sizes:
                elapsed, job, events = convert_once(api, reg, f"bench/img{mb}:v1")
                if job["attempts"] != 1:
                    raise SystemExit(f"the conversion took {job['attempts']} attempts")
                results.append((mb, elapsed, peak_rss_kib(worker, job["id"]), phases(events),
                                job["result"]["trusted_files"]))
        finally:
            worker.close()

        print("== conversion end to end (release build; image of random files in 2 layers "
              "over a busybox app; enclave 1 GiB, 16 threads; one worker slot; the account's "
              "key made beforehand)")
        for mb, elapsed, rss, steps, trusted in results:
            print(f"image {mb:4d} MB, {trusted} trusted files: {elapsed:6.2f} s request to "
                  f"build, {mb / elapsed:6.1f} MB/s; worker peak RSS {rss / 1024:.1f} MiB")
            for name, seconds in steps:
                print(f"    {name:28s} {seconds:6.2f} s")
        small, large = results[0], results[-1]
        print(f"peak RSS, {large[0]} MB image / {small[0]} MB image: "
              f"{large[2] / small[2]:.2f} (1.00 = independent of the image's size)")
        print(f"time, {large[0]} MB image / {small[0]} MB image: {large[1] / small[1]:.2f} "
              f"(size ratio {large[0] / small[0]:.1f})")
    finally:
        reg.close()
        d.stop()
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
