#!/usr/bin/env python3
"""Image uploads of the event service over real HTTP, in both storage shapes:

- local disk under <data-dir>/images (the embedded shape, SQLite);
- S3-compatible storage (the scaled shape's adapter) against a real s3rver from npm started here
  on 127.0.0.1, signing with AWS SigV4 — including wrong credentials (502) and an unreachable store
  (503), which must leave nothing behind.

Bad input (a text file renamed .png, truncated multipart, missing boundary, oversize, path
traversal in the file name) must be refused with a JSON error and store nothing."""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import sqlite3
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "s3"))

from harness import TiketiProcess, free_port, raw_exchange, request, run_tests  # noqa: E402
from s3rver_process import ACCESS_KEY, SECRET_KEY, S3rver  # noqa: E402

SECRET = "event-images-functional-secret-0123456789"
KID = "functest"
ENV = {"TIKETI_AUTH__JWT_SECRET": SECRET, "TIKETI_AUTH__JWT_KID": KID}
LIMIT = 200_000


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(role="admin", sub="u-func-admin"):
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64url(json.dumps({"sub": sub, "role": role, "iat": now, "exp": now + 600,
                                 "jti": os.urandom(8).hex()}).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def png(padding=0):
    return (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
            + os.urandom(padding))


def jpeg(padding=0):
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + os.urandom(padding)


def multipart(filename, data, boundary="----tiketiBoundary7MA4YWxk", extra=b""):
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode() + extra


def headers(boundary="----tiketiBoundary7MA4YWxk", role="admin"):
    h = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if role:
        h["Authorization"] = "Bearer " + token(role)
    return h


class UploadChecks:
    """Shared by both storage shapes; subclasses start `srv` and say where objects land."""

    srv = None

    def stored_objects(self):
        raise NotImplementedError

    def image_rows(self):
        db = pathlib.Path(self.srv.data_dir) / "event.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def upload(self, body, hdrs):
        return self.srv.post("/api/v1/admin/images", body, headers=hdrs)

    def test_upload_then_read_back(self):
        data = jpeg(5000)
        r = self.upload(multipart("poster.png", data), headers())
        self.assertEqual(r.status, 201, r)
        doc = r.json()
        self.assertEqual(doc["contentType"], "image/jpeg")  # magic bytes, not ".png"
        self.assertEqual(doc["size"], len(data))
        self.assertEqual(doc["url"], f"/api/v1/images/{doc['id']}.jpg")
        self.assertIn(f"{doc['id']}.jpg", self.stored_objects())
        g = self.srv.get(doc["url"])
        self.assertEqual(g.status, 200)
        self.assertEqual(g.body, data)
        self.assertEqual(g.headers["content-type"], "image/jpeg")
        self.assertIn("max-age=31536000", g.headers["cache-control"])
        self.assertEqual(g.headers["x-content-type-options"], "nosniff")
        self.assertEqual(self.srv.get(doc["url"], headers={"If-None-Match": g.headers["etag"]}).status, 304)

    def test_bad_uploads_store_nothing(self):
        before_objects = self.stored_objects()
        before_rows = self.image_rows()
        good = multipart("a.png", png(100))
        cases = [
            ("text renamed .png", multipart("cat.png", b"I am plain text, not a picture.\n" * 10), headers(), 415,
             "unsupported_image_type"),
            ("html renamed .png", multipart("x.png", b"<html><script>alert(1)</script></html>"), headers(), 415,
             "unsupported_image_type"),
            ("truncated multipart", good[:-20], headers(), 400, "invalid_multipart"),
            ("missing boundary", good, {"Content-Type": "multipart/form-data",
                                        "Authorization": "Bearer " + token()}, 400, "invalid_multipart"),
            ("boundary mismatch", good, headers("another-boundary"), 400, "invalid_multipart"),
            ("oversize", multipart("big.png", png(LIMIT)), headers(), 413, "payload_too_large"),
            ("path traversal", multipart("../../../../etc/cron.d/x.png", png(10)), headers(), 400,
             "invalid_file_name"),
            ("backslash traversal", multipart("..\\..\\x.png", png(10)), headers(), 400, "invalid_file_name"),
            ("encoded traversal", multipart("%2e%2e%2fx.png", png(10)), headers(), 400, "invalid_file_name"),
            ("absolute path", multipart("/tmp/x.png", png(10)), headers(), 400, "invalid_file_name"),
            ("anonymous", good, headers(role=None), 401, None),
            ("not an admin", good, headers(role="user"), 403, "forbidden"),
        ]
        for name, body, hdrs, status, code in cases:
            with self.subTest(name):
                r = self.upload(body, hdrs)
                self.assertEqual(r.status, status, r)
                if code:
                    self.assertEqual(r.error_code(), code, r)
                else:
                    self.assertIsNotNone(r.error_code(), r)
        # A declared body far beyond the route's limit is refused before it is read.
        h = headers()
        head = (f"POST /api/v1/admin/images HTTP/1.1\r\nHost: x\r\nContent-Type: {h['Content-Type']}\r\n"
                f"Authorization: {h['Authorization']}\r\nContent-Length: {64 * 1024 * 1024}\r\n\r\n").encode()
        status, raw = raw_exchange(self.srv.port, head, chunks=[b"x" * 65536] * 4)
        self.assertEqual(status, 413, raw[:300])
        self.assertEqual(self.stored_objects(), before_objects)
        self.assertEqual(self.image_rows(), before_rows)
        for bad in ("/api/v1/images/..%2f..%2fevent.db", "/api/v1/images/%2e%2e", "/api/v1/images/x.png",
                    "/api/v1/images/0123456789abcdef0123456789abcdef.png"):
            r = self.srv.get(bad)
            self.assertEqual(r.status, 404, (bad, r))

    def test_events_carry_image_urls(self):
        r = self.upload(multipart("hero.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + os.urandom(64)),
                        headers())
        self.assertEqual(r.status, 201, r)
        img = r.json()
        self.assertEqual(img["contentType"], "image/webp")
        now = int(time.time() * 1000)
        ev = {"title": "Poster test", "category": "concert", "sale_start": now + 3_600_000,
              "sale_end": now + 7_200_000, "performance_start": now + 10_000_000,
              "performance_end": now + 20_000_000, "image_ids": [img["id"]]}
        auth = {"Authorization": "Bearer " + token(), "Content-Type": "application/json"}
        r = self.srv.post("/api/v1/admin/events", json.dumps(ev), headers=auth)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["images"], [{"id": img["id"], "url": img["url"]}])
        ev["image_ids"] = ["0" * 32]
        r = self.srv.post("/api/v1/admin/events", json.dumps(ev), headers=auth)
        self.assertEqual(r.status, 400, r)


class LocalDisk(UploadChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = TiketiProcess(["--services", "event", "--set", f"event.image_max_bytes={LIMIT}"], env=ENV,
                                name="event-img")
        try:
            cls.srv.start()
            cls.srv.wait_ready()
        except BaseException:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.terminate()
        cls.srv.cleanup()

    def stored_objects(self):
        root = pathlib.Path(self.srv.data_dir) / "images"
        return sorted(p.name for p in root.iterdir()) if root.exists() else []

    def test_nothing_outside_the_image_directory(self):
        r = self.upload(multipart("../escape.png", png(10)), headers())
        self.assertEqual(r.status, 400)
        self.assertFalse((pathlib.Path(self.srv.data_dir) / "escape.png").exists())
        self.assertFalse((pathlib.Path(self.srv.data_dir).parent / "escape.png").exists())


class S3Storage(UploadChecks, unittest.TestCase):
    s3 = None

    @classmethod
    def setUpClass(cls):
        cls.s3 = S3rver().start()
        cls.srv = TiketiProcess(cls.s3_args(cls.s3.endpoint, SECRET_KEY), env=ENV, name="event-s3")
        try:
            cls.srv.start()
            cls.srv.wait_ready()
        except BaseException:
            cls.srv.cleanup()
            cls.s3.stop()
            raise

    @staticmethod
    def s3_args(endpoint, secret, access_key=ACCESS_KEY):
        return ["--services", "event", "--set", f"event.image_max_bytes={LIMIT}",
                "--set", f"event.s3_endpoint={endpoint}", "--set", "event.s3_bucket=tiketi-images",
                "--set", "event.s3_region=us-east-1", "--set", f"event.s3_access_key={access_key}",
                "--set", f"event.s3_secret_key={secret}", "--set", "event.s3_timeout_ms=3000"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.terminate()
        cls.srv.cleanup()
        cls.s3.stop()

    def stored_objects(self):
        return [f[: -len("._S3rver_object")] for f in self.s3.object_files()]

    def test_object_is_really_in_the_bucket(self):
        data = png(3000)
        r = self.upload(multipart("s3.png", data), headers())
        self.assertEqual(r.status, 201, r)
        key = r.json()["url"].rsplit("/", 1)[1]
        # Straight from s3rver, not through tiketi: the bytes and the content type were stored.
        with urllib.request.urlopen(f"{self.s3.endpoint}/tiketi-images/{key}", timeout=10) as resp:
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.read(), data)
            self.assertEqual(resp.headers["Content-Type"], "image/png")
        self.assertNotIn("s3.png", " ".join(self.s3.object_files()))

    def _other_process(self, endpoint, secret, name, access_key=ACCESS_KEY):
        srv = TiketiProcess(self.s3_args(endpoint, secret, access_key), env=ENV, name=name)
        srv.start()
        srv.wait_ready()
        return srv

    def test_bad_credentials_are_a_clean_502(self):
        # s3rver 3.7.1 checks the access key id of a SigV4 request but not the signature itself
        # (its V4 verification is unimplemented), so the wrong credentials here are an unknown key.
        before = self.stored_objects()
        srv = self._other_process(self.s3.endpoint, "not-the-secret", "event-s3-badkey",
                                  access_key="NOT-A-KEY")
        try:
            r = request(srv.port, "POST", "/api/v1/admin/images", body=multipart("a.png", png(100)),
                        headers=headers())
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.error_code(), "image_storage_failed", r)
            self.assertIn("InvalidAccessKeyId", r.json()["error"]["message"])
            db = pathlib.Path(srv.data_dir) / "event.db"
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                self.assertEqual(c.execute("SELECT COUNT(*) FROM images").fetchone()[0], 0)
        finally:
            srv.terminate()
            srv.cleanup()
        self.assertEqual(self.stored_objects(), before)

    def test_unreachable_store_is_a_clean_503(self):
        srv = self._other_process(f"http://127.0.0.1:{free_port()}", SECRET_KEY, "event-s3-down")
        try:
            r = request(srv.port, "POST", "/api/v1/admin/images", body=multipart("a.png", png(100)),
                        headers=headers())
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.error_code(), "image_storage_unavailable", r)
            r = srv.get("/api/v1/images/0123456789abcdef0123456789abcdef.png")
            self.assertEqual(r.status, 503, r)
        finally:
            srv.terminate()
            srv.cleanup()


if __name__ == "__main__":
    run_tests()
