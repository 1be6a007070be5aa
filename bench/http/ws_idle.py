#!/usr/bin/env python3
"""Server memory per idle WebSocket: opens N WebSockets to the queue route of a running (or freshly
started) `tiketi serve`, keeps them idle, and reports how much the server's resident memory grew
per connection.

    bench/http/ws_idle.py --bin build/release/src/app/tiketi [-n 10000] [--mode auth|anon]
    bench/http/ws_idle.py --port 8080 --pid 1234 [-n 10000]      (a server that is already running)
    bench/http/ws_idle.py --smoke                                  (500 sockets, seconds)

Modes (both on the real route GET /api/v1/events/{id}/queue/ws, no test-only route):
  auth  each socket presents its own access token (?access_token=, as browsers do), so the
        server authenticates it, puts it in the event's room, subscribes it to the broadcast
        hub and sends the first status message: the real waiting fan. Needs the JWT secret:
        with --bin the tool starts the server with a known secret and `tiketi seed --demo`;
        for a running server pass --secret (and it must have a queue-enabled event).
  anon  no token: the handler waits for an auth message (the state of a socket right after the
        upgrade). Works against any running server.

Figures (RssAnon of the server, from /proc/PID/status):
  per connection      (RSS with N open - RSS before the first of them) / N, after a warm-up of
                      500 sockets opened and closed so one-time allocations are not counted
  marginal            (RSS at N - RSS at N/5) / (N - N/5): the cost of one more socket
Client sockets are bound to 127.0.0.2..127.0.0.9 (IP_BIND_ADDRESS_NO_PORT) and the client raises
its own soft open-file limit up to the hard limit (20,000 here), so N can go to ~19,000.
Exits non-zero if a socket is refused, the server's websocket_connections gauge disagrees, or
(with --max-kib) the per-connection figure is above the target.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

IP_BIND_ADDRESS_NO_PORT = 24
SECRET = "ws-idle-bench-secret-0123456789abcdef0123"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret, user):
    """HS256 access token the way the auth service signs them (kid = first 8 bytes of SHA-256)."""
    kid = hashlib.sha256(secret.encode()).hexdigest()[:16]
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    payload = {"sub": user, "role": "user", "iat": now, "exp": now + 900, "jti": uuid.uuid4().hex}
    signing = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "RssAnon:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    return out


def http_get(port, path, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def ws_gauge(port):
    status, body = http_get(port, "/metrics")
    if status != 200:
        return None
    m = re.search(rb"^websocket_connections (\S+)$", body, re.M)
    return int(float(m.group(1))) if m else None


class Opener:
    """Opens WebSockets in non-blocking batches and keeps them; every socket must get a 101."""

    def __init__(self, port, path_for, sources):
        self.port = port
        self.path_for = path_for
        self.sources = sources
        self.socks = []
        self.next_index = 0

    def open(self, count, batch=400, timeout=30.0):
        sel = selectors.DefaultSelector()
        remaining = count
        while remaining > 0:
            n = min(batch, remaining)
            pending = {}
            for _ in range(n):
                i = self.next_index
                self.next_index += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((self.sources[i % len(self.sources)], 0))
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.port))
                req = (f"GET {self.path_for(i)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode()
                pending[s] = [req, b""]
                sel.register(s, selectors.EVENT_WRITE)
            deadline = time.monotonic() + timeout
            while pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} WebSocket handshakes did not finish in {timeout}s")
                for key, ev in sel.select(timeout=1.0):
                    s = key.fileobj
                    st = pending[s]
                    if ev & selectors.EVENT_WRITE:
                        try:
                            sent = s.send(st[0])
                        except BlockingIOError:
                            continue
                        except OSError as e:
                            raise RuntimeError(f"connect/send failed: {e}") from e
                        st[0] = st[0][sent:]
                        if not st[0]:
                            sel.modify(s, selectors.EVENT_READ)
                        continue
                    try:
                        chunk = s.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        raise RuntimeError(f"handshake read failed: {e}") from e
                    if not chunk:
                        raise RuntimeError(f"server closed during the handshake: {st[1][:200]!r}")
                    st[1] += chunk
                    if b"\r\n\r\n" in st[1]:
                        if not st[1].startswith(b"HTTP/1.1 101"):
                            raise RuntimeError(f"upgrade refused: {st[1][:300]!r}")
                        sel.unregister(s)
                        del pending[s]
                        self.socks.append(s)
            remaining -= n
        sel.close()

    def close_all(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def drain(self):
        """Reads whatever the server pushed (the first status message); returns one sample."""
        sample = b""
        for s in self.socks:
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    sample = sample or chunk
            except (BlockingIOError, OSError):
                pass
        return sample


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def start_server(binary, work):
    # Without the caller's TIKETI_* settings (an exported TIKETI_REDIS_URL would change the shape).
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKETI_")}
    env["TIKETI_AUTH__JWT_SECRET"] = SECRET
    env.pop("TIKETI_TEST_ROUTES", None)
    data = os.path.join(work, "data")
    os.makedirs(data)
    for cmd in ([binary, "migrate", "--data-dir", data], [binary, "seed", "--demo", "--data-dir", data]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
    log_path = os.path.join(work, "tiketi.log")
    log = open(log_path, "wb")
    # A fixed free port: the embedded process also listens on the built-in gateway simulator's
    # port, so "the port it listens on" would be ambiguous.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--log-level", "warn"],
                            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    def live():
        try:
            return http_get(port, "/health/live", timeout=1.0)[0] == 200
        except OSError:
            return False

    if not wait_until(lambda: proc.poll() is not None or live(), 30) \
            or proc.poll() is not None:
        proc.kill()
        raise RuntimeError("tiketi did not start:\n" + open(log_path, errors="replace").read()[-2000:])
    if not wait_until(lambda: http_get(port, "/health/ready")[0] == 200, 30):
        proc.kill()
        raise RuntimeError("tiketi never became ready")
    return proc, port


def listening_port(pid):
    """The TCP port `pid` listens on (from /proc/net/tcp and the process's socket inodes)."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open(f"/proc/{pid}/net/tcp", encoding="ascii") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                    return int(parts[1].split(":")[1], 16)
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", help="start this tiketi binary (embedded shape, demo data)")
    ap.add_argument("--port", type=int, help="port of an already running server (with --pid)")
    ap.add_argument("--pid", type=int, help="pid of that server")
    ap.add_argument("-n", "--connections", type=int, default=10000)
    ap.add_argument("--mode", choices=("auth", "anon"), default=None,
                    help="default: auth with --bin or --secret, else anon")
    ap.add_argument("--secret", help="JWT secret (auth.jwt_secret) of the running server, for --mode auth")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before reading RSS")
    ap.add_argument("--max-kib", type=float, default=None, help="fail when per-connection KiB is above this")
    ap.add_argument("--smoke", action="store_true", help="500 sockets, no target check")
    args = ap.parse_args()
    if args.smoke:
        args.connections = 500
    mode = args.mode or ("auth" if args.bin or args.secret else "anon")
    if mode == "auth" and not (args.bin or args.secret):
        ap.error("--mode auth needs --bin or --secret (the tool must know the server's JWT secret)")
    secret = args.secret or SECRET
    if not args.bin and not (args.port and args.pid):
        ap.error("give --bin, or --port and --pid")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.connections + 1000) if hard != resource.RLIM_INFINITY else args.connections + 1000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if args.connections + 600 > want:
        ap.error(f"-n {args.connections} needs {args.connections + 600} descriptors, the limit is {want}")

    work = tempfile.mkdtemp(prefix="tiketi-ws-idle-")
    proc = None
    opener = warm = None
    try:
        if args.bin:
            proc, port = start_server(args.bin, work)
            pid = proc.pid
        else:
            port, pid = args.port, args.pid
        status, body = http_get(port, "/api/v1/events?limit=1")
        if status != 200:
            raise RuntimeError(f"GET /api/v1/events answered {status}")
        items = json.loads(body).get("items") or json.loads(body).get("data") or []
        event_id = items[0]["id"] if items else "no-such-event"
        if mode == "auth" and not items:
            raise RuntimeError("no event to wait for (seed --demo did not create one?)")
        if mode == "auth":
            path_for = lambda i: f"/api/v1/events/{event_id}/queue/ws?access_token={mint_token(secret, f'ws-idle-{i}')}"
        else:
            path_for = lambda i: f"/api/v1/events/{event_id}/queue/ws"
        sources = [f"127.0.0.{k}" for k in range(2, 10)]

        base_ws = ws_gauge(port) or 0
        # Warm-up: one-time allocations (thread caches, hash tables, the room) are not per-socket.
        warm = Opener(port, path_for, sources)
        warm.open(500)
        time.sleep(0.5)
        warm.drain()
        warm.close_all()
        if not wait_until(lambda: ws_gauge(port) == base_ws, 15):
            raise RuntimeError("warm-up sockets were not released by the server")
        time.sleep(args.settle)
        before = rss_kib(pid)

        opener = Opener(port, path_for, sources)
        n = args.connections
        first = max(1, n // 5)
        t0 = time.monotonic()
        opener.open(first)
        time.sleep(args.settle)
        sample = opener.drain()
        if mode == "auth" and b'"type":"status"' not in sample and b'"type":"admitted"' not in sample:
            raise RuntimeError(f"the server did not accept the sockets into the waiting room: {sample[:300]!r}")
        mid = rss_kib(pid)
        opener.open(n - first)
        elapsed = time.monotonic() - t0
        time.sleep(args.settle)
        opener.drain()
        gauge = ws_gauge(port)
        after = rss_kib(pid)
        if gauge is not None and gauge - base_ws != n:
            raise RuntimeError(f"server reports {gauge - base_ws} WebSockets, expected {n}")

        per = (after["RssAnon"] - before["RssAnon"]) * 1024 / n
        marginal = (after["RssAnon"] - mid["RssAnon"]) * 1024 / (n - first) if n > first else float("nan")
        per_vm = (after["VmRSS"] - before["VmRSS"]) * 1024 / n
        commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        print(f"ws-idle: {n} idle WebSockets ({mode}) opened in {elapsed:.1f} s; server RssAnon "
              f"{before['RssAnon']} -> {mid['RssAnon']} ({first}) -> {after['RssAnon']} KiB", file=sys.stderr)
        print()
        print(f"<!-- bench/http/ws_idle.py {time.strftime('%Y-%m-%d', time.gmtime())} commit {commit}: "
              f"-n {n} --mode {mode} -->")
        print("| what | per connection |")
        print("|---|---:|")
        print(f"| server RssAnon growth / N, {n} idle WebSockets ({mode}) | {per / 1024:.2f} KiB ({per:.0f} B) |")
        print(f"| marginal, {first} -> {n} sockets | {marginal / 1024:.2f} KiB ({marginal:.0f} B) |")
        print(f"| VmRSS growth / N | {per_vm / 1024:.2f} KiB |")
        if args.max_kib is not None and per / 1024 > args.max_kib:
            print(f"ws-idle: {per / 1024:.2f} KiB per connection is above the target {args.max_kib} KiB", file=sys.stderr)
            return 1
        if args.smoke:
            print("ws-idle-smoke: ok")
        return 0
    finally:
        for o in (opener, warm):
            if o is not None:
                o.close_all()
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
