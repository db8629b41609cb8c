"""A server that fails the way networks and overloaded services do, for
fault-injection tests: every HTTP request answered 500 (with a JSON body,
as a registry's or a proxy's error page would be), or every connection
reset as soon as a request arrives (RST, by SO_LINGER 0), or accepted and
never answered (a stalled peer).

    with FaultyServer("500") as f:   # or "reset", or "stall"
        f.host                      # 127.0.0.1:PORT, plain HTTP
        f.requests                  # how many requests (or connections) came
"""
import http.server
import socket
import socketserver
import struct
import threading

MODES = ("500", "reset", "stall")


class FaultyServer:
    def __init__(self, mode):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode, self.requests, self._stalled = mode, 0, []
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self):
                peer.requests += 1
                if peer.mode == "reset":
                    self.request.recv(65536)
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                            struct.pack("ii", 1, 0))
                    return
                if peer.mode == "stall":
                    peer._stalled.append(self.request)      # kept open, never answered
                    threading.Event().wait(600)
                    return
                super().handle()

            def _fail(self):
                body = b'{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _fail

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        for s in self._stalled:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
