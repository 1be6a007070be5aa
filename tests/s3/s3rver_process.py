"""Start and stop s3rver (an S3-compatible server from npm, pinned in package-lock.json beside this
file) on 127.0.0.1 for the event service's image tests. Python 3 standard library only.

node_modules comes from `npm ci` in scripts/install-deps; when it is missing (a machine that skipped
it) the first test runs `npm ci` here, bounded in time."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

HERE = pathlib.Path(__file__).resolve().parent
BIN = HERE / "node_modules" / "s3rver" / "bin" / "s3rver.js"
# s3rver's built-in credentials (it verifies SigV4 signatures made with them).
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"


def _unavailable(message):
    if os.environ.get("TIKETI_REQUIRE_SERVERS") == "1":
        raise RuntimeError(message + " but TIKETI_REQUIRE_SERVERS=1")
    raise unittest.SkipTest(message)


def ensure_installed():
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed (scripts/install-deps installs it)")
    if not BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed")
        try:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                               capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            _unavailable("npm ci in tests/s3 timed out")
        if r.returncode != 0 or not BIN.exists():
            _unavailable(f"npm ci in tests/s3 failed: {r.stderr[-500:]}")
    return node


class S3rver:
    def __init__(self, bucket="tiketi-images"):
        self.bucket = bucket
        self.node = ensure_installed()
        self.dir = tempfile.mkdtemp(prefix="tiketi-s3rver-")
        self.proc = None
        self.port = None
        self.lines = []

    def start(self, timeout=30):
        self.proc = subprocess.Popen(
            [self.node, str(BIN), "-d", self.dir, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", self.bucket],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        found = threading.Event()

        def read():
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                self.lines.append(line)
                if "listening on" in line and not found.is_set():
                    self.port = int(line.rsplit(":", 1)[1])
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("s3rver did not start:\n" + "\n".join(self.lines[-20:]))
        return self

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def object_files(self):
        """Paths of stored objects in the bucket (s3rver keeps `<key>._S3rver_object` files)."""
        root = pathlib.Path(self.dir) / self.bucket
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*._S3rver_object"))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
