#!/usr/bin/env python3
"""Live seat map over the real binary: a WebSocket viewer sees holds and releases.

Embedded shape: one `tiketi serve` (SQLite, in-process coordination); the viewer and the buyer use
the same process. Scaled shape: the event service and two reservation replicas as separate processes
on PostgreSQL + Redis; the viewer is on replica B, the buyer on replica A, and B's GET /seats must
show A's hold at once (its cache is invalidated over Redis pub/sub).
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import time
import unittest
import uuid

from harness import TiketiProcess, request, require_servers, run_tests

SECRET = "functional-live-seats-secret-0123456789abcdef"
KID = "live1"
ENV = {"TIKETI_AUTH__JWT_SECRET": SECRET, "TIKETI_AUTH__JWT_KID": KID,
       "TIKETI_RESERVATION__SEAT_FEED_TICK_MS": "100"}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(sub, role="user"):
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64(json.dumps({"sub": sub, "role": role, "iat": now, "exp": now + 900, "jti": uuid.uuid4().hex}).encode())
    sig = b64(hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{sig}"


class WsClient:
    """A minimal RFC 6455 client (text frames, answers pings)."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed during the WebSocket handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"no upgrade: {head[:200]!r}")
        self.close_code = None

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self, timeout):
        """Next text message as JSON, or None on timeout / close."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._need(2, deadline)
                b0, b1 = self.buf[0], self.buf[1]
                n, off = b1 & 0x7F, 2
                if n == 126:
                    self._need(4, deadline)
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127:
                    self._need(10, deadline)
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                self._need(off + n, deadline)
                payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
                op = b0 & 0x0F
                if op == 0x9:
                    self._send(0xA, payload)
                elif op == 0x8:
                    self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                    return None
                elif op == 0x1:
                    return json.loads(payload)
        except (socket.timeout, TimeoutError, EOFError):
            return None

    def _send(self, op, payload):
        mask = os.urandom(4)
        body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        n = len(payload)
        hdr = bytes([0x80 | op]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(hdr + mask + body)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def api(port, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body)
    return request(port, method, path, data, headers=headers, timeout=30)


class LiveSeatChecks:
    event_port = None  # where the admin API lives
    buy_port = None  # the replica that takes the hold
    view_port = None  # the replica the viewer is on

    def make_event(self, seats=10):
        admin = mint("live-admin", "admin")
        now = int(time.time() * 1000)
        day = 86_400_000
        r = api(self.event_port, "POST", "/api/v1/admin/venues", {"name": "Live Hall", "city": "Seoul"}, admin)
        self.assertEqual(r.status, 201, r)
        r = api(self.event_port, "POST", "/api/v1/admin/events", {
            "title": "Live " + uuid.uuid4().hex[:6], "venue_id": r.json()["id"], "category": "concert",
            "artist": "Live", "description": "live seats", "sale_start": now - 60_000, "sale_end": now + 7 * day,
            "performance_start": now + 8 * day, "performance_end": now + 8 * day + 3_600_000,
            "per_user_limit": 4, "hold_minutes": 10, "waiting_room": {"enabled": False}}, admin)
        self.assertEqual(r.status, 201, r)
        event = r.json()["id"]
        r = api(self.event_port, "PUT", f"/api/v1/admin/events/{event}/seating", {
            "categories": [{"code": "R", "name": "R"}],
            "sections": [{"code": "A", "name": "A", "rows": 1, "seats_per_row": seats, "x": 0, "y": 0,
                          "categories": [{"from_row": 1, "to_row": 1, "category": "R"}]}]}, admin)
        self.assertIn(r.status, (200, 201), r)
        r = api(self.event_port, "POST", f"/api/v1/admin/events/{event}/ticket-types",
                {"name": "R", "kind": "seated", "category": "R", "price": 10000}, admin)
        self.assertEqual(r.status, 201, r)
        r = api(self.event_port, "POST", f"/api/v1/admin/events/{event}/publish", {}, admin)
        self.assertEqual(r.status, 200, r)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ok = True
            for port in {self.buy_port, self.view_port}:
                s = api(port, "GET", f"/api/v1/events/{event}/seats")
                ok = ok and s.status == 200 and s.json().get("onSale") and len(s.json()["seats"]) == seats
            if ok:
                return event, sorted(x["id"] for x in s.json()["seats"])
            time.sleep(0.2)
        self.fail("the published seat map never reached the reservation service(s)")

    def seat_status(self, port, event, seat):
        r = api(port, "GET", f"/api/v1/events/{event}/seats")
        self.assertEqual(r.status, 200, r)
        return {s["id"]: s["status"] for s in r.json()["seats"]}[seat]

    def collect(self, ws, want, timeout=5.0):
        """Reads seats messages until every seat in `want` has the wanted status; returns the elapsed seconds."""
        seen, start = {}, time.monotonic()
        while time.monotonic() - start < timeout:
            m = ws.recv(0.5)
            if m and m.get("type") == "seats":
                self.assertIsInstance(m.get("seq"), int)
                self.assertIsInstance(m.get("at"), int)
                for s in m["seats"]:
                    seen[s["id"]] = s["status"]
            if all(seen.get(k) == v for k, v in want.items()):
                return time.monotonic() - start
        self.fail(f"the viewer did not see {want} (saw {seen})")

    def test_viewer_sees_holds_and_releases(self):
        event, seats = self.make_event()
        self.assertEqual(self.seat_status(self.view_port, event, seats[2]), "available")  # cached on the viewer's side
        ws = WsClient(self.view_port, f"/api/v1/events/{event}/seats/ws")
        try:
            # The map was already served by that process (it listens to the event): no resync now.
            self.assertIsNone(ws.recv(0.5))
            fan = mint("fan-" + uuid.uuid4().hex[:6])
            r = api(self.buy_port, "POST", "/api/v1/reservations", {"eventId": event, "seatIds": seats[2:4]}, fan)
            self.assertEqual(r.status, 201, r)
            took = self.collect(ws, {seats[2]: "held", seats[3]: "held"})
            print(f"{self.__class__.__name__}: hold seen by the viewer after {took * 1000:.0f} ms")
            self.assertEqual(self.seat_status(self.view_port, event, seats[2]), "held")
            r = api(self.buy_port, "POST", f"/api/v1/reservations/{r.json()['id']}/cancel", {}, fan)
            self.assertEqual(r.status, 200, r)
            self.collect(ws, {seats[2]: "available", seats[3]: "available"})
            self.assertEqual(self.seat_status(self.view_port, event, seats[3]), "available")
        finally:
            ws.close()
        metrics = request(self.buy_port, "GET", "/metrics").body.decode()
        self.assertIn('reservation_holds_total{result="ok"}', metrics)

    def test_unknown_event_is_closed(self):
        ws = WsClient(self.view_port, "/api/v1/events/no-such-event/seats/ws")
        try:
            m = ws.recv(3.0)
            self.assertEqual(m["type"], "error")
            self.assertIsNone(ws.recv(3.0))
            self.assertEqual(ws.close_code, 4404)
        finally:
            ws.close()


class EmbeddedLiveSeats(LiveSeatChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = TiketiProcess(["--services", "all"], env=ENV, name="live-embedded")
        cls.proc.migrate()
        cls.proc.start()
        cls.proc.wait_ready()
        cls.event_port = cls.buy_port = cls.view_port = cls.proc.port

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.cleanup()


class ScaledLiveSeats(LiveSeatChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        # A fresh database name space per run: the services use their own schemas in `pg`.
        args = ["--database-url", pg, "--redis-url", redis]
        cls.procs = []
        try:
            for services, name in (("event", "live-event"), ("reservation", "live-res-a"), ("reservation", "live-res-b")):
                p = TiketiProcess(["--services", services] + args, env=ENV, name=name)
                p.migrate()
                p.start()
                p.wait_ready()
                cls.procs.append(p)
        except Exception:
            cls.tearDownClass()
            raise
        cls.event_port = cls.procs[0].port
        cls.buy_port = cls.procs[1].port
        cls.view_port = cls.procs[2].port

    @classmethod
    def tearDownClass(cls):
        for p in reversed(getattr(cls, "procs", [])):
            p.terminate()
            p.cleanup()


if __name__ == "__main__":
    run_tests()
