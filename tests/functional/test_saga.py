#!/usr/bin/env python3
"""The purchase saga end to end, black box over HTTP, in both shapes.

- embedded: one `tiketi serve --services all` (SQLite, in-process coordination, built-in simulator);
- scaled: `tiketi serve --services <name>` for auth, event, reservation, payment and notification
  as separate processes on PostgreSQL + Redis (TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL),
  with `tiketi pg-sim` as the payment gateway over HTTP.

Each shape: an admin publishes a seated event whose holds last one minute; fans hold seats and pay
with points only, a card only, and both -> reservations CONFIRMED with tickets. Two fans hold,
create their payments and complete the hosted checkout, then the hold expires: the first seat is
still free -> paying confirms it; the second seat was held by someone else meanwhile -> the
payment is refunded automatically (card cancelled at the simulator, points restored,
`payment.refunded` emitted and mailed), and the other fan's hold is untouched.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import uuid

from harness import ROOT, TiketiProcess, free_port, own_database, request, require_servers, run_tests, tiketi_bin

PASSWORD = "saga-password-0123"
ADMIN_EMAIL = "admin@saga.test"
SIM_SECRET = "test_sk_saga_functional"
SERVICES = ["auth", "event", "queue", "reservation", "payment", "notification"]


class Proc(TiketiProcess):
    """A TiketiProcess on a port chosen beforehand (peers must know it before it starts)."""

    def __init__(self, args, port, **kw):
        super().__init__(args, **kw)
        self.fixed_port = port

    def start(self, timeout=30.0):
        import threading

        cmd = [self.bin, "serve", "--listen", f"127.0.0.1:{self.fixed_port}", "--data-dir", self.data_dir] \
            + self.extra_args
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout_lines, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines, False), daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"tiketi did not report listening (exit {self.proc.returncode}):\n{self.tail()}")
        return self


class Api:
    def __init__(self, ports):
        self.ports = ports  # service name -> port

    def call(self, svc, method, path, body=None, token=None, idem=None, timeout=30.0):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        if idem:
            headers["Idempotency-Key"] = idem
        data = json.dumps(body).encode() if body is not None else None
        return request(self.ports[svc], method, path, body=data, headers=headers, timeout=timeout)


class Sim:
    """The gateway simulator the payment's checkoutUrl points at (built-in or `tiketi pg-sim`)."""

    def __init__(self, port, secret):
        self.port = port
        self.auth = "Basic " + base64.b64encode((secret + ":").encode()).decode()

    def checkout(self, payment):
        url = urllib.parse.urlsplit(payment["checkoutUrl"])
        assert url.port == self.port, payment["checkoutUrl"]
        form = urllib.parse.urlencode({"orderId": payment["orderId"], "amount": payment["cardAmount"],
                                       "orderName": "Saga", "successUrl": "/ok", "failUrl": "/fail",
                                       "card": "4242424242424242"})
        r = request(self.port, "POST", "/checkout/pay", body=form.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 302, r
        loc = urllib.parse.urlsplit(r.headers["location"])
        assert loc.path == "/ok", r.headers["location"]
        return urllib.parse.parse_qs(loc.query)["paymentKey"][0]

    def by_order(self, order_id):
        r = request(self.port, "GET", "/v1/payments/orders/" + urllib.parse.quote(order_id),
                    headers={"Authorization": self.auth})
        assert r.status == 200, r
        return r.json()

    def stats(self):
        return request(self.port, "GET", "/sim/stats").json()


def wait_for(fn, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class SagaChecks:
    """Mixed into a TestCase; the subclass starts the shape and sets cls.api, cls.sim_secret."""

    api = None
    sim_secret = None

    # -- helpers --------------------------------------------------------------------------------

    def sign_up(self, name):
        email = f"{name}-{uuid.uuid4().hex[:8]}@saga.test"
        r = self.api.call("auth", "POST", "/api/v1/auth/signup", {"email": email, "password": PASSWORD, "name": name})
        self.assertEqual(r.status, 201, r)
        return r.json()["accessToken"]

    def login(self, email, password):
        r = self.api.call("auth", "POST", "/api/v1/auth/login", {"email": email, "password": password})
        self.assertEqual(r.status, 200, r)
        return r.json()["accessToken"]

    def make_event(self):
        admin = self.login(ADMIN_EMAIL, PASSWORD)
        now = int(time.time() * 1000)
        day = 86_400_000
        r = self.api.call("event", "POST", "/api/v1/admin/venues", {"name": "Saga Hall", "city": "Seoul"}, admin)
        self.assertEqual(r.status, 201, r)
        venue = r.json()["id"]
        r = self.api.call("event", "POST", "/api/v1/admin/events", {
            "title": "Saga " + uuid.uuid4().hex[:6], "venue_id": venue, "category": "concert", "artist": "Saga",
            "description": "saga test", "sale_start": now - 60_000, "sale_end": now + 7 * day,
            "performance_start": now + 8 * day, "performance_end": now + 8 * day + 3_600_000,
            "per_user_limit": 4, "hold_minutes": 1, "waiting_room": {"enabled": False}}, admin)
        self.assertEqual(r.status, 201, r)
        event = r.json()["id"]
        r = self.api.call("event", "PUT", f"/api/v1/admin/events/{event}/seating", {
            "categories": [{"code": "R", "name": "R"}],
            "sections": [{"code": "A", "name": "A", "rows": 1, "seats_per_row": 8, "x": 0, "y": 0,
                          "categories": [{"from_row": 1, "to_row": 1, "category": "R"}]}]}, admin)
        self.assertIn(r.status, (200, 201), r)
        r = self.api.call("event", "POST", f"/api/v1/admin/events/{event}/ticket-types",
                          {"name": "R", "kind": "seated", "category": "R", "price": 10000}, admin)
        self.assertEqual(r.status, 201, r)
        r = self.api.call("event", "POST", f"/api/v1/admin/events/{event}/publish", {}, admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "on_sale", r)

        def seats():
            s = self.api.call("reservation", "GET", f"/api/v1/events/{event}/seats")
            if s.status != 200 or not s.json().get("onSale"):
                return None
            ids = sorted(x["id"] for x in s.json()["seats"])
            return ids if len(ids) == 8 else None

        return admin, event, wait_for(seats, 30, what="the published seat map at the reservation service")

    def hold(self, token, event, seat):
        r = self.api.call("reservation", "POST", "/api/v1/reservations", {"eventId": event, "seatIds": [seat]},
                          token, idem=uuid.uuid4().hex)
        self.assertEqual(r.status, 201, r)
        res = r.json()
        self.assertEqual(res["status"], "PENDING")
        self.assertEqual(res["amount"], 10000)
        return res

    def create_payment(self, token, reservation_id, points):
        r = self.api.call("payment", "POST", "/api/v1/payments", {"reservationId": reservation_id, "points": points},
                          token, idem=uuid.uuid4().hex)
        self.assertEqual(r.status, 201, r)
        p = r.json()
        self.assertEqual(p["pointsAmount"], points)
        self.assertEqual(p["cardAmount"], 10000 - points)
        return p

    def confirm(self, token, payment, key=None):
        body = {"paymentKey": key} if key else {}
        r = self.api.call("payment", "POST", f"/api/v1/payments/{payment['id']}/confirm", body, token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "CONFIRMED", r)
        return r.json()

    def sim_for(self, payment):
        return Sim(urllib.parse.urlsplit(payment["checkoutUrl"]).port, self.sim_secret)

    def charge_points(self, token, amount):
        r = self.api.call("payment", "POST", "/api/v1/points/charge", {"amount": amount}, token, idem=uuid.uuid4().hex)
        self.assertEqual(r.status, 201, r)
        p = r.json()
        key = self.sim_for(p).checkout(p)
        self.confirm(token, p, key)
        self.assertEqual(self.balance(token), amount)

    def balance(self, token):
        r = self.api.call("payment", "GET", "/api/v1/points", token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()["balance"]

    def reservation(self, token, rid):
        r = self.api.call("reservation", "GET", f"/api/v1/reservations/{rid}", token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def payment(self, token, pid):
        r = self.api.call("payment", "GET", f"/api/v1/payments/{pid}", token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_confirmed_with_tickets(self, token, res, seat):
        def done():
            r = self.reservation(token, res["id"])
            return r if r["status"] == "CONFIRMED" and r.get("tickets") else None

        r = wait_for(done, 30, what=f"reservation {res['id']} CONFIRMED with tickets")
        self.assertEqual(len(r["tickets"]), 1)
        self.assertEqual(r["tickets"][0].get("seatId"), seat)
        return r

    # -- the saga -------------------------------------------------------------------------------

    def test_saga(self):
        admin, event, seats = self.make_event()
        points_fan, card_fan, mixed_fan = self.sign_up("points"), self.sign_up("card"), self.sign_up("mixed")
        late_fan, unlucky_fan, other_fan = self.sign_up("late"), self.sign_up("unlucky"), self.sign_up("other")

        # Holds that will expire first (their minute starts now); pay up to the hosted checkout.
        self.charge_points(unlucky_fan, 4000)
        late_res = self.hold(late_fan, event, seats[3])
        unlucky_res = self.hold(unlucky_fan, event, seats[4])
        late_pay = self.create_payment(late_fan, late_res["id"], 0)
        unlucky_pay = self.create_payment(unlucky_fan, unlucky_res["id"], 4000)
        self.assertEqual(self.balance(unlucky_fan), 0)  # the points part is reserved at creation
        late_key = self.sim_for(late_pay).checkout(late_pay)
        unlucky_key = self.sim_for(unlucky_pay).checkout(unlucky_pay)

        # Points only, card only, mixed -> CONFIRMED with tickets.
        self.charge_points(points_fan, 10000)
        self.charge_points(mixed_fan, 3000)
        r1 = self.hold(points_fan, event, seats[0])
        p1 = self.create_payment(points_fan, r1["id"], 10000)
        self.assertNotIn("checkoutUrl", p1)
        self.confirm(points_fan, p1)
        r2 = self.hold(card_fan, event, seats[1])
        p2 = self.create_payment(card_fan, r2["id"], 0)
        self.confirm(card_fan, p2, self.sim_for(p2).checkout(p2))
        r3 = self.hold(mixed_fan, event, seats[2])
        p3 = self.create_payment(mixed_fan, r3["id"], 3000)
        self.confirm(mixed_fan, p3, self.sim_for(p3).checkout(p3))
        for token, res, seat in ((points_fan, r1, seats[0]), (card_fan, r2, seats[1]), (mixed_fan, r3, seats[2])):
            self.wait_confirmed_with_tickets(token, res, seat)
        self.assertEqual(self.balance(points_fan), 0)
        self.assertEqual(self.balance(mixed_fan), 0)
        self.assertEqual(self.sim_for(p2).by_order(p2["orderId"])["status"], "DONE")
        self.assertEqual(self.sim_for(p3).by_order(p3["orderId"])["totalAmount"], 7000)

        # A payment cannot be created for an expired hold, but one created before can still be paid.
        expires = max(late_res["expiresAt"], unlucky_res["expiresAt"])
        wait_for(lambda: time.time() * 1000 > expires + 200, 120, 0.5, "the holds to expire")
        self.assertEqual(self.reservation(late_fan, late_res["id"])["status"], "EXPIRED")
        r = self.api.call("payment", "POST", "/api/v1/payments", {"reservationId": late_res["id"], "points": 0},
                          late_fan, idem=uuid.uuid4().hex)
        self.assertEqual(r.error_code(), "hold_expired", r)
        self.assertTrue(400 <= r.status < 500, r)

        # Someone else takes the unlucky fan's seat (free again once the hold expired).
        def take():
            t = self.api.call("reservation", "POST", "/api/v1/reservations",
                              {"eventId": event, "seatIds": [seats[4]]}, other_fan, idem="take-" + unlucky_res["id"])
            return t if t.status == 201 else None

        other_res = wait_for(take, 20, 0.2, "another fan to hold the expired seat").json()

        # Seat still free -> the late payment confirms the reservation.
        self.confirm(late_fan, late_pay, late_key)
        self.wait_confirmed_with_tickets(late_fan, late_res, seats[3])

        # Seat taken -> the payment confirms at the gateway, the reservation refuses it, and the
        # saga refunds both parts.
        sim = self.sim_for(unlucky_pay)
        cancels = sim.stats()["cancels"]
        self.confirm(unlucky_fan, unlucky_pay, unlucky_key)
        refunded = wait_for(lambda: (lambda p: p if p["status"] == "REFUNDED" else None)(
            self.payment(unlucky_fan, unlucky_pay["id"])), 45, 0.2, "the automatic refund")
        self.assertEqual(refunded["status"], "REFUNDED")
        g = sim.by_order(unlucky_pay["orderId"])
        self.assertEqual(g["status"], "CANCELED", g)
        self.assertEqual(g["balanceAmount"], 0)
        self.assertEqual(sim.stats()["cancels"] - cancels, 1)
        self.assertEqual(self.balance(unlucky_fan), 4000)
        h = self.api.call("payment", "GET", "/api/v1/points/history", token=unlucky_fan).json()["items"]
        self.assertEqual(sorted((e["kind"], e["amount"]) for e in h),
                         sorted([("CHARGE", 4000), ("USE", 4000), ("REFUND", 4000)]), h)
        self.assertNotEqual(self.reservation(unlucky_fan, unlucky_res["id"])["status"], "CONFIRMED")
        other = self.reservation(other_fan, other_res["id"])
        self.assertEqual(other["status"], "PENDING", other)  # the other fan's hold is untouched

        # payment.refunded was emitted once (the notification service mails it).
        def refunded_mail():
            r = self.api.call("notification", "GET", "/api/v1/admin/notifications?limit=200", token=admin)
            if r.status != 200:
                return None
            items = [i for i in r.json()["items"] if i["topic"] == "payment.refunded"]
            return items or None

        mails = wait_for(refunded_mail, 30, 0.3, "the payment.refunded notification")
        self.assertEqual(len(mails), 1, mails)
        self.check_refunded_stream(unlucky_res["id"])

        # Nothing else was refunded or charged twice.
        r = self.api.call("payment", "GET", "/api/v1/admin/payments?status=REFUNDED", token=admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([p["id"] for p in r.json()["items"]], [unlucky_pay["id"]])
        for p in (p2, p3, late_pay):
            self.assertEqual(self.sim_for(p).by_order(p["orderId"])["status"], "DONE")

    def check_refunded_stream(self, reservation_id):
        pass  # the scaled shape also reads the Redis stream


def create_admin(args, data_dir, env):
    pw = os.path.join(data_dir, "admin-password")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    r = subprocess.run([tiketi_bin(), "admin", "create", "--email", ADMIN_EMAIL, "--password-file", pw,
                        "--data-dir", data_dir, "--log-level", "warn"] + args,
                       env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"tiketi admin create failed: {r.stdout}\n{r.stderr}")


def start_embedded(name, extra_args=()):
    """The embedded default, all six services in one process (SQLite, in-process coordination, the
    built-in simulator), migrated, with the admin account, ready."""
    server = TiketiProcess(["--services", "all"] + list(extra_args), name=name)
    try:
        server.migrate()
        create_admin([], server.data_dir, server.env)
        server.start()
        server.wait_ready()
    except BaseException:
        server.dump(f"{name} start-up")
        server.cleanup()
        raise
    return server


def stop_embedded(server, name):
    try:
        rc = server.terminate()
        if rc != 0:
            server.dump(f"{name} (exit {rc})")
    finally:
        server.cleanup()


class EmbeddedSaga(SagaChecks, unittest.TestCase):
    """One process, SQLite, in-process coordination, the built-in simulator."""

    @classmethod
    def setUpClass(cls):
        cls.sim_secret = "test_sk_tiketi_simulator"  # the built-in simulator's default
        cls.server = start_embedded("saga-embedded")
        cls.api = Api({name: cls.server.port for name in SERVICES})

    @classmethod
    def tearDownClass(cls):
        stop_embedded(cls.server, "embedded saga")


def stop_scaled(cls):
    """Tears down what a scaled-shape setUpClass started: the service processes, the gateway
    simulator, the data directory, the throw-away database and the Redis database."""
    for p in getattr(cls, "procs", []):
        try:
            p.terminate()
        except Exception:
            pass
        p.cleanup()
    if cls.sim_proc is not None and cls.sim_proc.poll() is None:
        cls.sim_proc.terminate()
        try:
            cls.sim_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.sim_proc.kill()
    if getattr(cls, "data", None):
        shutil.rmtree(cls.data, ignore_errors=True)
    if cls.drop:
        cls.drop()
    cli = shutil.which("redis-cli")
    if cli:
        u = urllib.parse.urlsplit(cls.redis_base)
        subprocess.run([cli, "-h", u.hostname, "-p", str(u.port), "-n", str(cls.redis_db), "FLUSHDB"],
                       capture_output=True, timeout=30)


class ScaledSaga(SagaChecks, unittest.TestCase):
    """auth, event, reservation, payment, notification as separate processes on PostgreSQL +
    Redis; `tiketi pg-sim` as the gateway."""

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls.sim_secret = SIM_SECRET
        cls.procs = []
        cls.sim_proc = None
        cls.db_url, cls.drop = own_database(pg)
        # A Redis database of its own: streams, consumer groups and leases of other suites on the
        # same server stay apart.
        cls.redis_db = 1 + int(uuid.uuid4().hex[:4], 16) % 15
        cls.redis_url = f"{redis.rstrip('/')}/{cls.redis_db}"
        cls.redis_base = redis
        try:
            cls._start()
        except BaseException:
            for p in cls.procs:
                p.dump(f"scaled saga start-up: {p.extra_args[1]}")
            cls._stop()
            raise

    @classmethod
    def _start(cls):
        cls.sim_proc = subprocess.Popen([tiketi_bin(), "pg-sim", "--listen", "127.0.0.1:0", "--secret-key", SIM_SECRET],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = cls.sim_proc.stdout.readline().decode()
        if "listening on" not in line:
            raise RuntimeError(f"pg-sim did not start: {line!r}")
        sim_url = line.strip().rsplit(" ", 1)[1]
        ports = {name: free_port() for name in SERVICES}
        peers = []
        for name in SERVICES:
            peers += ["--peer", f"{name}=http://127.0.0.1:{ports[name]}"]
        common = ["--database-url", cls.db_url, "--redis-url", cls.redis_url] + peers
        extra = {
            "payment": ["--set", f"payment.gateway_url={sim_url}", "--set", f"payment.gateway_secret={SIM_SECRET}"],
        }
        data = tempfile.mkdtemp(prefix="tiketi-saga-scaled-")
        cls.data = data
        migrate = TiketiProcess(["--database-url", cls.db_url, "--services", "auth,event,reservation,payment,notification"],
                                data_dir=data, name="saga-migrate")
        migrate.migrate()
        create_admin(["--database-url", cls.db_url, "--services", "auth"], data, migrate.env)
        for name in ("auth", "event", "reservation", "payment", "notification"):
            d = os.path.join(data, name)
            os.makedirs(d, exist_ok=True)
            p = Proc(["--services", name] + common + extra.get(name, []), ports[name], data_dir=d, name=f"saga-{name}")
            cls.procs.append(p)
            p.start()
        for p in cls.procs:
            p.wait_ready(30)
        cls.api = Api(ports)

    @classmethod
    def _stop(cls):
        stop_scaled(cls)

    @classmethod
    def tearDownClass(cls):
        cls._stop()

    def check_refunded_stream(self, reservation_id):
        cli = shutil.which("redis-cli")
        if not cli:
            return
        u = urllib.parse.urlsplit(self.redis_base)
        base = [cli, "-h", u.hostname, "-p", str(u.port), "-n", str(self.redis_db)]
        r = subprocess.run(base + ["XLEN", "events:payment.refunded"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "1", r.stdout)
        r = subprocess.run(base + ["XRANGE", "events:payment.refunded", "-", "+"], capture_output=True, text=True,
                           timeout=30)
        self.assertIn(reservation_id, r.stdout)


if __name__ == "__main__":
    run_tests()
