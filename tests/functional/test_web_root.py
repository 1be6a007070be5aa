#!/usr/bin/env python3
"""`tiketi serve` serves the built web UI at / without --web-root when it finds one where it is
usually built (web/dist under the working directory); --web-root still wins; API routes are never
shadowed by the UI, and unknown paths fall back to the single-page app's index.html."""

import os
import shutil
import tempfile
import unittest

from harness import TiketiProcess, run_tests


def make_ui(root, marker):
    os.makedirs(os.path.join(root, "assets"), exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write(f"<!doctype html><title>{marker}</title>")
    with open(os.path.join(root, "assets", "app.js"), "w") as f:
        f.write("console.log('x')")


class WebRoot(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tiketi-webroot-")
        make_ui(os.path.join(self.dir, "web", "dist"), "default-ui")
        make_ui(os.path.join(self.dir, "other"), "flag-ui")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.terminate()
            p.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, args=()):
        p = TiketiProcess(extra_args=list(args), cwd=self.dir, name="webroot").start()
        self.procs.append(p)
        p.wait_ready()
        return p

    def test_default_is_web_dist_under_the_working_directory(self):
        p = self.start()
        r = p.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"default-ui", r.body)
        self.assertEqual(p.get("/assets/app.js").status, 200)
        # A client-side route gets the app; the API keeps answering JSON.
        self.assertIn(b"default-ui", p.get("/events/some-id").body)
        self.assertEqual(p.get("/api/v1/events").status, 200)
        self.assertTrue(any('"web_root"' in line and "web/dist" in line for line in p.stdout()))

    def test_flag_wins(self):
        p = self.start(["--web-root", os.path.join(self.dir, "other")])
        self.assertIn(b"flag-ui", p.get("/").body)


if __name__ == "__main__":
    run_tests()
