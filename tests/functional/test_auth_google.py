#!/usr/bin/env python3
"""Google sign-in through the real binary and real HTTP, against a fake OpenID Connect provider
written here (stdlib HTTP server on 127.0.0.1; RSA key made by the `openssl` CLI, RS256 signatures
computed in Python). `tiketi serve` reaches the provider with its libcurl client.

Checked:
- /api/v1/auth/providers advertises Google when configured;
- start -> provider -> callback -> one-time code in the fragment -> exchange -> tokens -> /auth/me;
- a forged ID token (signed by another key) -> 401 id_token_bad_signature, no account;
- /metrics carries the auth series (Google sign-ins by result, logins, signups, refreshes, reuse).
"""

import hashlib
import http.server
import json
import os
import secrets
import shutil
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

    def flow(self, sub, email):
        start = self.tiketi.get("/api/v1/auth/google/start")
        self.assertEqual(start.status, 302, start)
        cookie = start.headers["set-cookie"].split(";")[0]
        code, state = self.provider.authorize(start.headers["location"], sub, email)
        query = urllib.parse.urlencode({"code": code, "state": state})
        return self.tiketi.get("/api/v1/auth/google/callback?" + query, headers={"Cookie": cookie}), cookie

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

    def test_4_metrics(self):
        body = self.tiketi.get("/metrics").body.decode()
        for series in ('auth_google_sign_ins_total{result="created"} 1', 'auth_google_sign_ins_total{result="rejected"} 1',
                       'auth_logins_total{result="success"}', "auth_signups_total 1", "auth_refreshes_total",
                       "auth_refresh_reuse_total"):
            self.assertIn(series, body)


if __name__ == "__main__":
    run_tests()
