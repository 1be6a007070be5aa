#!/usr/bin/env python3
"""The whole purchase flow through the real services produces exactly the expected emails, with the
right content, at a real SMTP server on 127.0.0.1 started by this test (the stdlib SMTP sink of
test_notification_recipients.py, speaking SMTP over TCP).

Nothing here writes events by hand: an admin publishes an event, fans hold seats and pay through the
reservation and payment services (built-in simulator / `tiketi pg-sim`), one confirmed booking is
cancelled, and one hold expires before its payment is confirmed while another fan takes the seat
(the saga's confirmation_failed -> refund path). Every event the notification service mails is
produced by the services themselves.

Shapes:
- embedded: one `tiketi serve --services all` (SQLite, in-process streams) with
  `notification.smtp_url` pointing at the sink;
- scaled: auth, event, reservation, payment as separate processes on PostgreSQL + Redis, and TWO
  notification replicas (one consumer group): each email still arrives exactly once.

Expected mail (recipient -> subjects), nothing more, nothing twice:
- ko fan, card:            결제 완료 ₩10,000, 예매 확정 <title>
- en fan, points + card:   Payment received ₩10,000, Booking confirmed, Booking cancelled,
                           Refund issued ₩10,000 (points ₩3,000 + card ₩7,000)
- late fan (ko), hold expires, seat taken, then pays:
                           좌석 선점 만료, 결제 완료, 예매 확정 실패, 환불 완료 ₩10,000
- the fan who takes the seat (hold only): nothing.
"""

import datetime
import email
import email.policy
import os
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import TiketiProcess, free_port, own_database, require_servers, run_tests, tiketi_bin
from test_notification_recipients import SmtpSink
from test_saga import (PASSWORD, Api, Proc, SagaChecks, create_admin, start_embedded, stop_embedded, stop_scaled,
                       wait_for)

PUBLIC_URL = "https://tiketi.example"
SENDER = "no-reply@tiketi.local"
KST = datetime.timezone(datetime.timedelta(hours=9))
KO_DAYS = "월화수목금토일"  # datetime.weekday(): Monday = 0


def notification_settings(sink):
    return ["--set", f"notification.smtp_url=smtp://127.0.0.1:{sink.port}",
            "--set", "notification.smtp_tls=none",
            "--set", "notification.poll_ms=50",
            "--set", f"notification.public_url={PUBLIC_URL}"]


def parse_mail(m):
    """{'to', 'from', 'subject', 'text', 'html', 'to_header'} of one message the sink accepted."""
    msg = email.message_from_bytes(m["data"], policy=email.policy.default)
    return {"to": m["to"], "from": m["from"], "subject": str(msg["Subject"]), "to_header": str(msg["To"]),
            "text": msg.get_body(preferencelist=("plain",)).get_content(),
            "html": msg.get_body(preferencelist=("html",)).get_content()}


def kst_date(ms, lang):
    t = datetime.datetime.fromtimestamp(ms / 1000, KST)
    if lang == "ko":
        return f"{t.year}년 {t.month}월 {t.day}일 ({KO_DAYS[t.weekday()]}) {t:%H:%M}"
    return f"{t:%a}, {t.day} {t:%b} {t.year} {t:%H:%M} KST"


