#!/usr/bin/env python3
"""The auth service's account lifecycle over real HTTP against the real binary, in both shapes
(issue 3, "Both shapes: the full account lifecycle over HTTP; two replicas of the auth service in
the scaled shape share revocations").

Embedded: one `tiketi serve` (all six services, SQLite, in-process coordination, --log-level debug).
Scaled: two `tiketi serve --services auth` replicas on one PostgreSQL database (its own, made here)
and one Redis (TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL), both with the same JWT secret.

Checked in each shape:
- signup -> 201 user + token pair (email normalised), duplicate email in other case -> 409;
  login; identical 401 for unknown email and wrong password; GET/PATCH /auth/me; refresh rotates;
  a rotated token presented again -> refresh_token_reused and the whole family is revoked; logout;
  logout-all; password change revokes every refresh token and the old password stops working;
- every access-token failure (alg none, HS512, RS256, bad signature, unknown kid, expired,
  not yet valid, malformed, missing claims) -> 401 with its JSON error code; tokens are made here
  with the shared secret, and a correctly made one is accepted (so each failure is the defect's);
- hostile input (SQL injection strings, a 1 MB email, invalid UTF-8 in a value, missing fields,
  wrong types) -> 400 with a field-level error, and nothing stored (signup counter unchanged, the
  same email can sign up afterwards); bodies that are not JSON at all -> 400 invalid_json;
- login throttling per account and per client IP -> 429 + Retry-After (the client binds its own
  random 127.x.y.z source address, so runs and parallel tests do not share a per-IP counter);
- `tiketi admin create`: no built-in password (fails without --password-file / TIKETI_ADMIN_PASSWORD
  and creates nothing), never prints the password; the admin passes require_role on another
  service's admin route (embedded), a user gets 403;
- no password, refresh token, access token or the JWT secret in any log line of any process.
Scaled only: a rotation, a reuse detection, a logout and a logout-all done on one replica are seen
by the other at once; the per-account and per-IP login throttles are shared through Redis.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import Response, TiketiProcess, own_database, require_servers, run_tests

SECRET = "functional-auth-lifecycle-secret-0123456789abcdef"
PASSWORD = "lifecycle pass " + uuid.uuid4().hex[:12]
NEW_PASSWORD = "changed pass " + uuid.uuid4().hex[:12]
ADMIN_PASSWORD = "admin pass " + uuid.uuid4().hex[:12]
MAX_FAILURES = 4
MAX_PER_IP = 12

COMMON_ENV = {
    "TIKETI_AUTH__JWT_SECRET": SECRET,
    # Cheap argon2id: the lifecycle, not the hashing cost, is under test here.
    "TIKETI_AUTH__ARGON2_OPSLIMIT": "1",
    "TIKETI_AUTH__ARGON2_MEMLIMIT_KIB": "8192",
    "TIKETI_AUTH__LOGIN_MAX_FAILURES": str(MAX_FAILURES),
    "TIKETI_AUTH__LOGIN_MAX_ATTEMPTS_PER_IP": str(MAX_PER_IP),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def random_loopback():
    """A random 127.x.y.z address (all of 127/8 is loopback on Linux): its own per-IP counter."""
    r = random.SystemRandom()
    return f"127.{r.randrange(1, 255)}.{r.randrange(1, 255)}.{r.randrange(2, 255)}"


def call(port, method, path, body=None, token=None, headers=None, source=None, raw=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def field_errors(r):
    try:
        err = r.json()["error"]
    except (ValueError, KeyError, TypeError):
        return set()
    return {f.get("field") for f in err.get("fields", [])}


def metric(port, sample):
    """Value of the exposition line `sample value` (0 when absent)."""
    body = call(port, "GET", "/metrics").body.decode()
    for line in body.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def make_token(claims, secret=SECRET, alg="HS256", kid=None, header=None, sign=True):
    if kid is None:
        kid = hashlib.sha256(secret.encode()).digest()[:8].hex()  # the service's derived kid
    hdr = header if header is not None else {"alg": alg, "typ": "JWT", "kid": kid}
    signing_input = b64url(json.dumps(hdr).encode()) + "." + b64url(json.dumps(claims).encode())
    if not sign:
        return signing_input + "."
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    return signing_input + "." + b64url(hmac.new(secret.encode(), signing_input.encode(), digest).digest())


class Lifecycle:
    """Shared checks; subclasses provide cls.procs (one or two running TiketiProcess)."""

    procs = ()
    _drop = None  # the scaled shape's throw-away database

    @classmethod
    def tearDownClass(cls):
        try:
            for p in cls.procs:
                stop(p)
        finally:
            for p in cls.procs:
                p.cleanup()
            if cls._drop:
                cls._drop()

    secrets_seen = None  # every credential handed out or sent, for the log check

    @classmethod
    def remember(cls, *values):
        for v in values:
            if isinstance(v, str) and len(v) >= 12:
                cls.secrets_seen.add(v)

    @property
    def a(self):
        return self.procs[0].port

    @property
    def b(self):
        return self.procs[-1].port

    def email(self, tag):
        return f"{tag}-{uuid.uuid4().hex[:10]}@Lifecycle.Example.com"

    def signup(self, port, email, password=PASSWORD, source=None):
        r = call(port, "POST", "/api/v1/auth/signup", {"email": email, "password": password, "name": "Life Cycle"},
                 source=source or self.source)
        if r.status in (200, 201):
            doc = r.json()
            self.remember(doc["accessToken"], doc["refreshToken"], password)
        return r

    def login(self, port, email, password=PASSWORD, source=None):
        r = call(port, "POST", "/api/v1/auth/login", {"email": email, "password": password},
                 source=source or self.source)
        self.remember(password)
        if r.status == 200:
            doc = r.json()
            self.remember(doc["accessToken"], doc["refreshToken"])
        return r

    def refresh(self, port, token):
        r = call(port, "POST", "/api/v1/auth/refresh", {"refreshToken": token}, source=self.source)
        if r.status == 200:
            doc = r.json()
            self.remember(doc["accessToken"], doc["refreshToken"])
        return r

    def setUp(self):
        self.source = random_loopback()

    # -- the lifecycle ------------------------------------------------------------------------------

    def test_1_account_lifecycle(self):
        email = self.email("life")
        s = self.signup(self.a, email)
        self.assertEqual(s.status, 201, s)
        doc = s.json()
        self.assertEqual(doc["user"]["email"], email.lower())
        self.assertEqual(doc["user"]["role"], "user")
        self.assertEqual(doc["expiresIn"], 900)
        self.assertNotIn("passwordHash", doc["user"])
        self.assertEqual(len(doc["refreshToken"]), 43)  # 256 random bits, base64url
        user_id = doc["user"]["id"]

        dup = self.signup(self.b, "  " + email.upper() + " ")
        self.assertEqual(dup.status, 409, dup)
        self.assertEqual(dup.error_code(), "email_taken")

        wrong = self.login(self.b, email, "not the password at all")
        unknown = self.login(self.b, self.email("nobody"), "not the password at all")
        self.assertEqual((wrong.status, unknown.status), (401, 401))
        self.assertEqual(wrong.json(), unknown.json())
        self.assertEqual(wrong.error_code(), "invalid_credentials")

        l1 = self.login(self.b, email.upper())
        self.assertEqual(l1.status, 200, l1)
        self.assertEqual(l1.json()["user"]["id"], user_id)

        me = call(self.b, "GET", "/api/v1/auth/me", token=doc["accessToken"])
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json()["id"], user_id)
        patched = call(self.a, "PATCH", "/api/v1/auth/me", {"name": " New Name ", "profileImageUrl":
                                                            "https://img.example.com/p.png"},
                       token=l1.json()["accessToken"])
        self.assertEqual(patched.status, 200, patched)
        self.assertEqual(patched.json()["name"], "New Name")
        self.assertEqual(call(self.b, "GET", "/api/v1/auth/me", token=doc["accessToken"]).json()["profileImageUrl"],
                         "https://img.example.com/p.png")
        self.assertEqual(call(self.a, "GET", "/api/v1/auth/me").status, 401)

        # Refresh rotates; the rotated token presented again revokes the whole family.
        r1 = self.refresh(self.a, doc["refreshToken"])
        self.assertEqual(r1.status, 200, r1)
        self.assertNotEqual(r1.json()["refreshToken"], doc["refreshToken"])
        reuse = self.refresh(self.b, doc["refreshToken"])
        self.assertEqual(reuse.status, 401)
        self.assertEqual(reuse.error_code(), "refresh_token_reused")
        dead = self.refresh(self.a, r1.json()["refreshToken"])
        self.assertEqual(dead.error_code(), "refresh_token_revoked")
        # Another session (l1's family) is untouched.
        r2 = self.refresh(self.a, l1.json()["refreshToken"])
        self.assertEqual(r2.status, 200, r2)

        # Logout one session on one replica: seen on the other.
        self.assertEqual(call(self.a, "POST", "/api/v1/auth/logout", {"refreshToken": r2.json()["refreshToken"]}).status,
                         204)
        self.assertEqual(self.refresh(self.b, r2.json()["refreshToken"]).error_code(), "refresh_token_revoked")
        self.assertEqual(call(self.a, "POST", "/api/v1/auth/logout", {"refreshToken": "unknown"}).status, 204)

        # Log out everywhere.
        l2, l3 = self.login(self.a, email), self.login(self.b, email)
        self.assertEqual((l2.status, l3.status), (200, 200))
        self.assertEqual(call(self.b, "POST", "/api/v1/auth/logout-all", {}).status, 401)
        self.assertEqual(call(self.b, "POST", "/api/v1/auth/logout-all", {}, token=l2.json()["accessToken"]).status, 204)
        for t in (l2, l3):
            self.assertEqual(self.refresh(self.a, t.json()["refreshToken"]).error_code(), "refresh_token_revoked")

        # Change password: every refresh token is revoked, the old password stops working.
        l4, l5 = self.login(self.a, email), self.login(self.b, email)
        self.remember(NEW_PASSWORD)
        bad = call(self.a, "POST", "/api/v1/auth/password", {"currentPassword": "wrong wrong wrong",
                                                             "newPassword": NEW_PASSWORD},
                   token=l4.json()["accessToken"])
        self.assertIn("currentPassword", field_errors(bad))
        weak = call(self.a, "POST", "/api/v1/auth/password", {"currentPassword": PASSWORD, "newPassword": "short"},
                    token=l4.json()["accessToken"])
        self.assertEqual(weak.status, 400)
        self.assertIn("newPassword", field_errors(weak))
        changed = call(self.a, "POST", "/api/v1/auth/password", {"currentPassword": PASSWORD,
                                                                 "newPassword": NEW_PASSWORD},
                       token=l4.json()["accessToken"])
        self.assertEqual(changed.status, 200, changed)
        self.remember(changed.json()["accessToken"], changed.json()["refreshToken"])
        for t in (l4, l5):
            self.assertEqual(self.refresh(self.b, t.json()["refreshToken"]).error_code(), "refresh_token_revoked")
        self.assertEqual(self.refresh(self.b, changed.json()["refreshToken"]).status, 200)
        self.assertEqual(self.login(self.b, email, PASSWORD).status, 401)
        self.assertEqual(self.login(self.a, email, NEW_PASSWORD).status, 200)

    def test_2_access_token_failures_are_401_with_their_code(self):
        s = self.signup(self.a, self.email("jwt"))
        self.assertEqual(s.status, 201, s)
        user_id = s.json()["user"]["id"]
        now = int(time.time())
        good = {"sub": user_id, "role": "user", "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
        self.remember(make_token(good))
        self.assertEqual(call(self.b, "GET", "/api/v1/auth/me", token=make_token(good)).status, 200)
        real = s.json()["accessToken"]
        tampered = real[:-3] + ("AAA" if real[-3:] != "AAA" else "BBB")
        cases = {
            "alg none": (make_token(good, alg="none", sign=False), "token_unsupported_alg"),
            "alg none, signed": (make_token(good, header={"alg": "none", "typ": "JWT"}), "token_unsupported_alg"),
            "HS512": (make_token(good, alg="HS512"), "token_unsupported_alg"),
            "RS256 header": (make_token(good, alg="RS256"), "token_unsupported_alg"),
            "bad signature (other key, right kid)": (
                make_token(good, secret="another-secret-0123456789abcdef0123456789",
                           kid=hashlib.sha256(SECRET.encode()).digest()[:8].hex()), "token_bad_signature"),
            "tampered signature": (tampered, "token_bad_signature"),
            "unknown kid": (make_token(good, kid="no-such-key"), "token_unknown_kid"),
            "expired": (make_token(dict(good, iat=now - 1000, exp=now - 100)), "token_expired"),
            "not yet valid": (make_token(dict(good, nbf=now + 600)), "token_not_yet_valid"),
            "malformed": ("not-a-jwt", "token_malformed"),
            "missing jti": (make_token({k: v for k, v in good.items() if k != "jti"}), "token_invalid"),
        }
        for name, (token, code) in cases.items():
            with self.subTest(name):
                r = call(self.b, "GET", "/api/v1/auth/me", token=token)
                self.assertEqual(r.status, 401, r)
                self.assertEqual(r.error_code(), code)

    def test_3_hostile_input_is_400_and_nothing_is_stored(self):
        signups_before = sum(metric(p.port, "auth_signups_total") for p in self.procs)
        victim = self.email("victim")
        ok = {"email": victim, "password": PASSWORD, "name": "Victim"}
        json_cases = [
            ({"email": "x'; DROP TABLE users; --@a.com", "password": PASSWORD, "name": "A"}, "email"),
            ({"email": "' OR '1'='1", "password": PASSWORD, "name": "A"}, "email"),
            ({"email": "a" * 1_000_000 + "@example.com", "password": PASSWORD, "name": "A"}, "email"),
            ({"password": PASSWORD, "name": "A"}, "email"),
            ({"email": victim, "name": "A"}, "password"),
            ({"email": victim, "password": PASSWORD}, "name"),
            ({"email": 42, "password": PASSWORD, "name": "A"}, "email"),
            ({"email": victim, "password": ["x"], "name": "A"}, "password"),
            ({"email": victim, "password": PASSWORD, "name": {"a": 1}}, "name"),
            ({"email": victim, "password": "short", "name": "A"}, "password"),
            ({"email": victim, "password": PASSWORD, "name": "bad\u0001name"}, "name"),
            ({"email": [victim], "password": PASSWORD, "name": "A"}, "email"),
        ]
        for body, field in json_cases:
            with self.subTest(field=field, body=str(body)[:60]):
                r = call(self.a, "POST", "/api/v1/auth/signup", body)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.error_code(), "validation_failed")
                self.assertIn(field, field_errors(r))
        # Login gets the same field-level treatment.
        for body, field in [({"email": "' OR 1=1 --", "password": PASSWORD}, "email"),
                            ({"email": victim}, "password"), ({"email": 1, "password": 2}, "email")]:
            r = call(self.b, "POST", "/api/v1/auth/login", body, source=self.source)
            self.assertEqual(r.status, 400, r)
            self.assertIn(field, field_errors(r))
        # Invalid UTF-8 inside a value: a field-level error on that member.
        pw = PASSWORD.encode()
        utf8_cases = [
            (b'{"email":"' + victim.encode() + b'","password":"' + pw + b'","name":"\xc3\x28"}', "name"),
            (b'{"email":"\xff\xfe@example.com","password":"' + pw + b'","name":"A"}', "email"),
            (b'{"email":"' + victim.encode() + b'","password":"' + pw + b'\xed\xa0\x80","name":"A"}', "password"),
        ]
        for raw, field in utf8_cases:
            with self.subTest(raw=raw[:60]):
                r = call(self.a, "POST", "/api/v1/auth/signup", raw=raw)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.error_code(), "validation_failed")
                self.assertIn(field, field_errors(r))
        r = call(self.b, "POST", "/api/v1/auth/login", raw=b'{"email":"\xc0\xaf@example.com","password":"' + pw + b'"}',
                 source=self.source)
        self.assertEqual((r.status, r.error_code()), (400, "validation_failed"), r)
        self.assertIn("email", field_errors(r))
        # Not JSON at all: broken syntax, invalid UTF-8 outside any value, an escaped lone surrogate.
        raw_cases = [
            b'{"na\xffme":"A","email":"' + victim.encode() + b'","password":"' + pw + b'"}',
            b'{"email":"' + victim.encode() + b'","password":"' + pw + b'","name":"\\udc00"}',
            b"not json", b"[1,2,3]", b"", b'{"email":"' + victim.encode() + b'",',
        ]
        for raw in raw_cases:
            with self.subTest(raw=raw[:40]):
                r = call(self.a, "POST", "/api/v1/auth/signup", raw=raw)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.error_code(), "invalid_json")
        # Nothing was stored: no signup counted anywhere, and the victim's address is still free.
        self.assertEqual(sum(metric(p.port, "auth_signups_total") for p in self.procs), signups_before)
        self.assertEqual(self.signup(self.b, victim).status, 201)
        # The SQL text in a stored field is data, not SQL.
        sneaky = self.signup(self.a, self.email("sql"))
        t = sneaky.json()["accessToken"]
        r = call(self.b, "PATCH", "/api/v1/auth/me", {"name": "Robert'); DROP TABLE users;--"}, token=t)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(call(self.a, "GET", "/api/v1/auth/me", token=t).json()["name"], "Robert'); DROP TABLE users;--")

    def test_4_login_throttled_per_account_and_per_ip(self):
        email = self.email("throttle")
        self.assertEqual(self.signup(self.a, email).status, 201)
        for i in range(MAX_FAILURES):
            port = self.a if i % 2 == 0 else self.b  # failures on both replicas count together
            self.assertEqual(self.login(port, email, "wrong password " + str(i), source=random_loopback()).status, 401)
        blocked = self.login(self.a, email, source=random_loopback())  # even the right password waits
        self.assertEqual(blocked.status, 429, blocked)
        self.assertEqual(blocked.error_code(), "rate_limited")
        self.assertGreaterEqual(int(blocked.headers["retry-after"]), 1)
        self.assertEqual(self.login(self.b, email, source=random_loopback()).status, 429)

        ip = random_loopback()
        other = self.email("ip")
        self.assertEqual(self.signup(self.b, other, source=random_loopback()).status, 201)
        statuses = [self.login(self.a if i % 2 else self.b, self.email("nobody"), "whatever pass 1", source=ip).status
                    for i in range(MAX_PER_IP)]
        self.assertEqual(statuses, [401] * MAX_PER_IP)
        over = self.login(self.a, other, source=ip)  # a valid login from that IP is refused too
        self.assertEqual(over.status, 429, over)
        self.assertIn("retry-after", over.headers)
        self.assertEqual(self.login(self.b, other, source=ip).status, 429)
        self.assertEqual(self.login(self.b, other, source=random_loopback()).status, 200)  # other IPs unaffected

    def test_5_metrics(self):
        text = "".join(call(p.port, "GET", "/metrics").body.decode() for p in self.procs)
        for series in ('auth_logins_total{result="success"}', 'auth_logins_total{result="invalid_credentials"}',
                       'auth_logins_total{result="throttled"}', "auth_signups_total", "auth_refreshes_total",
                       "auth_refresh_reuse_total"):
            self.assertIn(series, text)
        self.assertGreaterEqual(sum(metric(p.port, "auth_refresh_reuse_total") for p in self.procs), 1)

    def admin_create(self, email, password=None, password_file=None):
        env = dict(self.procs[0].env)
        env.pop("TIKETI_ADMIN_PASSWORD", None)
        if password is not None:
            env["TIKETI_ADMIN_PASSWORD"] = password
        cmd = [self.procs[0].bin, "admin", "create", "--email", email, "--data-dir", self.procs[0].data_dir]
        cmd += self.procs[0]._db_args()
        if password_file is not None:
            cmd += ["--password-file", password_file]
        return subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)

    def test_6_admin_create_never_prints_or_defaults_a_password(self):
        # No password source and no terminal: refused, nothing created (there is no default).
        first = self.email("admin")
        r = self.admin_create(first)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("password", r.stderr)
        self.assertEqual(self.signup(self.a, first).status, 201)  # the address was still free
        # From the environment: created, never printed.
        second = self.email("admin")
        r = self.admin_create(second, password=ADMIN_PASSWORD)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn(ADMIN_PASSWORD, r.stdout + r.stderr)
        self.remember(ADMIN_PASSWORD)
        admin = self.login(self.b, second, ADMIN_PASSWORD)
        self.assertEqual(admin.status, 200, admin)
        self.assertEqual(admin.json()["user"]["role"], "admin")
        # From a file: promotes the existing account, whose password is left alone.
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("file admin password 1\n")
        try:
            r = self.admin_create(first, password_file=f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("file admin password 1", r.stdout + r.stderr)
        promoted = self.login(self.a, first)
        self.assertEqual(promoted.status, 200, promoted)
        self.assertEqual(promoted.json()["user"]["role"], "admin")

    def test_9_no_password_or_token_in_any_log_line(self):
        # Runs last (name order): everything the other tests sent or received is in secrets_seen.
        self.assertGreater(len(self.secrets_seen), 10)
        needles = set(self.secrets_seen) | {SECRET}
        # A JWT's signature alone identifies it; a token split over fields would still leak it.
        needles |= {t.rsplit(".", 1)[1] for t in self.secrets_seen if t.count(".") == 2 and len(t.rsplit(".", 1)[1]) > 20}
        lines = 0
        for p in self.procs:
            for line in p.stdout() + p.stderr_lines:
                lines += 1
                for n in needles:
                    self.assertNotIn(n, line, f"a credential appears in a log line of pid {p.proc.pid}: {line[:300]}")
        self.assertGreater(lines, 50)  # the access log ran: the check looked at real output






def stop(p):
    """SIGTERM; the process must drain, report "stopped" and exit 0 (a hang anywhere fails: the
    scaled shape used to hang in process teardown after "stopped": coord::redis::Connection::close()
    dispatched a second time onto a destroyed io_context; it now closes once)."""
    rc = p.terminate()
    if rc != 0:
        p.dump("non-zero exit")
        raise AssertionError(f"tiketi exited {rc} after SIGTERM")


class EmbeddedAuthLifecycle(Lifecycle, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.secrets_seen = set()
        p = TiketiProcess(["--log-level", "debug"], env=COMMON_ENV, name="auth-lc-embedded")
        try:
            p.migrate()
            p.start()
            p.wait_ready(timeout=60)
        except Exception:
            p.cleanup()
            raise
        cls.procs = (p,)

    def test_7_require_role_guards_another_services_admin_route(self):
        admin_email = self.email("roleadmin")
        r = self.admin_create(admin_email, password=ADMIN_PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.remember(ADMIN_PASSWORD)
        admin_token = self.login(self.a, admin_email, ADMIN_PASSWORD).json()["accessToken"]
        user = self.signup(self.a, self.email("plain")).json()["accessToken"]
        route = "/api/v1/admin/notifications"
        self.assertEqual(call(self.a, "GET", route).status, 401)
        forbidden = call(self.a, "GET", route, token=user)
        self.assertEqual(forbidden.status, 403, forbidden)
        self.assertEqual(forbidden.error_code(), "forbidden")
        now = int(time.time())
        forged_admin = make_token({"sub": "x", "role": "admin", "iat": now, "exp": now + 600, "jti": "j"},
                                  secret="forged-secret-0123456789abcdef0123456789")
        self.assertEqual(call(self.a, "GET", route, token=forged_admin).status, 401)
        self.assertEqual(call(self.a, "GET", route, token=admin_token).status, 200)


class ScaledAuthLifecycle(Lifecycle, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.secrets_seen = set()
        pg, redis = require_servers()
        cls._db_url, cls._drop = own_database(pg, "tiketi_authlc_")
        procs = []
        try:
            for i in range(2):
                args = ["--services", "auth", "--database-url", cls._db_url, "--redis-url", redis]
                p = TiketiProcess(args, env=COMMON_ENV, name=f"auth-lc-replica{i}")
                procs.append(p)
                if i == 0:
                    p.migrate()
                p.start()
                p.wait_ready(timeout=60)
        except Exception:
            for p in procs:
                p.cleanup()
            if cls._drop:
                cls._drop()
            raise
        cls.procs = tuple(procs)



    def test_0_two_replicas(self):
        self.assertEqual(len(self.procs), 2)
        self.assertNotEqual(self.a, self.b)


if __name__ == "__main__":
    run_tests()
