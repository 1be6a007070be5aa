#!/usr/bin/env python3
"""Functional test of the connection budget: a `tiketi serve` started with a low open-file limit
(256) must refuse connections beyond its budget at once (503 + close, never a hang), count them in
connections_refused_total, and serve normally again once the connections are gone.

Two paths are checked:
  budget     default fd_reserve (128): the budget is 256 - 128 = 128 connections; the rest are
             answered 503 by the accept loop (reason="fd_budget").
  exhausted  fd_reserve 0: the process really runs out of descriptors (EMFILE) before the budget;
             the spare descriptor takes each waiting connection off the backlog and refuses it
             (reason="fd_exhausted") instead of letting accept stall.
"""

import re
import resource
import select
import socket
import time
import unittest

from harness import TiketiProcess, run_tests

NOFILE = 256
OPEN_TIMEOUT = 5.0  # a refused connection must get its answer well within this


def start_with_nofile(server, nofile):
    """Starts `server` with a soft RLIMIT_NOFILE of `nofile` (the child inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
    try:
        server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def open_many(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=OPEN_TIMEOUT)
        socks.append(s)
    return socks


def classify(socks, wait):
    """Splits sockets into (refused, idle): refused ones got a 503 or were closed within `wait`."""
    refused, answers = set(), {}
    deadline = time.monotonic() + wait
    pending = list(socks)
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
        for s in readable:
            try:
                data = s.recv(4096)
            except (ConnectionResetError, OSError):
                data = b""
            answers[s] = answers.get(s, b"") + data
            refused.add(s)
            pending.remove(s)
    idle = [s for s in socks if s not in refused]
    return [s for s in socks if s in refused], idle, answers


def get_ok(sock):
    """One keep-alive request on an established connection; returns the status."""
    sock.settimeout(OPEN_TIMEOUT)
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else None


class FdBudget(unittest.TestCase):
    def run_server(self, extra, env=None):
        server = TiketiProcess(["--services", "all"] + extra, env=env, name="fd-budget")
        self.addCleanup(server.cleanup)
        server.migrate()
        start_with_nofile(server, NOFILE)
        server.wait_ready()
        return server

    def wait_active(self, server, at_most, timeout=10.0):
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            try:
                r = server.get("/metrics", timeout=2)
                if r.status == 200:
                    text = r.body.decode()
                    active = metric(text, "http_connections_active")
                    if active is not None and active <= at_most:
                        return text
            except OSError:
                pass
            time.sleep(0.1)
        self.fail(f"http_connections_active never dropped to {at_most}:\n{text[-2000:]}")

    def serves_normally(self, server, n=50):
        self.assertEqual(server.get("/health/ready", timeout=5).status, 200)
        socks = open_many(server.port, n)
        try:
            for s in socks:
                self.assertEqual(get_ok(s), 200)
        finally:
            for s in socks:
                s.close()

    def check_refusals(self, refused, answers):
        for s in refused:
            data = answers[s]
            # A 503 with the JSON error, or (rarely, when the close overtook the answer) a bare close.
            if data:
                self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:200])
                self.assertIn(b"Retry-After: 1\r\n", data)
                self.assertIn(b'"code":"unavailable"', data)
        with_answer = sum(1 for s in refused if answers[s])
        self.assertGreater(with_answer, len(refused) // 2, "most refused clients must see the 503")

    def test_budget_refuses_beyond_limit_and_recovers(self):
        server = self.run_server([])
        text = server.get("/metrics").body.decode()
        limit = metric(text, "http_connections_limit")
        self.assertEqual(limit, NOFILE - 128, "budget = open-file limit - default fd_reserve")
        extra = 40
        t0 = time.monotonic()
        socks = open_many(server.port, int(limit) + extra)
        try:
            refused, idle, answers = classify(socks, wait=3.0)
            # Every connection beyond the budget is answered at once; none of them hangs.
            # (The connection of the /metrics request above may still be closing: allow for it.)
            self.assertLessEqual(len(idle), int(limit), f"{len(idle)} connections held, budget {limit}")
            self.assertGreaterEqual(len(idle), int(limit) - 2, f"{len(idle)} connections held, budget {limit}")
            self.assertGreaterEqual(len(refused), extra)
            self.assertLess(time.monotonic() - t0, 3.0 + OPEN_TIMEOUT)
            self.check_refusals(refused, answers)
            # The connections inside the budget are real, working sessions.
            for s in idle[:20]:
                self.assertEqual(get_ok(s), 200)
        finally:
            for s in socks:
                s.close()
        text = self.wait_active(server, at_most=1)
        self.assertGreaterEqual(metric(text, "connections_refused_total", '{reason="fd_budget"}'), extra)
        self.serves_normally(server)
        self.assertEqual(server.terminate(), 0)

    def test_descriptor_exhaustion_never_stalls_accept(self):
        # No reserve: the budget (256) is above what the process can really open, so accept
        # itself fails with EMFILE and the spare-descriptor path must refuse the waiting clients.
        server = self.run_server(["--set", "server.fd_reserve=0"])
        text = server.get("/metrics").body.decode()
        self.assertEqual(metric(text, "http_connections_limit"), NOFILE)
        total = NOFILE + 20
        t0 = time.monotonic()
        socks = open_many(server.port, total)
        try:
            refused, idle, answers = classify(socks, wait=3.0)
            self.assertGreater(len(refused), 20, "clients beyond the descriptors must be refused")
            self.assertGreater(len(idle), 100, "the server must still hold what its descriptors allow")
            self.assertLess(time.monotonic() - t0, 3.0 + OPEN_TIMEOUT)
            self.check_refusals(refused, answers)
        finally:
            for s in socks:
                s.close()
        text = self.wait_active(server, at_most=1)
        self.assertGreater(metric(text, "connections_refused_total", '{reason="fd_exhausted"}'), 0)
        self.serves_normally(server)
        self.assertEqual(server.terminate(), 0)


if __name__ == "__main__":
    run_tests()