class FlowChecks:
    """Mixed into a TestCase; the subclass starts the shape and sets cls.api, cls.sim_secret, cls.sink."""

    api = None
    sim_secret = None
    sink = None

    # The saga's helpers (admin login, event set-up, hold, pay, points) as they are.
    login = SagaChecks.login
    make_event = SagaChecks.make_event
    hold = SagaChecks.hold
    create_payment = SagaChecks.create_payment
    confirm = SagaChecks.confirm
    sim_for = SagaChecks.sim_for
    charge_points = SagaChecks.charge_points
    balance = SagaChecks.balance
    reservation = SagaChecks.reservation
    payment = SagaChecks.payment
    wait_confirmed_with_tickets = SagaChecks.wait_confirmed_with_tickets

    def fan(self, name, language):
        """Signs a fan up; returns (token, email, display name)."""
        addr = f"{uuid.uuid4().hex[:8]}@flow.test"
        r = self.api.call("auth", "POST", "/api/v1/auth/signup", {"email": addr, "password": PASSWORD, "name": name})
        self.assertEqual(r.status, 201, r)
        token = r.json()["accessToken"]
        r = self.api.call("auth", "PATCH", "/api/v1/auth/me", {"language": language}, token)
        self.assertEqual(r.status, 200, r)
        return token, addr, name

    def mails_to(self, addr):
        return [parse_mail(m) for m in self.sink.snapshot() if addr in m["to"]]

    def wait_mails(self, addr, count, timeout=45):
        return wait_for(lambda: (lambda got: got if len(got) >= count else None)(self.mails_to(addr)), timeout, 0.1,
                        f"{count} emails to {addr} (have {[m['subject'] for m in self.mails_to(addr)]})")

    @staticmethod
    def one(mails, subject):
        got = [m for m in mails if m["subject"] == subject]
        assert len(got) == 1, f"expected one email {subject!r}, got {[m['subject'] for m in mails]}"
        return got[0]

    # -- the flow --------------------------------------------------------------------------------

    def test_purchase_flow_emails(self):
        admin, event, seats = self.make_event()
        doc = self.api.call("event", "GET", f"/api/v1/events/{event}").json()
        title, perf = doc["title"], doc["performance_start"]
        ko_token, ko_addr, ko_name = self.fan("김지은", "ko")
        en_token, en_addr, en_name = self.fan("Sam", "en")
        late_token, late_addr, late_name = self.fan("박민수", "ko")
        other_token, other_addr, _ = self.fan("Other", "en")

        # The late fan's hold starts its minute now; the payment is set up up to the hosted checkout.
        late_res = self.hold(late_token, event, seats[4])
        late_pay = self.create_payment(late_token, late_res["id"], 0)
        late_key = self.sim_for(late_pay).checkout(late_pay)

        # ko fan pays by card; en fan with 3,000 points + 7,000 by card.
        r1 = self.hold(ko_token, event, seats[0])
        p1 = self.create_payment(ko_token, r1["id"], 0)
        self.confirm(ko_token, p1, self.sim_for(p1).checkout(p1))
        self.charge_points(en_token, 3000)
        r2 = self.hold(en_token, event, seats[1])
        p2 = self.create_payment(en_token, r2["id"], 3000)
        self.confirm(en_token, p2, self.sim_for(p2).checkout(p2))
        conf1 = self.wait_confirmed_with_tickets(ko_token, r1, seats[0])
        self.wait_confirmed_with_tickets(en_token, r2, seats[1])

        # The en fan waits for the confirmation email, then cancels: reservation.cancelled, and the
        # payment service refunds both parts (payment.refunded).
        self.wait_mails(en_addr, 2)
        r = self.api.call("reservation", "POST", f"/api/v1/reservations/{r2['id']}/cancel", {}, en_token)
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.payment(en_token, p2["id"])["status"] == "REFUNDED", 45, 0.2, "the cancellation refund")

        # The late fan's hold expires (the reservation service's sweeper emits reservation.expired,
        # mailed as "hold expired"); someone else takes the seat; the late payment then confirms at the
        # gateway, the reservation refuses it and the saga refunds it. (Had the payment come before the
        # sweep, the reservation service would expire the hold inside the failed confirmation and emit
        # only reservation.confirmation_failed: no "hold expired" email. Waiting for the email makes the
        # order deterministic.)
        wait_for(lambda: time.time() * 1000 > late_res["expiresAt"] + 200, 120, 0.5, "the hold to expire")
        self.wait_mails(late_addr, 1)
        self.assertEqual([m["subject"] for m in self.mails_to(late_addr)], [f"[Tiketi] 좌석 선점 만료: {title}"])

        def take():
            t = self.api.call("reservation", "POST", "/api/v1/reservations", {"eventId": event, "seatIds": [seats[4]]},
                              other_token, idem="take-" + late_res["id"])
            return t if t.status == 201 else None

        wait_for(take, 20, 0.2, "another fan to hold the expired seat")
        self.confirm(late_token, late_pay, late_key)
        wait_for(lambda: self.payment(late_token, late_pay["id"])["status"] == "REFUNDED", 45, 0.2, "the saga refund")

        # Every expected email arrives ...
        ko = self.wait_mails(ko_addr, 2)
        en = self.wait_mails(en_addr, 4)
        late = self.wait_mails(late_addr, 4)
        # ... and nothing else, even after a while (duplicates would come from redelivery or replicas).
        time.sleep(2.0)
        ko, en, late = self.mails_to(ko_addr), self.mails_to(en_addr), self.mails_to(late_addr)
        self.assertEqual(sorted(m["subject"] for m in ko),
                         sorted(["[Tiketi] 결제 완료: ₩10,000", f"[Tiketi] 예매 확정: {title}"]))
        self.assertEqual(sorted(m["subject"] for m in en),
                         sorted(["[Tiketi] Payment received: ₩10,000", f"[Tiketi] Booking confirmed: {title}",
                                 f"[Tiketi] Booking cancelled: {title}", "[Tiketi] Refund issued: ₩10,000"]))
        self.assertEqual(sorted(m["subject"] for m in late),
                         sorted([f"[Tiketi] 좌석 선점 만료: {title}", "[Tiketi] 결제 완료: ₩10,000",
                                 "[Tiketi] 예매 확정 실패 및 환불 안내", "[Tiketi] 환불 완료: ₩10,000"]))
        self.assertEqual(self.mails_to(other_addr), [])
        self.assertEqual(len(self.sink.snapshot()), 10, [m["to"] for m in self.sink.snapshot()])
        for m in ko + en + late:
            self.assertEqual(len(m["to"]), 1, m["to"])
            self.assertIn(SENDER, m["from"])
            self.assertIn(m["to"][0], m["to_header"])

        # Content: the confirmation carries the event, date, seat, amount, ticket code and link.
        ticket = conf1["tickets"][0]
        seat_label = conf1["items"][0]["label"]
        c = self.one(ko, f"[Tiketi] 예매 확정: {title}")
        for want in (f"{ko_name}님, 예매가 확정되었습니다.", f"공연: {title}", f"일시: {kst_date(perf, 'ko')}",
                     "결제 금액: ₩10,000", f"- {seat_label} x1 (₩10,000)", f"- {ticket['code']} ({ticket['label']})",
                     f"예매 내역: {PUBLIC_URL}/reservations/{r1['id']}"):
            self.assertIn(want, c["text"])
        self.assertIn(f"<code>{ticket['code']}</code>", c["html"])
        self.assertIn(f"{PUBLIC_URL}/reservations/{r1['id']}", c["html"])
        self.assertIn("김지은", self.one(ko, "[Tiketi] 결제 완료: ₩10,000")["text"])

        en_tickets = self.reservation(en_token, r2["id"]).get("tickets") or []
        c = self.one(en, f"[Tiketi] Booking confirmed: {title}")
        self.assertIn(f"Hi {en_name}, your booking is confirmed.", c["text"])
        self.assertIn(f"When: {kst_date(perf, 'en')}", c["text"])
        for t in en_tickets:
            self.assertIn(t["code"], c["text"])
        p = self.one(en, "[Tiketi] Payment received: ₩10,000")["text"]
        for want in ("Points used: ₩3,000", "Charged to card: ₩7,000", f"Payment reference: {p2['id']}"):
            self.assertIn(want, p)
        c = self.one(en, f"[Tiketi] Booking cancelled: {title}")["text"]
        self.assertIn("The ₩10,000 you paid will be refunded.", c)
        f = self.one(en, "[Tiketi] Refund issued: ₩10,000")["text"]
        self.assertIn("To points: ₩3,000", f)
        self.assertIn("To card: ₩7,000", f)

        x = self.one(late, f"[Tiketi] 좌석 선점 만료: {title}")["text"]
        self.assertIn(f"{late_name}님, 결제 시간이 지나 선점한 좌석이 해제되었습니다.", x)
        self.assertIn(f"{PUBLIC_URL}/events/{event}", x)
        x = self.one(late, "[Tiketi] 예매 확정 실패 및 환불 안내")["text"]
        self.assertIn("결제 금액 ₩10,000은(는) 자동으로 환불됩니다.", x)
        x = self.one(late, "[Tiketi] 환불 완료: ₩10,000")["text"]
        self.assertIn("카드 환불: ₩10,000", x)
        self.assertNotIn("포인트 환불", x)

        # The delivery log agrees: ten deliveries, all SENT on the first attempt with the 250 reply.
        r = self.api.call("notification", "GET", "/api/v1/admin/notifications?limit=200", token=admin)
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertEqual(len(items), 10, [(i["topic"], i["status"]) for i in items])
        for i in items:
            self.assertEqual((i["status"], i["attempts"], i["last_code"]), ("SENT", 1, 250), i)
        self.assertEqual(sorted(i["template"] for i in items if i["email"] == late_addr),
                         sorted(["reservation_expired", "payment_completed", "reservation_confirmation_failed",
                                 "payment_refunded"]))


