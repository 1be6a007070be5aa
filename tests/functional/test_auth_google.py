#!/usr/bin/env python3
"""Google sign-in through the real binary and real HTTP, against a fake OpenID Connect provider
written here (stdlib HTTP server on 127.0.0.1; RSA key made by the `openssl` CLI, RS256 signatures
computed in Python). `tiketi serve` reaches the provider with its libcurl client.

Checked:
- /api/v1/auth/providers advertises Google when configured;
- start -> provider -> callback -> one-time code in the fragment -> exchange -> tokens -> /auth/me;
- a forged ID token (signed by another key) -> 401 id_token_bad_signature, no account;
- a wrong audience, a wrong nonce -> 401 id_token_wrong_audience / id_token_wrong_nonce, no account;
- a replayed state (second callback with the same state and a fresh code) -> 400 oidc_state_invalid;
- a known email linked: a verified (admin-created) account keeps its id and gains Google;
- /metrics carries the auth series (Google sign-ins by result, logins, signups, refreshes, reuse).
"""

import hashlib
import http.server
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import TiketiProcess, run_tests
from json_handler import JsonHandler
from rsa_key import RsaKey, b64url

CLIENT_ID = "functional.apps.googleusercontent.com"
CLIENT_SECRET = "functional-secret"
REDIRECT = "http://127.0.0.1/api/v1/auth/google/callback"


