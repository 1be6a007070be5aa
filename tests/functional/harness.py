"""Black-box helpers for the functional tests: start the real `tiketi` binary, talk HTTP to it.

Python 3 standard library only. Every process started here is tracked by PID and stopped by the
test that started it; every wait is bounded.
"""

import http.client
import json
import os
import pathlib
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def tiketi_bin():
    path = os.path.abspath(os.environ.get("TIKETI_BIN") or str(ROOT / "build" / "release" / "src" / "app" / "tiketi"))
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no tiketi binary at {path} (set TIKETI_BIN or build the release preset)")
    return path



def _psql():
    for path in ("/usr/lib/postgresql/15/bin/psql", shutil.which("psql")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def own_database(base_url, prefix="tiketi_func_"):
    """A throw-away database next to base_url: (url, drop), or (base_url, None) when it cannot be
    made (no psql, no CREATE DATABASE right): the caller then shares base_url."""
    psql = _psql()
    if psql is None:
        return base_url, None
    parts = urllib.parse.urlsplit(base_url)
    name = prefix + uuid.uuid4().hex[:12]
    admin = parts._replace(path="/" + (parts.path.lstrip("/") or "postgres")).geturl()
    r = subprocess.run([psql, admin, "-qAtX", "-c", f"CREATE DATABASE {name}"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        return base_url, None
    url = parts._replace(path="/" + name).geturl()

    def drop():
        subprocess.run([psql, admin, "-qAtX", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       capture_output=True, timeout=60)

    return url, drop

def require_servers():
    """(postgres_url, redis_url) for the scaled shape; skip or fail when they are not given."""
    pg = os.environ.get("TIKETI_TEST_POSTGRES_URL", "")
    redis = os.environ.get("TIKETI_TEST_REDIS_URL", "")
    if pg and redis:
        return pg, redis
    message = "TIKETI_TEST_POSTGRES_URL / TIKETI_TEST_REDIS_URL not set (scripts/test sets them)"
    if os.environ.get("TIKETI_REQUIRE_SERVERS") == "1":
        raise RuntimeError(message + " but TIKETI_REQUIRE_SERVERS=1")
    raise unittest.SkipTest(message)


def alive(pid):
    """True while `pid` runs. A zombie counts as dead: PID 1 here reaps orphans late."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def free_port():
    """A TCP port on 127.0.0.1 that is free now, for a process that must be told its port (or its
    peers' ports) before it starts. Picked at random below the kernel's ephemeral range: ports the
    kernel hands out (outgoing connections, listeners on port 0, thousands of them in a suite run)
    come from that range, so one picked inside it can be taken before the process binds it."""
    lo = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    if lo <= 12000:
        lo = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10000, lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_code(self):
        """The `code` of a `{"error":{"code","message"}}` body, or None when the body is not one."""
        try:
            doc = self.json()
        except ValueError:
            return None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            err = doc["error"]
            if isinstance(err.get("code"), str) and isinstance(err.get("message"), str):
                return err["code"]
        return None

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def request(base_port, method, path, body=None, headers=None, timeout=10.0, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, base_port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def url_port(url):
    """Port of http://host:port[/...]."""
    hostport = url.split("://", 1)[1].split("/", 1)[0]
    return int(hostport.rsplit(":", 1)[1])


def raw_exchange(port, payload, timeout=10.0, chunks=None):
    """Send raw bytes (then optional extra chunks while the server has not answered) and read what
    comes back until the server closes or the response is complete. Returns (status|None, bytes)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            for chunk in chunks or ():
                # Stop sending as soon as the server has answered (e.g. an early 413).
                readable, _, _ = select.select([s], [], [], 0)
                if readable:
                    break
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest; its answer may still be readable
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not part:
                break
            data += part
            if _complete(data):
                break
    status = None
    if data.startswith(b"HTTP/1."):
        try:
            status = int(data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = None
    return status, data


def _complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def hermetic_env():
    """os.environ without the caller's Tiketi settings: an exported TIKETI_REDIS_URL (scripts/lib/
    servers.sh exports one) would otherwise turn every "embedded" process into a Redis-coordinated
    one sharing streams with every other test."""
    keep = ("TIKETI_TEST_", "TIKETI_BIN", "TIKETI_REQUIRE_SERVERS")
    return {k: v for k, v in os.environ.items() if not k.startswith("TIKETI_") or k.startswith(keep)}


class TiketiProcess:
    """One `tiketi serve` process on 127.0.0.1:0; the port is read from its `listening` log line."""

    def __init__(self, extra_args=(), env=None, data_dir=None, name="tiketi", cwd=None):
        self.bin = tiketi_bin()
        self.cwd = cwd
        self.extra_args = list(extra_args)
        self.env = hermetic_env()
        self.env["TIKETI_TEST_ROUTES"] = "1"
        # Separate-process shapes must share a JWT secret (the embedded shape makes its own).
        self.env.setdefault("TIKETI_AUTH__JWT_SECRET", "functional-tests-secret-0123456789abcdef")
        self.env.update(env or {})
        self.tmp = None
        if data_dir is None:
            self.tmp = tempfile.mkdtemp(prefix=f"tiketi-func-{name}-")
            data_dir = self.tmp
        self.data_dir = data_dir
        self.proc = None
        self.port = None
        self.stdout_lines = []
        self.stderr_lines = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._readers = []

    # -- lifecycle ------------------------------------------------------------------------------

    def migrate(self, timeout=120):
        cmd = [self.bin, "migrate", "--data-dir", self.data_dir] + self._db_args()
        r = subprocess.run(cmd, env=self.env, capture_output=True, timeout=timeout, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")

    def _db_args(self):
        # The database flags of extra_args also apply to `migrate` (which takes no --redis-url).
        out, args = [], self.extra_args
        for i, a in enumerate(args):
            if a in ("--database-url", "--services") and i + 1 < len(args):
                out += [a, args[i + 1]]
        return out

    def start(self, timeout=START_TIMEOUT):
        cmd = [self.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir] + self.extra_args
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, cwd=self.cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout_lines, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines, False), daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"tiketi did not report listening (exit {self.proc.returncode}):\n{self.tail()}")
        return self

    def _read(self, stream, sink, look_for_port):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._lock:
                sink.append(line)
            if look_for_port and not self._listening.is_set():
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict) and doc.get("msg") == "listening" and isinstance(doc.get("port"), int):
                    self.port = doc["port"]
                    self._listening.set()
        stream.close()

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.get("/health/ready", timeout=2)
                if last.status == 200:
                    return last
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"/health/ready never 200 (last: {last!r})")

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code (kills and raises on timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"tiketi did not exit within {timeout}s of SIGTERM")
        self._join_readers()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._join_readers()

    def _join_readers(self):
        for t in self._readers:
            t.join(timeout=5)

    def cleanup(self):
        self.kill()
        if self.tmp:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- I/O ------------------------------------------------------------------------------------

    def get(self, path, **kw):
        return request(self.port, "GET", path, **kw)

    def post(self, path, body, headers=None, **kw):
        return request(self.port, "POST", path, body=body, headers=headers, **kw)

    def stdout(self):
        with self._lock:
            return list(self.stdout_lines)

    def tail(self, n=30):
        with self._lock:
            out = self.stdout_lines[-n:]
            err = self.stderr_lines[-n:]
        return "--- stdout ---\n" + "\n".join(out) + "\n--- stderr ---\n" + "\n".join(err)

    def dump(self, title):
        sys.stderr.write(f"\n===== {title}: last output of tiketi (pid {self.proc.pid if self.proc else '-'}) =====\n")
        sys.stderr.write(self.tail() + "\n")


def run_tests():
    """unittest.main, but exit 77 (ctest SKIP_RETURN_CODE) when every test was skipped."""
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(77)
    if result.testsRun == 0:
        # setUpClass raised SkipTest: unittest counts that as a skip, not a test run.
        sys.exit(77 if result.skipped else 1)
    sys.exit(0)
