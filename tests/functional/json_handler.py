"""A quiet http.server request handler with a JSON reply helper, for the fake OpenID Connect
providers of the functional test (test_auth_google.py) and the browser journeys (tests/e2e/fake_oidc.py)."""
import http.server
import json


class JsonHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _json(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
