#!/usr/bin/env python3
"""The notification service in the scaled shape, across processes: `tiketi serve --services auth`
and `tiketi serve --services notification` are separate processes sharing PostgreSQL and Redis; the
notification process finds each recipient (email, name, language) through the auth service's
internal API over real HTTP (net::HttpClient, `--peer auth=http://…`), and sends to a real SMTP
server (a small SMTP sink in this file, speaking SMTP over TCP).

Events are appended to the Redis streams exactly as the outbox relay writes them.

Checked:
- each email goes to the address auth knows for the user, in that user's language (ko / en);
- auth down -> the delivery is retried (PENDING with "recipient lookup failed"), not dropped, and
  goes out exactly once after auth is back on the same address.
"""

import base64
import json
import os
import random
import re
import socket
import socketserver
import threading
import time
import unittest
import urllib.parse
import uuid

from harness import TiketiProcess, own_database, request, require_servers, run_tests

WAIT = 30.0


# --- a real SMTP server (stdlib only) ----------------------------------------------------------------

class SmtpSink:
    """SMTP over TCP on 127.0.0.1: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; records messages."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 functional-sink ESMTP\r\n")
                rcpts, mail_from = [], None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                    verb = cmd[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250-functional-sink\r\n250 8BITMIME\r\n")
                    elif verb == "MAIL":
                        mail_from, rcpts = cmd, []
                        self.wfile.write(b"250 2.1.0 Ok\r\n")
                    elif verb == "RCPT":
                        rcpts.append(cmd[cmd.index("<") + 1:cmd.index(">")])
                        self.wfile.write(b"250 2.1.5 Ok\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = []
                        while True:
                            part = self.rfile.readline()
                            if not part or part == b".\r\n":
                                break
                            data.append(part[1:] if part.startswith(b"..") else part)
                        with sink.lock:
                            sink.messages.append({"from": mail_from, "to": list(rcpts), "data": b"".join(data)})
                        self.wfile.write(b"250 2.0.0 Ok: queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 2.0.0 Bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 2.0.0 Ok\r\n")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.messages)


def decode_subject(data):
    m = re.search(rb"^Subject: (.*?)\r\n", data, re.M)
    subject = m.group(1).decode() if m else ""
    enc = re.fullmatch(r"=\?UTF-8\?B\?(.*)\?=", subject)
    return base64.b64decode(enc.group(1)).decode("utf-8") if enc else subject


# --- Redis (RESP over a socket) ----------------------------------------------------------------------

class Redis:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 6379), timeout=10)
        self.f = self.sock.makefile("rb")
        if parts.password:
            self.cmd("AUTH", parts.password)
        db = parts.path.lstrip("/")
        if db:
            self.cmd("SELECT", db)

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP {line!r}")

    def close(self):
        self.sock.close()






class FixedPortProcess(TiketiProcess):
    """A TiketiProcess that listens on a chosen port (to restart a peer at the same address)."""

    def __init__(self, *a, listen_port=0, **kw):
        super().__init__(*a, **kw)
        self.listen_port = listen_port

    def start(self, timeout=30.0):
        if not self.listen_port:
            return super().start(timeout)
        saved = self.bin
        wrapper = os.path.join(self.data_dir, "serve-on-port.sh")
        with open(wrapper, "w", encoding="ascii") as f:
            # `serve --listen 127.0.0.1:0 …` from the harness becomes `serve --listen 127.0.0.1:<port> …`.
            f.write(f'#!/bin/sh\nshift 3\nexec "{saved}" serve --listen 127.0.0.1:{self.listen_port} "$@"\n')
        os.chmod(wrapper, 0o755)
        self.bin = wrapper
        try:
            return super().start(timeout)
        finally:
            self.bin = saved


class NotificationAcrossProcesses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg, redis = require_servers()
        cls.db_url, cls.drop = own_database(pg, "tiketi_func_notif_")
        # A Redis database of its own: other functional tests use the same streams in database 0.
        base = urllib.parse.urlsplit(redis)
        cls.redis_url = base._replace(path="/" + str(random.randint(8, 15))).geturl()
        cls.redis = Redis(cls.redis_url)
        for topic in ("event.published", "reservation.confirmed", "payment.completed"):
            cls.redis.cmd("DEL", "events:" + topic)
        cls.sink = SmtpSink()
        cls.procs = []
        cls.auth = None
        cls.notif = None
        try:
            cls._start()
        except BaseException:
            cls._stop_all()
            raise

    @classmethod
    def _start(cls):
        db = ["--database-url", cls.db_url, "--redis-url", cls.redis_url]
        cls.auth = FixedPortProcess(["--services", "auth"] + db, name="auth")
        cls.procs.append(cls.auth)
        cls.auth.migrate()
        cls.auth.start()
        cls.auth.wait_ready()
        cls.auth_port = cls.auth.port
        cls.notif = TiketiProcess(
            ["--services", "notification"] + db + [
                "--peer", f"auth=http://127.0.0.1:{cls.auth_port}",
                "--set", f"notification.smtp_url=smtp://127.0.0.1:{cls.sink.port}",
                "--set", "notification.smtp_tls=none",
                "--set", "notification.poll_ms=50",
                "--set", "notification.retry_base_ms=400",
                "--set", "notification.retry_max_ms=1500",
                "--set", "notification.max_attempts=50",
                "--set", "notification.public_url=https://tiketi.example",
            ], name="notification")
        cls.procs.append(cls.notif)
        cls.notif.migrate()
        cls.notif.start()
        cls.notif.wait_ready()

    @classmethod
    def _stop_all(cls):
        for p in cls.procs:
            try:
                p.terminate()
            except Exception:  # noqa: BLE001 - best effort while tearing down
                p.kill()
            p.cleanup()
        cls.sink.stop()
        try:
            cls.redis.close()
        finally:
            if cls.drop:
                cls.drop()

    @classmethod
    def tearDownClass(cls):
        cls._stop_all()

    # -- helpers -----------------------------------------------------------------------------------

    def signup(self, port, email, language):
        body = json.dumps({"email": email, "password": "correct horse battery 9", "name": email.split("@")[0]})
        r = request(port, "POST", "/api/v1/auth/signup", body=body, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        if language != "ko":
            r2 = request(port, "PATCH", "/api/v1/auth/me", body=json.dumps({"language": language}),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + doc["accessToken"]})
            self.assertEqual(r2.status, 200, r2)
        return doc["user"]["id"]

    def publish(self, topic, payload):
        event_id = str(uuid.uuid4())
        self.redis.cmd("XADD", "events:" + topic, "*", "id", event_id, "topic", topic,
                       "key", payload.get("reservation_id", "k"), "payload", json.dumps(payload),
                       "created_at", str(int(time.time() * 1000)), "trace_id", "")
        return event_id

    def wait_mail(self, to, count=1, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [m for m in self.sink.snapshot() if to in m["to"]]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        self.fail(f"no email to {to} within {timeout}s; notification log:\n{self.notif.tail(40)}")

    def wait_log(self, predicate, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.notif.stdout():
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict) and predicate(doc):
                    return doc
            time.sleep(0.05)
        self.fail(f"log line not seen within {timeout}s:\n{self.notif.tail(40)}")

    # -- the test ----------------------------------------------------------------------------------

    def test_recipients_over_http_and_auth_outage(self):
        suffix = uuid.uuid4().hex[:8]
        jieun = f"jieun-{suffix}@example.com"
        sam = f"sam-{suffix}@example.com"
        later = f"later-{suffix}@example.com"
        ko_id = self.signup(self.auth_port, jieun, "ko")
        en_id = self.signup(self.auth_port, sam, "en")
        later_id = self.signup(self.auth_port, later, "en")

        self.publish("event.published", {"schema_version": 1, "event_id": "e-func", "title": "IU 콘서트",
                                         "status": "on_sale", "performance_start": 1754042400000,
                                         "ticket_types": [], "seats": []})
        confirmed = {"schema_version": 1, "reservation_id": "r-ko", "user_id": ko_id, "event_id": "e-func",
                     "amount": 330000, "quantity": 1, "kind": "seated", "at": 1750000000000,
                     "payment_id": "p-ko",
                     "items": [{"label": "A구역 1열 12번", "unit_price": 330000, "quantity": 1}],
                     "tickets": [{"code": "TK-FUNC-0001", "label": "A구역 1열 12번"}]}
        self.publish("reservation.confirmed", confirmed)
        paid = {"schema_version": 1, "payment_id": "p-en", "reservation_id": "r-en", "user_id": en_id,
                "order_id": "o-1", "amount": 165000, "points_amount": 0, "card_amount": 165000,
                "method": "card", "at": 1750000000000}
        self.publish("payment.completed", paid)

        ko_mail = self.wait_mail(jieun)
        en_mail = self.wait_mail(sam)
        self.assertEqual(len(ko_mail), 1)
        self.assertEqual(len(en_mail), 1)
        self.assertEqual(decode_subject(ko_mail[0]["data"]), "[Tiketi] 예매 확정: IU 콘서트")
        self.assertEqual(decode_subject(en_mail[0]["data"]), "[Tiketi] Payment received: ₩165,000")
        self.assertIn(b"To: ", ko_mail[0]["data"])

        # Auth goes away. A user never looked up before cannot be resolved: retried, not dropped.
        self.assertEqual(self.auth.terminate(), 0)
        paid_later = dict(paid, payment_id="p-later", reservation_id="r-later", user_id=later_id, amount=99000,
                          card_amount=99000)
        self.publish("payment.completed", paid_later)
        failed = self.wait_log(lambda d: d.get("msg") == "delivery failed; will retry"
                               and "recipient lookup failed" in str(d.get("error", "")))
        self.assertGreaterEqual(int(failed.get("attempt", 0)), 1)
        time.sleep(1.0)
        self.assertEqual([m for m in self.sink.snapshot() if later in m["to"]], [])

        # Auth is back on the same address: the delivery goes out, once, in English.
        again = FixedPortProcess(["--services", "auth", "--database-url", self.db_url, "--redis-url",
                                  self.redis_url], name="auth2", listen_port=self.auth_port)
        self.procs.append(again)
        again.start()
        again.wait_ready()
        got = self.wait_mail(later, timeout=45)
        self.assertEqual(decode_subject(got[0]["data"]), "[Tiketi] Payment received: ₩99,000")
        time.sleep(1.5)
        self.assertEqual(len([m for m in self.sink.snapshot() if later in m["to"]]), 1)
        self.assertEqual(len([m for m in self.sink.snapshot() if jieun in m["to"]]), 1)


if __name__ == "__main__":
    run_tests()
