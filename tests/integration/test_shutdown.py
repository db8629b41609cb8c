"""SIGTERM and SIGINT stop the daemon cleanly."""
import signal
import unittest

from cloister_test import Daemon, new_database


class Shutdown(unittest.TestCase):
    def test_signals_stop_cleanly(self):
        url, _ = new_database()
        for sig in (signal.SIGTERM, signal.SIGINT):
            d = Daemon(url).start()
            try:
                self.assertEqual(d.request("GET", "/readyz")[0], 200)
                self.assertEqual(d.stop(sig), 0)
                msgs = [l["msg"] for l in d.log_lines()]
                self.assertEqual(msgs[-1], "stopped")
                self.assertTrue(any(m.startswith("received " + sig.name) for m in msgs))
            finally:
                d.close()


if __name__ == "__main__":
    unittest.main()
