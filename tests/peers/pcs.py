"""A stand-in for Intel's Provisioning Certification Service, API v4, on
loopback: it serves collateral from directories laid out as tests/data/dcap
(tcb_info.json, tcb_info_issuer_chain.pem, qe_identity.json, ...), with the
headers and errors Intel's service uses:

    GET /sgx/certification/v4/tcb?fmspc=F   200 + TCB-Info-Issuer-Chain;
                                            400 for a malformed FMSPC,
                                            404 for one it does not know
    GET /sgx/certification/v4/qe/identity   200 + SGX-Enclave-Identity-Issuer-Chain
    GET /sgx/certification/v4/pckcrl?ca=C&encoding=der
                                            200 + SGX-PCK-CRL-Issuer-Chain;
                                            400 for another ca or encoding
    GET /IntelSGXRootCA.der                 the root CA's CRL

Issuer chains are URL-encoded PEM, every answer has a Request-ID, and errors
carry Error-Code and Error-Message headers, as Intel documents them.  It
counts the requests per path, and can fail the next ones with 503."""
import http.server
import json
import os
import re
import socket
import threading
import urllib.parse
import uuid


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PcsPeer:
    def __init__(self, cases, identity_from=None):
        """cases: directories of collateral; the QE identity and the root CA
        CRL come from identity_from (default the first)."""
        self.cases = list(cases)
        self.identity = identity_from or self.cases[0]
        self.requests = {}
        self.fail_next = 0
        self.lock = threading.Lock()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}/sgx/certification/v4"
        self.root_crl_url = f"http://127.0.0.1:{self.port}/IntelSGXRootCA.der"
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                peer.serve(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, path):
        with self.lock:
            return self.requests.get(path, 0)

    def _read(self, case, name):
        with open(os.path.join(case, name), "rb") as f:
            return f.read()

    def _answer(self, h, status, body=b"", headers=None, error=None):
        h.send_response(status)
        h.send_header("Request-ID", uuid.uuid4().hex)
        if error:
            h.send_header("Error-Code", error[0])
            h.send_header("Error-Message", error[1])
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _chain(self, case, name):
        return urllib.parse.quote(self._read(case, name).decode(), safe="")

    def serve(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query)
        with self.lock:
            self.requests[url.path] = self.requests.get(url.path, 0) + 1
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
        if failing:
            return self._answer(h, 503, error=("ServiceUnavailable", "try again later"))
        if url.path == "/sgx/certification/v4/tcb":
            fmspc = (query.get("fmspc") or [""])[0]
            if not re.fullmatch(r"[0-9a-fA-F]{12}", fmspc):
                return self._answer(h, 400, error=("InvalidRequestSyntax",
                                                   "fmspc must be 12 hex digits"))
            for case in self.cases:
                doc = json.loads(self._read(case, "tcb_info.json"))
                if doc["tcbInfo"]["fmspc"].lower() == fmspc.lower():
                    return self._answer(h, 200, self._read(case, "tcb_info.json"), {
                        "Content-Type": "application/json",
                        "TCB-Info-Issuer-Chain": self._chain(case, "tcb_info_issuer_chain.pem")})
            return self._answer(h, 404, error=("NoTcbInfoFound", "no TCB Info for this FMSPC"))
        if url.path == "/sgx/certification/v4/qe/identity":
            return self._answer(h, 200, self._read(self.identity, "qe_identity.json"), {
                "Content-Type": "application/json",
                "SGX-Enclave-Identity-Issuer-Chain":
                    self._chain(self.identity, "qe_identity_issuer_chain.pem")})
        if url.path == "/sgx/certification/v4/pckcrl":
            ca = (query.get("ca") or [""])[0]
            if ca not in ("processor", "platform") or query.get("encoding", ["der"])[0] != "der":
                return self._answer(h, 400, error=("InvalidRequestSyntax",
                                                   "ca must be processor or platform"))
            for case in self.cases:
                chain = self._read(case, "pck_crl_issuer_chain.pem").decode() \
                    if os.path.exists(os.path.join(case, "pck_crl_issuer_chain.pem")) else ""
                if f"PCK {ca.capitalize()} CA" in _subjects(chain) or \
                        (not chain and ca == "processor"):
                    return self._answer(h, 200, self._read(case, "pck_crl.der"), {
                        "Content-Type": "application/pkix-crl",
                        "SGX-PCK-CRL-Issuer-Chain": urllib.parse.quote(chain, safe="")})
            return self._answer(h, 404, error=("NoCrlFound", "no CRL for this CA"))
        if url.path == "/IntelSGXRootCA.der":
            return self._answer(h, 200, self._read(self.identity, "root_ca_crl.der"),
                                {"Content-Type": "application/pkix-crl"})
        return self._answer(h, 404, error=("NotFound", "no such resource"))


def _subjects(pem):
    """The subjects' common names in a PEM chain, through openssl."""
    import subprocess
    names = []
    for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem,
                            re.S):
        out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=block.encode(),
                             capture_output=True).stdout.decode()
        names.append(out)
    return " ".join(names)
