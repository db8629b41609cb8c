"""Network edges: what a hostile client can do to cloisterd, and that it
cannot take the daemon down for others.  Slow clients (slowloris) are cut
at the connection timeout while others are served; oversized header blocks
and bodies are refused; the connection limit holds and frees up; a client
that sends half a body and stops is cut too; idle connections past the
connection limit hold others back only until the connection timeout."""
import http.client
import socket
import threading
import time
import unittest

from cloister_test import Daemon, new_database


def served(d, timeout=3):
    """Whether an ordinary client gets /healthz within timeout seconds."""
    try:
        status = d.request("GET", "/healthz", timeout=timeout)[0]
        return status == 200
    except OSError:
        return False


def closed_by_server(sock, within):
    """Whether the server closes sock (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class NetworkEdges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        url, _ = new_database()
        cls.d = Daemon(url, "--connection-timeout=2", "--max-connections=64",
                       "--max-body-size=4K").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.close()

    def slow_clients(self, n, head):
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.d.port))
            s.sendall(head)
            socks.append(s)
        return socks

    def test_slowloris_is_cut_and_others_are_served(self):
        socks = self.slow_clients(40, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        stop = threading.Event()

        def drip():                                 # a header line now and then
            while not stop.wait(0.5):
                for s in socks:
                    try:
                        s.sendall(b"X-a: b\r\n")
                    except OSError:
                        pass
        t = threading.Thread(target=drip)
        t.start()
        try:
            for _ in range(5):                      # others are served meanwhile
                self.assertTrue(served(self.d))
        finally:
            stop.set()
            t.join()
        # a stalled request is closed once the connection timeout passes
        self.assertTrue(all(closed_by_server(s, 6) for s in socks))
        for s in socks:
            s.close()
        self.assertTrue(served(self.d))

    def test_half_a_body_then_silence_is_cut(self):
        [s] = self.slow_clients(1, b"POST /v1/session HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Type: application/json\r\n"
                                   b"Content-Length: 1000\r\n\r\n{\"email\": ")
        self.assertTrue(served(self.d))
        self.assertTrue(closed_by_server(s, 6))
        s.close()

    def test_huge_header_block_is_refused(self):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.settimeout(10)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 200000 + b"\r\n\r\n"
        try:
            s.sendall(head)
            answer = s.recv(200)
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
        s.close()
        # refused: 431 (or the connection closed) and never served
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer)
        self.assertTrue(served(self.d))

    def test_body_over_the_limit_before_it_is_read(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        conn.putrequest("POST", "/v1/session")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(50 * 1024 * 1024))
        conn.endheaders()
        try:
            conn.send(b"{" + b" " * 8192)
            status = conn.getresponse().status
        except (ConnectionResetError, BrokenPipeError):
            status = None
        conn.close()
        self.assertIn(status, (413, None))
        self.assertTrue(served(self.d))

    def test_idle_connections_past_the_limit_are_cut(self):
        time.sleep(0.3)
        held = [socket.create_connection(("127.0.0.1", self.d.port))
                for _ in range(80)]                 # past --max-connections=64, all idle
        try:
            # others wait at most until the connection timeout (2 s) cuts the idle ones
            self.assertTrue(served(self.d, timeout=8))
            cut = sum(1 for s in held[:64] if closed_by_server(s, 0.1))
            self.assertGreaterEqual(cut, 60)        # the ones it had taken are closed
        finally:
            for s in held:
                s.close()
        self.assertTrue(served(self.d))
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    unittest.main()
