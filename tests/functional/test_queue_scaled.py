#!/usr/bin/env python3
"""Process-level tests of the waiting room (the real binary, one service per process):

- leader failover: two queue replicas on one Redis; kill -9 the replica holding the leader lease;
  admission continues within one lease period, in line order, nobody admitted twice;
- a queue replica restart (SIGTERM and kill -9) keeps every place and position;
- the optional per-IP cap on places (queue.max_places_per_ip) and shopper-session renewal
  (POST /api/v1/events/{id}/queue/renew), on the scaled shape and on the embedded shape.

The scaled classes need TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL (scripts/test sets them;
skipped with 77 only when they are absent and TIKETI_REQUIRE_SERVERS is unset). Each class uses its
own PostgreSQL database and its own Redis logical database, so nothing it does reaches (or is
consumed by) other tests sharing the servers. Access tokens are minted here with the shared secret,
as the auth service would sign them.
"""

import base64
import hashlib
import hmac
import json
import random
import re
import signal
import time
import unittest
import uuid

from harness import TiketiProcess, own_database, request, require_servers, run_tests

SECRET = "queue-functional-secret-0123456789abcdef"
KID = "qfunc"
ENV = {"TIKETI_AUTH__JWT_SECRET": SECRET, "TIKETI_AUTH__JWT_KID": KID}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(sub, role="user", ttl=3600):
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}, separators=(",", ":")).encode())
    payload = _b64(json.dumps({"sub": sub, "role": role, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex},
                              separators=(",", ":")).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(sig)}"


ADMIN = mint("queue-func-admin", role="admin", ttl=7200)


def call(port, method, path, body=None, token=ADMIN, timeout=10.0):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return request(port, method, path, body=data, headers=headers, timeout=timeout)


def ok(r, *statuses):
    if r.status not in (statuses or (200, 201, 204)):
        raise AssertionError(f"unexpected answer {r!r}")
    return r.json() if r.body else None


