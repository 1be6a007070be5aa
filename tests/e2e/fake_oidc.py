#!/usr/bin/env python3
"""A fake Google (OpenID Connect provider) for the browser end-to-end run (tests/e2e/run.mjs).

Stdlib HTTP server on 127.0.0.1 (port 0); an RSA-2048 key made by the `openssl` CLI and RS256
signatures computed in Python (the same provider as tests/functional/test_auth_google.py, plus an
authorization endpoint that approves at once, as a signed-in Google user who clicks "Continue").

  python3 tests/e2e/fake_oidc.py --client-id ID --client-secret SECRET --email a@b --name N --sub S

Prints one JSON line {"issuer": "http://127.0.0.1:<port>"} when ready, then serves until stdin
closes (the parent exits) or SIGTERM.

  GET  /.well-known/openid-configuration   discovery
  GET  /certs                               JWKS
  GET  /auth?response_type=code&client_id&redirect_uri&state&nonce&code_challenge&code_challenge_method=S256
       -> 302 redirect_uri?code=…&state=…   (400 on a malformed request, like Google)
  POST /token  client_secret_post + PKCE    -> {"id_token": …}
  GET  /stats                               {"authorizations": n, "tokens": n} (for the test)
"""

import argparse
import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "functional"))
from json_handler import JsonHandler  # noqa: E402  (shared with tests/functional/test_auth_google.py)
from rsa_key import RsaKey, b64url  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret", required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--name", default="Google Fan")
    ap.add_argument("--sub", default="e2e-google-sub-1")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="tiketi-e2e-oidc-")
    key = RsaKey("e2e-key-1", workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    codes = {}
    stats = {"authorizations": 0, "tokens": 0}
    lock = threading.Lock()
    issuer_box = {}

    def id_token(p):
        now = int(time.time())
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        claims = {"iss": issuer_box["issuer"], "aud": args.client_id, "azp": args.client_id, "sub": args.sub,
                  "email": args.email, "email_verified": True, "name": args.name, "nonce": p["nonce"],
                  "iat": now, "exp": now + 3600}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        return signing_input.decode() + "." + b64url(key.sign(signing_input))

    class Handler(JsonHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            issuer = issuer_box["issuer"]
            if url.path == "/.well-known/openid-configuration":
                return self._json(200, {"issuer": issuer, "authorization_endpoint": issuer + "/auth",
                                        "token_endpoint": issuer + "/token", "jwks_uri": issuer + "/certs"})
            if url.path == "/certs":
                return self._json(200, {"keys": [key.jwk()]})
            if url.path == "/stats":
                with lock:
                    return self._json(200, dict(stats))
            if url.path == "/auth":
                q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                redirect = q.get("redirect_uri", "")
                ok = (q.get("response_type") == "code" and q.get("client_id") == args.client_id
                      and q.get("code_challenge_method") == "S256" and q.get("code_challenge") and q.get("state")
                      and q.get("nonce") and "openid" in q.get("scope", "").split()
                      and redirect.startswith("http://127.0.0.1:"))
                if not ok:
                    return self._json(400, {"error": "invalid_request", "query": q})
                code = secrets.token_urlsafe(16)
                with lock:
                    codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"], "redirect_uri": redirect}
                    stats["authorizations"] += 1
                sep = "&" if "?" in redirect else "?"
                self.send_response(302)
                self.send_header("Location", redirect + sep + urllib.parse.urlencode({"code": code, "state": q["state"]}))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._json(404, {"error": "not_found"})

        def do_POST(self):
            if urllib.parse.urlsplit(self.path).path != "/token":
                return self._json(404, {"error": "not_found"})
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
            form = {k: v[0] for k, v in form.items()}
            with lock:
                pending = codes.pop(form.get("code"), None)
            if form.get("client_secret") != args.client_secret or form.get("client_id") != args.client_id:
                return self._json(401, {"error": "invalid_client"})
            verifier = form.get("code_verifier", "")
            if (pending is None or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != pending["redirect_uri"]
                    or b64url(hashlib.sha256(verifier.encode()).digest()) != pending["challenge"]):
                return self._json(400, {"error": "invalid_grant"})
            with lock:
                stats["tokens"] += 1
            return self._json(200, {"access_token": "x", "token_type": "Bearer", "expires_in": 3600,
                                    "id_token": id_token(pending)})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    issuer_box["issuer"] = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"issuer": issuer_box["issuer"]}), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # The parent closing our stdin (or dying) ends us too.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