class FakeProvider:
    def __init__(self, key):
        self.key = key
        self.sign_with = key
        self.claim_overrides = {}  # applied to the next ID tokens (wrong aud, wrong nonce)
        self.codes = {}
        provider = self

        class Handler(JsonHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    self._json(200, {"issuer": provider.issuer, "authorization_endpoint": provider.issuer + "/auth",
                                     "token_endpoint": provider.issuer + "/token",
                                     "jwks_uri": provider.issuer + "/certs"})
                elif self.path == "/certs":
                    self._json(200, {"keys": [provider.key.jwk()]})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                form = {k: v[0] for k, v in form.items()}
                pending = provider.codes.pop(form.get("code"), None)
                if form.get("client_secret") != CLIENT_SECRET or form.get("client_id") != CLIENT_ID:
                    return self._json(401, {"error": "invalid_client"})
                verifier = form.get("code_verifier", "")
                if pending is None or b64url(hashlib.sha256(verifier.encode()).digest()) != pending["challenge"]:
                    return self._json(400, {"error": "invalid_grant"})
                self._json(200, {"access_token": "x", "token_type": "Bearer", "id_token": provider.id_token(pending)})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def authorize(self, location, sub, email):
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(location).query).items()}
        assert q["code_challenge_method"] == "S256" and q["client_id"] == CLIENT_ID, q
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"], "sub": sub, "email": email}
        return code, q["state"]

    def id_token(self, p):
        now = int(time.time())
        header = {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "sub": p["sub"], "email": p["email"], "email_verified": True,
                  "name": "Functional Fan", "nonce": p["nonce"], "iat": now, "exp": now + 3600}
        claims.update(self.claim_overrides)
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(self.sign_with.sign(signing_input))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class GoogleSignInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl CLI not installed")
        cls.keys_dir = tempfile.mkdtemp(prefix="tiketi-func-oidc-")
        cls.provider = FakeProvider(RsaKey("func-key-1", cls.keys_dir))
        os.makedirs(cls.keys_dir + "/attacker")
        cls.attacker = RsaKey("func-key-1", cls.keys_dir + "/attacker")  # same kid, another key
        cls.tiketi = TiketiProcess(["--services", "auth"], env={
            "TIKETI_AUTH__GOOGLE_CLIENT_ID": CLIENT_ID,
            "TIKETI_AUTH__GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
            "TIKETI_AUTH__GOOGLE_REDIRECT_URI": REDIRECT,
            "TIKETI_AUTH__GOOGLE_ISSUER": cls.provider.issuer,
        }, name="auth-google")
        try:
            cls.tiketi.migrate()
            cls.tiketi.start()
            cls.tiketi.wait_ready()
        except Exception:
            cls.tiketi.cleanup()
            cls.provider.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tiketi.terminate()
        cls.tiketi.cleanup()
        cls.provider.close()
        shutil.rmtree(cls.keys_dir, ignore_errors=True)

    rejected = 0  # callbacks the service refused (auth_google_sign_ins_total{result="rejected"})
    seen = set()  # codes, states, cookies and tokens that went by, for the log check

    def flow(self, sub, email, keep=None):
        start = self.tiketi.get("/api/v1/auth/google/start")
        self.assertEqual(start.status, 302, start)
        cookie = start.headers["set-cookie"].split(";")[0]
        code, state = self.provider.authorize(start.headers["location"], sub, email)
        type(self).seen.update({code, state, cookie.split("=", 1)[1]})
        if keep is not None:
            keep.update(location=start.headers["location"], cookie=cookie)
        query = urllib.parse.urlencode({"code": code, "state": state})
        cb = self.tiketi.get("/api/v1/auth/google/callback?" + query, headers={"Cookie": cookie})
        if cb.status >= 400:
            type(self).rejected += 1
        return cb, cookie

    def exchange(self, cb, cookie):
        one_time = cb.headers["location"].split("#code=", 1)[1]
        type(self).seen.add(one_time)
        r = self.tiketi.post("/api/v1/auth/google/exchange", json.dumps({"code": one_time}),
                             headers={"Content-Type": "application/json", "Cookie": cookie})
        self.assertEqual(r.status, 200, r)
        type(self).seen.update({r.json()["accessToken"], r.json()["refreshToken"]})
        return r.json()

    def signups(self):
        for line in self.tiketi.get("/metrics").body.decode().splitlines():
            if line.startswith("auth_signups_total "):
                return float(line.split()[1])
        return 0.0

    def test_1_providers(self):
        r = self.tiketi.get("/api/v1/auth/providers")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["google"], True)

    def test_2_sign_in_end_to_end(self):
        cb, cookie = self.flow("func-1", "Func.Fan@Gmail.com")
        self.assertEqual(cb.status, 302, cb)
        location = cb.headers["location"]
        self.assertTrue(location.startswith("/auth/google#code="), location)
        one_time = location.split("#code=", 1)[1]
        r = self.tiketi.post("/api/v1/auth/google/exchange", json.dumps({"code": one_time}),
                             headers={"Content-Type": "application/json", "Cookie": cookie})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        type(self).seen.update({one_time, doc["accessToken"], doc["refreshToken"]})
        self.assertEqual(doc["user"]["email"], "func.fan@gmail.com")
        self.assertEqual(doc["user"]["provider"], "GOOGLE")
        me = self.tiketi.get("/api/v1/auth/me", headers={"Authorization": "Bearer " + doc["accessToken"]})
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json()["id"], doc["user"]["id"])
        again = self.tiketi.post("/api/v1/auth/google/exchange", json.dumps({"code": one_time}),
                                 headers={"Content-Type": "application/json", "Cookie": cookie})
        self.assertEqual(again.status, 400)
        self.assertEqual(again.error_code(), "oidc_code_invalid")

    def test_3_forged_id_token(self):
        self.provider.sign_with = self.attacker
        try:
            cb, _ = self.flow("func-2", "victim@gmail.com")
        finally:
            self.provider.sign_with = self.provider.key
        self.assertEqual(cb.status, 401, cb)
        self.assertEqual(cb.error_code(), "id_token_bad_signature")

    def misissued(self, overrides, code):
        before = self.signups()
        self.provider.claim_overrides = overrides
        try:
            cb, _ = self.flow("func-3", "victim3@gmail.com")
        finally:
            self.provider.claim_overrides = {}
        self.assertEqual(cb.status, 401, cb)
        self.assertEqual(cb.error_code(), code)
        self.assertEqual(self.signups(), before)  # no account was made

    def test_3a_wrong_audience(self):
        self.misissued({"aud": "someone-else.apps.googleusercontent.com"}, "id_token_wrong_audience")

    def test_3b_wrong_nonce(self):
        self.misissued({"nonce": "not-the-nonce-we-sent"}, "id_token_wrong_nonce")

    def test_3c_replayed_state(self):
        keep = {}
        cb, cookie = self.flow("func-4", "replay@gmail.com", keep=keep)
        self.assertEqual(cb.status, 302, cb)
        # The same state comes back with a fresh code (a replayed or intercepted callback URL).
        code, state = self.provider.authorize(keep["location"], "func-4", "replay@gmail.com")
        query = urllib.parse.urlencode({"code": code, "state": state})
        replay = self.tiketi.get("/api/v1/auth/google/callback?" + query, headers={"Cookie": cookie})
        type(self).rejected += 1
        self.assertEqual(replay.status, 400, replay)
        self.assertEqual(replay.error_code(), "oidc_state_invalid")
        self.assertIn(code, self.provider.codes)  # refused before the code was redeemed

    def test_3d_verified_account_is_linked(self):
        email = "linked.admin@gmail.com"
        env = dict(self.tiketi.env, TIKETI_ADMIN_PASSWORD="linked admin password 1")
        r = subprocess.run([self.tiketi.bin, "admin", "create", "--email", email, "--services", "auth",
                            "--data-dir", self.tiketi.data_dir], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        login = self.tiketi.post("/api/v1/auth/login", json.dumps({"email": email, "password": "linked admin password 1"}),
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(login.status, 200, login)
        before = self.signups()
        cb, cookie = self.flow("func-5", "Linked.Admin@gmail.com")
        self.assertEqual(cb.status, 302, cb)
        doc = self.exchange(cb, cookie)
        self.assertEqual(doc["user"]["id"], login.json()["user"]["id"])  # the same account, linked
        self.assertEqual(doc["user"]["role"], "admin")
        self.assertEqual(self.signups(), before)

    def test_4_metrics(self):
        body = self.tiketi.get("/metrics").body.decode()
        self.assertEqual(type(self).rejected, 4)
        auth_lines = "\n".join(line for line in body.splitlines() if line.startswith("auth_"))
        for series in ('auth_google_sign_ins_total{result="created"} 2',
                       f'auth_google_sign_ins_total{{result="rejected"}} {type(self).rejected}',
                       'auth_google_sign_ins_total{result="linked"} 1',
                       'auth_logins_total{result="success"}', "auth_signups_total 2", "auth_refreshes_total",
                       "auth_refresh_reuse_total"):
            self.assertIn(series, auth_lines)


    def test_5_no_secret_in_any_log_line(self):
        # Runs last: the client secret, provider codes, states, binding cookies, one-time codes and
        # the tokens handed out never appear in the service's output (the access log has no query).
        needles = {n for n in type(self).seen if len(n) >= 16} | {CLIENT_SECRET, "linked admin password 1"}
        self.assertGreater(len(needles), 10)
        lines = self.tiketi.stdout() + self.tiketi.stderr_lines
        self.assertTrue(any("google/callback" in line for line in lines))  # the access log ran
        for line in lines:
            for n in needles:
                self.assertNotIn(n, line)


if __name__ == "__main__":
    run_tests()