def make_event(event_port, queue_port, timeout=30.0):
    """An on-sale event with a waiting room, published through the event service; returns its id
    once the queue service (on queue_port) has its settings."""
    now = int(time.time() * 1000)
    venue = ok(call(event_port, "POST", "/api/v1/admin/venues", {"name": "Queue Hall", "city": "Seoul"}))
    ev = ok(call(event_port, "POST", "/api/v1/admin/events", {
        "title": f"Queue test {uuid.uuid4().hex[:8]}", "category": "concert", "venue_id": venue["id"],
        "sale_start": now - 60_000, "sale_end": now + 86_400_000,
        "performance_start": now + 2 * 86_400_000, "performance_end": now + 2 * 86_400_000 + 7_200_000,
        "hold_minutes": 10, "waiting_room": {"enabled": True, "admission_per_minute": 60, "max_active": 1000}}))
    ok(call(event_port, "POST", f"/api/v1/admin/events/{ev['id']}/ticket-types",
            {"name": "GA", "kind": "general_admission", "quota": 1000, "price": 10000}))
    ok(call(event_port, "POST", f"/api/v1/admin/events/{ev['id']}/publish", {}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call(queue_port, "GET", f"/api/v1/admin/queues/{ev['id']}").status == 200:
            return ev["id"]
        time.sleep(0.1)
    raise AssertionError(f"the queue service never received event {ev['id']}")


def admin_queue(port, event, action=None, patch=None):
    if patch is not None:
        return ok(call(port, "PATCH", f"/api/v1/admin/queues/{event}", patch))
    if action is not None:
        return ok(call(port, "POST", f"/api/v1/admin/queues/{event}/{action}"))
    return ok(call(port, "GET", f"/api/v1/admin/queues/{event}"))


def join(port, event, user):
    return call(port, "POST", f"/api/v1/events/{event}/queue", token=mint(user))


def status(port, event, user):
    return call(port, "GET", f"/api/v1/events/{event}/queue", token=mint(user))


def leader_logs(proc, event, with_time=False):
    """Fencing tokens this replica logged taking leadership of `event` with (and the log's epoch
    seconds when with_time)."""
    from datetime import datetime

    out = []
    for line in proc.stdout():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("msg") == "queue leader for event" and doc.get("event_id") == event:
            if with_time:
                ts = datetime.strptime(doc["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
                ts -= time.timezone if time.daylight == 0 else time.altzone  # the log is UTC
                out.append((doc.get("fencing_token"), ts))
            else:
                out.append(doc.get("fencing_token"))
    return out


def wait_for(pred, timeout, step=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Cluster:
    """auth+event in one process, N queue replicas, all on one Redis logical database and their own
    PostgreSQL database."""

    def __init__(self, pg_url, redis_url, replicas=2, queue_settings=()):

        self.db_url, self._drop = own_database(pg_url)
        self.redis_url = redis_url
        self.queue_settings = list(queue_settings)
        self.procs = []
        self.control = self._proc(["--services", "auth,event"], "control")
        self.queues = [self._queue(i) for i in range(replicas)]

    def _proc(self, args, name, data_dir=None):
        p = TiketiProcess(args + ["--database-url", self.db_url, "--redis-url", self.redis_url, "--log-level", "info"],
                          env=ENV, name=name, data_dir=data_dir)
        p.migrate()
        p.start()
        p.wait_ready()
        self.procs.append(p)
        return p

    def _queue(self, i, data_dir=None):
        args = ["--services", "queue", "--threads", "1"]
        for s in self.queue_settings:
            args += ["--set", s]
        return self._proc(args, f"queue{i}", data_dir=data_dir)

    def restart_queue(self, i, hard):
        old = self.queues[i]
        if hard:
            old.proc.send_signal(signal.SIGKILL)
            old.proc.wait(timeout=10)
        else:
            assert old.terminate() == 0, "queue replica did not exit 0 on SIGTERM"
        self.queues[i] = self._queue(i)
        return self.queues[i]

    def close(self):
        for p in self.procs:
            try:
                p.kill()
            finally:
                p.cleanup()
        if self._drop:
            self._drop()


def redis_db_url(base):
    """The same Redis server, a logical database of our own (streams and keys are per database)."""
    base = base.rstrip("/")
    base = re.sub(r"/\d+$", "", base)
    return f"{base}/{random.randint(1, 15)}"


FAST = ["queue.tick_ms=100", "queue.lease_ms=1500"]


class QueueReplicas(unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls.cluster = Cluster(pg, redis_db_url(redis), replicas=2, queue_settings=FAST)

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            cls.cluster.close()

    def test_leader_failover_continues_admission_within_a_lease(self):
        c = self.cluster
        q0, q1 = c.queues
        event = make_event(c.control.port, q0.port)
        admin_queue(q0.port, event, "pause")
        admin_queue(q0.port, event, patch={"order": "fifo", "rate": 10, "maxActive": 100000})
        users = [f"fo-{event}-{i:03d}" for i in range(60)]
        seqs = {}
        for i, u in enumerate(users):
            r = ok(join((q0, q1)[i % 2].port, event, u), 201)
            seqs[u] = r["seq"]
        self.assertEqual(sorted(seqs.values()), list(range(min(seqs.values()), min(seqs.values()) + 60)))
        admin_queue(q0.port, event, "resume")
        # Who leads this event? The replica that logged the highest fencing token (logs are
        # buffered: wait for admissions, then a moment for the lines to be flushed).
        wait_for(lambda: admin_queue(q0.port, event)["head"] >= seqs[users[3]], 10, what="admissions")
        time.sleep(1.0)

        def latest():
            tokens = [(max(leader_logs(p, event) or [0]), i) for i, p in enumerate((q0, q1))]
            return max(tokens)

        fencing_before, idx = wait_for(lambda: (lambda t: t if t[0] > 0 else None)(latest()), 10,
                                       what="a leader for the event")
        leader = (q0, q1)[idx]
        survivor = (q0, q1)[1 - idx]
        before = admin_queue(survivor.port, event)["head"]
        leader.proc.send_signal(signal.SIGKILL)
        killed_wall = time.time()
        leader.proc.wait(timeout=10)
        killed_at = time.monotonic()
        # Bring the killed replica back afterwards (the next test needs two), whatever happens here.
        self.addCleanup(lambda: c.queues.__setitem__(c.queues.index(leader), c._queue(c.queues.index(leader))))
        # Admission resumes on the survivor within one lease (1.5 s) plus a tick and scheduling slack.
        wait_for(lambda: admin_queue(survivor.port, event)["head"] > before, 1.5 + 1.5, step=0.02,
                 what="admission to continue after the leader was killed")
        resumed_after = time.monotonic() - killed_at
        print(f"admission resumed {resumed_after:.2f}s after kill -9 of the leader (lease 1.5s)", flush=True)
        self.assertLessEqual(resumed_after, 3.0)
        new_tokens = wait_for(lambda: [t for t in leader_logs(survivor, event) if t > fencing_before], 5,
                              what="the survivor to log its leadership")
        self.assertTrue(new_tokens, f"survivor fencing tokens {new_tokens}, old leader had {fencing_before}")
        # The survivor took the lease within one lease period (1.5 s) of the kill, plus one tick
        # (100 ms) and scheduling slack on a loaded machine.
        taken = [ts for tok, ts in leader_logs(survivor, event, with_time=True) if tok > fencing_before]
        takeover = min(taken) - killed_wall
        print(f"survivor took the leader lease {takeover:.2f}s after kill -9 (lease 1.5s, tick 0.1s)", flush=True)
        self.assertLessEqual(takeover, 1.5 + 0.1 + 0.4)
        # Everyone gets in, in line order, once: each user's status agrees with the head.
        admin_queue(survivor.port, event, patch={"rate": 50})
        wait_for(lambda: admin_queue(survivor.port, event)["head"] >= max(seqs.values()), 20, what="everyone admitted")
        view = admin_queue(survivor.port, event)
        self.assertEqual(view["length"], 0)
        self.assertEqual(view["active"], len(users), view)
        for u in users:
            self.assertEqual(ok(status(survivor.port, event, u))["state"], "admitted", u)

    def test_replica_restart_keeps_every_position(self):
        c = self.cluster
        event = make_event(c.control.port, c.queues[0].port)
        admin_queue(c.queues[0].port, event, "pause")
        admin_queue(c.queues[0].port, event, patch={"order": "fifo"})
        users = [f"rs-{event}-{i:03d}" for i in range(40)]
        for i, u in enumerate(users):
            ok(join(c.queues[i % 2].port, event, u), 201)

        def standings(port):
            out = {}
            for u in users:
                s = ok(status(port, event, u))
                out[u] = (s["state"], s["position"], s["seq"])
            return out

        before = standings(c.queues[0].port)
        self.assertEqual(sorted(p for _, p, _ in before.values()), list(range(1, 41)))
        for hard in (False, True):
            q = c.restart_queue(0, hard=hard)
            self.assertEqual(standings(q.port), before, f"after {'kill -9' if hard else 'SIGTERM'} restart")
            # Joining again from the restarted replica keeps the place (idempotent, 200 not 201).
            again = join(q.port, event, users[7])
            self.assertEqual(again.status, 200, again)
            self.assertEqual(again.json()["seq"], before[users[7]][2])
        self.assertEqual(standings(c.queues[1].port), before)


class LimitChecks:
    """Per-IP cap and renewal through the public routes; `port()` is the queue's, `event_port()`
    the event service's."""

    def test_per_ip_cap_refuses_new_places_beyond_the_cap(self):
        event = make_event(self.event_port(), self.port())
        admin_queue(self.port(), event, "pause")
        a, b, c_ = (f"ip-{event}-{x}" for x in "abc")
        self.assertEqual(join(self.port(), event, a).status, 201)
        self.assertEqual(join(self.port(), event, b).status, 201)
        r = join(self.port(), event, c_)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error_code(), "queue_ip_limit")
        self.assertEqual(status(self.port(), event, c_).status, 404, "a refused join must not take a place")
        # Someone who already has a place keeps it (refresh), and leaving does not free the quota.
        self.assertEqual(join(self.port(), event, a).status, 200)
        self.assertEqual(admin_queue(self.port(), event)["length"], 2)
        metrics = request(self.port(), "GET", "/metrics").body.decode()
        self.assertRegex(metrics, r"queue_ip_refusals_total(\{[^}]*\})? [1-9]")

    def test_renewal_extends_an_admitted_session_a_limited_number_of_times(self):
        event = make_event(self.event_port(), self.port())
        admin_queue(self.port(), event, "pause")
        admin_queue(self.port(), event, patch={"order": "fifo", "rate": 50})
        u, w = f"rn-{event}-u", f"rn-{event}-w"
        self.assertEqual(join(self.port(), event, u).status, 201)
        r = call(self.port(), "POST", f"/api/v1/events/{event}/queue/renew", token=mint(u))
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error_code(), "queue_not_admitted")
        admin_queue(self.port(), event, "resume")
        first = wait_for(lambda: (lambda s: s if s["state"] == "admitted" else None)(ok(status(self.port(), event, u))),
                         10, what="admission")
        self.assertEqual(join(self.port(), event, w).status in (200, 201), True)
        expiries = [first["sessionExpiresAt"]]
        for n in (1, 2):
            time.sleep(0.02)
            r = call(self.port(), "POST", f"/api/v1/events/{event}/queue/renew", token=mint(u))
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertEqual(body["state"], "admitted")
            self.assertEqual(body["renewalsUsed"], n)
            self.assertGreater(body["sessionExpiresAt"], expiries[-1])
            self.assertTrue(body["admissionToken"])
            expiries.append(body["sessionExpiresAt"])
        r = call(self.port(), "POST", f"/api/v1/events/{event}/queue/renew", token=mint(u))
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error_code(), "queue_renewal_limit")
        # The status route reports the renewed expiry.
        self.assertEqual(ok(status(self.port(), event, u))["sessionExpiresAt"], expiries[-1])


class ScaledLimits(LimitChecks, unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls.cluster = Cluster(pg, redis_db_url(redis), replicas=1,
                              queue_settings=FAST + ["queue.max_places_per_ip=2", "queue.max_renewals=2"])

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            cls.cluster.close()

    def port(self):
        return self.cluster.queues[0].port

    def event_port(self):
        return self.cluster.control.port


class EmbeddedLimits(LimitChecks, unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = TiketiProcess(["--set", "queue.max_places_per_ip=2", "--set", "queue.max_renewals=2",
                                    "--set", "queue.tick_ms=100"], env=ENV, name="queue-embedded")
        try:
            cls.server.migrate()
            cls.server.start()
            cls.server.wait_ready()
        except BaseException:
            cls.server.dump("embedded start-up")
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.cleanup()

    def port(self):
        return self.server.port

    def event_port(self):
        return self.server.port


if __name__ == "__main__":
    run_tests()
