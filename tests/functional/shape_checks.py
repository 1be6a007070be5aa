"""The checks both shapes must pass: health, metrics, JSON errors, bad input, graceful shutdown.

A concrete test class sets `server_args()` (extra `tiketi serve` flags) and mixes this in; the same
assertions then run against the embedded default and against PostgreSQL + Redis.
"""

import json
import socket
import threading
import time
import uuid

from harness import TiketiProcess, raw_exchange, request


class ShapeChecks:
    name = "shape"
    server = None

    @classmethod
    def server_args(cls):
        return []

    @classmethod
    def setUpClass(cls):
        cls.server = TiketiProcess(cls.server_args(), name=cls.name)
        try:
            cls.server.migrate()
            cls.server.start()
            cls.server.wait_ready()
        except BaseException:
            cls.server.dump(f"{cls.__name__} start-up")
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.terminate()
            cls.server.dump(f"{cls.__name__} (exit {rc})")
            if rc != 0:
                raise AssertionError(f"tiketi exited {rc} on SIGTERM, expected 0")
        finally:
            cls.server.cleanup()

    # -- health and metrics ---------------------------------------------------------------------

    def test_health_live(self):
        r = self.server.get("/health/live")
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.headers.get("content-type", ""))
        self.assertIsInstance(r.json(), dict)

    def test_health_ready(self):
        r = self.server.get("/health/ready")
        self.assertEqual(r.status, 200, r)
        self.assertIsInstance(r.json(), dict)

    def test_metrics_count_requests_by_route_template(self):
        self.assertEqual(self.server.get("/health/live").status, 200)
        r = self.server.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/plain", r.headers.get("content-type", ""))
        text = r.body.decode()
        self.assertIn("http_requests_total{", text)
        series = [l for l in text.splitlines() if l.startswith("http_requests_total{")]
        self.assertTrue(any('route="/health/live"' in l for l in series), "\n".join(series[:20]))
        self.assertIn("http_request_duration_seconds", text)

    def test_every_stdout_line_is_a_json_object_and_requests_are_logged(self):
        rid = "functest-" + uuid.uuid4().hex
        self.assertEqual(self.server.get("/health/live", headers={"X-Request-Id": rid}).status, 200)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(rid in l for l in self.server.stdout()):
            time.sleep(0.05)  # the log sink is buffered; poll, bounded
        lines = self.server.stdout()
        self.assertTrue(any(rid in l for l in lines), f"no log line carries request id {rid}")
        for line in lines:
            self.assertIsInstance(json.loads(line), dict, line)

    # -- JSON errors ----------------------------------------------------------------------------

    def test_unknown_route_is_json_404(self):
        r = self.server.get("/no/such/route")
        self.assertEqual(r.status, 404, r)
        self.assertIn("application/json", r.headers.get("content-type", ""))
        self.assertEqual(r.error_code(), "not_found", r)

    def test_wrong_method_is_json_405(self):
        r = self.server.get("/debug/echo")  # the route exists for POST only
        self.assertEqual(r.status, 405, r)
        self.assertIsNotNone(r.error_code(), r)

    def test_echo_round_trips_json(self):
        doc = {"a": 1, "b": ["x", None, True], "c": {"d": "é"}}
        r = self.server.post("/debug/echo", json.dumps(doc).encode(), {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), doc)

    def test_invalid_json_is_400_invalid_json(self):
        r = self.server.post("/debug/echo", b'{"a": ', {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.error_code(), "invalid_json", r)
        self.assertEqual(self.server.get("/health/live").status, 200)

    # -- bad input: the server answers 4xx and keeps serving ------------------------------------

    def test_body_over_limit_is_413(self):
        size = 2 * 1024 * 1024
        head = (f"POST /debug/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        chunk = b" " * 65536
        status, data = raw_exchange(self.server.port, head, chunks=[chunk] * (size // len(chunk)))
        self.assertEqual(status, 413, data[:300])
        self.assertEqual(self.server.get("/health/live").status, 200)

    def test_oversized_header_is_4xx(self):
        head = ("GET /health/live HTTP/1.1\r\nHost: t\r\nX-Big: " + "a" * (100 * 1024) + "\r\n\r\n").encode()
        status, data = raw_exchange(self.server.port, head)
        self.assertIsNotNone(status, f"no HTTP answer to an oversized header: {data[:200]!r}")
        self.assertTrue(400 <= status < 500, data[:300])
        self.assertEqual(self.server.get("/health/live").status, 200)

    def test_malformed_request_line_is_400(self):
        status, data = raw_exchange(self.server.port, b"THIS IS NOT HTTP\r\n\r\n")
        self.assertEqual(status, 400, data[:300])
        status, data = raw_exchange(self.server.port, b"GET /health/live HTTP/9.9x\r\nHost: t\r\n\r\n")
        self.assertIsNotNone(status, data[:300])
        self.assertTrue(400 <= status < 500 or status == 505, data[:300])
        self.assertEqual(self.server.get("/health/live").status, 200)

    def test_garbage_then_disconnect_does_not_hurt(self):
        for payload in (b"\x00\xff\x16\x03\x01garbage", b"GET / HTTP/1.1\r\nHost"):
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                s.sendall(payload)
        self.assertEqual(self.server.get("/health/live").status, 200)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            for _ in range(3):
                conn.request("GET", "/health/live")
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
        finally:
            conn.close()

    # -- graceful shutdown ----------------------------------------------------------------------

    def test_sigterm_finishes_in_flight_request_and_exits_0(self):
        srv = TiketiProcess(self.server_args(), name=self.name + "-drain")
        try:
            srv.migrate()
            srv.start()
            srv.wait_ready()
            self._check_drain(srv)
        except BaseException:
            srv.dump("drain test")
            raise
        finally:
            srv.cleanup()

    def _check_drain(self, srv):
        import http.client

        # A keep-alive connection opened before SIGTERM, to ask readiness while draining.
        probe = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        probe.request("GET", "/health/ready")
        first = probe.getresponse()
        first.read()
        self.assertEqual(first.status, 200)

        sleep_ms = 1500
        result = {}

        def slow():
            t0 = time.monotonic()
            try:
                result["resp"] = request(srv.port, "GET", f"/debug/sleep?ms={sleep_ms}", timeout=15)
            except Exception as e:  # recorded and asserted on below
                result["error"] = e
            result["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=slow)
        t.start()
        # There is no signal for "the server has parsed the request"; give it a moment, far less
        # than the sleep itself.
        time.sleep(0.3)
        srv.proc.send_signal(15)

        # While the slow request runs, readiness must say 503: on the open connection, or on a
        # new one if the listener still accepts during the drain.
        seen = []
        ready_503 = False
        deadline = time.monotonic() + sleep_ms / 1000.0 - 0.5
        while time.monotonic() < deadline and not ready_503:
            for how in ("keep-alive", "new"):
                try:
                    if how == "keep-alive":
                        probe.request("GET", "/health/ready")
                        r = probe.getresponse()
                        r.read()
                        status = r.status
                    else:
                        status = request(srv.port, "GET", "/health/ready", timeout=2).status
                except (OSError, http.client.HTTPException) as e:
                    status = type(e).__name__
                    if how == "keep-alive":
                        probe.close()
                        probe = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
                seen.append((how, status))
                if status == 503:
                    ready_503 = True
                    break
            time.sleep(0.05)
        probe.close()

        t.join(timeout=20)
        self.assertFalse(t.is_alive(), "slow request still running")
        self.assertNotIn("error", result, f"in-flight request failed during drain: {result.get('error')!r}")
        self.assertEqual(result["resp"].status, 200, result["resp"])
        self.assertEqual(result["resp"].json().get("slept"), sleep_ms)
        self.assertGreaterEqual(result["elapsed"], sleep_ms / 1000.0 - 0.35)

        rc = srv.proc.wait(timeout=20)
        self.assertEqual(rc, 0, "exit code after SIGTERM")
        self.assertTrue(ready_503, f"/health/ready never answered 503 while draining; saw {seen[:10]}")