class EmbeddedFlow(FlowChecks, unittest.TestCase):
    """One process, all six services, SQLite, in-process streams, built-in simulator; SMTP out."""

    @classmethod
    def setUpClass(cls):
        cls.sim_secret = "test_sk_tiketi_simulator"
        cls.sink = SmtpSink()
        try:
            cls.server = start_embedded("flow-embedded", notification_settings(cls.sink))
        except BaseException:
            cls.sink.stop()
            raise
        cls.api = Api({name: cls.server.port for name in ("auth", "event", "queue", "reservation", "payment",
                                                          "notification")})

    @classmethod
    def tearDownClass(cls):
        try:
            stop_embedded(cls.server, "embedded flow")
        finally:
            cls.sink.stop()


class ScaledFlow(FlowChecks, unittest.TestCase):
    """auth, event, reservation, payment and two notification replicas as separate processes on
    PostgreSQL + Redis; `tiketi pg-sim` as the gateway."""

    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls.sim_secret = "test_sk_flow_functional"
        cls.procs = []
        cls.sim_proc = None
        cls.sink = SmtpSink()
        cls.db_url, cls.drop = own_database(pg)
        cls.redis_db = 1 + int(uuid.uuid4().hex[:4], 16) % 15
        cls.redis_base = redis
        redis_url = f"{redis.rstrip('/')}/{cls.redis_db}"
        try:
            cls.sim_proc = subprocess.Popen([tiketi_bin(), "pg-sim", "--listen", "127.0.0.1:0", "--secret-key",
                                             cls.sim_secret], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL)
            line = cls.sim_proc.stdout.readline().decode()
            if "listening on" not in line:
                raise RuntimeError(f"pg-sim did not start: {line!r}")
            sim_url = line.strip().rsplit(" ", 1)[1]
            names = ["auth", "event", "reservation", "payment", "notification", "notification-2"]
            ports = {n: free_port() for n in names}
            peers = []
            for n in ("auth", "event", "reservation", "payment", "notification"):
                peers += ["--peer", f"{n}=http://127.0.0.1:{ports[n]}"]
            common = ["--database-url", cls.db_url, "--redis-url", redis_url] + peers
            extra = {"payment": ["--set", f"payment.gateway_url={sim_url}",
                                 "--set", f"payment.gateway_secret={cls.sim_secret}"],
                     "notification": notification_settings(cls.sink)}
            cls.data = tempfile.mkdtemp(prefix="tiketi-flow-scaled-")
            migrate = TiketiProcess(["--database-url", cls.db_url, "--services",
                                     "auth,event,reservation,payment,notification"], data_dir=cls.data,
                                    name="flow-migrate")
            migrate.migrate()
            create_admin(["--database-url", cls.db_url, "--services", "auth"], cls.data, migrate.env)
            for n in names:
                svc = n.split("-")[0]
                d = os.path.join(cls.data, n)
                os.makedirs(d, exist_ok=True)
                p = Proc(["--services", svc] + common + extra.get(svc, []), ports[n], data_dir=d, name=f"flow-{n}")
                cls.procs.append(p)
                p.start()
            for p in cls.procs:
                p.wait_ready(30)
        except BaseException:
            for p in cls.procs:
                p.dump(f"scaled flow start-up: {p.extra_args[1]}")
            cls._stop()
            raise
        cls.api = Api({n: ports[n] for n in ("auth", "event", "reservation", "payment", "notification")})

    @classmethod
    def _stop(cls):
        stop_scaled(cls)
        cls.sink.stop()

    @classmethod
    def tearDownClass(cls):
        cls._stop()


if __name__ == "__main__":
    run_tests()
