#!/usr/bin/env python3
"""The event service in the scaled shape: two replicas (`tiketi serve --services event`) sharing one
PostgreSQL database and one Redis (TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL).

- the public catalogue cache is invalidated on every replica when an admin changes something on one;
- status automation runs once across both replicas (lease): exactly one event.status_changed per
  transition in the outbox;
- inventory.sold_out (written into the Redis stream here, as the reservation service's outbox relay
  would) closes an on-sale event once, is deduplicated on redelivery, and the cached public pages of
  both replicas show it."""

import base64
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import time
import unittest
import urllib.parse
import uuid

from harness import TiketiProcess, require_servers, run_tests

SECRET = "event-scaled-functional-secret-0123456789"
KID = "functest"
ENV = {"TIKETI_AUTH__JWT_SECRET": SECRET, "TIKETI_AUTH__JWT_KID": KID}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(role="admin"):
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64url(json.dumps({"sub": "u-func-admin", "role": role, "iat": now, "exp": now + 600,
                                 "jti": os.urandom(8).hex()}).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def psql_bin():
    for path in ("/usr/lib/postgresql/15/bin/psql", shutil.which("psql")):
        if path and os.access(path, os.X_OK):
            return path
    raise unittest.SkipTest("psql not found")


def psql(url, sql):
    r = subprocess.run([psql_bin(), url, "-qAtX", "-c", sql], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed: {r.stderr}")
    return r.stdout.strip()


def own_database(base_url):
    parts = urllib.parse.urlsplit(base_url)
    name = "tiketi_event_" + uuid.uuid4().hex[:12]
    admin = parts._replace(path="/" + (parts.path.lstrip("/") or "postgres")).geturl()
    psql(admin, f"CREATE DATABASE {name}")
    return parts._replace(path="/" + name).geturl(), lambda: psql(
        admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Redis:
    """Just enough RESP to XADD into a stream (no client library needed)."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.addr = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = int(parts.path.lstrip("/") or 0)
        self.password = parts.password

    def command(self, *args):
        with socket.create_connection(self.addr, timeout=10) as s:
            f = s.makefile("rb")
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if self.db:
                pre.append(("SELECT", str(self.db)))
            for cmd in pre + [args]:
                out = f"*{len(cmd)}\r\n".encode()
                for a in cmd:
                    a = a.encode() if isinstance(a, str) else a
                    out += f"${len(a)}\r\n".encode() + a + b"\r\n"
                s.sendall(out)
                line = f.readline()
                if line.startswith(b"-"):
                    raise RuntimeError(line.decode().strip())
                if line.startswith(b"$"):
                    n = int(line[1:])
                    reply = f.read(n + 2)[:-2] if n >= 0 else None
                else:
                    reply = line[1:].strip()
            return reply


class TwoReplicas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg, redis_url = require_servers()
        cls.db_url, cls.drop = own_database(pg)
        cls.redis = Redis(redis_url)
        args = ["--services", "event", "--database-url", cls.db_url, "--redis-url", redis_url]
        cls.a = TiketiProcess(args, env=ENV, name="event-a")
        cls.b = TiketiProcess(args, env=ENV, name="event-b")
        try:
            cls.a.migrate()
            for p in (cls.a, cls.b):
                p.start()
                p.wait_ready()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in (getattr(cls, "a", None), getattr(cls, "b", None)):
            if p is not None:
                try:
                    p.terminate()
                finally:
                    p.cleanup()
        if getattr(cls, "drop", None):
            cls.drop()

    # -- helpers --------------------------------------------------------------------------------

    def admin(self, srv, method, path, body=None):
        from harness import request
        h = {"Authorization": "Bearer " + token(), "Content-Type": "application/json"}
        r = request(srv.port, method, path, body=json.dumps(body) if body is not None else None, headers=h)
        self.assertLess(r.status, 300, (method, path, r))
        return r.json() if r.body else None

    def make_event(self, srv, title, sale_in_ms):
        now = int(time.time() * 1000)
        venue = self.admin(srv, "POST", "/api/v1/admin/venues", {"name": "Hall " + title})
        ev = self.admin(srv, "POST", "/api/v1/admin/events", {
            "title": title, "category": "concert", "venue_id": venue["id"],
            "sale_start": now + sale_in_ms, "sale_end": now + sale_in_ms + 3_600_000,
            "performance_start": now + sale_in_ms + 7_200_000, "performance_end": now + sale_in_ms + 10_800_000})
        self.admin(srv, "PUT", f"/api/v1/admin/events/{ev['id']}/seating", {
            "categories": [{"code": "R"}],
            "sections": [{"code": "A", "rows": 2, "seats_per_row": 5,
                          "categories": [{"from_row": 1, "to_row": 2, "category": "R"}]}]})
        self.admin(srv, "POST", f"/api/v1/admin/events/{ev['id']}/ticket-types",
                   {"name": "R석", "kind": "seated", "category": "R", "price": 50000})
        self.admin(srv, "POST", f"/api/v1/admin/events/{ev['id']}/publish")
        return ev["id"]

    def status_changes(self, event_id, to=None):
        cond = f"topic = 'event.status_changed' AND key = '{event_id}'"
        if to:
            cond += f" AND payload LIKE '%\"to\":\"{to}\"%'"
        return int(psql(self.db_url, f"SELECT COUNT(*) FROM event.outbox WHERE {cond}"))

    def wait_for(self, what, fn, timeout=10.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what} (last: {last!r})")

    def public_status(self, srv, event_id):
        r = srv.get(f"/api/v1/events/{event_id}")
        return r.json()["status"] if r.status == 200 else None

    # -- tests ----------------------------------------------------------------------------------

    def test_cache_is_invalidated_on_every_replica(self):
        eid = self.make_event(self.a, "Cache test", 3_600_000)
        for srv in (self.a, self.b):
            r = srv.get("/api/v1/events?limit=100")
            self.assertEqual(r.status, 200)
            self.assertIn(eid, [e["id"] for e in r.json()["items"]])
        etag_b = self.b.get(f"/api/v1/events/{eid}").headers["etag"]
        self.assertEqual(self.b.get(f"/api/v1/events/{eid}", headers={"If-None-Match": etag_b}).status, 304)
        # Change on A; B's cached page must change (pub/sub through Redis), well before the
        # 1-second version poll that is only the safety net.
        self.admin(self.a, "PATCH", f"/api/v1/admin/events/{eid}", {"title": "Cache test (new title)"})
        t0 = time.monotonic()
        self.wait_for("B to serve the new title",
                      lambda: self.b.get(f"/api/v1/events/{eid}").json()["title"] == "Cache test (new title)",
                      timeout=5)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 0.9, f"B saw the change only after {elapsed:.2f}s")
        self.assertEqual(self.b.get(f"/api/v1/events/{eid}", headers={"If-None-Match": etag_b}).status, 200)
        titles = [e["title"] for e in self.b.get("/api/v1/events?limit=100").json()["items"]]
        self.assertIn("Cache test (new title)", titles)

    def test_scheduler_runs_once_across_two_replicas(self):
        eid = self.make_event(self.b, "Scheduler test", 4_000)
        self.assertEqual(self.public_status(self.a, eid), "scheduled")
        self.wait_for("on_sale", lambda: self.public_status(self.a, eid) == "on_sale", timeout=15)
        self.assertEqual(self.public_status(self.b, eid), "on_sale")
        time.sleep(2.5)  # both schedulers tick at least twice more
        self.assertEqual(self.status_changes(eid), 1)
        self.assertEqual(self.status_changes(eid, "on_sale"), 1)

    def test_sold_out_closes_the_sale_once(self):
        eid = self.make_event(self.a, "Sold out test", 500)
        self.wait_for("on_sale", lambda: self.public_status(self.b, eid) == "on_sale", timeout=15)
        self.assertEqual(self.public_status(self.a, eid), "on_sale")  # cached on both now
        payload = json.dumps({"schema_version": 1, "event_id": eid, "sold_out_at": int(time.time() * 1000)})
        outbox_id = str(uuid.uuid4())
        fields = ["id", outbox_id, "topic", "inventory.sold_out", "key", eid, "payload", payload,
                  "created_at", str(int(time.time() * 1000)), "trace_id", ""]
        self.redis.command("XADD", "events:inventory.sold_out", "*", *fields)
        for srv in (self.a, self.b):
            self.wait_for("closed on " + srv.data_dir, lambda s=srv: self.public_status(s, eid) == "closed",
                          timeout=10)
        detail = self.b.get(f"/api/v1/events/{eid}").json()
        self.assertTrue(detail["sold_out"])
        self.assertEqual(self.status_changes(eid, "closed"), 1)
        # Redelivery (same id) and a second report (new id) change nothing.
        self.redis.command("XADD", "events:inventory.sold_out", "*", *fields)
        fields[1] = str(uuid.uuid4())
        self.redis.command("XADD", "events:inventory.sold_out", "*", *fields)
        self.wait_for("both entries processed", lambda: int(psql(
            self.db_url, f"SELECT COUNT(*) FROM event.processed_events WHERE event_id = '{fields[1]}'")) == 1)
        time.sleep(0.5)
        self.assertEqual(self.status_changes(eid, "closed"), 1)
        self.assertEqual(int(psql(self.db_url,
                                  f"SELECT COUNT(*) FROM event.processed_events WHERE event_id = '{outbox_id}'")), 1)
        self.assertEqual(self.public_status(self.a, eid), "closed")


if __name__ == "__main__":
    run_tests()
