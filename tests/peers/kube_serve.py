"""The Kubernetes fake (kubernetes.py) as a process of its own, for tests
written in another language (the portal's browser tests, in Node).

    python3 kube_serve.py --kubeconfig PATH [--sgx-node NAME]... \
        [--fail-deployment NAME=MODE]... [--deadline-scale S]

It starts a KubernetesPeer, adds the SGX nodes (each advertising 8Gi of
sgx.intel.com/epc, as Intel's device plugin does; sgx-0 and sgx-1 when none
is named), writes a kubeconfig for it to PATH (its CA inline, a bearer
token), makes the rollouts of each named deployment fail in MODE ("stuck",
"image-pull", "crash-loop" or "unschedulable", in any namespace), prints
one line of JSON, {"url": ..., "kubeconfig": ...}, and serves until it is
sent SIGTERM or SIGINT, or its standard input closes (the test that started
it is gone).

--deadline-scale shortens spec.progressDeadlineSeconds in the controller's
reckoning (600 s times S), so that a failing rollout fails in seconds."""
import argparse
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubernetes  # noqa: E402

EPC = "sgx.intel.com/epc"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    ap.add_argument("--sgx-node", action="append", default=[], metavar="NAME")
    ap.add_argument("--epc", default="8Gi", help="each SGX node's allocatable EPC")
    ap.add_argument("--fail-deployment", action="append", default=[], metavar="NAME=MODE")
    ap.add_argument("--deadline-scale", type=float, default=0.05)
    args = ap.parse_args()

    failures = []
    for spec in args.fail_deployment:
        name, sep, mode = spec.partition("=")
        if not sep or not name:
            ap.error(f"--fail-deployment {spec!r}: want NAME=MODE")
        failures.append((name, mode))

    peer = kubernetes.KubernetesPeer(deadline_scale=args.deadline_scale)
    stop = threading.Event()
    try:
        for name in args.sgx_node or ["sgx-0", "sgx-1"]:
            peer.add_node(name, allocatable={EPC: args.epc})
        for name, mode in failures:
            peer.fail_deployment(name, mode)
        peer.kubeconfig(args.kubeconfig)
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())

        def watch_stdin():
            try:
                while sys.stdin.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()

        print(json.dumps({"url": peer.url, "kubeconfig": args.kubeconfig}), flush=True)
        while not stop.wait(1):
            pass
    finally:
        peer.close()


if __name__ == "__main__":
    main()
